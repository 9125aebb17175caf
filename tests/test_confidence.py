"Confidence metrics (`emomotion.confidence`): ECE, risk–coverage and AUROC on cases with known answers."
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from emomotion import confidence as C


def test_ece_known_answers():
    assert C.expected_calibration_error([0.8] * 10, [1] * 8 + [0] * 2) == pytest.approx(0)
    assert C.expected_calibration_error([0.9] * 10, [1, 0] * 5) == pytest.approx(0.4)


def test_risk_coverage_orders_by_confidence_and_averages_ties():
    assert C.aurc([0.9, 0.1], [1, 0]) == pytest.approx(0.25)
    assert C.aurc([0.1, 0.9], [1, 0]) == pytest.approx(0.75)
    np.testing.assert_allclose(C.risk_coverage([0.5] * 4, [1, 0, 0, 0])["accuracy"], 0.25)


def test_auroc_is_sklearns_and_nan_without_both_kinds():
    rng = np.random.default_rng(1)
    c = np.round(rng.uniform(size=200), 1)
    r = rng.uniform(size=200) < c
    assert C.auroc_right_wrong(c, r) == pytest.approx(roc_auc_score(r, c))
    assert np.isnan(C.auroc_right_wrong([0.2, 0.4], [0, 0]))


def test_bad_inputs_are_one_line():
    with pytest.raises(ValueError, match="confidence has 1 values but correct has 2"):
        C.confidence_inputs([0.5], [1, 0])
