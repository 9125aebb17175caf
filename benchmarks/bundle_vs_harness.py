"""Leave-one-content-out on the Bandai emotion clips through `train_bundle` + `load_model(...).predict_files` (one
bundle per held-out content, trained on the other contents) against the harness's `cross_validate(..., "groups")`
on the same clips: the pooled accuracy of both and how many per-clip predictions agree.

    .venv/bin/python benchmarks/bundle_vs_harness.py [rf|svm|gb|mlp|lstm|stgcn_gated|...]
(reads ../shared/data/bandai-namco-1 beside the checkout)"""
import sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd
from emomotion.datasets import load_dataset
from emomotion import bundle as B
from emomotion.predict import load_model
from emomotion.evaluate import cross_validate

model = sys.argv[1] if len(sys.argv) > 1 else "rf"
BANDAI = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "bandai-namco-1")
clips = load_dataset("bandai", BANDAI, profile="full", progress=False)
idx = clips.index
contents = sorted(idx["content"].unique())
rows = []
t0 = time.perf_counter()
with tempfile.TemporaryDirectory() as d:
    for c in contents:
        test = (idx["content"] == c).to_numpy()
        train = clips.subset(~test)
        out = B.train_bundle(train, model, Path(d) / c, profile="full", seed=0, evaluate=False)
        m = load_model(out)
        pr = m.predict_files(idx.loc[test, "path"].tolist())
        pr["true"] = idx.loc[test, "label"].to_numpy()
        rows.append(pr)
preds = pd.concat(rows, ignore_index=True)
acc_bundle = float((preds["label"] == preds["true"]).mean())
print(f"{model}: train_bundle + predict_files, leave-one-content-out over {len(contents)} contents: "
      f"pooled accuracy {acc_bundle:.3f} ({(preds['label'] == preds['true']).sum()}/{len(preds)}), {time.perf_counter()-t0:.0f} s")
spec = B.model_spec(model, "full", len(clips))
X = B.model_inputs(spec["inputs"], clips.all_positions(), idx["fps"].to_numpy(float), idx["clip_id"])
classes, y = np.unique(idx["label"].to_numpy(), return_inverse=True)
res = cross_validate(B.make_estimator(spec, 0), X, y, "groups", groups=idx["content"].to_numpy(),
                     n_splits=spec["n_splits"], seed=0, progress=False, fit_groups=spec["fit_groups"])
s = res.summary()
harness = pd.Series(classes[res.y_pred], index=idx["path"].to_numpy()[res.test_index])
mine = preds.set_index("file")["label"]
same = sum(str(harness[f]) == str(mine[f]) for f in harness.index if f in mine.index)
print(f"harness cross_validate('groups', {res.n_splits} folds): pooled accuracy {s['pooled_accuracy']:.3f}, "
      f"mean {s['accuracy']:.3f} ± {s['accuracy_std']:.3f}; per-clip predictions equal: {same}/{len(harness)}")
