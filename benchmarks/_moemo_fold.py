"""What the moemo-lite benchmarks share: the generated full set as chapter 05a feeds it to moemo-lite (`layout="lite"`), and its first
leave-actors-out fold. Not a benchmark itself (imported by `moemo_epochs.py` and `moemo_pool.py`)."""
from types import SimpleNamespace

import numpy as np

from emomotion.datasets import load_dataset
from emomotion.evaluate import split_indices
from emomotion.features import feature_table
from emomotion.moemo import activity_codes, moemo_inputs
from emomotion.profiles import profile_settings


def moemo_full_set() -> SimpleNamespace:
    """The full profile's `moemo` settings `P`, window length `T`, activity vocabulary, rows `X`, labels `y`, actors `g`
    and the first leave-actors-out fold `tr`, `te` of the generated full set (1,390 clips)."""
    P = profile_settings("full", "moemo")
    clips = load_dataset("synthetic", profile="full", progress=False)
    Xf, meta = feature_table(clips, progress=False)
    codes, vocab = activity_codes(meta)
    T = int(round(P["max_seconds"] * P["rate"]))
    X = moemo_inputs(clips.all_positions(), meta["fps"].to_numpy(float), codes, Xf.to_numpy(np.float32), P["rate"],
                     P["max_seconds"], names=meta["path"], layout="lite")
    y, g = meta["label"].to_numpy(), meta[clips.group_col].to_numpy()
    tr, te = split_indices("actors", y, g, P.get("n_splits", 5), 0)[0]
    return SimpleNamespace(P=P, T=T, vocab=vocab, X=X, y=y, g=g, tr=tr, te=te)
