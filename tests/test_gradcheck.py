"""deepkit.gradcheck: the measure, the finite differences, kinks, reports, and the measured thresholds."""

import numpy as np
import pytest

from bench.gradcheck_thresholds import WRONG, measure
from tests.refs import dk

gc = dk.gradcheck


def test_rel_error_is_a_norm_ratio():
    a = np.array([3.0, 4.0])
    assert gc.rel_error(a, a) == 0.0
    assert gc.rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert gc.rel_error(a, -a) == pytest.approx(1.0)
    assert gc.rel_error(a, np.zeros(2)) == pytest.approx(1.0)
    # scale invariant, symmetric
    b = a + np.array([1e-3, -2e-3])
    assert gc.rel_error(a, b) == pytest.approx(gc.rel_error(1e6 * a, 1e6 * b))
    assert gc.rel_error(a, b) == gc.rel_error(b, a)
    with pytest.raises(ValueError, match="equal shapes"):
        gc.rel_error(np.zeros(2), np.zeros(3))


def test_numerical_gradient_matches_closed_forms():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    num = gc.numerical_gradient(lambda v: np.sum(np.sin(v) * v), x)
    assert gc.rel_error(num, np.cos(x) * x + np.sin(x)) < 1e-9
    x_before = x.copy()
    W = rng.normal(size=(4, 2))
    dout = rng.normal(size=(3, 2))
    num = gc.numerical_gradient_array(lambda v: v @ W, x, dout)
    assert gc.rel_error(num, dout @ W.T) < 1e-9
    np.testing.assert_array_equal(x, x_before)  # perturbations restored exactly


def test_numerical_gradient_rejects_non_float64():
    with pytest.raises(TypeError, match="float64"):
        gc.numerical_gradient_array(lambda v: v, np.arange(3), np.ones(3))


def test_report_names_the_worst_element():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    analytic = 2 * x
    analytic[1, 0] += 0.7
    rep = gc.check_gradient(lambda v: v**2, x, analytic)
    assert not rep.ok and not bool(rep)
    assert rep.worst_index == (1, 0)
    assert rep.worst_analytic == pytest.approx(1.7) and rep.worst_numeric == pytest.approx(1.0)
    text = str(rep)
    assert "FAILED" in text and "(1, 0)" in text and "dx" in text


def test_kinks_are_skipped_not_failed():
    x = np.array([[-1.0, 0.0, 2.0], [0.0, 3.0, -0.5]])
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    analytic = (x > 0).astype(float)  # subgradient 0 at the kink
    rep = gc.check_gradient(relu, x, analytic)
    assert rep.ok and rep.skipped_kinks == 2
    assert not gc.check_gradient(relu, x, analytic, kink_aware=False).ok
    # a wrong gradient away from the kinks is still caught
    wrong = analytic.copy()
    wrong[0, 2] = 0.0
    assert not gc.check_gradient(relu, x, wrong).ok


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"analytic gradient dW has shape \(2, 3\).*\(3, 2\)"):
        gc.check_gradient(lambda v: v, np.zeros((3, 2)), np.zeros((2, 3)), name="W")
    with pytest.raises(ValueError, match="dout has shape"):
        gc.check_gradient(lambda v: v, np.zeros((3, 2)), np.zeros((3, 2)), dout=np.ones(4))


@pytest.mark.slow
def test_threshold_zero_false_failures_and_all_wrong_caught():
    """60 seeds here (1000 in docs/gradcheck.md, `python -m bench.gradcheck_thresholds`): every correct torch
    gradient passes with a margin of 100x, every wrong one fails by 1000x."""
    res = measure(60)
    tol = gc.DEFAULT_TOL
    for name, errs in res["correct"].items():
        assert max(errs) < tol / 100, f"{name}: correct gradient error {max(errs):.1e} too close to {tol}"
    assert set(res["wrong"]) == set(WRONG)
    for name, errs in res["wrong"].items():
        assert len(errs) == 60 and min(errs) > tol * 1000, f"{name}: wrong gradient not caught"
