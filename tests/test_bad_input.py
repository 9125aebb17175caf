"""A batch loses only the bad clip: real Bandai-Namco clips and one real clip cut to four frames. The loader rejects
it (too short for any model, `kinematics.MIN_FRAMES`); loaded as a laxer loader would, the feature table, sequence,
graph-tensor and MoEmo-frame builders, and a bundle's training set (`bundle.training_inputs`), keep the good clips row for row with their labels and list the short one with a one-line
reason naming its file (`datasets.encode_clips`). A clip whose joints coincide loads and has features but no
sequence: `datasets.align_clips` keeps features, sequences and labels paired, as the chapters use it."""
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emomotion import datasets
from emomotion.datasets import LEFT_OUT, align_clips, load_dataset, skipped_of
from emomotion.evaluate import record_skipped
from emomotion.features import clip_features, feature_table
from emomotion.sequences import build_sequences, clip_sequence, stack_blocks
from emomotion.stgcn import build_tensors, clip_tensor, key_graph

BANDAI = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "bandai-namco-1" / "data"
GOOD = [f"dataset-1_{c}_{s}_001.bvh" for c in ("bow", "bye") for s in ("angry", "happy", "normal", "sad")]
SHORT = "dataset-1_bow_sad_002.bvh"          # sorts between the good clips: row 4 of 9

pytestmark = pytest.mark.skipif(not BANDAI.is_dir(), reason="no Bandai-Namco-1 copy at ../shared/data")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    "The good clips and the four-frame one."
    root = tmp_path_factory.mktemp("bandai")
    for name in GOOD:
        (root / name).symlink_to(BANDAI / name)
    head, motion = (BANDAI / "dataset-1_byebye_sad_001.bvh").read_text().split("MOTION", 1)
    lines = motion.strip().splitlines()                      # Frames:, Frame Time:, then one line per frame
    (root / SHORT).write_text(head + "\n".join(["MOTION", "Frames:\t4", lines[1], *lines[2:6]]) + "\n")
    return root


@pytest.fixture(scope="module")
def clips(folder, tmp_path_factory):
    "All nine, the short one included, as a loader without the frame minimum would give them."
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(datasets, "MIN_FRAMES", 2)
        c = load_dataset("bandai", folder, cache_dir=tmp_path_factory.mktemp("cache"), n_jobs=1, progress=False)
    assert len(c) == 9 and c.index.path.iloc[4].endswith(SHORT) and c.index.n_frames.iloc[4] == 4
    return c


def test_loader_rejects_a_clip_too_short_for_any_model(folder, tmp_path):
    with pytest.warns(UserWarning, match=rf"1 of 9 files could not be loaded.*{SHORT}: 4 frames are too few"):
        c = load_dataset("bandai", folder, cache_dir=tmp_path, n_jobs=1, progress=False)
    assert len(c) == 8 and not c.index.path.str.endswith(SHORT).any()
    assert c.skipped.path.tolist() == [str(folder / SHORT)]
    assert c.skipped.error.iloc[0] == f"DatasetError: {folder / SHORT}: 4 frames are too few (need at least 7)"


def check_skipped(skipped, clips):
    assert skipped.row.tolist() == [4] and skipped.path.tolist() == [clips.index.path.iloc[4]]
    err = skipped.error.iloc[0]
    assert "\n" not in err and SHORT in err and "4 frames are too few" in err, err


def test_sequences_keep_the_good_clips_and_list_the_bad_one(clips, tmp_path):
    with pytest.warns(UserWarning, match=rf"1 of 9 clips could not be encoded.*{SHORT}"):
        seqs = build_sequences(clips, cache_dir=tmp_path)
    kept = [0, 1, 2, 3, 5, 6, 7, 8]
    assert len(seqs) == 8 and seqs.rows.tolist() == kept
    check_skipped(seqs.skipped, clips)
    assert (seqs.y == clips.index.label.iloc[kept].to_numpy()).all()
    assert (seqs.index.clip_id.to_numpy() == clips.index.clip_id.iloc[kept].to_numpy()).all()
    row5 = clip_sequence(clips.positions(5), 30.0)              # the clip after the bad one: not shifted
    assert np.allclose(seqs.X[4, :len(row5), :-1], row5)
    good = build_sequences(clips.subset(seqs.rows), cache=False)
    assert np.array_equal(good.X, seqs.X) and good.skipped.empty
    assert not list((tmp_path / "sequences").glob("*.npy"))      # a batch that left a clip out is not cached
    with pytest.warns(UserWarning, match=SHORT):                 # so it warns again on the next run
        build_sequences(clips, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=rf"none of the 1 clips.*{SHORT}"):
        build_sequences(clips.subset([4]), cache=False)


def test_graph_tensors_keep_the_good_clips_and_list_the_bad_one(clips):
    with pytest.warns(UserWarning, match=rf"1 of 9 clips could not be encoded.*{SHORT}"):
        gt = build_tensors(clips, n_frames=16, cache=False)
    assert gt.X.shape == (8, 6, 16, 17) and gt.rows.tolist() == [0, 1, 2, 3, 5, 6, 7, 8]
    check_skipped(gt.skipped, clips)
    assert (gt.index.label.to_numpy() == clips.index.label.iloc[gt.rows].to_numpy()).all()
    g = key_graph()
    assert np.allclose(gt.X[4], clip_tensor(clips.positions(5), 30.0, g.parents, 16, center=g.center))
    # the features of the same clips, row for row, as 05_stgcn packs them
    kept = clips.subset(gt.rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                          # a joint that never moves: non-finite features
        Xf, meta = feature_table(kept, n_jobs=1, cache=False, progress=False)
    X, _ = stack_blocks(graph=gt.X, features=Xf.to_numpy(np.float32), dtype="float32")
    assert len(X) == 8 and (meta.clip_id.to_numpy() == gt.index.clip_id.to_numpy()).all()


def test_feature_table_keeps_the_good_clips_and_lists_the_bad_one(clips):
    with pytest.warns(UserWarning, match=rf"feature_table: 1 of 9 clips could not be encoded.*{SHORT}"):
        X, meta = feature_table(clips, n_jobs=1, cache=False, progress=False)
    kept = [0, 1, 2, 3, 5, 6, 7, 8]
    assert X.index.tolist() == meta.index.tolist() == kept and len(X) == 8
    assert (meta.label.to_numpy() == clips.index.label.iloc[kept].to_numpy()).all()
    check_skipped(skipped_of(meta), clips)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                          # a joint that never moves: non-finite features
        row5 = np.fromiter(clip_features(clips.positions(5), 30.0).values(), float)
    assert np.allclose(X.loc[5], row5, equal_nan=True)           # the clip after the bad one: not shifted


def test_chapters_keep_features_sequences_and_labels_paired(tmp_path):
    """A clip whose joints all coincide loads and has features, but no sequence: as 06/10/11 do, the features and
    sequences are aligned on the clips both kept, and the clip left out reaches `tables/skipped.csv`."""
    root = tmp_path / "bandai"
    root.mkdir()
    for name in GOOD:
        (root / name).symlink_to(BANDAI / name)
    head, motion = (BANDAI / GOOD[5]).read_text().split("MOTION", 1)
    flat = re.sub(r"OFFSET.*", "OFFSET 0 0 0", head)                    # row 4: every joint at the origin
    channels = [c for ln in head.splitlines() if "CHANNELS" in ln for c in ln.split()[2:]]
    where = [i for i, c in enumerate(channels) if c.endswith("position")]
    lines = motion.strip().splitlines()
    frames = [" ".join("0" if i in where else v for i, v in enumerate(ln.split())) for ln in lines[2:]]
    (root / SHORT).write_text(flat + "\n".join(["MOTION", *lines[:2], *frames]) + "\n")
    clips = load_dataset("bandai", root, cache_dir=tmp_path / "cache", n_jobs=1, progress=False)
    assert len(clips) == 9 and clips.skipped.empty
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X, meta = feature_table(clips, n_jobs=1, cache=False, progress=False)
        seqs = build_sequences(clips, cache=False)
    assert len(X) == 9 and len(seqs) == 8 and "degenerate skeleton" in seqs.skipped.error.iloc[0]
    record_skipped(tmp_path / "out", feature_table=meta, build_sequences=seqs)
    kept, X2, meta2, seqs2 = align_clips(clips, X, meta, seqs)
    assert len(kept) == len(X2) == len(meta2) == len(seqs2) == 8
    assert (kept.index.clip_id == meta2.clip_id).all() and (seqs2.index.clip_id == meta2.clip_id).all()
    assert (seqs2.y == kept.index.label.to_numpy()).all() and seqs2.rows.tolist() == list(range(8))
    assert np.array_equal(X2.to_numpy(), X.drop(index=4).to_numpy(), equal_nan=True)
    both, _ = stack_blocks(features=X2.to_numpy(np.float32), sequences=seqs2.X, dtype="float32")
    assert len(both) == 8
    table = pd.read_csv(tmp_path / "out" / "tables" / "skipped.csv")
    assert table[["path", "stage"]].values.tolist() == [[clips.index.path.iloc[4], "build_sequences"]]


def test_skeleton_sequences_keep_the_good_clips_and_list_the_bad_one(clips, tmp_path):
    "05b's input: the short clip costs only itself, and reaches `tables/skipped.csv` as 05b's study cell records it."
    from emomotion.skeleton_models import build_skeleton_sequences
    with pytest.warns(UserWarning, match=rf"build_skeleton_sequences: 1 of 9 clips could not be encoded.*{SHORT}"):
        sq = build_skeleton_sequences(clips, rate=10, max_seconds=4)
    kept = [0, 1, 2, 3, 5, 6, 7, 8]
    assert len(sq) == 8 and sq.X.shape == (8, 40, 52) and sq.rows.tolist() == kept
    check_skipped(sq.skipped, clips)
    assert (sq.y == clips.index.label.iloc[kept].to_numpy()).all()
    alone = build_skeleton_sequences(clips.subset([5]), rate=10, max_seconds=4)
    assert np.array_equal(sq.X[4], alone.X[0]) and alone.skipped.empty      # the clip after the bad one: not shifted
    table = record_skipped(tmp_path, build_skeleton_sequences=sq)
    assert table.path.tolist() == [clips.index.path.iloc[4]] and table.stage.tolist() == ["build_skeleton_sequences"]
    aligned, sq2 = align_clips(clips, sq)
    assert len(aligned) == 8 and (sq2.y == aligned.index.label.to_numpy()).all() and sq2.rows.tolist() == list(range(8))
    with pytest.raises(ValueError, match=rf"none of the 1 clips.*{SHORT}"):
        build_skeleton_sequences(clips.subset([4]))


def test_moemo_frames_keep_the_good_clips_and_list_the_bad_one(clips):
    from emomotion.moemo import moemo_frames
    with pytest.warns(UserWarning, match=rf"1 of 9 clips could not be encoded.*{SHORT}"):
        fr = moemo_frames(clips)
    assert len(fr) == 8 and fr.rows.tolist() == [0, 1, 2, 3, 5, 6, 7, 8]
    check_skipped(fr.skipped, clips)
    assert np.array_equal(moemo_frames(clips.subset(fr.rows)).X, fr.X)       # the others as they are alone


def test_a_bundle_is_trained_on_the_good_clips_and_names_the_bad_one(clips, tmp_path):
    import json
    from emomotion.bundle import train_bundle
    with pytest.warns(UserWarning, match=rf"train_bundle: 1 of 9 clips could not be encoded.*{SHORT}"):
        b = train_bundle(clips, "rf", tmp_path / "rf", evaluate=False)
    meta = json.loads((b / "model.json").read_text())
    assert sum(meta["training_data"]["counts"].values()) == 8
    left = meta["training_data"]["left_out"]
    assert [r["path"] for r in left] == [clips.index.path.iloc[4]] and "4 frames are too few" in left[0]["error"]
    assert "Left out because they could not be encoded: 1 of the dataset's clips" in (b / "MODEL_CARD.md").read_text()
