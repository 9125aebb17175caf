"""Gradient boosting's feature bins (chapter 02, `profiles` key `baselines.gb_bins`): seconds per fit and 5-fold
accuracy at 255 bins (scikit-learn's default, the named peer) and fewer.

On the generated full set (1,390 clips × the engineered features; cached after the first load) it runs the
stratified 5-fold CV of `HistGradientBoostingClassifier` with 02's settings at its largest grid point (150 rounds,
learning rate 0.1, 15 leaves) on ONE thread (as a fold worker runs, `OMP_NUM_THREADS=1` is set before import), and
prints the mean CPU seconds per fit (`time.process_time`: robust to other jobs), the accuracy (mean ± sd over
folds) and the time ratio against the first bin count given.
Run: .venv/bin/python benchmarks/gb_bins.py [--bins 255 63 31]
A benchmark, not a test: numbers depend on the machine."""
import argparse
import os
import statistics
import time

os.environ["OMP_NUM_THREADS"] = "1"

from sklearn.ensemble import HistGradientBoostingClassifier   # noqa: E402
from sklearn.model_selection import StratifiedKFold           # noqa: E402

from emomotion.datasets import load_dataset                   # noqa: E402
from emomotion.features import feature_table                  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bins", type=int, nargs="+", default=[255, 63, 31])
    ap.add_argument("--max-iter", type=int, default=150)
    a = ap.parse_args(argv)
    clips = load_dataset("synthetic", profile="full", seed=0, progress=False)
    X, _ = feature_table(clips, progress=False)
    X, y = X.to_numpy(), clips.index.label.to_numpy()
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    print(f"generated full set: {X.shape[0]} clips × {X.shape[1]} features; 5 stratified folds, one thread")
    base = None
    for bins in a.bins:
        cpu, acc = [], []
        for tr, te in folds:
            m = HistGradientBoostingClassifier(learning_rate=0.1, max_iter=a.max_iter, max_leaf_nodes=15,
                                               max_bins=bins, early_stopping=False, random_state=0)
            t0 = time.process_time()
            m.fit(X[tr], y[tr])
            cpu.append(time.process_time() - t0)
            acc.append((m.predict(X[te]) == y[te]).mean())
        s = statistics.mean(cpu)
        base = base or s
        mean, sd = statistics.mean(acc), statistics.stdev(acc)
        print(f"max_bins {bins:3d}: {s:5.1f} CPU-s per fit ({s / base:.2f}× max_bins {a.bins[0]}), "
              f"accuracy {mean:.3f} ± {sd:.3f}", flush=True)


if __name__ == "__main__":
    main()
