"""The fit cache (`emomotion.fitcache`, used by `evaluate.cross_validate(..., cache=True)`): a stored fold fit is read
back instead of fitted, exactly; anything that changes the fit changes the key; broken entries are refitted with a warning; nothing is
pickled."""
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from emomotion.evaluate import cross_validate, cross_validate_many, make_toy_study
from emomotion.fitcache import fit_cache_dir, sha256_of


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOMOTION_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("EMOMOTION_NO_FIT_CACHE", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def toy():
    X, y, actors = make_toy_study(n_actors=6, n_classes=3, per_cell=4, n_features=6, seed=1)
    return X, y, actors


FITS = []


@pytest.fixture(autouse=True)
def count_forest_fits(monkeypatch):
    "Every fit of a RandomForestClassifier in this process (the tests run folds with n_jobs=1) appends to FITS."
    fit = RandomForestClassifier.fit

    def counted(self, *args, **kwargs):
        FITS.append(1)
        return fit(self, *args, **kwargs)
    monkeypatch.setattr(RandomForestClassifier, "fit", counted)
    FITS.clear()


def CountingForest(**kw):
    return RandomForestClassifier(n_jobs=1, **kw)


def cv(model, X, y, actors, **kw):
    kw = dict(protocol="actors", groups=actors, n_splits=3, seed=0, n_jobs=1, progress=False, cache=True) | kw
    return cross_validate(model, X, y, **kw)


def same_result(a, b):
    pd.testing.assert_frame_equal(a.predictions(), b.predictions())
    pd.testing.assert_frame_equal(a.folds, b.folds)          # fit_time_s too: the original fit's


def test_second_call_fits_nothing_and_gives_the_same_result(toy):
    X, y, actors = toy
    FITS.clear()
    first = cv(CountingForest(n_estimators=10, random_state=0), X, y, actors, return_estimator=True)
    assert len(FITS) == 3
    again = cv(CountingForest(n_estimators=10, random_state=0), X, y, actors, return_estimator=True)
    assert len(FITS) == 3                                     # all three folds read back
    same_result(first, again)
    for a, b in zip(first.estimators, again.estimators):
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    off = cv(CountingForest(n_estimators=10, random_state=0), X, y, actors, cache=False)
    assert len(FITS) == 6
    pd.testing.assert_frame_equal(off.predictions(), first.predictions())


def test_grid_search_keeps_best_params_and_predicts(toy):
    X, y, actors = toy
    from emomotion.baselines import make_baseline
    kw = dict(fit_groups=True, return_estimator=True)
    first = cv(make_baseline("Random Forest", "quick", 0, grouped=True), X, y, actors, **kw)
    again = cv(make_baseline("Random Forest", "quick", 0, grouped=True), X, y, actors, **kw)
    same_result(first, again)
    assert "best_params" in again.folds
    for a, b in zip(first.estimators, again.estimators):
        assert type(b).__name__ == "GridSearchCV" and b.best_params_ == a.best_params_
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
        np.testing.assert_array_equal(a.predict(X), b.predict(X))


@pytest.mark.parametrize("change", ["param", "X", "groups", "split"])
def test_what_changes_the_fit_changes_the_key(toy, change):
    X, y, actors = toy
    FITS.clear()
    cv(CountingForest(n_estimators=10, random_state=0), X, y, actors)
    assert len(FITS) == 3
    model, kw = CountingForest(n_estimators=10, random_state=0), {}
    if change == "param":
        model.set_params(min_samples_leaf=2)
    elif change == "X":
        X = X.copy()
        X.iloc[0, 0] += 1e-9
    elif change == "groups":
        actors = np.where(actors == actors[0], "someone else", actors)
    else:
        kw = dict(n_splits=2)                    # other folds (a fold that happens to coincide would hit)
    cv(model, X, y, actors, **kw)
    assert len(FITS) == (5 if change == "split" else 6), change


def test_column_names_are_part_of_the_key(toy):
    X, y, actors = toy
    FITS.clear()
    cv(CountingForest(n_estimators=10, random_state=0), X, y, actors)
    cv(CountingForest(n_estimators=10, random_state=0), X.rename(columns={"f0": "g0"}), y, actors)
    assert len(FITS) == 6


@pytest.mark.parametrize("damage", ["json", "missing", "shape"])
def test_a_broken_entry_is_refitted_with_a_warning_naming_it(toy, damage):
    X, y, actors = toy
    FITS.clear()
    first = cv(CountingForest(n_estimators=10, random_state=0), X, y, actors)
    entry = sorted(fit_cache_dir().iterdir())[0]
    if damage == "json":
        (entry / "entry.json").write_text("{not json", encoding="utf-8")
    elif damage == "missing":
        (entry / "outputs.npz").unlink()
    else:
        meta = json.loads((entry / "entry.json").read_text())
        np.savez(entry / "outputs.npz", pred=np.zeros(1, np.int64), proba=np.zeros((1, 3)))
        meta["files"]["outputs.npz"] = sha256_of(entry / "outputs.npz")
        (entry / "entry.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match=f"fit cache: entry {entry}.*broken"):
        again = cv(CountingForest(n_estimators=10, random_state=0), X, y, actors)
    assert len(FITS) == 4                                     # that fold only, fitted again
    pd.testing.assert_frame_equal(again.predictions(), first.predictions())
    with warnings.catch_warnings():
        warnings.simplefilter("error")                        # overwritten: read back without a word
        cv(CountingForest(n_estimators=10, random_state=0), X, y, actors)
    assert len(FITS) == 4


class Opaque(ClassifierMixin, BaseEstimator):
    "A classifier whose fitted state skops would refuse (an arbitrary object): it cannot be stored safely."
    def __init__(self, c: float = 1.0):
        self.c = c

    def fit(self, X, y):
        FITS.append(1)
        self.model_ = LogisticRegression(C=self.c, max_iter=300).fit(X, y)
        self.classes_ = self.model_.classes_
        self.thing_ = Opaque                                  # a class of a test module: not a trusted type
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


def test_a_model_that_cannot_be_stored_safely_still_runs(toy):
    X, y, actors = toy
    FITS.clear()
    first = cv(Opaque(), X, y, actors, return_estimator=True)
    again = cv(Opaque(), X, y, actors, return_estimator=True)
    assert len(FITS) == 6                                     # its fitted model cannot be read back: fitted again
    pd.testing.assert_frame_equal(first.predictions(), again.predictions())
    assert isinstance(again.estimators[0], Opaque)
    cv(Opaque(), X, y, actors)                                # its predictions were stored: no fit needed
    assert len(FITS) == 6


def test_a_parameter_known_by_its_address_is_not_cached(toy):
    X, y, actors = toy
    FITS.clear()
    for callback in (object(), lambda: 1):
        with pytest.warns(UserWarning, match="is not cached"):
            r = cv(WithCallback(callback=callback), X, y, actors)
        assert r.n == len(y)
    assert not fit_cache_dir().exists()


class WithCallback(LogisticRegression):
    def __init__(self, callback=None, max_iter=300):
        super().__init__(max_iter=max_iter)
        self.callback = callback


def test_predictions_only_entry_is_a_miss_when_the_model_is_needed(toy):
    X, y, actors = toy
    FITS.clear()
    cv(CountingForest(n_estimators=10, random_state=0), X, y, actors)              # predictions only
    entry = sorted(fit_cache_dir().iterdir())[0]
    assert json.loads((entry / "entry.json").read_text())["estimator"] is None
    r = cv(CountingForest(n_estimators=10, random_state=0), X, y, actors, return_estimator=True)
    assert len(FITS) == 6 and len(r.estimators) == 3
    assert json.loads((entry / "entry.json").read_text())["estimator"]["kind"] == "skops"
    cv(CountingForest(n_estimators=10, random_state=0), X, y, actors, return_estimator=True)
    assert len(FITS) == 6


def test_the_store_holds_no_pickle(toy):
    X, y, actors = toy
    cv(CountingForest(n_estimators=10, random_state=0), X, y, actors, return_estimator=True)
    files = [p for p in fit_cache_dir().rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".json", ".npz", ".skops"}
    for p in files:
        head = p.read_bytes()[:2]
        assert not (head[:1] == b"\x80" and head[1:] and head[1] <= 5), p      # no pickle stream
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:                         # object arrays would refuse here
                assert {k: z[k].dtype.kind for k in z.files} == {"pred": "i", "proba": "f"}


def test_no_fit_cache_env_turns_it_off(toy, monkeypatch):
    X, y, actors = toy
    monkeypatch.setenv("EMOMOTION_NO_FIT_CACHE", "1")
    FITS.clear()
    cv(CountingForest(n_estimators=10, random_state=0), X, y, actors)
    cv(CountingForest(n_estimators=10, random_state=0), X, y, actors)
    assert len(FITS) == 6 and not fit_cache_dir().exists()


def test_two_workers_and_many_runs(toy):
    X, y, actors = toy
    runs = {("rf", p): (RandomForestClassifier(n_estimators=10, random_state=0, n_jobs=1), p)
            for p in ("stratified", "actors")}
    kw = dict(n_splits=3, seed=0, n_jobs=2, progress=False, return_estimator=True)
    first = cross_validate_many(runs, X.to_numpy(), y, actors, cache={("rf", "actors")}, **kw)
    assert len(list(fit_cache_dir().iterdir())) == 3                # only the cached run's folds were stored
    again = cross_validate_many(runs, X.to_numpy(), y, actors, cache=True, **kw)
    assert len(list(fit_cache_dir().iterdir())) == 6
    for key in runs:
        pd.testing.assert_frame_equal(first[key].predictions(), again[key].predictions())
    pd.testing.assert_frame_equal(first["rf", "actors"].folds, again["rf", "actors"].folds)
    with pytest.raises(ValueError, match="cache names runs that do not exist"):
        cross_validate_many(runs, X, y, actors, cache={"svm"}, **kw)


def test_torch_models_round_trip(toy):
    torch = pytest.importorskip("torch")
    from emomotion.lstm import make_motion_lstm
    from emomotion.skeleton_models import part_attention, skeleton_classifier
    _, y, actors = toy
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(len(y), 10, 3 * 2 * 3 + 1)).astype(np.float32)
    Xs[..., -1] = 1
    Xk = rng.normal(size=(len(y), 12, 17 * 3 + 1)).astype(np.float32)
    Xk[..., -1] = 1
    lstm = lambda: make_motion_lstm(3, hidden=8, proj=8, max_epochs=2, patience=None, batch_size=16)
    pt = lambda: skeleton_classifier("part-transformer", window=8, n_crops=2, rate=15.0, max_epochs=2, patience=None,
                                     d_model=16, n_heads=2, n_layers=1, dim_ff=32)
    for make, X in ((lstm, Xs), (pt, Xk)):
        first = cv(make(), X, y, actors, return_estimator=True)
        rng_state = torch.random.get_rng_state()
        again = cv(make(), X, y, actors, return_estimator=True)
        assert torch.equal(rng_state, torch.random.get_rng_state())   # reading back draws no random numbers
        same_result(first, again)
        for a, b in zip(first.estimators, again.estimators):
            np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-6)
            net_a, net_b = (a[-1], b[-1]) if hasattr(a, "steps") else (a, b)
            assert net_b.best_epoch_ == net_a.best_epoch_ and len(net_b.history_) == len(net_a.history_)
        if make is lstm:
            np.testing.assert_allclose(first.estimators[0].explain(X[:3])["temporal"],
                                       again.estimators[0].explain(X[:3])["temporal"], atol=1e-6)
        else:
            np.testing.assert_allclose(part_attention(first.estimators[0], X[:3]),
                                       part_attention(again.estimators[0], X[:3]), atol=1e-6)


def test_a_class_run_from_its_notebook_has_the_key_of_the_module_class():
    "04_lstm runs its own copy of MotionLSTM (in __main__); 10 and 11 import emomotion.lstm's: one key for both."
    import copy
    import linecache
    import nbformat
    from pathlib import Path
    import emomotion.lstm as L
    from emomotion.fitcache import _stable
    nb = nbformat.read(Path(__file__).parents[1] / "nbs" / "04_lstm.ipynb", as_version=4)
    g = {"__name__": "__main__"}
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and c.source.startswith("#| export"):
            name = f"<notebook cell {i}>"
            linecache.cache[name] = (len(c.source), None, c.source.splitlines(True), name)   # as IPython does
            exec(compile(c.source, name, "exec"), g)
    assert g["MotionLSTM"] is not L.MotionLSTM
    key = _stable(L.make_motion_lstm(3, hidden=16))
    copy.deepcopy(L.make_motion_lstm(3, hidden=16))           # copying adds __slotnames__ to classes: no matter
    assert _stable(g["make_motion_lstm"](3, hidden=16)) == key
    assert _stable(g["make_motion_lstm"](3, hidden=17)) != key
