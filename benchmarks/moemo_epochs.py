"""MoEmo's epoch budget (chapter 05a, full profile): CPU seconds and test accuracy of one fold at 15 and 10 epochs.

The one-cycle schedule spans `max_epochs`, so a shorter budget is a shorter schedule, not a truncated one. For the
full model and the variant with feature tokens, on the first leave-actors-out fold of the generated full set
(1,390 clips, 22 actors; cached after the first load), it fits `moemo_classifier` with the full profile's settings
at each budget on ONE thread (as a fold worker runs) and prints CPU seconds (`time.process_time`: robust to other
jobs), epochs run, the best epoch and the fold's test accuracy, with the CPU ratio against the 15-epoch budget.
Run: .venv/bin/python benchmarks/moemo_epochs.py [--epochs 15 10] [--variants moemo moemo_features]
A benchmark, not a test: numbers depend on the machine."""
import argparse
import time

import numpy as np
import torch

from emomotion.datasets import load_dataset
from emomotion.evaluate import split_indices
from emomotion.features import feature_table
from emomotion.moemo import activity_codes, moemo_classifier, moemo_inputs
from emomotion.profiles import profile_settings


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, nargs="+", default=[15, 10])
    ap.add_argument("--variants", nargs="+", default=["moemo", "moemo_features"])
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    P = profile_settings("full", "moemo")
    clips = load_dataset("synthetic", profile="full", progress=False)
    Xf, meta = feature_table(clips, progress=False)
    codes, vocab = activity_codes(meta)
    T = int(round(P["max_seconds"] * P["rate"]))
    X = moemo_inputs(clips.all_positions(), meta["fps"].to_numpy(float), codes, Xf.to_numpy(np.float32), P["rate"],
                     P["max_seconds"], names=meta["path"])
    y, g = meta["label"].to_numpy(), meta[clips.group_col].to_numpy()
    tr, te = split_indices("actors", y, g, P.get("n_splits", 5), 0)[0]
    for v in a.variants:
        base = None
        for me in a.epochs:
            est = moemo_classifier(T, v, len(vocab), seed=0, **(P["model"] | dict(max_epochs=me)))
            t0 = time.process_time()
            est.fit(X[tr], y[tr])
            dt = time.process_time() - t0
            base = base or dt
            net = est[-1]
            print(f"{v:15s} max_epochs {me:3d}: {dt:6.1f} CPU-s ({dt / base:.2f}× the first budget), "
                  f"{len(net.history_)} epochs, best {net.best_epoch_}, test accuracy "
                  f"{(est.predict(X[te]) == y[te]).mean():.3f}", flush=True)


if __name__ == "__main__":
    main()
