"""Real-time speed of MoEmo against the MotionLSTM and the ST-GCN on the same 2-s windows, on 2 CPU threads.

For each model (its full-profile architecture, fitted for one epoch on generated quick data: speed does not depend
on the weights): the latency of one prediction on one 2-s window (median of repeats; end to end = the model's input
recipe from positions + `predict_proba`, and the network alone), and the throughput in windows (clips) per second
on a batch. Ratios to MoEmo are printed.
Run: .venv/bin/python benchmarks/moemo_speed.py [N_REPEATS]. A benchmark, not a test: numbers depend on the machine."""
import os
import sys
import time

import numpy as np
import torch

from emomotion.datasets import load_dataset
from emomotion.bundle import make_estimator, model_inputs, model_spec

WINDOW_S, THREADS = 2.0, 2
reps = int(sys.argv[1]) if len(sys.argv) > 1 else 30
torch.set_num_threads(THREADS)
clips = load_dataset("synthetic", profile="quick", progress=False)
idx = clips.index
fps = idx["fps"].to_numpy(float)
windows = []
for p, f in zip(clips.all_positions(), fps):          # the central 2 s of every clip
    n = int(round(WINDOW_S * f)); a = max(0, (len(p) - n) // 2)
    windows.append(np.asarray(p[a:a + n], np.float32))
y = idx["label"].to_numpy()
print(f"{len(windows)} windows of {WINDOW_S:g} s at {fps[0]:g} fps; torch threads {THREADS}, {os.cpu_count()} CPUs, "
      f"load average {os.getloadavg()[0]:.1f}")


def median_s(fn, n):
    fn()                                                # warm-up
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


rows = {}
for model in ("moemo", "lstm", "stgcn"):
    spec = model_spec(model, "full", n_clips=1000)
    if spec["inputs"]["kind"] == "sequence":
        spec["inputs"]["max_seconds"] = WINDOW_S         # the same window, not padded to a whole clip
    spec["params"].update(max_epochs=1, patience=None)
    est = make_estimator(spec, seed=0)
    X = model_inputs(spec["inputs"], windows, fps)
    est.fit(X, y)
    net = est[-1].module_.eval()
    Xt = est[:-1].transform(X[:1]).astype(np.float32)
    with torch.no_grad():
        one_net = median_s(lambda: net(torch.from_numpy(Xt)), reps)
    one_e2e = median_s(lambda: est.predict_proba(model_inputs(spec["inputs"], windows[:1], fps[:1])), reps)
    t0 = time.perf_counter(); est.predict_proba(model_inputs(spec["inputs"], windows, fps)); batch_s = time.perf_counter() - t0
    n_par = sum(p.numel() for p in net.parameters())
    rows[model] = (one_e2e, one_net, len(windows) / batch_s, n_par)
    print(f"{model:6s} {n_par:8d} parameters   one window: {1000 * one_e2e:7.1f} ms end to end, {1000 * one_net:6.2f} ms "
          f"network   batch: {len(windows) / batch_s:7.1f} windows/s")
m = rows["moemo"]
for model, r in rows.items():
    if model != "moemo":
        print(f"{model} / moemo: latency end to end ×{r[0] / m[0]:.2f}, network ×{r[1] / m[1]:.2f}; "
              f"throughput ×{r[2] / m[2]:.2f}")
