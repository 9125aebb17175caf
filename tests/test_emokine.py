"""Tests of emomotion.emokine: the LOOCV artefact, the fusion cache, the crossed design, and the EMOKINE path on a small EMOKINE-shaped folder built from the real fixture CSV."""
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from emomotion.emokine import (FitCache, emokine_descriptors, make_descriptor_svm, make_fusion, noise_data,
                               small_design)
from emomotion.evaluate import cross_validate, make_toy_study
from emomotion.features import feature_names
from emomotion.sequences import stack_blocks

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "data" / "fixtures" / "emokine" / "positionExample.csv"


@pytest.mark.parametrize("n_groups,n_classes", [(9, 6), (5, 4)])
def test_prior_following_scores_zero_under_loo_on_balanced_data(n_groups, n_classes):
    X, y, g = noise_data(n_groups, n_classes, n_features=5, seed=0)
    loo = cross_validate(DummyClassifier(strategy="prior"), X, y, "loo", progress=False)
    grp = cross_validate(DummyClassifier(strategy="prior"), X, y, "groups", groups=g, progress=False)
    assert (loo.y_pred != loo.y_true).all()
    assert (grp.y_pred == grp.y_true).sum() == n_groups          # one hit per group: exactly chance


def _entries(folder):
    return sorted(p for p in Path(folder).iterdir() if not p.name.startswith("."))


def test_fit_cache_reuses_only_identical_fits(tmp_path):
    X, y, _ = make_toy_study(n_actors=4, n_classes=3, per_cell=3, n_features=4, seed=0)
    X = X.to_numpy()
    m = FitCache(LogisticRegression(C=0.5), str(tmp_path))
    p1 = m.fit(X, y).predict_proba(X)
    assert not m.cache_hit_
    p2 = FitCache(LogisticRegression(C=0.5), str(tmp_path)).fit(X, y)
    assert p2.cache_hit_ and np.array_equal(p2.predict_proba(X), p1)
    assert not FitCache(LogisticRegression(C=2.0), str(tmp_path)).fit(X, y).cache_hit_      # other params
    assert not FitCache(LogisticRegression(C=0.5), str(tmp_path)).fit(X, y[::-1]).cache_hit_  # other labels
    assert len(_entries(tmp_path)) == 3 and all(p.is_dir() for p in _entries(tmp_path))


class _RunsCode:
    "Unpickling this creates the file `path`: what a crafted cache entry would do if it were ever unpickled."

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _no_pickle(monkeypatch):
    import pickle

    import cloudpickle

    def refuse(*a, **k):
        raise AssertionError("something was unpickled")
    for mod in (pickle, cloudpickle):
        monkeypatch.setattr(mod, "load", refuse)
        monkeypatch.setattr(mod, "loads", refuse)


def test_fit_cache_stores_no_pickle_and_unpickles_nothing(tmp_path, monkeypatch):
    "Entries are skops (trusted types) and safetensors files with their SHA-256 in entry.json; reading unpickles nothing."
    from emomotion.lstm import make_motion_lstm
    X, y, _ = make_toy_study(n_actors=4, n_classes=3, per_cell=2, n_features=6, seed=0)
    S = np.random.default_rng(0).normal(size=(len(y), 4, 154))
    S[..., -1] = 1
    Xp, tk = stack_blocks(a=X.to_numpy(), s=S)
    models = [Pipeline([("take", tk["a"]), ("svm", make_descriptor_svm(calibration_cv=2))]),
              Pipeline([("take", tk["s"]), ("lstm", make_motion_lstm(max_epochs=1, hidden=4))])]
    first = [FitCache(m, str(tmp_path)).fit(Xp, y) for m in models]
    files = sorted(p.relative_to(tmp_path).as_posix().split("/", 1)[1] for p in tmp_path.rglob("*") if p.is_file())
    assert set(files) == {"entry.json", "m.1.0/model.skops", "m.1.1/model.skops", "m.1.2/model.skops",
                          "m.1.0/model.skops", "m.1.1/weights.safetensors"}, files
    _no_pickle(monkeypatch)
    again = [FitCache(m, str(tmp_path)).fit(Xp, y) for m in models]
    assert all(a.cache_hit_ for a in again)
    for a, b in zip(first, again):
        np.testing.assert_allclose(a.predict_proba(Xp), b.predict_proba(Xp), atol=1e-6)


def test_a_crafted_cache_entry_never_runs_code(tmp_path, monkeypatch):
    """Every file of the cache replaced by a pickle that would create a file when unpickled: the next fit warns,
    refits and overwrites the entry; the pickle is never loaded. The same with the SHA-256 in entry.json updated to
    match, and with a skops file that holds a function (an untrusted type): refused before anything is loaded."""
    import json
    import pickle

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer
    X, y, _ = make_toy_study(n_actors=4, n_classes=3, per_cell=3, n_features=4, seed=0)
    X = X.to_numpy()
    cache, marker = tmp_path / "fits", tmp_path / "code-ran"
    model = LogisticRegression()
    fresh = FitCache(model, str(cache)).fit(X, y)
    for f in [p for p in cache.rglob("*") if p.is_file()]:
        f.write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.warns(UserWarning, match="is broken"):
        m = FitCache(model, str(cache)).fit(X, y)
    assert not marker.exists() and not m.cache_hit_
    np.testing.assert_array_equal(m.predict_proba(X), fresh.predict_proba(X))
    assert FitCache(model, str(cache)).fit(X, y).cache_hit_              # overwritten with a good entry

    (entry,) = _entries(cache)
    meta = json.loads((entry / "entry.json").read_text())
    (name,) = [n for n in meta["files"] if n.endswith(".skops")]
    for payload, why in ((pickle.dumps(_RunsCode(marker)), "BadZipFile|not a zip"),
                         (None, "outside the trusted list")):
        if payload is None:
            sio.dump(FunctionTransformer(func=os.system, kw_args={"command": f"touch {marker}"}), entry / name)
        else:
            (entry / name).write_bytes(payload)
        import hashlib
        meta["files"][name] = hashlib.sha256((entry / name).read_bytes()).hexdigest()
        (entry / "entry.json").write_text(json.dumps(meta))
        _no_pickle(monkeypatch)
        with pytest.warns(UserWarning, match=why):
            m = FitCache(model, str(cache)).fit(X, y)
        monkeypatch.undo()
        assert not marker.exists() and not m.cache_hit_
        np.testing.assert_array_equal(m.predict_proba(X), fresh.predict_proba(X))
        meta = json.loads((entry / "entry.json").read_text())


def test_fit_cache_never_leaves_half_a_model(tmp_path, monkeypatch):
    "A failure while storing a fitted model leaves no entry and no temporary folder; the fit is used uncached."
    import emomotion.emokine as ek
    X, y, _ = make_toy_study(n_actors=4, n_classes=3, per_cell=3, n_features=4, seed=0)
    real = ek._save_fitted

    def broken(est, folder, name="m"):
        real(est, folder, name)
        raise OSError("disk full")

    monkeypatch.setattr(ek, "_save_fitted", broken)
    with pytest.warns(UserWarning, match="disk full"):
        m = FitCache(LogisticRegression(), str(tmp_path / "fits")).fit(X.to_numpy(), y)
    assert not m.cache_hit_ and hasattr(m, "classes_")
    assert [p.name for p in (tmp_path / "fits").iterdir()] == []
    monkeypatch.undo()
    assert not FitCache(LogisticRegression(), str(tmp_path / "fits")).fit(X.to_numpy(), y).cache_hit_


def test_fusion_averages_members_fitted_in_the_fold(tmp_path):
    X, y, g = make_toy_study(n_actors=5, n_classes=3, per_cell=2, n_features=6, seed=1)
    Xp, tk = stack_blocks(a=X.to_numpy()[:, :3], b=X.to_numpy()[:, 3:])
    members = {k: FitCache(Pipeline([("take", tk[k]), ("m", LogisticRegression())]), str(tmp_path)) for k in "ab"}
    parts = [cross_validate(m, Xp, y, "groups", groups=g, progress=False).proba for m in members.values()]
    fused = cross_validate(make_fusion(members), Xp, y, "groups", groups=g, progress=False, return_estimator=True)
    assert all(m.cache_hit_ for est in fused.estimators for m in est.estimators_)
    assert np.allclose(fused.proba, np.mean(parts, axis=0))


def test_small_design_keeps_a_crossed_sample():
    idx = pd.DataFrame({"label": ["A", "B", "C"] * 4 + ["A", "A"], "content": list("aaabbbcccddd") + ["e", "e"]})
    rows, note = small_design(idx, "content")
    assert sorted(rows) == list(range(12)) and "4 of 5" in note
    rows, _ = small_design(idx, "content", max_clips=6, seed=3)
    sub = idx.iloc[rows]
    assert len(sub) == 6 and sub.content.nunique() == 2 and (sub.groupby("content").label.nunique() == 3).all()
    with pytest.raises(KeyError, match="choreography"):
        small_design(idx, "choreography")


def test_emokine_descriptors_cover_the_feature_table():
    d = emokine_descriptors(feature_names())
    assert d.nunique() == 9 and len(d) == 226
    assert d["RightHand_speed_mad"].startswith("speed") and d["Spine3_ldlj"].startswith("dimensionless")
    with pytest.raises(ValueError, match="quantity of motion"):
        emokine_descriptors([c for c in feature_names() if not c.startswith("qom_")])


def _fake_emokine(root: Path, n_choreographies: int = 3, n_frames: int = 240) -> Path:
    """An EMOKINE-shaped tree (Data/CSV/seq<N>_<emotion>/position.csv) made from the real fixture: the same
    dancer's frames, cut to `n_frames` from a different start per take, sped up or slowed down per emotion,
    plus one explanation take."""
    df = pd.read_csv(FIXTURE)
    emotions = ["angry", "content", "fearful", "joy", "neutral", "sad"]
    for s in range(1, n_choreographies + 1):
        for k, emo in enumerate(emotions + ["explanation"]):
            step = 1 + (k % 3)
            start = s * 50 + 5 * k                     # every take its own frames: no two files are duplicates
            part = df.iloc[start: start + n_frames * step: step].copy()
            part["frame_idx"] = np.arange(len(part))
            part["ms"] = np.arange(len(part)) * (1000 / 240)
            d = root / "Data" / "CSV" / f"seq{s}_{emo}"
            d.mkdir(parents=True, exist_ok=True)
            part.to_csv(d / "position.csv", index=False)
    return root


@pytest.mark.skipif(not FIXTURE.exists(), reason="EMOKINE fixture CSV not available")
def test_emokine_path_end_to_end(tmp_path, monkeypatch):
    from emomotion.datasets import load_dataset
    from emomotion.features import feature_table

    monkeypatch.setenv("EMOMOTION_CACHE", str(tmp_path / "cache"))
    root = _fake_emokine(tmp_path / "emokine")
    clips = load_dataset("emokine", root, profile="quick", n_jobs=1, progress=False)
    assert clips.group_col == "choreography" and len(clips) == 18            # explanation takes left out
    rows, note = small_design(clips.index, clips.group_col, max_clips=12, seed=0)
    assert len(rows) == 12 and "2 of them" in note
    assert clips.subset(rows).index.groupby("choreography").label.nunique().eq(6).all()
    rows, _ = small_design(clips.index, clips.group_col, seed=0)
    X, meta = feature_table(clips.subset(rows), n_jobs=1, progress=False)
    Xd = X[emokine_descriptors(X.columns).index]
    r = cross_validate(make_descriptor_svm(calibration_cv=2), Xd, meta["label"], "groups",
                       groups=meta["choreography"], progress=False)
    assert r.n_splits == 3 and r.n == 18 and np.isfinite(r.proba).all() and np.allclose(r.proba.sum(1), 1)


def test_the_studys_loocv_result_comes_from_the_published_table():
    "`STUDY_LOOCV` is a view of `published.PUBLISHED` (family `emokine`), and it is far below chance."
    from scipy.stats import binom

    from emomotion.emokine import PROTOCOL_NAMES, STUDY_LOOCV
    from emomotion.evaluate import PROTOCOL_NAMES as names
    from emomotion.published import PUBLISHED
    row = PUBLISHED.loc["emokine"]
    assert STUDY_LOOCV == {k: int(row[k]) for k in ("n_correct", "n", "n_classes")}
    assert row.accuracy == STUDY_LOOCV["n_correct"] / STUDY_LOOCV["n"]
    assert binom.cdf(STUDY_LOOCV["n_correct"], STUDY_LOOCV["n"], 1 / STUDY_LOOCV["n_classes"]) < 0.005
    assert PROTOCOL_NAMES is names                   # 06's protocol names are evaluate's
