"""Tests of emomotion.stgcn: the skeleton graphs are single trees whose edges are the BVH parents (checked
against an independent parser, upc-pymotion, on real files), the partitions add up to the normalised
adjacency, the dataset builder's invariances and shapes, the model's shapes, and that the fold-fitted
feature scaler sees only training rows."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from emomotion.bvh import kinematic_skeleton, read_bvh
from emomotion.bvh_writer import write_bvh
from emomotion.skeletons import KEY_JOINTS, KEY_PARENT_IDX, KINEMATIC_JOINTS, KINEMATIC_PARENT_IDX
from emomotion.kinematics import body_height, derivatives, heading, rotate_y
from emomotion.sequences import TakeBlock, stack_blocks
from emomotion.stgcn import (FUSIONS, STGCN, FusionSTGCN, Graph, RotateScale, attention_readout, build_tensors,
                             clip_tensor, key_graph, kinematic_graph, stgcn_classifier)

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
BANDAI = sorted((SHARED / "data" / "bandai-namco-1" / "data").glob("*.bvh"))
FIXTURES = sorted((SHARED / "data" / "fixtures").glob("*/*.bvh"))


def parent_edges(parents):
    return sorted((int(j), int(p)) for j, p in enumerate(parents) if p >= 0 and p != j)


def check_tree(g: Graph, parents):
    assert g.n_components == 1
    assert len(g.edges) == g.V - 1
    assert sorted(g.edges) == parent_edges(parents)
    # every joint reaches the root: hop distance finite, and equals its depth in the parent chain
    assert np.isfinite(g.hop).all()
    for j in range(g.V):
        d, k = 0, j
        while parents[k] >= 0 and parents[k] != k:
            k, d = parents[k], d + 1
        assert g.hop[j, g.root] == d


def test_kinematic_graph_is_the_bvh_tree(tmp_path):
    g = kinematic_graph()
    assert g.V == 59 and g.names == KINEMATIC_JOINTS
    check_tree(g, KINEMATIC_PARENT_IDX)
    # the same tree through a written and re-read BVH file, and through the independent parser
    path = write_bvh(kinematic_skeleton(n_frames=3), tmp_path / "k.bvh")
    b = read_bvh(path)
    gb = Graph.from_bvh(b)
    check_tree(gb, b.parents)
    assert gb.names == KINEMATIC_JOINTS and gb.edges == g.edges
    from pymotion.io.bvh import BVH
    pm = BVH(); pm.load(str(path))
    assert list(pm.data["names"]) == gb.names
    assert sorted(gb.edges) == parent_edges(pm.data["parents"])
    # the seed's bug split this graph into 5 pieces; here the hands hang off the arms
    assert ("RightHandThumb1", "RightHand") in g.edge_names and ("LeftHand", "LeftForeArm") in g.edge_names


def test_key_graph_is_the_contract_tree():
    g = key_graph()
    assert g.V == 17 and g.names == KEY_JOINTS
    check_tree(g, KEY_PARENT_IDX)
    expected = {"Spine3": "Hips", "Head": "Spine3", "RightShoulder": "Spine3", "LeftShoulder": "Spine3",
                "RightArm": "RightShoulder", "LeftForeArm": "LeftArm", "RightHand": "RightForeArm",
                "LeftUpLeg": "Hips", "RightLeg": "RightUpLeg", "LeftFoot": "LeftLeg"}
    assert expected.items() <= dict(g.edge_names).items()
    assert g.names[g.center] == "Hips"


@pytest.mark.skipif(not BANDAI, reason="Bandai data not found under ../shared")
@pytest.mark.parametrize("path", BANDAI[:3] + FIXTURES, ids=lambda p: p.name)
def test_real_file_graphs_match_an_independent_parser(path):
    from pymotion.io.bvh import BVH
    b = read_bvh(path)
    g = Graph.from_bvh(b)
    check_tree(g, b.parents)
    pm = BVH(); pm.load(str(path))
    assert list(pm.data["names"]) == g.names
    assert sorted(g.edges) == parent_edges(pm.data["parents"])


@pytest.mark.skipif(not BANDAI, reason="Bandai data not found under ../shared")
def test_bandai_graph_has_22_joints():
    g = Graph.from_bvh(read_bvh(BANDAI[0]))
    assert g.V == 22 and g.names[g.root] == "joint_Root" and g.names[g.center] == "Hips"
    assert ("UpperLeg_L", "Hips") in g.edge_names and ("Shoulder_R", "Chest") in g.edge_names


@pytest.mark.parametrize("make", [key_graph, kinematic_graph])
@pytest.mark.parametrize("strategy,K", [("spatial", 3), ("distance", 2), ("uniform", 1)])
def test_partitions_sum_to_normalised_adjacency(make, strategy, K):
    g = make(strategy=strategy)
    assert g.A.shape == (K, g.V, g.V) and g.A.dtype == np.float32
    A = (g.hop <= 1).astype(float)
    expected = A / A.sum(1, keepdims=True)
    assert np.allclose(g.A.sum(0), expected, atol=1e-6) and np.allclose(g.A_norm, expected)
    assert np.allclose(g.A_norm.sum(1), 1)
    support = (g.A > 0).astype(int)
    assert support.sum(0).max() == 1            # partitions are disjoint
    if strategy == "spatial":                   # self / towards the centre (parent) / away (children)
        assert np.array_equal(support[0], np.eye(g.V, dtype=int))
        for c, p in g.edges:
            assert g.A[1, c, p] > 0 and g.A[2, p, c] > 0 and g.A[1, p, c] == 0


def test_centre_elsewhere_changes_partitions_not_their_sum():
    g0, g1 = key_graph(), key_graph(center="Spine3")
    assert np.allclose(g0.A.sum(0), g1.A.sum(0)) and not np.allclose(g0.A, g1.A)
    i, j = KEY_JOINTS.index("Hips"), KEY_JOINTS.index("Spine3")
    assert g1.A[1, i, j] > 0                    # centred on Spine3, the hips' centripetal neighbour is Spine3


@pytest.mark.parametrize("mutate,message", [
    (lambda p: p.__setitem__(KEY_JOINTS.index("LeftArm"), KEY_JOINTS.index("LeftHand")), "connected components"),
    (lambda p: p.__setitem__(KEY_JOINTS.index("Head"), -1), "exactly one root"),
    (lambda p: p.__setitem__(KEY_JOINTS.index("Head"), 40), "invalid parent"),
    (lambda p: p.__setitem__(KEY_JOINTS.index("Head"), KEY_JOINTS.index("Head")), "invalid parent"),
])
def test_corrupted_skeletons_are_refused(mutate, message):
    p = np.asarray(KEY_PARENT_IDX).copy()
    mutate(p)
    with pytest.raises(ValueError, match=message):
        Graph(p, KEY_JOINTS)


def test_draw_returns_axes():
    import matplotlib.pyplot as plt
    g = kinematic_graph()
    plt.scatter([0], [0])               # a figure left open by someone else: draw() must not draw over it
    ax = g.draw(node_values=np.arange(g.V), edge_values=np.arange(len(g.edges)), labels=True)
    assert len(ax.collections) == 2
    plt.close("all")


# -- dataset builder

def _motion(rng, T=250, V=17):
    pose = rng.normal(size=(1, V, 3)) * 0.3
    wave = np.sin(np.linspace(0, 8, T))[:, None, None] * rng.normal(size=(1, V, 3)) * 0.1
    return pose + wave + np.linspace(0, 1, T)[:, None, None] * np.array([0.5, 0.0, 1.0])


def test_clip_tensor_invariances_and_channels():
    rng = np.random.default_rng(1)
    pos, par = _motion(rng), np.asarray(KEY_PARENT_IDX)
    x = clip_tensor(pos, 125, par, 24, ("pos", "vel", "bone"), 0)
    assert x.shape == (9, 24, 17) and x.dtype == np.float32
    th = 1.1
    R = np.array([[np.cos(th), 0, np.sin(th)], [0, 1, 0], [-np.sin(th), 0, np.cos(th)]])
    assert np.allclose(x, clip_tensor(3 * pos @ R.T - [2, 0, 7], 125, par, 24, ("pos", "vel", "bone"), 0), atol=1e-5)
    assert np.allclose(x[:3, :, 0], 0)                     # centred on the root in every frame
    assert not np.allclose(x[3:6, :, 0], 0)                # the root's velocity keeps the locomotion
    # without alignment, a turned body gives a different tensor
    assert not np.allclose(x, clip_tensor(pos @ R.T, 125, par, 24, ("pos", "vel", "bone"), 0, canonical=False), atol=1e-3)
    # velocities are per second: the same motion sampled twice as densely gives the same tensor
    fine = _motion(np.random.default_rng(1), T=2 * len(pos) - 1)        # the same motion, every other frame between
    assert np.allclose(fine[::2], pos)
    coarse = clip_tensor(pos, 125, par, 24)
    assert np.allclose(clip_tensor(fine, 250, par, 24), coarse, atol=0.01 * np.abs(coarse).max())    # within 1 %
    with pytest.raises(ValueError, match="clipX.*non-finite"):
        bad = pos.copy(); bad[5, 2, 1] = np.nan
        clip_tensor(bad, 125, par, name="clipX")
    with pytest.raises(ValueError, match=r"\(T, 17, 3\)"):
        clip_tensor(pos[:, :10], 125, par)


class FakeClips:
    "The part of datasets.Clips the builder uses."
    def __init__(self, tmp_path, n=6):
        rng = np.random.default_rng(2)
        self.name = "fake"
        self._pos = [_motion(rng, T=int(rng.integers(100, 300))).astype(np.float32) for _ in range(n)]
        paths = []
        for i in range(n):
            p = tmp_path / f"c{i}.bvh"; p.write_text(str(i)); paths.append(str(p))
        self.index = pd.DataFrame({"path": paths, "fps": 125.0, "label": ["A", "B"] * (n // 2),
                                   "content_hash": [f"h{i}" for i in range(n)]})
        self.skeleton = (list(KEY_JOINTS), np.asarray(KEY_PARENT_IDX))
        self.calls = 0

    def all_positions(self):
        self.calls += 1
        return self._pos

    def full_positions(self, i):
        self.calls += 1
        return self._pos[i]


def test_build_tensors_shapes_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOMOTION_CACHE", str(tmp_path / "cache"))
    clips = FakeClips(tmp_path)
    gt = build_tensors(clips, n_frames=20, channels=("pos", "vel"))
    assert gt.X.shape == (6, 6, 20, 17) and gt.shape == (6, 20, 17) and gt.graph.V == 17
    assert gt.channels == ["pos_x", "pos_y", "pos_z", "vel_x", "vel_y", "vel_z"]
    assert np.allclose(gt.X[2], clip_tensor(clips._pos[2], 125, KEY_PARENT_IDX, 20, ("pos", "vel"), 0))
    again = build_tensors(clips, n_frames=20, channels=("pos", "vel"))
    assert clips.calls == 1 and np.array_equal(again.X, gt.X)         # second call read the cache
    assert build_tensors(clips, n_frames=12).X.shape[2] == 12 and clips.calls == 2
    full = build_tensors(clips, joints="all", n_frames=20, channels=("pos", "vel", "bone"), cache=False)
    assert full.X.shape == (6, 9, 20, 17)
    for bad in ("hands", "full"):                                      # one word per choice: key | all
        with pytest.raises(ValueError, match="joints must be 'key' or 'all'"):
            build_tensors(clips, joints=bad)


def test_build_tensors_leaves_out_only_the_bad_clip(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOMOTION_CACHE", str(tmp_path / "cache"))
    clips = FakeClips(tmp_path)
    clips._pos[1] = clips._pos[1].copy(); clips._pos[1][7, 4, 2] = np.inf
    for joints in ("key", "all"):
        with pytest.warns(UserWarning, match=r"1 of 6 clips could not be encoded.*c1\.bvh \(clip 1\): non-finite"):
            gt = build_tensors(clips, joints=joints, n_frames=20)
        assert gt.rows.tolist() == [0, 2, 3, 4, 5] and gt.index.label.tolist() == ["A", "A", "B", "A", "B"]
        assert np.allclose(gt.X[1], clip_tensor(clips._pos[2], 125, KEY_PARENT_IDX, 20, ("pos", "vel"), 0))
        assert gt.skipped[["row", "path"]].values.tolist() == [[1, clips.index.path[1]]]
    assert not (tmp_path / "cache" / "stgcn").exists()              # a batch that left a clip out is not cached


def test_graph_tensors_and_sequences_name_the_joints_alike():
    "`build_tensors` and `build_sequences` take the same parameter, with the same values and default."
    import inspect
    from emomotion.sequences import build_sequences
    for f in (build_tensors, build_sequences):
        assert inspect.signature(f).parameters["joints"].default == "key", f.__name__


# -- model and estimator

def test_clip_tensor_uses_the_shared_kinematics():
    """Heading, body size and velocities come from emomotion.kinematics (as for the sequences): the pos channel
    is the clip turned by `heading` about the vertical, centred on the hips and divided by `body_height`, and
    the vel channel is the Savitzky–Golay derivative of that (not np.gradient's)."""
    rng = np.random.default_rng(7)
    pos = rotate_y(_motion(rng, T=125), 0.9) + rng.normal(0, 0.003, (125, 17, 3))       # noisy, turned
    x = clip_tensor(pos, 125, KEY_PARENT_IDX, 125, ("pos", "vel"), 0)                    # 125 bins: no resampling
    z = rotate_y(pos, heading(pos, 125)) / body_height(pos)
    assert np.allclose(x[:3].transpose(1, 2, 0), z - z[:, :1], atol=1e-5)
    assert np.allclose(x[3:].transpose(1, 2, 0), derivatives(z, 125, (1,))[0], atol=1e-4)
    assert not np.allclose(x[3:].transpose(1, 2, 0), np.gradient(z, 1 / 125, axis=0), atol=1e-2)


def test_fusion_model_unpacks_stack_blocks():
    rng = np.random.default_rng(3)
    Xg, Xf = rng.normal(size=(4, 6, 8, 17)).astype(np.float32), rng.normal(size=(4, 5))
    P, takes = stack_blocks(graph=Xg, features=Xf, dtype="float32")
    assert P.shape == (4, 6 * 8 * 17 + 5) and P.dtype == np.float32
    assert np.array_equal(takes["graph"].transform(P), Xg) and np.allclose(takes["features"].transform(P), Xf)
    m = FusionSTGCN(P.shape[1], 3, key_graph(), (6, 8, 17), "skeleton", channels=(8,), strides=(1,)).eval()
    with torch.no_grad():
        a = m(torch.from_numpy(P))
        b = m.head(m.encoder(torch.from_numpy(Xg)))                 # the graph part, unpacked by hand
    assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="different numbers of rows"):
        stack_blocks(graph=Xg, features=Xf[:3])


@pytest.mark.parametrize("fusion", FUSIONS)
def test_fusion_shapes_and_gradients(fusion):
    torch.manual_seed(0)
    gs = (6, 16, 17)
    m = FusionSTGCN(int(np.prod(gs)) + 12, 5, key_graph(), gs, fusion, channels=(8, 16), strides=(1, 2), feat_dim=8)
    x = torch.randn(7, int(np.prod(gs)) + 12)
    out = m(x)
    assert out.shape == (7, 5)
    out.sum().backward()
    if fusion != "features":
        imp = m.encoder.blocks[0].gcn.importance
        assert imp.grad is not None and imp.grad.abs().sum() > 0
        assert m.encoder.joint_attention().shape == (7, 17)
    if fusion == "gated":
        assert m.last_modality_weights.shape == (7, 2) and torch.allclose(m.last_modality_weights.sum(1), torch.ones(7))
    if fusion == "cross":
        assert m.last_feature_attention.shape == (7, 12)
        m.eval()(x)                                  # without attention dropout, weights sum to one
        assert torch.allclose(m.last_feature_attention.sum(1), torch.ones(7), atol=1e-5)


def test_skeleton_model_ignores_features_and_features_model_ignores_graph():
    torch.manual_seed(0)
    gs, d = (6, 8, 17), 6 * 8 * 17
    x = torch.randn(4, d + 3)
    x2 = x.clone(); x2[:, d:] += 5
    sk = FusionSTGCN(d + 3, 3, key_graph(), gs, "skeleton", channels=(8,), strides=(1,)).eval()
    assert torch.allclose(sk(x), sk(x2))
    ft = FusionSTGCN(d + 3, 3, key_graph(), gs, "features", feat_dim=8).eval()
    x3 = x.clone(); x3[:, :d] += 5
    assert torch.allclose(ft(x), ft(x3)) and not torch.allclose(ft(x), ft(x2))


def test_plain_stgcn_and_bad_shapes():
    assert STGCN((9, 12, 59), 7, kinematic_graph(), channels=(8, 8), strides=(1, 2))(torch.randn(2, 9, 12, 59)).shape == (2, 7)
    with pytest.raises(ValueError, match="joints"):
        STGCN((9, 12, 17), 7, kinematic_graph())
    with pytest.raises(ValueError, match="fusion"):
        FusionSTGCN(100, 3, key_graph(), (1, 1, 17), "sum")


def test_rotate_scale_augmentation():
    gs = (6, 4, 17)
    aug = RotateScale(gs, max_deg=30, scale=0.0)
    x = torch.randn(5, 6 * 4 * 17 + 3)
    out = aug(x, torch.Generator().manual_seed(0))
    take = TakeBlock(0, int(np.prod(gs)), gs)
    g0, f0, g1, f1 = take.transform(x), x[:, take.stop:], take.transform(out), out[:, take.stop:]
    assert torch.equal(f0, f1)                                          # features untouched
    assert torch.allclose(g0[:, 1], g1[:, 1]) and torch.allclose(g0[:, 4], g1[:, 4])   # y channels unchanged
    n0 = g0[:, [0, 2]].norm(dim=1); n1 = g1[:, [0, 2]].norm(dim=1)
    assert torch.allclose(n0, n1, atol=1e-5) and not torch.allclose(g0, g1)          # a turn about the vertical


def test_feature_scaler_is_fitted_on_training_rows_only():
    rng = np.random.default_rng(4)
    gs = (6, 8, 17)
    n = 40
    Xg = rng.normal(size=(n, *gs)).astype(np.float32)
    Xf = rng.normal(size=(n, 4)) + 3
    Xf[2, 2] = Xf[3, 1] = np.nan                                        # imputed inside the fold
    y = np.repeat([0, 1], n // 2)
    X, _ = stack_blocks(graph=Xg, features=Xf, dtype="float32")
    est = stgcn_classifier(key_graph(), gs, "concat", max_epochs=2, patience=2, channels=(8,), strides=(1,),
                           feat_dim=8, device="cpu")
    train = np.arange(0, n, 2)
    est.fit(X[train], y[train])
    scaler = est.named_steps["columns"].named_transformers_["features"].named_steps["scale"]
    tr = Xf[train]
    assert np.allclose(scaler.mean_, np.where(np.isnan(tr), np.nanmedian(tr, 0), tr).mean(0))
    assert not np.allclose(scaler.mean_, np.nanmean(Xf, 0))
    Xt = est[:-1].transform(X)
    assert np.array_equal(Xt[:, :np.prod(gs)], X[:, :np.prod(gs)])      # graph columns pass through
    proba = est.predict_proba(X[1::2])
    assert proba.shape == (n // 2, 2) and np.allclose(proba.sum(1), 1)
    ro = attention_readout(est, X[:5])
    assert ro["joint"].shape == (5, 17) and ro["edge_importance"].shape == (17, 17)
    assert ro["modality"] is None and ro["feature"] is None          # concat fusion has neither
