"""Data you can trust (issue 13): a cache that is never stale or corrupt, duplicates and odd files listed,
symlinked datasets, a usable cache folder checked first (emomotion.cache, emomotion.datasets, emomotion.generator)."""
import json
import os
import shutil
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emomotion import cache
from emomotion import datasets as ds
from emomotion import generator as gen
from emomotion import parsing
from emomotion import xsens
from emomotion.bvh import read_bvh
from emomotion.skeletons import KEY_JOINTS

BANDAI = Path(__file__).resolve().parents[2] / "shared" / "data" / "bandai-namco-1"


@pytest.fixture(scope="module")
def tiny(make_tiny_kinematic):
    "A small generated Kinematic-format dataset (conftest.make_tiny_kinematic, seed 4)."
    return make_tiny_kinematic(4)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    "Never the user's cache: the default root is a temporary folder."
    monkeypatch.setenv("EMOMOTION_CACHE", str(tmp_path / "envcache"))


def load(root, tmp_path, **kw):
    return ds.load_kinematic(root, cache_dir=tmp_path / "cache", n_jobs=1, progress=False, **kw)


def reasons(clips) -> dict:
    return dict(zip(clips.skipped.path, clips.skipped.error))


# ---------------------------------------------------------------- cache root, check, atomic writes
def test_cache_root_rule(monkeypatch):
    monkeypatch.delenv("EMOMOTION_CACHE")
    default = Path.home() / ".cache" / "emomotion"
    assert cache.cache_root() == default and cache.cache_root("") == default
    monkeypatch.setenv("EMOMOTION_CACHE", "")
    assert cache.cache_root() == default == parsing.cache_root()
    monkeypatch.setenv("EMOMOTION_CACHE", "~/somewhere")
    assert cache.cache_root() == Path.home() / "somewhere" == parsing.cache_root()
    assert cache.cache_root("~/arg") == Path.home() / "arg"
    assert gen.synthetic_dir("quick", 0).parent == Path.home() / "somewhere" / "synthetic"


def test_cache_env_is_a_file(tiny, tmp_path, monkeypatch):
    f = tmp_path / "not-a-folder"
    f.write_text("")
    monkeypatch.setenv("EMOMOTION_CACHE", str(f))
    calls = []
    monkeypatch.setitem(parsing._PARSERS, "kinematic", lambda p: calls.append(p))
    with pytest.raises(cache.CacheError, match=r"not-a-folder \(\$EMOMOTION_CACHE\) is a file, not a folder"):
        ds.load_kinematic(tiny, n_jobs=1, progress=False)
    with pytest.raises(cache.CacheError, match="is a file"):
        ds.load_dataset("synthetic", progress=False)
    with pytest.raises(cache.CacheError, match="cannot be created"):
        ds.load_kinematic(tiny, cache_dir=f / "below", n_jobs=1, progress=False)
    assert calls == [] and not list(tmp_path.glob("**/synthetic"))       # no work started


def test_cache_read_only(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(cache.os, "access", lambda *a, **k: False)    # root ignores chmod: pretend
    with pytest.raises(cache.CacheError, match="is not writable"):
        load(tiny, tmp_path)
    assert len(ds.load_kinematic(tiny, cache_dir=False, n_jobs=1, progress=False)) == 14   # no disk cache: fine


def test_atomic_path_cleans_up(tmp_path):
    dest = tmp_path / "x.npz"
    with pytest.raises(RuntimeError):
        with cache.atomic_path(dest) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    cache.atomic_write(dest, b"whole")
    assert dest.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [dest]


# ---------------------------------------------------------------- a stale or corrupt cache is never served
def test_same_size_same_mtime_edit_is_seen(tiny, tmp_path):
    root = shutil.copytree(tiny, tmp_path / "k")
    c = load(root, tmp_path)
    f = Path(c.index.path[0])
    before = c.positions(0)
    st = f.stat()
    data = bytearray(f.read_bytes())
    i = data.rindex(b"\n", 0, len(data) - 2) + 1                 # the last frame's line
    while not (48 <= data[i] <= 56):                              # its first digit 0-8
        i += 1
    data[i] += 1                                                  # one digit, same size
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))              # and the old modification time
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    c2 = load(root, tmp_path)
    after = c2.positions(0)
    assert c2.index.content_hash[0] != c.index.content_hash[0]
    assert not np.array_equal(after, before)
    np.testing.assert_allclose(after, read_bvh(f).positions(KEY_JOINTS) / 100.0, atol=1e-5)


@pytest.mark.parametrize("damage", ["truncated", "zeroed", "garbage", "empty"])
def test_corrupt_entries_parsed_again(tiny, tmp_path, damage):
    c = load(tiny, tmp_path)
    ref = [c.positions(i) for i in range(3)]
    entries = sorted((tmp_path / "cache" / "parsed").glob("v*/kinematic/*/*.npz"))
    assert len(entries) == 14
    for e in entries:
        data = e.read_bytes()
        e.write_bytes({"truncated": data[: len(data) // 2], "zeroed": bytes(len(data)),
                       "garbage": os.urandom(len(data)), "empty": b""}[damage])
    with warnings.catch_warnings(record=True) as w:              # manifest hit: the entries are met in positions()
        warnings.simplefilter("always")
        c2 = load(tiny, tmp_path)
        got = [c2.positions(i) for i in range(3)]
    msgs = [str(x.message) for x in w if str(x.message).startswith("cache entry")]
    assert len(msgs) == 3 and all("\n" not in m for m in msgs)
    e0 = parsing._Store("kinematic", entries[0].parents[1])._npz(c.index.content_hash[0])
    assert str(e0) in msgs[0] and c.index.path[0] in msgs[0]      # names the entry and the source file
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a, b)
    # without the manifest, the workers meet the corrupt entries: parsed again, with a warning
    for m in (tmp_path / "cache" / "parsed").glob("v*/manifests/*.json"):
        m.unlink()
    for e in entries[5:]:
        e.write_bytes(b"")
    with pytest.warns(UserWarning, match="is corrupt"):
        c3 = load(tiny, tmp_path)
    np.testing.assert_array_equal(c3.full_positions(6), c.full_positions(6))


@pytest.mark.parametrize("manifest", ["[]", '{"files": {"BVH/F01/x.bvh": "abc"}, "skeletons": {}}', '{"files": []}',
                                      "not json", '{"files": {}, "skeletons": {"a": 3}}'])
def test_bad_manifest_ignored(tiny, tmp_path, manifest):
    c = load(tiny, tmp_path)
    (man,) = (tmp_path / "cache" / "parsed").glob("v*/manifests/*.json")
    man.write_text(manifest)
    with pytest.warns(UserWarning, match="not a valid parse-cache manifest; ignored"):
        c2 = load(tiny, tmp_path)
    assert c2.index.equals(c.index)
    assert isinstance(json.loads(man.read_text())["files"], dict)  # rewritten whole


def test_manifest_entry_of_wrong_shape_is_a_miss(tiny, tmp_path):
    c = load(tiny, tmp_path)
    (man,) = (tmp_path / "cache" / "parsed").glob("v*/manifests/*.json")
    m = json.loads(man.read_text())
    rel = next(iter(m["files"]))
    m["files"][rel]["n_frames"] = "many"
    man.write_text(json.dumps(m))
    assert load(tiny, tmp_path).index.equals(c.index)


# ---------------------------------------------------------------- duplicates
def test_duplicate_copy_and_alias_folder(tiny, tmp_path):
    root = shutil.copytree(tiny, tmp_path / "k")
    first = sorted((root / "BVH" / "F01").glob("*.bvh"))[0]
    copy = first.with_name(first.name.replace("V1", "V7"))       # another valid name, same content
    shutil.copy(first, copy)
    (root / "BVH" / "M09").symlink_to(root / "BVH" / "M01", target_is_directory=True)   # an alias folder
    with pytest.warns(UserWarning, match="8 of 22 files"):
        c = load(root, tmp_path)
    assert len(c) == 14 and c.index.content_hash.is_unique
    why = reasons(c)
    assert why[str(copy)].endswith(f"duplicate of {first}")
    m01 = sorted((root / "BVH" / "M01").glob("*.bvh"))
    for f in m01:
        assert f"duplicate of {f}" in why[str(root / "BVH" / "M09" / f.name)]
    assert set(c.index.path) >= {str(first), *map(str, m01)}


@pytest.mark.skipif(not BANDAI.is_dir(), reason="no Bandai-Namco-1 copy at ../shared/data")
def test_bandai_duplicate_fifo_and_stray_files(tmp_path):
    root = tmp_path / "bandai"
    (root / "data").mkdir(parents=True)
    src = sorted((BANDAI / "data").glob("dataset-1_*_angry_*.bvh"))[:2]
    for f in src:
        shutil.copy(f, root / "data" / f.name)
    shutil.copy(src[0], root / "data" / "dataset-1_walk_happy_009.bvh")       # same motion, another name
    (root / "data" / "extra").mkdir()
    shutil.copy(src[1], root / "data" / "extra" / "dataset-1_run_sad_001.bvh")  # deeper, same motion
    (root / "stray.bvh").write_text("HIERARCHY\n")                             # not a dataset name
    fifo = root / "data" / "dataset-1_walk_sad_003.bvh"
    os.mkfifo(fifo)
    stop = threading.Event()

    def unblock():                                                # if anyone opens the FIFO, let it see EOF
        while not stop.is_set():
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
            stop.wait(0.1)
    t = threading.Thread(target=unblock, daemon=True)
    t.start()
    try:
        with pytest.warns(UserWarning, match="4 of 6 files"):
            c = ds.load_bandai(root, cache_dir=tmp_path / "cache", progress=False, n_jobs=1)
    finally:
        stop.set(); t.join()
    why = reasons(c)
    assert len(c) == 2 and set(c.index.path) == {str(root / "data" / f.name) for f in src}
    assert "not a regular file (a FIFO)" in why[str(fifo)]
    assert f"duplicate of {root / 'data' / src[0].name}" in why[str(root / "data" / "dataset-1_walk_happy_009.bvh")]
    assert f"duplicate of {root / 'data' / src[1].name}" in why[str(root / "data" / "extra" / "dataset-1_run_sad_001.bvh")]
    assert "not a Bandai-Namco file name" in why[str(root / "stray.bvh")]
    files, skipped = ds.dataset_files("bandai", root)
    assert len(files) + len(skipped) == len(c) + len(c.skipped)    # every file is a clip or a skipped row


# ---------------------------------------------------------------- every file is a clip or a skipped row
def test_misplaced_kinematic_files_listed(tiny, tmp_path):
    root = shutil.copytree(tiny, tmp_path / "k")
    f = sorted((root / "BVH" / "F01").glob("*.bvh"))[0]
    (root / "BVH" / "F01" / "old").mkdir()
    top, deep = root / "BVH" / "F01A0V5.bvh", root / "BVH" / "F01" / "old" / "F01A0V6.bvh"
    shutil.copy(f, top)
    shutil.copy(f, deep)
    with pytest.warns(UserWarning, match="2 of 16 files"):
        c = load(root, tmp_path)
    why = reasons(c)
    assert len(c) == 14 and set(why) == {str(top), str(deep)}
    assert all("not in an actor folder; expected BVH/<actor>/<name>.bvh" in why[str(p)] for p in (top, deep))
    files, skipped = ds.dataset_files("kinematic", root)
    assert sorted(map(str, files)) == sorted([*c.index.path, *why]) and skipped == []
    assert ds.dataset_files("synthetic", root) == (files, skipped)


def test_emokine_unused_and_unlabelled_listed(tmp_path):
    head = ",".join(["frame_idx", "ms"] + [f"{s}_{a}" for s in xsens.XSENS_SEGMENTS for a in "xyz"])
    csv = lambda n: "\n".join([head] + [",".join([str(i), str(4 * i)] + [f"{0.1 * i + n:.3f}"] * 69) for i in range(8)])
    root = tmp_path / "emokine"
    for n, d in enumerate(["Data/CSV/CSV_seq1_angry", "Data/CSV/CSV_seq1_sad", "Data/CSV/misc"]):
        (root / d).mkdir(parents=True)
        (root / d / "position.csv").write_text(csv(n))
    c0 = ds.load_emokine(root, cache_dir=tmp_path / "cache", progress=False)    # unlabelled: listed
    assert len(c0) == 2 and "no seq<N>_<emotion> in its path" in reasons(c0)[str(root / "Data/CSV/misc/position.csv")]
    m = xsens.read_xsens_csv(root / "Data/CSV/CSV_seq1_sad/position.csv")
    (root / "Data/MVNX").mkdir()
    mv = root / "Data/MVNX/MVNX_seq1_sad.mvnx"
    segs = "".join(f'<segment label="{s}" id="{i}"/>' for i, s in enumerate(m.segments, 1))
    frames = "".join(f'<frame index="{k}" ms="{4 * k}" type="normal"><position>'
                     + " ".join(f"{v + 1:.3f}" for v in m.positions[k].ravel()) + "</position></frame>" for k in range(8))
    mv.write_text(f'<mvnx><subject frameRate="250"><segments>{segs}</segments><frames>{frames}</frames></subject></mvnx>')
    with pytest.warns(UserWarning, match="2 of 4 files"):
        c = ds.load_emokine(root, cache_dir=tmp_path / "cache", progress=False)
    assert len(c) == 2 and "seq1_sad is loaded from" in reasons(c)[str(mv)]
    with pytest.warns(UserWarning, match="2 of 4 files"):
        c2 = ds.load_emokine(root, prefer="mvnx", cache_dir=tmp_path / "cache", progress=False)
    assert str(mv) in set(c2.index.path) and str(root / "Data/CSV/CSV_seq1_sad/position.csv") in reasons(c2)


# ---------------------------------------------------------------- symlinks, loops, odd names
def test_folder_of_symlinks(tiny, tmp_path):
    store = tmp_path / "annex" / "objects"                        # git-annex/DataLad: content elsewhere
    store.mkdir(parents=True)
    root = tmp_path / "dataset"
    for f in sorted((tiny / "BVH").glob("*/*.bvh")):
        blob = store / f"SHA256E-{f.stem.lower()}.bvh"
        shutil.copy(f, blob)
        (root / "BVH" / f.parent.name).mkdir(parents=True, exist_ok=True)
        (root / "BVH" / f.parent.name / f.name).symlink_to(os.path.relpath(blob, root / "BVH" / f.parent.name))
    (root / "file-info.csv").symlink_to(tiny / "file-info.csv")
    (root / "BVH" / "F01" / "F01N9V1.bvh").symlink_to("F01N9V1.bvh")             # a loop
    (root / "BVH" / "F01" / "F01N8V1.bvh").symlink_to(store / "gone.bvh")         # dangling
    (root / "BVH" / "F01" / "again").symlink_to("..", target_is_directory=True)   # a folder loop
    with pytest.warns(UserWarning, match="3 of 17 files"):
        c = load(root, tmp_path)
    assert len(c) == 14 and all(p.startswith(str(root / "BVH")) for p in c.index.path)   # the user's paths
    ref = load(tiny, tmp_path)
    np.testing.assert_array_equal(c.positions(3), ref.positions(3))
    why = reasons(c)
    assert "symlink loop" in why[str(root / "BVH" / "F01" / "F01N9V1.bvh")]
    assert "dangling symlink" in why[str(root / "BVH" / "F01" / "F01N8V1.bvh")]
    assert "symlink loop" in why[str(root / "BVH" / "F01" / "again")]
    assert ds.files_near(root / "BVH", ["*.bvh"], depth=6)                        # bounded, no endless walk
    c2 = load(root, tmp_path)                                                     # second load: manifest hit
    assert c2.index.equals(c.index)


def test_non_utf8_names_skipped(tiny, tmp_path):
    root = shutil.copytree(tiny, tmp_path / "k")
    f = sorted((root / "BVH" / "F01").glob("*.bvh"))[0]
    bad_file = root / "BVH" / "F01" / os.fsdecode(b"F01A0V8\xff.bvh")
    shutil.copy(f, bad_file)
    bad_dir = root / "BVH" / os.fsdecode(b"M01\xfe")
    bad_dir.mkdir()
    shutil.copy(f, bad_dir / "F01A0V9.bvh")
    with pytest.warns(UserWarning, match="2 of 16 files"):
        c = load(root, tmp_path)
    assert len(c) == 14
    errs = "\n".join(c.skipped.error)
    assert r"F01A0V8\xff.bvh: file name is not valid UTF-8; rename it" in errs
    assert r"M01\xfe/F01A0V9.bvh: file name is not valid UTF-8" in errs
    c.index.to_csv(tmp_path / "index.csv")
    c.skipped.to_csv(tmp_path / "skipped.csv")
    pd.Series(c.index.attrs["skipped"]).to_json(tmp_path / "attrs.json")
    assert r"F01A0V8\xff.bvh" in (tmp_path / "skipped.csv").read_text()


# ---------------------------------------------------------------- file-info.csv
def test_file_info_conflicts_listed(tiny, tmp_path):
    root = shutil.copytree(tiny, tmp_path / "k")
    c0 = load(root, tmp_path)
    assert c0.conflicts.empty and list(c0.conflicts.columns) == ["path", "field", "from_name", "from_file_info", "used"]
    info = pd.read_csv(root / "file-info.csv")
    name = info.filename[0]
    info.loc[0, "emotion"] = "Sad" if info.emotion[0] != "Sad" else "Happy"
    info.loc[0, "actor_ID"] = "F07"
    info.loc[1, "scenario_ID"] = 9
    info.to_csv(root / "file-info.csv", index=False)
    with pytest.warns(UserWarning, match=r"file-info.csv: 2 files disagree with their names \(actor, emotion, scenario\)"):
        c = load(root, tmp_path)
    got = c.conflicts.sort_values(["path", "field"]).reset_index(drop=True)
    path0 = str(root / "BVH" / name[:3] / f"{name}.bvh")
    rows = got[got.path == path0].set_index("field")
    assert rows.loc["emotion", "from_name"] == ds.parse_kinematic_name(name)["label"]
    assert rows.loc["emotion", "used"] == rows.loc["emotion", "from_file_info"] == info.emotion[0]
    assert rows.loc["actor", ["from_name", "from_file_info", "used"]].tolist() == [name[:3], "F07", "F07"]
    assert len(got) == 3 and c.index.attrs["conflicts"] == c.conflicts.to_dict("records")
    assert c.index.set_index("path").loc[path0, "actor"] == "F07"
    assert len(c.subset([0, 1]).conflicts) == 3                       # copies keep them
    assert len(c.subset(c.index.actor == "M01").conflicts) == 3


@pytest.mark.parametrize("content", [b"", b"\x00\xff\xfe\x81" * 300, b'filename,emotion\n"F01A0V1,Angry\n',
                                     b"a;b;c\n1;2;3\n"])
def test_unreadable_file_info(tiny, tmp_path, content):
    root = shutil.copytree(tiny, tmp_path / "k")
    (root / "file-info.csv").write_bytes(content)
    with pytest.raises(ds.DatasetError) as e:
        load(root, tmp_path)
    msg = str(e.value)
    assert str(root / "file-info.csv") in msg and "filename, emotion, actor_ID" in msg and "\n" not in msg


# ---------------------------------------------------------------- Bandai-Namco label files
BANDAI_CLIPS = ["dataset-1_walk_angry_001", "dataset-1_walk_angry_002", "dataset-1_run_angry_001",
                "dataset-1_walk_happy_001", "dataset-1_walk_happy_002", "dataset-1_run_happy_001",
                "dataset-1_walk_sad_001", "dataset-1_run_sad_001"]


def bandai_copy(tmp_path, cfg=("content", "style")) -> Path:
    "A few real clips with their JSON in <root>/data, and the label lists named in `cfg` in <root>/cfg."
    root = tmp_path / "bandai"
    (root / "data").mkdir(parents=True)
    for stem in BANDAI_CLIPS:
        for ext in (".bvh", ".json"):
            shutil.copy(BANDAI / "data" / (stem + ext), root / "data" / (stem + ext))
    if cfg:
        (root / "cfg").mkdir()
        for field in cfg:
            shutil.copy(BANDAI / "cfg" / f"{field}_label.txt", root / "cfg")
    return root


def load_bandai_warnings(root, tmp_path):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        c = ds.load_bandai(root, cache_dir=tmp_path / "cache", progress=False, n_jobs=1)
    return c, [str(x.message) for x in w]


@pytest.mark.skipif(not BANDAI.is_dir(), reason="no Bandai-Namco-1 copy at ../shared/data")
@pytest.mark.parametrize("cfg", [(), ("content",)])
def test_bandai_without_label_lists_warns_and_still_catches_a_lying_json(tmp_path, cfg):
    """Without cfg/style_label.txt every clip was loaded by its name, a JSON that contradicts it included, with no
    word. Now one warning names what is missing and what the loader does instead, and the JSON ids are checked
    against the other clips': a clip named angry whose JSON has happy's style id is skipped, the rest load."""
    root = bandai_copy(tmp_path, cfg)
    happy = json.loads((root / "data" / "dataset-1_walk_happy_001.json").read_text())["style"]
    liar = root / "data" / "dataset-1_run_angry_001.json"
    liar.write_text(json.dumps(dict(json.loads(liar.read_text()), style=happy)))
    c, msgs = load_bandai_warnings(root, tmp_path)
    missing = [m for m in msgs if m.startswith(f"{root}: no ")]
    assert len(missing) == 1 and "\n" not in missing[0]
    assert ("cfg/content_label.txt and " in missing[0]) == (cfg == ())
    assert f"looked in {root / 'data' / 'cfg'}, {root / 'cfg'}" in missing[0] and "come from the file names" in missing[0]
    why = reasons(c)
    bad = str(root / "data" / "dataset-1_run_angry_001.bvh")
    assert set(why) == {bad} and len(c) == len(BANDAI_CLIPS) - 1
    assert liar.name in why[bad] and f"style id {happy}" in why[bad] and "'happy' (3)" in why[bad]
    # with both lists present the same clip is skipped, and nothing is warned about the lists
    root2 = bandai_copy(tmp_path / "2")
    shutil.copy(liar, root2 / "data" / liar.name)
    c2, msgs2 = load_bandai_warnings(root2, tmp_path / "2")
    assert not [m for m in msgs2 if m.startswith(f"{root2}: ")]          # no list or JSON is missing
    assert set(reasons(c2)) == {str(root2 / "data" / "dataset-1_run_angry_001.bvh")}
    assert "style 'happy'" in reasons(c2)[str(root2 / "data" / "dataset-1_run_angry_001.bvh")]


@pytest.mark.skipif(not BANDAI.is_dir(), reason="no Bandai-Namco-1 copy at ../shared/data")
def test_bandai_bad_json_is_named_and_missing_json_warned(tmp_path):
    "A clip's invalid JSON is skipped with a reason naming the .json; clips without one load by name, with a warning."
    root = bandai_copy(tmp_path)
    (root / "data" / "dataset-1_walk_sad_001.json").write_text('{"content": 0, "style": ')
    (root / "data" / "dataset-1_walk_happy_002.json").write_text('{"content": 0, "style": 99}')
    (root / "data" / "dataset-1_run_sad_001.json").unlink()
    c, msgs = load_bandai_warnings(root, tmp_path)
    why = reasons(c)
    bad = str(root / "data" / "dataset-1_walk_sad_001.json")
    assert why[bad[:-5] + ".bvh"].startswith(f"DatasetError: {bad}: not valid JSON")
    assert f"dataset-1_walk_happy_002.json: style id 99 is not in {root / 'cfg' / 'style_label.txt'}" in \
        why[str(root / "data" / "dataset-1_walk_happy_002.bvh")]
    assert len(c) == len(BANDAI_CLIPS) - 2 and str(root / "data" / "dataset-1_run_sad_001.bvh") in set(c.index.path)
    assert any("1 of 8 clips have no JSON beside them (e.g. dataset-1_run_sad_001.bvh)" in m for m in msgs)
