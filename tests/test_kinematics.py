"""Tests of emomotion.kinematics, the one layer of body kinematics under features, sequences and graph tensors:
facing, body size, Savitzky–Golay derivatives, resampling, and the shared clip normalisation."""
import numpy as np
import pytest
from scipy.signal import savgol_filter

from emomotion import features, sequences, stgcn
from emomotion.skeletons import KEY_PARENT_IDX
from emomotion.kinematics import (MIN_FRAMES, STICK_FIGURE, body_axes, body_height, centre_positions, derivatives,
                                  heading, normalise_clip, resample, resample_frames, rotate_y, sg_window, toy_clip)


def test_one_implementation_per_job():
    """Features, sequences and graph tensors use these functions, not copies of their own."""
    assert features.derivatives is derivatives and features.body_axes is body_axes
    assert features.centre_positions is centre_positions
    assert sequences.derivatives is derivatives and sequences.normalise_clip is normalise_clip
    assert stgcn.derivatives is derivatives and stgcn.normalise_clip is normalise_clip
    assert stgcn.resample_frames is resample_frames and sequences.resample is resample
    for module, gone in [(features, "_make_sg_operators"), (stgcn, "lateral_pair"), (stgcn, "pack")]:
        assert not hasattr(module, gone), (module.__name__, gone)


@pytest.mark.parametrize("deg", [0, 35, 130, -100])
def test_heading_and_rotate_y_undo_a_turn(deg):
    clip = rotate_y(toy_clip(60, 2), np.radians(deg))
    assert np.isclose(heading(clip, 60), -np.radians(deg)) or np.isclose(abs(heading(clip, 60)), np.pi)
    lat, fwd = body_axes(rotate_y(clip, heading(clip, 60))[:1])
    assert np.allclose(lat, [[1, 0, 0]]) and np.allclose(fwd, [[0, 0, 1]])


def test_heading_uses_hips_and_shoulders_over_the_first_second():
    clip = toy_clip(100, 3, speed=0.0)
    clip[:, [7, 8, 9, 10], 2] += 0.2             # left shoulder and arm forward: the upper body turns
    assert heading(clip, 100) > 0.1              # hips alone would say 0: the shoulders count, as in features.body_axes
    late = clip.copy()
    late[100:] = rotate_y(late[100:], 1.0)       # a turn after the first second does not change the heading
    assert np.isclose(heading(late, 100), heading(clip, 100))
    assert not np.isclose(heading(late, 100, seconds=3.0), heading(clip, 100))


def test_body_height_is_posture_free_and_scales():
    clip = toy_clip(50, 2)
    assert np.isclose(body_height(clip), 1.52)
    assert np.isclose(body_height(2.5 * rotate_y(clip, 0.4) + 7), 2.5 * 1.52)
    bow = clip.copy()                            # the upper body bows forward by 40° about the hips
    a = np.radians(40)
    rel = bow[:, 1:11] - bow[:, :1]
    Rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    bow[:, 1:11] = bow[:, :1] + rel @ Rx.T
    assert bow[:, 2, 1].max() < clip[:, 2, 1].min() - 0.05          # the head is lower ...
    assert np.isclose(body_height(bow), body_height(clip))           # ... the body is not smaller


def test_derivatives_match_savgol_filter_and_are_rate_aware():
    x = np.cumsum(np.random.default_rng(1).normal(size=(200, 3, 3)), 0)
    for fps in (30, 125):
        w = sg_window(fps, 0.2, 5, len(x))
        v, a = derivatives(x, fps, (1, 2))
        assert np.allclose(v, savgol_filter(x, w, 5, deriv=1, delta=1 / fps, axis=0, mode="interp"))
        assert np.allclose(a, savgol_filter(x, w, 5, deriv=2, delta=1 / fps, axis=0, mode="interp"))
    with pytest.raises(ValueError, match="too few"):
        derivatives(x[:6], 125)


def test_resample_rate_and_length():
    t = np.arange(0, 5, 1 / 120)
    x = np.sin(2 * np.pi * 0.7 * t)
    r = resample(x, 120, 10)
    assert r.shape == (50,) and np.allclose(r[3:-3], np.sin(2 * np.pi * 0.7 * np.arange(0, 5, 0.1))[3:-3], atol=5e-3)
    assert np.allclose(resample(x, 120, 60, antialias=False), x[::2])
    assert np.allclose(resample_frames(np.full((999, 4, 3), 2.5), 16), 2.5)
    assert np.allclose(resample_frames(np.arange(6.0), 3), [0.5, 2.5, 4.5])
    y = np.random.default_rng(0).normal(size=(1000, 5))
    assert np.allclose(resample_frames(y, 10).mean(0), y.mean(0))     # bins tile the clip: means kept
    assert resample_frames(np.arange(5.0), 20).shape == (20,)


def test_normalise_clip_names_the_clip_and_accepts_other_skeletons():
    clip = toy_clip(125, 2)
    full = np.concatenate([clip, clip[:, :5] + 0.01], axis=1)         # 22 joints, key joints given separately
    z = normalise_clip(full, 125, key=clip)
    assert z.shape == (250, 22, 3) and np.allclose(z[:, :17], normalise_clip(clip, 125))
    with pytest.raises(ValueError, match=f"walk.bvh: {MIN_FRAMES - 1} frames"):
        normalise_clip(clip[:MIN_FRAMES - 1], 125, name="walk.bvh")
    with pytest.raises(ValueError, match="walk.bvh: fps"):
        normalise_clip(clip, 0.0, name="walk.bvh")
    bad = full.copy(); bad[3, 20, 0] = np.inf
    with pytest.raises(ValueError, match=r"walk.bvh: non-finite .* frame 3 .* joint 20"):
        normalise_clip(bad, 125, key=clip, name="walk.bvh")
    with pytest.raises(ValueError, match="key joints must be"):
        normalise_clip(full, 125)


def test_sequences_and_graph_tensors_share_the_frame_of_reference():
    """The LSTM's sequences and ST-GCN's graph tensors see a clip turned and scaled the same way."""
    clip = rotate_y(toy_clip(125, 2, speed=0.3), 2.0) * 1.2 + [1.0, 0.0, -4.0]
    clip[:, [7, 8, 9, 10], 2] += 0.05
    s = sequences.clip_sequence(clip, 125, rate=125).reshape(250, 3, 17, 3)[:, 0]     # positions, root-relative
    g = stgcn.clip_tensor(clip, 125, KEY_PARENT_IDX, 250, ("pos",), 0)[:3].transpose(1, 2, 0)
    assert np.allclose(s[:, 1:], g[:, 1:], atol=1e-5)


def test_stick_figure_faces_plus_z():
    lat, fwd = body_axes(STICK_FIGURE[None])
    assert np.allclose(lat, [[1, 0, 0]]) and np.allclose(fwd, [[0, 0, 1]])
