"""moemo-lite (05a_moemo: `MoEmo`, not the authors' layout): inputs, masking, the context at work, `unknown` activities,
learning, the fold boundary; and the `moemo` bundle (the authors' layout, `MoEmoNet`). The authors' layout itself:
`test_moemo_paper.py`."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from emomotion.evaluate import cross_validate
from emomotion.kinematics import rotate_y, toy_clip
from emomotion.moemo import (BODY_CONTEXT, LITE_VARIANTS, MoEmo, MoEmoPrep, activity_codes, cross_attention_readout,
                             displacements, moemo_classifier, moemo_inputs)

T = 10   # 2 s at 5 Hz
SMALL = dict(d_model=16, heads=2, n_layers=1, device="cpu")


def toy_set(n_per: int = 12, seed: int = 0):
    """Two separable classes of made-up walks: forearms bobbing at 0.6 Hz vs 1.6 Hz (below the 2.5-Hz Nyquist limit of 5 Hz), random heading, size, speed,
    length (some clips shorter than the window, so padded); activity codes 0/1 unrelated to the class."""
    rng = np.random.default_rng(seed)
    clips, labels = [], []
    for i in range(2 * n_per):
        c = i % 2
        pos = toy_clip(60, rng.uniform(1.4, 3.0), freq=(0.6, 1.6)[c], amp=0.25, speed=rng.uniform(0.2, 0.8),
                       phase=rng.uniform(0, 6))
        pos = rotate_y(pos * rng.uniform(0.8, 1.2), rng.uniform(-np.pi, np.pi)) + [rng.normal(), 0, rng.normal()]
        clips.append(pos + rng.normal(0, 0.003, pos.shape)); labels.append(("calm", "lively")[c])
    act = rng.integers(0, 2, len(clips))
    return moemo_inputs(clips, 60, act, rate=5, max_seconds=2, layout="lite"), np.array(labels), act


@pytest.fixture(scope="module")
def toy():
    return toy_set()


def prepared(X):
    return torch.from_numpy(MoEmoPrep(T).fit(X).transform(X))


def frames(x):
    "The (N, T, channels) frame view of packed rows (a view: writes go through)."
    return x[:, :T * 59].view(len(x), T, 59)


def test_inputs_shape_mask_and_errors(toy):
    X, y, act = toy
    assert X.shape == (len(y), T * (17 * 3 + len(BODY_CONTEXT) + 1) + 1)
    mask = X[:, :T * 59].reshape(len(X), T, 59)[..., -1]
    assert set(np.unique(mask)) == {0.0, 1.0} and (mask.sum(1) < T).any() and (mask.sum(1) == T).any()
    assert (X[:, :T * 59].reshape(len(X), T, 59)[mask == 0] == 0).all()    # padding is zeros
    np.testing.assert_array_equal(X[:, -1], act)
    with pytest.raises(ValueError, match="walk_short.bvh.*too few"):
        moemo_inputs([toy_clip(60, 2.0), toy_clip(60, 2.0)[:3]], 60, names=["a.bvh", "walk_short.bvh"], layout="lite")


def test_lite_inputs_are_displacements():
    walk = toy_clip(125, 3.0, amp=0.0, speed=0.5)     # rigid walk: every joint moves like the root
    mv = displacements(walk, 125, rate=5)
    assert np.allclose(mv[2:-2, 1:], 0, atol=1e-6)     # joints relative to the root: no displacement
    assert np.allclose(mv[2:-2, 0, [0, 1]], 0, atol=1e-6) and (mv[2:-2, 0, 2] > 0).all()


def test_activity_codes():
    codes, vocab = activity_codes(pd.DataFrame({"scenario": [3, 1, 3]}))
    assert vocab == ["1", "3"] and codes.tolist() == [1, 0, 1]
    assert activity_codes(pd.DataFrame({"choreography": ["a", None]}))[0].tolist() == [0, -1]


def test_shapes_for_every_variant(toy):
    X, y, _ = toy
    xb = prepared(np.concatenate([X[:5], np.random.default_rng(0).normal(size=(5, 4))], 1))   # + 4 features
    for v, p in LITE_VARIANTS.items():
        m = MoEmo(xb.shape[1:], 3, T, n_activities=2, **p, **{k: v for k, v in SMALL.items() if k != "device"})
        assert m.eval()(xb).shape == (5, 3), v
    with pytest.raises(ValueError, match="context"):
        MoEmo(xb.shape[1:], 3, T, context=("video",))


def test_cross_attention_uses_context_and_ignores_padding(toy):
    X, _, _ = toy
    xb = prepared(X[:6])
    torch.manual_seed(0)
    m = MoEmo(xb.shape[1:], 4, T, n_activities=2).eval()
    base = m(xb)
    assert m.cross.last_attention.shape == (6, T * 17, 1 + T)
    valid = frames(xb)[..., -1] > 0
    i = int(np.flatnonzero((~valid).any(1).numpy())[0])       # a clip with padded frames
    x2 = xb.clone(); frames(x2)[i, ~valid[i], :-1] = 7.0        # change only its padding
    assert torch.allclose(m(x2), base, atol=1e-5)
    x3 = xb.clone(); x3[:, -1] = 1 - x3[:, -1]                    # swap the activity
    assert not torch.allclose(m(x3), base, atol=1e-4)
    x4 = xb.clone(); frames(x4)[..., 51:58] += 1.0                # shift the body context
    assert not torch.allclose(m(x4), base, atol=1e-4)
    pose = MoEmo(xb.shape[1:], 4, T, n_activities=2, context=()).eval()
    assert torch.allclose(pose(x3), pose(xb)) and torch.allclose(pose(x4), pose(xb))


def test_unknown_activity(toy):
    X, y, act = toy
    prep = MoEmoPrep(T).fit(X[act == 0])                          # activity 1 never seen in fitting
    Xt = prep.transform(X)
    assert (Xt[act == 1, -1] == -1).all() and (Xt[act == 0, -1] == 0).all()
    m = MoEmo(Xt.shape[1:], 2, T, n_activities=2).eval()
    out = m(torch.from_numpy(Xt))
    assert torch.isfinite(out).all()
    # context dropout 1: in training every clip's activity is `unknown`, so the activity no longer matters
    m = MoEmo(Xt.shape[1:], 2, T, n_activities=2, context_dropout=1.0, dropout=0.0).train()
    a, b = torch.from_numpy(Xt.copy()), torch.from_numpy(Xt.copy())
    a[:, -1], b[:, -1] = 0, 1
    assert torch.allclose(m(a), m(b), atol=1e-6)


def test_trains_above_chance_on_separable_toy():
    X, y, _ = toy_set(16, seed=1)
    Xte, yte, _ = toy_set(8, seed=2)
    est = moemo_classifier(T, "moemo-lite", 2, max_epochs=30, val_size=0, monitor="train_loss", patience=None,
                           batch_size=8, lr=3e-3, **SMALL).fit(X, y)
    assert (est.predict(Xte) == yte).mean() >= 0.8
    att, groups = cross_attention_readout(est, Xte)
    assert att.shape == (len(yte), 17, 3) and np.allclose(att.sum(-1), 1, atol=1e-4)


def test_nothing_from_the_test_fold_reaches_fitting(toy):
    """Leave-one-activity-out through the harness: each fold's fitted scaling and vocabulary come from its
    training rows only, so the held-out activity is `unknown` to it."""
    X, y, act = toy
    est = moemo_classifier(T, "moemo-lite", 2, max_epochs=1, val_size=0, monitor="train_loss", patience=None, **SMALL)
    res = cross_validate(est, X, y, "groups", groups=act, progress=False, return_estimator=True)
    for k, fitted in enumerate(res.estimators):
        te = res.test_index[res.fold_of == k]
        tr = np.setdiff1d(np.arange(len(y)), te)
        prep = fitted[0]
        assert set(prep.known_activities_) == set(act[tr]) and not set(act[te]) & set(prep.known_activities_)
        ref = MoEmoPrep(T).fit(X[tr])
        assert prep.move_scale_ == pytest.approx(ref.move_scale_)
        assert prep.move_scale_ != pytest.approx(MoEmoPrep(T).fit(X).move_scale_)
        assert (prep.transform(X[te])[:, -1] == -1).all()


def test_moemo_bundle_trains_loads_and_predicts_as_the_harness(tmp_path):
    """`emomotion train --model moemo`: the bundle (safetensors + JSON architecture, no pickle) trained on one
    fold's training clips predicts that fold's test files exactly as the harness did (activity `unknown`)."""
    from emomotion import bundle as B, predict as P
    from emomotion.datasets import load_dataset
    from emomotion.evaluate import split_indices
    clips = load_dataset("synthetic", profile="quick", progress=False)
    idx = clips.index
    spec = B.model_spec("moemo", "quick", len(idx))
    X = B.model_inputs(spec["inputs"], clips.all_positions(), idx["fps"].to_numpy(float), idx["clip_id"])
    assert (X[:, -1] == -1).all()                     # from files alone, the activity is unknown
    y, groups = idx["label"].to_numpy(), idx["actor"].to_numpy()
    res = cross_validate(B.make_estimator(spec, 0), X, y, "actors", groups=groups, n_splits=3, seed=0, progress=False,
                         fit_groups=spec["fit_groups"])
    pred = res.predictions()
    tr, te = split_indices("actors", y, groups, 3, 0)[0]
    b = B.train_bundle(clips.subset(tr), "moemo", tmp_path / "moemo", evaluate=False)
    assert {p.name for p in b.iterdir()} >= {"weights.safetensors", "preprocess.skops", "model.json"}
    assert json.loads((b / "model.json").read_text())["architecture"]["module"] == "MoEmoNet"     # the authors' layout
    out = P.load_model(b).predict_files(list(idx["path"].iloc[te]))
    assert (out["error"] == "").all()
    np.testing.assert_array_equal(out["label"].to_numpy(), pred.loc[te, "y_pred"].to_numpy())
    cols = [f"p_{c}" for c in res.classes]
    np.testing.assert_allclose(out[cols].to_numpy(), pred.loc[te, cols].to_numpy(), atol=1e-6)


def test_moemo_settings_live_in_profiles():
    "MoEmo's quick/full settings are the `moemo` section of profiles, and name exactly its variants."
    from emomotion import moemo
    from emomotion.profiles import MOEMO_VARIANTS, profile_settings
    assert not hasattr(moemo, "MOEMO_PROFILES")
    assert set(MOEMO_VARIANTS) == set(moemo.VARIANTS)
    for p in ("quick", "full"):
        runs = profile_settings(p, "moemo")["runs"]
        assert set(runs["stratified"]) <= set(moemo.VARIANTS) and set(runs["grouped"]) <= set(moemo.VARIANTS)


def test_feature_tokens_are_chosen_on_the_training_fold(toy):
    """`moemo_features` keeps `n_feature_tokens` engineered features as context, chosen by ANOVA F on each fold's
    training rows: the harness's fitted choice equals a choice made on those rows alone, and differs from one made
    with the test rows' labels (feature 0 tracks the label on the test fold only)."""
    X0, y, act = toy
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(len(y), 6))
    feats[:, 4] += 3.0 * (y == "lively")                        # informative everywhere
    X = np.concatenate([X0, feats], 1).astype(np.float32)
    est = moemo_classifier(T, "moemo-lite-features", 2, n_feature_tokens=2, max_epochs=1, val_size=0,
                           monitor="train_loss", patience=None, **SMALL)
    res = cross_validate(est, X, y, "groups", groups=act, progress=False, return_estimator=True)
    for k, fitted in enumerate(res.estimators):
        te = res.test_index[res.fold_of == k]
        tr = np.setdiff1d(np.arange(len(y)), te)
        prep = fitted[0]
        assert 4 in prep.feature_index_ and len(prep.feature_index_) == 2
        np.testing.assert_array_equal(prep.feature_index_, MoEmoPrep(T, n_feature_tokens=2).fit(X[tr], y[tr]).feature_index_)
        assert fitted[-1].module_.n_features == 2 and prep.transform(X[te]).shape[1] == X.shape[1] - 4
    leak = X.copy()
    leak[:, X0.shape[1]] = np.where(act == 1, 5.0 * (y == "lively"), rng.normal(size=len(y)))   # label on act 1 only
    chosen = MoEmoPrep(T, n_feature_tokens=2).fit(leak[act == 0], y[act == 0]).feature_index_
    assert 0 not in chosen and 0 in MoEmoPrep(T, n_feature_tokens=2).fit(leak, y).feature_index_


def test_cross_attention_weights_only_outside_training(toy):
    "Training takes the fused attention path (no weights); evaluation keeps them for the read-out."
    X, y, act = toy
    m = MoEmo(prepared(X).shape[1:], 2, T=T, n_activities=2, **{k: v for k, v in SMALL.items() if k != "device"})
    xb = prepared(X)
    m.train(); m(xb)
    assert m.cross.last_attention is None
    m.eval(); m(xb)
    assert m.cross.last_attention.shape == (len(xb), T * 17, 1 + T)


def test_attention_dropout_is_its_own_setting_and_defaults_to_dropout(toy):
    "`attention_dropout` drops only attention weights (cross and self); None leaves the model exactly as before."
    X, y, act = toy
    xb = prepared(X)
    kw = dict(T=T, n_activities=2, d_model=16, heads=2, n_layers=1, dropout=0.2)

    def trained_output(**extra):
        torch.manual_seed(0)
        m = MoEmo(xb.shape[1:], 2, **kw, **extra).train()
        return m, m(xb)

    m, out = trained_output()
    assert m.cross.att.dropout == m.blocks[0].self_attn.dropout == 0.2
    torch.testing.assert_close(trained_output(attention_dropout=0.2)[1], out, rtol=0, atol=0)
    m0, out0 = trained_output(attention_dropout=0.0)
    assert m0.cross.att.dropout == m0.blocks[0].self_attn.dropout == 0.0
    assert m0.blocks[0].dropout1.p == 0.2                 # the other dropouts stay
    assert not torch.allclose(out0, out)
    est = moemo_classifier(T, "moemo-lite", 2, attention_dropout=0.0, max_epochs=1, val_size=0, monitor="train_loss",
                           patience=None, **SMALL).fit(X, y)
    assert est[-1].module_.blocks[0].self_attn.dropout == 0.0


def test_self_attention_gets_a_padding_mask_only_when_a_token_is_padding(toy):
    "Unpadded batches skip the mask (same numbers, fused attention in evaluation); padded ones keep it."
    X, y, act = toy
    xb = prepared(X)
    valid = frames(xb)[..., -1] > 0
    full, short = np.flatnonzero(valid.all(1).numpy()), np.flatnonzero(~valid.all(1).numpy())
    assert len(full) and len(short)
    torch.manual_seed(0)
    m = MoEmo(xb.shape[1:], 2, T=T, n_activities=2, d_model=16, heads=2, n_layers=1).eval()
    seen = []
    m.blocks[0].register_forward_pre_hook(lambda mod, args, kw: seen.append(kw["src_key_padding_mask"]),
                                          with_kwargs=True)
    with torch.no_grad():
        alone = m(xb[full])
        mixed = m(torch.cat([xb[full], xb[short]]))
    assert seen[0] is None
    torch.testing.assert_close(seen[1], ~valid[np.r_[full, short]].repeat_interleave(17, 1))
    torch.testing.assert_close(mixed[:len(full)], alone, rtol=0, atol=1e-5)   # the same clips, masked or not
