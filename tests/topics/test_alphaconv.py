"""Topic 06, the softmax-weighted (alpha) convolution: reference vs torch autograd and finite differences,
the zero gradient of the L1 penalty on the simplex, penalties that do sparsify, and the hidden checks."""

import types

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.local import grade_module, load_topic
from tests.refs import dk

ac = dk.alphaconv
gc = dk.gradcheck
F = torch.nn.functional


def _problem(seed, N=2, C_in=3, C_out=2, H=6, W=5, kh=3, kw=2):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(N, C_in, H, W)),
        rng.normal(size=(C_out, C_in, kh, kw)),
        rng.normal(size=(C_in, C_out)),
        rng.normal(size=C_out),
        rng.normal(size=(N, C_out, H - kh + 1, W - kw + 1)),
    )


def _torch_layer(x, k, c, b, T):
    alpha = torch.softmax(c / T, dim=0)  # (C_in, C_out)
    return F.conv2d(x, k * alpha.T[:, :, None, None], b)  # the mixed kernel


@pytest.mark.parametrize("seed,T", [(0, 1.0), (1, 0.5), (2, 3.0)])
def test_forward_backward_match_torch_autograd(seed, T):
    x, k, c, b, dz = _problem(seed)
    z, cache = ac.alphaconv_forward(x, k, c, b, temperature=T)
    tx, tk, tc, tb = (torch.tensor(a, requires_grad=True) for a in (x, k, c, b))
    tz = _torch_layer(tx, tk, tc, tb, T)
    np.testing.assert_allclose(z, tz.detach().numpy(), rtol=1e-12, atol=1e-12)
    tz.backward(torch.tensor(dz))
    for got, want in zip(ac.alphaconv_backward(dz, cache), (tx, tk, tc, tb)):
        assert gc.rel_error(got, want.grad.numpy()) < 1e-12


def test_backward_matches_finite_differences():
    x, k, c, b, dz = _problem(5)
    dx, dk_, dc, db = ac.alphaconv_backward(dz, ac.alphaconv_forward(x, k, c, b)[1])
    for name, arr, g in (("x", x, dx), ("k", k, dk_), ("c", c, dc), ("b", b, db)):
        args = dict(x=x, k=k, c=c, b=b)

        def f(v, name=name, args=args):
            return ac.alphaconv_forward(**{**args, name: v})[0]

        assert gc.check_gradient(f, arr, g, dz, name=name).ok


def test_slide_formula_for_dalpha():
    """dJ/dalpha_i = sum_uv (delta o (x_i * k_i))_uv, for one output map, summed over the batch."""
    x, k, c, b, dz = _problem(7, C_out=1)
    y = ac.pair_correlations(x, k)
    dalpha = np.array([np.sum(dz[:, 0] * y[:, i, 0]) for i in range(x.shape[1])])
    tc = torch.tensor(c, requires_grad=True)
    alpha = torch.softmax(tc, dim=0)
    (_torch_layer(torch.tensor(x), torch.tensor(k), tc, torch.tensor(b), 1.0) * torch.tensor(dz)).sum().backward()
    a = alpha.detach().numpy()[:, 0]
    dc_slide = a * (dalpha - np.sum(dalpha * a))
    assert gc.rel_error(dc_slide, tc.grad.numpy()[:, 0]) < 1e-12


def test_softmax_jvp_is_the_jacobian_transpose_product():
    rng = np.random.default_rng(3)
    c, dalpha = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    alpha = ac.mixing_weights(c)
    for j in range(3):
        a = alpha[:, j]
        J = np.diag(a) - np.outer(a, a)  # d alpha_m / d c_i, symmetric
        np.testing.assert_allclose(ac.softmax_jvp(alpha, dalpha)[:, j], J.T @ dalpha[:, j], atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(cin=st.integers(1, 4), cout=st.integers(1, 3), T=st.floats(0.1, 10), scale=st.floats(0.0, 50.0))
def test_mixing_weights_lie_on_the_simplex(cin, cout, T, scale):
    c = scale * np.random.default_rng(cin * 7 + cout).normal(size=(cin, cout))
    alpha = ac.mixing_weights(c, T)
    assert alpha.shape == (cin, cout) and np.all(alpha >= 0)
    np.testing.assert_allclose(alpha.sum(axis=0), 1.0, rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), lam=st.floats(0.0, 10.0), T=st.floats(0.2, 5.0))
def test_l1_penalty_is_constant_with_exactly_zero_gradient(seed, lam, T):
    c = 5 * np.random.default_rng(seed).normal(size=(4, 3))
    value, dc = ac.l1_alpha_penalty(c, lam, T)
    assert value == pytest.approx(lam * 3)
    assert np.max(np.abs(dc)) <= 1e-14 * max(lam, 1.0)  # zero up to rounding
    # the same by torch autograd: the gradient of lam * sum|softmax(c)| vanishes
    tc = torch.tensor(c, requires_grad=True)
    (lam * torch.softmax(tc / T, dim=0).abs().sum()).backward()
    assert np.max(np.abs(tc.grad.numpy())) < 1e-14 * max(lam, 1.0)


@pytest.mark.parametrize(
    "penalty,torch_fn",
    [
        (lambda c: ac.entropy_penalty(c, 0.7, 1.5), lambda a: -0.7 * (a * torch.log(a)).sum()),
        (lambda c: ac.lp_penalty(c, 0.7, 0.5, 1.5), lambda a: 0.7 * (a**0.5).sum()),
    ],
)
def test_sparsifying_penalties_match_torch(penalty, torch_fn):
    c = np.random.default_rng(11).normal(size=(4, 3))
    value, dc = penalty(c)
    tc = torch.tensor(c, requires_grad=True)
    tv = torch_fn(torch.softmax(tc / 1.5, dim=0))
    tv.backward()
    assert value == pytest.approx(tv.item(), rel=1e-12)
    assert gc.rel_error(dc, tc.grad.numpy()) < 1e-12


def test_entropy_penalty_drives_alpha_to_one_hot_and_l1_does_nothing():
    c0 = np.random.default_rng(2).normal(scale=0.1, size=(4, 2))
    finals = {}
    for name, pen in (("l1", ac.l1_alpha_penalty), ("entropy", ac.entropy_penalty)):
        c = c0.copy()
        for _ in range(300):
            c -= 1.0 * pen(c, 1.0)[1]
        finals[name] = ac.mixing_weights(c)
    np.testing.assert_allclose(finals["l1"], ac.mixing_weights(c0), rtol=0, atol=1e-14)  # nothing moved
    assert finals["entropy"].max(axis=0).min() > 0.95


def test_bad_inputs_name_the_argument():
    x, k, c, b, _ = _problem(0)
    with pytest.raises(ValueError, match=r"c must have shape \(C_in, C_out\) = \(3, 2\)"):
        ac.alphaconv_forward(x, k, c.T, b)
    with pytest.raises(ValueError, match="k must have shape"):
        ac.alphaconv_forward(x, k[:, :2], c, b)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        ac.mixing_weights(c, 0.0)
    with pytest.raises(ValueError, match=r"x must be a 4-D array of shape \(N, C_in, H, W\)"):
        ac.alphaconv_forward(x[0], k, c, b)


def test_reference_scores_full_marks():
    points = {p.name: p.points for p in load_topic("06").parts}
    assert grade_module("06", dk) == {name: (pts, "all checks passed") for name, pts in points.items()}


def _broken(**overrides):
    """A deepkit whose alphaconv wraps the reference but replaces some functions."""
    mod = types.SimpleNamespace(**{n: getattr(ac, n) for n in dir(ac) if not n.startswith("_")})
    for name, fn in overrides.items():
        setattr(mod, name, fn)
    return types.SimpleNamespace(alphaconv=mod, losses=dk.losses)


def _bwd_no_temperature(dz, cache):
    dx, dk_, dc, db = ac.alphaconv_backward(dz, cache)
    return dx, dk_, dc * cache[4], db


def _softmax_over_outputs(c, temperature=1.0):
    return dk.losses.softmax(c / temperature)


@pytest.mark.parametrize(
    "overrides,lost",
    [
        (dict(softmax_jvp=lambda a, d: a * d), {"softmax_jvp"}),
        (dict(alphaconv_backward=_bwd_no_temperature), {"alphaconv_backward"}),
        (dict(mixing_weights=_softmax_over_outputs), {"mixing_weights"}),
        (
            dict(alphaconv_forward=lambda x, k, c, b, temperature=1.0: ac.alphaconv_forward(x, k, c, b)),
            {"alphaconv_forward", "alphaconv_backward"},
        ),
        (
            dict(entropy_penalty=lambda c, lam, temperature=1.0: ac.l1_alpha_penalty(c, lam, temperature)),
            {"sparsity_penalty"},
        ),
    ],
)
def test_known_wrong_implementations_lose_their_parts(overrides, lost):
    res = grade_module("06", _broken(**overrides))
    points = {p.name: p.points for p in load_topic("06").parts}
    for name, (score, reason) in res.items():
        if name in lost:
            assert score < points[name], f"{name} should fail: {reason}"
        else:
            assert score == points[name], f"{name} should pass: {reason}"
