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
