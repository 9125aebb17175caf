"""A seeded mutation fuzzer of the BVH reader, on real files.

Seeds: the parser fixtures and the two smallest Bandai Namco clips under ../shared/data, each cut
to its first few frames (the header is kept byte for byte). Each mutated file must either

- raise `BVHError` whose message names the file and a line, or
- read into positions that agree with an independent implementation (upc-pymotion, through
  `test_bvh_oracle.pymotion_fk`), and into a motion matrix equal to a naive parse of its frame lines;

never another exception, and never more than 1 s per file. pymotion is far more lenient than our
reader and reads some valid layouts wrongly or not at all (lower-case channel names, a brace on
the JOINT line, names with spaces, 0, 1, 2, 4 or 5 channels, rotations before positions). When it
fails or disagrees on the raw text, our record is written back in canonical form and compared
there; where pymotion cannot represent the layout at all, or the angles are too large for two
implementations to agree (|angle| > 1e6 degrees), only the round trip is checked. Every such case
is counted by reason and printed; none is silent.

300 mutations by default (well under a minute on one core); more with `--fuzz-n N` or the
environment variable EMOMOTION_FUZZ_N, another random stream with `--fuzz-seed S` or
EMOMOTION_FUZZ_SEED (default 0; the options win). Two families aim at the number reader: thousands
of digits in an OFFSET or a frame line (with or without a trailing letter), and tokens of 60-40,000
characters (one longer than `bvh.MAX_NUMBER_CHARS`, 350, must be a BVHError on its line, fast). The mutation helpers (`mutate`,
`MUTATIONS`) are shared with tests/test_bvh_broken.py.
"""
import os
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from emomotion.bvh import FRAME_TIME_RANGE, BVHError, read_bvh
from emomotion.bvh_writer import write_bvh

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SEED_FRAMES = 4
TOL = 1e-4            # as in test_bvh_oracle: file units (plus REL_TOL of the largest coordinate)
REL_TOL = 1e-6        # pymotion loses ~1.2e-7 of a coordinate (float32 eps): a root at 1e5 cm differed by 0.008
MAX_SECONDS = 1.0     # per file


# --- mutations ------------------------------------------------------------------------------------

_NUM = re.compile(rb"[+-]?+(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][+-]?+\d++)?+")   # linear: no backtracking
_WEIRD = [b"\x00", b"\xff", b"\xe9", b"\xc3", "ü".encode(), "\u0663".encode(), "\uff13".encode(),
          "\u00a0".encode(), "\ufeff".encode(), b"\r", b"\t", b"\x0b", b"\x1c", b"\x85"]
_TOKENS = [b"{", b"}", b" ", b"\n", b"-", b".", b"e", b"nan", b"inf", b"End Site", b"JOINT x", b"OFFSET 0 0 0",
           b"CHANNELS 3 Xrotation Yrotation Zrotation", b"MOTION", b"Frames:", b"ROOT"]
_HUGE = [b"1e308", b"1e309", b"-1e308", b"9" * 400, b"7" * 5000, b"1" + b"0" * 30, b"99999999999999999999", b"4e-324",
         b"0.000000000000000000000000001", b"-0", b"+5", b".5", b"5.", b"1E5"]


def _pos(b, rng):
    return int(rng.integers(0, len(b))) if len(b) else 0


def _lines(b):
    return bytes(b).split(b"\n")


def m_truncate(b, rng):
    return b[:_pos(b, rng)]


def m_byte(b, rng):
    i = _pos(b, rng)
    return b[:i] + bytes([int(rng.integers(0, 256))]) + b[i + 1:]


def m_bit(b, rng):
    i = _pos(b, rng)
    return b[:i] + bytes([b[i] ^ (1 << int(rng.integers(0, 8)))]) + b[i + 1:] if b else b


def m_digit(b, rng):
    "One ASCII digit changed to another: most such files stay valid and test the numbers read."
    ds = [m.start() for m in re.finditer(rb"\d", b)]
    if not ds:
        return b
    i = ds[int(rng.integers(0, len(ds)))]
    return b[:i] + bytes([ord("0") + int(rng.integers(0, 10))]) + b[i + 1:]


def m_token(b, rng):
    "Delete or duplicate one whitespace-separated token."
    toks = [m.span() for m in re.finditer(rb"\S+", b)]
    if not toks:
        return b
    s, e = toks[int(rng.integers(0, len(toks)))]
    return b[:s] + b[e:] if rng.random() < 0.5 else b[:e] + b" " + b[s:e] + b[e:]


def m_line(b, rng):
    "Delete, duplicate or swap lines."
    ls = _lines(b)
    i, j = int(rng.integers(0, len(ls))), int(rng.integers(0, len(ls)))
    op = int(rng.integers(0, 3))
    if op == 0:
        del ls[i]
    elif op == 1:
        ls.insert(i, ls[i])
    else:
        ls[i], ls[j] = ls[j], ls[i]
    return b"\n".join(ls)


def m_garbage(b, rng):
    "Insert 1-8 random bytes."
    i = _pos(b, rng)
    return b[:i] + bytes(rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8)) + b[i:]


def m_weird(b, rng):
    "Insert a NUL, a stray CR, a Latin-1 byte, a non-ASCII digit or space, a byte order mark, ..."
    i = _pos(b, rng)
    return b[:i] + _WEIRD[int(rng.integers(0, len(_WEIRD)))] + b[i:]


def m_insert_token(b, rng):
    i = _pos(b, rng)
    return b[:i] + _TOKENS[int(rng.integers(0, len(_TOKENS)))] + b[i:]


def m_number(b, rng):
    "Replace one number by a huge, tiny, overlong or oddly written one."
    nums = [m.span() for m in _NUM.finditer(b)]
    if not nums:
        return b
    s, e = nums[int(rng.integers(0, len(nums)))]
    return b[:s] + _HUGE[int(rng.integers(0, len(_HUGE)))] + b[e:]


def _number_spans(b, rng) -> list[tuple[int, int]]:
    "Spans of the numbers of one OFFSET line, or of the frame lines (after `Frame Time:`): either, at random."
    ft = b.find(b"Frame Time")
    motion_at = b.find(b"\n", ft) + 1 if ft >= 0 else len(b)
    if rng.random() < 0.5:
        return [m.span() for m in _NUM.finditer(b, motion_at)]
    return [m.span() for o in re.finditer(rb"OFFSET", b[:motion_at]) for m in _NUM.finditer(b[:b.find(b"\n", o.end())], o.end())]


_TAILS = [b"", b"", b"x", b"e", b"e5", b".", b"-", b"nan", b"\xff", b"{"]


def m_many_digits(b, rng):
    "A number in an OFFSET or a frame line replaced by one of thousands of digits, with or without a trailing letter."
    spans = _number_spans(b, rng)
    if not spans:
        return b
    s, e = spans[int(rng.integers(0, len(spans)))]
    n = int(rng.choice([300, 351, 1000, 5000, 30000, int(rng.integers(100, 40000))]))
    digits = bytes(rng.integers(48, 58, n, dtype=np.uint8))
    if rng.random() < 0.3:                            # a decimal point somewhere in the run
        k = int(rng.integers(0, n))
        digits = digits[:k] + b"." + digits[k:]
    sign = [b"", b"-", b"+"][int(rng.integers(0, 3))]
    return b[:s] + sign + digits + _TAILS[int(rng.integers(0, len(_TAILS)))] + b[e:]


def m_long_token(b, rng):
    "A token of 60-40,000 characters (number bytes, letters) in place of a number or anywhere; some just past the bound."
    n = int(rng.choice([60, 349, 350, 351, 352, 1000, 5000, 40000, int(rng.integers(60, 40000))]))
    alphabet = np.frombuffer(rng.choice([b"0123456789.eE+-", b"0123456789x", b"abcXYZ_0", b"7"]), np.uint8)
    tok = bytes(rng.choice(alphabet, n))
    spans = _number_spans(b, rng)
    if spans and rng.random() < 0.7:
        s, e = spans[int(rng.integers(0, len(spans)))]
        return b[:s] + tok + b[e:]
    i = _pos(b, rng)
    return b[:i] + tok + b[i:]


def m_channels(b, rng):
    "Change a CHANNELS count, drop or swap a channel name, or lower-case one."
    ms = list(re.finditer(rb"CHANNELS[ \t]+(\d+)((?:[ \t]+[A-Za-z]+)*)", b))
    if not ms:
        return b
    m = ms[int(rng.integers(0, len(ms)))]
    names = m.group(2).split()
    op = int(rng.integers(0, 4))
    if op == 0:
        new = b"CHANNELS %d " % int(rng.choice([0, 1, 2, 3, 4, 5, 6, 7, len(names) - 1, len(names) + 1])) + b" ".join(names)
    elif op == 1 and names:
        k = int(rng.integers(0, len(names)))
        new = b"CHANNELS %d " % (len(names) - 1) + b" ".join(names[:k] + names[k + 1:])
    elif op == 2 and len(names) > 1:
        k, q = rng.choice(len(names), 2, replace=False)
        names[k], names[q] = names[q], names[k]
        new = b"CHANNELS %d " % len(names) + b" ".join(names)
    else:
        new = m.group(0).lower().replace(b"channels", b"CHANNELS")
    return b[:m.start()] + new + b[m.end():]


def m_timing(b, rng):
    "Set Frames: one off, or Frame Time to an implausible value."
    if rng.random() < 0.5:
        return re.sub(rb"Frames:[ \t]*(\d+)", lambda m: b"Frames: %d" % (int(m.group(1)) + int(rng.choice([-1, 1]))), b)
    ft = rng.choice([b"0", b"-0.03", b"5e-324", b"1e300", b"nan", b"inf", b"0.00001", b"11", b"0.0001", b"10", b"1"])
    return re.sub(rb"Frame Time:[ \t]*\S+", b"Frame Time: " + ft, b)


MUTATIONS = [m_truncate, m_byte, m_bit, m_digit, m_digit, m_token, m_line, m_garbage, m_weird,
             m_insert_token, m_number, m_channels, m_timing, m_many_digits, m_long_token]


def mutate(raw: bytes, rng, n_edits: int | None = None) -> tuple[bytes, str]:
    "1-3 random edits of `raw` (seeded by `rng`); returns the new bytes and the edits' names."
    n = int(rng.integers(1, 4)) if n_edits is None else n_edits
    kinds = []
    for _ in range(n):
        f = MUTATIONS[int(rng.integers(0, len(MUTATIONS)))]
        raw = f(raw, rng)
        kinds.append(f.__name__[2:])
    return raw, "+".join(kinds)


# --- seed files -------------------------------------------------------------------------------------

def seed_files() -> list[Path]:
    fixtures = sorted((DATA / "fixtures").glob("*/*.bvh"))
    bandai = sorted((DATA / "bandai-namco-1" / "data").glob("*.bvh"), key=lambda p: (p.stat().st_size, p.name))[:2]
    return fixtures + bandai


def first_frames(raw: bytes, n: int = SEED_FRAMES) -> bytes:
    "`raw` with only its first `n` frame lines and `Frames: n`; the header is kept byte for byte."
    m = re.search(rb"Frames:[ \t]*(\d+)(\r?\n)Frame Time:[^\n]*\n", raw)
    assert m, "no Frames:/Frame Time: lines"
    head = raw[:m.start(1)] + b"%d" % n + raw[m.end(1):m.end()]
    frames = raw[m.end():].split(b"\n")[:n]
    return head + b"\n".join(frames) + b"\n"


# --- the checks -------------------------------------------------------------------------------------

_NOT_MOTION = re.compile(rb"[^0-9+\-.eE \t\r\x0b\x0c]")


def naive_motion(raw: bytes) -> np.ndarray:
    "The frame lines (every line after the last one holding a byte no number is made of), parsed naively."
    lines = raw.split(b"\n")
    last = max(i for i, ln in enumerate(lines) if _NOT_MOTION.search(ln))
    return np.array([[float(v) for v in ln.split()] for ln in lines[last + 1:] if ln.split()])


_PYMOTION_KEYWORDS = ("HIERARCHY", "MOTION", "ROOT", "JOINT", "End Site", "OFFSET", "CHANNELS", "Frame")


def pymotion_layout_ok(b) -> bool:
    """Whether pymotion's loader can represent this record: 3 rotations, or 3 positions then 3
    rotations, per joint; names without whitespace or its keywords (it matches them anywhere in a line)."""
    def ok(chans):
        kinds = [c.endswith("position") for c in chans]
        return kinds == [False] * 3 or kinds == [True] * 3 + [False] * 3
    return all(ok(c) for c in b.channels) and not any(
        re.search(r"\s", j) or any(k in j for k in _PYMOTION_KEYWORDS) for j in b.joints)


def agrees(r, ours, path) -> tuple[bool, str]:
    "Compare our record `r` and its positions `ours` (joints, End Sites) with pymotion's reading of `path`."
    from test_bvh_oracle import pymotion_fk
    try:
        names, parents, _, _, end_parents, pos, ends = pymotion_fk(path)
        theirs = np.concatenate([pos, ends], 1)
    except Exception as exc:            # pymotion's own failure, not ours
        return False, f"pymotion fails ({type(exc).__name__})"
    if theirs.shape != ours.shape:
        return False, "pymotion reads another shape"
    if list(names) != r.joints or list(parents[1:]) != list(r.parents[1:]) or list(end_parents) != [p for p, _ in r.end_sites]:
        return False, "pymotion reads another skeleton"
    scale = max(1.0, float(np.nanmax(np.abs(np.where(np.isfinite(ours), ours, 0)), initial=0)))
    if not np.allclose(ours, theirs, rtol=0, atol=TOL + REL_TOL * scale, equal_nan=True):
        return False, "pymotion reads other positions"
    return True, ""


def check_rules(r, raw: bytes, label: str):
    "What a file that was read must satisfy: the reader's documented rules (see nbs/00_bvh.ipynb)."
    lo, hi = FRAME_TIME_RANGE
    assert lo <= r.frame_time <= hi, f"{label}: Frame Time {r.frame_time} accepted"
    text = raw.removeprefix(b"\xef\xbb\xbf")
    for ln in text.split(b"\n"):           # non-ASCII bytes only inside joint names
        if max(ln, default=0) >= 0x80:
            assert ln.split()[0] in (b"ROOT", b"JOINT"), f"{label}: non-ASCII bytes accepted in {ln[:60]!r}"
    for name in r.joints:                   # names exactly as written, in UTF-8
        assert name.encode() in text, f"{label}: joint name {name!r} is not in the file as written"


def check_one(path: Path, raw: bytes, tmp: Path, stats: Counter, label: str):
    t0 = time.perf_counter()
    try:
        r = read_bvh(path)
    except BVHError as e:
        dt = time.perf_counter() - t0
        stats["slowest_ms"] = max(stats["slowest_ms"], int(dt * 1000))
        assert e.path == str(path) and str(path) in str(e), f"{label}: error does not name the file: {e}"
        assert isinstance(e.line, int) and e.line >= 1 and f"line {e.line}" in str(e), f"{label}: no line: {e}"
        assert dt < MAX_SECONDS, f"{label}: BVHError after {dt:.2f} s"
        stats["BVHError"] += 1
        return
    except Exception as e:                           # noqa: BLE001 - the point of the test
        pytest.fail(f"{label}: {type(e).__name__} instead of BVHError: {e}")
    dt = time.perf_counter() - t0
    stats["slowest_ms"] = max(stats["slowest_ms"], int(dt * 1000))
    assert dt < MAX_SECONDS, f"{label}: read in {dt:.2f} s"
    stats["read"] += 1
    check_rules(r, raw, label)
    C = sum(map(len, r.channels))
    np.testing.assert_array_equal(r.motion, naive_motion(raw).reshape(r.n_frames, C), err_msg=label)
    ours = r.positions(end_sites=True)
    ok, why = agrees(r, ours, path)
    if ok:
        stats["oracle: pymotion agrees on the raw file"] += 1
        return
    canon = write_bvh(r, tmp / "canonical.bvh", precision=9)
    back = read_bvh(canon)
    assert back.joints == r.joints and back.channels == r.channels, label
    np.testing.assert_allclose(back.motion, r.motion, rtol=1e-9, atol=1e-9, err_msg=label)
    if not pymotion_layout_ok(r):
        stats[f"round trip only: a layout pymotion cannot read ({why} on the raw file)"] += 1
        return
    if np.abs(r.motion).max(initial=0) > 1e6:
        stats[f"round trip only: angles beyond 1e6 degrees ({why} on the raw file)"] += 1
        return
    ok2, why2 = agrees(r, ours, canon)
    assert ok2, f"{label}: pymotion disagrees on the canonical file too ({why2}); on the raw file: {why}"
    stats[f"oracle: pymotion agrees on the canonical file ({why} on the raw file)"] += 1


def fuzz(tmp: Path, n: int, seed: int = 0) -> Counter:
    seeds = [(p, first_frames(p.read_bytes())) for p in seed_files()]
    rng = np.random.default_rng(seed)
    stats = Counter()
    for it in range(n):
        src, raw = seeds[it % len(seeds)]
        mutated, kinds = mutate(raw, rng)
        p = tmp / f"m{it}.bvh"
        p.write_bytes(mutated)
        check_one(p, mutated, tmp, stats, f"mutation {it} ({kinds}) of {src.name}, seed {seed}")
        p.unlink()
    return stats


@pytest.fixture
def fuzz_n(request) -> int:
    n = request.config.getoption("--fuzz-n", default=None)
    return int(n if n is not None else os.environ.get("EMOMOTION_FUZZ_N", 300))


@pytest.fixture
def fuzz_seed(request) -> int:
    s = request.config.getoption("--fuzz-seed", default=None)
    return int(s if s is not None else os.environ.get("EMOMOTION_FUZZ_SEED", 0))


def test_seed_files_read_and_agree(tmp_path):
    "The unmutated seeds read and agree with pymotion (else the fuzzer checks nothing)."
    pytest.importorskip("pymotion.io.bvh")
    files = seed_files()
    if not files:
        pytest.skip(f"no shared data at {DATA}")
    stats = Counter()
    for p in files:
        raw = first_frames(p.read_bytes())
        q = tmp_path / p.name
        q.write_bytes(raw)
        assert read_bvh(q).n_frames == SEED_FRAMES
        check_one(q, raw, tmp_path, stats, p.name)
    assert stats["oracle: pymotion agrees on the raw file"] == len(files), stats


def test_mutations_raise_bvherror_or_agree(tmp_path, fuzz_n, fuzz_seed):
    pytest.importorskip("pymotion.io.bvh")
    if not seed_files():
        pytest.skip(f"no shared data at {DATA}")
    stats = fuzz(tmp_path, fuzz_n, fuzz_seed)
    print(f"\n{fuzz_n} mutated files (seed {fuzz_seed}); slowest {stats.pop('slowest_ms', 0) / 1000:.3f} s:")
    for k, v in sorted(stats.items()):
        print(f"  {v:5d}  {k}")
    assert stats["BVHError"] + stats["read"] == fuzz_n
    # the fuzzer must exercise both outcomes, and most files read must meet the oracle
    assert stats["BVHError"] >= fuzz_n // 4 and stats["read"] >= fuzz_n // 10, stats
    compared = sum(v for k, v in stats.items() if k.startswith("oracle:"))
    assert compared >= 0.8 * stats["read"], stats


def test_mutate_is_deterministic():
    raw = b"HIERARCHY\nROOT a\n{\n\tOFFSET 0 0 0\n\tCHANNELS 3 Zrotation Xrotation Yrotation\n}\nMOTION\n" \
          b"Frames: 1\nFrame Time: 0.1\n1 2 3\n"
    a = [mutate(raw, np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1]
    outs = {mutate(raw, np.random.default_rng(s))[0] for s in range(50)}
    assert len(outs) > 40
