"""Dataset loaders, the parse cache and robustness (emomotion.datasets)."""
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emomotion import datasets as ds
from emomotion import generator as gen
from emomotion import parsing
from emomotion import xsens
from emomotion.bvh import read_bvh
from emomotion.skeletons import KEY_JOINTS, KINEMATIC_CHANNELS, KINEMATIC_JOINTS, KINEMATIC_PARENT_IDX

SHARED = Path(__file__).resolve().parents[2] / "shared"
BANDAI = SHARED / "data" / "bandai-namco-1"
EMOKINE_CSV = SHARED / "data" / "fixtures" / "emokine" / "positionExample.csv"


@pytest.fixture(scope="module")
def tiny(make_tiny_kinematic):
    "A small generated Kinematic-format dataset (conftest.make_tiny_kinematic, seed 3)."
    return make_tiny_kinematic(3)


def copy_dataset(src, dst):
    shutil.copytree(src, dst)
    return dst


def load(root, tmp_path, **kw):
    return ds.load_kinematic(root, cache_dir=tmp_path / "cache", n_jobs=1, progress=False, **kw)


# ---------------------------------------------------------------- file names
@pytest.mark.parametrize("name, label, actor, scenario, version", [
    ("F01A0V1", "Angry", "F01", 0, 1), ("M04SU0V3.bvh", "Surprise", "M04", 0, 3),
    ("F12SA5V2", "Sad", "F12", 5, 2), ("M11D3V1", "Disgust", "M11", 3, 1), ("F03F2V6", "Fearful", "F03", 2, 6),
    ("BVH/M01H1V1.bvh", "Happy", "M01", 1, 1), ("F05N4V10", "Neutral", "F05", 4, 10)])
def test_kinematic_names(name, label, actor, scenario, version):
    d = ds.parse_kinematic_name(name)
    assert (d["label"], d["actor"], d["scenario"], d["version"], d["gender"]) == (label, actor, scenario, version, actor[0])


@pytest.mark.parametrize("bad", ["F01S0V1", "F01SAD0V1", "F01A0", "F01A0V", "X01A0V1", "F1A0V1", "f01a0v1",
                                 "dataset-1_walk_angry_001.bvh", "F01A10V1"])
def test_kinematic_names_rejected(bad):
    with pytest.raises(ds.DatasetError, match="expected <actor><emotion><scenario>V<version>.bvh"):
        ds.parse_kinematic_name(bad)


def test_bandai_names():
    assert ds.parse_bandai_name("dataset-2_raise-up-both-hands_not-confident_013.bvh") == dict(
        dataset=2, content="raise-up-both-hands", style="not-confident", take=13)
    with pytest.raises(ds.DatasetError, match="dataset-N_<content>_<style>_<NNN>.bvh"):
        ds.parse_bandai_name("dataset-1_walk_001.bvh")


# ---------------------------------------------------------------- the Kinematic loader
def test_load_generated(tiny, tmp_path):
    c = load(tiny, tmp_path)
    assert len(c) == 14 and c.name == "kinematic" and c.group_col == "actor" and len(c.skipped) == 0
    assert c.labels == sorted(ds.EMOTIONS) and c.index.attrs["kinematic_version"] == "2.1.0"
    for col in ["clip_id", "path", "label", "actor", "gender", "scenario", "version", "n_frames", "fps", "duration"]:
        assert col in c.index
    assert (c.index.fps == 125).all() and np.allclose(c.index.duration, c.index.n_frames / 125)
    p = c.positions(0)
    assert p.shape == (c.index.n_frames[0], 17, 3) and p.dtype == np.float32
    full = c.full_positions(0)
    assert full.shape == (c.index.n_frames[0], 59, 3) and c.skeleton[0] == KINEMATIC_JOINTS
    np.testing.assert_allclose(p, full[:, [KINEMATIC_JOINTS.index(k) for k in KEY_JOINTS]])
    ref = read_bvh(c.index.path[0]).positions(KEY_JOINTS) / 100.0
    np.testing.assert_allclose(p, ref, atol=1e-5)                    # metres, same FK
    assert 1.4 < np.median(p[:, KEY_JOINTS.index("Head"), 1]) < 1.9  # Y up, metres
    sub = c.subset(c.index.label == "Sad")
    assert len(sub) == 2 and set(sub.index.label) == {"Sad"}
    np.testing.assert_array_equal(sub.positions(1), c.positions(int(np.flatnonzero(c.index.label == "Sad")[1])))
    assert len(c.subset([0, 3])) == 2 and len(c.all_positions()) == 14
    # the BVH/ folder itself is accepted as the root, and so is a folder holding one versioned copy
    assert len(load(tiny / "BVH", tmp_path)) == 14


def test_file_info_preferred_and_fallback(tiny, tmp_path):
    root = copy_dataset(tiny, tmp_path / "k")
    info = pd.read_csv(root / "file-info.csv")
    first = info.filename[0]
    info.loc[0, "emotion"] = "Neutral" if info.emotion[0] != "Neutral" else "Sad"
    info["emotion"] = info["emotion"].map({v: k for k, v in ds.EMOTION_CODES.items()})   # codes (SA, SU, ...) work too
    info.loc[1:, "filename"] = info.filename[1:] + ".bvh"                               # with or without extension
    info.to_csv(root / "file-info.csv", index=False)
    c = load(root, tmp_path)
    row = c.index.set_index("clip_id").loc[first]
    assert row.label == ds.EMOTION_CODES[info.emotion[0]] != ds.parse_kinematic_name(first)["label"]
    assert c.index.attrs["file_info_conflicts"] == 1
    (root / "file-info.csv").unlink()
    c2 = load(root, tmp_path)
    assert c2.index.set_index("clip_id").loc[first].label == ds.parse_kinematic_name(first)["label"]
    assert c2.index.attrs["file_info"] is None


def test_v1_and_v2(tmp_path):
    v1 = gen.generate_kinematic(tmp_path / "v1", n_actors=1, seed=0, takes=1, seconds=(0.5, 0.6), median_seconds=None,
                               emotions=[e for e in ds.EMOTIONS if e != "Surprise"], n_jobs=1, progress=False)
    c1 = load(v1, tmp_path)
    assert c1.labels == ["Angry", "Disgust", "Fearful", "Happy", "Neutral", "Sad"]
    assert c1.index.attrs["kinematic_version"] == "1.0.0" and c1.index.attrs["n_emotions"] == 6
    assert not any("SU" in p for p in c1.index.clip_id)


def test_clip_too_short_for_any_model_is_skipped_at_load(tiny, tmp_path):
    "A file of 4 frames (fewer than kinematics.MIN_FRAMES) parses, but is listed in .skipped with one line naming it."
    from emomotion.kinematics import MIN_FRAMES
    root = copy_dataset(tiny, tmp_path / "k")
    victim = sorted((root / "BVH").rglob("*.bvh"))[3]
    head, motion = victim.read_text().split("MOTION", 1)
    lines = motion.strip().splitlines()                      # Frames:, Frame Time:, then one line per frame
    victim.write_text(head + "\n".join(["MOTION", "Frames:\t4", lines[1], *lines[2:6]]) + "\n")
    with pytest.warns(UserWarning, match=rf"1 of 14 files could not be loaded.*{victim.name}: 4 frames are too few"):
        c = load(root, tmp_path)
    assert len(c) == 13 and str(victim) not in c.index.path.tolist() and c.index.n_frames.min() >= MIN_FRAMES
    assert c.skipped.values.tolist() == [[str(victim), f"DatasetError: {victim}: 4 frames are too few (need at least {MIN_FRAMES})"]]


def test_broken_files_skipped(tiny, tmp_path):
    root = copy_dataset(tiny, tmp_path / "k")
    files = sorted((root / "BVH").glob("*/*.bvh"))
    data = files[1].read_bytes()
    files[1].write_bytes(data[: data.rfind(b"\n", 0, len(data) // 2) + 1])            # truncated MOTION
    files[4].write_bytes(b"\x00\xff" * 500)                                              # binary garbage
    (root / "BVH" / "F01" / "notes.bvh").write_text("HIERARCHY\n")                       # not a dataset name
    with pytest.warns(UserWarning, match="3 of 15 files could not be loaded"):
        c = load(root, tmp_path)
    assert len(c) == 12 and c.index.attrs["n_skipped"] == 3 and len(c.index.attrs["skipped"]) == 3
    errs = dict(zip(c.skipped.path, c.skipped.error))
    assert set(errs) == {str(files[1]), str(files[4]), str(root / "BVH" / "F01" / "notes.bvh")}
    assert "truncated MOTION" in errs[str(files[1])] and "line" in errs[str(files[1])]
    assert str(files[4]) in errs[str(files[4])] and errs[str(files[4])].startswith("BVHError")
    assert "expected <actor><emotion><scenario>V<version>.bvh" in errs[str(root / "BVH" / "F01" / "notes.bvh")]
    # the second load reports the same, from the cache
    with pytest.warns(UserWarning, match="3 of 15"):
        c2 = load(root, tmp_path)
    assert c2.skipped.equals(c.skipped)


def test_all_broken_is_an_error(tiny, tmp_path):
    root = copy_dataset(tiny, tmp_path / "k")
    for f in (root / "BVH").glob("*/*.bvh"):
        f.write_text("garbage")
    with pytest.raises(ds.DatasetError, match="none of the 14 kinematic files could be loaded"):
        load(root, tmp_path)


def test_wrong_roots(tiny, tmp_path):
    with pytest.raises(ds.DatasetError, match="no such folder; expected the Kinematic dataset"):
        load(tmp_path / "missing", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ds.DatasetError, match="expected the Kinematic dataset.*an empty folder"):
        load(tmp_path / "empty", tmp_path)
    fake_bandai = tmp_path / "bandai" / "data"
    fake_bandai.mkdir(parents=True)
    shutil.copy(next((tiny / "BVH" / "F01").glob("*.bvh")), fake_bandai / "dataset-1_walk_angry_001.bvh")
    with pytest.raises(ds.DatasetError, match="(?s)expected the Kinematic dataset.*use load_bandai"):
        load(tmp_path / "bandai", tmp_path)
    with pytest.raises(ds.DatasetError, match="(?s)expected the Bandai-Namco.*use load_kinematic"):
        ds.load_bandai(tiny, cache_dir=tmp_path / "cache", progress=False)
    with pytest.raises(ds.DatasetError, match="expected the EMOKINE pilot data"):
        ds.load_emokine(tiny, cache_dir=tmp_path / "cache", progress=False)
    for name in ("kinematic", "bandai", "emokine"):       # no guess at where the data are, even when a copy is at hand
        with pytest.raises(ds.DatasetError, match=f"load_dataset\\('{name}'\\) needs data_dir"):
            ds.load_dataset(name)
    with pytest.raises(ValueError, match="unknown dataset"):
        ds.load_dataset("cmu", data_dir=tmp_path)


# ---------------------------------------------------------------- the cache
def test_cache_keyed_by_content(tiny, tmp_path, monkeypatch):
    root = copy_dataset(tiny, tmp_path / "k")
    c = load(root, tmp_path)
    calls = []
    real = parsing._PARSERS["kinematic"]
    monkeypatch.setitem(parsing._PARSERS, "kinematic", lambda p: calls.append(p) or real(p))
    c2 = load(root, tmp_path)                                   # manifest hit: no file even read
    assert calls == [] and c2.index.equals(c.index)
    moved = copy_dataset(root, tmp_path / "elsewhere")          # same content, other paths: content hit
    c3 = load(moved, tmp_path)
    assert calls == [] and c3.index.content_hash.equals(c.index.content_hash)
    f = Path(c3.index.path[0])
    lines = f.read_text().splitlines()
    lines[-1] = " ".join(["0.0000"] * 354)                      # change one frame: parsed again
    f.write_text("\n".join(lines) + "\n")
    c4 = load(moved, tmp_path)
    assert calls == [str(f)] or calls == [f]
    assert c4.index.content_hash[0] != c.index.content_hash[0]
    assert np.allclose(c4.positions(0)[:-1], c.positions(0)[:-1]) and not np.allclose(c4.positions(0), c.positions(0))


def test_no_disk_cache(tiny, tmp_path):
    c = ds.load_kinematic(tiny, cache_dir=False, n_jobs=1, progress=False)
    ref = load(tiny, tmp_path)
    np.testing.assert_array_equal(c.positions(2), ref.positions(2))
    np.testing.assert_array_equal(c.full_positions(2), ref.full_positions(2))


# ---------------------------------------------------------------- Bandai-Namco
@pytest.mark.skipif(not BANDAI.is_dir(), reason="no Bandai-Namco-1 copy at ../shared/data")
def test_bandai_counts(tmp_path):
    every = ds.load_bandai(BANDAI, emotions_only=False, cache_dir=tmp_path, progress=False)
    emo = ds.load_bandai(BANDAI, cache_dir=tmp_path, progress=False)
    assert len(every) == 174 and len(emo) == 53 and len(every.skipped) == len(emo.skipped) == 0
    assert emo.index.label.value_counts().to_dict() == {"Neutral": 20, "Angry": 11, "Happy": 11, "Sad": 11}
    assert every.index["style"].nunique() == 15 and every.index["content"].nunique() == 16  # 17 contents, dance-long only in normal, absent
    assert emo.group_col == "content" and (emo.index.fps == 30).all()
    assert len(emo.skeleton[0]) == 22 and emo.skeleton[0][0] == "joint_Root"
    p = emo.positions(0)
    h = {k: np.median(p[:, KEY_JOINTS.index(k), 1]) for k in ("Head", "Spine3", "Hips", "RightLeg", "RightFoot")}
    assert h["Head"] > h["Spine3"] > h["Hips"] > h["RightLeg"] > h["RightFoot"] and 1.3 < h["Head"] < 1.9
    arm = np.linalg.norm(p[:, KEY_JOINTS.index("RightForeArm")] - p[:, KEY_JOINTS.index("RightArm")], axis=-1)
    assert 0.2 < arm.mean() < 0.35                                       # an upper arm, in metres
    assert ds.load_dataset("bandai", BANDAI, cache_dir=tmp_path, progress=False).index.equals(emo.index)


# ---------------------------------------------------------------- EMOKINE
@pytest.mark.skipif(not EMOKINE_CSV.is_file(), reason="no EMOKINE fixture")
def test_load_emokine_layout(tmp_path):
    root = tmp_path / "EmokineDataset"
    lines = EMOKINE_CSV.read_text().splitlines()
    for seq in (1, 2, 3):
        for k, emo in enumerate(("angry", "content", "fearful", "joy", "neutral", "sad", "explanation")):
            d = root / "Data" / "CSV" / (f"CSV_seq{seq}_{emo}" if emo != "explanation" else f"explanation/CSV_seq{seq}_explanation")
            d.mkdir(parents=True)                           # all different: identical files would be one clip
            (d / "position.csv").write_text("\n".join(lines[:101 + 10 * k + 70 * (seq - 1)]) + "\n")
            (d / "velocity.csv").write_text("not, positions\n")
    c = ds.load_emokine(root, cache_dir=tmp_path / "cache", progress=False)
    assert len(c) == 18 and c.group_col == "choreography" and sorted(c.index.choreography.unique()) == ["seq1", "seq2", "seq3"]
    assert c.labels == ["Angry", "Content", "Fearful", "Joy", "Neutral", "Sad"] and (c.index.fps == 240).all()
    assert c.index.clip_id.is_unique and "seq2_joy" in set(c.index.clip_id)
    p = c.positions(0)
    assert p.shape == (100, 17, 3)
    raw = pd.read_csv(EMOKINE_CSV, nrows=100)
    np.testing.assert_allclose(p[:, KEY_JOINTS.index("Head")], raw[["Head_y", "Head_z", "Head_x"]].to_numpy(), atol=1e-6)
    assert c.full_positions(0).shape == (100, 23, 3) and c.skeleton[0] == xsens.XSENS_SEGMENTS
    c2 = ds.load_emokine(root, include_explanation=True, cache_dir=tmp_path / "cache", progress=False)
    assert len(c2) == 21 and "Explanation" in c2.labels


def test_broken_xsens_file_is_one_line_naming_it(tmp_path):
    "A broken EMOKINE file is skipped with the reader's one line: error type, file, line and column."
    head = ",".join(["frame_idx", "ms"] + [f"{s}_{a}" for s in xsens.XSENS_SEGMENTS for a in "xyz"])
    rows = lambda v: [",".join([str(i), str(4 * i)] + [v if i == 2 else f"{0.1 * i:.2f}"] * 69) for i in range(8)]  # 8 frames: enough for a model
    for emo, v in (("angry", "0.5"), ("sad", "oops")):
        d = tmp_path / "emokine" / "Data" / "CSV" / f"CSV_seq1_{emo}"
        d.mkdir(parents=True)
        (d / "position.csv").write_text("\n".join([head, *rows(v)]) + "\n")
    with pytest.warns(UserWarning, match="1 of 2 files"):
        c = ds.load_emokine(tmp_path / "emokine", cache_dir=tmp_path / "cache", progress=False)
    bad = tmp_path / "emokine" / "Data" / "CSV" / "CSV_seq1_sad" / "position.csv"
    assert len(c) == 1 and c.skipped.path.tolist() == [str(bad)]
    assert c.skipped.error[0] == f"XsensError: {bad}, line 4: column 'Pelvis_x' is not a finite number: 'oops'"


def test_import_graph_is_one_way():
    "datasets imports xsens, never the generator; the generator imports datasets."
    import subprocess, sys
    code = ("import sys, emomotion.datasets; "
            "assert 'emomotion.xsens' in sys.modules and 'emomotion.generator' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert gen.EMOTIONS is ds.EMOTIONS


def test_chapter_sized_modules_import_one_way():
    """skeletons (plain data) < bvh < bvh_writer, and skeletons < parsing < datasets: each lower module
    imports without the higher ones, and each moved public name has one home."""
    import subprocess, sys
    for low, high in (("skeletons", "bvh"), ("bvh", "bvh_writer"), ("parsing", "datasets")):
        code = (f"import sys, emomotion.{low}; "
                f"assert 'emomotion.{high}' not in sys.modules, sorted(m for m in sys.modules if 'emomotion' in m)")
        subprocess.run([sys.executable, "-c", code], check=True)
    from emomotion import bvh, bvh_writer, skeletons
    assert ds.DatasetError is parsing.DatasetError and "DatasetError" in ds.__all__
    for gone in ("write_bvh", "KEY_JOINTS"):           # moved for good: one home each
        assert not hasattr(bvh, gone), gone
    assert not hasattr(ds, "generate_kinematic") and not hasattr(ds, "ensure_synthetic")
    with pytest.raises(ds.DatasetError, match="only 1 frame"):
        raise parsing.DatasetError("x.bvh: only 1 frame(s) of motion")


def test_encode_clips_has_one_home_below_features_and_sequences():
    "The skip-a-bad-clip helpers live beside Clips: features use them without importing sequences (or torch)."
    import subprocess, sys
    code = ("import sys, emomotion.features; "
            "assert 'emomotion.sequences' not in sys.modules and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    from emomotion import sequences
    for name in ("encode_clips", "skipped_table", "SKIPPED_COLUMNS"):
        assert getattr(sequences, name) is getattr(ds, name) and name in sequences.__all__
