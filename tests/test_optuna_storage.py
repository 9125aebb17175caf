"""Two worker processes search one Optuna study in one SQLite file: they share it (both contribute
trials, trial numbers are unique and contiguous) and lose nothing (every trial a worker ran is in the
storage, finished, and the study stops at the requested total), and the search resumes."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

N_TRIALS = 6

WORKER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    import torch; torch.set_num_threads(1)
    import numpy as np
    from sklearn.datasets import make_classification
    from emomotion.mlp import OptunaMLPClassifier

    url, tmp, wid, n_trials = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    X, y = make_classification(90, 12, n_informative=5, n_classes=3, random_state=0)
    est = OptunaMLPClassifier(n_trials=n_trials, storage=url, study_name="shared", inner_splits=2,
                              k=8, max_epochs=3, patience=2, pruner=None, seed=0, sampler_seed=100 + wid)
    # a barrier: both workers start searching at the same moment
    (tmp / f"ready{wid}").touch()
    t0 = time.time()
    while not all((tmp / f"ready{i}").exists() for i in (0, 1)):
        if time.time() - t0 > 120: sys.exit("the other worker never started")
        time.sleep(0.05)
    est.fit(X, y)
    json.dump({"pid": os.getpid(), "ran": est.n_trials_run_, "study": est.study_name_,
               "best": est.best_params_}, open(tmp / f"worker{wid}.json", "w"))
""")


def _run_workers(tmp_path, url, n_trials):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    procs = [subprocess.Popen([sys.executable, str(script), url, str(tmp_path), str(i), str(n_trials)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i in (0, 1)]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, f"worker failed:\n{out[-3000:]}\n{err[-3000:]}"
    return [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in (0, 1)]


def assert_one_shared_study(url, w):
    "Both workers `w` filled one study at `url`, and no trial was lost, duplicated or left unfinished."
    assert w[0]["study"] == w[1]["study"], "same data and settings must name the same study"
    assert optuna.get_all_study_names(url) == [w[0]["study"]]
    study = optuna.load_study(study_name=w[0]["study"], storage=url)
    trials = study.get_trials(deepcopy=False)
    states = {t.state for t in trials}
    assert states == {optuna.trial.TrialState.COMPLETE}, states      # nothing failed or left running
    # nothing lost: every trial either worker ran is in the storage, under that worker's pid
    by_pid = {}
    for t in trials:
        by_pid[t.user_attrs["pid"]] = by_pid.get(t.user_attrs["pid"], 0) + 1
    assert by_pid == {w[0]["pid"]: w[0]["ran"], w[1]["pid"]: w[1]["ran"]}
    # shared: both contributed, numbering is one sequence, and the total stops at the target
    # (each worker checks the total after its own trial, so at most one extra trial per other worker)
    assert w[0]["ran"] >= 1 and w[1]["ran"] >= 1
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert N_TRIALS <= len(trials) <= N_TRIALS + 1
    # both workers refit from the same storage; the later one sees every trial
    assert study.best_params in (w[0]["best"], w[1]["best"])


def test_two_workers_share_one_sqlite_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    assert_one_shared_study(url, _run_workers(tmp_path, url, N_TRIALS))


def test_search_resumes_from_the_storage(tmp_path):
    from sklearn.datasets import make_classification
    from emomotion.mlp import OptunaMLPClassifier
    import torch
    torch.set_num_threads(1)
    url = f"sqlite:///{tmp_path / 'resume.db'}"
    X, y = make_classification(90, 12, n_informative=5, n_classes=3, random_state=0)
    kw = dict(storage=url, inner_splits=2, k=8, max_epochs=3, patience=2, pruner=None, seed=0)
    first = OptunaMLPClassifier(n_trials=2, **kw).fit(X, y)          # an "interrupted" search
    more = OptunaMLPClassifier(n_trials=4, **kw).fit(X, y)           # asks for 4 in all
    assert first.n_trials_run_ == 2 and more.n_trials_run_ == 2
    assert more.study_name_ == first.study_name_
    study = optuna.load_study(study_name=more.study_name_, storage=url)
    assert len(study.trials) == 4
    # resumed trials are new proposals, not repeats of the first ones
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(params)) == 4
    # a different training part is a different study
    other = OptunaMLPClassifier(n_trials=1, **kw).fit(X[:80], y[:80])
    assert other.study_name_ != first.study_name_
    assert len(optuna.get_all_study_names(url)) == 2
