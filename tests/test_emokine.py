"""Tests of emomotion.emokine: chance statistics, the LOOCV artefact, the Transformer, the fusion cache, the
crossed design, and the EMOKINE path on a small EMOKINE-shaped folder built from the real fixture CSV."""
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import beta, binom
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import Pipeline

from emomotion.emokine import (FitCache, MotionTransformer, TakeBlock, accuracy_ci, chance_test, count_correct,
                               emokine_descriptors, make_descriptor_svm, make_fusion, noise_study, small_design,
                               stack_blocks)
from emomotion.evaluate import cross_validate, make_toy_study
from emomotion.features import feature_names

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "data" / "fixtures" / "emokine" / "positionExample.csv"


def test_clopper_pearson_matches_beta_quantiles():
    lo, hi = accuracy_ci(2, 54)
    assert np.isclose(lo, beta.ppf(0.025, 2, 53)) and np.isclose(hi, beta.ppf(0.975, 3, 52))
    wl, wh = accuracy_ci(2, 54, method="wilson")
    assert lo < wl < wh < hi                       # Wilson is shorter than Clopper–Pearson here
    with pytest.raises(ValueError):
        accuracy_ci(5, 4)


def test_study_result_is_far_below_chance():
    t = chance_test(2, 54, 1 / 6)
    assert np.isclose(t["p_below"], binom.cdf(2, 54, 1 / 6)) and t["p_below"] < 0.005
    assert t["p_above"] > 0.99 and t["expected"] == 9


@pytest.mark.parametrize("n_groups,n_classes", [(9, 6), (5, 4)])
def test_prior_following_scores_zero_under_loo_on_balanced_data(n_groups, n_classes):
    X, y, g = noise_study(n_groups, n_classes, n_features=5, seed=0)
    loo = cross_validate(DummyClassifier(strategy="prior"), X, y, "loo", progress=False)
    grp = cross_validate(DummyClassifier(strategy="prior"), X, y, "groups", groups=g, progress=False)
    assert (loo.y_pred != loo.y_true).all()
    assert (grp.y_pred == grp.y_true).sum() == n_groups          # one hit per group: exactly chance


def test_count_correct_agrees_with_harness():
    X, y, g = noise_study(6, 3, n_features=10, seed=4)
    for protocol in ("loo", "groups", "stratified"):
        r = cross_validate(NearestCentroid(), X, y, protocol, groups=g, n_splits=3, seed=1, progress=False)
        assert count_correct(NearestCentroid(), X, y, protocol, g, n_splits=3, seed=1) == (r.y_true == r.y_pred).sum()


def test_transformer_ignores_padding_and_trains():
    torch.manual_seed(0)
    net = MotionTransformer((10, 7), 4, d_model=8, n_heads=2).eval()
    x = torch.randn(3, 10, 7)
    x[..., -1] = 0
    x[0, :4, -1], x[1, :10, -1], x[2, :1, -1] = 1, 1, 1
    with torch.no_grad():
        a = net(x)
        x2 = x.clone()
        x2[0, 4:, :-1] = 100.0                   # garbage in padding
        x2[2, 1:, :-1] = -3.0
        b = net(x2)
    assert torch.allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError):
        MotionTransformer((10, 7), 4, d_model=10, n_heads=4)
    net.train()
    loss = torch.nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 2]))
    loss.backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_stack_blocks_round_trip_and_errors():
    a, b = np.arange(12.0).reshape(4, 3), np.arange(24, dtype=np.float32).reshape(4, 2, 3)
    X, takes = stack_blocks(a=a, b=b)
    assert np.array_equal(takes["a"].transform(X), a) and np.array_equal(takes["b"].transform(X), b)
    assert takes["b"].transform(X).dtype == np.float32
    with pytest.raises(ValueError, match="different numbers of rows"):
        stack_blocks(a=a, b=b[:3])
    with pytest.raises(ValueError, match="do not fill"):
        TakeBlock(0, 5, (2, 3)).transform(X)


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
    dancer's frames, cut to `n_frames`, sped up or slowed down per emotion, plus one explanation take."""
    df = pd.read_csv(FIXTURE)
    emotions = ["angry", "content", "fearful", "joy", "neutral", "sad"]
    for s in range(1, n_choreographies + 1):
        for k, emo in enumerate(emotions + ["explanation"]):
            step = 1 + (k % 3)
            part = df.iloc[s * 50: s * 50 + n_frames * step: step].copy()
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
