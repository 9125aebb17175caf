"""Tests of emomotion.lstm beyond the notebook's: the sequence cache, error messages, determinism."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from emomotion.bvh import KEY_JOINTS
from emomotion.lstm import (MotionLSTM, SequenceAugment, build_sequences, clip_sequence, make_motion_lstm,
                            pad_sequences, rotate_y)

REST = np.array([[0, 1.0, 0], [0, 1.4, 0], [0, 1.62, 0], [-.05, 1.45, 0], [-.18, 1.45, 0], [-.45, 1.45, 0],
                 [-.72, 1.45, 0], [.05, 1.45, 0], [.18, 1.45, 0], [.45, 1.45, 0], [.72, 1.45, 0], [-.1, .95, 0],
                 [-.1, .5, 0], [-.1, .05, 0], [.1, .95, 0], [.1, .5, 0], [.1, .05, 0]])


def motion(fps=125, seconds=3.0, freq=1.0, heading=0.0, scale=1.0):
    t = np.arange(int(seconds * fps)) / fps
    pos = np.repeat(REST[None], len(t), 0)
    pos[:, [5, 6, 9, 10], 1] += 0.2 * np.sin(2 * np.pi * freq * t)[:, None]
    return (rotate_y(pos, heading) * scale).astype(np.float32)


class FakeClips:
    "The part of `datasets.Clips` that `build_sequences` reads (a test double, not a loader)."

    def __init__(self, motions, fps, hashes, name="fake"):
        self.name = name
        self._m = motions
        self.index = pd.DataFrame({"path": [f"/nowhere/clip{i}.bvh" for i in range(len(motions))],
                                   "label": ["A", "B"] * (len(motions) // 2), "n_frames": [len(m) for m in motions],
                                   "fps": fps, "content_hash": hashes})
        self.skeleton = (list(KEY_JOINTS), np.arange(17) - 1)
        self.calls = 0

    def all_positions(self):
        self.calls += 1
        return list(self._m)

    def full_positions(self, i):
        return self._m[i]


def test_build_sequences_cache_is_keyed_by_content(tmp_path):
    ms = [motion(freq=f) for f in (0.5, 1.0, 1.5, 2.0)]
    clips = FakeClips(ms, [125.0] * 4, ["h0", "h1", "h2", "h3"])
    s1 = build_sequences(clips, rate=10, max_seconds=5, cache_dir=tmp_path)
    assert s1.X.shape == (4, 50, 17 * 9 + 1) and clips.calls == 1 and s1.lengths.tolist() == [30] * 4
    s2 = build_sequences(clips, rate=10, max_seconds=5, cache_dir=tmp_path)
    assert clips.calls == 1 and np.array_equal(s1.X, s2.X)              # read from the cache
    changed = FakeClips(ms[::-1], [125.0] * 4, ["h3", "h2", "h1", "h0"])
    s3 = build_sequences(changed, rate=10, max_seconds=5, cache_dir=tmp_path)
    assert changed.calls == 1 and np.array_equal(s3.X, s1.X[::-1])      # new content, new entry
    build_sequences(clips, rate=10, max_seconds=6, cache_dir=tmp_path)  # new parameters, new entry
    assert clips.calls == 2 and len(list((tmp_path / "sequences").glob("*.npy"))) == 3
    all_j = build_sequences(clips, joints="all", rate=10, max_seconds=5, cache_dir=tmp_path)
    assert np.array_equal(all_j.X, s1.X) and all_j.joints == list(KEY_JOINTS)


def test_bad_clip_names_the_file(tmp_path):
    bad = motion()
    bad[10, 3, 1] = np.nan
    clips = FakeClips([motion(), bad], [125.0, 125.0], ["a", "b"])
    with pytest.raises(ValueError, match=r"clip1\.bvh \(clip 1\).*NaN"):
        build_sequences(clips, cache=False)
    with pytest.raises(ValueError, match="joints must be"):
        build_sequences(clips, joints="some")


def test_sequences_are_invariant_to_heading_and_size_and_rate_aware():
    a = clip_sequence(motion(), 125)
    b = clip_sequence(motion(heading=2.5, scale=0.8), 125)
    assert np.abs(a - b).max() < 1e-4 * np.abs(a).max()              # float32 input: rounding only
    c = clip_sequence(motion(fps=60), 60)
    assert c.shape == a.shape and np.abs(c - a)[3:-3].max() < 0.03 * np.abs(a).max()
    assert clip_sequence(motion(), 125, rate=20).shape == (60, 153)


def test_augment_is_seeded_and_keeps_padding():
    X = torch.from_numpy(pad_sequences([clip_sequence(motion(seconds=s), 125) for s in (2, 3)], 40))
    aug = SequenceAugment(noise_std=0.05, max_angle=math.pi)
    a1 = aug(X, torch.Generator().manual_seed(1))
    a2 = aug(X, torch.Generator().manual_seed(1))
    a3 = aug(X, torch.Generator().manual_seed(2))
    assert torch.equal(a1, a2) and not torch.equal(a1, a3)
    assert (a1[0, 20:] == 0).all() and torch.equal(a1[..., -1], X[..., -1])


def test_model_rejects_inputs_without_features():
    with pytest.raises(ValueError, match="at least one feature"):
        MotionLSTM((10, 1), 3)


def test_fit_is_deterministic_and_does_not_touch_global_rng():
    rng = np.random.default_rng(0)
    seqs = [clip_sequence(motion(seconds=rng.uniform(2, 4), freq=f), 125) for f in [0.5, 1.5] * 12]
    X, y = pad_sequences(seqs, 40), np.array(["slow", "fast"] * 12)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    p1 = make_motion_lstm(hidden=8, proj=8, max_epochs=3, patience=None, seed=3).fit(X, y).predict_proba(X)
    assert torch.equal(state, torch.get_rng_state())
    p2 = make_motion_lstm(hidden=8, proj=8, max_epochs=3, patience=None, seed=3).fit(X, y).predict_proba(X)
    p3 = make_motion_lstm(hidden=8, proj=8, max_epochs=3, patience=None, seed=4).fit(X, y).predict_proba(X)
    assert np.array_equal(p1, p2) and not np.allclose(p1, p3)
