"""Broken BVH files: each must raise `BVHError` naming the file and the right line.

Never a hang (every test runs under a 20 s alarm), never a raw IndexError/KeyError/MemoryError, never a
silently wrong array. The base file is small and hand-written, with mixed 6- and 3-channel joints and
two rotation orders, so the line numbers below can be read off it.
"""
import signal
import codecs

import numpy as np
import pytest

from emomotion.bvh import BVHError, read_bvh

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
        raise TimeoutError("read_bvh hung")
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
    ("duplicate joint name", edit({15: "JOINT Spine"}), 15, "duplicate joint name 'Spine'"),
    ("JOINT without a name", edit({6: "JOINT"}), 6, "without a name"),
    ("second ROOT", edit(insert={24: "ROOT Other"}), 25, "second ROOT"),
    ("MOTION missing", edit(delete={25}), 25, "MOTION"),
    ("Frame Time missing", edit(delete={27}), 27, "Frame Time"),
    ("Frame Time zero", edit({27: "Frame Time: 0"}), 27, "positive"),
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
                                     "Frames:4 glued", "lower-case channels", "trailing blank lines"])
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


def test_random_mutations_raise_only_bvherror(tmp_path):
    """Fuzz: 400 seeded mutations of the base file (cut, delete/duplicate/swap a line, flip a byte,
    insert bytes). Each either reads into a consistent record or raises BVHError with a line."""
    rng = np.random.default_rng(0)
    raw = BASE.encode()
    ok = bad = 0
    for it in range(400):
        b = bytearray(raw)
        kind = it % 5
        if kind == 0:
            b = b[: rng.integers(0, len(b))]
        elif kind == 1:
            lines = bytes(b).split(b"\n")
            i = rng.integers(0, len(lines))
            op = rng.integers(0, 3)
            if op == 0:
                del lines[i]
            elif op == 1:
                lines.insert(i, lines[i])
            else:
                j = rng.integers(0, len(lines))
                lines[i], lines[j] = lines[j], lines[i]
            b = bytearray(b"\n".join(lines))
        elif kind == 2:
            i = rng.integers(0, len(b))
            b[i] = rng.integers(0, 256)
        elif kind == 3:
            i = rng.integers(0, len(b))
            b[i:i] = bytes(rng.integers(0, 256, rng.integers(1, 8), dtype=np.uint8))
        else:
            i = rng.integers(0, len(b))
            b[i:i] = rng.choice([b"{", b"}", b" ", b"\n", b"-", b".", b"e", b"nan", b"End Site"])
        p = tmp_path / f"m{it}.bvh"
        p.write_bytes(bytes(b))
        try:
            r = read_bvh(p)
        except BVHError as e:
            assert e.path == str(p) and isinstance(e.line, int) and e.line >= 1, repr(e)
            bad += 1
            continue
        ok += 1
        assert r.motion.shape == (r.n_frames, sum(map(len, r.channels)))
        # what was read is what a naive parse of the frame lines gives
        data = bytes(b).split(b"Frame Time:")[1].split(b"\n", 1)[1]
        naive = [[float(v) for v in ln.split()] for ln in data.split(b"\n") if ln.split()]
        np.testing.assert_array_equal(r.motion, np.array(naive).reshape(r.motion.shape))
        assert np.isfinite(r.motion).all() and np.isfinite(r.positions(end_sites=True)).all()
    assert ok > 5 and bad > 100, (ok, bad)
