"""Tests of emomotion.sequences: the sequence cache, error messages naming the file, invariances, the shared
kinematics (Savitzky–Golay derivatives, heading), augmentation, and packing several inputs into one array."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.signal import resample_poly

from emomotion.skeletons import KEY_JOINTS
from emomotion.kinematics import body_height, centre_positions, derivatives, heading, rotate_y, toy_clip
from emomotion.sequences import (SequenceAugment, TakeBlock, build_sequences, clip_sequence, pad_sequences,
                                 stack_blocks)


def motion(fps=125, seconds=3.0, freq=1.0, heading=0.0, scale=1.0):
    "The stick figure bobbing its arms on the spot, turned by `heading` and scaled, as float32."
    return (rotate_y(toy_clip(fps, seconds, freq=freq, speed=0.0), heading) * scale).astype(np.float32)


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


def test_bad_clip_names_the_file_and_costs_only_itself(tmp_path):
    bad = motion()
    bad[10, 3, 1] = np.nan
    clips = FakeClips([bad, motion(), motion(freq=2.0), bad], [125.0] * 4, ["a", "b", "c", "d"])
    with pytest.warns(UserWarning, match=r"2 of 4 clips could not be encoded.*clip0\.bvh \(clip 0\).*NaN"):
        seqs = build_sequences(clips, cache_dir=tmp_path)
    assert seqs.rows.tolist() == [1, 2] and seqs.y.tolist() == ["B", "A"] and "2 clips left out" in repr(seqs)
    assert np.array_equal(seqs.X, build_sequences(FakeClips(clips._m[1:3], [125.0] * 2, ["b", "c"]), cache=False).X)
    assert seqs.skipped.row.tolist() == [0, 3] and seqs.skipped.error.str.contains(r"clip3\.bvh \(clip 3\).*frame 10").iloc[1]
    assert not (tmp_path / "sequences").exists()                        # not cached: it warns every time
    with pytest.raises(ValueError, match=r"none of the 2 clips.*clip0\.bvh \(clip 0\).*NaN"):
        build_sequences(FakeClips([bad, bad], [125.0] * 2, ["a", "d"]), cache=False)
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


def test_derivatives_are_savitzky_golay_not_finite_differences():
    """Velocities and accelerations of a sequence are kinematics.derivatives of the normalised positions,
    taken at the clip's own rate (np.gradient amplifies the sensor noise of a real recording)."""
    rng = np.random.default_rng(0)
    pos = motion(seconds=4).astype(np.float64) + rng.normal(0, 0.002, (500, 17, 3))
    s = clip_sequence(pos, 125, rate=125).reshape(500, 3, 17, 3)          # no resampling
    z = rotate_y(pos, heading(pos, 125)) / body_height(pos)
    root = z[:, 0].copy()
    z = z - root[:, None]
    z[:, 0] = root - [root[0, 0], 0, root[0, 2]]
    vel, acc = derivatives(z, 125, (1, 2))
    assert np.allclose(s[:, 1], vel, atol=1e-4) and np.allclose(s[:, 2], acc, atol=1e-2 * np.abs(acc).max())
    fd = np.gradient(np.gradient(z, 1 / 125, axis=0), 1 / 125, axis=0)
    rms = lambda a: np.sqrt((a[20:-20] ** 2).mean())
    assert rms(fd) > 5 * rms(s[:, 2])                                      # finite differences: mostly noise


def test_sequences_face_the_way_the_features_do():
    """One facing rule: a clip turned by any angle faces, after canonical turning, the way the features'
    first_com centring puts it (left along +x), from hips and shoulders."""
    clip = toy_clip(125, 2, speed=0.0)
    clip[:, [7, 8, 9, 10], 2] += 0.1                   # shoulders and left arm a little forward: not parallel to hips
    for th in (0.0, 0.8, 2.9):
        turned = rotate_y(clip, th)
        s = clip_sequence(turned, 125, rate=125).reshape(250, 3, 17, 3)[:, 0]
        f = centre_positions(turned)                   # first_com: first frame's mass centre, facing +z
        rel = f - f[:, :1]
        assert np.allclose(s[:, 1:], rel[:, 1:] / body_height(clip), atol=1e-5)
        assert np.isclose(heading(rotate_y(turned, heading(turned, 125)), 125), 0, atol=1e-9)


def test_resampling_is_the_polyphase_filter():
    pos = motion(seconds=3).astype(np.float64)
    a = clip_sequence(pos, 125, rate=10)
    b = clip_sequence(pos, 125, rate=125)
    assert np.allclose(a, resample_poly(b.astype(np.float64), 2, 25, axis=0, padtype="line"), atol=1e-5)


def test_stack_blocks_round_trip_and_errors():
    a, b = np.arange(12.0).reshape(4, 3), np.arange(24, dtype=np.float32).reshape(4, 2, 3)
    X, takes = stack_blocks(a=a, b=b)
    assert np.array_equal(takes["a"].transform(X), a) and np.array_equal(takes["b"].transform(X), b)
    assert takes["b"].transform(X).dtype == np.float32
    tb = takes["b"].transform(torch.from_numpy(X))
    assert isinstance(tb, torch.Tensor) and tb.shape == (4, 2, 3) and torch.equal(tb.float(), torch.from_numpy(b))
    with pytest.raises(ValueError, match="different numbers of rows"):
        stack_blocks(a=a, b=b[:3])
    with pytest.raises(ValueError, match="do not fill"):
        TakeBlock(0, 5, (2, 3)).transform(X)
    with pytest.raises(ValueError, match="not numeric"):
        stack_blocks(a=np.array([["x"]] * 4))
