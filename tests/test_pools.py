"""The chapters' cross-validations share one pool of fold workers per protocol or input (`evaluate.cross_validate_many`):
`baselines.run_baselines` (nbs/02_baselines.ipynb) gives what one `cross_validate` per model and protocol gave,
in one pool per protocol, the costliest search first."""
import numpy as np
import pandas as pd

import emomotion.evaluate as ev
from emomotion.baselines import BASELINES, make_baseline, run_baselines
from emomotion.evaluate import cross_validate, make_toy_study
from emomotion.profiles import profile_settings


def test_run_baselines_runs_one_pool_per_protocol_costliest_first(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOMOTION_CACHE", str(tmp_path / "cache"))     # an empty fit cache: every fold is fitted
    X, y, actors = make_toy_study(n_actors=8, n_classes=3, per_cell=3, n_features=5, seed=1)
    X = X.to_numpy()
    pools = []

    class RecordingParallel(ev.Parallel):     # every pool the harness opens: the model of each of its jobs
        def __call__(self, iterable):
            jobs = list(iterable)
            pools.append([type(args[0].estimator[-1]).__name__ for _, args, _ in jobs])
            return super().__call__(jobs)

    monkeypatch.setattr(ev, "Parallel", RecordingParallel)
    results = run_baselines(X, y, actors, "actor", "toy", "quick", seed=0, n_jobs=1, progress=False)
    n_splits = profile_settings("quick", "baselines")["n_splits"]     # the quick profile's outer folds
    # one pool per protocol (the grouped searches take the training groups, the stratified ones do not), not one
    # per model × protocol; in each, gradient boosting's folds first and the SVM's last
    models = ["HistGradientBoostingClassifier", "RandomForestClassifier", "SVC"]
    assert pools == [[m for m in models for _ in range(n_splits)]] * 2
    pools.clear()
    assert list(results) == [(m, p) for p in ("stratified", "actors") for m in BASELINES]
    for (name, protocol), res in results.items():
        grouped = protocol != "stratified"
        one = cross_validate(make_baseline(name, "quick", 0, grouped=grouped), X, y, protocol,
                             actors, n_splits, 0, n_jobs=1, progress=False, fit_groups=grouped)
        pd.testing.assert_frame_equal(res.predictions(), one.predictions())    # folds, labels, groups as before
        pd.testing.assert_frame_equal(res.folds.drop(columns="fit_time_s"), one.folds.drop(columns="fit_time_s"))
        assert res.elapsed_s > 0
    # stratified runs keep their actors too (unused by the splitter), so their intervals resample whole actors
    assert results["SVM", "stratified"].groups is not None and results["SVM", "actors"].groups is not None
    # a second run reads the forest's folds back from the fit cache (chapters 10 and 11 rely on it): its pools hold
    # only the folds still to fit, and its results are the first run's
    pools.clear()
    again = run_baselines(X, y, actors, "actor", "toy", "quick", seed=0, n_jobs=1, progress=False)
    assert pools == [[m for m in models if m != "RandomForestClassifier" for _ in range(n_splits)]] * 2
    for key, res in results.items():
        pd.testing.assert_frame_equal(again[key].predictions(), res.predictions())
