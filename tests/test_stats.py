"""Tests of emomotion.stats: fold t-interval, group-cluster bootstrap, paired comparison of two runs."""
import numpy as np
import pytest
from scipy.stats import binomtest

from emomotion.stats import (N_BOOT, cluster_bootstrap_interval, cluster_chance_test, contrasts_table,
                             fold_interval, paired_comparison, sign_test, wilcoxon_test)

T975_4 = 2.7764451051977987          # Student t(0.975, df=4)
ACTORS = np.repeat([f"A{k}" for k in range(10)], 20)


def test_fold_interval_is_the_t_interval():
    s = np.array([0.62, 0.65, 0.68, 0.70, 0.76])
    ci = fold_interval(s)
    half = T975_4 * s.std(ddof=1) / np.sqrt(5)
    assert ci.estimate == pytest.approx(s.mean())
    assert (ci.low, ci.high) == pytest.approx((s.mean() - half, s.mean() + half), abs=1e-12)
    assert np.isnan(fold_interval([0.5]).low)


def test_cluster_interval_wider_than_clip_level_on_clustered_data():
    "Ten actors, each all right or all wrong: ten observations, not 200; Clopper–Pearson on clips is far too narrow."
    hits = np.repeat([1, 0] * 5, 20).astype(float)
    clu = cluster_bootstrap_interval(hits, ACTORS, group_name="actor")
    cp = binomtest(int(hits.sum()), len(hits)).proportion_ci(0.95, method="exact")
    assert clu.high - clu.low > 2.5 * (cp.high - cp.low)
    assert (round(clu.low, 3), round(clu.high, 3)) == (0.2, 0.8)          # Binomial(10, 1/2) / 10 percentiles
    assert "actor-cluster bootstrap (10 actors" in clu.method
    # the same hits spread evenly over the actors: the cluster interval shrinks to (near) zero width
    even = np.tile(np.r_[1.0, 0.0], 100)
    assert cluster_bootstrap_interval(even, ACTORS).high - cluster_bootstrap_interval(even, ACTORS).low < 1e-12


def test_cluster_chance_test_respects_groups():
    even = np.tile(np.r_[np.ones(14), np.zeros(6)], 10)          # 70 % in every actor
    lumped = np.repeat([1.0] * 7 + [0.0] * 3, 20)                 # 70 %, all in seven actors
    assert cluster_chance_test(even, 0.5, ACTORS)["p_above"] == pytest.approx(1 / (1 + N_BOOT))
    assert cluster_chance_test(lumped, 0.5, ACTORS)["p_above"] > 0.05
    # a clip-level binomial test calls the lumped case highly significant
    assert binomtest(140, 200, 0.5, alternative="greater").pvalue < 1e-7


def test_known_paired_difference():
    a = np.array([0.60, 0.70, 0.65, 0.55, 0.72])
    c = paired_comparison(a, a - 0.02, names=("fusion", "concatenation"))
    assert c.difference == pytest.approx(0.02)
    assert (c.fold.low, c.fold.high) == pytest.approx((0.02, 0.02), abs=1e-12)
    assert c.verdict == "fusion above concatenation"
    assert c.wording == "fusion above concatenation by 0.020 [+0.020, +0.020]"
    assert paired_comparison(a - 0.02, a, names=("x", "y")).verdict == "x below y"


def test_sign_and_wilcoxon_by_hand():
    d = np.array([0.01, 0.02, 0.03, 0.04, -0.005])
    assert sign_test(d) == pytest.approx(2 * (1 + 5) / 32)        # 4 of 5 up: P(X>=4)+P(X<=1)
    p, method = wilcoxon_test(d)
    assert method == "exact" and p == pytest.approx(2 * 2 / 32)   # W- = 1: patterns with W- <= 1 are 2 of 32
    b = np.full(5, 0.5)
    c = paired_comparison(b + d, b)
    assert c.p_sign == pytest.approx(0.375) and c.p_wilcoxon == pytest.approx(0.125)
    assert c.verdict == "no difference shown" and "covers 0" in c.wording
    assert sign_test(np.zeros(4)) == 1.0


def test_different_folds_are_refused():
    a = np.array([0.6, 0.7, 0.65, 0.55, 0.72])
    tests = [np.arange(k, 20, 5) for k in range(5)]
    paired_comparison(a, a - 0.01, tests, [t.copy() for t in tests])
    with pytest.raises(ValueError, match="not run on the same folds: fold 0 of repeat 0"):
        paired_comparison(a, a - 0.01, tests, tests[::-1])


def test_paired_cluster_bootstrap_known_answer():
    hits_a = np.concatenate([np.r_[np.ones(16), np.zeros(4)]] * 6 + [np.r_[np.ones(4), np.zeros(16)]] * 4)
    hits_b = hits_a.copy()
    hits_b[np.arange(6) * 20] = 0
    folds = [np.flatnonzero(np.isin(ACTORS, [f"A{2 * k}", f"A{2 * k + 1}"])) for k in range(5)]
    c = paired_comparison([hits_a[t].mean() for t in folds], [hits_b[t].mean() for t in folds], folds, folds,
                          a_correct=hits_a, b_correct=hits_b, groups=ACTORS, group_name="actor")
    assert c.cluster.estimate == pytest.approx(0.03)
    assert (c.cluster.low, c.cluster.high) == pytest.approx((0.015, 0.045))     # Binomial(10, 0.6) / 200
    assert c.verdict == "no difference shown"                                   # the fold interval covers 0
    row = contrasts_table({"k": c}).iloc[0]
    assert row.contrast == "k" and row.cluster_ci_low == pytest.approx(0.015)


def test_repeated_cv_pools_with_corrected_interval():
    rng = np.random.default_rng(0)
    ra = [rng.normal(0.65, 0.03, 5) for _ in range(3)]
    rb = [r - rng.normal(0.01, 0.01, 5) for r in ra]
    tests = [[np.arange(k, 100, 5) for k in range(5)]] * 3
    c = paired_comparison(ra, rb, tests, tests)
    plain = fold_interval(np.concatenate(ra) - np.concatenate(rb))
    assert (c.repeats, c.folds, len(c.differences)) == (3, 5, 15)
    assert c.difference == pytest.approx(plain.estimate)
    ratio = 20 / 80
    half = plain.high - plain.estimate
    # Nadeau–Bengio: sd × sqrt(1/n + n_test/n_train) instead of sd / sqrt(n)
    assert c.fold.high - c.fold.estimate == pytest.approx(half * np.sqrt(1 / 15 + ratio) * np.sqrt(15))


def test_folds_of_unequal_sizes_one_run_and_repeats():
    "Test rows of unequal fold sizes (every real split) are read as one run's folds, or as repeats of them."
    tests = [np.arange(0, 3), np.arange(3, 7), np.arange(7, 12)]             # 3, 4 and 5 clips
    one = paired_comparison([0.8, 0.7, 0.9], [0.6, 0.6, 0.7], tests, tests)
    assert (one.repeats, one.folds) == (1, 3) and one.difference == pytest.approx(0.5 / 3)
    rep = paired_comparison([[0.8, 0.7, 0.9], [0.7, 0.8, 0.9]], [[0.6, 0.6, 0.7], [0.6, 0.7, 0.8]],
                            [tests, tests[::-1]], [tests, tests[::-1]])
    assert (rep.repeats, rep.folds) == (2, 3)


def test_compare_of_harness_results_with_unequal_folds():
    from sklearn.linear_model import LogisticRegression
    from emomotion.compare import compare
    from emomotion.evaluate import cross_validate, make_toy_study
    X, y, g = make_toy_study(n_actors=7, n_classes=3, per_cell=3)
    keep = np.ones(len(y), bool); keep[:4] = False                          # one actor with fewer clips
    X, y, g = X[keep], y[keep], g[keep]
    a = cross_validate(LogisticRegression(max_iter=500), X, y, "actors", g, 5, 0, progress=False)
    b = cross_validate(LogisticRegression(C=1e-3, max_iter=500), X, y, "actors", g, 5, 0, progress=False)
    assert len(set(np.bincount(a.fold_of))) > 1                               # the folds differ in size
    c = compare(a, b, names=("a", "b"))
    assert (c.repeats, c.folds) == (1, 5) and np.isfinite(c.difference)


def test_the_wording_names_the_interval_that_covers_zero():
    "Fold interval above 0 but the cluster interval across it: 'no difference shown', naming the cluster interval."
    a = [0.80, 0.81, 0.79, 0.80, 0.81]
    b = [0.78, 0.79, 0.77, 0.78, 0.79]                          # +0.02 in every fold: a tight fold interval
    groups = np.repeat(np.arange(10), 20)
    rng = np.random.default_rng(0)
    ca = rng.random(200) < 0.8
    cb = ca.copy()
    cb[groups < 2] = ~cb[groups < 2]                           # the clusters disagree wildly
    c = paired_comparison(a, b, a_correct=ca, b_correct=cb, groups=groups)
    assert c.fold.low > 0 and c.cluster.low <= 0 <= c.cluster.high and c.verdict == "no difference shown"
    assert "over folds, but the" in c.wording and "covers 0" in c.wording
