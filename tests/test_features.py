"""Known-answer and behaviour tests of emomotion.features (the notebook nbs/01_features.ipynb holds more)."""
import warnings

import numpy as np
import pandas as pd
import pytest

from emomotion import features as F
from emomotion.skeletons import KEY_JOINTS
from emomotion.kinematics import derivatives

J = {n: i for i, n in enumerate(KEY_JOINTS)}
REST = np.array([[0, 1.00, 0], [0, 1.45, 0], [0, 1.62, 0],
                 [-.04, 1.50, 0], [-.18, 1.45, 0], [-.21, 1.17, 0], [-.23, .90, 0],
                 [.04, 1.50, 0], [.18, 1.45, 0], [.21, 1.17, 0], [.23, .90, 0],
                 [-.10, .95, 0], [-.11, .50, 0], [-.11, .08, 0],
                 [.10, .95, 0], [.11, .50, 0], [.11, .08, 0]])


def sway(t, seed=0, amp=0.05):
    """Rest pose with every coordinate on its own slow sine, at times t (s): (T, 17, 3)."""
    rng = np.random.default_rng(seed)
    f0, ph = rng.uniform(0.3, 2.0, (17, 3)), rng.uniform(0, 2 * np.pi, (17, 3))
    return REST + amp * np.sin(2 * np.pi * f0 * t[:, None, None] + ph)


def test_rigid_translation_at_constant_speed():
    fps, v = 125.0, np.array([0.48, 0.0, 0.64])                     # 0.8 m/s across the floor
    t = np.arange(400) / fps
    pos = REST + t[:, None, None] * v
    f = F.clip_features(pos, fps)
    for n in KEY_JOINTS:
        assert f[f"{n}_speed_mean"] == pytest.approx(0.8, rel=1e-6)
        assert f[f"{n}_speed_std"] == pytest.approx(0.0, abs=1e-6)
        assert f[f"{n}_acc_max"] == pytest.approx(0.0, abs=1e-6)
        assert f[f"{n}_range_y"] == pytest.approx(0.0, abs=1e-12)
    for s in ("mean", "min", "max"):
        assert f[f"qom_{s}"] == pytest.approx(0.8, rel=1e-6)
        assert f[f"com_speed_{s}"] == pytest.approx(0.8, rel=1e-6)
        assert f[f"kinetic_{s}"] == pytest.approx(0.5 * 0.8 ** 2, rel=1e-6)
    # the bones do not turn, and the body is still symmetric
    assert max(f[f"{p}-{c}_angspeed_max"] for p, c in F.BONES) == pytest.approx(0.0, abs=1e-6)
    assert f["asym_pose_max"] == pytest.approx(0.0, abs=1e-12)
    assert f["asym_speed_max"] == pytest.approx(0.0, abs=1e-6)
    # forward distance covered, seen from the first frame's heading (+Z = forward)
    assert f["Head_range_z"] == pytest.approx(0.64 * t[-1], rel=1e-6)


@pytest.mark.parametrize("fps,D", [(125.0, 1.6), (240.0, 2.0), (60.0, 3.0)])
def test_minimum_jerk_ldlj(fps, D):
    """Every joint carried along a minimum-jerk path: LDLJ = -ln(720 / 1.875**2) = -ln(204.8)."""
    tau = np.arange(0, D + 1e-9, 1 / fps) / D
    x = 0.7 * (10 * tau ** 3 - 15 * tau ** 4 + 6 * tau ** 5)
    pos = REST + x[:, None, None] * np.array([0.6, 0.0, 0.8])
    f = F.clip_features(pos, fps)
    for n in KEY_JOINTS:
        assert f[f"{n}_ldlj"] == pytest.approx(-np.log(204.8), abs=2e-3)
        assert f[f"{n}_speed_max"] == pytest.approx(1.875 * 0.7 / D, rel=1e-3)


def test_dimensionless_jerk_is_scale_free():
    fps = 125.0
    t = np.arange(0, 2, 1 / fps)
    x = np.stack([np.sin(3 * t) + 0.3 * np.sin(11 * t), np.cos(5 * t), 0 * t], -1)
    ref = None
    for amp, stretch in [(1, 1), (3, 1), (0.2, 2), (5, 0.5)]:       # amplitude and duration
        tt = np.arange(0, 2 * stretch, 1 / fps) / stretch
        xs = amp * np.stack([np.sin(3 * tt) + 0.3 * np.sin(11 * tt), np.cos(5 * tt), 0 * tt], -1)
        v, _, j = derivatives(xs, fps, window_s=0.1)
        d = F.dimensionless_jerk(np.linalg.norm(v, axis=-1), j, fps)
        ref = d if ref is None else ref
        assert d == pytest.approx(ref, rel=0.02)


def test_same_motion_at_different_frame_rates():
    """Windows are in seconds: the same movement sampled at 60, 125 and 240 Hz gives the same features."""
    rows = {fps: F.clip_features(sway(np.arange(0, 4, 1 / fps)), fps) for fps in (60.0, 125.0, 240.0)}
    for name in ("LeftHand_speed_mean", "LeftHand_acc_mean", "Head_jerk_mean", "qom_mean", "LeftLeg_ldlj",
                 "hull_volume_mean", "LeftArm-LeftForeArm_angspeed_mean"):
        vals = np.array([rows[r][name] for r in rows])
        assert np.ptp(vals) <= 0.03 * np.abs(vals).max(), (name, vals)


def test_resample_option():
    t240 = np.arange(0, 3, 1 / 240)
    a = F.clip_features(sway(t240), 240.0, resample_fps=120.0)
    b = F.clip_features(sway(np.arange(0, t240[-1] + 1e-9, 1 / 120)), 120.0)
    assert np.allclose(list(a.values()), list(b.values()), rtol=2e-3, atol=1e-4)


def test_centring_modes():
    pos = sway(np.arange(0, 2, 1 / 125))
    root = F.clip_features(pos, 125.0, centre="root")
    assert "Hips_speed_mean" not in root and len(root) == 476
    # per-frame root-relative: the pelvis' own movement is removed from the other joints
    moving = pos + np.arange(len(pos))[:, None, None] / 125 * np.array([1.0, 0, 0])
    root_moving = F.clip_features(moving, 125.0, centre="root")
    assert root_moving["Head_speed_mean"] == pytest.approx(root["Head_speed_mean"], rel=1e-6)
    assert F.clip_features(moving, 125.0)["Head_speed_mean"] > F.clip_features(pos, 125.0)["Head_speed_mean"] + 0.5
    with pytest.raises(ValueError, match="centre"):
        F.features_from_positions([pos], 125.0, centre="pelvis", cache=False, progress=False)


def test_bad_input_names_clip_frame_joint():
    pos = sway(np.arange(0, 1, 1 / 125))
    pos[37, J["LeftFoot"], 1] = np.nan
    with pytest.raises(ValueError, match=r"M04SU0V3.*frame 37.*LeftFoot"):
        F.features_from_positions([pos], 125.0, ids=["M04SU0V3"], cache=False, progress=False)
    with pytest.raises(ValueError, match="too few"):
        F.clip_features(pos[:5], 125.0)
    with pytest.raises(ValueError, match="fps"):
        F.clip_features(pos, 0)
    with pytest.raises(TypeError, match="unknown feature options"):
        F.features_from_positions([pos], 125.0, windows=0.2, cache=False)


def test_cache_and_parallel(tmp_path, monkeypatch):
    clips = [sway(np.arange(0, 1 + 0.05 * i, 1 / 125), seed=i).astype(np.float32) for i in range(20)]
    serial = F.features_from_positions(clips, 125.0, n_jobs=1, cache=False, progress=False)
    par = F.features_from_positions(clips, 125.0, n_jobs=2, batch_size=4, cache_dir=tmp_path, progress=False)
    pd.testing.assert_frame_equal(serial, par)
    files = sorted(tmp_path.rglob("*.npy"))
    assert len(files) == 20
    # a second call reads the cache (prove it: tamper with one cached row)
    row = np.load(files[0])
    np.save(files[0], row + 1.0)
    again = F.features_from_positions(clips, 125.0, cache_dir=tmp_path, progress=False)
    assert (again.to_numpy() != serial.to_numpy()).any(axis=1).sum() == 1
    # a changed motion, option or feature version is a new key
    changed = [c.copy() for c in clips]
    changed[3][10, 0, 0] += 0.001
    assert F.clip_key(changed[3], 125.0, F._options({})) != F.clip_key(clips[3], 125.0, F._options({}))
    assert F.clip_key(clips[3], 125.0, F._options({})) != F.clip_key(clips[3], 120.0, F._options({}))
    assert F.clip_key(clips[3], 125.0, F._options({})) != F.clip_key(clips[3], 125.0, F._options({"hull_fps": 10.0}))
    monkeypatch.setattr(F, "FEATURES_VERSION", "test-bump")
    fresh = F.features_from_positions(clips, 125.0, cache_dir=tmp_path, progress=False)
    pd.testing.assert_frame_equal(fresh, serial)
    assert len(list(tmp_path.rglob("*.npy"))) == 40
    # a cached row of the wrong length is ignored and recomputed
    bad = sorted((tmp_path / "features" / "vtest-bump").rglob("*.npy"))[0]
    np.save(bad, np.zeros(3))
    pd.testing.assert_frame_equal(F.features_from_positions(clips, 125.0, cache_dir=tmp_path, progress=False), serial)


class _FakeClips:
    """The part of emomotion.datasets.Clips that feature_table uses."""

    def __init__(self, arrays, fps):
        self._arrays = arrays
        self.index = pd.DataFrame({"clip_id": [f"c{i}" for i in range(len(arrays))], "label": ["Angry", "Sad"] * (len(arrays) // 2),
                                   "actor": "F01", "fps": fps, "n_frames": [len(a) for a in arrays],
                                   "path": [f"c{i}.bvh" for i in range(len(arrays))]},
                                  index=pd.RangeIndex(10, 10 + len(arrays)))

    def all_positions(self):
        return self._arrays


def test_feature_table_keeps_metadata_apart(tmp_path):
    arrays = [sway(np.arange(0, 1.5, 1 / 125), seed=i).astype(np.float32) for i in range(4)]
    X, meta = F.feature_table(_FakeClips(arrays, 125.0), cache_dir=tmp_path, progress=False)
    assert X.shape == (4, 492) and (X.index == meta.index).all() and list(meta["clip_id"]) == ["c0", "c1", "c2", "c3"]
    assert not set(X.columns) & set(meta.columns)
    assert all(dt == np.float64 for dt in X.dtypes)
    assert set(F.feature_groups(X.columns)) == set(F.FEATURE_GROUPS)
    assert np.allclose(X.loc[12], list(F.clip_features(arrays[2], 125.0).values()))


def test_feature_table_loses_only_the_clip_it_cannot_compute(tmp_path):
    "A five-frame clip (too few for the derivatives) is left out with its file and reason; no other row moves."
    from emomotion.datasets import LEFT_OUT, skipped_of
    arrays = [sway(np.arange(0, 1.5, 1 / 125), seed=i).astype(np.float32) for i in range(4)]
    arrays[1] = arrays[1][:5]
    with pytest.warns(UserWarning, match=r"feature_table: 1 of 4 clips could not be encoded.*c1\.bvh \(clip 1\)"):
        X, meta = F.feature_table(_FakeClips(arrays, 125.0), cache_dir=tmp_path, progress=False)
    assert X.index.tolist() == meta.index.tolist() == [10, 12, 13] and meta.clip_id.tolist() == ["c0", "c2", "c3"]
    assert np.allclose(X.loc[12], list(F.clip_features(arrays[2], 125.0).values()))
    sk = skipped_of(meta)
    assert sk[["row", "path"]].values.tolist() == [[1, "c1.bvh"]] and meta.attrs[LEFT_OUT] == sk.to_dict("records")
    assert "features of clip c1: 5 frames are too few" in sk.error.iloc[0] and "\n" not in sk.error.iloc[0]
    with pytest.raises(ValueError, match="none of the 2 clips"):
        F.feature_table(_FakeClips([arrays[1], arrays[1][:3]], 125.0), cache=False, progress=False)


def test_non_moving_joint_warns():
    pos = np.repeat(REST[None], 50, 0)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        X = F.features_from_positions([pos], 30.0, ids=["still"], cache=False, progress=False)
    assert X.filter(like="_ldlj").isna().all(axis=None)
    assert any("still" in str(m.message) for m in w)
