"""`moemo` as its authors built it (05a_moemo: `MoEmoNet`): the movement vectors keep the posture, the tokens are
the joints, windows are cropped as the part transformer's, and every model that is not the paper's says so."""
import inspect

import numpy as np
import pytest
import torch

from emomotion.kinematics import rotate_y, toy_clip

T, W = 20, 8            # 2 s at 10 Hz; windows of 8 movement vectors


def rows(n: int = 6, seed: int = 0):
    "Packed rows of made-up walks in the paper's layout (positions), some shorter than the 2-s frame block."
    from emomotion.moemo import MoEmoPrep, moemo_inputs
    rng = np.random.default_rng(seed)
    clips = [rotate_y(toy_clip(60, rng.uniform(1.2, 3.0), freq=rng.uniform(0.5, 2)), rng.uniform(-3, 3)) for _ in range(n)]
    X = moemo_inputs(clips, 60, rng.integers(0, 2, n), rate=10, max_seconds=2)
    return X, torch.from_numpy(MoEmoPrep(T).fit(X).transform(X))


def test_movement_vectors_keep_the_posture():
    "(p_t, p_{t+1}): shape (T - 1, J, 6), the first three channels the positions, the last three the next frame's."
    from emomotion.moemo import clip_positions, movement_pairs, movement_vectors
    walk = toy_clip(120, 3.0)
    pos = clip_positions(walk, 120, rate=15)
    mv = movement_vectors(walk, 120, rate=15)
    assert pos.shape == (45, 17, 3) and mv.shape == (44, 17, 6)
    np.testing.assert_array_equal(mv[..., :3], pos[:-1])
    np.testing.assert_array_equal(mv[..., 3:], pos[1:])
    assert np.abs(mv[:, 1:, :3]).max() > 0.1                    # posture: joints away from the root, not steps
    t = torch.from_numpy(pos)[None]
    np.testing.assert_array_equal(movement_pairs(t)[0].numpy(), mv)   # the network's own vectors are the same


def test_tokens_are_joints():
    """The cross-attention has one query per joint; permuting the joints (with their embeddings) permutes the
    queries' attention and leaves the pooled output unchanged."""
    from emomotion.moemo import BODY_CONTEXT, MoEmoNet
    _, xb = rows()
    torch.manual_seed(0)
    m = MoEmoNet(xb.shape[1:], 3, T, window=W, n_crops=2, rate=10, n_activities=2, d_model=16, heads=2).eval()
    out = m(xb)
    assert m.last_attention.shape == (len(xb) * 2, 17, 1 + len(BODY_CONTEXT))
    perm = np.random.default_rng(1).permutation(17)
    p = MoEmoNet(xb.shape[1:], 3, T, window=W, n_crops=2, rate=10, n_activities=2, d_model=16, heads=2,
                 joints=perm).eval()
    p.load_state_dict(m.state_dict() | {"joint_emb": m.joint_emb.detach()[perm]})
    torch.testing.assert_close(p(xb), out, rtol=0, atol=1e-5)
    torch.testing.assert_close(p.last_attention, m.last_attention[:, perm], rtol=0, atol=1e-5)


def test_no_query_residual_and_the_context_shortcut():
    "The cross-attention's output replaces the joint tokens: with every context token equal, the joints no longer matter."
    from emomotion.moemo import MoEmoNet
    _, xb = rows()
    torch.manual_seed(0)
    kw = dict(window=W, n_crops=1, rate=10, context=("activity",), d_model=16, heads=2, dropout=0.0)
    m = MoEmoNet(xb.shape[1:], 3, T, **kw).eval()
    moved = xb.clone()
    moved[:, :T * 59].view(len(xb), T, 59)[..., 3:51] *= 1.5    # every joint but the root moves
    torch.testing.assert_close(m(moved), m(xb))                 # one context token: nothing of the skeleton survives
    r = MoEmoNet(xb.shape[1:], 3, T, query_residual=True, **kw).eval()
    assert not torch.allclose(r(moved), r(xb))


def test_crops_as_the_part_transformer():
    "One random window per clip in training, `n_crops` at test with their probabilities averaged."
    from emomotion.moemo import MoEmoNet
    from emomotion.skeleton_models import WindowedSkeletonModel
    _, xb = rows()
    m = MoEmoNet(xb.shape[1:], 3, T, window=W, n_crops=3, rate=10, d_model=16, heads=2)
    assert m.train().windows(xb)[3] == 1 and m.eval().windows(xb)[3] == 3
    v, body, act, k = m.windows(xb)
    assert v.shape == (len(xb) * 3, W, 17, 6) and body.shape[:2] == (len(xb) * 3, W)
    with torch.no_grad():
        m.n_crops = 1
        one = m(xb)
        m.n_crops = 3
        assert torch.allclose(m(xb).exp().sum(1), torch.ones(len(xb)), atol=1e-5)   # log of mean probabilities
    assert WindowedSkeletonModel.average is not None and one.shape == (len(xb), 3)


def test_variant_names_say_which_model_is_the_papers():
    from emomotion import moemo
    from emomotion.profiles import MOEMO_VARIANTS, profile_settings
    assert set(MOEMO_VARIANTS) == set(moemo.VARIANTS)
    assert moemo.moemo_classifier(T, "moemo")[-1].module is moemo.MoEmoNet
    assert moemo.moemo_classifier(T, "moemo-lite")[-1].module is moemo.MoEmo
    assert all(v.startswith("moemo-lite") for v in moemo.LITE_VARIANTS)
    assert set(moemo.PAPER_VARIANTS) == {"moemo", "moemo-concat", "moemo-pose"}
    assert moemo.PAPER_VARIANTS["moemo"] == {}                   # moemo is MoEmoNet's defaults: the authors' layout
    d = {k: p.default for k, p in inspect.signature(moemo.MoEmoNet).parameters.items()}
    assert (d["vectors"], d["tokens"], d["query_residual"], d["n_layers"], d["crops"]) == ("pairs", "joints", False, 3, "random")
    last = moemo.diagnostic_steps()["augmentation"][1]
    assert all(d[k] == v for k, v in last.items() if k not in ("augment", "window")) and last["augment"] is True
    for p in ("quick", "full"):
        P = profile_settings(p, "moemo")
        assert set(P["diagnostics"]["steps"]) <= set(moemo.diagnostic_steps())
        assert "moemo" in P["runs"]["grouped"]
    with pytest.raises(ValueError, match="variant must be one of"):
        moemo.moemo_classifier(T, "moemo_pose")                  # the old names are gone


def test_fits_and_predicts_through_the_harness_with_augmentation():
    from emomotion.evaluate import cross_validate
    from emomotion.moemo import moemo_classifier
    X, _ = rows(12, seed=3)
    y = np.array(["a", "b"] * 6)
    est = moemo_classifier(T, "moemo", 2, window=W, n_crops=2, rate=10, max_epochs=2, val_size=0, monitor="train_loss",
                           patience=None, d_model=8, heads=2, n_layers=1, device="cpu")
    assert type(est[-1].augment).__name__ == "MoEmoAugment"
    res = cross_validate(est, X, y, "stratified", n_splits=2, progress=False)
    assert res.n == 12 and np.isfinite(res.proba).all()


def test_bundle_inputs_name_their_layout():
    "A `moemo` bundle reads the authors' layout; a bundle written before (no `layout`) still gets moemo-lite's displacements."
    from emomotion.bundle import model_inputs, model_spec
    from emomotion.moemo import moemo_inputs
    walk = toy_clip(60, 2.5)
    spec = model_spec("moemo", "quick", 100)
    assert spec["inputs"]["layout"] == "paper" and spec["params"]["window"] >= 1
    np.testing.assert_array_equal(model_inputs(spec["inputs"], [walk], 60),
                                  moemo_inputs([walk], 60, None, None, spec["inputs"]["rate"], spec["inputs"]["max_seconds"]))
    old = model_inputs(dict(kind="moemo", rate=5.0, max_seconds=2.0), [walk], 60)
    np.testing.assert_array_equal(old, moemo_inputs([walk], 60, None, None, 5.0, 2.0, layout="lite"))
