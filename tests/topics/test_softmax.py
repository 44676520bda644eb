"""Topic 01: affine/ReLU layers, softmax family and the two-layer net vs torch autograd (float64) and finite
differences; property tests; bad input; grading of the reference and of classic wrong implementations."""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from autograder.local import grade_module
from tests.refs import dk

L, F, NETS = dk.layers, dk.losses, dk.nets
from deepkit.gradcheck import check_gradient, rel_error  # noqa: E402  (reference is on the path now)

TOL = 1e-10  # reference vs torch float64: both are exact up to rounding


def t(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ---------------------------------------------------------------- layers vs torch


def test_affine_forward_backward_vs_torch():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((4, 5))
    out, cache = L.affine_forward(x, w, b)
    dx, dw, db = L.affine_backward(dout, cache)
    tx, tw, tb = t(x, True), t(w, True), t(b, True)
    tout = tx.reshape(4, -1) @ tw + tb
    tout.backward(t(dout))
    assert out.shape == (4, 5) and dx.shape == x.shape
    assert rel_error(out, tout.detach().numpy()) < TOL
    for mine, ref in ((dx, tx), (dw, tw), (db, tb)):
        assert rel_error(mine, ref.grad.numpy()) < TOL


def test_affine_gradcheck():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    dout = rng.standard_normal((3, 2))
    dx, dw, db = L.affine_backward(dout, L.affine_forward(x, w, b)[1])
    assert check_gradient(lambda v: L.affine_forward(v, w, b)[0], x, dx, dout, name="x")
    assert check_gradient(lambda v: L.affine_forward(x, v, b)[0], w, dw, dout, name="w")
    assert check_gradient(lambda v: L.affine_forward(x, w, v)[0], b, db, dout, name="b")


def test_relu_vs_torch_and_gradcheck():
    rng = np.random.default_rng(2)
    x, dout = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    x[0, 0] = 0.0
    out, cache = L.relu_forward(x)
    dx = L.relu_backward(dout, cache)
    tx = t(x, True)
    tout = torch.relu(tx)
    tout.backward(t(dout))
    assert np.array_equal(out, tout.detach().numpy())
    assert np.array_equal(dx, tx.grad.numpy())  # torch also uses gradient 0 at x = 0
    rep = check_gradient(lambda v: L.relu_forward(v)[0], x, dx, dout)
    assert rep and rep.skipped_kinks == 1


# ---------------------------------------------------------------- softmax family vs torch


def test_softmax_and_log_softmax_vs_torch():
    rng = np.random.default_rng(3)
    z = 5 * rng.standard_normal((6, 4))
    z[0] += 1000.0
    z[1] = [-1000.0, 0.0, 500.0, 1000.0]
    p, logp = F.softmax(z), F.log_softmax(z)
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(logp))
    assert np.allclose(p, torch.softmax(t(z), 1).numpy(), rtol=1e-12, atol=1e-300)
    assert np.allclose(logp, torch.log_softmax(t(z), 1).numpy(), rtol=1e-12, atol=1e-12)
    assert np.allclose(F.softmax(z[2]), p[2]) and F.softmax(z[2]).shape == (4,)


def test_softmax_jacobian_gradcheck():
    """softmax's Jacobian-vector product p * (g - <g, p>) (derived in the lecture) vs finite differences."""
    rng = np.random.default_rng(4)
    z, g = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    p = F.softmax(z)
    dz = p * (g - (g * p).sum(axis=1, keepdims=True))
    assert check_gradient(F.softmax, z, dz, g)


def test_cross_entropy_vs_torch():
    rng = np.random.default_rng(5)
    z, y = rng.standard_normal((7, 4)), rng.integers(0, 4, 7)
    p = F.softmax(z)
    ref = torch.nn.functional.nll_loss(torch.log(t(p)), torch.tensor(y)).item()
    assert isinstance(F.cross_entropy(p, y), float)
    assert abs(F.cross_entropy(p, y) - ref) < 1e-12
    assert F.cross_entropy(np.array([[0.0, 1.0]]), np.array([0])) == pytest.approx(708.396, abs=1e-3)


def test_softmax_loss_vs_torch_and_gradcheck():
    rng = np.random.default_rng(6)
    s, y = 3 * rng.standard_normal((8, 5)), rng.integers(0, 5, 8)
    s[0] += 1000.0
    loss, ds = F.softmax_loss(s, y)
    ts = t(s, True)
    tl = torch.nn.functional.cross_entropy(ts, torch.tensor(y))
    tl.backward()
    assert abs(loss - tl.item()) < 1e-12
    assert rel_error(ds, ts.grad.numpy()) < TOL
    s2 = s.copy()
    s2[0] -= 1000.0  # finite differences on moderate scores (1000 + h loses digits)
    _, ds2 = F.softmax_loss(s2, y)
    assert check_gradient(lambda v: F.softmax_loss(v, y)[0], s2, ds2)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.37, 1.0])
def test_smoothed_softmax_loss_vs_torch_and_gradcheck(eps):
    rng = np.random.default_rng(11)
    s, y = 3 * rng.standard_normal((7, 5)), rng.integers(0, 5, 7)
    s[0] += 1000.0
    loss, ds = F.smoothed_softmax_loss(s, y, eps)
    ts = t(s, True)
    tl = torch.nn.functional.cross_entropy(ts, torch.tensor(y), label_smoothing=eps)
    tl.backward()
    assert isinstance(loss, float) and abs(loss - tl.item()) < 1e-12
    assert rel_error(ds, ts.grad.numpy()) < TOL
    # the derived form: (p - ((1 - eps) onehot + eps / C)) / N
    q = (1 - eps) * np.eye(5)[y] + eps / 5
    assert np.allclose(ds, (F.softmax(s) - q) / 7, atol=1e-16)
    s2 = s - np.where(np.arange(7)[:, None] == 0, 1000.0, 0.0)  # finite differences on moderate scores
    assert check_gradient(lambda v: F.smoothed_softmax_loss(v, y, eps)[0], s2, F.smoothed_softmax_loss(s2, y, eps)[1])
    if eps == 0.0:
        assert loss == pytest.approx(F.softmax_loss(s, y)[0], abs=1e-13)


def test_linear_scores_and_initial_loss_is_log_c():
    rng = np.random.default_rng(7)
    X, W, b = rng.standard_normal((500, 10)), 1e-4 * rng.standard_normal((10, 7)), np.zeros(7)
    s = F.linear_scores(X, W, b)
    assert np.allclose(s, X @ W + b)
    loss, _ = F.softmax_loss(s, rng.integers(0, 7, 500))
    assert abs(loss - np.log(7)) < 1e-3


# ---------------------------------------------------------------- two-layer net


def _net(seed=8, N=6, D=5, H=7, C=4):
    rng = np.random.default_rng(seed)
    params = NETS.init_two_layer(D, H, C, rng, scale=0.8)
    params["b1"], params["b2"] = 0.2 * rng.standard_normal(H), 0.2 * rng.standard_normal(C)
    return params, rng.standard_normal((N, D)), rng.integers(0, C, N)


def test_two_layer_vs_torch():
    params, X, y = _net()
    reg = 0.3
    loss, grads = NETS.two_layer_loss(params, X, y, reg=reg)
    tp = {k: t(v, True) for k, v in params.items()}
    tscores = torch.relu(t(X) @ tp["W1"] + tp["b1"]) @ tp["W2"] + tp["b2"]
    tloss = torch.nn.functional.cross_entropy(tscores, torch.tensor(y)) + 0.5 * reg * (
        (tp["W1"] ** 2).sum() + (tp["W2"] ** 2).sum()
    )
    tloss.backward()
    assert np.allclose(NETS.two_layer_loss(params, X), tscores.detach().numpy(), rtol=1e-12)
    assert abs(loss - tloss.item()) < 1e-12
    for k in params:
        assert grads[k].shape == params[k].shape
        assert rel_error(grads[k], tp[k].grad.numpy()) < TOL, k


def test_two_layer_gradcheck():
    params, X, y = _net(seed=9)
    _, grads = NETS.two_layer_loss(params, X, y, reg=0.1)
    for k in params:

        def f(v, k=k):
            return NETS.two_layer_loss({**params, k: v}, X, y, reg=0.1)[0]

        rep = check_gradient(f, params[k].copy(), grads[k], name=k)
        assert rep, str(rep)


def test_init_two_layer():
    p = NETS.init_two_layer(64, 50, 10, np.random.default_rng(0), scale=0.1)
    assert {k: v.shape for k, v in p.items()} == {"W1": (64, 50), "b1": (50,), "W2": (50, 10), "b2": (10,)}
    assert np.all(p["b1"] == 0) and abs(p["W1"].std() - 0.1) < 0.01


def test_two_layer_learns_digits():
    data = dk.data.load_digits()
    rng = np.random.default_rng(0)
    params = NETS.init_two_layer(64, 32, 10, rng, scale=0.1)
    for _ in range(15):
        for xb, yb in dk.data.minibatches(data.X_train, data.y_train, 64, rng):
            _, g = NETS.two_layer_loss(params, xb, yb, reg=1e-4)
            for k in params:
                params[k] -= 0.5 * g[k]
    acc = np.mean(NETS.two_layer_loss(params, data.X_val).argmax(1) == data.y_val)
    assert acc > 0.9


# ---------------------------------------------------------------- properties

finite = st.floats(-50, 50, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=finite), st.floats(-1e3, 1e3))
def test_softmax_properties(z, c):
    p = F.softmax(z)
    assert p.shape == z.shape and np.all(p >= 0)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.allclose(F.softmax(z + c), p, atol=1e-12)  # shift invariance
    assert np.allclose(np.exp(F.log_softmax(z)), p, atol=1e-12)
    assert np.all(F.log_softmax(z) <= 0)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(2, 5), st.integers(0, 10_000))
def test_softmax_loss_properties(N, C, seed):
    rng = np.random.default_rng(seed)
    s, y = 10 * rng.standard_normal((N, C)), rng.integers(0, C, N)
    loss, ds = F.softmax_loss(s, y)
    assert loss >= 0 and ds.shape == (N, C)
    assert np.allclose(ds.sum(axis=1), 0.0, atol=1e-15)  # (p - onehot) rows sum to 0
    assert np.all(ds[np.arange(N), y] <= 0)  # true class pushed up
    assert loss == pytest.approx(F.cross_entropy(F.softmax(s), y), rel=1e-9, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.lists(st.integers(1, 3), min_size=1, max_size=3), st.integers(1, 4))
def test_affine_shapes(N, dims, M):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, *dims))
    D = int(np.prod(dims))
    out, cache = L.affine_forward(x, rng.standard_normal((D, M)), rng.standard_normal(M))
    dx, dw, db = L.affine_backward(np.ones((N, M)), cache)
    assert out.shape == (N, M) and dx.shape == x.shape and dw.shape == (D, M) and db.shape == (M,)
    assert np.allclose(db, N)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: L.affine_forward(np.ones(3), np.ones((3, 2)), np.ones(2)), ValueError, "x must"),
        (lambda: L.affine_forward(np.ones((2, 3)), np.ones((4, 2)), np.ones(2)), ValueError, "w must have shape"),
        (lambda: L.affine_forward(np.ones((2, 3)), np.ones((3, 2)), np.ones(3)), ValueError, "b must have shape"),
        (
            lambda: L.affine_backward(
                np.ones((2, 3)), L.affine_forward(np.ones((2, 3)), np.ones((3, 2)), np.ones(2))[1]
            ),
            ValueError,
            "dout",
        ),
        (lambda: L.relu_backward(np.ones(3), L.relu_forward(np.ones(4))[1]), ValueError, "dout"),
        (lambda: F.softmax(np.ones((2, 2, 2))), ValueError, "z must be"),
        (lambda: F.softmax(np.array(["a"])), TypeError, "z must hold real numbers"),
        (lambda: F.softmax(np.array([np.nan, 1.0])), ValueError, "NaN"),
        (lambda: F.cross_entropy(np.full((2, 2), 0.5), np.array([0, 2])), ValueError, "y values"),
        (lambda: F.cross_entropy(np.full((2, 2), 1.5), np.array([0, 1])), ValueError, "probs must lie"),
        (lambda: F.softmax_loss(np.ones((3, 2)), np.array([0, 1])), ValueError, "y must have shape (3,)"),
        (lambda: F.softmax_loss(np.ones((2, 2)), np.array([0.5, 1])), TypeError, "integer"),
        (lambda: F.smoothed_softmax_loss(np.ones((2, 2)), np.array([0, 1]), 1.5), ValueError, "eps must be in [0, 1]"),
        (lambda: NETS.two_layer_loss({"W1": np.ones((2, 2))}, np.ones((1, 2))), ValueError, "missing b1"),
        (
            lambda: NETS.two_layer_loss(
                NETS.init_two_layer(2, 3, 2, np.random.default_rng(0)), np.ones((1, 2)), np.array([0]), reg=-1.0
            ),
            ValueError,
            "reg must be >= 0",
        ),
        (lambda: NETS.init_two_layer(2, 3, 2, 0), TypeError, "rng must be"),
    ],
)
def test_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)


# ---------------------------------------------------------------- widget


def test_explorer_redraws_and_reports_overflow():
    from deepkit.viz.softmax import explorer

    ex = explorer(scores=(0.0, 1.0, 2.0), label=1)
    first, n = ex.image.value, ex.redraws
    ex.controls["true_score"].value = 4.0
    assert ex.redraws == n + 1 and ex.image.value != first and ex.image.value[:4] == b"\x89PNG"
    assert "still finite" in ex.status.value
    ex.controls["shift"].value = 1000.0
    assert "overflows" in ex.status.value
    p_before = float(ex.status.value.split("p_y = ")[1].split(";")[0])
    assert abs(p_before - losses_softmax_row((0.0, 4.0, 2.0))[1]) < 1e-4  # shift leaves p unchanged
    assert ex.last_ms < 2000  # generous: CI machines are shared; the measured CPU time is ~120 ms


def losses_softmax_row(z):
    return F.softmax(np.asarray(z, dtype=np.float64))


@pytest.mark.parametrize("kw, words", [(dict(scores=(1.0,)), "C >= 2"), (dict(label=7), "label must be")])
def test_explorer_bad_input(kw, words):
    from deepkit.viz.softmax import explorer

    with pytest.raises(ValueError, match=words):
        explorer(**kw)


# ---------------------------------------------------------------- grading

FULL = {
    "affine_forward": 1,
    "affine_backward": 2,
    "relu_forward": 1,
    "relu_backward": 1,
    "softmax": 1,
    "log_softmax": 1,
    "cross_entropy": 1,
    "softmax_loss": 2,
    "smoothed_softmax_loss": 2,
    "two_layer_loss": 3,
}


def test_reference_gets_full_marks():
    res = grade_module("01", dk)
    assert {k: v[0] for k, v in res.items()} == FULL, res


def _fake(module, name, fn):
    """A copy of a reference module with one function replaced (the others stay the reference's)."""
    mod = types.SimpleNamespace(**{k: getattr(module, k) for k in dir(module) if not k.startswith("__")})
    setattr(mod, name, fn)
    return mod


def _pkg(**mods):
    return types.SimpleNamespace(**{"layers": L, "losses": F, "nets": NETS, **mods})


def _no_bias_grad(dout, cache):
    dx, dw, db = L.affine_backward(dout, cache)
    return dx, dw, np.zeros_like(db)


def _transposed_dw(dout, cache):
    x, w, _ = cache
    dx, dw, db = L.affine_backward(dout, cache)
    return dx, (dout.T @ x.reshape(len(x), -1)).reshape(dw.shape), db  # (M, D) data in a (D, M) array


def _unshifted_softmax(z):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(np.asarray(z, dtype=np.float64))
        return e / e.sum(axis=-1, keepdims=True)


def _unshifted_log_softmax(z):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return np.log(_unshifted_softmax(z))


def _summed_ce(probs, y):
    return F.cross_entropy(probs, y) * len(y)


def _summed_loss(scores, y):
    loss, ds = F.softmax_loss(scores, y)
    return loss * len(y), ds


def _wrong_sign(scores, y):
    loss, ds = F.softmax_loss(scores, y)
    return loss, -ds


def _unscaled_dscores(scores, y):
    loss, ds = F.softmax_loss(scores, y)
    return loss, ds * len(y)


def _relu_grad_at_zero(dout, cache):
    return dout * (cache >= 0)


def _smoothed_other_convention(scores, y, eps=0.1):
    N, C = scores.shape
    q = np.full((N, C), eps / (C - 1))
    q[np.arange(N), y] = 1 - eps
    logp = F.log_softmax(scores)
    return float(-(q * logp).sum() / N), (np.exp(logp) - q) / N


def _smoothed_plain_gradient(scores, y, eps=0.1):
    return F.smoothed_softmax_loss(scores, y, eps)[0], F.softmax_loss(scores, y)[1]


def _ce_plus_small_eps(probs, y):
    """log(p + 1e-12) instead of the documented clip to the smallest float64: a 0 gives 27.6, not 708."""
    return float(-np.mean(np.log(probs[np.arange(len(y)), y] + 1e-12)))


def _log_softmax_without_max(z):
    """The shift applied inside the log-sum-exp but its m forgotten outside: z - log(sum(exp(z - m)))."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _affine_squeezed(x, w, b):
    """Squeezes the batch axis away: wrong for a single example."""
    out, cache = L.affine_forward(x, w, b)
    return np.squeeze(out), cache


def _net_no_half(params, X, y=None, reg=0.0):
    out = NETS.two_layer_loss(params, X, y, reg)
    if y is None:
        return out
    loss, grads = out
    return loss + 0.5 * reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)), grads


def _net_reg_bias(params, X, y=None, reg=0.0):
    out = NETS.two_layer_loss(params, X, y, reg)
    if y is None:
        return out
    loss, grads = out
    return loss, {**grads, "b1": grads["b1"] + reg * params["b1"], "b2": grads["b2"] + reg * params["b2"]}


WRONG = [
    ("affine_backward", dict(layers=_fake(L, "affine_backward", _no_bias_grad))),
    ("affine_backward", dict(layers=_fake(L, "affine_backward", _transposed_dw))),
    ("relu_backward", dict(layers=_fake(L, "relu_backward", _relu_grad_at_zero))),
    ("softmax", dict(losses=_fake(F, "softmax", _unshifted_softmax))),
    ("log_softmax", dict(losses=_fake(F, "log_softmax", _unshifted_log_softmax))),
    ("cross_entropy", dict(losses=_fake(F, "cross_entropy", _summed_ce))),
    ("softmax_loss", dict(losses=_fake(F, "softmax_loss", _summed_loss))),
    ("softmax_loss", dict(losses=_fake(F, "softmax_loss", _wrong_sign))),
    ("softmax_loss", dict(losses=_fake(F, "softmax_loss", _unscaled_dscores))),
    ("smoothed_softmax_loss", dict(losses=_fake(F, "smoothed_softmax_loss", _smoothed_other_convention))),
    ("smoothed_softmax_loss", dict(losses=_fake(F, "smoothed_softmax_loss", _smoothed_plain_gradient))),
    ("affine_forward", dict(layers=_fake(L, "affine_forward", _affine_squeezed))),
    ("two_layer_loss", dict(nets=_fake(NETS, "two_layer_loss", _net_no_half))),
    ("two_layer_loss", dict(nets=_fake(NETS, "two_layer_loss", _net_reg_bias))),
    ("cross_entropy", dict(losses=_fake(F, "cross_entropy", _ce_plus_small_eps))),
    ("log_softmax", dict(losses=_fake(F, "log_softmax", _log_softmax_without_max))),
]


@pytest.mark.parametrize("part, mods", WRONG, ids=[f"{p}-{i}" for i, (p, _) in enumerate(WRONG)])
def test_wrong_implementation_loses_exactly_its_part(part, mods):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fakes must not leak warnings either
        res = grade_module("01", _pkg(**mods))
    got = {k: v[0] for k, v in res.items()}
    assert got == {**FULL, part: 0.0}, res


# ---------------------------------------------------------------- the bank's detected mistakes, both ways


def _log_of_softmax(z):
    with np.errstate(divide="ignore"):
        return np.log(F.softmax(z))


def _unclipped_ce(probs, y):
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.log(probs[np.arange(len(y)), y])))


def _loss_of_probs(scores, y):
    """The loss as -log(softmax(scores)[y]): -inf where the true class's probability underflows to 0."""
    p = F.softmax(scores)
    n = len(y)
    with np.errstate(divide="ignore"):
        loss = float(-np.log(p[np.arange(n), y]).mean())
    dscores = p.copy()
    dscores[np.arange(n), y] -= 1
    return loss, dscores / n


def _smoothed_of_probs(scores, y, eps=0.1):
    n, c = scores.shape
    p = F.softmax(scores)
    q = np.full((n, c), eps / c)
    q[np.arange(n), y] += 1 - eps
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = float(-(q * np.log(p)).sum() / n)
    return loss, (p - q) / n


DETECTED = [
    ("softmax_loss", "losses", "softmax_loss", _loss_of_probs, "LOSS_OF_PROBS"),
    ("smoothed_softmax_loss", "losses", "smoothed_softmax_loss", _smoothed_of_probs, "SMOOTH_OF_PROBS"),
    ("softmax", "losses", "softmax", _unshifted_softmax, "SOFTMAX_UNSHIFTED"),
    ("log_softmax", "losses", "log_softmax", _unshifted_log_softmax, "LOG_SOFTMAX_UNSHIFTED"),
    ("log_softmax", "losses", "log_softmax", _log_of_softmax, "LOG_OF_SOFTMAX"),
    ("cross_entropy", "losses", "cross_entropy", _unclipped_ce, "CE_UNCLIPPED"),
]


@pytest.mark.parametrize("part, module, name, fn, mistake", DETECTED, ids=[d[4] for d in DETECTED])
def test_detected_mistakes_are_named_and_never_match_the_reference(part, module, name, fn, mistake):
    from autograder import checks  # noqa: F401  (the package; the module is loaded by name below)
    from autograder.local import load_probes, load_topic, make_cases, run_probe

    bank = __import__("autograder.checks.softmax", fromlist=[mistake])
    misconception = getattr(bank, mistake)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        points, reason = grade_module("01", _pkg(**{module: _fake(getattr(dk, module), name, fn)}), parts=[part])[part]
    assert points == 0 and misconception.reason in reason, reason
    topic = load_topic("01")
    spec = next(p for p in topic.parts if p.name == part)
    for inputs in make_cases(spec):
        assert not misconception.detect(run_probe(load_probes(topic), spec, dk, inputs), inputs)


# ---------------------------------------------------------------- what a wrong return structure is told


@pytest.mark.parametrize(
    "mods, part, words",
    [
        (
            dict(layers=_fake(L, "affine_forward", lambda x, w, b: L.affine_forward(x, w, b)[0])),
            "affine_forward",
            "(out, cache)",
        ),
        (dict(layers=_fake(L, "relu_forward", lambda x: L.relu_forward(x)[0])), "relu_backward", "(out, cache)"),
        (
            dict(losses=_fake(F, "softmax_loss", lambda s, y: F.softmax_loss(s, y)[0])),
            "softmax_loss",
            "(loss, dscores)",
        ),
        (
            dict(layers=_fake(L, "affine_backward", lambda d, c: L.affine_backward(d, c)[:2])),
            "affine_backward",
            "(dx, dw, db)",
        ),
        (
            dict(
                nets=_fake(
                    NETS,
                    "two_layer_loss",
                    lambda p, X, y=None, reg=0.0: (
                        NETS.two_layer_loss(p, X, y, reg) if y is None else (NETS.two_layer_loss(p, X, y, reg)[0], [])
                    ),
                )
            ),
            "two_layer_loss",
            "dict with the keys W1, b1, W2, b2",
        ),
        (
            dict(losses=_fake(F, "cross_entropy", lambda p, y: -np.log(p[np.arange(len(y)), y]))),
            "cross_entropy",
            "one number",
        ),
    ],
)
def test_a_wrong_return_structure_says_what_to_return(mods, part, words):
    with np.errstate(divide="ignore"):
        points, reason = grade_module("01", _pkg(**mods), parts=[part])[part]
    assert points == 0 and words in reason, reason


# ---------------------------------------------------------------- differently written correct implementations


def _affine_forward_loops(x, w, b):
    x = np.asarray(x, dtype=float)
    rows = [np.ravel(xi) for xi in x]
    out = np.array([[sum(r[d] * w[d, m] for d in range(len(r))) + b[m] for m in range(w.shape[1])] for r in rows])
    return out, {"x": x, "w": w}


def _affine_backward_loops(dout, cache):
    x, w = cache["x"], cache["w"]
    flat = x.reshape(len(x), -1)
    dw = np.zeros_like(w)
    for i in range(len(x)):
        dw += np.outer(flat[i], dout[i])
    dx = np.stack([w @ dout[i] for i in range(len(x))]).reshape(x.shape)
    return dx, dw, np.sum(dout, axis=0)


def _relu_where(x):
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, x, 0.0), x > 0


def _relu_mask_bwd(dout, mask):
    return dout * mask


def _softmax_scipy(z):
    from scipy.special import softmax

    return softmax(np.asarray(z, dtype=float), axis=-1)


def _log_softmax_scipy(z):
    from scipy.special import logsumexp

    z = np.asarray(z, dtype=float)
    return z - logsumexp(z, axis=-1, keepdims=True)


def _ce_loop(probs, y):
    total = 0.0
    for i, label in enumerate(y):
        total -= np.log(max(probs[i, label], np.finfo(float).tiny))
    return float(total / len(y))


def _softmax_loss_onehot(scores, y):
    N, C = scores.shape
    onehot = np.eye(C)[y]
    logp = _log_softmax_scipy(scores)
    return float(-(onehot * logp).sum() / N), (np.exp(logp) - onehot) / N


def _smoothed_via_two_losses(scores, y, eps=0.1):
    """(1 - eps) * the plain loss + eps * the cross-entropy against the uniform target: the same function."""
    N, C = scores.shape
    logp = _log_softmax_scipy(scores)
    plain, d_plain = _softmax_loss_onehot(scores, y)
    uniform = float(-logp.sum() / (N * C))
    d_uniform = (np.exp(logp) - 1.0 / C) / N
    return (1 - eps) * plain + eps * uniform, (1 - eps) * d_plain + eps * d_uniform


def _two_layer_graph(params, X, y=None, reg=0.0):
    """The whole net in one function, without deepkit.layers (a computational-graph version)."""
    X = np.asarray(X, dtype=float).reshape(len(X), -1)
    z = X @ params["W1"] + params["b1"]
    a = np.maximum(z, 0)
    s = a @ params["W2"] + params["b2"]
    if y is None:
        return s
    loss, ds = _softmax_loss_onehot(s, y)
    loss += 0.5 * reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    da = ds @ params["W2"].T
    dz = da * (z > 0)
    return loss, {
        "W1": X.T @ dz + reg * params["W1"],
        "b1": dz.sum(0),
        "W2": a.T @ ds + reg * params["W2"],
        "b2": ds.sum(0),
    }


def _softmax_float32(z):
    return F.softmax(np.asarray(z, dtype=np.float32)).astype(np.float32).astype(np.float64)


ALTERNATIVES = {
    "affine as Python loops with a dict cache": dict(
        layers=_fake(_fake(L, "affine_forward", _affine_forward_loops), "affine_backward", _affine_backward_loops)
    ),
    "relu with np.where and a boolean mask as cache": dict(
        layers=_fake(_fake(L, "relu_forward", _relu_where), "relu_backward", _relu_mask_bwd)
    ),
    "softmax and log_softmax from scipy.special": dict(
        losses=_fake(_fake(F, "softmax", _softmax_scipy), "log_softmax", _log_softmax_scipy)
    ),
    "cross_entropy as a loop": dict(losses=_fake(F, "cross_entropy", _ce_loop)),
    "softmax_loss with an explicit one-hot matrix": dict(losses=_fake(F, "softmax_loss", _softmax_loss_onehot)),
    "label smoothing as a mix of two losses": dict(losses=_fake(F, "smoothed_softmax_loss", _smoothed_via_two_losses)),
    "two-layer net as one computational graph": dict(nets=_fake(NETS, "two_layer_loss", _two_layer_graph)),
}


@pytest.mark.parametrize("name", list(ALTERNATIVES))
def test_differently_written_correct_implementations_keep_every_point(name):
    res = grade_module("01", _pkg(**ALTERNATIVES[name]))
    assert {k: v[0] for k, v in res.items()} == FULL, {k: v for k, v in res.items() if v[0] < FULL[k]}


def test_float32_arithmetic_is_named_as_a_precision_problem():
    """The module says float64; a float32 softmax misses the 1e-6 tolerance on scores near 1000, and the reason
    says it is precision, not the formula."""
    points, reason = grade_module("01", _pkg(losses=_fake(F, "softmax", _softmax_float32)), parts=["softmax"])[
        "softmax"
    ]
    assert points == 0 and "did you compute in float32" in reason, reason
