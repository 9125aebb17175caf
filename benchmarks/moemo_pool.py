"""MoEmo's full profile (chapter 05a) on 2 cores: CPU seconds of one fold per variant, and the estimated wall time
of the whole chapter against its 15-minute budget.

On the first leave-actors-out fold of the generated full set (1,390 clips; cached after the first load) it fits
`moemo_classifier` with the full profile's settings for each variant on ONE thread, as a fold worker runs, after a
warm-up fit (a worker's first fit pays torch's lazy imports once), and prints the CPU seconds (`time.process_time`:
robust to other jobs, unlike wall time) of fit + predict. The estimate: the data steps (load, features, inputs; CPU
of this process) + the sum over the chapter's runs (variant × protocol) of n_splits × that variant's CPU-s per fold,
shared by the 2 fold workers of ONE pool (`evaluate.cross_validate_many`), against 15 minutes.
`--set attention_dropout=0` (any `moemo_classifier` / `MoEmo` argument, value parsed as Python) measures a change
of settings; `--save F.npz` / `--compare F.npz` keep or compare each variant's `predict_proba` on the test fold
(max abs difference), to check that a speed-up leaves the numbers as they were.
Run: .venv/bin/python benchmarks/moemo_pool.py [--variants moemo-lite moemo-lite-pose] [--set k=v ...] [--save/--compare F.npz]
A benchmark, not a test: numbers depend on the machine."""
import argparse
import ast
import time

import numpy as np
import torch

from emomotion.moemo import moemo_classifier
from emomotion.profiles import profile_settings

from _moemo_fold import moemo_full_set

BUDGET_S, CORES = 15 * 60, 2


def setting(s: str):
    "`key=value` → (key, value parsed as a Python literal, else the string)."
    k, _, v = s.partition("=")
    try:
        return k, ast.literal_eval(v)
    except (ValueError, SyntaxError):
        return k, v


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    P = profile_settings("full", "moemo")
    ap.add_argument("--variants", nargs="+", default=list(dict.fromkeys(v for vs in P["runs"].values() for v in vs if v.startswith("moemo-lite"))))
    ap.add_argument("--set", nargs="*", default=[], type=setting, help="model settings over the profile's: k=v")
    ap.add_argument("--save"); ap.add_argument("--compare")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.process_time()
    d = moemo_full_set()
    data_s = time.process_time() - t0
    T, vocab, X, y, g, tr, te = d.T, d.vocab, d.X, d.y, d.g, d.tr, d.te
    model = P["model"] | dict(a.set)
    print(f"{len(y)} clips, rows {X.shape}; data steps {data_s:.0f} CPU-s; settings {model}", flush=True)
    moemo_classifier(T, "moemo-lite", len(vocab), seed=0, **(model | dict(max_epochs=1))).fit(X[tr[:200]], y[tr[:200]])
    before = dict(np.load(a.compare)) if a.compare else {}
    per_fold, probas = {}, {}
    for v in a.variants:
        est = moemo_classifier(T, v, len(vocab), seed=0, **model)
        t0 = time.process_time()
        est.fit(X[tr], y[tr])
        p = probas[v] = est.predict_proba(X[te])
        per_fold[v] = time.process_time() - t0
        net = est[-1]
        diff = f"; max |Δ proba| vs {a.compare}: {np.abs(p - before[v]).max():.2g}" if v in before else ""
        print(f"{v:15s} {per_fold[v]:6.1f} CPU-s per fold (fit + predict), {len(net.history_)} epochs, best "
              f"{net.best_epoch_}, test accuracy {(est.classes_[p.argmax(1)] == y[te]).mean():.3f}{diff}", flush=True)
    if a.save:
        np.savez(a.save, **probas)
    runs = [v for vs in P["runs"].values() for v in vs if v in per_fold]
    fits = sum(per_fold[v] for v in runs) * P["n_splits"]
    total = data_s + fits / CORES
    print(f"estimate: data {data_s:.0f} s + {len(runs)} runs × {P['n_splits']} folds = {fits:.0f} CPU-s of fits / "
          f"{CORES} cores = {total:.0f} s = {total / 60:.1f} min, budget {BUDGET_S / 60:.0f} min "
          f"({'within' if total <= BUDGET_S else 'OVER'}; perfect packing, no worker start-up)")


if __name__ == "__main__":
    main()
