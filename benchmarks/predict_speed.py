"""Model load time and predict throughput (clips/s) of the RF and ST-GCN bundles on generated quick data.
Run: .venv/bin/python benchmarks/predict_speed.py [OUT_DIR]. A benchmark, not a test: numbers depend on the machine."""
import argparse
import os
import tempfile
import time
from pathlib import Path

from emomotion.datasets import load_dataset
from emomotion.bundle import train_bundle
from emomotion.predict import load_model

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("out_dir", nargs="?", default=None, help="where the bundles are written (default: a temporary folder)")
out = Path(ap.parse_args().out_dir or tempfile.mkdtemp())
clips = load_dataset("synthetic", profile="quick", progress=False)
files = list(clips.index["path"])
print(f"{len(files)} generated clips, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
for model in ("rf", "stgcn_gated"):
    bundle = out / model
    if not (bundle / "model.json").exists():
        train_bundle(clips, model, bundle, evaluate=False)
    t0 = time.perf_counter(); m = load_model(bundle); load_s = time.perf_counter() - t0
    t0 = time.perf_counter(); preds = m.predict_files(files); pred_s = time.perf_counter() - t0
    assert (preds["error"] == "").all()
    print(f"{model:12s} load {load_s:.3f} s   predict {len(files)} clips in {pred_s:.1f} s = {len(files) / pred_s:.1f} clips/s")
