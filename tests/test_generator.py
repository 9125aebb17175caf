"""The Kinematic-format generator: its files, determinism, plausible motion and the cache of generated data
(emomotion.generator)."""
import json

import numpy as np
import pandas as pd
import pytest

from emomotion import datasets as ds
from emomotion import generator as gen
from emomotion.bvh import read_bvh
from emomotion.skeletons import KEY_JOINTS, KINEMATIC_CHANNELS, KINEMATIC_JOINTS, KINEMATIC_PARENT_IDX
from emomotion.profiles import PROFILES, profile_settings


@pytest.fixture(scope="module")
def tiny(make_tiny_kinematic):
    "A small generated Kinematic-format dataset (conftest.make_tiny_kinematic, seed 3)."
    return make_tiny_kinematic(3)


def test_generated_format(tiny):
    files = sorted((tiny / "BVH").glob("*/*.bvh"))
    assert len(files) == 14 and {f.parent.name for f in files} == {"F01", "M01"}
    info = pd.read_csv(tiny / "file-info.csv")
    assert info.columns.tolist() == ["filename", "emotion", "actor_ID", "actor_gender", "scenario_ID", "version"]
    assert sorted(info.filename) == sorted(f.stem for f in files)
    for f in files[:3]:
        meta = ds.parse_kinematic_name(f)
        row = info.set_index("filename").loc[f.stem]
        assert (row.emotion, row.actor_ID, row.actor_gender, row.scenario_ID, row.version) == (
            meta["label"], meta["actor"], meta["gender"], meta["scenario"], meta["version"])
        b = read_bvh(f)
        assert b.joints == KINEMATIC_JOINTS and (b.parents == KINEMATIC_PARENT_IDX).all()
        assert all(c == KINEMATIC_CHANNELS for c in b.channels) and len(b.end_sites) == 13
        assert b.frame_time == 0.008 and 125 <= b.n_frames <= 188
        m = b.motion.reshape(b.n_frames, 59, 6)
        assert np.array_equal(m[:, 1:, :3], np.broadcast_to(b.offsets[1:], m[:, 1:, :3].shape))  # = OFFSET
        text = f.read_text().splitlines()
        assert text[0] == "HIERARCHY" and text[1] == "ROOT Hips"
        assert "CHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation" in text[4]


def test_generator_deterministic_and_seeded(tmp_path):
    a = gen.synthesize_clip("M03", "Fearful", 2, 1, 1.2, seed=5)
    b = gen.synthesize_clip("M03", "Fearful", 2, 1, 1.2, seed=5)
    c = gen.synthesize_clip("M03", "Fearful", 2, 1, 1.2, seed=6)
    assert np.array_equal(a.motion, b.motion) and not np.allclose(a.motion, c.motion)
    # an actor is the same person whatever n_actors is
    p2 = gen.generator_plan(n_actors=2, seed=1)
    p22 = gen.generator_plan(n_actors=22, seed=1)
    assert p2.equals(p22[p22.actor.isin(["F01", "M01"])].reset_index(drop=True))
    assert gen.generator_actors(22) == [a for pair in zip(ds.KINEMATIC_ACTORS[:11], ds.KINEMATIC_ACTORS[11:]) for a in pair]
    assert "F04" not in ds.KINEMATIC_ACTORS and len(set(ds.KINEMATIC_ACTORS)) == 22


def test_generated_motion_plausible():
    """Feet on the floor, bones rigid, joints within anatomical ranges, human speeds, per-actor bodies."""
    J = {j: i for i, j in enumerate(KINEMATIC_JOINTS)}
    heights = {}
    for k, (actor, emo, sc) in enumerate([("F01", "Angry", 1), ("M02", "Sad", 0), ("F05", "Happy", 2),
                                          ("M07", "Fearful", 5), ("F09", "Surprise", 3), ("M11", "Disgust", 4)]):
        b = gen.synthesize_clip(actor, emo, sc, 1, 4.0, seed=k)
        P = b.positions() / 100.0
        feet = b.positions(["RightFoot", "LeftFoot"], end_sites=True)[:, [0, 1, 2, 3], 1] / 100.0
        assert feet.min() > -0.01 and np.percentile(feet.min(1), 95) < 0.10     # someone stands on the floor
        bones = np.linalg.norm(P[:, 1:] - P[:, KINEMATIC_PARENT_IDX[1:]], axis=-1)
        assert np.allclose(bones, bones[0], atol=1e-6)
        head, hips = P[:, J["Head"], 1], P[:, J["Hips"], 1]
        assert (head > hips + 0.4).all() and (hips > 0.6).all()
        speed = np.linalg.norm(np.diff(P, axis=0), axis=-1) * 125
        assert np.percentile(speed[:, J["RightHand"]], 99) < 8.0 and np.percentile(speed[:, 0], 99) < 3.0
        m = b.motion.reshape(b.n_frames, 59, 6)          # channels: X Y Z pos, then Y X Z rotation
        for side in ("Right", "Left"):
            assert 0 <= m[:, J[f"{side}Leg"], 4].min() and m[:, J[f"{side}Leg"], 4].max() <= 140   # knee
            elbow = -(1 if side == "Left" else -1) * m[:, J[f"{side}ForeArm"], 3]
            assert -1e-9 <= elbow.min() and elbow.max() <= 145
        heights[actor] = head.max()
    assert len({round(h, 3) for h in heights.values()}) == len(heights)      # every actor has their own body


def test_generated_speeds_human_quick_profile():
    """Every clip of the quick synthetic profile moves at human speeds: key joints < 12 m/s (fast punches
    reach ~8-10 m/s at the fist), hands accelerate < 300 m/s^2, and emotions still differ in peak speed.

    Acceleration bound: wrist-worn sensors in boxing measure peaks above 120 m/s^2 (boxing motion capture,
    https://pmc.ncbi.nlm.nih.gov/articles/PMC7645594/ Fig. 4); a minimum-jerk stroke has peak acceleration 3.08 x v_peak / D,
    which with v_peak <= 10 m/s and the fastest ballistic strokes (D ~ 0.1 s) gives ~300 m/s^2."""
    kw = profile_settings("quick", "generator")
    plan = gen.generator_plan(kw.pop("n_actors"), 0, **kw)
    assert len(plan) == 84
    hands = [KEY_JOINTS.index("RightHand"), KEY_JOINTS.index("LeftHand")]
    peak = {}
    for r in plan.itertuples():
        b = gen.synthesize_clip(r.actor, r.label, r.scenario, r.version, r.seconds, 0)
        P = b.positions(KEY_JOINTS) / 100.0
        v = np.linalg.norm(np.diff(P, axis=0), axis=-1) * b.fps
        a = np.linalg.norm(np.diff(P[:, hands], 2, axis=0), axis=-1) * b.fps ** 2
        assert v.max() < 12.0, (r.filename, KEY_JOINTS[v.max(0).argmax()], v.max())
        assert a.max() < 300.0, (r.filename, a.max())
        peak[r.filename] = (r.label, v.max())
    med = pd.DataFrame(peak.values(), columns=["label", "v"]).groupby("label").v.median()
    assert med[["Angry", "Fearful", "Surprise", "Happy"]].min() > 1.5 * med[["Sad", "Neutral"]].max(), med


def test_ensure_synthetic_reuses_and_regenerates(tmp_path, monkeypatch):
    monkeypatch.setitem(PROFILES["quick"], "generator", dict(n_actors=1, takes=1, seconds=(0.5, 0.6), median_seconds=None))
    out = gen.ensure_synthetic("quick", 0, cache_dir=tmp_path, n_jobs=1, progress=False)
    assert out.parent == tmp_path / "synthetic" and len(list(out.glob("BVH/*/*.bvh"))) == 7
    stamp = (out / "generator.json").stat().st_mtime_ns
    assert gen.ensure_synthetic("quick", 0, cache_dir=tmp_path, progress=False) == out
    assert (out / "generator.json").stat().st_mtime_ns == stamp          # reused
    made = json.loads((out / "generator.json").read_text())
    made["generator_version"] = "0"
    (out / "generator.json").write_text(json.dumps(made))
    gen.ensure_synthetic("quick", 0, cache_dir=tmp_path, n_jobs=1, progress=False)
    assert json.loads((out / "generator.json").read_text())["generator_version"] == gen.GENERATOR_VERSION
    c = ds.load_dataset("synthetic", profile="quick", cache_dir=tmp_path, n_jobs=1, progress=False)
    assert c.name == "synthetic" and len(c) == 7 and c.group_col == "actor"


def test_generator_json_names_the_generator(tiny):
    made = json.loads((tiny / "generator.json").read_text())
    assert made["generator"] == "emomotion.generator.generate_kinematic"
    assert made["generator_version"] == gen.GENERATOR_VERSION and made["n_clips"] == 14


# ---- realism options (all off by default) -------------------------------------------------------------------------

def _bvh_digest(b, tmp_path):
    import hashlib

    from emomotion.bvh_writer import write_bvh
    path = tmp_path / "clip.bvh"
    write_bvh(b, path, precision=4)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def test_realism_off_is_byte_identical_to_the_generator_before_the_options(tmp_path):
    # digests of the generator as it was before the options existed (commit 2bd256b): the default writes the same bytes
    assert _bvh_digest(gen.synthesize_clip("F01", "Angry", 3, 1, 2.0, seed=0), tmp_path) == "5299116508028331"
    assert _bvh_digest(gen.synthesize_clip("M02", "Sad", 1, 2, 3.0, seed=1), tmp_path) == "bff023461639564e"
    assert _bvh_digest(gen.synthesize_clip("F01", "Angry", 3, 1, 2.0, seed=0, realism=dict(gen.REALISM)),
                       tmp_path) == "5299116508028331"
    import hashlib
    plan = gen.generator_plan(4, 0, 2)
    assert hashlib.sha256(plan.to_csv(index=False).encode()).hexdigest()[:16] == "1760eadde74ef96b"
    pd.testing.assert_frame_equal(gen.generator_plan(4, 0, 2, context=0.0), plan)
    with pytest.raises(ValueError, match="unknown realism option 'noise'"):
        gen.synthesize_clip("F01", "Angry", 3, 1, 2.0, realism=dict(noise=1.0))


def test_quality_drift_keeps_the_start_of_the_take_and_changes_its_end():
    a = gen.synthesize_clip("F01", "Happy", 0, 1, 6.0, seed=0)
    b = gen.synthesize_clip("F01", "Happy", 0, 1, 6.0, seed=0, realism=dict(quality_drift=2.0))
    rot = lambda c: c.motion.reshape(c.n_frames, -1, 6)[:, 1:, 3:]          # the non-root rotations
    d = np.abs(rot(a) - rot(b)).reshape(a.n_frames, -1).max(1)
    n = a.n_frames
    assert d[: n // 5].max() < 1e-6                      # the first fifth: the static take (its feet kept on the floor)
    assert d[-n // 5:].mean() > 1.0                      # the last fifth: other qualities, degrees apart


def test_context_ties_the_scenario_to_the_emotion():
    plain = gen.generator_plan(6, 0, 4)
    tied = gen.generator_plan(6, 0, 4, context=1.0)
    for label, g in tied.groupby("label"):
        assert set(g.scenario) == {gen.CONTEXT_SCENARIO[label]}
    assert plain.groupby("label").scenario.nunique().min() > 1
    half = gen.generator_plan(6, 0, 4, context=0.5)
    share = (half.scenario == half.label.map(gen.CONTEXT_SCENARIO)).mean()
    assert 0.4 < share < 0.8                              # half replaced, plus the takes already in that scenario
    assert not half.filename.duplicated().any()


def test_a_nonlinear_actor_effect_is_not_undone_by_a_per_actor_zscore():
    # one actor's mean qualities per emotion, with and without the option: without it the emotion effect is the
    # actor's gain times the shared one, so the z-scored profiles of two actors agree closely; with it they do not
    def profiles(actor, strength):
        style = gen.actor_style(actor)
        rows = []
        for e in gen.EMOTIONS:
            q = gen.trial_qualities(np.random.default_rng(0), style, e, noise=0.0)
            if strength:
                q = gen._nonlinear_qualities(q, style, actor, 0, strength)
            rows.append(gen._to_space([q[k] for k in gen.QUALITIES]))
        v = np.array(rows)
        return (v - v.mean(0)) / (v.std(0) + 1e-12)
    gap = lambda s: np.abs(profiles("F01", s) - profiles("M01", s)).mean()
    assert gap(1.0) > 1.5 * gap(0.0), (gap(0.0), gap(1.0))
    c = gen.synthesize_clip("F01", "Sad", 0, 1, 2.0, realism=dict(actor_nonlinear=1.0))
    assert not np.allclose(c.motion, gen.synthesize_clip("F01", "Sad", 0, 1, 2.0).motion)


def test_sensor_noise_is_white_and_drift_wanders():
    a = gen.synthesize_clip("M01", "Neutral", 0, 1, 8.0, seed=0)
    noisy = gen.synthesize_clip("M01", "Neutral", 0, 1, 8.0, seed=0, realism=dict(sensor_noise=0.5))
    d = (noisy.motion - a.motion).reshape(a.n_frames, -1, 6)
    np.testing.assert_array_equal(d[:, 1:, :3], 0)                         # bones keep their lengths
    e = d[:, :, 3:].ravel()
    assert abs(e.std() - 0.5) < 0.02 and abs(np.corrcoef(e[:-1], e[1:])[0, 1]) < 0.05
    drifted = gen.synthesize_clip("M01", "Neutral", 0, 1, 8.0, seed=0, realism=dict(drift=1.0))
    w = (drifted.motion - a.motion).reshape(a.n_frames, -1, 6)[:, :, 3:].reshape(a.n_frames, -1)
    assert np.abs(w[-125:]).mean() > 2 * np.abs(w[:125]).mean()             # a random walk: it grows with time
    assert np.corrcoef(w[:-1, 0], w[1:, 0])[0, 1] > 0.9                     # and is smooth from frame to frame


def test_generate_kinematic_records_the_options_that_are_on(tmp_path):
    out = gen.generate_kinematic(tmp_path / "k", n_actors=2, takes=1, seconds=(2.0, 2.5), median_seconds=None,
                                 n_jobs=1, progress=False, realism=dict(context=1.0, sensor_noise=0.2))
    params = json.loads((out / "generator.json").read_text())["params"]
    assert params["realism"] == {"context": 1.0, "sensor_noise": 0.2}
    info = pd.read_csv(out / "file-info.csv")
    assert (info.scenario_ID == info.emotion.map(gen.CONTEXT_SCENARIO)).all()
    plain = gen.generate_kinematic(tmp_path / "p", n_actors=2, takes=1, seconds=(2.0, 2.5), median_seconds=None,
                                   n_jobs=1, progress=False)
    assert "realism" not in json.loads((plain / "generator.json").read_text())["params"]


def test_a_variant_set_has_its_own_cached_folder(tmp_path):
    "`ensure_synthetic(realism=..., n_actors=..., takes=...)`: a folder of its own, reused, the options recorded."
    plain = gen.ensure_synthetic("quick", 0, tmp_path, n_jobs=1, progress=False, n_actors=2, takes=1)
    ctx = gen.ensure_synthetic("quick", 0, tmp_path, n_jobs=1, progress=False, realism={"context": 1.0}, n_actors=2,
                               takes=1)
    assert plain != ctx and plain.parent == ctx.parent == gen.synthetic_dir("quick", 0, tmp_path).parent
    assert gen.synthetic_dir("quick", 0, tmp_path) not in (plain, ctx)     # the profile's own set is untouched
    info = pd.read_csv(ctx / "file-info.csv")
    assert len(info) == 14 and (info.emotion.map(gen.CONTEXT_SCENARIO) == info.scenario_ID).all()
    assert json.loads((ctx / "generator.json").read_text())["params"]["realism"] == {"context": 1.0}
    assert "realism" not in json.loads((plain / "generator.json").read_text())["params"]
    stamp = (ctx / "generator.json").stat().st_mtime_ns
    assert gen.ensure_synthetic("quick", 0, tmp_path, progress=False, realism={"context": 1.0}, n_actors=2,
                                takes=1) == ctx and (ctx / "generator.json").stat().st_mtime_ns == stamp
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['actors'\]"):
        gen.ensure_synthetic("quick", 0, tmp_path, actors=3)
