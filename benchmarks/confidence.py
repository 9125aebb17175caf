"""Does a bundle's confidence mean something, in and out of its domain? The quick-profile `rf` recipe is trained as
`train_bundle` trains it (its harness evaluation's out-of-fold probabilities calibrate it; `bundle_confidence` fits the
temperature, thresholds and OOD reference) on the generated full set minus 7 actors (drawn with seed 0), then scores
the 7 held-out actors and Bandai-Namco's emotion clips (Angry, Happy, Sad, Neutral: 4 of its 7 classes). The clip
features come from the feature cache (`feature_table`), the rows `predict` would compute from the BVH files; the affect
head, which does not touch confidence, is skipped. For each set it prints the accuracy, the AUROC of right-vs-wrong for
the raw top probability, the calibrated `confidence`, `-ood` and `not uncertain`, and the accuracy of the clips not
flagged `uncertain` against all clips, with their share. Nothing here is tuned on the scored clips.

    nice -n 19 python benchmarks/confidence.py --bandai /work/shared/data/bandai-namco-1
"""
import argparse
import tempfile
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from emomotion.bundle import bundle_confidence, evaluate_spec, make_estimator, model_spec
from emomotion.calibrate import apply_temperature, load_ood, ood_score, uncertain_flags, OOD_FILE
from emomotion.datasets import load_dataset
from emomotion.evaluate import limit_threads
from emomotion.features import feature_table


def auroc(hit, score) -> float:
    return float(roc_auc_score(hit, score)) if 0 < hit.mean() < 1 else float("nan")


def report(name, proba, truth, fields, arrays):
    hit = (proba.argmax(1) == truth).astype(int)
    conf = apply_temperature(proba, fields["calibration"]["temperature"]).max(1)
    ood = ood_score(arrays["X"], arrays, fields["ood"]["k"])
    keep = ~uncertain_flags(conf, ood, fields["uncertain_below"], fields["ood"]["threshold"])
    keep_conf = conf >= fields["uncertain_below"]
    row = dict(set=name, n=len(hit), accuracy=hit.mean(), auroc_raw=auroc(hit, proba.max(1)),
               auroc_calibrated=auroc(hit, conf), auroc_neg_ood=auroc(hit, -ood),
               auroc_not_uncertain=auroc(hit, keep.astype(float)), kept=keep.mean(),
               accuracy_kept=hit[keep].mean() if keep.any() else float("nan"),
               kept_by_confidence_alone=keep_conf.mean(),
               accuracy_kept_by_confidence_alone=hit[keep_conf].mean() if keep_conf.any() else float("nan"),
               median_ood=float(np.median(ood)), ood_flagged=float((ood > fields["ood"]["threshold"]).mean()))
    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bandai", default="/work/shared/data/bandai-namco-1")
    a = ap.parse_args()
    t0 = time.process_time()
    clips = load_dataset("synthetic", profile="full", progress=False)
    X, meta = feature_table(clips, progress=False)
    X = X.to_numpy()
    classes, y = np.unique(meta["label"].to_numpy(), return_inverse=True)
    g = meta["actor"].to_numpy()
    held = np.random.default_rng(0).choice(np.array(sorted(set(g))), 7, replace=False)
    te = np.isin(g, held)
    spec = model_spec("rf", "quick", int((~te).sum()))
    ev, res = evaluate_spec(spec, X[~te], y[~te], g[~te], "actor", 0, True)
    with tempfile.TemporaryDirectory() as d:
        fields, _ = bundle_confidence(res, X[~te], g[~te], spec["inputs"], d)
        arrays = dict(load_ood(f"{d}/{OOD_FILE}", fields["ood"]))
    print(f"trained on {(~te).sum()} clips of {len(set(g[~te]))} actors; harness accuracy {ev['accuracy']:.3f}; "
          f"temperature {fields['calibration']['temperature']:.3f}, uncertain_below {fields['uncertain_below']:.3f}, "
          f"ood threshold {fields['ood']['threshold']:.3f}; held-out actors {sorted(held)}", flush=True)
    est = make_estimator(spec, 0)
    with limit_threads(1):
        est.fit(X[~te], y[~te], groups=g[~te])
    report("generated, 7 held-out actors", est.predict_proba(X[te]), y[te], fields, arrays | dict(X=X[te]))
    bandai = load_dataset("bandai", a.bandai, progress=False)
    Xb, mb = feature_table(bandai, progress=False)
    yb = np.searchsorted(classes, mb["label"].to_numpy())
    assert (classes[yb] == mb["label"].to_numpy()).all()
    report("Bandai emotions", est.predict_proba(Xb.to_numpy()), yb, fields, arrays | dict(X=Xb.to_numpy()))
    print(f"CPU {time.process_time() - t0:.0f} s (this process)")


if __name__ == "__main__":
    main()
