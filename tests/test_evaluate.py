"""Tests of the one evaluation harness (emomotion/evaluate.py): protocols, no leakage, chance tests, results.csv."""
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from scipy.stats import beta, binom

from emomotion.evaluate import (FAMILIES, PROTOCOL_NAMES, PROTOCOL_TEXT, PROTOCOLS, CVResult, accuracy_ci,
                                append_results, binomial_test_vs_chance, chance_level, chance_test,
                                count_correct, cross_validate, make_splitter, make_toy_study, permutation_test,
                                quiet_splits, split_indices, stratified_splitter, summary_row, write_tables)
from emomotion.compare import compare, write_contrasts
from emomotion.stats import N_BOOT
from emomotion.published import PUBLISHED


class SpyTransformer(TransformerMixin, BaseEstimator):
    """Identity transformer that records the row ids (column 0 of X) it was fitted on.
    `log` is shared by every clone in this process, so fits inside inner searches are recorded too."""
    log: list = []

    def fit(self, X, y=None):
        self.seen_ids_ = np.asarray(X)[:, 0].astype(int).copy()
        SpyTransformer.log.append(self.seen_ids_)
        return self

    def transform(self, X):
        return np.asarray(X)[:, 1:]


@pytest.fixture
def toy():
    X, y, actors = make_toy_study(n_actors=10, n_classes=3, per_cell=5, n_features=6, seed=1)
    Xid = np.column_stack([np.arange(len(y)), X.to_numpy()])  # column 0 = row id
    return Xid, y, actors


@pytest.mark.parametrize("protocol", ["stratified", "actors", "groups"])
def test_fitted_steps_never_see_test_rows(toy, protocol):
    X, y, actors = toy
    SpyTransformer.log = []
    model = make_pipeline(SpyTransformer(), LogisticRegression(max_iter=500))
    res = cross_validate(model, X, y, protocol, groups=actors, n_splits=5, seed=0, progress=False,
                         return_estimator=True, n_jobs=1)     # the spy's log lives in this process
    folds = split_indices(protocol, y, actors if protocol != "stratified" else None, 5, 0)
    assert len(res.estimators) == len(folds) == res.n_splits
    for (train, test), est in zip(folds, res.estimators):
        seen = est.steps[0][1].seen_ids_
        assert set(seen) == set(train)              # fitted on exactly the training rows ...
        assert not set(seen) & set(test)            # ... and on no test row
    assert len(SpyTransformer.log) == len(folds)
    # every row tested exactly once, and the pooled arrays line up with it
    assert sorted(res.test_index) == list(range(len(y)))
    np.testing.assert_array_equal(res.y_true, y[res.test_index])


def test_inner_search_sees_only_the_outer_training_rows(toy):
    "A grid search inside the model tunes on inner splits of the outer training fold, never on its test rows."
    X, y, actors = toy
    SpyTransformer.log = []
    inner = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=0)
    search = GridSearchCV(make_pipeline(SpyTransformer(), LogisticRegression(max_iter=500)),
                          {"logisticregression__C": [0.1, 1.0]}, cv=inner)
    res = cross_validate(search, X, y, "actors", groups=actors, n_splits=5, seed=0, progress=False, fit_groups=True,
                         n_jobs=1)                            # the spy's log lives in this process
    folds = split_indices("actors", y, actors, 5, 0)
    per_fold = 2 * 3 + 1                           # candidates × inner folds + refit
    assert len(SpyTransformer.log) == per_fold * len(folds)
    for k, (train, test) in enumerate(folds):
        calls = SpyTransformer.log[k * per_fold:(k + 1) * per_fold]
        for ids in calls:
            assert set(ids) <= set(train) and not set(ids) & set(test)
        # inner splits are grouped too: no actor on both sides of an inner split
        for ids in calls[:-1]:
            held_out = np.setdiff1d(train, ids)
            assert len(held_out) and not set(actors[ids]) & set(actors[held_out])
        assert set(calls[-1]) == set(train)        # the refit uses the whole outer training fold
    assert res.folds["best_params"].notna().all()


def test_actors_protocol_keeps_actors_apart(toy):
    X, y, actors = toy
    for seed in range(3):
        folds = split_indices("actors", y, actors, n_splits=5, seed=seed)
        assert len(folds) == 5
        for train, test in folds:
            assert not set(actors[train]) & set(actors[test])
        assert sorted(np.concatenate([te for _, te in folds])) == list(range(len(y)))
    res = cross_validate(LogisticRegression(max_iter=500), X[:, 1:], y, "actors", groups=actors, seed=0,
                         progress=False)
    for k in range(res.n_splits):
        tested = set(res.groups[res.fold_of == k])
        others = set(res.groups[res.fold_of != k])
        assert not tested & others                  # each actor is tested in exactly one fold


def test_actors_protocol_needs_groups_and_enough_of_them(toy):
    X, y, actors = toy
    with pytest.raises(ValueError, match="needs `groups`"):
        cross_validate(LogisticRegression(), X, y, "actors", progress=False)
    with pytest.raises(ValueError, match="at least 12 groups"):
        cross_validate(LogisticRegression(), X, y, "actors", groups=actors, n_splits=12, progress=False)
    with pytest.raises(ValueError, match="unknown protocol"):
        cross_validate(LogisticRegression(), X, y, "random80/20", progress=False)
    with pytest.raises(ValueError, match="rows"):
        cross_validate(LogisticRegression(), X[:-1], y, progress=False)


def test_leave_one_group_out(toy):
    X, y, actors = toy
    res = cross_validate(LogisticRegression(max_iter=500), X[:, 1:], y, "groups", groups=actors, progress=False)
    assert res.n_splits == len(set(actors)) == len(res.folds)
    assert list(res.folds.test_groups) == sorted(set(actors))
    for k, g in enumerate(res.folds.test_groups):
        np.testing.assert_array_equal(np.unique(res.groups[res.fold_of == k]), [g])
    assert res.folds.n_test.sum() == len(y)


def test_leave_one_out_and_missing_class_in_training():
    "LOO on a set where one class has a single clip: that fold's model never saw the class; proba stays aligned."
    rng = np.random.default_rng(0)
    y = np.array(["a"] * 8 + ["b"] * 8 + ["c"])
    X = rng.normal(size=(len(y), 3)) + (y == "b")[:, None] * 3
    res = cross_validate(LogisticRegression(max_iter=500), X, y, "loo", progress=False)
    assert res.n_splits == len(y) and (res.folds.n_test == 1).all()
    assert res.proba.shape == (len(y), 3)
    row_c = np.flatnonzero(res.y_true == "c")[0]
    assert res.proba[row_c, 2] == 0 and res.y_pred[row_c] != "c"   # class c unknown to that fold's model
    others = np.delete(np.arange(len(y)), row_c)
    np.testing.assert_allclose(res.proba[others].sum(1), 1)
    s = res.summary()
    assert math.isnan(s["accuracy_std"]) and s["accuracy"] == s["pooled_accuracy"]


class RankCheckingClassifier(ClassifierMixin, BaseEstimator):
    "Asserts it gets N-first arrays of the given rank; predicts the label stored in X[i].flat[0]."

    def __init__(self, rank=3):
        self.rank = rank

    def fit(self, X, y):
        assert X.ndim == self.rank
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        assert X.ndim == self.rank
        code = X.reshape(len(X), -1)[:, 0].astype(int)
        return np.eye(len(self.classes_))[np.searchsorted(self.classes_, code)]

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


@pytest.mark.parametrize("shape", [(7, 4), (3, 7, 5)])
def test_n_first_arrays_of_rank_3_and_4_pass_through(shape):
    y = np.repeat(["Angry", "Happy", "Sad"], 10)
    codes = np.unique(y, return_inverse=True)[1]
    X = np.random.default_rng(0).normal(size=(len(y), *shape)).astype(np.float32)
    X.reshape(len(y), -1)[:, 0] = codes          # the row's label code, read back by the classifier
    res = cross_validate(RankCheckingClassifier(rank=X.ndim), X, y, "stratified", n_splits=5, progress=False)
    assert res.summary()["accuracy"] == 1.0      # rows were indexed correctly along the first axis
    np.testing.assert_array_equal(res.y_pred, res.y_true)


def test_labels_are_mapped_back_and_metrics_agree():
    X, y, actors = make_toy_study(n_actors=6, n_classes=3, per_cell=4, seed=2)
    res = cross_validate(LogisticRegression(max_iter=500), X, pd.Series(y), "stratified", n_splits=3, progress=False)
    assert set(res.y_pred) <= set(y) and list(res.classes) == sorted(set(y))
    s = res.summary()
    assert s["pooled_accuracy"] == pytest.approx(np.mean(res.y_true == res.y_pred))
    assert s["accuracy"] == pytest.approx(res.folds.accuracy.mean())
    cm = res.confusion()
    assert cm.to_numpy().sum() == len(y) and np.trace(cm.to_numpy()) == s["n_correct"]
    np.testing.assert_allclose(res.confusion("true").sum(axis=1), 1)
    rep = res.report()
    assert list(rep.index) == list(res.classes) and rep.support.sum() == len(y)


def test_binomial_test_against_hand_computed_tails():
    def upper(k, n, p):
        return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1))

    def lower(k, n, p):
        return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(0, k + 1))

    assert binomial_test_vs_chance(2, 54, 1 / 6, "less") == pytest.approx(lower(2, 54, 1 / 6), rel=1e-9)
    assert binomial_test_vs_chance(2, 54, 1 / 6, "less") == pytest.approx(0.00366, abs=5e-5)  # seed-review's P≈0.004
    assert binomial_test_vs_chance(30, 100, 0.2) == pytest.approx(upper(30, 100, 0.2), rel=1e-9)
    assert binomial_test_vs_chance(9, 54, 1 / 6) > 0.4          # exactly at chance: not significant
    with pytest.raises(ValueError):
        binomial_test_vs_chance(60, 54, 1 / 6)
    with pytest.raises(ValueError):
        binomial_test_vs_chance(5, 54, 0)


def test_chance_level():
    ch = chance_level(["N", "N", "N", "A", "H", "S"])
    assert ch.majority == 0.5 and ch.uniform == 0.25 and ch.majority_class == "N"
    with pytest.raises(ValueError, match="missing"):
        chance_level(np.array(["a", None, "b"], dtype=object))


def test_below_chance_is_flagged():
    "A model that is systematically wrong gets p_below_chance small and p_above_chance ~1."
    y = np.repeat(["a", "b", "c"], 20)
    X = np.unique(y, return_inverse=True)[1][:, None].astype(float)

    class Wrong(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return self.classes_[(X[:, 0].astype(int) + 1) % len(self.classes_)]

    s = cross_validate(Wrong(), X, y, "stratified", n_splits=4, progress=False).summary()
    # the chance test is the cluster bootstrap (clips as the unit here: no groups): its smallest p is 1/(1 + N_BOOT)
    assert s["pooled_accuracy"] == 0 and s["p_below_chance"] == pytest.approx(1 / (1 + N_BOOT))
    assert s["p_above_chance"] == 1 and s["cluster"] == "clip"


class ByActor(ClassifierMixin, BaseEstimator):
    "Right on the clips whose column 1 is 1 (its 'good' actors), wrong elsewhere; column 0 is the label code."
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        X = np.asarray(X)
        code = X[:, 0].astype(int)
        return self.classes_[np.where(X[:, 1] == 1, code, (code + 1) % len(self.classes_))]


def _by_actor_study(good):
    "10 actors × 3 classes × 4 clips; the model is right on every clip of the actors in `good`, wrong on the rest."
    actors = np.repeat([f"A{k}" for k in range(10)], 12)
    y = np.tile(np.repeat(["a", "b", "c"], 4), 10)
    code = np.unique(y, return_inverse=True)[1]
    flag = np.isin(actors, [f"A{k}" for k in good]).astype(float)
    return np.c_[code, flag], y, actors


def test_chance_test_and_interval_respect_actors():
    "Half the actors all right, half all wrong: 0.5 against chance 1/3 is not shown once actors are the unit."
    X, y, actors = _by_actor_study(range(5))
    r = cross_validate(ByActor(), X, y, "actors", groups=actors, n_splits=5, progress=False)
    s = r.summary()
    assert s["pooled_accuracy"] == 0.5 and s["cluster"] == "actor" and s["n_clusters"] == 10
    # clips as independent trials: "highly significant"; actors as the unit: not shown
    assert binomial_test_vs_chance(60, 120, 1 / 3) < 1e-3
    assert s["p_above_chance"] > 0.05
    lo, hi = accuracy_ci(60, 120)
    assert s["pooled_ci_high"] - s["pooled_ci_low"] > 2 * (hi - lo)     # wider than Clopper–Pearson on clips
    assert s["accuracy_ci_low"] <= s["accuracy"] <= s["accuracy_ci_high"]
    # stratified folds, groups given: still clustered on actors
    st = cross_validate(ByActor(), X, y, "stratified", groups=actors, n_splits=5, progress=False)
    assert st.summary()["cluster"] == "group" and st.summary()["n_clusters"] == 10    # unnamed groups
    st.group_name = "actor"
    assert st.summary()["cluster"] == "actor" and st.summary()["p_above_chance"] > 0.05


def test_compare_paired_on_the_same_folds(tmp_path):
    X, y, actors = _by_actor_study(range(10))
    good = cross_validate(ByActor(), X, y, "actors", groups=actors, n_splits=5, progress=False)
    X3 = X.copy()
    X3[::4, 1] = 0                                                # wrong on every 4th clip: 3 of each actor's 12
    half = cross_validate(ByActor(), X3, y, "actors", groups=actors, n_splits=5, progress=False)
    c = compare(good, half, names=("all", "half"))
    assert c.difference == pytest.approx(0.25) and c.cluster.estimate == pytest.approx(0.25)
    assert (c.cluster.low, c.cluster.high) == pytest.approx((0.25, 0.25))
    assert c.verdict == "all above half" and c.wording.startswith("all above half by 0.250")
    same = compare(good, good)
    assert same.difference == 0 and same.verdict == "no difference shown"
    with pytest.raises(ValueError, match="not run on the same folds"):
        compare(good, cross_validate(ByActor(), X, y, "actors", groups=actors, n_splits=5, seed=3, progress=False))
    with pytest.raises(ValueError, match="are not the same folds"):
        compare(good, cross_validate(ByActor(), X, y, "stratified", n_splits=5, progress=False))
    rep = compare([good, good], [half, half])                     # repeated CV: repeats pooled
    assert (rep.repeats, rep.folds) == (2, 5) and "Nadeau–Bengio" in rep.fold.method
    table = write_contrasts({"all vs half": c}, tmp_path, "toy")
    assert table.verdict.tolist() == ["all above half"]
    assert "actor-cluster bootstrap" in (tmp_path / "tables" / "toy_contrasts.md").read_text()


def test_permutation_test_detects_signal_and_its_absence():
    X, y, actors = make_toy_study(n_actors=6, n_classes=3, per_cell=4, n_features=5, personal=0.3, seed=3)
    lr = NearestCentroid()
    sig = permutation_test(lr, X, y, "actors", actors, n_splits=3, n_permutations=19, progress=False)
    assert sig["p_above"] == pytest.approx(0.05) and sig["null_mean"] < sig["observed"]
    noise = np.random.default_rng(0).normal(size=X.shape)
    nul = permutation_test(lr, noise, y, "actors", actors, n_splits=3, n_permutations=19, progress=False)
    assert nul["p_above"] > 0.05


def test_results_csv_replaces_not_duplicates(tmp_path):
    X, y, actors = make_toy_study(n_actors=6, n_classes=3, per_cell=4, seed=2)
    lr = LogisticRegression(max_iter=500)
    r1 = cross_validate(lr, X, y, "stratified", n_splits=3, seed=0, progress=False)
    r2 = cross_validate(lr, X, y, "actors", groups=actors, n_splits=3, seed=0, progress=False)
    append_results(r1, tmp_path, "toy", "LR", family="svm")
    append_results(r2, tmp_path, "toy", "LR", family="svm")
    append_results(r1, tmp_path, "other", "LR", family="svm")
    append_results(r1, tmp_path, "toy", "LR", notes="second run", family="svm")
    table = pd.read_csv(tmp_path / "tables" / "results.csv", keep_default_na=False, na_values=[""])
    assert len(table) == 3
    assert not table.duplicated(["dataset", "model", "protocol"]).any()
    row = table[(table.dataset == "toy") & (table.protocol == "stratified")].iloc[0]
    assert row.notes == "second run"
    assert (table.family == "svm").all()
    for col in ["dataset", "model", "family", "protocol", "folds", "accuracy", "accuracy_std", "macro_f1", "macro_f1_std",
                "chance", "n_clips"]:
        assert col in table.columns
    assert row.folds == 3 and row.n_clips == len(y)
    assert row.accuracy == pytest.approx(summary_row(r1, "toy", "LR", family="svm")["accuracy"])


def test_results_rows_name_a_known_family(tmp_path):
    "A row without a family, or with one outside `FAMILIES`, is refused before anything is written."
    X, y, _ = make_toy_study(n_actors=6, n_classes=3, per_cell=4, seed=2)
    r = cross_validate(LogisticRegression(max_iter=500), X, y, "stratified", n_splits=3, progress=False)
    with pytest.raises(TypeError, match="family"):
        append_results(r, tmp_path, "toy", "LR")
    for bad in ("forest", "", None, "SVM"):
        with pytest.raises(ValueError, match="family .* is not one of"):
            append_results(r, tmp_path, "toy", "LR", family=bad)
    assert not (tmp_path / "tables" / "results.csv").exists()
    assert set(FAMILIES) >= set(PUBLISHED.index) | {"ablation"}   # every published family, MoEmo's included
    assert "moemo" in FAMILIES
    for fam in FAMILIES:
        assert summary_row(r, "toy", "LR", family=fam)["family"] == fam


def test_results_csv_is_written_atomically(tmp_path, monkeypatch):
    "A failure while writing leaves the previous results.csv whole and no temporary file behind."
    X, y, _ = make_toy_study(n_actors=6, n_classes=3, per_cell=4, seed=2)
    r = cross_validate(LogisticRegression(max_iter=500), X, y, "stratified", n_splits=3, progress=False)
    append_results(r, tmp_path, "toy", "LR", family="svm")
    path = tmp_path / "tables" / "results.csv"
    before = path.read_bytes()

    def broken(self, target, *a, **k):
        Path(target).write_text("dataset,mo")          # half a file, then the disk fails
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        append_results(r, tmp_path, "other", "LR", family="svm")
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [".results.csv.lock", "results.csv"]


def test_stratified_splitter_is_the_one_definition():
    "Outer protocols and inner searches use the same splitter; `quiet_splits` silences only the small-class warning."
    y = np.array(list("aaaaabbbbbc"))
    g = np.arange(len(y)) % 4
    assert [te.tolist() for _, te in make_splitter("stratified", 3, seed=4).split(y, y)] == \
        [te.tolist() for _, te in stratified_splitter(3, seed=4).split(y, y)]
    assert [te.tolist() for _, te in make_splitter("actors", 3, seed=4, groups=g).split(y, y, g)] == \
        [te.tolist() for _, te in stratified_splitter(3, grouped=True, seed=4).split(y, y, g)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with quiet_splits():
            list(stratified_splitter(3).split(y, y))            # 'c' has 1 clip < 3 folds: no warning here
        with pytest.raises(UserWarning, match="least populated"):
            list(stratified_splitter(3).split(y, y))


def test_write_tables(tmp_path):
    X, y, actors = make_toy_study(n_actors=6, n_classes=3, per_cell=4, seed=2)
    res = cross_validate(LogisticRegression(max_iter=500), X, y, "actors", groups=actors, n_splits=3, progress=False)
    paths = write_tables(res, tmp_path, "lr_actors", caption="toy")
    folds = pd.read_csv(paths["folds"])
    assert len(folds) == 3 and "macro_f1" in folds
    md = paths["markdown"].read_text()
    assert "protocol `actors`" in md and "3 folds" in md and "seed 0" in md


def test_seeded_and_parallel_runs_agree(toy):
    X, y, actors = toy
    lr = NearestCentroid()
    a = cross_validate(lr, X[:, 1:], y, "actors", groups=actors, seed=4, progress=False)
    b = cross_validate(lr, X[:, 1:], y, "actors", groups=actors, seed=4, progress=False, n_jobs=2)
    c = cross_validate(lr, X[:, 1:], y, "actors", groups=actors, seed=5, progress=False)
    np.testing.assert_array_equal(a.test_index, b.test_index)
    np.testing.assert_array_equal(a.y_pred, b.y_pred)
    assert not np.array_equal(a.test_index, c.test_index)
    assert isinstance(a, CVResult)


def test_clopper_pearson_matches_beta_quantiles():
    lo, hi = accuracy_ci(2, 54)
    assert np.isclose(lo, beta.ppf(0.025, 2, 53)) and np.isclose(hi, beta.ppf(0.975, 3, 52))
    wl, wh = accuracy_ci(2, 54, method="wilson")
    assert lo < wl < wh < hi                       # Wilson is shorter than Clopper–Pearson here
    with pytest.raises(ValueError, match="n_correct <= n"):
        accuracy_ci(5, 4)
    with pytest.raises(ValueError, match="method"):
        accuracy_ci(2, 4, method="normal")


def test_study_result_is_far_below_chance():
    t = chance_test(2, 54, 1 / 6)
    assert np.isclose(t["p_below"], binom.cdf(2, 54, 1 / 6)) and t["p_below"] < 0.005
    assert t["p_above"] > 0.99 and t["expected"] == 9
    assert t["p_below"] == binomial_test_vs_chance(2, 54, 1 / 6, "less")


@pytest.mark.parametrize("protocol", ["loo", "groups", "actors", "stratified"])
def test_count_correct_is_the_harness_fast_path(protocol):
    """count_correct uses the harness's folds and fresh clones: its hits equal cross_validate's, on numpy or
    pandas X, with string labels."""
    X, y, g = make_toy_study(n_actors=6, n_classes=3, per_cell=2, n_features=10, seed=4)
    r = cross_validate(NearestCentroid(), X, y, protocol, groups=g, n_splits=3, seed=1, progress=False)
    hits = int((r.y_true == r.y_pred).sum())
    assert count_correct(NearestCentroid(), X, y, protocol, g, n_splits=3, seed=1) == hits
    assert count_correct(NearestCentroid(), X.to_numpy(), y, protocol, g, n_splits=3, seed=1) == hits



def test_mlp_inner_folds_are_the_harness_splitter_and_quiet():
    "The MLP's inner search splits as `stratified_splitter` does, grouped when groups are given, without the warning."
    from emomotion.mlp import OptunaMLPClassifier
    y = np.array(list("aaaaabbbbbc"))
    g = np.arange(len(y)) % 4
    X = np.zeros((len(y), 1))
    est = OptunaMLPClassifier(inner_splits=3, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                          # 'c' has 1 clip < 3 inner folds
        plain, grouped = est.inner_splits_of(X, y), est.inner_splits_of(X, y, g)
    with quiet_splits():
        assert [te.tolist() for _, te in plain] == [te.tolist() for _, te in stratified_splitter(3, seed=5).split(X, y)]
        assert [te.tolist() for _, te in grouped] == \
            [te.tolist() for _, te in stratified_splitter(3, grouped=True, seed=5).split(X, y, g)]


def test_the_protocol_vocabulary_lives_beside_the_splitters():
    "Every protocol has a short name and a description, in `PROTOCOLS` order; the report and 06 use these."
    from emomotion import emokine, report
    from emomotion.evaluate import ADAPTATION_PROTOCOLS
    every = PROTOCOLS + tuple(ADAPTATION_PROTOCOLS)              # the splitters, then the adaptation protocols
    assert tuple(PROTOCOL_NAMES) == every and tuple(PROTOCOL_TEXT) == every
    assert all(PROTOCOL_NAMES.values()) and all(PROTOCOL_TEXT.values())
    assert emokine.PROTOCOL_NAMES is PROTOCOL_NAMES and report.PROTOCOL_TEXT is PROTOCOL_TEXT
    assert not hasattr(report, "PROTOCOL_ORDER")                    # one order, `PROTOCOLS`
    y = np.repeat(["a", "b"], 6)
    for p in PROTOCOLS:
        assert split_indices(p, y, groups=np.tile([0, 1, 2, 3, 4, 5], 2), n_splits=2)
