"""A confidence that means something (`emomotion.calibrate`, wired into `train_bundle` and `predict`): temperature
scaling fitted on held-out probabilities of the training clips, an out-of-distribution score against the training
clips, `uncertain` from both, thresholds from the training data only; old bundles still predict, saying what they lack."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emomotion import bundle as B, calibrate as C, predict as P
from emomotion.cli import main as _main
from emomotion.datasets import load_kinematic
from emomotion.lstm import expected_calibration_error


def _toy(n, k=5, scale=3.0, seed=0):
    "Labels drawn from softmax(z); an overconfident model reports softmax(scale * z)."
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k)) * 1.5
    p = np.exp(z - z.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
    y = np.array([rng.choice(k, p=q) for q in p])
    s = np.exp(scale * (z - z.max(1, keepdims=True)))
    return s / s.sum(1, keepdims=True), y


def test_temperature_fitted_on_overconfident_logits_lowers_ece_on_held_out_data():
    p_fit, y_fit = _toy(1500, seed=1)
    p_new, y_new = _toy(1500, seed=2)
    T = C.fit_temperature(p_fit, y_fit)
    assert T > 1.3                                   # overconfident: the fitted temperature softens
    before = expected_calibration_error(y_new, p_new, np.arange(5))
    after = expected_calibration_error(y_new, C.apply_temperature(p_new, T), np.arange(5))
    assert after < before / 2, (before, after)
    np.testing.assert_array_equal(C.apply_temperature(p_new, T).argmax(1), p_new.argmax(1))
    assert C.temperature_nll(p_new, y_new, T) < C.temperature_nll(p_new, y_new)


# --- a bundle trained on 4 of 6 generated actors, scored on the other 2 ----------------------------------------------

@pytest.fixture(scope="module")
def six(tmp_path_factory):
    from emomotion.generator import generate_kinematic
    root = tmp_path_factory.mktemp("gen6") / "kinematic"
    generate_kinematic(root, n_actors=6, seed=5, takes=1, seconds=(1.0, 1.5), median_seconds=None, n_jobs=1,
                       progress=False)
    clips = load_kinematic(root, n_jobs=1, progress=False)
    actors = sorted(clips.index["actor"].unique())
    test = clips.index["actor"].isin(actors[:2]).to_numpy()
    return clips, np.flatnonzero(~test), np.flatnonzero(test)


@pytest.fixture(scope="module")
def calibrated(six, tmp_path_factory):
    "The bundle, and what its calibrator and OOD reference were fitted on (spies on `calibrate`)."
    clips, tr, te = six
    seen = {}
    fit_calibration, fit_ood = C.fit_calibration, C.fit_ood

    def spy_cal(proba, y, *a, **k):
        seen["proba"], seen["y"], seen["cal_args"] = np.array(proba), np.array(y), (a, k)
        return fit_calibration(proba, y, *a, **k)

    def spy_ood(X, groups, *a, **k):
        seen["X"], seen["groups"] = np.array(X), np.array(groups)
        return fit_ood(X, groups, *a, **k)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(C, "fit_calibration", spy_cal)
        mp.setattr(C, "fit_ood", spy_ood)
        b = B.train_bundle(clips.subset(tr), "rf", tmp_path_factory.mktemp("cal") / "rf")
    return b, seen


def test_the_calibrator_and_the_reference_never_see_the_scored_clips(six, calibrated):
    clips, tr, te = six
    b, seen = calibrated
    train_actors, test_actors = set(clips.index["actor"].iloc[tr]), set(clips.index["actor"].iloc[te])
    assert len(seen["y"]) == len(tr) and len(seen["X"]) == len(tr)        # out-of-fold rows of the training clips only
    assert set(seen["groups"]) == train_actors and not set(seen["groups"]) & test_actors
    model = P.load_model(b)
    assert model.ood_ref["reference"].shape == (len(tr), seen["X"].shape[1])
    Xte = B.model_inputs(model.ood["inputs"], [clips.positions(i) for i in te], clips.index["fps"].iloc[te].to_numpy())
    Z = C.standardise(Xte, model.ood_ref["mean"], model.ood_ref["scale"])
    d = ((Z[:, None, :] - model.ood_ref["reference"][None]) ** 2).sum(-1)
    assert d.min() > 0                                                     # no scored clip is in the reference


def test_thresholds_come_from_the_training_data_only(six, calibrated):
    "The bundle's thresholds are those of its training rows; a clip's scores do not depend on the other clips scored."
    clips, tr, te = six
    b, seen = calibrated
    meta = json.loads((b / "model.json").read_text())
    cal = C.fit_calibration(seen["proba"], seen["y"])
    info, _ = C.fit_ood(seen["X"], seen["groups"])
    assert meta["uncertain_below"] == pytest.approx(cal["uncertain_below"]) == meta["calibration"]["uncertain_below"]
    assert meta["calibration"]["temperature"] == pytest.approx(cal["temperature"])
    assert meta["ood"]["threshold"] == pytest.approx(info["threshold"])
    card = (b / "MODEL_CARD.md").read_text()
    assert f"{meta['uncertain_below']:.3f}" in card and f"{meta['ood']['threshold']:.3f}" in card
    model = P.load_model(b)
    paths = list(clips.index["path"].iloc[te])
    one, other = model.predict_files(paths[:2]), model.predict_files([paths[0], *paths[5:]])
    cols = ["confidence", "ood", "uncertain"]
    pd.testing.assert_frame_equal(one.loc[[0], cols], other.loc[[0], cols])


def test_predict_writes_calibrated_confidence_ood_and_uncertain_from_both(six, calibrated):
    clips, tr, te = six
    b, _ = calibrated
    model = P.load_model(b)
    paths = list(clips.index["path"].iloc[te])
    out = model.predict_files(paths)
    probs = [f"p_{c}" for c in model.classes]
    assert list(out.columns) == ["file", "label", *probs, "confidence", "ood", "uncertain", "error",
                                 "valence_lexicon", "arousal_lexicon", "dominance_lexicon"]
    p = out[probs].to_numpy()
    np.testing.assert_allclose(out["confidence"], C.apply_temperature(p, model.calibration["temperature"]).max(1))
    assert (out["ood"] > 0).all()
    want = (out["confidence"] < model.uncertain_below) | (out["ood"] > model.ood["threshold"])
    np.testing.assert_array_equal(out["uncertain"], want)


def test_far_away_clips_score_higher_than_training_like_clips(six, calibrated):
    "The same held-out clips read as a body 1.7 times larger (`units`), or with every feature shifted, are out of distribution."
    clips, tr, te = six
    model = P.load_model(calibrated[0])
    paths = list(clips.index["path"].iloc[te])
    near = model.predict_files(paths)
    big = model.predict_files(paths, units=100 / 1.7)            # the files are centimetres: every length x 1.7
    thr = model.ood["threshold"]
    assert (near["ood"] > thr).mean() <= 0.5 and (big["ood"] > thr).mean() >= 0.9
    assert big["ood"].median() > near["ood"].median() and big["uncertain"].all()
    X = B.model_inputs(model.ood["inputs"], [clips.positions(i) for i in te], clips.index["fps"].iloc[te].to_numpy())
    shifted = X + 5 * model.ood_ref["scale"]                                   # five training sd on every feature
    assert (C.ood_score(shifted, model.ood_ref, model.ood["k"]) > thr).all()


# --- old bundles and a tampered reference ----------------------------------------------------------------------------

def _copy(bundle: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in bundle.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def _reseal(b: Path, meta: dict) -> None:
    card = (b / "MODEL_CARD.md").read_text().replace(B.bundle_id(json.loads((b / "model.json").read_text())),
                                                      B.CARD_ID_PLACEHOLDER)
    meta["files"]["MODEL_CARD.md"] = hashlib.sha256(card.encode()).hexdigest()
    meta["digest"] = B.bundle_digest(meta)
    (b / "MODEL_CARD.md").write_text(card.replace(B.CARD_ID_PLACEHOLDER, B.bundle_id(meta)))
    (b / "model.json").write_text(json.dumps(meta))


def test_an_old_bundle_still_predicts_and_says_once_what_it_lacks(six, calibrated, tmp_path, capsys):
    "A bundle written before calibration and OOD scores (no such fields, no ood.safetensors) predicts, with one line."
    clips, tr, te = six
    b = _copy(calibrated[0], tmp_path / "old")
    meta = json.loads((b / "model.json").read_text())
    for k in ("calibration", "ood"):
        meta.pop(k)
    meta["uncertain_below"] = B.UNCERTAIN_BELOW
    meta["files"].pop("ood.safetensors")
    (b / "ood.safetensors").unlink()
    _reseal(b, meta)
    files = list(clips.index["path"].iloc[te[:3]])
    assert _main(["predict", str(b), *files, "--out", str(tmp_path / "p.csv")]) == 0
    notes = [l for l in capsys.readouterr().err.splitlines() if "uncalibrated" in l]
    assert len(notes) == 1 and "no out-of-distribution score" in notes[0], notes
    df = pd.read_csv(tmp_path / "p.csv")
    assert df["ood"].isna().all() and (df["uncertain"] == (df["confidence"] < B.UNCERTAIN_BELOW)).all()
    p = df[[c for c in df if c.startswith("p_")]].to_numpy()
    np.testing.assert_allclose(df["confidence"], p.max(1), atol=1e-4)         # the raw top probability


def test_a_bundle_without_evaluation_has_ood_but_says_confidence_is_uncalibrated(six, tmp_path, capsys):
    clips, tr, te = six
    b = B.train_bundle(clips.subset(tr), "rf", tmp_path / "rf", evaluate=False)
    meta = json.loads((b / "model.json").read_text())
    assert "calibration" not in meta and meta["ood"]["n_reference"] == len(tr)
    assert "not calibrated" in (b / "MODEL_CARD.md").read_text()
    assert _main(["predict", str(b), clips.index["path"].iloc[te[0]], "--out", str(tmp_path / "p.csv")]) == 0
    notes = [l for l in capsys.readouterr().err.splitlines() if "uncalibrated" in l]
    assert len(notes) == 1 and "without evaluation" in notes[0] and "out-of-distribution" not in notes[0]
    assert pd.read_csv(tmp_path / "p.csv")["ood"].notna().all()


def test_a_tampered_ood_reference_is_refused_in_one_line(calibrated, tmp_path):
    b = _copy(calibrated[0], tmp_path / "b")
    meta = json.loads((b / "model.json").read_text())
    meta["ood"]["n_features"] += 1                      # resealed: only the reference's own checks remain
    _reseal(b, meta)
    with pytest.raises(B.BundleError, match=r"ood\.safetensors.*model\.json says") as e:
        P.load_model(b)
    assert "\n" not in str(e.value)
    c = _copy(calibrated[0], tmp_path / "c")
    (c / "ood.safetensors").write_bytes((c / "ood.safetensors").read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(B.BundleError, match="ood.safetensors: SHA-256"):
        P.load_model(c)


def test_the_reference_file_never_starts_like_a_pickle(tmp_path):
    "A safetensors header whose length begins 0x80 0x0N would be refused as a pickle by the bundle: `save_ood` pads it."
    from safetensors.numpy import save_file
    a = dict(mean=np.zeros(3), scale=np.ones(3), reference=np.zeros((2, 3), np.float32))
    pickle_like = lambda b: b[0] == 0x80 and b[1] <= 5
    hits = 0
    for n in range(0, 400, 4):                           # metadata of growing length walks the header length
        meta = {"note": "x" * n}
        save_file({k: np.ascontiguousarray(v) for k, v in a.items()}, str(tmp_path / "raw"), metadata=meta)
        hits += pickle_like((tmp_path / "raw").read_bytes()[:2])
        p = C.save_ood(a, tmp_path / "ood.safetensors", metadata=meta)
        assert not pickle_like(p.read_bytes()[:2]), n
        np.testing.assert_array_equal(C.load_ood(p, dict(n_features=3, n_reference=2))["scale"], np.ones(3))
    assert hits                                           # the case did occur, and was padded
