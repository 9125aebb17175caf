"""Speed and memory of emomotion's BVH reader + forward kinematics, against upc-pymotion, in one run.

Two sets of files:
  * every Bandai Namco clip under ../shared/data/bandai-namco-1/data (174 files, 22 joints, 30 fps);
  * generated files of the Kinematic dataset's size and format (59 joints, 6 channels each, 125 Hz,
    1,000-2,700 frames), written by `emomotion.bvh_writer.write_bvh` into a temporary folder.

For each set and each library: total seconds for read + global positions of all joints (best of
--repeat passes over the whole set), MB/s of BVH text, frames/s, and our speed-up over pymotion.
Peak memory of one read + positions of a generated file is measured in a fresh subprocess
(peak RSS above the RSS just before the call, so it includes pandas' C buffers) and, in
process, with tracemalloc (numpy allocations), both as a multiple of the motion array's size.

    .venv/bin/python benchmarks/bvh_speed.py [--n-kinematic 8] [--repeat 2] [--seed 0]
    .venv/bin/python benchmarks/bvh_speed.py --joints     # header parsing: 10,000 vs 40,000 joints
    .venv/bin/python benchmarks/bvh_speed.py --attacks    # the hostile inputs that once made it hang

Targets (issue 2): >= 5x faster than pymotion; peak memory <= about 3x the motion array.
With --joints it times only the reading of files with 10,000 and 40,000 joints (two frames each, CPU seconds,
best of max(--repeat, 3)) and prints two ratios: 40,000 / 10,000 joints (parsing the hierarchy is linear in
the number of joints, so it should be near 4), and ours / upc-pymotion's loader on the same file (pymotion
checks nothing, so it is the floor of a Python reader: the strict one should stay within a small factor).
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from emomotion.bvh import BVH, kinematic_skeleton, read_bvh
from emomotion.bvh_writer import write_bvh
from emomotion.skeletons import KINEMATIC_JOINTS

ROOT = Path(__file__).resolve().parents[1]
BANDAI = ROOT.parent / "shared" / "data" / "bandai-namco-1" / "data"


def make_kinematic_file(path, n_frames, rng):
    """A Kinematic-format file: the 59-joint skeleton (scaled like a random actor), smooth random
    rotations (sums of sinusoids, 0.1-2 Hz, up to ~40 degrees per channel), a wandering root,
    and non-root position channels equal to the OFFSET plus sub-millimetre noise."""
    b = kinematic_skeleton(n_frames=n_frames, scale=rng.uniform(0.9, 1.1))
    t = np.arange(n_frames) * b.frame_time
    m = b.motion
    J = len(KINEMATIC_JOINTS)
    for j in range(J):
        c = b.get_joint_position_indices(j)
        for k in range(3, 6):                       # Y, X, Z rotation channels
            f = rng.uniform(0.1, 2.0, 3)
            a = rng.uniform(0, 40, 3) / np.arange(1, 4)
            ph = rng.uniform(0, 2 * np.pi, 3)
            m[:, c[k]] = (a[:, None] * np.sin(2 * np.pi * f[:, None] * t + ph[:, None])).sum(0)
        if j == 0:
            m[:, c[0]] += np.cumsum(rng.normal(0, 0.3, n_frames))
            m[:, c[1]] += 3 * np.sin(2 * np.pi * 1.5 * t)
            m[:, c[2]] += np.cumsum(rng.normal(0, 0.3, n_frames))
        else:
            m[:, c[:3]] += rng.normal(0, 0.01, (n_frames, 3))
    return write_bvh(b, path)


def make_many_joints_file(path, n_joints, n_frames=2, seed=0):
    """A file with `n_joints` joints: chains of 8 joints hanging from the root, 3 rotation channels
    each, an End Site at the end of every chain. Joints are in depth-first order, as written."""
    parents = [-1] + [0 if (j - 1) % 8 == 0 else j - 1 for j in range(1, n_joints)]
    ends = [j for j in range(1, n_joints) if j % 8 == 0 or j == n_joints - 1]
    rng = np.random.default_rng(seed)
    b = BVH(joints=[f"j{j}" for j in range(n_joints)], parents=parents, offsets=np.tile([0.0, 1.0, 0.0], (n_joints, 1)),
            end_sites=[(j, np.array([0.0, 1.0, 0.0])) for j in ends],
            channels=[["Zrotation", "Xrotation", "Yrotation"]] * n_joints, frame_time=1 / 30,
            motion=rng.uniform(-30, 30, (n_frames, 3 * n_joints)))
    return write_bvh(b, path, precision=3)


def time_joints(repeat):
    """Best CPU seconds of read_bvh on files with 10,000 and 40,000 joints, their ratio, and the ratio to
    upc-pymotion's loader (`BVH.load`, which reads the same text without checking it) on the same files."""
    from pymotion.io.bvh import BVH as PymotionBVH

    def pymotion_load(f):
        PymotionBVH().load(str(f))

    best, peer = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (10_000, 40_000):
            f = make_many_joints_file(Path(tmp) / f"J{n}.bvh", n)
            assert len(read_bvh(f).joints) == n
            best[n] = min(_cpu(lambda: read_bvh(f)) for _ in range(max(repeat, 3)))
            peer[n] = min(_cpu(lambda: pymotion_load(f)) for _ in range(max(repeat, 3)))
            print(f"{n:6d} joints ({f.stat().st_size / 1e6:.1f} MB): read_bvh {best[n]:.3f} CPU s, "
                  f"pymotion {peer[n]:.3f} CPU s, ours / pymotion {best[n] / peer[n]:.2f}")
    print(f"ratio 40,000 / 10,000 joints: {best[40_000] / best[10_000]:.2f} (linear: 4, quadratic: 16)")


_OLD_NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"   # the reader's number pattern until it was made possessive


def time_attacks():
    """The hostile inputs that made the reader hang: the number pattern on n digits and a letter (new against the
    old pattern, whose time grows as n squared), and read_bvh on a small file with one 30,000-digit token and a
    letter in a frame line or an OFFSET (a BVHError naming the line; it took over a minute)."""
    import re
    from emomotion import bvh
    old = re.compile(_OLD_NUMBER)
    for n in (1000, 2000, 4000):
        s = "7" * n + "x"
        t_old, t_new = _wall(lambda: old.fullmatch(s)), _wall(lambda: bvh._NUMBER_RE.fullmatch(s))
        print(f"number pattern on {n:5d} digits + 'x': old {t_old:.4f} s, new {t_new:.6f} s, "
              f"old / new {t_old / max(t_new, 1e-7):,.0f}")
    head = ("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation "
            "Yrotation\n  End Site\n  {\n    OFFSET 0 1 0\n  }\n}\nMOTION\nFrames: 300\nFrame Time: 0.033\n")
    rows = "1.0 2.0 3.0 4.0 5.0 6.0\n" * 299
    tok = "7" * 30_000 + "x"
    with tempfile.TemporaryDirectory() as tmp:
        for where, text in (("a frame line", head + rows + f"1 2 3 4 5 {tok}\n"),
                            ("an OFFSET", head.replace("OFFSET 0 1 0", f"OFFSET 0 {tok} 0") + rows + "1 2 3 4 5 6\n")):
            f = Path(tmp) / "attack.bvh"
            f.write_text(text)
            t = time.perf_counter()
            try:
                read_bvh(f)
                what = "read (should not be)"
            except ValueError as e:
                what = str(e).split(": ", 1)[1][:90]
            print(f"read_bvh, 30,000 digits + 'x' in {where} ({f.stat().st_size / 1e3:.0f} KB): "
                  f"{time.perf_counter() - t:.3f} s: {what}")


def ours(path):
    b = read_bvh(path)
    return b.positions(), b.n_frames


def theirs(path):
    from pymotion.io.bvh import BVH
    from pymotion.ops.skeleton_np import fk
    b = BVH()
    b.load(str(path))
    rots, local_pos, parents, *_ = b.get_data()
    pos, _ = fk(rots, local_pos[:, 0, :], local_pos, parents)
    return pos, len(local_pos)


def time_set(fn, files, repeat):
    "Best CPU seconds and best wall seconds over `repeat` passes, and the frames read per pass."
    cpu = wall = np.inf
    frames = 0
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        frames = 0
        for f in files:
            frames += fn(f)[1]
        cpu, wall = min(cpu, time.process_time() - c0), min(wall, time.perf_counter() - w0)
    return cpu, wall, frames


def memory_child(path):
    "Run in a fresh interpreter: peak RSS and tracemalloc peak of read + positions, in bytes."
    from emomotion.bvh import read_bvh as rb

    def status(key):
        with open("/proc/self/status") as f:
            return next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith(key + ":"))

    small = kinematic_skeleton(n_frames=5)
    with tempfile.TemporaryDirectory() as d:       # warm up imports and lazy code paths
        rb(write_bvh(small, Path(d) / "w.bvh")).positions()
    with open("/proc/self/clear_refs", "w") as f:  # reset the peak-RSS mark (VmHWM) to the current RSS
        f.write("5")
    before = status("VmRSS")
    b = rb(path)
    pos = b.positions()
    peak_rss = status("VmHWM") - before
    del b, pos
    tracemalloc.start()
    b = rb(path)
    pos = b.positions()
    _, peak_tm = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps(dict(motion=b.motion.nbytes, positions=pos.nbytes, rss=peak_rss, tracemalloc=peak_tm)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-kinematic", type=int, default=8, help="generated Kinematic-size files")
    ap.add_argument("--repeat", type=int, default=2, help="passes over each set; the best is kept")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--joints", action="store_true", help="only time header parsing, 10,000 vs 40,000 joints")
    ap.add_argument("--attacks", action="store_true", help="only time the hostile inputs that once made the reader hang")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child)
    if args.joints:
        return time_joints(args.repeat)
    if args.attacks:
        return time_attacks()

    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        lengths = rng.integers(1000, 2701, args.n_kinematic)
        lengths[:2] = [1000, 2700]                  # both ends of the range
        kin = [make_kinematic_file(Path(tmp) / f"K{i:02d}.bvh", int(n), rng) for i, n in enumerate(lengths)]
        sets = [("kinematic (generated)", kin)]
        if BANDAI.exists():
            sets.insert(0, ("bandai-namco-1", sorted(BANDAI.glob("*.bvh"))))
        else:
            print(f"(no Bandai data at {BANDAI}: skipped)")
        for name, files in sets:
            mb = sum(f.stat().st_size for f in files) / 1e6
            for f in files:                          # page cache warm for both readers
                f.read_bytes()
            # check both compute the same thing before timing them
            a, _ = ours(files[0])
            bpos, _ = theirs(files[0])
            assert np.abs(a - bpos).max() < 1e-4, "ours and pymotion disagree"
            c_ours, w_ours, frames = time_set(ours, files, args.repeat)
            c_pm, w_pm, _ = time_set(theirs, files, args.repeat)
            rows.append((name, len(files), mb, frames, c_ours, c_pm, w_ours, w_pm))
        print(f"\nread + positions of all joints, best of {args.repeat} passes, CPU seconds "
              f"(wall seconds in the last columns; python {sys.version.split()[0]}, numpy {np.__version__})\n")
        print(f"{'set':22s} {'files':>5s} {'MB':>6s} {'frames':>7s} | {'ours s':>6s} {'MB/s':>6s} "
              f"{'frames/s':>8s} | {'pymotion s':>10s} {'MB/s':>5s} {'frames/s':>8s} | {'speed-up':>8s} | "
              f"{'wall ours':>9s} {'pymotion':>8s} {'speed-up':>8s}")
        for name, n, mb, frames, to, tp, wo, wp in rows:
            print(f"{name:22s} {n:5d} {mb:6.1f} {frames:7d} | {to:6.2f} {mb / to:6.1f} {frames / to:8.0f} | "
                  f"{tp:10.2f} {mb / tp:5.1f} {frames / tp:8.0f} | {tp / to:7.1f}x | "
                  f"{wo:9.2f} {wp:8.2f} {wp / wo:7.1f}x")

        print("\npeak memory of one read + positions (generated files; fresh process each)")
        print(f"{'file':8s} {'frames':>6s} {'motion MB':>9s} {'RSS peak MB':>11s} {'x motion':>8s} "
              f"{'tracemalloc MB':>14s} {'x motion':>8s}")
        for f, n in sorted(zip(kin, lengths), key=lambda x: x[1])[:: max(1, len(kin) // 3)] + [(kin[1], lengths[1])]:
            out = subprocess.run([sys.executable, __file__, "--memory-child", str(f)], capture_output=True,
                                 text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"{f.stem:8s} {n:6d} {r['motion'] / 1e6:9.2f} {r['rss'] / 1e6:11.2f} {r['rss'] / r['motion']:8.2f} "
                  f"{r['tracemalloc'] / 1e6:14.2f} {r['tracemalloc'] / r['motion']:8.2f}")

        # writing: one 59-joint x 2,000-frame clip, the vectorised writer against Python's % formatting
        b = kinematic_skeleton(n_frames=2000)
        b.motion += rng.normal(0, 30, b.motion.shape)
        print("\nwrite_bvh of a 59-joint x 2,000-frame clip, best of 5, CPU seconds")
        for p in (6, 4):
            out = Path(tmp) / f"W{p}.bvh"
            tw = min(_cpu(lambda: write_bvh(b, out, precision=p)) for _ in range(5))
            rows_fmt = " ".join([f"%.{p}f"] * b.motion.shape[1]) + "\n"
            tp = min(_cpu(lambda: "".join(rows_fmt % tuple(r) for r in b.motion.tolist())) for _ in range(5))
            mb = out.stat().st_size / 1e6
            print(f"precision {p}: {mb:.2f} MB; write_bvh {tw:.3f} s = {mb / tw:.0f} MB/s; "
                  f"Python % formatting alone {tp:.3f} s = {mb / tp:.0f} MB/s")


def _wall(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def _cpu(f):
    t = time.process_time()
    f()
    return time.process_time() - t


if __name__ == "__main__":
    main()
