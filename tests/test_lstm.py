"""Tests of emomotion.lstm beyond the notebook's: the models reject bad input, ignore padding, and train
deterministically."""
import numpy as np
import pytest
import torch

from emomotion.kinematics import toy_clip
from emomotion.lstm import MotionLSTM, MotionTransformer, make_motion_lstm
from emomotion.sequences import clip_sequence, pad_sequences


def motion(fps=125, seconds=3.0, freq=1.0):
    return toy_clip(fps, seconds, freq=freq, speed=0.0).astype(np.float32)


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


def test_transformer_ignores_padding_and_trains():
    torch.manual_seed(0)
    net = MotionTransformer((10, 7), 4, d_model=8, n_heads=2).eval()
    x = torch.randn(3, 10, 7)
    x[..., -1] = 0
    x[0, :4, -1], x[1, :10, -1], x[2, :1, -1] = 1, 1, 1
    with torch.no_grad():
        a = net(x)
        x2 = x.clone()
        x2[0, 4:, :-1] = 100.0                   # garbage in padding
        x2[2, 1:, :-1] = -3.0
        b = net(x2)
    assert torch.allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError):
        MotionTransformer((10, 7), 4, d_model=10, n_heads=4)
    net.train()
    loss = torch.nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 2]))
    loss.backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)
