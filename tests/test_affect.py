"Continuous affect (`emomotion.affect`, nbs/10_affect): lexicon anchors, metrics, honest folds, the approach choice, the chapter's outputs."
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import RandomForestClassifier

from emomotion import affect as A
from emomotion.datasets import EMOTIONS
from emomotion.evaluate import cross_validate, make_toy_study, split_indices

ROOT = Path(__file__).resolve().parents[1]
# the issue's NRC VAD v1 numbers (0..1), by the lexicon's word
ISSUE = {"angry": (.122, .830, .604), "disgust": (.052, .775, .317), "fear": (.073, .840, .293),
         "happy": (1.000, .735, .772), "neutral": (.469, .184, .357), "sad": (.225, .333, .149),
         "surprise": (.875, .875, .562)}


def test_lexicon_is_the_issues_v1_table_keyed_by_our_labels():
    assert set(A.NRC_VAD.index) == set(EMOTIONS)
    assert A.NRC_VAD.loc["Fearful", "word"] == "fear"
    for label, row in A.NRC_VAD.iterrows():
        assert tuple(row[list(A.VAD_DIMS)]) == ISSUE[row.word], label
    assert "v1" in A.VAD_SOURCE and "Mohammad" in A.VAD_SOURCE and "ACL 2018" in A.VAD_SOURCE


def test_a_label_without_anchor_is_named():
    with pytest.raises(ValueError, match=r"\['Content', 'Joy'\]"):
        A.vad_of(["Sad", "Joy", "Content", "Joy"])


def test_mapping_is_the_expected_anchor():
    proba = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    out = A.map_proba(proba, ["Angry", "Fearful", "Sad"])
    np.testing.assert_allclose(out, proba @ A.vad_of(["Angry", "Fearful", "Sad"]))
    unknown = A.map_proba([[0.5, 0.5], [1.0, 0.0]], ["Sad", "Joy"])
    assert np.isnan(unknown[0]).all() and np.allclose(unknown[1], A.vad_of(["Sad"])[0])


def test_ccc_against_its_definition():
    rng = np.random.default_rng(1)
    y, p = rng.normal(size=500), rng.normal(size=500) * 0.5 + 0.3
    p = p + 0.7 * y
    sy, sp = y.std(), p.std()
    r = np.corrcoef(y, p)[0, 1]
    expected = 2 * r * sy * sp / (sy ** 2 + sp ** 2 + (y.mean() - p.mean()) ** 2)
    assert np.isclose(A.ccc(y, p), expected)
    assert A.ccc(y, np.full(500, 3.0)) == 0 and np.isnan(A.ccc(np.ones(3), np.ones(3)))
    m = A.affect_metrics(np.c_[y, y, y], np.c_[y, 2 * y, y + 1])
    assert list(m.columns) == ["dimension", "ccc", "rmse", "pearson_r"]
    assert np.allclose(m.pearson_r, 1) and m.ccc[0] == pytest.approx(1) and (m.ccc[1:] < 0.9).all()


class _Spy(RegressorMixin, BaseEstimator):
    """Remembers the rows (their first feature) it was fitted on; predicts, per row, whether it was one of them,
    how many rows it saw and the smallest of them (it works in joblib workers: nothing is shared)."""
    def fit(self, X, Y):
        self.seen_ = set(np.asarray(X)[:, 0].tolist())
        return self

    def predict(self, X):
        ids = np.asarray(X)[:, 0]
        return np.c_[np.isin(ids, list(self.seen_)), np.full(len(X), len(self.seen_)), np.full(len(X), min(self.seen_))]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_cross_predict_never_fits_on_the_test_fold(n_jobs):
    X, y, actors = make_toy_study(n_actors=6, n_classes=3, per_cell=2)
    X = X.assign(f0=np.arange(len(X)))                      # row ids in the first column
    folds = split_indices("actors", y, actors, 3, 0)
    P = A.cross_predict(_Spy(), X, np.ones((len(X), 3)), folds, n_jobs=n_jobs)
    assert not np.isnan(P).any()
    for train, test in folds:
        assert (P[test, 0] == 0).all()                                      # no test row was fitted on
        assert (P[test, 1] == len(train)).all() and (P[test, 2] == train.min()).all()   # the fold's own training rows


def test_better_approach_is_the_higher_mean_ccc_and_ties_go_to_the_mapping():
    def table(map_ccc, reg_ccc):
        rows = [dict(approach=a, model=m, dimension=d, ccc=c) for a, m, c in
                [("mapping", "RF", map_ccc), ("regression", "MLP head", reg_ccc), ("floor", "mean", 9.0)]
                for d in A.VAD_DIMS]
        return pd.DataFrame(rows).assign(protocol="actors", folds=3, n_clips=10, dataset="toy")
    assert A.better_approach(table(0.4, 0.6))[:2] == ("regression", "MLP head")
    assert A.better_approach(table(0.6, 0.4))[:2] == ("mapping", "RF")     # the floor row never wins
    assert A.better_approach(table(0.5, 0.5))[0] == "mapping"


def test_bundle_affect_scores_both_on_the_harness_folds():
    X, y, actors = make_toy_study(n_actors=8, n_classes=4, per_cell=4, shared=2.0, personal=0.3)
    labels = np.array(["Angry", "Happy", "Sad", "Neutral"])[[int(c[1]) for c in y]]
    codes = np.unique(labels, return_inverse=True)[1]
    res = cross_validate(RandomForestClassifier(50, random_state=0), X, codes, "actors", actors, 4, 0, progress=False)
    rec, head = A.bundle_affect(res, labels, X, actors, "quick")
    t = pd.DataFrame(rec["metrics"])
    mapped = t[t.approach == "mapping"].set_index("dimension")
    expect = A.affect_metrics(A.vad_of(labels), _mapped(res, np.unique(labels))).set_index("dimension")
    np.testing.assert_allclose(mapped.ccc, expect.ccc)
    assert (head is None) == (rec["approach"] == "mapping")
    if head is not None:
        assert head.predict(X.to_numpy()[:3]).shape == (3, 3)


class _Memo(RandomForestClassifier):
    "A forest that remembers the rows (their first feature) it was fitted on; its 'clip vector' is the features."
    def fit(self, X, y):
        self.rows_ = set(np.asarray(X)[:, 0].tolist())
        return super().fit(X, y)


def _toy(n_actors=8, per_cell=4):
    X, y, actors = make_toy_study(n_actors=n_actors, n_classes=4, per_cell=per_cell, shared=2.0, personal=0.3)
    labels = np.array(["Angry", "Happy", "Sad", "Neutral"])[[int(c[1]) for c in y]]
    return X.assign(f0=np.arange(len(X))).to_numpy(), labels, actors


def test_probe_uses_each_folds_own_model_and_never_fits_on_its_test_rows():
    X, labels, actors = _toy()
    Y = A.vad_of(labels)
    res = cross_validate(_Memo(20, random_state=0), X, labels, "actors", actors, 4, 0, progress=False,
                         return_estimator=True)
    used = []

    def embed(est, X):
        used.append(est.rows_)
        return X[:, 1:]
    P = A.probe_predictions(res, X, Y, actors, "quick", embed=embed)
    assert not np.isnan(P).any() and ((P >= 0) & (P <= 1)).all() and (A.affect_metrics(Y, P).ccc > 0.5).all()
    folds = A.result_folds(res)
    assert [set(tr.tolist()) for tr, _ in folds] == used           # fold k's encoder saw fold k's training rows
    other = Y.copy()
    for k, (train, test) in enumerate(folds):                        # new targets on a test fold change nothing there
        other[test] = np.random.default_rng(k).uniform(size=(len(test), 3))
        np.testing.assert_array_equal(A.probe_predictions(res, X, other, actors, "quick", embed=embed)[test], P[test])
        other[test] = Y[test]
    with pytest.raises(ValueError, match="return_estimator=True"):
        A.probe_predictions(cross_validate(_Memo(5), X, labels, "actors", actors, 4, 0, progress=False), X, Y, actors)


def test_probe_on_a_motion_lstm_reads_its_clip_vectors():
    "The chapter's path: a (tiny) MotionLSTM per fold, `SequencePipeline.embed`, the ridge; values on 0..1."
    from emomotion.lstm import make_motion_lstm
    rng = np.random.default_rng(0)
    labels = np.repeat(["Angry", "Sad", "Happy"], 12)
    actors = np.tile(np.arange(6), 6)
    level = pd.Series(labels).map({"Angry": 1.0, "Sad": -1.0, "Happy": 0.0}).to_numpy()
    X = rng.normal(size=(36, 8, 9)) + level[:, None, None]          # 3 kinds × 1 joint × 3 axes
    X = np.concatenate([X, np.ones((36, 8, 1))], -1).astype(np.float32)
    lstm = make_motion_lstm(3, hidden=8, proj=8, max_epochs=3, patience=None, val_size=0, monitor="train_loss",
                            batch_size=12)
    res = cross_validate(lstm, X, labels, "actors", actors, 3, 0, n_jobs=1, progress=False, return_estimator=True)
    E = res.estimators[0].embed(X)
    assert E.shape == (36, 16) and np.isfinite(E).all()
    P = A.probe_predictions(res, X, A.vad_of(labels), actors, "quick")
    assert P.shape == (36, 3) and not np.isnan(P).any() and ((P >= 0) & (P <= 1)).all()


def _mapped(res, names):
    out = np.full((res.n, 3), np.nan)
    out[res.test_index] = A.map_proba(res.proba, names[res.classes])
    return out


@pytest.mark.notebooks                 # it executes chapter 10 (the notebooks command)
def test_the_chapter_writes_its_table_and_circumplex(tmp_path):
    "nbs/10_affect.ipynb under papermill with its quick defaults: `tables/affect_*.csv` and a circumplex figure."
    out = tmp_path / "rep"
    proc = subprocess.run([sys.executable, "-m", "papermill", "10_affect.ipynb", str(tmp_path / "run.ipynb"),
                           "-p", "out_dir", str(out), "--log-level", "ERROR"], cwd=ROOT / "nbs",
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    t = pd.read_csv(out / "tables" / "affect_synthetic_metrics.csv")
    need = {"approach", "model", "dimension", "ccc", "rmse", "pearson_r", "protocol", "folds", "seed", "dataset"}
    assert need <= set(t.columns) and set(t.dimension) == set(A.VAD_DIMS)
    assert {"mapping", "regression", "floor"} <= set(t.approach) and (t.protocol == "actors").all()
    models = set(zip(t.approach, t.model))         # issue 18: a regression head on the sequence model too
    assert {("regression", "MLP head"), ("regression", "MotionLSTM encoder + ridge"), ("mapping", "MotionLSTM")} <= models
    assert t.rmse.between(0, 2).all() and t.ccc.between(-1, 1).all()
    assert list((out / "figures").glob("*circumplex*.png"))
    choice = pd.read_csv(out / "tables" / "affect_synthetic_choice.csv")
    assert choice.approach.iloc[0] in ("mapping", "regression") and "mean CCC" in choice.why.iloc[0]


def test_cross_predict_gives_the_same_numbers_on_one_or_two_workers():
    "The regression folds run side by side (one thread each): `n_jobs` changes the wall time, never a prediction."
    from sklearn.model_selection import GroupKFold
    from emomotion.affect import cross_predict, make_vad_head
    rng = np.random.default_rng(0)
    X, g = rng.normal(size=(60, 8)), np.repeat(np.arange(6), 10)
    Y = 1 / (1 + np.exp(-X[:, :3] @ rng.normal(size=(3, 3))))
    folds = list(GroupKFold(3).split(X, groups=g))
    one = cross_predict(make_vad_head("quick"), X, Y, folds, groups=g, n_jobs=1)
    two = cross_predict(make_vad_head("quick"), X, Y, folds, groups=g, n_jobs=2)
    np.testing.assert_array_equal(one, two)
    assert np.isfinite(one).all()
