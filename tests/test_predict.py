"Model bundles and prediction (`emomotion.bundle`, `emomotion.predict`): train→predict equals the harness, bad files, skeletons, tampering."
import hashlib
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from emomotion import bundle as B, predict as P
from emomotion.cli import main as _main
from emomotion.baselines import make_baseline
from emomotion.datasets import load_dataset
from emomotion.evaluate import cross_validate, split_indices
from emomotion.features import feature_table
from emomotion.lstm import make_motion_lstm
from emomotion.profiles import profile_settings
from emomotion.sequences import build_sequences

BANDAI = Path("/work/shared/data/bandai-namco-1/data")


@pytest.fixture(scope="module")
def clips():
    return load_dataset("synthetic", profile="quick", progress=False)


@pytest.fixture(scope="module")
def rf_bundle(clips, tmp_path_factory):
    return B.train_bundle(clips, "rf", tmp_path_factory.mktemp("b") / "rf", evaluate=False)


def _same_as_harness(clips, model, X, est, fit_groups, tmp_path, folds=None):
    y, groups = clips.index["label"].to_numpy(), clips.index["actor"].to_numpy()
    res = cross_validate(est, X, y, "actors", groups=groups, n_splits=3, seed=0, progress=False, fit_groups=fit_groups)
    pred = res.predictions()
    for k, (tr, te) in enumerate(split_indices("actors", y, groups, 3, 0)):
        if folds is not None and k not in folds:
            continue
        b = B.train_bundle(clips.subset(tr), model, tmp_path / f"{model}{k}", evaluate=False)
        out = P.load_model(b).predict_files(list(clips.index["path"].iloc[te]))
        assert (out["error"] == "").all()
        np.testing.assert_array_equal(out["label"].to_numpy(), pred.loc[te, "y_pred"].to_numpy())
        cols = [f"p_{c}" for c in res.classes]
        np.testing.assert_allclose(out[cols].to_numpy(), pred.loc[te, cols].to_numpy(), atol=1e-6)   # float32 inference: thread count moves the last bits


def test_rf_bundle_equals_cross_validate_fold_for_fold(clips, tmp_path):
    X, _ = feature_table(clips, progress=False)
    _same_as_harness(clips, "rf", X, make_baseline("Random Forest", "quick", 0, grouped=True), True, tmp_path)


def test_lstm_bundle_equals_cross_validate(clips, tmp_path):
    P_ = profile_settings("quick", "lstm")
    X = build_sequences(clips, **P_["sequences"]).X
    _same_as_harness(clips, "lstm", X, make_motion_lstm(3, seed=0, **P_["model"]), True, tmp_path, folds={0})


def test_read_motion_gives_the_loaders_positions(clips):
    key, fps, layout = P.read_motion(clips.index["path"].iloc[0])
    assert layout == "kinematic" and fps == clips.index["fps"].iloc[0]
    np.testing.assert_array_equal(key, clips.positions(0))


@pytest.mark.skipif(not BANDAI.is_dir(), reason="no Bandai data")
def test_bandai_file_maps_and_predicts(rf_bundle):
    f = sorted(BANDAI.glob("*_angry_*.bvh"))[0]
    key, fps, layout = P.read_motion(f)
    assert layout == "bandai" and 1.0 < np.ptp(key[..., 1]) < 2.5      # centimetres detected, now metres
    out = P.load_model(rf_bundle).predict_files([f])
    assert out["error"].iloc[0] == "" and 0 <= out["valence_lexicon"].iloc[0] <= 1


def _renamed(src: Path, dst: Path, fn) -> Path:
    text = src.read_text()
    dst.write_text(re.sub(r"^(\s*(?:ROOT|JOINT)\s+)(\S+)", lambda m: m.group(1) + fn(m.group(2)), text, flags=re.M))
    return dst


def test_mixamo_and_cmu_names_are_accepted(clips, rf_bundle, tmp_path):
    src = Path(clips.index["path"].iloc[0])
    mix = _renamed(src, tmp_path / "mix.bvh", lambda j: "mixamorig:" + ("Spine3x" if j == "Spine3" else j))
    cmu = _renamed(src, tmp_path / "cmu.bvh", lambda j: {"Spine3": "Spine3x", "Spine2": "Spine2x"}.get(j, j))
    assert P.read_motion(mix)[2] == "mixamo" and P.read_motion(cmu)[2] == "cmu"
    out = P.load_model(rf_bundle).predict_files([mix, cmu])
    assert (out["error"] == "").all() and out["label"].isin(clips.labels).all()


def test_missing_key_joints_are_named(clips, rf_bundle, tmp_path):
    bad = _renamed(Path(clips.index["path"].iloc[0]), tmp_path / "odd.bvh",
                   lambda j: {"LeftHand": "LeftPaw", "Head": "Skull"}.get(j, j))
    with pytest.raises(B.SkeletonError, match=r"odd\.bvh.*Head.*LeftHand"):
        P.read_motion(bad)


def test_bad_file_gets_a_row_and_exit_code(clips, rf_bundle, tmp_path, capsys):
    good = [str(p) for p in clips.index["path"].iloc[:2]]
    broken = tmp_path / "broken.bvh"
    broken.write_text(Path(good[0]).read_text()[:300])
    out = tmp_path / "preds.csv"
    assert _main(["predict", str(rf_bundle), *good, str(broken), "--out", str(out)]) == 1
    import pandas as pd
    df = pd.read_csv(out, keep_default_na=False)
    assert list(df["file"]) == good + [str(broken)]
    assert df["error"].iloc[:2].eq("").all() and "broken.bvh" in df["error"].iloc[2]
    assert capsys.readouterr().err.count(P.DISCLAIMER) == 1
    assert _main(["predict", str(rf_bundle), *good, "--out", str(out), "--window", "2"]) == 0
    assert (tmp_path / "preds_timeline.csv").exists() and list(tmp_path.glob("preds_timeline_*.png"))


def _copy(bundle: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in bundle.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def _relist(b: Path, name: str):
    meta = json.loads((b / "model.json").read_text())
    meta["files"][name] = B.sha256_of(b / name)
    card = (b / "MODEL_CARD.md").read_text().replace(B.bundle_id(meta), B.CARD_ID_PLACEHOLDER)
    meta["files"]["MODEL_CARD.md"] = hashlib.sha256(card.encode()).hexdigest()
    meta["digest"] = B.bundle_digest(meta)                   # resealed: only the weight file's own checks remain
    (b / "MODEL_CARD.md").write_text(card.replace(B.CARD_ID_PLACEHOLDER, B.bundle_id(meta)))
    (b / "model.json").write_text(json.dumps(meta))


def test_one_edited_byte_is_refused(rf_bundle, tmp_path):
    b = _copy(rf_bundle, tmp_path / "b")
    data = bytearray((b / "model.skops").read_bytes())
    data[len(data) // 2] ^= 1
    (b / "model.skops").write_bytes(bytes(data))
    with pytest.raises(B.BundleError, match="SHA-256"):
        P.load_model(b)


def test_incompatible_format_is_refused(rf_bundle, tmp_path):
    b = _copy(rf_bundle, tmp_path / "b")
    meta = json.loads((b / "model.json").read_text())
    (b / "model.json").write_text(json.dumps(meta | {"format_version": 99}))
    with pytest.raises(B.BundleError, match="format"):
        P.load_model(b)


class Payload:
    "Creates a marker file when unpickled / reconstructed: proof that something from the bundle ran."
    marker = None

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))

    def __setstate__(self, state):
        Path(state["marker"]).touch()


def test_smuggled_pickle_is_refused_and_not_run(rf_bundle, tmp_path):
    marker = tmp_path / "ran"
    pay = Payload(); pay.marker = str(marker)
    b = _copy(rf_bundle, tmp_path / "b")
    (b / "model.skops").write_bytes(pickle.dumps(pay))       # the weight file replaced by a pickle, listed anew
    _relist(b, "model.skops")
    with pytest.raises(B.BundleError, match="pickle"):
        P.load_model(b)
    c = _copy(rf_bundle, tmp_path / "c")
    (c / "extra.pkl").write_bytes(pickle.dumps(pay))
    with pytest.raises(B.BundleError):
        P.load_model(c)
    assert not marker.exists()


def test_untrusted_skops_type_is_refused_and_not_run(rf_bundle, tmp_path):
    marker = tmp_path / "ran"
    b = _copy(rf_bundle, tmp_path / "b")
    evil = Payload.__new__(Payload)
    evil.__dict__["marker"] = str(marker)
    sio.dump({"model": evil}, b / "model.skops")
    _relist(b, "model.skops")
    with pytest.raises(B.BundleError, match="trusted"):
        P.load_model(b)
    assert not marker.exists()


def test_stgcn_gated_bundle_equals_cross_validate(clips, tmp_path):
    from emomotion.sequences import stack_blocks
    from emomotion.stgcn import build_tensors, key_graph, stgcn_classifier
    S = profile_settings("quick", "stgcn")
    gt = build_tensors(clips, "key", n_frames=S["n_frames"])
    Xf, _ = feature_table(clips, progress=False)
    X, _ = stack_blocks(graph=gt.X, features=Xf.to_numpy(np.float32), dtype="float32")
    est = stgcn_classifier(key_graph(), gt.shape, "gated", seed=0, channels=S["channels"], strides=S["strides"],
                           feat_dim=S["feat_dim"], max_epochs=S["max_epochs"], patience=S["patience"])
    _same_as_harness(clips, "stgcn_gated", X, est, True, tmp_path, folds={0})


def test_bundle_and_predict_are_two_chapter_sized_modules():
    "Issue 14: bundles (`08a_bundle`) and prediction (`08_predict`) are separate modules, each under 700 lines; predict uses bundle, never the reverse."
    import inspect
    import re as _re
    for m in (B, P):
        assert len(inspect.getsource(m).splitlines()) < 700, m.__name__
    assert not _re.search(r"^\s*from (\.|emomotion\.)predict import", inspect.getsource(B), _re.M)
    assert P.train_bundle is B.train_bundle and P.model_inputs is B.model_inputs   # one definition, used by predict


def test_predict_reports_valence_arousal_dominance_of_the_mapping(clips, rf_bundle):
    "A bundle without the comparison maps its probabilities: the three columns are p × anchors, and the card says why."
    from emomotion.affect import map_proba
    from emomotion.bundle import VAD_COLUMNS
    model = P.load_model(rf_bundle)
    assert model.affect["approach"] == "mapping" and "without evaluation" in model.affect["why"]
    out = model.predict_files(list(clips.index["path"].iloc[:4]))
    p = out[[f"p_{c}" for c in model.classes]].to_numpy()
    np.testing.assert_allclose(out[list(VAD_COLUMNS)].to_numpy(), map_proba(p, model.classes))
    assert "mapping" in (rf_bundle / "MODEL_CARD.md").read_text()


def test_regression_head_chosen_is_saved_checked_and_used(clips, tmp_path, monkeypatch):
    "When the regression head wins, it travels in the bundle (hash-checked) and predict reports its values."
    from emomotion import affect
    from emomotion.bundle import VAD_COLUMNS
    monkeypatch.setattr(affect, "better_approach", lambda t: ("regression", "MLP head", "forced by the test"))
    b = B.train_bundle(clips, "rf", tmp_path / "rf")
    meta = json.loads((b / "model.json").read_text())
    assert meta["affect"]["approach"] == "regression" and "affect.skops" in meta["files"]
    assert {r["approach"] for r in meta["affect"]["metrics"]} == {"mapping", "regression"}
    assert "regression head" in (b / "MODEL_CARD.md").read_text()
    model = P.load_model(b)
    files = list(clips.index["path"].iloc[:3])
    out = model.predict_files(files)
    X, _ = feature_table(clips.subset(np.arange(3)), progress=False)
    np.testing.assert_allclose(out[list(VAD_COLUMNS)].to_numpy(), model.affect_head.predict(X.to_numpy()), atol=1e-9)
    key, fps, _ = P.read_motion(files[0])
    tl = model.timeline({files[0]: (key, fps)}, window=key.shape[0] / fps / 2)
    assert len(tl) >= 2 and tl[list(VAD_COLUMNS)].notna().all().all()
    head = b / "affect.skops"
    head.write_bytes(head.read_bytes() + b" ")
    with pytest.raises(B.BundleError, match="affect.skops: SHA-256"):
        P.load_model(b)
