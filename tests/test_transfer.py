"The transfer chapter's pieces (`emomotion.transfer`): every named shift runs on a clip and does what it says, held-out groups are disjoint, the table's deltas."
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from emomotion import transfer as T
from emomotion.datasets import load_dataset


@pytest.fixture(scope="module")
def clips():
    return load_dataset("synthetic", profile="quick", progress=False)


@pytest.mark.parametrize("name", list(T.SHIFTS))
def test_every_named_shift_gives_readable_key_joints(clips, name, tmp_path):
    pos, fps = clips.positions(0), float(clips.index["fps"].iat[0])
    q, f = T.shift_transform(name, clips, tmp_dir=tmp_path)(pos, fps, 0)
    assert q.shape[1:] == (17, 3) and np.isfinite(q).all() and f > 0
    kind, v = T.SHIFTS[name]
    if kind in ("naming",) or name in ("units cm", "units m"):
        np.testing.assert_allclose(q, pos, atol=1e-3)               # read back through the layout / unit rules
    elif name == "units in":
        np.testing.assert_allclose(q, pos / 2.54, atol=1e-5)        # inches are taken for centimetres
    elif kind == "rate":
        assert f == v and abs(len(q) - len(pos) * v / fps) <= 1
    elif kind == "cut":
        assert len(q) == round(v * len(pos))
    else:
        assert not np.allclose(q, pos)


def test_naming_needs_a_bvh_file(tmp_path):
    fake = SimpleNamespace(index=pd.DataFrame({"path": [str(tmp_path / "seq1_angry" / "position.csv")]}))
    with pytest.raises(ValueError, match="not a BVH file"):
        T.shift_transform("naming cmu", fake, tmp_dir=tmp_path)(np.zeros((10, 17, 3)), 60.0, 0)
    with pytest.raises(ValueError, match="unknown shift"):
        T.shift_transform("naming bvh", fake)


def test_held_out_groups_are_disjoint_and_capped(clips):
    train, test = T.held_out_split(clips, 0.34, seed=1)
    a = clips.index["actor"]
    assert not set(a[train]) & set(a[test]) and a[test].nunique() == 2 and (train | test).all()
    assert T.held_out_split(clips, 0.34, seed=1, max_clips=6)[1].sum() == 6
    assert T.held_out_split(clips, 0.99, seed=1)[0].any()            # never every group


def test_the_table_sets_each_row_against_its_in_domain_row():
    rows = [dict(model="rf", source="s", target="s", shift="none", n=4, failed=0, accuracy=0.75, auroc=0.8),
            dict(model="rf", source="s", target="s", shift="cut 50 %", n=4, failed=0, accuracy=0.5, auroc=0.5),
            dict(model="rf", source="g", target="s", shift="none", n=4, failed=0, accuracy=0.25, auroc=0.4)]
    t = T.transfer_table(rows)
    np.testing.assert_allclose(t["d_accuracy"], [0, -0.25, 0])
    np.testing.assert_allclose(t["in_domain_auroc"], [0.8, 0.8, 0.4])


def test_a_body_scaled_bundle_reads_a_file_in_inches_as_it_reads_the_original(clips, tmp_path):
    "The per-recording normalisation (`train --scale body`): the same probabilities for a file in inches; unscaled: not."
    from emomotion.bundle import train_bundle
    from emomotion.external import evaluate_bundle
    from emomotion.predict import load_model
    few = clips.subset(np.arange(8))
    inches = T.shift_transform("units in", few)
    p = {}
    for scale in ("none", "body"):
        b = load_model(train_bundle(clips, "rf", tmp_path / scale, evaluate=False, scale=scale))
        cols = [f"p_{c}" for c in b.classes]
        p[scale] = [evaluate_bundle(b, few, n_boot=10, transform=t).clips[cols].to_numpy(float) for t in (None, inches)]
    np.testing.assert_allclose(p["body"][1], p["body"][0], atol=1e-9)
    assert not np.allclose(p["none"][1], p["none"][0])
    meta = __import__("json").loads((tmp_path / "body" / "model.json").read_text())
    assert meta["inputs"]["options"]["scale"] == "body"
    with pytest.raises(ValueError, match="already reads each clip in its own body sizes"):
        train_bundle(clips, "lstm", tmp_path / "x", evaluate=False, scale="body")
