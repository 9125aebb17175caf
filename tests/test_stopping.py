"""Stopping cleanly: a study ended by SIGTERM (what `timeout`, a scheduler or `kill` send) stops as after Ctrl-C and
leaves no process behind: not its notebook kernel, not the kernel's loky fold workers, not their resource trackers;
and the fit cache it was writing stays readable."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from emomotion.fitcache import _load_fit, fit_cache_dir
from emomotion.study import write_notebook

ROOT = Path(__file__).resolve().parents[1]
PARAMS = 'dataset = "kinematic"\ndata_dir = None\nprofile = "quick"\nseed = 0\nout_dir = "out"'
SLOW_FOLDS = '''import time
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from emomotion.evaluate import cross_validate, make_toy_study


class Slow(ClassifierMixin, BaseEstimator):
    def __init__(self, seconds=2.0):
        self.seconds = seconds

    def fit(self, X, y):
        time.sleep(self.seconds)
        self.model_ = DummyClassifier().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)


X, y, g = make_toy_study(n_actors=4, n_classes=3, per_cell=4, n_features=3)
cross_validate(Slow(), X, y, "stratified", n_splits=8, n_jobs=2, cache=True, progress=False)'''


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _cmd(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def test_sigterm_ends_a_study_like_ctrl_c_and_leaves_no_process(tmp_path, make_tiny_kinematic):
    nbs, out, cache = tmp_path / "nbs", tmp_path / "out", tmp_path / "cache"
    write_notebook(nbs / "01_slow_folds.ipynb", [SLOW_FOLDS], parameters=PARAMS)
    env = dict(os.environ, PYTHONPATH=str(ROOT), EMOMOTION_CACHE=str(cache), MPLBACKEND="Agg")
    run = subprocess.Popen([sys.executable, "-m", "emomotion.study", "--profile", "quick", "--dataset", "kinematic",
                            "--data", str(make_tiny_kinematic(5)), "--nbs", str(nbs), "--out", str(out),
                            "--cache", str(cache), "--jobs", "2"],
                           cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    seen, top = {}, psutil.Process(run.pid)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run.poll() is None:     # until two fold workers run and a fit is stored
            try:
                seen.update({p.pid: p for p in top.children(recursive=True)})
            except psutil.Error:
                pass
            workers = [p for p in seen.values() if "loky" in _cmd(p) and "resource_tracker" not in _cmd(p) and _alive(p)]
            stored = [p for p in fit_cache_dir(cache).glob("[0-9a-f]*")] if fit_cache_dir(cache).is_dir() else []
            if len(workers) >= 2 and stored:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the run never had two fold workers and a stored fit: {run.communicate(timeout=60)}")
        assert any("ipykernel" in _cmd(p) for p in seen.values()), "no notebook kernel seen"
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=60)
        assert run.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err, err
        left = [p for p in seen.values() if _alive(p)]
        for _ in range(100):                    # resource trackers leave once the processes they watch are gone
            left = [p for p in left if _alive(p)]
            if not left:
                break
            time.sleep(0.1)
        assert not left, [f"{p.pid}: {_cmd(p)}" for p in left]
        same_session = [p for p in psutil.process_iter() if _alive(p) and _session(p) == run.pid]
        assert not same_session, [f"{p.pid}: {_cmd(p)}" for p in same_session]
    finally:                                    # whatever failed, nothing of the run outlives the test
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate()
        for p in seen.values():
            try:
                p.kill() if _alive(p) else None
            except psutil.Error:
                pass

    prov = json.loads((out / "provenance.json").read_text())
    assert prov["status"] == "interrupted" and prov["notebooks"][0]["status"] == "interrupted"
    entries = [e for e in fit_cache_dir(cache).iterdir() if not e.name.startswith(".")]
    assert entries
    for e in entries:                           # every entry the run left is whole and readable
        meta = json.loads((e / "entry.json").read_text())
        n_test, n_classes = meta["inputs"]["n_test"], len(meta["inputs"]["classes"])
        assert _load_fit(e, None, n_test, n_classes, need_estimator=False) is not None, e


def _session(p: psutil.Process):
    try:
        return os.getsid(p.pid)
    except OSError:
        return None
