"""MoEmo's epoch budget (chapter 05a, full profile): CPU seconds and test accuracy of one fold at 15 and 10 epochs.

The one-cycle schedule spans `max_epochs`, so a shorter budget is a shorter schedule, not a truncated one. For the
full model and the variant with feature tokens, on the first leave-actors-out fold of the generated full set
(1,390 clips, 22 actors; cached after the first load), it fits `moemo_classifier` with the full profile's settings
at each budget on ONE thread (as a fold worker runs) and prints CPU seconds (`time.process_time`: robust to other
jobs), epochs run, the best epoch and the fold's test accuracy, with the CPU ratio against the 15-epoch budget.
Run: .venv/bin/python benchmarks/moemo_epochs.py [--epochs 15 10] [--variants moemo-lite moemo-lite-features]
A benchmark, not a test: numbers depend on the machine."""
import argparse
import time

import torch

from emomotion.moemo import moemo_classifier

from _moemo_fold import moemo_full_set


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, nargs="+", default=[15, 10])
    ap.add_argument("--variants", nargs="+", default=["moemo-lite", "moemo-lite-features"])
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    d = moemo_full_set()
    P, T, vocab, X, y, g, tr, te = d.P, d.T, d.vocab, d.X, d.y, d.g, d.tr, d.te
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
