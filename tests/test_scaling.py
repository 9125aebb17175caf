"""Scaling out (issue 19): folds use every core by default, one BLAS/torch thread each; `--jobs`, `--backend
dask --scheduler` and `--storage` reach the notebooks; the folds of the quick baselines run on a real Dask
`LocalCluster` and give the tables of the local run; two worker processes fill one Optuna study on a real
PostgreSQL server (started by `pgserver`) with no trial lost or duplicated."""
import json
import os

import numpy as np
import pytest
from sqlalchemy.engine import make_url
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier

from emomotion.evaluate import cross_validate, make_toy_study, resolve_jobs
from emomotion.study import UsageError, check_storage, compare_tables, run_study, write_notebook
from test_optuna_storage import N_TRIALS, _run_workers, assert_one_shared_study


class WhereAmI(ClassifierMixin, BaseEstimator):
    "A prior classifier that remembers the process and the BLAS/torch threads it was fitted with."

    def fit(self, X, y):
        import torch
        from threadpoolctl import threadpool_info
        self.pid_ = os.getpid()
        self.blas_threads_ = max((p["num_threads"] for p in threadpool_info()), default=1)
        self.torch_threads_ = torch.get_num_threads()
        self.model_ = DummyClassifier(strategy="prior").fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)


def _fits(env=None, **kw):
    X, y, actors = make_toy_study(n_actors=6, per_cell=3, n_features=4, seed=0)
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        res = cross_validate(WhereAmI(), X, y, "actors", groups=actors, n_splits=3, progress=False,
                             return_estimator=True, **kw)
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return res.estimators


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores")
def test_folds_use_every_core_by_default_with_one_thread_each(monkeypatch):
    monkeypatch.delenv("EMOMOTION_JOBS", raising=False)
    monkeypatch.delenv("EMOMOTION_BACKEND", raising=False)
    est = _fits()
    assert os.getpid() not in {e.pid_ for e in est}, "folds ran in this process: not in parallel"
    assert {e.blas_threads_ for e in est} == {1} and {e.torch_threads_ for e in est} == {1}


def test_emomotion_jobs_one_runs_the_folds_here_with_one_thread_then_restores_the_callers():
    """`--jobs 1`: the folds run in this process, with one BLAS/torch thread each like folds run side by side (so the
    numbers never depend on --jobs), and the caller's torch thread count is given back afterwards. The count is set
    here first: the result must not depend on what an earlier test left."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        est = _fits({"EMOMOTION_JOBS": "1"})
        assert {e.pid_ for e in est} == {os.getpid()}
        assert {e.torch_threads_ for e in est} == {1}
        assert torch.get_num_threads() == 2                                # the caller's threads, back
    finally:
        torch.set_num_threads(before)


def test_resolve_jobs_reads_the_argument_then_the_environment_then_the_default(monkeypatch):
    monkeypatch.delenv("EMOMOTION_JOBS", raising=False)
    assert (resolve_jobs(), resolve_jobs(default=1), resolve_jobs(3)) == (os.cpu_count(), 1, 3)
    monkeypatch.setenv("EMOMOTION_JOBS", "5")
    assert (resolve_jobs(), resolve_jobs(default=1), resolve_jobs(2)) == (5, 5, 2)
    for bad in ("0", "x", "1.5"):
        monkeypatch.setenv("EMOMOTION_JOBS", bad)
        with pytest.raises(ValueError, match="EMOMOTION_JOBS"):
            resolve_jobs()


# --- the folds of the quick baselines on a Dask cluster --------------------------------------------------------

@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def _ran_folds(cluster) -> int:
    "How many transitions the cluster's scheduler has made, once a fold (`evaluate._run_fold`) has run there."
    assert any("_run_fold" in name for name in cluster.scheduler.task_prefixes), "no fold ran on the cluster"
    return cluster.scheduler.transition_counter


def test_study_sends_the_folds_to_the_dask_scheduler(tmp_path, cluster):
    nbs = tmp_path / "nbs"
    write_notebook(nbs / "01_cv.ipynb", [
        "from sklearn.linear_model import LogisticRegression\n"
        "from emomotion.evaluate import cross_validate, make_toy_study\n"
        "X, y, actors = make_toy_study(seed=seed)\n"
        "r = cross_validate(LogisticRegression(max_iter=500), X, y, 'actors', groups=actors, n_splits=3, seed=seed)\n"
        "import pandas as pd, pathlib\n"
        "pd.DataFrame({'pred': r.y_pred}).to_csv(pathlib.Path(out_dir, 'tables', 'pred.csv'), index=False)"],
        parameters='dataset = "synthetic"\nprofile = "quick"\nseed = 0\nout_dir = "x"')
    kw = dict(profile="quick", nbs_dir=nbs, load_data=False, progress=False, log=lambda *a: None)
    before = cluster.scheduler.transition_counter
    prov = run_study(out=tmp_path / "dask", backend="dask", scheduler=cluster.scheduler_address, **kw)
    assert (prov["parameters"]["backend"], prov["parameters"]["scheduler"]) == ("dask", cluster.scheduler_address)
    assert f"--backend dask --scheduler {cluster.scheduler_address}" in prov["command"]
    assert _ran_folds(cluster) > before
    run_study(out=tmp_path / "local", jobs=1, **kw)
    assert compare_tables(tmp_path / "local", tmp_path / "dask", ["pred.csv"]) == {}


def test_quick_baselines_on_a_dask_cluster_give_the_local_tables(tmp_path, cluster, monkeypatch):
    "The quick study's baselines (`run_baselines` on the quick data, as 02 runs them), locally and on the cluster."
    from emomotion.baselines import run_baselines
    from emomotion.datasets import load_dataset
    from emomotion.features import feature_table
    clips = load_dataset("synthetic", profile="quick", seed=0, progress=False)
    X, meta = feature_table(clips, progress=False)
    args = (X, meta["label"].to_numpy(), meta[clips.group_col].to_numpy(), clips.group_col, "synthetic", "quick", 0)
    monkeypatch.setenv("EMOMOTION_JOBS", "2")
    run_baselines(*args, out_dir=tmp_path / "local", progress=False)
    before = cluster.scheduler.transition_counter
    monkeypatch.setenv("EMOMOTION_BACKEND", "dask")
    monkeypatch.setenv("EMOMOTION_SCHEDULER", cluster.scheduler_address)
    run_baselines(*args, out_dir=tmp_path / "dask", progress=False)
    assert _ran_folds(cluster) > before
    tables = sorted(p.name for p in (tmp_path / "local" / "tables").glob("*.csv"))
    assert "results.csv" in tables and len(tables) > 10
    assert compare_tables(tmp_path / "local", tmp_path / "dask", tables) == {}


# --- one Optuna study on a real PostgreSQL server ---------------------------------------------------------------

@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    pgserver = pytest.importorskip("pgserver")
    pytest.importorskip("psycopg")
    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server
    server.cleanup()


def _database(server, name: str) -> str:
    server.psql(f"CREATE DATABASE {name};")
    return server.get_uri(name)       # postgresql://postgres:@/NAME?host=SOCKET_DIR


def test_two_workers_fill_one_study_on_postgresql(tmp_path, postgres):
    url = check_storage(_database(postgres, "shared"))       # the URL `emomotion study --storage` passes on
    assert url.startswith("postgresql+psycopg://")
    w = _run_workers(tmp_path, url, N_TRIALS)
    assert_one_shared_study(url, w)
    import optuna
    trials = optuna.load_study(study_name=w[0]["study"], storage=url).trials
    assert len({tuple(sorted(t.params.items())) for t in trials}) == len(trials), "a configuration ran twice"


def test_storage_reaches_the_notebooks_and_its_password_stays_out_of_the_provenance(tmp_path, postgres):
    url = _database(postgres, "nbs").replace("postgres:@", "postgres:s3cret@")   # trust auth: any password works
    nbs = tmp_path / "nbs"
    write_notebook(nbs / "01_env.ipynb", [
        "import json, os, pathlib\n"
        "keys = ('EMOMOTION_JOBS', 'EMOMOTION_BACKEND', 'EMOMOTION_SCHEDULER', 'EMOMOTION_STORAGE')\n"
        "pathlib.Path(out_dir, 'env.json').write_text(json.dumps({k: os.environ.get(k) for k in keys}))"],
        parameters='dataset = "synthetic"\nprofile = "quick"\nseed = 0\nout_dir = "x"')
    out = tmp_path / "out"
    prov = run_study(profile="quick", out=out, nbs_dir=nbs, load_data=False, progress=False, log=lambda *a: None,
                     jobs=1, storage=url)
    env = json.loads((out / "env.json").read_text())
    given = make_url(env.pop("EMOMOTION_STORAGE"))
    assert env == {"EMOMOTION_JOBS": "1", "EMOMOTION_BACKEND": "loky", "EMOMOTION_SCHEDULER": ""}
    assert given == make_url(url).set(drivername="postgresql+psycopg") and given.password == "s3cret"
    assert prov["parameters"]["jobs"] == 1 and "***" in prov["parameters"]["storage"]
    written = (out / "provenance.json").read_text() + (out / "REPORT.md").read_text()
    assert "s3cret" not in written and "--storage postgresql+psycopg://postgres:***@" in prov["command"]


def test_a_storage_that_does_not_answer_is_one_line(postgres):
    with pytest.raises(UsageError, match=r"^--storage postgresql\+psycopg://nobody:\*\*\*@127.0.0.1:9/x: cannot connect"):
        check_storage("postgresql://nobody:pw@127.0.0.1:9/x", timeout=5)

