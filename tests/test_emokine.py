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
    assert len(list(tmp_path.glob("*.pkl"))) == 3



def test_fit_cache_never_leaves_half_a_model(tmp_path, monkeypatch):
    "A failure while storing a fitted model leaves neither a partial .pkl nor a temporary file (cache.atomic_path)."
    import emomotion.emokine as ek
    X, y, _ = make_toy_study(n_actors=4, n_classes=3, per_cell=3, n_features=4, seed=0)

    def broken_dump(obj, fh):
        fh.write(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(ek.cloudpickle, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        FitCache(LogisticRegression(), str(tmp_path / "fits")).fit(X.to_numpy(), y)
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
