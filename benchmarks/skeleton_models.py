"""Cost of the skeleton models of chapter 05b (nbs/05b_skeleton_models.ipynb) on ONE CPU thread, per model and setting.

The full profile runs folds two at a time with one thread each (`evaluate.limit_threads`), so the CPU seconds of one
thread are what a fold costs. For each model (`stgcn++-lite` early fusion, `stgcn++-lite late`, `part-transformer`; ST-GCN++ as published: `benchmarks/stgcnpp_vs_lite.py`) and
setting (rate, window, test crops, sizes) it fits one epoch on `--train` clips of the generated full set (after a
warm-up) and predicts `--predict` clips, measuring CPU seconds (`time.process_time`: robust to other jobs on the
machine), and extrapolates to one fold of the full profile (5 folds of 1,390 clips: 945 training rows, 167 inner
validation rows predicted every epoch, 278 test rows predicted twice by the harness): s/epoch, and the fold at
`--epochs` epochs. The peer is chapter 04's MotionLSTM (full-profile size) on its own inputs (10 Hz, up to 12 s),
measured the same way. Last, `notebook_cost` estimates the whole notebook under the full profile's settings (`runs`,
`max_epochs` as an upper bound, 2 workers) and prints it as a ratio of the 25-minute budget.
Run: .venv/bin/python benchmarks/skeleton_models.py [--train 160] [--predict 160] [--epochs 16] [--only NAME ...]
A benchmark, not a test: numbers depend on the machine. Needs the generated full set (cached after the first load)."""
import argparse
import math
import os
import time

import numpy as np
import torch

from emomotion.skeleton_models import skeleton_classifier

N_CLIPS, VAL_SIZE = 1390, 0.15                 # the generated full set; TorchClassifier's inner validation share
BUDGET_S, CORES, OVERHEAD_S = 25 * 60, 2, 60   # issue 17: the notebook on 2 cores; data, sequences, figures, ablation

SETTINGS = {
    "20Hz w64 c32-64 d64x2": dict(rate=20.0, window=64, n_crops=5, stgcn=dict(channels=(32, 32, 64, 64)),
                                  transformer=dict(d_model=64, n_heads=4, n_layers=2, dim_ff=128)),
    "15Hz w48 c24-48 d48x2": dict(rate=15.0, window=48, n_crops=5, stgcn=dict(channels=(24, 24, 48, 48)),
                                  transformer=dict(d_model=48, n_heads=4, n_layers=2, dim_ff=96)),
    "15Hz w48 c16-32 d32x1": dict(rate=15.0, window=48, n_crops=3, stgcn=dict(channels=(16, 16, 32, 32)),
                                  transformer=dict(d_model=32, n_heads=4, n_layers=1, dim_ff=64)),
    "15Hz w48 c16-32 half-width late": dict(rate=15.0, window=48, n_crops=3, stgcn=dict(channels=(16, 16, 32, 32)),
                                            late=dict(channels=(8, 8, 16, 16)),
                                            transformer=dict(d_model=32, n_heads=4, n_layers=1, dim_ff=64)),
}
"""Settings compared: the first is the full profile before issue 17's cost work, the third the one chosen. Optional
key `late`: the late-fusion model's per-stream sizes (else `stgcn`'s)."""
MODELS = ("stgcn++-lite", "stgcn++-lite late", "part-transformer")


def fold_rows(n_clips=N_CLIPS, n_splits=5, val_size=VAL_SIZE):
    "Training, inner-validation and test rows of one fold."
    test = n_clips / n_splits
    val = (n_clips - test) * val_size
    return n_clips - test - val, val, test


def make_classifier(model, s, max_epochs=1):
    "The `skeleton_classifier` of `model` under settings `s` (a `SETTINGS` value or a profile section), on the CPU."
    arch = (s["transformer"] if model == "part-transformer" else
            s.get("late", s["stgcn"]) if model == "stgcn++-lite late" else s["stgcn"])
    return skeleton_classifier(model, window=s["window"], n_crops=s["n_crops"], rate=s["rate"],
                               batch_size=s.get("batch_size", 32), max_epochs=max_epochs, patience=None, val_size=0,
                               monitor="train_loss", device="cpu", **arch)


def cpu_rates(make, X, y, n_train, n_predict, repeats=1):
    """Training and prediction throughput (clips per CPU-second, one thread) of estimator factory `make(epochs)`;
    the best of `repeats` (after a warm-up)."""
    make(1).fit(X[:32], y[:32])                                   # warm-up: allocator, kernels
    train, pred = [], []
    for _ in range(repeats):
        t0 = time.process_time(); fitted = make(1).fit(X[:n_train], y[:n_train]); train.append(time.process_time() - t0)
        t0 = time.process_time(); fitted.predict_proba(X[-n_predict:]); pred.append(time.process_time() - t0)
    return n_train / min(train), n_predict / min(pred)


def fold_cost(train_rate, pred_rate, epochs, **rows):
    "Extrapolated CPU seconds of one epoch (training + inner validation) and of one fold at `epochs` epochs."
    n_train, n_val, n_test = fold_rows(**rows)
    epoch = n_train / train_rate + n_val / pred_rate
    return epoch, epochs * epoch + 2 * n_test / pred_rate        # the harness predicts the test rows twice


def notebook_cost(P, rates, n_clips=N_CLIPS, cores=CORES, overhead_s=OVERHEAD_S):
    """Estimated (CPU seconds, wall seconds) of the notebook under profile settings `P` (its `runs`, `max_epochs`,
    `n_splits`): each cross-validation runs its folds `cores` at a time, so it lasts ceil(folds / cores) folds.
    `rates[model]` = (train, predict) clips per CPU-second."""
    cpu = wall = overhead_s
    for models in P["runs"].values():
        for m in models:
            _, fold = fold_cost(*rates[m], P["max_epochs"], n_clips=n_clips, n_splits=P["n_splits"])
            cpu += P["n_splits"] * fold
            wall += math.ceil(P["n_splits"] / cores) * fold
    return cpu, wall


def main():
    from emomotion.datasets import load_dataset
    from emomotion.lstm import make_motion_lstm
    from emomotion.profiles import profile_settings
    from emomotion.sequences import build_sequences
    from emomotion.skeleton_models import build_skeleton_sequences

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", type=int, default=160, help="clips of the timed training epoch")
    ap.add_argument("--predict", type=int, default=160, help="clips predicted")
    ap.add_argument("--epochs", type=int, default=16, help="epochs of the extrapolated fold")
    ap.add_argument("--only", nargs="*", default=None, help="setting names (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    clips = load_dataset("synthetic", profile="full", seed=0, progress=False)
    y = clips.index["label"].to_numpy()
    n_train, n_val, n_test = fold_rows()
    print(f"{len(clips)} clips; 1 torch thread, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"CPU seconds; fold = {n_train:.0f} train + {n_val:.0f} validation per epoch, {n_test:.0f} test")
    print(f"{'setting':32s} {'model':17s} {'params':>8s} {'train/s':>8s} {'pred/s':>8s} {'s/epoch':>8s} "
          f"{'fold@' + str(args.epochs):>9s}")
    lstm = build_sequences(clips, rate=10.0, max_seconds=12.0)
    tr, pr = cpu_rates(lambda e: make_motion_lstm(3, hidden=64, proj=64, max_epochs=e, patience=None, val_size=0,
                                                  monitor="train_loss", device="cpu"),
                       lstm.X, y, args.train, args.predict)
    peer = fold_cost(tr, pr, args.epochs)
    print(f"{'04 peer 10Hz 12s':32s} {'MotionLSTM':17s} {'':>8s} {tr:8.1f} {pr:8.1f} {peer[0]:8.1f} {peer[1]:9.0f}")
    sequences = {}
    full = profile_settings("full", "skeleton_models")
    settings = dict(SETTINGS, **{"full profile (now)": full})
    for name, s in settings.items():
        if args.only and name not in args.only: continue
        if s["rate"] not in sequences:
            sequences[s["rate"]] = build_skeleton_sequences(clips, rate=s["rate"], max_seconds=12.0).X
        X, rates = sequences[s["rate"]], {}
        for model in MODELS:
            rates[model] = tr, pr = cpu_rates(lambda e: make_classifier(model, s, e), X, y, args.train, args.predict)
            n_par = sum(p.numel() for p in make_classifier(model, s).fit(X[:40], y[:40]).module_.parameters())
            epoch, fold = fold_cost(tr, pr, args.epochs)
            print(f"{name:32s} {model:17s} {n_par:8d} {tr:8.1f} {pr:8.1f} {epoch:8.1f} {fold:9.0f}   "
                  f"×{epoch / peer[0]:.1f} the LSTM's epoch", flush=True)
        if "runs" in s:
            cpu, wall = notebook_cost(s, rates)
            print(f"{name}: the notebook ≈ {cpu:.0f} CPU-s, ≈ {wall / 60:.1f} min on {CORES} cores "
                  f"(budget {BUDGET_S / 60:.0f} min; runs {s['runs']}, ≤ {s['max_epochs']} epochs)")


if __name__ == "__main__":
    main()
