"""A batch loses only the bad clip: real Bandai-Namco clips and one real clip cut to four frames (it loads, but is
too short to encode). The sequence and graph-tensor builders keep the good clips row for row with their labels and
list the short one with a one-line reason naming its file (`sequences.encode_clips`)."""
import warnings
from pathlib import Path

import numpy as np
import pytest

from emomotion.datasets import load_dataset
from emomotion.features import feature_table
from emomotion.sequences import build_sequences, clip_sequence, stack_blocks
from emomotion.stgcn import build_tensors, clip_tensor, key_graph

BANDAI = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "bandai-namco-1" / "data"
GOOD = [f"dataset-1_{c}_{s}_001.bvh" for c in ("bow", "bye") for s in ("angry", "happy", "normal", "sad")]
SHORT = "dataset-1_bow_sad_002.bvh"          # sorts between the good clips: row 4 of 9

pytestmark = pytest.mark.skipif(not BANDAI.is_dir(), reason="no Bandai-Namco-1 copy at ../shared/data")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("bandai")
    for name in GOOD:
        (root / name).symlink_to(BANDAI / name)
    head, motion = (BANDAI / "dataset-1_byebye_sad_001.bvh").read_text().split("MOTION", 1)
    lines = motion.strip().splitlines()                      # Frames:, Frame Time:, then one line per frame
    (root / SHORT).write_text(head + "\n".join(["MOTION", "Frames:\t4", lines[1], *lines[2:6]]) + "\n")
    c = load_dataset("bandai", root, cache_dir=tmp_path_factory.mktemp("cache"), n_jobs=1, progress=False)
    assert len(c) == 9 and c.index.path.iloc[4].endswith(SHORT) and c.index.n_frames.iloc[4] == 4
    return c


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
