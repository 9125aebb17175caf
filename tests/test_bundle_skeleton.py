"""`emomotion train` offers chapter 05b's ST-GCN++ and part transformer (`stgcn++`, `part-transformer`) with the settings of
their rows in 05b: a bundle of each trains, loads (manifest checked, no pickle) and predicts a file; the ST-GCN++ bundle
trained on a fold's training clips predicts what the harness did with 05b's recipe."""
import numpy as np
import pytest

from emomotion import bundle as B, predict as P
from emomotion.cli import MODELS as CLI_MODELS
from emomotion.datasets import load_dataset
from emomotion.evaluate import cross_validate, split_indices
from emomotion.profiles import profile_settings
from emomotion.skeleton_models import PartTransformer, STGCNPlusPlus, build_skeleton_sequences, skeleton_classifier


@pytest.fixture(scope="module")
def clips():
    return load_dataset("synthetic", profile="quick", progress=False)


def _05b_recipe(model, profile="quick"):
    "The estimator chapter 05b builds for `model` (its `make`), and its sequence settings."
    S = profile_settings(profile, "skeleton_models")
    arch = S["stgcnpp"] if model == "stgcn++" else S["transformer"]
    train = dict(max_epochs=S["max_epochs"], patience=S["patience"], batch_size=S["batch_size"], lr=S["lr"])
    est = skeleton_classifier(model, rate=S["rate"], seed=0, **train, **(dict(window=S["window"], n_crops=S["n_crops"]) | arch))
    return est, S


@pytest.mark.parametrize("model,module", [("stgcn++", STGCNPlusPlus), ("part-transformer", PartTransformer)])
def test_skeleton_bundle_trains_and_predicts_a_file(clips, model, module, tmp_path):
    assert model in B.MODELS and model in CLI_MODELS
    spec = B.model_spec(model, "quick", len(clips))
    est, S = _05b_recipe(model)
    mine = B.make_estimator(spec)[-1]                                   # the network after an identity step
    assert mine.module is module and mine.module_params == est.module_params           # 05b's settings
    assert {k: getattr(mine, k) for k in ("max_epochs", "patience", "batch_size", "lr")} == \
           {k: getattr(est, k) for k in ("max_epochs", "patience", "batch_size", "lr")}
    assert spec["inputs"] == dict(kind="skeleton", rate=S["rate"], max_seconds=S["max_seconds"])
    b = B.train_bundle(clips, model, tmp_path / model, evaluate=False)
    m = P.load_model(b)
    out = m.predict_files(list(clips.index["path"].iloc[:3]))
    assert (out["error"] == "").all() and out["label"].isin(m.classes).all()
    probs = out[[f"p_{c}" for c in m.classes]].to_numpy(float)
    assert np.allclose(probs.sum(1), 1, atol=1e-5)


def test_stgcnpp_bundle_equals_the_harness_on_a_fold(clips, tmp_path):
    est, S = _05b_recipe("stgcn++")
    sq = build_skeleton_sequences(clips, rate=S["rate"], max_seconds=S["max_seconds"])
    assert len(sq.X) == len(clips)
    y, groups = clips.index["label"].to_numpy(), clips.index["actor"].to_numpy()
    res = cross_validate(est, sq.X, y, "actors", groups=groups, n_splits=3, seed=0, progress=False, fit_groups=True)
    pred = res.predictions()
    tr, te = split_indices("actors", y, groups, 3, 0)[0]
    b = B.train_bundle(clips.subset(tr), "stgcn++", tmp_path / "fold0", evaluate=False)
    out = P.load_model(b).predict_files(list(clips.index["path"].iloc[te]))
    assert (out["error"] == "").all()
    cols = [f"p_{c}" for c in res.classes]
    np.testing.assert_allclose(out[cols].to_numpy(float), pred.loc[te, cols].to_numpy(), atol=1e-5)
