"""Tests of the shared torch estimator (emomotion.torchfit): clone-ability, determinism, that the
validation split, resampling and checkpoint choice stay inside the training data, and the hooks."""
import math
import pickle

import numpy as np
import pytest
import torch
from torch import nn
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from emomotion.torchfit import GaussianNoise, TorchClassifier, get_device, seed_everything

torch.set_num_threads(1)


class Net(nn.Module):
    "Flatten + one hidden layer; accepts an int or a shape tuple as input size."
    def __init__(self, n_in, n_classes, hidden=16, dropout=0.0):
        super().__init__()
        self.n_in = n_in
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(n_in)), hidden), nn.ReLU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, n_classes))

    def forward(self, x):
        return self.net(x)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(180, 12, n_informative=6, n_classes=3, weights=[0.5, 0.3, 0.2],
                               random_state=0)
    return X.astype(np.float32), np.array(["Angry", "Happy", "Sad"])[y]


def small(**kw):
    kw = {"max_epochs": 12, "lr": 5e-3, "patience": 5, "batch_size": 32, **kw}
    return TorchClassifier(Net, **kw)


def test_learns_and_labels(data):
    X, y = data
    clf = small(max_epochs=40, hidden=32).fit(X[:140], y[:140])
    assert list(clf.classes_) == ["Angry", "Happy", "Sad"]
    acc = (clf.predict(X[140:]) == y[140:]).mean()
    assert acc > 0.55, acc          # majority rate is about 0.5
    P = clf.predict_proba(X[140:])
    assert P.shape == (40, 3) and np.allclose(P.sum(1), 1.0)
    assert clf.n_features_in_ == 12 and clf.module_.n_in == 12


def test_clone_keeps_module_params_and_set_params_adds_them(data):
    clf = small(hidden=8)
    c = clone(clf)
    assert c.get_params()["hidden"] == 8 and c.module_params == {"hidden": 8}
    c.set_params(dropout=0.3, lr=1e-2)
    assert c.module_params == {"hidden": 8, "dropout": 0.3} and c.lr == 1e-2
    assert clf.module_params == {"hidden": 8}
    c2 = clone(c)
    assert c2.module_params == {"hidden": 8, "dropout": 0.3}
    with pytest.raises(ValueError):
        c.set_params(bad_=1)


def test_deterministic_with_one_seed_and_different_with_another(data):
    X, y = data
    a = small(seed=3, mixup_alpha=0.3, augment=GaussianNoise(0.1), dropout=0.2).fit(X, y)
    b = clone(a).fit(X, y)
    c = clone(a).set_params(seed=4).fit(X, y)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.allclose(a.predict_proba(X), c.predict_proba(X))


def test_fit_restores_global_torch_rng(data):
    X, y = data
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    small(max_epochs=2).fit(X, y)
    assert torch.equal(before, torch.random.get_rng_state())


def test_validation_split_is_stratified_and_inside_training(data):
    X, y = data
    clf = small(val_size=0.2)
    codes = np.unique(y, return_inverse=True)[1]
    tr, va = clf._split(codes)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(y)
    assert len(va) == math.ceil(0.2 * len(y))
    share_all = np.bincount(codes) / len(codes)
    share_val = np.bincount(codes[va], minlength=3) / len(va)
    assert np.abs(share_all - share_val).max() < 0.05


def test_resample_sees_only_the_inner_training_part(data):
    X, y = data
    seen = {}

    def resample(Xt, yt, rng):
        seen["X"] = Xt.copy()
        # add 30 noisy copies of class 2 (the minority)
        idx = rng.choice(np.flatnonzero(yt == 2), 30)
        return np.concatenate([Xt, Xt[idx] + 0.01]), np.concatenate([yt, yt[idx]])

    clf = small(val_size=0.25, resample=resample).fit(X, y)
    tr, va = clf._split(np.unique(y, return_inverse=True)[1])
    assert np.array_equal(seen["X"], X[tr])
    assert clf.n_train_ == len(tr) + 30 and clf.n_val_ == len(va)


def test_best_checkpoint_is_restored(data):
    X, y = data
    # a high learning rate without schedule makes the validation loss wander, so the best epoch
    # is usually not the last; either way the returned weights must be the best epoch's
    clf = small(max_epochs=25, lr=0.05, patience=None, hidden=64).fit(X, y)
    h = clf.history_
    assert len(h) == 25
    codes = np.unique(y, return_inverse=True)[1]
    tr, va = clf._split(codes)
    w = clf._class_weights(codes[tr], 3)
    loss = nn.CrossEntropyLoss(weight=w)(clf._logits(X[va]), torch.from_numpy(codes[va]))
    assert float(loss) == pytest.approx(h.val_loss.min(), abs=1e-5)
    assert clf.best_epoch_ == int(h.epoch[h.val_loss.idxmin()])


def test_early_stopping_stops(data):
    X, y = data
    clf = small(max_epochs=500, lr=0.05, patience=3).fit(X, y)
    assert len(clf.history_) < 500
    assert len(clf.history_) - clf.best_epoch_ == 3


@pytest.mark.parametrize("monitor", ["val_acc", "val_bacc", "train_loss"])
def test_other_monitors(data, monitor):
    X, y = data
    clf = small(monitor=monitor, max_epochs=6).fit(X, y)
    col = clf.history_[monitor]
    best = col.max() if monitor != "train_loss" else col.min()
    assert col[clf.history_.epoch == clf.best_epoch_].iloc[0] == best


def test_any_rank_input_and_schedulers(data):
    X, y = data
    for shape in [(3, 4), (2, 3, 2)]:
        Xs = X.reshape(len(X), *shape)
        for sched in ["onecycle", "cosine"]:
            clf = small(scheduler=sched, grad_clip=0.5, max_epochs=4, mixup_alpha=0.2).fit(Xs, y)
            assert clf.module_.n_in == shape and clf.input_shape_ == shape
            assert clf.predict(Xs).shape == (len(y),)
    lrs = small(scheduler="onecycle", max_epochs=6, patience=None).fit(X, y).history_.lr
    assert lrs.iloc[0] < lrs.max() and lrs.iloc[-1] < lrs.max()     # warm-up then anneal


def test_class_weight_balanced_and_explicit(data):
    X, y = data
    clf = small()
    clf.classes_ = np.array(["Angry", "Happy", "Sad"])
    w = clf._class_weights(np.array([0, 0, 0, 1]), 3)
    assert torch.allclose(w, torch.tensor([4 / 9, 4 / 3, 0.0]))
    clf.class_weight = {"Sad": 2.0}
    assert torch.allclose(clf._class_weights(np.array([0, 1, 2]), 3), torch.tensor([1.0, 1.0, 2.0]))
    clf.class_weight = "bogus"
    with pytest.raises(ValueError, match="class_weight"):
        clf._class_weights(np.array([0, 1]), 2)


def test_pipeline_clone_and_pickle(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), small(max_epochs=3))
    fitted = clone(pipe).fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(again.predict_proba(X), fitted.predict_proba(X))


def test_no_validation_split(data):
    X, y = data
    clf = small(val_size=0, monitor="train_loss", max_epochs=3).fit(X, y)
    assert clf.n_val_ == 0 and "val_loss" not in clf.history_
    with pytest.raises(ValueError, match="needs a validation split"):
        small(val_size=0).fit(X, y)


def test_bad_input_is_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="non-finite"):
        Xn = X.copy(); Xn[3, 2] = np.nan
        small().fit(Xn, y)
    with pytest.raises(ValueError, match="one label per row"):
        small().fit(X, y[:-1])
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        small().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="module"):
        TorchClassifier().fit(X, y)
    with pytest.raises(ValueError, match="scheduler"):
        small(scheduler="step").fit(X, y)
    fitted = small(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="per row"):
        fitted.predict(X[:, :5])


def test_tiny_classes_fall_back_to_a_random_split():
    X = np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32)
    y = np.array(["a"] * 11 + ["b"])             # one 'b': no stratified split possible
    clf = small(max_epochs=2, val_size=0.25).fit(X, y)
    assert clf.n_val_ == 3


def test_device_and_seed_helpers():
    assert get_device("cpu").type == "cpu"
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    seed_everything(7, deterministic=False)
    a = (np.random.rand(), torch.rand(1).item())
    seed_everything(7, deterministic=False)
    assert (np.random.rand(), torch.rand(1).item()) == a


def test_grouped_validation_split(data):
    X, y = data
    actors = np.arange(len(y)) % 9
    clf = small(val_size=0.2)
    codes = np.unique(y, return_inverse=True)[1]
    tr, va = clf._split(codes, actors)
    assert len(va) and not set(actors[tr]) & set(actors[va])
    assert len(set(actors[va])) in (1, 2)                # about a fifth of nine actors
    fitted = clf.fit(X, y, groups=actors)
    assert fitted.n_val_ == len(va)
    # too few groups for the requested share: falls back to the stratified split
    tr2, va2 = clf._split(codes, np.arange(len(y)) % 3)
    assert np.array_equal(va2, clf._split(codes)[1])
    with pytest.raises(ValueError, match="groups"):
        clf._split(codes, actors[:-1])


def test_inside_the_harness_with_sequences_and_groups(data):
    from emomotion.evaluate import cross_validate
    X, y = data
    Xs = X.reshape(len(X), 3, 4)                          # N-first sequences
    actors = np.arange(len(y)) % 6
    res = cross_validate(small(max_epochs=5), Xs, y, protocol="actors", groups=actors, n_splits=3,
                         seed=0, progress=False, fit_groups=True)
    assert res.n_splits == 3 and len(res.y_pred) == len(y)
    assert np.isfinite(res.proba).all() and np.allclose(res.proba.sum(1), 1)
    assert res.summary()["accuracy"] > 0.4


def test_early_stopping_is_grouped_exactly_where_the_outer_protocol_is(data, monkeypatch):
    # through the harness: the run under 'actors' hands its training actors to the network's inner split (through
    # the scaler of a GroupedPipeline), the run under 'stratified' does not and stays stratified
    from emomotion.evaluate import cross_validate_many
    from emomotion.torchfit import GroupedPipeline
    X, y = data
    actors = np.arange(len(y)) % 12
    seen = []
    split = TorchClassifier._split

    def spy(self, y_codes, groups=None):
        tr, va = split(self, y_codes, groups)
        seen.append((None if groups is None else np.asarray(groups), y_codes, tr, va))
        return tr, va

    monkeypatch.setattr(TorchClassifier, "_split", spy)
    model = GroupedPipeline([("scale", StandardScaler()), ("net", small(max_epochs=2, val_size=0.25))])
    runs = {p: (model, p) for p in ("stratified", "actors")}
    cross_validate_many(runs, X, y, actors, n_splits=3, n_jobs=1, progress=False,
                        fit_groups=[k for k, (_, p) in runs.items() if p != "stratified"])
    grouped = [s for s in seen if s[0] is not None]
    plain = [s for s in seen if s[0] is None]
    assert len(grouped) == 3 and len(plain) == 3
    for g, _, tr, va in grouped:                          # no actor on both sides of the inner split
        assert len(va) and not set(g[tr]) & set(g[va])
    for _, codes, tr, va in plain:                        # every class in the validation rows, in proportion
        share = np.bincount(codes[va], minlength=3) / len(va)
        np.testing.assert_allclose(share, np.bincount(codes, minlength=3) / len(codes), atol=0.05)


def test_the_deep_models_pass_groups_to_their_network():
    from emomotion.lstm import make_motion_lstm, make_motion_transformer
    from emomotion.moemo import moemo_classifier
    from emomotion.skeleton_models import skeleton_classifier
    from emomotion.stgcn import key_graph, stgcn_classifier
    from emomotion.torchfit import GroupedPipeline
    g = key_graph()
    for m in (make_motion_lstm(3), make_motion_transformer(3), moemo_classifier(8),
              skeleton_classifier("stgcn++", fusion="gated", seq_shape=(16, 52)),
              stgcn_classifier(g, (2, 16, g.n_nodes) if hasattr(g, "n_nodes") else (2, 16, 17))):
        assert isinstance(m, GroupedPipeline), type(m)
    assert isinstance(skeleton_classifier("stgcn++"), TorchClassifier)      # fit(X, y, groups) of its own
