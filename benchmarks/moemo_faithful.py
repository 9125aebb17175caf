"""`moemo` (the authors' layout), `moemo-lite` and the part transformer on the SAME actor folds of the generated full
set (or a subset of its actors), each with its chapter's full-profile settings except the epoch budget: accuracy under
leave-actors-out and CPU seconds per run (one fold at a time, one thread; `evaluate.ResourceMeter`).

    nice -n 19 python benchmarks/moemo_faithful.py --actors 8 --folds 3 --epochs 12
"""
import argparse
import numpy as np
import torch

from emomotion.datasets import load_dataset
from emomotion.evaluate import ResourceMeter, cross_validate_many
from emomotion.moemo import activity_codes, moemo_classifier, moemo_frames, pack_moemo
from emomotion.profiles import profile_settings
from emomotion.skeleton_models import build_skeleton_sequences, skeleton_classifier

ap = argparse.ArgumentParser()
ap.add_argument("--actors", type=int, default=8, help="the first N actors of the generated full set (0: all)")
ap.add_argument("--folds", type=int, default=3)
ap.add_argument("--epochs", type=int, default=None, help="epoch budget of every model (default: each profile's)")
ap.add_argument("--models", default="moemo,moemo-lite,part-transformer")
a = ap.parse_args()
torch.set_num_threads(1)
clips = load_dataset("synthetic", profile="full", progress=False)
actors = sorted(clips.index["actor"].unique())
if a.actors:
    clips = clips.subset(np.flatnonzero(clips.index["actor"].isin(actors[:a.actors]).to_numpy()))
P, S = profile_settings("full", "moemo"), profile_settings("full", "skeleton_models")
PP = P["paper"]
ep = {} if a.epochs is None else dict(max_epochs=a.epochs)
fr = moemo_frames(clips, PP["rate"], PP["max_seconds"])
lite = moemo_frames(clips, P["rate"], P["max_seconds"], layout="lite")
sq = build_skeleton_sequences(clips, S["rate"], S["max_seconds"])
assert len(fr.skipped) == len(lite.skipped) == len(sq.skipped) == 0
idx = clips.index
codes, vocab = activity_codes(idx)
y, groups = idx["label"].to_numpy(), idx["actor"].to_numpy()
T, T_lite = fr.X.shape[1], lite.X.shape[1]
models = {
    "moemo": (pack_moemo(fr.X, codes), lambda: moemo_classifier(
        T, "moemo", len(vocab), rate=PP["rate"], window=PP["window"], n_crops=PP["n_crops"], **(PP["model"] | ep))),
    "moemo-lite": (pack_moemo(lite.X, codes), lambda: moemo_classifier(T_lite, "moemo-lite", len(vocab), **(P["model"] | ep))),
    "part-transformer": (sq.X, lambda: skeleton_classifier(
        "part-transformer", window=S["window"], n_crops=S["n_crops"], rate=S["rate"],
        **(dict(max_epochs=S["max_epochs"], patience=S["patience"], batch_size=S["batch_size"], lr=S["lr"]) | ep),
        **S["transformer"])),
}
print(f"{len(y)} clips, {len(np.unique(groups))} actors, {a.folds} actor folds, epochs {a.epochs or 'profile'}", flush=True)
for name in a.models.split(","):
    X, make = models[name]
    meter = ResourceMeter().start()      # this process and its fold workers
    res = cross_validate_many({name: (make(), "actors")}, X, y, groups, n_splits=a.folds, seed=0, n_jobs=1,
                              progress=False, fit_groups=True)[name]
    s = res.summary()
    print(f"{name:18s} accuracy {s['accuracy']:.3f} ± {s['accuracy_std']:.3f} (chance {s['chance']:.3f}); per fold "
          f"{np.round(res.folds.accuracy.to_numpy(), 3).tolist()}; fit CPU-s {res.folds.fit_time_s.sum():.0f}, "
          f"CPU-s (process and fold workers) {meter.stop()[1]:.0f}", flush=True)
