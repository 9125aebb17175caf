"""ST-GCN++ as published (`stgcn++`) against chapter 05b's lighter graph network (`stgcn++-lite`), paired on the same folds.

A scaled version of what chapter 05b measures on the full profile (nbs/05b_skeleton_models.ipynb, its contrasts table):
the generated full set restricted to the first `--actors` actors (all 22: the full set), `--folds` leave-actors-out
folds, at most `--epochs` epochs with the full profile's early stopping (inner split grouped by actor), each model with
the settings of the `--profile` profile's `skeleton_models` section (`stgcnpp` for `stgcn++`, `stgcn` for the lite one)
unless overridden (`--pp-channels`, `--pp-frames`, ...). It prints each run, its CPU seconds (`evaluate.ResourceMeter`:
this process and its fold workers) and the paired comparison (`compare.compare_pairs`: per-fold differences, their
t-interval, the sign test, the actor-cluster bootstrap).
Run (niced on a shared machine): nice -n 19 .venv/bin/python benchmarks/stgcnpp_vs_lite.py --actors 10 --folds 3 --epochs 10
A benchmark, not a test: it trains networks for minutes."""
import argparse
import time

import numpy as np


def main():
    import torch
    from emomotion.compare import compare_pairs, write_contrasts
    from emomotion.datasets import load_dataset
    from emomotion.evaluate import ResourceMeter, cross_validate_many
    from emomotion.profiles import profile_settings
    from emomotion.skeleton_models import build_skeleton_sequences, skeleton_classifier

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="full")
    ap.add_argument("--actors", type=int, default=10, help="first N actors of the generated full set (22: all)")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--models", nargs="*", default=["stgcn++", "stgcn++-lite"])
    ap.add_argument("--pp-channels", type=int, nargs="*", default=None, help="stgcn++ widths per block (strides: ×2 at 5 and 8 of 10, else at the middle blocks)")
    ap.add_argument("--pp-frames", type=int, default=None, help="stgcn++ frames per input")
    ap.add_argument("--pp-samples", type=int, default=None, help="stgcn++ test samplings")
    ap.add_argument("--pp-sampling", default=None, choices=("window", "uniform"))
    ap.add_argument("--out", default=None, help="folder for the contrasts table (tables/)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    P = profile_settings(args.profile, "skeleton_models")
    pp = dict(P["stgcnpp"])
    if args.pp_channels:
        n = len(args.pp_channels)
        down = {4, 7} if n == 10 else {n // 3, 2 * n // 3}
        pp.update(channels=tuple(args.pp_channels), strides=tuple(2 if i in down else 1 for i in range(n)))
    for k, v in (("window", args.pp_frames), ("n_crops", args.pp_samples), ("sampling", args.pp_sampling)):
        if v is not None: pp[k] = v
    clips = load_dataset("synthetic", profile="full", seed=0, progress=False)
    actors = sorted(clips.index["actor"].unique())[:args.actors]
    clips = clips.subset(np.flatnonzero(clips.index["actor"].isin(actors).to_numpy()))
    sq = build_skeleton_sequences(clips, rate=P["rate"], max_seconds=P["max_seconds"])
    X, y, groups = sq.X, sq.y, clips.index["actor"].to_numpy()[sq.rows]
    train = dict(max_epochs=args.epochs, patience=P["patience"], batch_size=P["batch_size"], lr=P["lr"])
    arch = {"stgcn++": pp, "stgcn++ late": pp, "stgcn++-lite": P["stgcn"], "stgcn++-lite late": P["stgcn"],
            "part-transformer": P["transformer"]}
    print(f"{len(y)} clips of {len(actors)} actors, {args.folds} leave-actors-out folds, ≤ {args.epochs} epochs; "
          f"stgcn++: {pp}; lite: {P['stgcn']}", flush=True)
    runs = {(m, "actors"): (skeleton_classifier(m, rate=sq.rate, seed=0, **train,
                                                **(dict(window=P["window"], n_crops=P["n_crops"]) | arch[m])), "actors")
            for m in args.models}
    meter, t0 = ResourceMeter().start(), time.perf_counter()      # every (model, fold) fit in one pool of workers
    results = cross_validate_many(runs, X, y, groups, n_splits=args.folds, seed=0, n_jobs=args.jobs, progress=False,
                                  fit_groups=True)
    _, cpu = meter.stop()
    for (m, _), r in results.items():
        print(f"{m:18s} {r}  folds {np.round(r.folds.accuracy.to_numpy(), 3).tolist()}", flush=True)
    print(f"all runs: {cpu:.0f} CPU-s (this process and its fold workers), {time.perf_counter() - t0:.0f} s wall", flush=True)
    pairs = [(a, b) for i, a in enumerate(args.models) for b in args.models[i + 1:]]
    comps = compare_pairs(results, pairs, group_name="actor")
    for k, c in comps.items():
        print(f"{k}: {c.wording}; per-fold differences {np.round(c.differences, 3).tolist()}, sign p = {c.p_sign:.2g}")
    if args.out:
        print(write_contrasts(comps, args.out, "stgcnpp_vs_lite", caption=f"{len(actors)} actors, {args.folds} folds").to_string())


if __name__ == "__main__":
    main()
