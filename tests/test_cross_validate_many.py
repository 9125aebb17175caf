"""`evaluate.cross_validate_many`: several runs (model × protocol) in ONE pool of fold workers, each run's result
equal to its own `cross_validate`."""
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import emomotion.evaluate as ev
from emomotion.evaluate import cross_validate, cross_validate_many, make_toy_study


@pytest.fixture
def toy():
    X, y, actors = make_toy_study(n_actors=10, n_classes=3, per_cell=4, n_features=6, seed=2)
    return X.to_numpy(), y, actors


MODELS = dict(lr=LogisticRegression(max_iter=300), rf=RandomForestClassifier(n_estimators=15, random_state=0, n_jobs=1))


def test_many_runs_equal_separate_cross_validations_in_one_pool(toy, monkeypatch):
    X, y, actors = toy
    runs = {(m, p): (MODELS[m], p) for m in MODELS for p in ("stratified", "actors")}
    pools = []

    class CountingParallel(ev.Parallel):      # every Parallel the harness makes, and how many jobs it ran
        def __call__(self, iterable):
            jobs = list(iterable)
            pools.append(len(jobs))
            return super().__call__(jobs)

    monkeypatch.setattr(ev, "Parallel", CountingParallel)
    many = cross_validate_many(runs, X, y, actors, n_splits=4, seed=3, n_jobs=2, progress=False,
                               return_estimator={("rf", "actors")})
    assert pools == [16]                      # 2 models × 2 protocols × 4 folds: one pool
    pools.clear()
    assert list(many) == list(runs)
    for (m, p), r in many.items():
        one = cross_validate(MODELS[m], X, y, p, actors, n_splits=4, seed=3, n_jobs=2, progress=False)
        assert r.protocol == p and r.n_splits == 4
        pd.testing.assert_frame_equal(r.predictions(), one.predictions())      # folds, labels, probabilities
        pd.testing.assert_frame_equal(r.folds.drop(columns="fit_time_s"), one.folds.drop(columns="fit_time_s"))
        np.testing.assert_array_equal(r.test_index, one.test_index)
        assert (r.estimators is not None) == ((m, p) == ("rf", "actors"))
        assert r.elapsed_s > 0
    assert pools == [4] * 4                   # cross_validate: one pool per run
    assert len(many["rf", "actors"].estimators) == 4


def test_list_of_runs_and_return_estimator_true(toy):
    X, y, actors = toy
    many = cross_validate_many([(MODELS["lr"], "stratified"), (MODELS["lr"], "groups")], X, y, actors,
                               n_splits=3, n_jobs=1, progress=False, return_estimator=True)
    assert list(many) == [0, 1]
    assert len(many[0].estimators) == 3 and len(many[1].estimators) == len(set(actors))


def test_bad_runs_say_what_is_wrong(toy):
    X, y, actors = toy
    runs = {"a": (MODELS["lr"], "actors")}
    with pytest.raises(ValueError, match="'svm'"):
        cross_validate_many(runs, X, y, actors, return_estimator={"svm"}, progress=False)
    with pytest.raises(ValueError, match="y has"):
        cross_validate_many(runs, X, y[:-1], actors, progress=False)


class _SeesGroups(LogisticRegression):
    "A classifier that remembers whether `fit` was given groups (and predicts the same either way)."
    def fit(self, X, y, groups=None):
        self.saw_groups_ = groups is not None
        return super().fit(X, y)


def test_fit_groups_per_run_reaches_only_the_runs_it_names(toy):
    X, y, actors = toy
    runs = {"strat": (_SeesGroups(max_iter=300), "stratified"), "grouped": (_SeesGroups(max_iter=300), "actors")}
    many = cross_validate_many(runs, X, y, actors, n_splits=3, n_jobs=2, progress=False,
                               fit_groups={"grouped"}, return_estimator=True)
    assert [e.saw_groups_ for e in many["strat"].estimators] == [False] * 3
    assert [e.saw_groups_ for e in many["grouped"].estimators] == [True] * 3
    for key, fg in (("strat", False), ("grouped", True)):     # each equal to its own cross_validate
        one = cross_validate(runs[key][0], X, y, runs[key][1], actors, n_splits=3, n_jobs=1, progress=False,
                             fit_groups=fg)
        pd.testing.assert_frame_equal(many[key].predictions(), one.predictions())
    with pytest.raises(ValueError, match="fit_groups names runs that do not exist"):
        cross_validate_many(runs, X, y, actors, n_splits=3, progress=False, fit_groups={"other"})
    with pytest.raises(ValueError, match="needs `groups`"):
        cross_validate_many(runs, X, y, None, n_splits=3, progress=False, fit_groups={"strat"})
