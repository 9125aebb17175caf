"""Tests of emomotion.personalisation: per-actor standardisation and batch-norm re-estimation from unlabelled
adaptation pools kept apart from the scored clips, and few-shot calibration, all on the folds of the
leave-actors-out protocol and on one set of test clips."""
import numpy as np
import pandas as pd
import pytest

from emomotion.evaluate import ADAPTATION_PROTOCOLS, append_results, cross_validate, split_indices
from emomotion.personalisation import (actor_batchnorm, adapt_per_actor, adaptation_pools, batchnorm_layers,
                                       batchnorm_mlp, fold_gain, make_model, prototype_predict, scored_mask, shot_ranks,
                                       standardise_per_actor, support_mask)


def _shifted_study(n_actors=8, n_classes=3, per_cell=6, n_features=6, shift=6.0, seed=0):
    "Classes that differ a little, actors that differ a lot: one big additive offset per actor (a 'body size')."
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_classes, n_features)) * 1.5
    offset = rng.normal(size=(n_actors, n_features)) * shift
    a = np.repeat(np.arange(n_actors), n_classes * per_cell)
    c = np.tile(np.repeat(np.arange(n_classes), per_cell), n_actors)
    X = means[c] + offset[a] + rng.normal(size=(len(c), n_features)) * 0.5
    return X, np.array(["C0", "C1", "C2"])[c], np.array([f"A{i}" for i in a])


def test_each_actor_is_standardised_with_its_own_statistics_only():
    X, y, actors = _shifted_study()
    Z = standardise_per_actor(X, actors)
    for a in np.unique(actors):
        np.testing.assert_allclose(Z[actors == a].mean(0), 0, atol=1e-9)
        np.testing.assert_allclose(Z[actors == a].std(0), 1, atol=1e-9)
    # an actor's rows do not depend on the other actors' rows
    other = X.copy()
    other[actors != "A0"] += 100.0
    np.testing.assert_array_equal(standardise_per_actor(other, actors)[actors == "A0"], Z[actors == "A0"])
    with pytest.raises(ValueError, match="3 actor ids for 144 rows"):
        standardise_per_actor(X, actors[:3])


def test_support_sets_are_nested_and_leave_every_cell_a_test_clip():
    y = np.array(["a"] * 5 + ["b"] * 2 + ["a"] * 3)
    actors = np.array(["P"] * 7 + ["Q"] * 3)
    rank, size = shot_ranks(y, actors, seed=3)
    assert support_mask(rank, size, 4)[:5].sum() == 4          # 5 clips: 4 shots, 1 left
    assert support_mask(rank, size, 4)[5:7].sum() == 1         # 2 clips: 1 shot, 1 left
    assert support_mask(rank, size, 4)[7:].sum() == 2          # 3 clips: 2 shots, 1 left
    for k in (1, 2):
        assert (support_mask(rank, size, k) <= support_mask(rank, size, k + 1)).all()
    assert not support_mask(rank, size, 0).any()


def test_prototypes_reduce_to_the_model_without_support_and_follow_the_support():
    rng = np.random.default_rng(0)
    s = rng.dirichlet(np.ones(4), size=50)
    np.testing.assert_array_equal(prototype_predict(s, np.empty((0, 4)), []), s.argmax(1))
    # this performer's class-2 clips look like class 0 to the model: with their support, such a clip is class 2
    look = np.array([[0.7, 0.1, 0.1, 0.1]])
    assert prototype_predict(look, np.empty((0, 4)), []) == [0]
    assert prototype_predict(look, np.repeat(look, 1, 0), [2]) == [0]          # one shot: the prior still wins
    assert prototype_predict(look, np.repeat(look, 4, 0), [2] * 4) == [2]


def test_batchnorm_statistics_are_re_estimated_on_the_actor_and_the_original_is_kept():
    X, y, actors = _shifted_study()
    model = batchnorm_mlp("quick").fit(X, y)
    before = [m.running_mean.clone() for m in batchnorm_layers(model)]
    mine = actors == "A3"
    adapted = actor_batchnorm(model, X[mine])
    Z = model[:-1].transform(X[mine])
    np.testing.assert_allclose(batchnorm_layers(adapted)[0].running_mean.numpy(), Z.mean(0), atol=1e-4)
    np.testing.assert_allclose(batchnorm_layers(adapted)[0].running_var.numpy(), Z.var(0, ddof=1), rtol=1e-3,
                               atol=1e-5)
    for b, m in zip(before, batchnorm_layers(model)):
        assert (b == m.running_mean).all()
    with pytest.raises(ValueError, match="ends in no network with batch norm"):
        actor_batchnorm(make_model("SVM", "quick").fit(X, y, groups=actors), X)


def _scored(y, actors, seed=0, k=4, pools=(14, 7, 3), skew=7):
    rank, size = shot_ranks(y, actors, seed)
    masks = adaptation_pools(y, actors, seed, pools, skew)
    return scored_mask(support_mask(rank, size, k), masks, actors), masks, support_mask(rank, size, k)


def test_pools_have_the_sizes_asked_one_emotion_when_skewed_and_never_a_scored_clip():
    X, y, actors = _shifted_study(per_cell=10)
    scored, masks, support = _scored(y, actors, seed=2)
    assert list(masks) == ["pool14", "pool7", "pool3", "skew7"]
    for a in np.unique(actors):
        mine = actors == a
        assert [masks[f"pool{n}"][mine].sum() for n in (14, 7, 3)] == [14, 7, 3]
        assert masks["skew7"][mine].sum() == 7 and len(np.unique(y[mine & masks["skew7"]])) == 1
        assert scored[mine].any()
    assert (masks["pool3"] <= masks["pool7"]).all() and (masks["pool7"] <= masks["pool14"]).all()
    for m in masks.values():
        assert not (m & scored).any()
    assert not (support & scored).any()
    # every actor's skewed pool is not always the same emotion; a small actor gives what it has
    assert len({y[(actors == a) & masks["skew7"]][0] for a in np.unique(actors)}) > 1
    small = adaptation_pools(["a", "a", "b"], ["P"] * 3, 0, (7,), 7)
    assert small["pool7"].sum() == 3 and small["skew7"].tolist() == [True, True, False]


def test_random_pools_do_not_read_the_labels_and_follow_the_seed():
    _, y, actors = _shifted_study()
    m = adaptation_pools(y, actors, 0, (7, 3), None)
    shuffled = adaptation_pools(np.random.default_rng(1).permutation(y), actors, 0, (7, 3), None)
    for n in m:
        np.testing.assert_array_equal(m[n], shuffled[n])
    assert not (adaptation_pools(y, actors, 1, (7,), None)["pool7"] == m["pool7"]).all()


def test_an_actor_left_with_nothing_to_score_is_named():
    _, y, actors = _shifted_study(per_cell=2)           # 6 clips per actor: a 7-clip pool takes all of them
    with pytest.raises(ValueError, match="keep no clip to score"):
        _scored(y, actors, pools=(7,))


def test_every_protocol_is_scored_on_the_same_clips_outside_the_support_and_the_pools_and_the_folds_are_actors():
    X, y, actors = _shifted_study(per_cell=10)
    res = adapt_per_actor(make_model("SVM", "quick"), X, y, actors, n_splits=4, seed=1, fit_groups=True)
    assert list(res) == ["actors", "actors+norm-pool14", "actors+norm-pool7", "actors+norm-pool3",
                         "actors+norm-skew7", "actors+k1", "actors+k2", "actors+k4"]
    assert set(res) - {"actors"} <= set(ADAPTATION_PROTOCOLS)
    scored, masks, _ = _scored(y, actors, seed=1)
    for r in res.values():
        assert r.n_splits == 4 and len(r.folds) == 4
        np.testing.assert_array_equal(np.sort(r.test_index), np.flatnonzero(scored))
        for m in masks.values():                         # the adaptation pool never contains a scored clip
            assert not np.isin(r.test_index, np.flatnonzero(m)).any()
    # the folds are those of the harness under 'actors': the same test actors in each
    folds = split_indices("actors", y, actors, 4, 1)
    for k, (_, te) in enumerate(folds):
        assert set(res["actors+k1"].groups[res["actors+k1"].fold_of == k]) == set(actors[te])
    with pytest.raises(ValueError, match="shots \\[3\\]"):
        adapt_per_actor(make_model("SVM", "quick"), X, y, actors, shots=(3,))
    with pytest.raises(ValueError, match="pools \\['pool5'\\]"):
        adapt_per_actor(make_model("SVM", "quick"), X, y, actors, pools=(5,))


def test_the_test_actors_statistics_come_from_its_pool_only():
    # a scored clip changed beyond recognition does not move the standardisation of any other clip
    X, y, actors = _shifted_study(per_cell=10)
    scored, masks, _ = _scored(y, actors)
    Z = standardise_per_actor(X, actors, masks["pool7"])
    X2 = X.copy()
    X2[np.flatnonzero(scored)[:5]] += 1e3
    Z2 = standardise_per_actor(X2, actors, masks["pool7"])
    keep = np.ones(len(X), bool); keep[np.flatnonzero(scored)[:5]] = False
    np.testing.assert_array_equal(Z2[keep], Z[keep])
    for a in np.unique(actors):
        rows = (actors == a) & masks["pool7"]
        np.testing.assert_allclose(Z[rows].mean(0), 0, atol=1e-9)


def test_k0_is_the_harness_and_a_pool_removes_a_performer_offset_a_one_emotion_pool_does_less(tmp_path):
    X, y, actors = _shifted_study(per_cell=10)
    res = adapt_per_actor(make_model("Random Forest", "quick"), X, y, actors, n_splits=4, fit_groups=True)
    h = cross_validate(make_model("Random Forest", "quick"), X, y, "actors", actors, 4, 0, progress=False,
                       fit_groups=True)
    pred = pd.Series(h.y_pred, index=h.test_index)
    np.testing.assert_array_equal(pred.loc[res["actors"].test_index].to_numpy(), res["actors"].y_pred)
    # a large offset per actor and nothing else: the new performer is far from every training actor,
    # standardising each actor by an unlabelled pool of its clips removes the offset
    acc = {p: r.summary()["pooled_accuracy"] for p, r in res.items()}
    assert acc["actors+norm-pool14"] > acc["actors"] + 0.2, acc
    # a pool of one emotion moves the performer by that emotion's mean: it helps less than a random pool of its size
    assert acc["actors+norm-skew7"] < acc["actors+norm-pool7"], acc
    g = fold_gain(res["actors"], res["actors+norm-pool14"])
    assert g["gain_low"] > 0 and g["gain_folds"] == 4
    for p, r in res.items():
        table = append_results(r, tmp_path, "toy", "Random Forest (adaptation test clips)", family="rf")
    assert table.protocol.tolist() == list(res)


def test_fold_gain_is_the_paired_t_interval_of_the_fold_differences():
    from scipy import stats

    X, y, actors = _shifted_study(per_cell=10)
    res = adapt_per_actor(make_model("SVM", "quick"), X, y, actors, n_splits=4, fit_groups=True, pools=(7, 3))
    d = (res["actors+norm-pool7"].folds.accuracy - res["actors"].folds.accuracy).to_numpy()
    lo, hi = stats.t.interval(0.95, 3, loc=d.mean(), scale=d.std(ddof=1) / 2)
    g = fold_gain(res["actors"], res["actors+norm-pool7"])
    np.testing.assert_allclose([g["gain"], g["gain_low"], g["gain_high"]], [d.mean(), lo, hi])
    other = adapt_per_actor(make_model("SVM", "quick"), X, y, actors, n_splits=4, fit_groups=True, pools=(3,))
    with pytest.raises(ValueError, match="not scored on the same clips"):
        fold_gain(res["actors"], other["actors+k1"])


def test_few_shot_calibration_corrects_a_performer_whose_classes_look_like_others():
    # every actor expresses class C0 like the shared C1 and vice versa for half of the actors: the
    # model trained on the others errs on them; a few labelled clips of the performer put it right
    rng = np.random.default_rng(0)
    means = np.eye(3, 6) * 4.0
    n_actors, per = 8, 8
    a = np.repeat(np.arange(n_actors), 3 * per)
    c = np.tile(np.repeat(np.arange(3), per), n_actors)
    shown = c.copy()
    swap = (a % 2 == 1)
    shown[swap & (c == 0)], shown[swap & (c == 1)] = 1, 0
    X = means[shown] + rng.normal(size=(len(c), 6))
    y, actors = np.array(["C0", "C1", "C2"])[c], np.array([f"A{i}" for i in a])
    res = adapt_per_actor(make_model("SVM", "quick"), X, y, actors, n_splits=4, fit_groups=True, pools=(3,),
                          skew=None)          # (small pools: most clips stay to be scored)
    acc = {p: r.summary()["pooled_accuracy"] for p, r in res.items()}
    assert acc["actors+k4"] > acc["actors"] + 0.15, acc
    assert acc["actors+k2"] > acc["actors"], acc             # (one shot does not outweigh the prior here)


def test_the_mlp_gets_the_batchnorm_protocol():
    X, y, actors = _shifted_study(n_actors=6)
    res = adapt_per_actor(make_model("MLP", "quick"), X, y, actors, n_splits=3, shots=(1,), pools=(7, 3))
    assert list(res) == ["actors", "actors+norm-pool7", "actors+norm-pool3", "actors+norm-skew7", "actors+bn-pool7",
                         "actors+bn-pool3", "actors+bn-skew7", "actors+k1"]
    with pytest.raises(ValueError, match="unknown model 'kNN'"):
        make_model("kNN")


def test_a_bare_network_on_any_input_shape_adapts_its_batchnorm():
    from torch import nn

    from emomotion.torchfit import TorchClassifier

    class SeqNet(nn.Module):              # (N, C, T) sequences: batch norm over channels
        def __init__(self, n_in, n_classes):
            super().__init__()
            self.bn, self.head = nn.BatchNorm1d(n_in[0]), nn.Linear(n_in[0], n_classes)

        def forward(self, x):
            return self.head(self.bn(x).mean(-1))

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3, 5)).astype(np.float32)
    y = np.repeat(["a", "b"], 20)
    net = TorchClassifier(SeqNet, max_epochs=2, val_size=0.0, patience=None, monitor="train_loss").fit(X, y)
    adapted = actor_batchnorm(net, X[:10] + 5.0)
    np.testing.assert_allclose(adapted.module_.bn.running_mean.numpy(), (X[:10] + 5.0).mean((0, 2)), atol=1e-4)
    assert adapted.predict(X[:4]).shape == (4,)


def test_the_profile_says_which_baselines_are_tuned_in_each_fold():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    from emomotion.profiles import profile_settings
    for profile in ("quick", "full"):
        tuned = profile_settings(profile, "personalisation")["tuned"]
        for name in ("Random Forest", "SVM"):
            assert isinstance(make_model(name, profile), GridSearchCV if name in tuned else Pipeline)
    assert "Random Forest" not in profile_settings("full", "personalisation")["tuned"]


def _toy_sequences(n_actors=4, per_class=3, rate=10, seed=0, noise=0.003):
    "Walking stick figures at `rate` Hz, class = how fast the arms bob; every clip with its own phase and amplitude."
    from emomotion.kinematics import toy_clip
    from emomotion.sequences import pad_sequences
    from emomotion.skeleton_models import clip_skeleton
    rng = np.random.default_rng(seed)
    seqs, y, actors = [], [], []
    for a in range(n_actors):
        for c, freq in enumerate((0.7, 1.8)):
            for _ in range(per_class):
                pos = toy_clip(30, rng.uniform(3.0, 4.0), freq=freq, amp=rng.uniform(0.1, 0.2), phase=rng.uniform(0, 6))
                seqs.append(clip_skeleton(pos + rng.normal(0, noise, pos.shape), 30, rate, canonical=False))
                y.append(["slow", "fast"][c]); actors.append(f"A{a}")
    return pad_sequences(seqs, 60), np.array(y), np.array(actors)


def test_the_sequence_normaliser_removes_each_actors_size_and_posture_with_its_own_clips_only():
    from emomotion.personalisation import normalise_sequences_per_actor
    X, y, actors = _toy_sequences(noise=0.0)
    Z = normalise_sequences_per_actor(X, actors, rate=10)
    # actor A1 as a bigger performer (x 1.7) with a habitual posture, the head bowed 30 degrees forward (a rotation
    # about Spine3: the bone keeps its length): the same result as before
    big = X.copy()
    pose = big[actors == "A1", :, :-1].reshape(-1, 60, 17, 3) * 1.7
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    pose[:, :, 2] = pose[:, :, 1] + (pose[:, :, 2] - pose[:, :, 1]) @ np.array([[1, 0, 0], [0, c, s], [0, -s, c]])
    pose *= big[actors == "A1", :, -1:, None]                      # padding stays zero
    big[actors == "A1", :, :-1] = pose.reshape(-1, 60, 51)
    assert np.abs(big - X)[actors == "A1"].max() > 0.5
    np.testing.assert_allclose(normalise_sequences_per_actor(big, actors, rate=10), Z, atol=1e-4)
    # statistics of other actors do not matter: change all of them, A0 is unchanged
    other = X.copy()
    other[actors != "A0", :, :-1] *= 3.0
    np.testing.assert_array_equal(normalise_sequences_per_actor(other, actors, rate=10)[actors == "A0"],
                                  Z[actors == "A0"])
    # each actor's mean pose in the body frame is zero
    for a in np.unique(actors):
        rows = [Z[i, Z[i, :, -1] > 0, :-1].reshape(-1, 17, 3) for i in np.flatnonzero(actors == a)]
        rel = np.concatenate([s - s[:, :1] * [1, 0, 1] for s in rows])
        np.testing.assert_allclose(rel.mean(0), 0, atol=0.02)
    with pytest.raises(ValueError, match="2 actor ids for 24 clips"):
        normalise_sequences_per_actor(X, actors[:2], rate=10)


def test_the_sequence_normaliser_brings_every_actor_to_one_tempo():
    from emomotion.kinematics import resample
    from emomotion.personalisation import normalise_sequences_per_actor
    from emomotion.sequences import pad_sequences
    X, y, actors = _toy_sequences(n_actors=2, noise=0.0)
    # A1 plays every clip 1.5 times as fast: two thirds of the frames
    seqs = [X[i, X[i, :, -1] > 0, :-1] for i in range(len(X))]
    seqs = [resample(s, 1.0, 2 / 3) if a == "A1" else s for s, a in zip(seqs, actors)]
    fast = pad_sequences(seqs, 60)

    def median_speed(Z, a):
        rows = [Z[i, Z[i, :, -1] > 0, :-1].reshape(-1, 17, 3) for i in np.flatnonzero(actors == a)]
        return np.median(np.concatenate([np.linalg.norm(np.diff(s - s[:, :1] * [1, 0, 1], axis=0), axis=-1).mean(1)
                                         for s in rows])) * 10
    assert median_speed(fast, "A1") > 1.3 * median_speed(fast, "A0")
    Z = normalise_sequences_per_actor(fast, actors, rate=10, speed=0.5)
    for a in ("A0", "A1"):
        assert abs(median_speed(Z, a) - 0.5) < 0.05, (a, median_speed(Z, a))
    # the fast actor's clips are stretched back to about their original length
    np.testing.assert_allclose(Z[actors == "A1", :, -1].sum(1), X[actors == "A1", :, -1].sum(1), rtol=0.1)


def test_the_stgcn_gets_every_protocol_on_the_same_clips():
    from functools import partial

    from emomotion.personalisation import SEQUENCE_MODELS, normalise_sequences_per_actor
    X, y, actors = _toy_sequences(n_actors=6, per_class=5)
    assert "ST-GCN++" in SEQUENCE_MODELS
    res = adapt_per_actor(make_model("ST-GCN++", "quick"), X, y, actors, n_splits=3, shots=(1, 2),
                          normalise=partial(normalise_sequences_per_actor, rate=10), pools=(3,), skew=None)
    assert list(res) == ["actors", "actors+norm-pool3", "actors+bn-pool3", "actors+k1", "actors+k2"]
    scored, _, _ = _scored(y, actors, k=2, pools=(3,), skew=None)
    for r in res.values():
        np.testing.assert_array_equal(np.sort(r.test_index), np.flatnonzero(scored))
