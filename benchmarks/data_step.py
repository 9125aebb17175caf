"""Benchmark guard of the study's data step: first load of the full generated set, second load, cache size.

    .venv/bin/python benchmarks/data_step.py                  # full profile (22 actors, ~1,400 clips, ~3.4 GB)
    .venv/bin/python benchmarks/data_step.py --profile quick  # 84 clips, seconds (a smoke test of this script)

Everything happens in a fresh, temporary cache folder (deleted at the end, unless `--keep`), so nothing
is reused from `~/.cache/emomotion`:

1. generate     — `generator.ensure_synthetic`: the BVH files and `file-info.csv` are written;
2. parse        — `datasets.load_dataset('synthetic', ...)` on those files: every file read, hashed, parsed;
   steps 1 + 2 are the *first load* a fresh `emomotion study` pays before its first notebook;
3. second load  — the same call again: the manifest knows every file, nothing is parsed.

Targets (issue 19): the first load of the full set takes at most 60 s on 2 cores, and the parse cache is
smaller than the data it was parsed from. Each target gets a `PASS` or `FAIL` line; the exit status is 0
only when both pass. The 1-minute load average is printed before and after: on a shared machine the
times grow with it, so the CPU seconds of the first load (this process and its workers, `evaluate.ResourceMeter`)
are printed too; half of them is what the first load would take on 2 idle cores if both were kept busy.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from emomotion.datasets import load_dataset
from emomotion.evaluate import ResourceMeter
from emomotion.generator import ensure_synthetic, synthetic_dir

FIRST_LOAD_S = 60.0     # target: generate + parse the full set, 2 cores
CACHE_RATIO = 1.0       # target: parse cache bytes / data bytes below this


def folder_bytes(folder) -> int:
    "Total size of the regular files under `folder` (symlinks not followed)."
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file() and not p.is_symlink())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="full", choices=["quick", "full"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=-1)
    ap.add_argument("--dir", default=None, help="make the temporary cache folder inside DIR (default: the system's)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary cache folder (its path is printed)")
    a = ap.parse_args(argv)

    load0 = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="emomotion-data-step-", dir=a.dir))
    try:
        kw = dict(profile=a.profile, seed=a.seed, cache_dir=tmp, n_jobs=a.n_jobs, progress=False)
        with ResourceMeter(interval=0.2) as meter:
            t = time.perf_counter(); root = ensure_synthetic(**kw); gen_s = time.perf_counter() - t
            t = time.perf_counter(); clips = load_dataset("synthetic", **kw); parse_s = time.perf_counter() - t
        t = time.perf_counter(); again = load_dataset("synthetic", **kw); second_s = time.perf_counter() - t
        assert root == synthetic_dir(a.profile, a.seed, tmp) and clips.index.equals(again.index)
        data_b = folder_bytes(root)
        cache_b = folder_bytes(tmp) - data_b            # everything in the cache folder but the generated data
    finally:
        if a.keep:
            print(f"kept {tmp}")
        else:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    first_s = gen_s + parse_s
    print(f"{a.profile} profile, seed {a.seed}: {len(clips)} clips, {clips.index.actor.nunique()} actors, "
          f"{int(clips.index.n_frames.sum()):,} frames; {os.cpu_count()} CPUs, n_jobs={a.n_jobs}, "
          f"load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"  generate      {gen_s:8.1f} s")
    print(f"  parse         {parse_s:8.1f} s")
    print(f"  first load    {first_s:8.1f} s  (generate + parse; {meter.cpu_s:.0f} CPU s, i.e. {meter.cpu_s / 2:.0f} s "
          f"on 2 idle, fully used cores; peak {meter.peak_mib:.0f} MiB)")
    print(f"  second load   {second_s:8.2f} s  ({first_s / second_s:,.0f}x faster than the first)")
    print(f"  data          {data_b / 2**20:8.0f} MiB  (BVH files and file-info.csv)")
    print(f"  parse cache   {cache_b / 2**20:8.0f} MiB  ({cache_b / data_b:.2f} of the data)")
    checks = [(first_s <= FIRST_LOAD_S, f"first load {first_s:.1f} s <= {FIRST_LOAD_S:.0f} s"),
              (cache_b / data_b < CACHE_RATIO, f"parse cache / data = {cache_b / data_b:.2f} < {CACHE_RATIO:g}")]
    if a.profile != "full":
        print("(targets are for the full profile; shown for information)")
    for ok, text in checks:
        print(f"{'PASS' if ok else 'FAIL'}: {text}")
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
