"""Skeleton models that see the movement (nbs/05b_skeleton_models.ipynb): windows, streams, crops, augmentation,
the multi-stream ST-GCN++ and the body-part transformer, and the 15-style Bandai task."""
from pathlib import Path

import numpy as np
import pytest
import torch

from emomotion.kinematics import rotate_y, toy_clip
from emomotion.sequences import pad_sequences
from emomotion.skeletons import KEY_JOINTS
from emomotion.skeleton_models import (BODY_PARTS, STREAMS, MultiStreamSTGCN, PartTransformer, SkeletonAugment,
                                       clip_skeleton, part_attention, skeleton_classifier, skeleton_streams,
                                       window_crops)
from emomotion.stgcn import key_graph

BANDAI = Path(__file__).resolve().parents[2] / "shared" / "data" / "bandai-namco-1"
SMALL_STGCN = dict(channels=(8, 8, 16, 16), strides=(1, 1, 2, 2))   # both ST-GCN++ and its lite variant
SMALL_PT = dict(d_model=16, n_heads=2, n_layers=1, dim_ff=32)


def toy_set(n, rng, fps=30, rate=15):
    "Stick figures whose forearms bob slowly (0.6 Hz) or fast (2 Hz): separable by movement only."
    y = np.arange(n) % 2
    seqs = [clip_skeleton(toy_clip(fps, 4.0, freq=(0.6, 2.0)[c], amp=rng.uniform(0.1, 0.2), phase=rng.uniform(0, 6))
                          + rng.normal(0, 0.005, (4 * fps, 17, 3)), fps, rate) for c in y]
    return pad_sequences(seqs, 60), np.array(["slow", "fast"])[y]


@pytest.fixture(scope="module")
def toy():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    return toy_set(32, rng), toy_set(16, rng)


def test_clip_skeleton_shape_and_invariance():
    walk = toy_clip(120, 4.0)
    a = clip_skeleton(walk, 120, 20)
    assert a.shape == (80, 51) and a.dtype == np.float32
    b = clip_skeleton(rotate_y(1.7 * walk, 0.9) + [3.0, 0.0, -2.0], 120, 20)
    assert np.allclose(a, b, atol=1e-5)


def test_clip_skeleton_names_the_bad_clip():
    walk = toy_clip(120, 1.0)
    walk[5, 3] = np.nan
    with pytest.raises(ValueError, match=r"take\.bvh.*frame 5"):
        clip_skeleton(walk, 120, 20, name="take.bvh")


def test_streams_bone_is_joint_minus_parent_and_motion_is_difference():
    g = key_graph()
    x = torch.randn(2, 10, 17, 3, dtype=torch.float64)
    joint, bone, jm, bm = skeleton_streams(x, g.parents, rate=20.0).split(3, 1)     # each (N, 3, T, V)
    for c, p in g.edges:
        assert torch.allclose(bone[..., c], joint[..., c] - joint[..., p])
    assert torch.all(bone[..., g.root] == 0)
    assert torch.allclose(jm[:, :, 1:], (joint[:, :, 1:] - joint[:, :, :-1]) * 20)
    assert torch.allclose(bm[:, :, 1:], (bone[:, :, 1:] - bone[:, :, :-1]) * 20)
    assert torch.all(jm[:, :, 0] == 0) and torch.all(bm[:, :, 0] == 0)
    # joint: relative to the root's horizontal place in the first frame, height kept
    assert torch.allclose(joint[:, [0, 2], 0, g.root], torch.zeros(2, 2, dtype=x.dtype))
    assert torch.allclose(joint[:, 1], x[..., 1])
    with pytest.raises(ValueError, match="unknown streams"):
        skeleton_streams(x, g.parents, ("joint", "speed"))


def test_window_crops_even_and_looped():
    seq = torch.zeros(2, 12, 2)
    seq[0, :, 0], seq[0, :, 1] = torch.arange(12.0), 1
    seq[1, :3, 0], seq[1, :3, 1] = torch.arange(3.0), 1
    w = window_crops(seq, 5, n_crops=3)
    assert w.shape == (2, 3, 5, 1)
    assert w[0, :, 0, 0].tolist() == [0, 4, 7] and w[0, 2, :, 0].tolist() == [7, 8, 9, 10, 11]
    assert w[1, 0, :, 0].tolist() == [0, 1, 2, 0, 1]                    # a short clip is looped
    torch.manual_seed(0)
    starts = {int(window_crops(seq, 5, random=True)[0, 0, 0, 0]) for _ in range(50)}
    assert starts <= set(range(8)) and len(starts) > 3                  # random starts over the valid range


def test_body_parts_partition_the_key_joints():
    joints = [j for js in BODY_PARTS.values() for j in js]
    assert len(joints) == len(set(joints)) == 17 and set(joints) == set(KEY_JOINTS)
    assert len(BODY_PARTS) == 6
    with pytest.raises(ValueError, match="exactly once"):
        PartTransformer((40, 52), 3, parts={"most": KEY_JOINTS[:-1]})


@pytest.mark.parametrize("make", [lambda: MultiStreamSTGCN((40, 52), 4, fusion="early", window=16, n_crops=3, **SMALL_STGCN),
                                  lambda: MultiStreamSTGCN((40, 52), 4, fusion="late", window=16, n_crops=3, **SMALL_STGCN),
                                  lambda: PartTransformer((40, 52), 4, window=16, n_crops=3, **SMALL_PT)])
def test_models_shapes_and_test_time_average(make):
    torch.manual_seed(0)
    m = make()
    X = torch.cat([torch.randn(3, 40, 51) * 0.1, torch.ones(3, 40, 1)], -1)
    m.train()
    assert m(X).shape == (3, 4)
    m.eval()
    with torch.no_grad():
        out = m(X)
        win = window_crops(X, 16, 3).reshape(9, 16, 17, 3)
        per_window = torch.softmax(m.classify(skeleton_streams(win, m.graph.parents, STREAMS, m.rate)), -1)
    assert out.shape == (3, 4)
    assert torch.allclose(out.exp(), per_window.view(3, 3, 4).mean(1), atol=1e-5)


def test_wrong_width_is_refused():
    with pytest.raises(ValueError, match="51"):
        MultiStreamSTGCN((40, 40), 3)


def test_augment_keeps_skeleton_geometry_up_to_one_scale():
    rng = np.random.default_rng(1)
    clips = [clip_skeleton(toy_clip(30, 2.0, phase=p), 30, 15) for p in rng.uniform(0, 6, 4)]
    X = torch.from_numpy(pad_sequences(clips, 40))
    out = SkeletonAugment(max_deg=45, scale=0.2, warp=0.0)(X, torch.Generator().manual_seed(0))
    a, b = X[:, :30, :-1].reshape(4, 30, 17, 3), out[:, :30, :-1].reshape(4, 30, 17, 3)
    da, db = torch.cdist(a, a), torch.cdist(b, b)
    ratio = db[da > 1e-3] / da[da > 1e-3]
    assert 0.8 - 1e-6 <= ratio.min() and ratio.max() <= 1.2 + 1e-6
    for i in range(4):                                                  # one scale per clip
        r = db[i][da[i] > 1e-3] / da[i][da[i] > 1e-3]
        assert torch.allclose(r, r[0].expand_as(r), atol=1e-4)
    assert not torch.allclose(out, X)                                   # it did turn or scale something
    assert torch.allclose(out[:, :, -1], X[:, :, -1])                  # no warp: mask unchanged


def test_time_warp_changes_speed_and_keeps_frames_contiguous():
    ramp = torch.zeros(8, 30, 4)
    ramp[:, :24, 1] = torch.arange(24.0)
    ramp[:, :24, -1] = 1
    out = SkeletonAugment(max_deg=0, scale=0, warp=0.2)(ramp, torch.Generator().manual_seed(3))
    steps = []
    for r in out:
        n = int(r[:, -1].sum())
        assert (r[:n, -1] == 1).all() and (r[n:, -1] == 0).all() and (r[n:, :-1] == 0).all()
        d = r[1:n, 1].diff()
        assert torch.allclose(d, d[0].expand_as(d), atol=1e-4)
        steps.append(float(d[0]))
    assert 0.8 - 1e-6 <= min(steps) and max(steps) <= 1.2 + 1e-6 and max(steps) - min(steps) > 0.05


class Spy:
    "Counts the batches it augments, then applies `SkeletonAugment`."
    def __init__(self):
        self.calls, self.inner = 0, SkeletonAugment()

    def __call__(self, xb, generator):
        self.calls += 1
        return self.inner(xb, generator)


def test_augmentation_only_in_fit(toy):
    (Xtr, ytr), (Xte, _) = toy
    spy = Spy()
    clf = skeleton_classifier("stgcn++", window=30, n_crops=2, rate=15, max_epochs=2, batch_size=8, val_size=0.25,
                              patience=None, augment=spy, device="cpu", **SMALL_STGCN)
    clf.fit(Xtr, ytr)
    fitted = spy.calls
    assert fitted == 2 * 3                                                # 2 epochs × 3 batches of 24 training rows
    clf.predict_proba(Xte); clf.predict(Xtr)
    assert spy.calls == fitted                                            # validation and prediction: never
    assert isinstance(skeleton_classifier().augment, SkeletonAugment)
    assert skeleton_classifier(augment=False).augment is None


def test_predict_proba_one_row_per_clip_averages_crops(toy):
    (Xtr, ytr), (Xte, _) = toy
    clf = skeleton_classifier("part-transformer", window=30, n_crops=3, rate=15, max_epochs=2, batch_size=8,
                              val_size=0, monitor="train_loss", patience=None, device="cpu", **SMALL_PT).fit(Xtr, ytr)
    proba = clf.predict_proba(Xte)
    assert proba.shape == (len(Xte), 2) and np.allclose(proba.sum(1), 1)
    m = clf.module_.eval()
    with torch.no_grad():
        win = window_crops(torch.from_numpy(Xte), 30, 3).reshape(-1, 30, 17, 3)
        per = torch.softmax(m.classify(skeleton_streams(win, m.graph.parents, STREAMS, 15)), -1)
    assert np.allclose(proba, per.view(len(Xte), 3, 2).mean(1).numpy(), atol=1e-5)
    att = part_attention(clf, Xte)
    assert att.shape == (len(Xte), 6, 15) and np.allclose(att.sum((1, 2)), 1, atol=1e-5)


@pytest.mark.parametrize("name,kw", [("stgcn++", SMALL_STGCN), ("stgcn++-lite", SMALL_STGCN), ("part-transformer", SMALL_PT)])
def test_trains_above_chance_on_separable_toy(toy, name, kw):
    (Xtr, ytr), (Xte, yte) = toy
    clf = skeleton_classifier(name, window=30, n_crops=3, rate=15, max_epochs=20, lr=1e-2, batch_size=8, val_size=0,
                              monitor="train_loss", patience=None, device="cpu", **kw).fit(Xtr, ytr)
    assert (clf.predict(Xte) == yte).mean() > 0.75                      # chance: 0.5


def test_unknown_model():
    with pytest.raises(ValueError, match="unknown model"):
        skeleton_classifier("resnet")


@pytest.mark.skipif(not BANDAI.is_dir(), reason="no Bandai-Namco-1 copy at ../shared/data")
def test_bandai_styles_has_174_clips_and_15_classes(tmp_path):
    from emomotion.datasets import load_dataset
    clips = load_dataset("bandai-styles", BANDAI, progress=False)
    assert len(clips) == 174 and clips.index["label"].nunique() == 15
    assert clips.group_col == "content" and clips.index["content"].nunique() > 1
    emotions = load_dataset("bandai", BANDAI, progress=False)
    assert len(emotions) < len(clips)


def test_study_accepts_bandai_styles(tmp_path):
    from emomotion.study import DATASETS, DataNotFoundError, check_data
    assert "bandai-styles" in DATASETS
    with pytest.raises(DataNotFoundError, match="not the Bandai-Namco motion dataset"):
        check_data("bandai-styles", tmp_path)
    if BANDAI.is_dir():
        assert check_data("bandai-styles", BANDAI) == BANDAI.resolve()


# -- issue 17: the full profile's cost (the chapter must fit 25 minutes on 2 cores on the generated full set)

def _benchmark():
    "benchmarks/skeleton_models.py as a module: its cost model (one home for the extrapolation)."
    import importlib.util
    spec = importlib.util.spec_from_file_location("skeleton_bench", Path(__file__).parents[1] / "benchmarks" / "skeleton_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_full_profile_runs_both_main_models_under_both_protocols():
    from emomotion.profiles import profile_settings
    from emomotion.skeleton_models import SKELETON_MODELS
    for name in ("quick", "full"):
        P = profile_settings(name, "skeleton_models")
        assert set(P["runs"]) == {"stratified", "grouped"}, name
        for run, models in P["runs"].items():
            assert {"stgcn++", "part-transformer"} <= set(models) <= set(SKELETON_MODELS), (name, run)
        assert 2.0 <= P["window"] / P["rate"] <= 4.0 and 15 <= P["rate"] <= 30      # windows of 2-4 s at 15-30 Hz


def test_notebook_cost_model_counts_rounds_of_folds():
    bench = _benchmark()
    P = dict(runs={"stratified": ("a",), "grouped": ("a", "b")}, max_epochs=10, n_splits=5)
    rates = {"a": (100.0, 200.0), "b": (50.0, 100.0)}
    n_train, n_val, n_test = bench.fold_rows(1000, 5)
    assert (n_train, n_val, n_test) == (680, 120, 200)
    fold_a = 10 * (680 / 100 + 120 / 200) + 2 * 200 / 200
    fold_b = 10 * (680 / 50 + 120 / 100) + 2 * 200 / 100
    cpu, wall = bench.notebook_cost(P, rates, n_clips=1000, cores=2, overhead_s=0)
    assert np.isclose(cpu, 5 * (2 * fold_a + fold_b)) and np.isclose(wall, 3 * (2 * fold_a + fold_b))



def test_bandai_styles_has_a_fingerprint(tmp_path):
    "The study fingerprints its data before any notebook runs: `bandai-styles` is Bandai's files (a study run failed here)."
    from emomotion.datasets import dataset_files
    from emomotion.provenance import fingerprint
    if not BANDAI.is_dir():
        pytest.skip("no Bandai-Namco data")
    assert dataset_files("bandai-styles", BANDAI) == dataset_files("bandai", BANDAI)
    styles, emotions = fingerprint(BANDAI, "bandai-styles"), fingerprint(BANDAI, "bandai")
    assert styles["dataset"] == "bandai-styles" and styles.pop("dataset") and emotions.pop("dataset")
    assert styles == emotions


def test_fused_part_transformer_learns_from_the_features_when_the_skeleton_carries_nothing():
    "Labels only in the features, skeleton noise: the gated fusion classifies unseen rows and leans on the features."
    import numpy as np
    import torch
    from emomotion.sequences import stack_blocks
    from emomotion.skeleton_models import skeleton_classifier
    rng = np.random.default_rng(0)
    n, L = 120, 24
    y = np.arange(n) % 2
    seqs = np.concatenate([rng.normal(0, 0.1, (n, L, 51)), np.ones((n, L, 1))], -1)
    feats = rng.normal(0, 1, (n, 6)) + 3.0 * y[:, None]                  # separable on the features only
    X, _ = stack_blocks(seq=seqs.reshape(n, -1), features=feats, dtype="float32")
    clf = skeleton_classifier("part-transformer", fusion="gated", seq_shape=(L, 52), window=12, n_crops=2, rate=10.0,
                              max_epochs=15, val_size=0.0, monitor="train_loss", patience=None, lr=1e-2,
                              d_model=8, n_heads=2, n_layers=1, dim_ff=16, feat_dim=8)
    clf.fit(X[:80], y[:80])
    assert (clf.predict(X[80:]) == y[80:]).mean() > 0.9
    m = clf[-1].module_.eval()
    with torch.no_grad():
        m(torch.from_numpy(clf[:-1].transform(X[80:]).astype(np.float32)))
    assert m.last_modality_weights[:, 1].mean() > 0.5                   # weight on the features stream
    import pytest
    with pytest.raises(ValueError, match="seq_shape"):
        skeleton_classifier("part-transformer", fusion="gated")
    with pytest.raises(ValueError, match="fusion must be one of"):      # at construction, not at the first fit
        skeleton_classifier("part-transformer", fusion="cross", seq_shape=(L, 52))


# -- ST-GCN++ as pyskl builds it: adaptive adjacency, GCN residual, multi-scale TCN, uniform sampling, stream ensemble

def test_adjacency_is_learnable_from_the_graph_and_grows_a_non_bone_edge():
    from torch import nn
    from emomotion.skeleton_models import STGCNPlusPlus
    torch.manual_seed(0)
    g = key_graph()
    m = STGCNPlusPlus((40, 52), 3, channels=(6, 12), strides=(1, 2), window=16, n_crops=2, rate=15)
    A = m.blocks[0].gcn.A
    assert isinstance(A, nn.Parameter) and A.requires_grad
    assert torch.equal(A.detach(), torch.as_tensor(g.A))                          # initialised from the partitions
    far = np.argwhere(g.hop > 1)                                                 # joints not joined by a bone
    i, j = far[0]
    assert (A.detach()[:, i, j] == 0).all()
    before = A.detach().clone()
    X = torch.cat([torch.randn(8, 40, 51) * 0.1, torch.ones(8, 40, 1)], -1)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    m.train()
    torch.nn.functional.cross_entropy(m(X), torch.arange(8) % 3).backward()
    opt.step()
    grown = (A.detach() != before)[:, far[:, 0], far[:, 1]]
    assert grown.any(), "no entry between non-bone joints changed after a training step"


def test_graph_convolution_has_a_residual_and_the_tcn_has_dilated_and_pool_branches():
    from torch import nn
    from emomotion.skeleton_models import AdaptiveGraphConv, MultiScaleTCN, STGCNPlusPlus
    g = key_graph()
    x = torch.randn(2, 12, 10, 17)
    gc = AdaptiveGraphConv(12, 12, g.A).eval()
    with torch.no_grad():
        gc.conv.weight.zero_(); gc.conv.bias.zero_()                             # the graph path gives 0 ...
        assert torch.allclose(gc(x), torch.relu(x), atol=1e-5)                   # ... and the residual carries x
    assert isinstance(AdaptiveGraphConv(6, 12, g.A).res, nn.Sequential)          # a 1×1 projection where widths differ
    tc = MultiScaleTCN(12, 12, stride=2)
    assert tc.dilations == [1, 2, 3, 4]
    kinds = [type(b[-1]).__name__ if isinstance(b, nn.Sequential) else type(b).__name__ for b in tc.branches]
    assert kinds == ["Conv2d"] * 4 + ["MaxPool2d", "Conv2d"]                     # 4 dilated convs, max pool, 1×1
    assert [b[-1].dilation[0] for b in tc.branches[:4]] == [1, 2, 3, 4]
    assert tc.branches[5].kernel_size == (1, 1)
    outs = [b(x) for b in tc.branches]
    assert [tuple(o.shape) for o in outs] == [(2, 2, 5, 17)] * 6 and sum(o.shape[1] for o in outs) == 12
    assert tuple(tc(x).shape) == (2, 12, 5, 17)
    m = STGCNPlusPlus((40, 52), 3)                                               # the default: pyskl's 10 blocks
    assert len(m.blocks) == 10 and m.blocks[0].res is None and all(b.res is not None for b in m.blocks[1:])
    assert [b.tcn.bn.num_features for b in m.blocks] == [16] * 4 + [32] * 3 + [64] * 3


def test_uniform_sampling_covers_the_whole_take():
    from emomotion.skeleton_models import STGCNPlusPlus, uniform_frames
    for length in (37, 100, 180):
        for random in (False, True):
            t = uniform_frames(torch.tensor([length]), 10, n_samples=3, random=random)[0]      # (3, 10)
            assert (t[:, 0] < length // 10).all() and (t[:, -1] >= 9 * length // 10).all()  # first and last tenth
            assert (t.diff(dim=1) > 0).all() and t.min() >= 0 and t.max() < length
    # through the model: a clip whose height is its frame number; every test sampling spans its 120 valid frames
    L, n = 150, 120
    X = torch.zeros(1, L, 52)
    X[0, :n, 1:51:3] = torch.arange(n, dtype=torch.float32)[:, None]
    X[0, :n, -1] = 1
    m = STGCNPlusPlus((L, 52), 3, channels=(6, 6), strides=(1, 1), window=12, n_crops=4, rate=15, sampling="uniform").eval()
    s, k = m.windows(X)
    assert k == 4 and tuple(s.shape) == (4, 12, 12, 17)
    frames = s[:, 1, :, 5]                                                       # joint stream, y, one joint
    assert (frames[:, 0] < n / 12).all() and (frames[:, -1] >= n - n / 12).all()
    assert torch.allclose(s[:, 7, :, 5], torch.full((4, 12), 15.0))              # joint motion: consecutive frames × rate
    with pytest.raises(ValueError, match="sampling"):
        STGCNPlusPlus((L, 52), 3, sampling="random")


def test_stream_ensemble_averages_separately_trained_stream_scores(toy):
    from emomotion.skeleton_models import StreamEnsemble
    (Xtr, ytr), (Xte, _) = toy
    ens = skeleton_classifier("stgcn++ late", window=30, n_crops=2, rate=15, max_epochs=2, batch_size=8, val_size=0,
                              monitor="train_loss", patience=None, device="cpu", channels=(6, 6), strides=(1, 2))
    assert isinstance(ens, StreamEnsemble) and [s for s, _ in ens.estimators] == list(STREAMS)
    ens.fit(Xtr, ytr)
    assert [m.module_.streams for m in ens.estimators_] == [(s,) for s in STREAMS]     # one stream each
    assert all(m.module_.in_channels == 3 for m in ens.estimators_)
    member = np.stack([m.predict_proba(Xte) for m in ens.estimators_])
    assert not np.allclose(member[0], member[1])                                 # trained apart: different scores
    assert np.allclose(ens.predict_proba(Xte), member.mean(0))
    assert (ens.predict(Xte) == ens.classes_[member.mean(0).argmax(1)]).all()


def test_the_lite_model_keeps_its_name():
    from emomotion.skeleton_models import SKELETON_MODELS, STGCNPlusPlus
    assert SKELETON_MODELS["stgcn++-lite"] == (MultiStreamSTGCN, dict(fusion="early"))
    assert SKELETON_MODELS["stgcn++-lite late"] == (MultiStreamSTGCN, dict(fusion="late"))
    assert SKELETON_MODELS["stgcn++"][0] is STGCNPlusPlus
