"""Benchmark: first load (parse) vs cached loads of the generated Kinematic-format dataset.

    .venv/bin/python benchmarks/load_speed.py                 # full size (22 actors, ~1,400 clips)
    .venv/bin/python benchmarks/load_speed.py --profile quick # 84 clips, seconds

The data are generated once (and then reused) where `load_dataset('synthetic', profile=...)` keeps
them: `$EMOMOTION_CACHE/synthetic/` or `~/.cache/emomotion/synthetic/`. They are then loaded with a
fresh, temporary parse cache, so the first load really parses every file:

1. first load    — every file read, hashed and parsed (BVH text -> forward kinematics -> npz);
2. second load   — the manifest knows every file's (size, mtime, ctime, inode, device): nothing is read;
3. content load  — manifest deleted: every file is read and hashed again, nothing is parsed
                   (what happens when the folder was moved or copied);
4. positions     — `Clips.all_positions()` reads the key-joint motions from the cache.

Target: the second load at least 10x faster than the first. The files are in the OS page cache
in every load (they were just written or read), so the first load's time is parsing, not disk.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from emomotion.datasets import dataset_files, load_kinematic
from emomotion.parsing import CACHE_VERSION
from emomotion.generator import ensure_synthetic, synthetic_dir


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="full", choices=["quick", "full"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=-1)
    ap.add_argument("--out", default=None, help="also write the table to this CSV file")
    a = ap.parse_args(argv)

    made = (synthetic_dir(a.profile, a.seed) / "generator.json").exists()
    t = time.perf_counter()
    root = ensure_synthetic(a.profile, a.seed, n_jobs=a.n_jobs)
    gen_s = time.perf_counter() - t
    files, _ = dataset_files("synthetic", root)           # what the loader considers
    mb = sum(f.stat().st_size for f in files) / 1e6
    rows = [dict(step="generate", seconds=round(gen_s, 2),
                 note="already in the cache (not timed)" if made else f"{len(files)} files written")]

    with tempfile.TemporaryDirectory(prefix="emomotion-bench-") as tmp:
        kw = dict(name="synthetic", cache_dir=tmp, n_jobs=a.n_jobs, progress=False)
        t = time.perf_counter(); c1 = load_kinematic(root, **kw); first = time.perf_counter() - t
        t = time.perf_counter(); c2 = load_kinematic(root, **kw); second = time.perf_counter() - t
        for m in (Path(tmp) / "parsed" / f"v{CACHE_VERSION}" / "manifests").glob("*.json"):
            m.unlink()
        t = time.perf_counter(); c3 = load_kinematic(root, **kw); third = time.perf_counter() - t
        t = time.perf_counter(); pos = c2.all_positions(); read = time.perf_counter() - t
        assert c1.index.equals(c2.index) and c1.index.equals(c3.index) and len(pos) == len(c1)
        frames = int(c1.index.n_frames.sum())
        rows += [dict(step="1. first load (parse)", seconds=round(first, 2),
                      note=f"{mb / first:.0f} MB/s, {frames / first:,.0f} frames/s"),
                 dict(step="2. second load (manifest)", seconds=round(second, 3), note=f"{first / second:.0f}x faster"),
                 dict(step="3. load after the manifest is lost (hash only)", seconds=round(third, 2),
                      note=f"{first / third:.1f}x faster"),
                 dict(step="4. all_positions() from the cache", seconds=round(read, 2),
                      note=f"{sum(p.nbytes for p in pos) / 1e6:.0f} MB of float32")]
    table = pd.DataFrame(rows)
    print(f"{a.profile} profile: {len(c1)} clips, {c1.index.actor.nunique()} actors, {frames:,} frames, "
          f"{mb:,.0f} MB of BVH text; n_jobs={a.n_jobs}, {os.cpu_count()} CPUs")
    print(table.to_string(index=False))
    if a.out:
        table.to_csv(a.out, index=False)
    ok = first / second >= 10
    print(f"second load {first / second:.0f}x faster than the first: target >= 10x {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
