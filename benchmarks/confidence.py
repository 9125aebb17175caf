"""Does a bundle's confidence mean something, in and out of its domain? A quick-profile `rf` bundle is trained on the
generated full set minus 7 actors (drawn with seed 0), then predicts the 7 held-out actors and Bandai-Namco's emotion
clips (Angry, Happy, Sad, Neutral: 4 of its 7 classes). For each set it prints the accuracy, the AUROC of
right-vs-wrong for the raw top probability, the calibrated `confidence`, `-ood` and `not uncertain`, and the accuracy
of the clips not flagged `uncertain` against all clips (with their share). Nothing here is tuned on these clips.

    nice -n 19 python benchmarks/confidence.py --bandai /work/shared/data/bandai-namco-1 --out /tmp/conf-bench
"""
import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from emomotion.bundle import train_bundle
from emomotion.datasets import load_dataset
from emomotion.predict import load_model


def auroc(hit, score) -> float:
    return float(roc_auc_score(hit, score)) if 0 < hit.mean() < 1 else float("nan")


def report(name, out, truth, classes):
    hit = (out["label"].to_numpy() == truth).astype(int)
    raw = out[[f"p_{c}" for c in classes]].to_numpy().max(1)
    keep = ~out["uncertain"].to_numpy(bool)
    row = dict(set=name, n=len(out), accuracy=hit.mean(), auroc_raw=auroc(hit, raw),
               auroc_calibrated=auroc(hit, out["confidence"].to_numpy()), auroc_neg_ood=auroc(hit, -out["ood"].to_numpy()),
               auroc_not_uncertain=auroc(hit, keep.astype(float)), kept=keep.mean(),
               accuracy_kept=hit[keep].mean() if keep.any() else float("nan"),
               median_ood=float(np.median(out["ood"])))
    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bandai", default="/work/shared/data/bandai-namco-1")
    ap.add_argument("--out", default="/tmp/emomotion-confidence-bench")
    ap.add_argument("--model", default="rf")
    a = ap.parse_args()
    clips = load_dataset("synthetic", profile="full", progress=False)
    idx = clips.index
    held = np.random.default_rng(0).choice(np.array(sorted(idx["actor"].unique())), 7, replace=False)
    test = idx["actor"].isin(held).to_numpy()
    b = train_bundle(clips.subset(np.flatnonzero(~test)), a.model, Path(a.out) / a.model, profile="quick", progress=True)
    meta = json.loads((b / "model.json").read_text())
    print("temperature", meta["calibration"]["temperature"], "uncertain_below", meta["uncertain_below"],
          "ood threshold", meta["ood"]["threshold"], "held-out actors", sorted(held), flush=True)
    model = load_model(b)
    rows = [report("generated, held-out actors", model.predict_files(list(idx["path"][test])), idx["label"][test].to_numpy(),
                   model.classes)]
    bandai = load_dataset("bandai", a.bandai, progress=False).index
    rows.append(report("Bandai emotions", model.predict_files(list(bandai["path"])), bandai["label"].to_numpy(),
                       model.classes))
    Path(a.out, "confidence.json").write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
