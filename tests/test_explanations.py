"""Explanations (nbs/11_explanations.ipynb): per-joint feature groups, permutation importance on held-out folds,
agreement between methods, drawings and animations, and the fairness tables."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib import animation
from sklearn.ensemble import RandomForestClassifier

from emomotion.evaluate import cross_validate, make_toy_study
from emomotion.explanations import (WHOLE_BODY, attention_animation, fairness_tables, fold_permutation_importance,
                                    grouped_permutation_importance, importance_figure, joint_feature_groups,
                                    method_agreement, part_to_joints, rest_pose, save_animation)
from emomotion.features import feature_names
from emomotion.kinematics import STICK_FIGURE, toy_clip
from emomotion.skeletons import KEY_JOINTS


def test_joint_feature_groups_cover_every_feature_once():
    names = feature_names()
    groups = joint_feature_groups(names)
    assert list(groups) == KEY_JOINTS + [WHOLE_BODY]
    assert sorted(i for ix in groups.values() for i in ix) == list(range(len(names)))
    hand = {names[i] for i in groups["RightHand"]}
    assert "RightHand_jerk_max" in hand and "RightForeArm-RightHand_angspeed_mean" in hand   # the bone ending there
    assert "RightForeArm-RightHand_angspeed_mean" not in {names[i] for i in groups["RightForeArm"]}
    with pytest.raises(ValueError, match="LeftFoot"):
        joint_feature_groups([n for n in names if not n.startswith("LeftFoot")
                              and not n.startswith("LeftLeg-LeftFoot")])


def _toy_rows(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=["a1", "a2", "b1", "b2", "b3"])
    return X, np.where(X.a1 + X.a2 > 0, "up", "down")


def test_fold_permutation_importance_uses_the_harness_fold_models():
    # the harness fits on class codes: importances must come out non-zero under the class names
    X, y = _toy_rows()
    res = cross_validate(RandomForestClassifier(30, random_state=0), X, y, "stratified", n_splits=3, progress=False,
                         return_estimator=True)
    imp = fold_permutation_importance(res, X, {"a": [0, 1], "b": [2, 3, 4]}, n_repeats=3).set_index(["group", "label"])
    assert set(imp.index.get_level_values("label")) == {"all", "down", "up"}
    assert imp.loc[("a", "all"), "baseline"] > 0.8
    assert imp.loc[("a", "all"), "importance"] > 0.2
    assert imp.loc[("a", "down"), "importance"] > 0 and imp.loc[("a", "up"), "importance"] > 0
    assert abs(imp.loc[("b", "all"), "importance"]) < 0.05
    assert imp.loc[("a", "all"), "n_clips"] == len(y)
    res.estimators = None
    with pytest.raises(ValueError, match="return_estimator"):
        fold_permutation_importance(res, X, {"a": [0]})


def test_grouped_permutation_importance_never_fits():
    X, y = _toy_rows()
    clf = RandomForestClassifier(20, random_state=0).fit(X[:160], y[:160])
    before = [t.tree_.node_count for t in clf.estimators_]
    imp = grouped_permutation_importance(clf, X[160:], y[160:], {"a": [0, 1]}, n_repeats=2)
    assert [t.tree_.node_count for t in clf.estimators_] == before
    assert imp.query("label == 'all'").importance.iat[0] > 0.2


def test_part_to_joints_and_agreement():
    pj = part_to_joints(np.array([[0.1, 0.2, 0.4, 0.1, 0.1, 0.1]]))
    assert np.isclose(pj.loc[0, "RightArm"], 0.1) and np.isclose(pj.loc[0, "Head"], 0.2) and np.isclose(pj.sum(axis=1)[0], 1)
    ramp = pd.DataFrame([np.arange(17.0), np.arange(17.0)[::-1]], index=["Angry", "Sad"], columns=KEY_JOINTS)
    flat = pd.DataFrame(1.0, index=["Angry", "Sad"], columns=KEY_JOINTS)
    a = method_agreement({"x": ramp, "y": 2 * ramp, "z": -ramp, "flat": flat}).set_index(["method_a", "method_b", "emotion"])
    assert np.isclose(a.loc[("x", "y", "Angry"), "spearman"], 1) and np.isclose(a.loc[("x", "z", "Sad"), "spearman"], -1)
    assert np.isnan(a.loc[("x", "flat", "Angry"), "spearman"])
    assert ("x", "y", "all emotions") in a.index
    with pytest.raises(ValueError, match="two methods"):
        method_agreement({"x": ramp})


def test_fairness_tables_from_actor_folds():
    X, y, actors = make_toy_study(n_actors=6, n_classes=3, per_cell=4)
    res = cross_validate(RandomForestClassifier(20, random_state=0), X, y, "actors", groups=actors, n_splits=3,
                         progress=False)
    index = pd.DataFrame({"actor": actors, "gender": [a[-1] in "024" and "F" or "M" for a in actors]})
    per, spread = fairness_tables(res, index)
    pred = res.predictions()
    for actor, row in per.query("attribute == 'actor'").set_index("group").iterrows():
        mine = pred[pred.group == actor]
        assert row.n_clips == len(mine) and np.isclose(row.accuracy, (mine.y_true == mine.y_pred).mean())
    s = spread.set_index("attribute")
    acc = per.query("attribute == 'actor'").accuracy
    assert s.loc["actor", "n_groups"] == 6 and s.loc["actor", "n_clips"] == len(y)
    assert np.isclose(s.loc["actor", "sd"], acc.std(ddof=1)) and np.isclose(s.loc["actor", "min"], acc.min())
    assert s.loc["gender", "n_groups"] == 2
    with pytest.raises(ValueError, match="clip index has 10 rows"):
        fairness_tables(res, index.iloc[:10])


def test_save_animation_gif_and_html_fallback(tmp_path, monkeypatch):
    walk = toy_clip(10, 1.5)
    make = lambda: attention_animation(walk, np.abs(walk[..., 0]), np.full(len(walk), 1 / len(walk)), rate=10, n_frames=4)
    gif = save_animation(make(), tmp_path, "walk")
    assert gif.name == "walk.gif" and gif.read_bytes()[:3] == b"GIF"
    monkeypatch.setattr(animation.PillowWriter, "isAvailable", classmethod(lambda cls: False))
    html = save_animation(make(), tmp_path / "fallback", "walk")
    assert html.name == "walk.html" and "<script" in html.read_text()
    assert not (tmp_path / "fallback" / "figures" / "walk.gif").exists()
    with pytest.raises(ValueError, match="temporal"):
        attention_animation(walk, walk[..., 0], np.ones(2), rate=10)


class _FakeClips:
    "Two clips of a walking stick figure, 10 m from the origin."
    def __init__(self):
        self.index = pd.DataFrame({"fps": [30.0, 30.0], "path": ["a.bvh", "b.bvh"]})

    def __len__(self):
        return 2

    def positions(self, i):
        return toy_clip(30, 2.0) + np.array([10.0, 0.0, -4.0])


def test_rest_pose_and_figure():
    pose = rest_pose(_FakeClips())
    assert pose.shape == (17, 3)
    assert np.allclose(pose[0, [0, 2]], 0, atol=1e-9)                      # hips above the origin
    assert pose[KEY_JOINTS.index("Head"), 1] > pose[KEY_JOINTS.index("LeftFoot"), 1]
    imp = pd.DataFrame([np.arange(17.0)], index=["Angry"], columns=KEY_JOINTS)
    fig = importance_figure(STICK_FIGURE, {"m1": imp, "m2": -imp})
    assert len(fig.axes) == 3
