"""Broken BVH files: each must raise `BVHError` naming the file and the right line.

Never a hang (every test runs under a 20 s alarm), never a raw IndexError/KeyError/MemoryError, never a
silently wrong array. The base file is small and hand-written, with mixed 6- and 3-channel joints and
two rotation orders, so the line numbers below can be read off it.
"""
import codecs
import importlib.util
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from emomotion.bvh import BVHError, read_bvh
from emomotion.bvh_writer import write_bvh
from test_bvh_fuzz import mutate, naive_motion

BASE = """HIERARCHY
ROOT Hips
{
\tOFFSET 0.0 0.0 0.0
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\tJOINT Spine
\t{
\t\tOFFSET 0.0 10.0 0.0
\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0.0 5.0 0.0
\t\t}
\t}
\tJOINT Leg
\t{
\t\tOFFSET 3.0 -10.0 0.0
\t\tCHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0.0 -5.0 0.0
\t\t}
\t}
}
MOTION
Frames: 4
Frame Time: 0.0333333
1.0 90.0 2.0 0.0 0.0 0.0 10.0 20.0 30.0 3.0 -10.0 0.0 5.0 -5.0 0.5
1.1 90.1 2.1 1.0 0.5 0.2 11.0 21.0 31.0 3.0 -10.0 0.0 6.0 -4.0 1.5
1.2 90.2 2.2 2.0 1.0 0.4 12.0 22.0 32.0 3.0 -10.0 0.0 7.0 -3.0 2.5
1.3 90.3 2.3 3.0 1.5 0.6 13.0 23.0 33.0 3.0 -10.0 0.0 8.0 -2.0 3.5
"""
LINES = BASE.splitlines()
assert LINES[24] == "MOTION" and LINES[27].startswith("1.0 90.0")   # line 25, line 28 (1-based)


@pytest.fixture(autouse=True)
def no_hang():
    def fail(*_):
        pytest.fail("read_bvh hung")     # not TimeoutError: that is an OSError, which read_bvh reports as one
    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def edit(repl=None, delete=(), insert=None, text=None):
    """BASE with 1-based line `repl` {line: new text}, `delete` lines, `insert` {after line: text}."""
    out = []
    for i, ln in enumerate(LINES, 1):
        if i not in delete:
            out.append((repl or {}).get(i, ln))
        if insert and i in insert:
            out.append(insert[i])
    return "\n".join(out) + "\n"


def data_line(i, f):
    "BASE with frame line i (1-based file line) transformed by f(list of tokens) -> tokens."
    return edit({i: " ".join(f(LINES[i - 1].split()))})


def set_tok(i, k, value):
    return data_line(i, lambda t: t[:k] + [value] + t[k + 1:])


CASES = [
    # name, file content (str or bytes), expected line, words the message must contain
    ("empty", b"", 1, "empty"),
    ("whitespace only", "\n  \n\t\n", 3, "empty"),
    ("binary with NULs", bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), None, ""),
    ("binary without NULs", bytes(np.random.default_rng(1).integers(1, 256, 4096, dtype=np.uint8)), None, ""),
    ("png header", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, "not a BVH"),
    ("utf-16 text", codecs.BOM_UTF16_LE + BASE.encode("utf-16-le"), 1, "binary"),
    ("no HIERARCHY", edit(delete={1}), 1, "HIERARCHY"),
    ("hierarchy cut short", "\n".join(LINES[:12]) + "\n", 12, "end of file"),
    ("motion cut mid-line", "\n".join(LINES[:29]) + "\n" + LINES[29][:20], 30, "values, expected 15"),
    ("motion cut at a line end", "\n".join(LINES[:29]) + "\n", 29, "truncated"),
    ("no frame lines at all", "\n".join(LINES[:27]) + "\n", 27, "truncated"),
    ("one value too few", data_line(29, lambda t: t[:-1]), 29, "14 values, expected 15"),
    ("one value too many", data_line(30, lambda t: t + ["1.0"]), 30, "16 values, expected 15"),
    ("values split over two lines", data_line(30, lambda t: t[:7] + ["\n"] + t[7:]), 30, "values, expected 15"),
    ("Frames too large", edit({26: "Frames: 5"}), 31, "truncated"),
    ("Frames too small", edit({26: "Frames: 3"}), 31, "more frame lines"),
    ("Frames absurdly large", edit({26: "Frames: 1000000000000"}), 31, "truncated"),
    ("Frames not whole", edit({26: "Frames: 2.5"}), 26, "whole number"),
    ("Frames negative", edit({26: "Frames: -1"}), 26, "whole number"),
    ("Frames missing", edit(delete={26}), 26, "Frames:"),
    ("non-numeric token", set_tok(29, 3, "abc"), 29, "not a number: 'abc'"),
    ("decimal comma", set_tok(29, 0, "1,5"), 29, "not a number"),
    ("hex number", set_tok(31, 14, "0x10"), 31, "not a number"),
    ("NaN", set_tok(30, 5, "nan"), 30, "not a finite number"),
    ("NaN upper case", set_tok(30, 5, "NaN"), 30, "not a finite number"),
    ("inf", set_tok(28, 1, "inf"), 28, "not a finite number"),
    ("-Infinity", set_tok(28, 1, "-Infinity"), 28, "not a finite number"),
    ("overflow", set_tok(31, 2, "1e999"), 31, "overflows"),
    ("NA", set_tok(31, 2, "NA"), 31, "not a number"),
    ("quoted number", set_tok(31, 2, '"1.0"'), 31, "not a number"),
    ("garbage after the data", BASE + "end of data\n", 32, "values, expected 15"),
    ("random bytes after the data", BASE.encode() + bytes(range(1, 255)) * 4, 32, ""),
    ("NaN in OFFSET", edit({8: "OFFSET 0.0 nan 0.0"}), 8, "finite"),
    ("OFFSET with two numbers", edit({8: "OFFSET 0.0 10.0"}), 9, "number for OFFSET z"),
    ("joint without OFFSET", edit(delete={8}), 13, "no OFFSET"),
    ("End Site without OFFSET", edit(delete={12}), 12, "no OFFSET"),
    ("unknown channel name", edit({9: "CHANNELS 3 Zrotation Wrotation Yrotation"}), 9, "unknown channel name 'Wrotation'"),
    ("CHANNELS count above names", edit({9: "CHANNELS 4 Zrotation Xrotation Yrotation"}), 10, "unknown channel name 'End'"),
    ("CHANNELS count of 7", edit({9: "CHANNELS 7 Zrotation Xrotation Yrotation"}), 9, "0 to 6"),
    ("CHANNELS count not a number", edit({9: "CHANNELS Zrotation Xrotation Yrotation"}), 9, "0 to 6"),
    ("channel listed twice", edit({9: "CHANNELS 3 Zrotation Zrotation Yrotation"}), 9, "twice"),
    ("two CHANNELS lines", edit(insert={9: "CHANNELS 3 Zrotation Xrotation Yrotation"}), 10, "second CHANNELS"),
    ("CHANNELS in an End Site", edit(insert={12: "CHANNELS 3 Zrotation Xrotation Yrotation"}), 13, "End Site cannot"),
    ("missing closing brace", edit(delete={14}), 24, "unbalanced braces"),
    ("extra closing brace", edit(insert={24: "}"}), 25, "unbalanced braces"),
    ("missing opening brace", edit(delete={7}), 7, "expected '{'"),
    ("duplicate joint name", edit({15: "JOINT Spine"}), 15, "duplicate joint name 'Spine' (first at line 6)"),
    ("duplicate joint name, spaces around", edit({15: "JOINT   Spine  {"}), 15, "duplicate joint name 'Spine'"),
    ("JOINT without a name", edit({6: "JOINT"}), 6, "without a name"),
    ("second ROOT", edit(insert={24: "ROOT Other"}), 25, "second ROOT"),
    ("MOTION missing", edit(delete={25}), 25, "MOTION"),
    ("Frame Time missing", edit(delete={27}), 27, "Frame Time"),
    ("Frame Time zero", edit({27: "Frame Time: 0"}), 27, "Frame Time must be from 0.0001 to 10.0"),
    ("Frame Time negative", edit({27: "Frame Time: -0.0333"}), 27, "Frame Time must be from"),
    ("Frame Time denormal (fps = inf)", edit({27: "Frame Time: 5e-324"}), 27, "found 5e-324"),
    ("Frame Time 1e300", edit({27: "Frame Time: 1e300"}), 27, "found 1e+300"),
    ("Frame Time above 10 s", edit({27: "Frame Time: 10.5"}), 27, "Frame Time must be from"),
    ("Frame Time below 1e-4 s", edit({27: "Frame Time: 0.00009"}), 27, "Frame Time must be from"),
    ("Frame Time nan", edit({27: "Frame Time: nan"}), 27, "not a finite number"),
    ("Frame Time Arabic-Indic digits", edit({27: "Frame Time: \u0660.\u0660\u0663"}), 27, "number for Frame Time"),
    ("OFFSET Arabic-Indic digit", edit({8: "OFFSET 0.0 1\u0660.0 0.0"}), 8, "number for OFFSET y"),
    ("OFFSET full-width digit", edit({8: "OFFSET 0.0 \uff11\uff10 0.0"}), 8, "number for OFFSET y"),
    ("Frames Arabic-Indic digit", edit({26: "Frames: \u0664"}), 26, "whole number"),
    ("CHANNELS count Arabic-Indic", edit({9: "CHANNELS \u0663 Zrotation Xrotation Yrotation"}), 9, "0 to 6"),
    ("motion Arabic-Indic digit", set_tok(29, 2, "\u0662.0"), 29, "not a number"),
    ("Frames of 5,000 digits", edit({26: "Frames: " + "9" * 5000}), 26, "at most 18 digits"),
    ("CHANNELS count of 5,000 digits", edit({9: "CHANNELS " + "0" * 4999 + "3 Zrotation Xrotation Yrotation"}), 9, "0 to 6"),
    ("Latin-1 joint names", edit({6: "\tJOINT H\xfcfte", 15: "\tJOINT H\xe4fte"}).encode("latin-1"), 6, "not UTF-8 text: byte 0xfc"),
    ("invalid UTF-8 after MOTION header", edit({27: "Frame Time: 0.0333333 \udcff"}).encode("utf-8", "surrogateescape"), 27, "not UTF-8"),
    ("a brace inside a joint name", edit({6: "\tJOINT Sp{ine"}), 6, "a brace inside the JOINT name"),
    ("Unicode space is not whitespace", edit({8: "OFFSET\u00a00.0 10.0 0.0"}), 8, "unexpected"),
    ("Frame Time not a number", edit({27: "Frame Time: fast"}), 27, "number for Frame Time"),
    ("Frame Time infinite", edit({27: "Frame Time: inf"}), 27, "Frame Time"),
    ("text after Frame Time", edit({27: "Frame Time: 0.0333 extra"}), 27, "after the Frame Time"),
    ("no channels anywhere", "HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\n\n", 7, "no channels"),
    ("carriage return inside a frame line", data_line(29, lambda t: t[:4] + ["\r"] + t[4:]), 29, "carriage return"),
    ("old Mac line endings", BASE.replace("\n", "\r"), 1, "carriage return"),
    ("a header line of a megabyte", "HIERARCHY\nROOT " + "x" * 1_000_000 + "\n", 2, "longer than"),
    ("a line longer than any frame", "\n".join(LINES[:27]) + "\n" + "1" * 3_000_000, 28, "longer than"),
]


@pytest.mark.parametrize("name,content,line,words", CASES, ids=[c[0] for c in CASES])
def test_broken_file(tmp_path, name, content, line, words):
    p = tmp_path / "broken.bvh"
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(BVHError) as info:
        read_bvh(p)
    e = info.value
    assert e.path == str(p) and str(p) in str(e)
    if line is None:
        assert isinstance(e.line, int) and e.line >= 1
    else:
        assert e.line == line, f"{name}: expected line {line}, got {e.line}: {e}"
        assert f"line {line}" in str(e)
    assert words in e.message, f"{name}: {e.message!r} lacks {words!r}"


def test_base_file_is_valid(tmp_path):
    p = tmp_path / "ok.bvh"
    p.write_text(BASE)
    b = read_bvh(p)
    assert b.joints == ["Hips", "Spine", "Leg"] and list(b.parents) == [-1, 0, 0]
    assert b.motion.shape == (4, 15) and b.motion[3, 14] == 3.5 and b.frame_time == 0.0333333
    assert [p for p, _ in b.end_sites] == [1, 2]


@pytest.mark.parametrize("variant", ["crlf", "no final newline", "blank lines", "tabs and spaces",
                                     "Frames:4 glued", "lower-case channels", "trailing blank lines",
                                     "UTF-8 byte order mark"])
def test_harmless_variants_read_the_same(tmp_path, variant):
    base = tmp_path / "base.bvh"
    base.write_text(BASE)
    text = {
        "crlf": BASE.replace("\n", "\r\n"),
        "no final newline": BASE.rstrip("\n"),
        "blank lines": edit(insert={28: "", 29: "   \t "}),
        "tabs and spaces": BASE.replace(" 1.1 ", "\t 1.1\t").replace("90.0 ", "90.0\t\t"),
        "Frames:4 glued": edit({26: "Frames:4"}),
        "lower-case channels": BASE.replace("Zrotation", "zrotation"),
        "trailing blank lines": BASE + "\n\n   \n",
        "UTF-8 byte order mark": "\ufeff" + BASE,
    }[variant]
    p = tmp_path / "v.bvh"
    p.write_bytes(text.encode())
    a, b = read_bvh(base), read_bvh(p)
    assert a.joints == b.joints and a.channels == b.channels
    np.testing.assert_array_equal(a.motion, b.motion)


def test_missing_file_and_directory(tmp_path):
    for p in (tmp_path / "nope.bvh", tmp_path):
        with pytest.raises(BVHError) as info:
            read_bvh(p)
        assert info.value.path == str(p) and info.value.line is None


@pytest.mark.parametrize("kind", ["fifo", "directory", "symlink to a device", "symlink to a fifo"])
def test_not_a_regular_file(tmp_path, kind):
    "A FIFO named *.bvh used to block read_bvh forever: anything but a regular file is refused up front."
    signal.alarm(5)                               # no_hang's handler turns a hang into a failure
    p = tmp_path / "take.bvh"
    if kind == "directory":
        p.mkdir()
    elif kind == "symlink to a device":
        p.symlink_to("/dev/zero")
    else:
        os.mkfifo(tmp_path / "pipe")
        (p.symlink_to if kind == "symlink to a fifo" else lambda t: os.rename(t, p))(tmp_path / "pipe")
    with pytest.raises(BVHError) as info:
        read_bvh(p)
    e = info.value
    assert e.path == str(p) and str(p) in str(e) and "not a regular file" in e.message, e
    what = {"fifo": "a FIFO", "directory": "a directory", "symlink to a device": "a character device",
            "symlink to a fifo": "a FIFO"}[kind]
    assert f"({what})" in e.message, e


def test_symlink_to_a_file_is_read(tmp_path):
    (tmp_path / "real.bvh").write_text(BASE)
    (tmp_path / "link.bvh").symlink_to(tmp_path / "real.bvh")
    assert read_bvh(tmp_path / "link.bvh").motion.shape == (4, 15)


def test_names_are_kept_as_written(tmp_path):
    "Names that differ in any byte stay different (no U+FFFD, no collapsed spaces), and survive a round trip."
    names = ["Hüfte", "Left\u00a0Arm", "Left  Arm", "Left Arm", "腰"]
    lines = LINES[:5] + [f"\tJOINT {n}\n\t{{\n\t\tOFFSET 0 1 0\n\t}}" for n in names] + ["}"] + LINES[24:27]
    lines += ["0 0 0 0 0 0"] * 4
    p = tmp_path / "names.bvh"
    p.write_bytes(("\n".join(lines) + "\n").encode())
    b = read_bvh(p)
    assert b.joints == ["Hips"] + names
    assert read_bvh(write_bvh(b, tmp_path / "again.bvh")).joints == b.joints


def _benchmark():
    spec = importlib.util.spec_from_file_location("bvh_speed", Path(__file__).parents[1] / "benchmarks" / "bvh_speed.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_forty_thousand_joints(tmp_path):
    """The header parser is linear in the number of joints (a list lookup made it quadratic: 40,000
    joints took 11-15 s). The speed itself is measured by `benchmarks/bvh_speed.py --joints`; this
    checks the file benchmarked there parses right, with a generous safeguard."""
    signal.alarm(120)           # wall clock: writing and reading 40,000 joints on a busy machine; CPU time is checked below
    f = _benchmark().make_many_joints_file(tmp_path / "J.bvh", 40_000)
    t = time.process_time()                       # CPU seconds: other processes on the machine do not count
    b = read_bvh(f)
    dt = time.process_time() - t
    assert len(b.joints) == 40_000 and b.joints[-1] == "j39999" and b.n_frames == 2
    assert (b.parents[1:] < np.arange(1, 40_000)).all() and len(b.end_sites) == 5_000
    assert dt < 5.0, f"40,000 joints took {dt:.1f} CPU seconds"


def test_random_mutations_raise_only_bvherror(tmp_path):
    """Fuzz: 400 seeded mutations of the base file (tests/test_bvh_fuzz.py's `mutate`). Each either
    reads into a consistent record or raises BVHError with a line."""
    rng = np.random.default_rng(0)
    raw = BASE.encode()
    ok = bad = 0
    for it in range(400):
        b, kinds = mutate(raw, rng)
        p = tmp_path / f"m{it}.bvh"
        p.write_bytes(b)
        try:
            r = read_bvh(p)
        except BVHError as e:
            assert e.path == str(p) and isinstance(e.line, int) and e.line >= 1, (kinds, repr(e))
            bad += 1
            continue
        ok += 1
        assert r.motion.shape == (r.n_frames, sum(map(len, r.channels)))
        # what was read is what a naive parse of the frame lines gives
        np.testing.assert_array_equal(r.motion, naive_motion(b).reshape(r.motion.shape), err_msg=kinds)
        assert np.isfinite(r.motion).all() and np.isfinite(r.positions(end_sites=True)).all()
    assert ok > 5 and bad > 100, (ok, bad)


# ---------------------------------------------------------------- untrusted text in linear time
def test_number_pattern_is_linear_and_unchanged():
    """`_NUMBER_RE` on '7' * 16,000 + 'x' took 17 s (`[0-9]+\\.?[0-9]*` tried every split of the digit run); now
    every pattern the reader applies to file text is possessive. It still accepts exactly what the old one did."""
    import re
    from emomotion import bvh
    for pat in (bvh._NUMBER_RE, bvh._INT_RE, bvh._TOKEN_RE):
        t = time.perf_counter()
        pat.fullmatch("7" * 16_000 + "x")
        pat.fullmatch("7" * 16_000 + ".")
        pat.findall("7" * 16_000 + "x")
        assert time.perf_counter() - t < 1.0, pat.pattern
    old = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
    rng = np.random.default_rng(0)
    alphabet = list("0123456789.eE+-x")
    words = ["".join(rng.choice(alphabet, int(rng.integers(1, 9)))) for _ in range(20_000)]
    words += ["5", "5.", ".5", "-.5e-3", "1e5", "+1E+05", ".", "e5", "5e", "1.2.3", "--1", "1e5.5"]
    for w in words:
        assert bool(bvh._NUMBER_RE.fullmatch(w)) == bool(old.fullmatch(w)), w


LONG = "7" * 30_000 + "x"           # the attack: one 30,000-digit token and a letter (65 s before)


@pytest.mark.parametrize("where, line, what", [
    ("motion", 29, "value 3 of 15 is a token of 30,001 characters"),
    ("offset", 8, "OFFSET y is a token of 30,001 characters"),
    ("motion-digits", 29, "value 3 of 15 is a token of 30,000 characters"),    # digits only: no letter
    ("offset-digits", 8, "OFFSET y is a token of 30,000 characters"),
    ("motion-351", 29, "value 3 of 15 is a token of 351 characters"),         # finite, one past the bound
])
def test_overlong_token_is_an_error_on_its_line(tmp_path, where, line, what):
    tok = {"motion-digits": LONG[:-1], "offset-digits": LONG[:-1], "motion-351": "0." + "0" * 348 + "1"}.get(where, LONG)
    lines = list(LINES)
    if where.startswith("motion"):
        v = lines[line - 1].split()
        lines[line - 1] = " ".join(v[:2] + [tok] + v[3:])
    else:
        lines[line - 1] = f"\t\tOFFSET 0.0 {tok} 0.0"
    f = tmp_path / "long.bvh"
    f.write_text("\n".join(lines) + "\n")
    t = time.perf_counter()
    with pytest.raises(BVHError) as e:
        read_bvh(f)
    assert time.perf_counter() - t < 1.0                       # the fuzzer's limit per file
    assert e.value.line == line and e.value.path == str(f)
    assert what in str(e.value) and "longer than any number (350 at most)" in str(e.value)


def test_longest_float_text_reads_back(tmp_path):
    "Every float64 in fixed-point notation fits `MAX_NUMBER_CHARS`, so what `write_bvh` writes reads back."
    from emomotion.bvh import MAX_NUMBER_CHARS
    tiny, huge = f"{-4.9406564584124654e-324:.340f}".rstrip("0"), f"{-1.7976931348623157e308:.9f}"
    assert max(len(tiny), len(huge)) <= MAX_NUMBER_CHARS
    lines = list(LINES)
    v = lines[28].split()
    lines[28] = " ".join(v[:3] + [huge, tiny] + v[5:])
    lines[7] = f"\t\tOFFSET 0.0 {tiny} 0.0"
    f = tmp_path / "longest.bvh"
    f.write_text("\n".join(lines) + "\n")
    r = read_bvh(f)
    assert r.motion[1, 3] == -1.7976931348623157e308 and r.motion[1, 4] == -5e-324 and r.offsets[1, 1] == -5e-324
    back = read_bvh(write_bvh(r, tmp_path / "back.bvh", precision=9))
    assert back.motion[1, 3] == r.motion[1, 3]
