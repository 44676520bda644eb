"""Topic 02 (activations): the reference vs torch autograd (float64) and finite differences, properties,
bad input, SELU's fixed point, and the hidden checks (full marks for the reference, known bugs caught)."""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.local import grade_module, load_topic
from tests.refs import dk

A = dk.activations
from deepkit.gradcheck import check_gradient, rel_error  # noqa: E402  (reference is on the path now)

RNG = np.random.default_rng(2)


def _x(shape, scale=2.0, seed=0):
    x = np.random.default_rng(seed).normal(0, scale, size=shape)
    return np.where(np.abs(x) < 1e-3, 0.5, x)


def _torch_pair(fn, x, dout, *params):
    """torch forward value and gradients (x first, then each param) of sum(fn(x, *params) * dout)."""
    xt = torch.tensor(x, requires_grad=True)
    pt = [torch.tensor(p, requires_grad=True) for p in params]
    out = fn(xt, *pt)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), [p.grad.numpy() for p in pt]


ELEMENTWISE = [
    ("sigmoid", A.sigmoid_forward, A.sigmoid_backward, (), torch.sigmoid),
    ("tanh", A.tanh_forward, A.tanh_backward, (), torch.tanh),
    ("relu", A.relu_forward, A.relu_backward, (), torch.relu),
    ("leaky_default", A.leaky_relu_forward, A.leaky_relu_backward, (), F.leaky_relu),
    ("leaky_0.2", A.leaky_relu_forward, A.leaky_relu_backward, (0.2,), lambda t: F.leaky_relu(t, 0.2)),
    ("elu_default", A.elu_forward, A.elu_backward, (), F.elu),
    ("elu_0.5", A.elu_forward, A.elu_backward, (0.5,), lambda t: F.elu(t, 0.5)),
    ("elu_2", A.elu_forward, A.elu_backward, (2.0,), lambda t: F.elu(t, 2.0)),
    ("selu", A.selu_forward, A.selu_backward, (), F.selu),
]


@pytest.mark.parametrize("name,fwd,bwd,params,tfn", ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
@pytest.mark.parametrize("shape", [(7,), (4, 5), (2, 3, 4)])
def test_elementwise_vs_torch(name, fwd, bwd, params, tfn, shape):
    x, dout = _x(shape, 3.0), RNG.normal(size=shape)
    out, cache = fwd(x, *params)
    dx = bwd(dout, cache)
    t_out, t_dx, _ = _torch_pair(tfn, x, dout)
    assert out.shape == dx.shape == shape
    assert np.allclose(out, t_out, rtol=1e-12, atol=1e-14)
    assert rel_error(dx, t_dx) < 1e-12


@pytest.mark.parametrize("name,fwd,bwd,params,tfn", ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
def test_elementwise_gradcheck(name, fwd, bwd, params, tfn):
    x = _x((4, 6), 2.0, seed=3)
    x[0, :3] = 0.0  # ReLU-like kinks: skipped by the kink-aware check
    dout = RNG.normal(size=x.shape)
    dx = bwd(dout, fwd(x, *params)[1])
    rep = check_gradient(lambda v: fwd(v, *params)[0], x, dx, dout)
    assert rep.ok, str(rep)


def test_relu_is_reexported_from_layers():
    assert A.relu_forward is dk.layers.relu_forward and A.relu_backward is dk.layers.relu_backward
    assert set(A.ACTIVATIONS) == {"sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu"}
    for fwd, bwd in A.ACTIVATIONS.values():
        out, cache = fwd(np.array([-1.0, 2.0]))
        assert bwd(np.ones(2), cache).shape == (2,)


def test_sigmoid_is_stable_for_huge_inputs():
    x = np.array([-1000.0, -745.5, -40.0, 0.0, 40.0, 745.5, 1000.0])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out, cache = A.sigmoid_forward(x)
        dx = A.sigmoid_backward(np.ones_like(x), cache)
    expected = torch.sigmoid(torch.tensor(x)).numpy()
    assert np.all(np.isfinite(out)) and np.allclose(out, expected, rtol=1e-12, atol=0)
    assert out[0] == 0.0 and out[-1] == 1.0 and out[3] == 0.5
    assert np.all(dx >= 0) and dx[3] == 0.25


def test_elu_selu_no_overflow_for_large_positive_inputs():
    x = np.array([1000.0, 800.0, -1000.0])
    with np.errstate(over="raise", invalid="raise"):
        assert np.allclose(A.elu_forward(x)[0], [1000.0, 800.0, -1.0])
        assert np.allclose(A.selu_forward(x)[0], A.SELU_LAMBDA * np.array([1000.0, 800.0, -A.SELU_ALPHA]))


# ---------------------------------------------------------------------------------------------- PReLU
@pytest.mark.parametrize(
    "shape,per_channel", [((5, 3), False), ((5, 3), True), ((4, 3, 2, 2), False), ((4, 3, 2, 2), True), ((6,), False)]
)
def test_prelu_vs_torch(shape, per_channel):
    x, dout = _x(shape, seed=5), RNG.normal(size=shape)
    alpha = RNG.uniform(-0.3, 0.7, size=shape[1]) if per_channel else np.array(0.25)
    out, cache = A.prelu_forward(x, alpha)
    dx, dalpha = A.prelu_backward(dout, cache)
    t_alpha = alpha if per_channel else alpha.reshape(1)
    t_out, t_dx, (t_da,) = _torch_pair(F.prelu, x, dout, t_alpha)
    assert np.allclose(out, t_out, rtol=1e-12, atol=1e-14)
    assert rel_error(dx, t_dx) < 1e-12
    assert np.shape(dalpha) == np.shape(alpha)
    assert rel_error(np.reshape(dalpha, -1), t_da.reshape(-1)) < 1e-12


@pytest.mark.parametrize("per_channel", [False, True])
def test_prelu_gradcheck_x_and_alpha(per_channel):
    x, dout = _x((3, 4, 2), seed=6), RNG.normal(size=(3, 4, 2))
    alpha = RNG.uniform(0.0, 0.5, size=4) if per_channel else np.array(0.1)
    dx, dalpha = A.prelu_backward(dout, A.prelu_forward(x, alpha)[1])
    assert check_gradient(lambda v: A.prelu_forward(v, alpha)[0], x, dx, dout).ok
    rep = check_gradient(lambda a: A.prelu_forward(x, a)[0], alpha, dalpha, dout, name="alpha")
    assert rep.ok, str(rep)


def test_prelu_python_float_alpha_and_leaky_equivalence():
    x = _x((4, 3), seed=7)
    out, cache = A.prelu_forward(x, 0.01)
    assert np.array_equal(out, A.leaky_relu_forward(x)[0])
    assert np.shape(A.prelu_backward(np.ones_like(x), cache)[1]) == ()


# --------------------------------------------------------------------------------------------- Maxout
def _torch_maxout(x, W, b):
    return (torch.einsum("nd,dmk->nmk", x, W) + b).max(dim=2).values


@pytest.mark.parametrize("n,d,m,k", [(5, 4, 3, 2), (2, 6, 1, 4), (3, 2, 5, 1)])
def test_maxout_vs_torch(n, d, m, k):
    x, W, b = RNG.normal(size=(n, d)), RNG.normal(size=(d, m, k)), RNG.normal(size=(m, k))
    dout = RNG.normal(size=(n, m))
    out, cache = A.maxout_forward(x, W, b)
    dx, dW, db = A.maxout_backward(dout, cache)
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    ot = _torch_maxout(xt, Wt, bt)
    ot.backward(torch.tensor(dout))
    assert np.allclose(out, ot.detach().numpy(), rtol=1e-12, atol=1e-13)
    for mine, theirs in ((dx, xt), (dW, Wt), (db, bt)):
        assert rel_error(mine, theirs.grad.numpy()) < 1e-12


def test_maxout_gradcheck():
    x, W, b = RNG.normal(size=(4, 3)), RNG.normal(size=(3, 2, 3)), RNG.normal(size=(2, 3))
    dout = RNG.normal(size=(4, 2))
    dx, dW, db = A.maxout_backward(dout, A.maxout_forward(x, W, b)[1])
    assert check_gradient(lambda v: A.maxout_forward(v, W, b)[0], x, dx, dout).ok
    assert check_gradient(lambda v: A.maxout_forward(x, v, b)[0], W, dW, dout, name="W").ok
    assert check_gradient(lambda v: A.maxout_forward(x, W, v)[0], b, db, dout, name="b").ok


def test_maxout_generalises_relu_and_leaky_relu():
    x, w, c = RNG.normal(size=(8, 5)), RNG.normal(size=(5, 3)), RNG.normal(size=3)
    affine = x @ w + c
    relu_W, relu_b = np.stack([w, np.zeros_like(w)], axis=2), np.stack([c, np.zeros_like(c)], axis=1)
    assert np.allclose(A.maxout_forward(x, relu_W, relu_b)[0], A.relu_forward(affine)[0])
    leaky_W, leaky_b = np.stack([w, 0.01 * w], axis=2), np.stack([c, 0.01 * c], axis=1)
    assert np.allclose(A.maxout_forward(x, leaky_W, leaky_b)[0], A.leaky_relu_forward(affine)[0])


# ------------------------------------------------------------------------------------------- properties
_arrays = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=st.floats(-50, 50, allow_nan=False)
)


@settings(max_examples=40, deadline=None)
@given(x=_arrays)
def test_properties(x):
    s = A.sigmoid_forward(x)[0]
    assert s.shape == x.shape and np.all((s >= 0) & (s <= 1))
    assert np.allclose(A.sigmoid_forward(-x)[0], 1 - s, atol=1e-15)
    assert np.allclose(2 * A.sigmoid_forward(2 * x)[0] - 1, A.tanh_forward(x)[0], atol=1e-12)
    assert np.all(A.elu_forward(x, 1.5)[0] >= -1.5)
    assert np.all(A.selu_forward(x)[0] >= -A.SELU_LAMBDA * A.SELU_ALPHA - 1e-12)
    for fwd, bwd in A.ACTIVATIONS.values():
        out, cache = fwd(x)
        dx = bwd(np.ones_like(x), cache)
        assert out.shape == dx.shape == x.shape and np.all(dx >= 0)  # all are non-decreasing


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 5), d=st.integers(1, 4), m=st.integers(1, 4), k=st.integers(1, 4), seed=st.integers(0, 99))
def test_maxout_shapes_and_routing(n, d, m, k, seed):
    r = np.random.default_rng(seed)
    x, W, b = r.normal(size=(n, d)), r.normal(size=(d, m, k)), r.normal(size=(m, k))
    out, cache = A.maxout_forward(x, W, b)
    dx, dW, db = A.maxout_backward(np.ones((n, m)), cache)
    assert out.shape == (n, m) and dx.shape == (n, d) and dW.shape == (d, m, k) and db.shape == (m, k)
    assert np.isclose(db.sum(), n * m)  # every output's unit gradient lands on exactly one piece


# ------------------------------------------------------------------------------------------------ SELU
def test_selu_constants_are_the_fixed_point():
    from scipy.integrate import quad

    phi = lambda z: np.exp(-z * z / 2) / np.sqrt(2 * np.pi)  # noqa: E731  N(0, 1) density
    selu = lambda z: float(A.selu_forward(np.array(z))[0])  # noqa: E731
    moment = lambda p: sum(
        quad(lambda z: selu(z) ** p * phi(z), lo, hi, epsabs=1e-13)[0]  # noqa: E731
        for lo, hi in ((-np.inf, 0.0), (0.0, np.inf))
    )  # kink at 0
    assert abs(moment(1)) < 1e-9 and abs(moment(2) - 1) < 1e-9


def test_selu_self_normalises_through_many_layers():
    r = np.random.default_rng(0)
    h = r.normal(size=(1000, 128))
    for _ in range(30):
        h = A.selu_forward(h @ r.normal(0, 1 / np.sqrt(128), size=(128, 128)))[0]  # LeCun normal
        assert abs(h.mean()) < 0.1 and abs(h.var() - 1) < 0.2
    g = r.normal(size=(1000, 128))
    for _ in range(30):  # ReLU: halves the 2nd moment
        g = A.relu_forward(g @ r.normal(0, 1 / np.sqrt(128), size=(128, 128)))[0]
    assert g.var() < 1e-6


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "call,exc,words",
    [
        (lambda: A.sigmoid_forward("abc"), TypeError, "x"),
        (lambda: A.tanh_forward(np.array([1.0, np.nan])), ValueError, "x"),
        (lambda: A.leaky_relu_forward(np.ones(3), slope=-0.1), ValueError, "slope"),
        (lambda: A.elu_forward(np.ones(3), alpha="1"), TypeError, "alpha"),
        (lambda: A.prelu_forward(np.ones((2, 3)), np.ones(4)), ValueError, "(N, 4, ...)"),
        (lambda: A.prelu_forward(np.ones(3), np.ones(3)), ValueError, "alpha"),
        (lambda: A.prelu_forward(np.ones((2, 3)), np.ones((3, 1))), ValueError, "alpha"),
        (lambda: A.maxout_forward(np.ones((2, 3)), np.ones((4, 2, 2)), np.ones((2, 2))), ValueError, "(N, 4)"),
        (lambda: A.maxout_forward(np.ones((2, 3)), np.ones((3, 2, 2)), np.ones((2, 3))), ValueError, "b"),
        (lambda: A.maxout_forward(np.ones((2, 3)), np.ones((3, 2)), np.ones((2, 2))), ValueError, "(D, M, k)"),
        (lambda: A.sigmoid_backward(np.ones(4), A.sigmoid_forward(np.ones(3))[1]), ValueError, "dout"),
        (
            lambda: A.maxout_backward(
                np.ones((2, 3)), A.maxout_forward(np.ones((2, 3)), np.ones((3, 2, 2)), np.ones((2, 2)))[1]
            ),
            ValueError,
            "dout",
        ),
    ],
)
def test_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)


# ---------------------------------------------------------------------------------------------- grading
def test_reference_scores_full_marks():
    topic = load_topic("02")
    res = grade_module("02", dk)
    assert {p.name for p in topic.parts} == set(res)
    assert sum(s for s, _ in res.values()) == topic.total_points == 17


def _fake(**overrides):
    mod = types.SimpleNamespace(**{k: getattr(A, k) for k in dir(A) if not k.startswith("__")})
    for k, v in overrides.items():
        setattr(mod, k, v)
    return types.SimpleNamespace(activations=mod)


def _grade(**overrides):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fakes must not leak warnings (stderr costs a notebook its points)
        return grade_module("02", _fake(**overrides))


def _sigmoid_fwd_caching_x(x):
    return A.sigmoid_forward(x)[0], np.asarray(x, dtype=float)


def _tanh_fwd_caching_x(x):
    return A.tanh_forward(x)[0], np.asarray(x, dtype=float)


def _prelu_bwd_per_sample(dout, cache):
    x, alpha = cache
    dx, _ = A.prelu_backward(dout, cache)
    contrib = np.where(x <= 0, dout * x, 0.0)
    return dx, contrib.reshape(x.shape[0], -1).sum(1) if alpha.ndim == 0 else contrib.reshape(
        x.shape[0], x.shape[1], -1
    ).sum(2)


def _prelu_bwd_batch_mean(dout, cache):
    dx, dalpha = A.prelu_backward(dout, cache)
    return dx, dalpha / cache[0].shape[0]


def _prelu_bwd_one_at_zero(dout, cache):
    x, alpha = cache
    dx, dalpha = A.prelu_backward(dout, cache)
    return np.where(x == 0, dout, dx), dalpha


def _selu_rounded_fwd(x):
    out, cache = A.elu_forward(x, 1.6733)
    return 1.0507 * out, cache


def _selu_rounded_bwd(dout, cache):
    return A.elu_backward(1.0507 * dout, cache)


def _selu_bwd_lambda_at_zero(dout, cache):
    x, _ = cache
    return np.where(x == 0, A.SELU_LAMBDA * dout, A.selu_backward(dout, cache))


def _maxout_bwd_all_pieces(dout, cache):
    x, W, idx = cache
    D, M, k = W.shape
    dz = np.broadcast_to(dout[..., None], dout.shape + (k,)).reshape(-1, M * k)
    return dz @ W.reshape(D, M * k).T, (x.T @ dz).reshape(D, M, k), dz.reshape(-1, M, k).sum(0)


def _maxout_fwd_last_tie(x, W, b):
    """The LAST of the tied pieces wins (argmax of the reversed pieces)."""
    D, M, k = W.shape
    z = (x @ W.reshape(D, M * k)).reshape(-1, M, k) + b
    idx = k - 1 - z[..., ::-1].argmax(axis=2)
    return np.take_along_axis(z, idx[..., None], axis=2)[..., 0], (x, W, idx)


def _maxout_fwd_split_ties(x, W, b):
    D, M, k = W.shape
    z = (x @ W.reshape(D, M * k)).reshape(-1, M, k) + b
    return z.max(axis=2), (x, W, z)


def _maxout_bwd_split_ties(dout, cache):
    """The gradient shared equally among tied pieces (a valid subgradient, but not the documented rule)."""
    x, W, z = cache
    D, M, k = W.shape
    mask = (z == z.max(axis=2, keepdims=True)).astype(float)
    dz = (dout[..., None] * mask / mask.sum(axis=2, keepdims=True)).reshape(-1, M * k)
    return dz @ W.reshape(D, M * k).T, (x.T @ dz).reshape(D, M, k), dz.reshape(-1, M, k).sum(0)


def _naive_sigmoid(x):
    with np.errstate(all="ignore"):
        out = np.exp(x) / (1 + np.exp(x))
    return out, out


def _tanh_from_exponentials(x):
    """tanh written from its definition: inf / inf = NaN for |x| > 710."""
    with np.errstate(all="ignore"):
        out = (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
    return out, out


def _prelu_dalpha_over_batch_only(dout, cache):
    """dalpha summed over the batch axis only: the spatial positions sharing a channel's alpha are left out."""
    x, alpha = cache
    dx, _ = A.prelu_backward(dout, cache)
    contrib = np.where(x > 0, 0.0, x * dout)
    if np.ndim(alpha) == 0:
        return dx, contrib.sum()
    return dx, contrib.sum(axis=0).reshape(len(alpha), -1)[:, 0]


def _forward_without_cache(x, slope=0.01):
    return A.leaky_relu_forward(x, slope)[0]


def _prelu_backward_dx_only(dout, cache):
    return A.prelu_backward(dout, cache)[0]


WRONG = {
    "sigmoid backward from x": (
        dict(sigmoid_forward=_sigmoid_fwd_caching_x, sigmoid_backward=lambda d, x: d * x * (1 - x)),
        {"sigmoid_backward"},
    ),
    "naive sigmoid overflows": (dict(sigmoid_forward=_naive_sigmoid), {"sigmoid_tanh_forward"}),
    "tanh from exponentials overflows": (dict(tanh_forward=_tanh_from_exponentials), {"sigmoid_tanh_forward"}),
    "prelu dalpha over the batch only": (dict(prelu_backward=_prelu_dalpha_over_batch_only), {"prelu_dalpha"}),
    "tanh backward 1 - x^2": (
        dict(tanh_forward=_tanh_fwd_caching_x, tanh_backward=lambda d, x: d * (1 - x**2)),
        {"tanh_backward"},
    ),
    "leaky gradient 0 for negatives": (dict(leaky_relu_backward=lambda d, c: d * (c[0] > 0)), {"leaky_relu_backward"}),
    "leaky slope 1 at x = 0": (
        dict(leaky_relu_backward=lambda d, c: np.where(c[0] >= 0, d, c[1] * d)),
        {"leaky_relu_backward"},
    ),
    "leaky forward ignores slope": (
        dict(leaky_relu_forward=lambda x, slope=0.01: A.leaky_relu_forward(x)),
        {"leaky_relu_forward", "leaky_relu_backward"},
    ),
    "prelu slope 1 at x = 0": (dict(prelu_backward=_prelu_bwd_one_at_zero), {"prelu_backward"}),
    "prelu dalpha per sample": (dict(prelu_backward=_prelu_bwd_per_sample), {"prelu_dalpha"}),
    "prelu dalpha batch mean": (dict(prelu_backward=_prelu_bwd_batch_mean), {"prelu_dalpha"}),
    "elu backward uses out for negatives": (
        dict(elu_backward=lambda d, c: np.where(c[0] > 0, d, d * c[1] * np.expm1(np.minimum(c[0], 0)))),
        {"elu_backward"},
    ),
    "elu slope 1 at x = 0": (
        dict(elu_backward=lambda d, c: np.where(c[0] >= 0, d, d * c[1] * np.exp(np.minimum(c[0], 0)))),
        {"elu_backward"},
    ),
    "selu rounded constants": (
        dict(selu_forward=_selu_rounded_fwd, selu_backward=_selu_rounded_bwd),
        {"selu_forward", "selu_backward"},
    ),
    "selu slope lambda at x = 0": (dict(selu_backward=_selu_bwd_lambda_at_zero), {"selu_backward"}),
    "maxout gradient to all pieces": (dict(maxout_backward=_maxout_bwd_all_pieces), {"maxout_backward"}),
    "maxout ties go to the last piece": (dict(maxout_forward=_maxout_fwd_last_tie), {"maxout_backward"}),
    "maxout ties share the gradient": (
        dict(maxout_forward=_maxout_fwd_split_ties, maxout_backward=_maxout_bwd_split_ties),
        {"maxout_backward"},
    ),
}


@pytest.mark.parametrize("bug", list(WRONG))
def test_known_wrong_implementations_lose_exactly_their_parts(bug):
    overrides, losing = WRONG[bug]
    topic = load_topic("02")
    res = _grade(**overrides)
    for part in topic.parts:
        score, reason = res[part.name]
        if part.name in losing:
            assert score == 0, (part.name, reason)
        else:
            assert score == part.points, (part.name, reason)


def test_tanh_from_exponentials_is_named_by_the_bank():
    from autograder.checks.activations import TANH_NAN
    from autograder.local import load_probes, make_cases, run_probe

    _, reason = _grade(tanh_forward=_tanh_from_exponentials)["sigmoid_tanh_forward"]
    assert reason.startswith(TANH_NAN.reason), reason
    topic = load_topic("02")
    part = next(p for p in topic.parts if p.name == "sigmoid_tanh_forward")
    for inp in make_cases(part):
        assert not TANH_NAN.detect(run_probe(load_probes(topic), part, dk, inp), inp)


def test_naive_sigmoid_is_named_by_the_bank():
    from autograder.checks.activations import SIGMOID_NAN

    _, reason = _grade(sigmoid_forward=_naive_sigmoid)["sigmoid_tanh_forward"]
    assert reason.startswith(SIGMOID_NAN.reason), reason
    # and the reference never looks like it: detect is False on every hidden case
    from autograder.local import load_probes, make_cases, run_probe

    topic = load_topic("02")
    part = next(p for p in topic.parts if p.name == "sigmoid_tanh_forward")
    for inp in make_cases(part):
        assert not SIGMOID_NAN.detect(run_probe(load_probes(topic), part, dk, inp), inp)


@pytest.mark.parametrize(
    "overrides, part, words",
    [
        (dict(leaky_relu_forward=_forward_without_cache), "leaky_relu_forward", "must return a tuple (out, cache)"),
        (dict(prelu_backward=_prelu_backward_dx_only), "prelu_dalpha", "must return a tuple (dx, dalpha)"),
        (dict(sigmoid_backward=lambda d, c: (d * c * (1 - c),)), "sigmoid_backward", "must return dx alone"),
    ],
)
def test_a_wrong_return_structure_says_what_to_return(overrides, part, words):
    score, reason = _grade(**overrides)[part]
    assert score == 0 and words in reason, reason


def _selu_float32(x):
    out, cache = A.selu_forward(np.asarray(x, dtype=np.float32).astype(np.float64))
    return out.astype(np.float32).astype(np.float64), cache


def test_float32_arithmetic_is_named_where_the_tolerance_is_tighter():
    """SELU is graded to 1e-10 (the constants' digits matter; the module says float64): float32 arithmetic
    loses the part and the reason names precision, not a wrong formula. Leaky ReLU's 1e-6 accepts it."""
    score, reason = _grade(selu_forward=_selu_float32)["selu_forward"]
    assert score == 0 and "float32" in reason, reason

    def leaky32(x, slope=0.01):
        out, cache = A.leaky_relu_forward(np.asarray(x, dtype=np.float32), slope)
        return out.astype(np.float32).astype(np.float64), cache

    assert _grade(leaky_relu_forward=leaky32)["leaky_relu_forward"][0] == 1


# Correct implementations written differently from the reference: each keeps every point.
def _sig_two_branches(x):
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, out


def _sig_silenced(x):
    with np.errstate(over="ignore"):
        out = 1 / (1 + np.exp(-np.asarray(x, dtype=float)))
    return out, out


def _tanh_via_sigmoid(x):
    out = 2 * _sig_two_branches(2 * np.asarray(x, dtype=float))[0] - 1
    return out, out


def _leaky_loop(x, slope=0.01):
    x = np.asarray(x, dtype=float)
    out = np.array([v if v > 0 else slope * v for v in x.ravel()]).reshape(x.shape)
    return out, (x, slope)


def _leaky_loop_bwd(dout, cache):
    x, slope = cache
    return np.array([d if v > 0 else slope * d for v, d in zip(x.ravel(), dout.ravel())]).reshape(x.shape)


def _prelu_per_channel_loop(dout, cache):
    x, alpha = cache
    alpha = np.asarray(alpha, dtype=float)
    a = alpha if alpha.ndim == 0 else alpha.reshape((1, -1) + (1,) * (x.ndim - 2))
    dx = np.where(x > 0, dout, a * dout)
    if alpha.ndim == 0:
        return dx, float(np.sum(dout[x <= 0] * x[x <= 0]))
    dalpha = np.array([np.sum((dout * x)[:, c][x[:, c] <= 0]) for c in range(x.shape[1])])
    return dx, dalpha


def _elu_where(x, alpha=1.0):
    x = np.asarray(x, dtype=float)
    out = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
    return out, (x, out, alpha)


def _elu_from_output_plus_alpha(dout, cache):
    """dx = dout * (out + alpha): equal to alpha * exp(x), less precise far on the negative side."""
    x, out, alpha = cache
    return np.where(x > 0, dout, dout * (out + alpha))


def _selu_own(x):
    out, cache = _elu_where(x, A.SELU_ALPHA)
    return A.SELU_LAMBDA * out, cache


def _selu_own_bwd(dout, cache):
    return A.SELU_LAMBDA * _elu_from_output_plus_alpha(dout, cache)


def _maxout_loops(x, W, b):
    D, M, k = W.shape
    z = np.stack([x @ W[:, :, j] + b[:, j] for j in range(k)], axis=2)
    idx = np.zeros((len(x), M), dtype=int)
    for j in range(1, k):  # a strictly larger piece takes over: ties stay with the first
        idx = np.where(z[:, :, j] > np.take_along_axis(z, idx[..., None], 2)[..., 0], j, idx)
    return np.take_along_axis(z, idx[..., None], 2)[..., 0], (x, W, idx)


def _maxout_loops_bwd(dout, cache):
    x, W, idx = cache
    D, M, k = W.shape
    dW, db, dx = np.zeros_like(W), np.zeros((M, k)), np.zeros_like(x)
    for n in range(len(x)):
        for m in range(M):
            j = idx[n, m]
            dW[:, m, j] += dout[n, m] * x[n]
            db[m, j] += dout[n, m]
            dx[n] += dout[n, m] * W[:, m, j]
    return dx, dW, db


ALTERNATIVES = {
    "sigmoid with one formula per sign": dict(sigmoid_forward=_sig_two_branches),
    "sigmoid 1/(1+exp(-x)) with the overflow silenced": dict(sigmoid_forward=_sig_silenced),
    "tanh via 2 sigmoid(2x) - 1, backward (1 - t)(1 + t)": dict(
        tanh_forward=_tanh_via_sigmoid, tanh_backward=lambda d, t: d * (1 - t) * (1 + t)
    ),
    "sigmoid backward s - s^2": dict(sigmoid_backward=lambda d, s: d * (s - s**2)),
    "leaky ReLU as Python loops": dict(leaky_relu_forward=_leaky_loop, leaky_relu_backward=_leaky_loop_bwd),
    "PReLU with boolean indexing and a loop over channels": dict(prelu_backward=_prelu_per_channel_loop),
    "ELU with np.where and dx from out + alpha": dict(elu_forward=_elu_where, elu_backward=_elu_from_output_plus_alpha),
    "SELU on its own ELU": dict(selu_forward=_selu_own, selu_backward=_selu_own_bwd),
    "Maxout with loops over pieces and examples": dict(maxout_forward=_maxout_loops, maxout_backward=_maxout_loops_bwd),
}


@pytest.mark.parametrize("name", list(ALTERNATIVES))
def test_differently_written_correct_implementations_keep_every_point(name):
    res = _grade(**ALTERNATIVES[name])
    full = {p.name: p.points for p in load_topic("02").parts}
    assert {k: v[0] for k, v in res.items()} == full, {k: v for k, v in res.items() if v[0] < full[k]}


def test_elu_selu_backward_keep_full_relative_precision_far_on_the_negative_side():
    x = np.array([-15.0, -40.0, -300.0, -700.0])
    for fwd, bwd, tfn in ((A.elu_forward, A.elu_backward, F.elu), (A.selu_forward, A.selu_backward, F.selu)):
        dx = bwd(np.ones_like(x), fwd(x)[1])
        xt = torch.tensor(x, requires_grad=True)
        tfn(xt).backward(torch.ones_like(xt))
        assert np.all(dx > 0)
        assert np.allclose(dx, xt.grad.numpy(), rtol=1e-13, atol=0)  # relative, even at exp(-700) ~ 1e-304


# ----------------------------------------------------------------------------------------------- widget
def test_saturation_simulation_and_explorer():
    from deepkit.viz.activations import DeepMLP, explorer

    net = DeepMLP(width=64, batch=128, max_depth=12)
    relu = net.simulate("relu", gain=2**0.5, depth=12)
    assert np.all(np.abs(relu["saturated"] - 0.5) < 0.12)  # ReLU's flat half
    sig = net.simulate("sigmoid", gain=1.0, depth=12)
    assert sig["grad_z"][0] < 1e-5 * sig["grad_z"][-1]  # vanishing towards layer 1
    tanh_big = net.simulate("tanh", gain=5.0, input_scale=10.0, depth=4)
    assert tanh_big["saturated"].min() > 0.5
    dead = net.simulate("relu", gain=0.3, depth=12)["dead"]
    assert dead[-1] > dead[0]
    with pytest.raises(ValueError, match="activation must be one of"):
        net.simulate("swish")
    with pytest.raises(ValueError, match="depth"):
        net.simulate("relu", depth=13)
    ex = explorer(width=32, batch=64, max_depth=6)
    before, png = ex.redraws, ex.image.value
    ex.controls["activation"].value = "selu"
    assert ex.redraws == before + 1 and ex.image.value != png and "saturated" in ex.status.value
    ex.controls["depth"].value = 1  # a single layer still draws
    assert ex.redraws == before + 2
