"""Topic 04 (normalization): the reference deepkit.norm against torch autograd (float64), finite differences,
properties, bad input, and the topic's grading (full marks for the reference, classic bugs lose their part)."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.checks import normalization as checks
from autograder.compare import compare_case
from autograder.local import grade_module, load_probes, load_topic, make_cases, run_probe
from tests.refs import dk  # puts the reference deepkit on the path

check_gradient, rel_error = dk.gradcheck.check_gradient, dk.gradcheck.rel_error

nm = dk.norm
T = lambda a, grad=False: torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)  # noqa: E731


def _torch_bn(x, gamma, beta, rm, rv, dout, training, momentum=0.1, eps=1e-5):
    """torch's batch_norm in float64: (out, dx, dgamma, dbeta); rm/rv are torch tensors updated in place."""
    xt, gt, bt = T(x, True), T(gamma, True), T(beta, True)
    out = F.batch_norm(xt, rm, rv, gt, bt, training=training, momentum=momentum, eps=eps)
    out.backward(T(dout))
    return out.detach().numpy(), xt.grad.numpy(), gt.grad.numpy(), bt.grad.numpy()


# ---------------------------------------------------------------- batch norm vs torch
@pytest.mark.parametrize("momentum,eps", [(0.1, 1e-5), (0.3, 1e-3)])
def test_batchnorm_train_steps_then_eval_match_torch(momentum, eps):
    rng = np.random.default_rng(0)
    d = 5
    gamma, beta = rng.normal(size=d), rng.normal(size=d)
    p = {"mode": "train", "eps": eps, "momentum": momentum}
    rm, rv = torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64)
    for step in range(4):  # several steps: the running statistics accumulate
        x = rng.normal(3.0, 2.0, size=(6 + step, d))
        dout = rng.normal(size=x.shape)
        out, cache = nm.batchnorm_forward(x, gamma, beta, p)
        t_out, t_dx, t_dg, t_db = _torch_bn(x, gamma, beta, rm, rv, dout, True, momentum, eps)
        np.testing.assert_allclose(out, t_out, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(p["running_mean"], rm.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(p["running_var"], rv.numpy(), rtol=1e-12, atol=1e-14)
        for backward in (nm.batchnorm_backward, nm.batchnorm_backward_alt):
            dx, dg, db = backward(dout, cache)
            assert rel_error(dx, t_dx) < 1e-12 and rel_error(dg, t_dg) < 1e-12 and rel_error(db, t_db) < 1e-12
    x = rng.normal(3.0, 2.0, size=(3, d))
    dout = rng.normal(size=x.shape)
    before = (p["running_mean"].copy(), p["running_var"].copy())
    p["mode"] = "eval"
    out, cache = nm.batchnorm_forward(x, gamma, beta, p)
    t_out, t_dx, t_dg, t_db = _torch_bn(x, gamma, beta, rm, rv, dout, False, momentum, eps)
    np.testing.assert_allclose(out, t_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(p["running_mean"], before[0])  # eval never moves the statistics
    np.testing.assert_array_equal(p["running_var"], before[1])
    for backward in (nm.batchnorm_backward, nm.batchnorm_backward_alt):
        dx, dg, db = backward(dout, cache)
        assert rel_error(dx, t_dx) < 1e-12 and rel_error(dg, t_dg) < 1e-12 and rel_error(db, t_db) < 1e-12


def test_running_var_is_unbiased_and_momentum_weights_new_value():
    x = np.array([[0.0], [2.0]])  # batch mean 1, biased var 1, unbiased var 2
    p = {"mode": "train", "momentum": 0.25, "running_mean": np.array([4.0]), "running_var": np.array([4.0])}
    nm.batchnorm_forward(x, np.ones(1), np.zeros(1), p)
    np.testing.assert_allclose(p["running_mean"], [0.75 * 4 + 0.25 * 1])
    np.testing.assert_allclose(p["running_var"], [0.75 * 4 + 0.25 * 2])


def test_defaults_fill_bn_param_like_a_fresh_torch_layer():
    p = {}
    nm.batchnorm_forward(np.arange(6.0).reshape(3, 2), np.ones(2), np.zeros(2), p)
    layer = torch.nn.BatchNorm1d(2).double()
    layer(T(np.arange(6.0).reshape(3, 2)))
    np.testing.assert_allclose(p["running_mean"], layer.running_mean.numpy())
    np.testing.assert_allclose(p["running_var"], layer.running_var.numpy())


def test_spatial_batchnorm_matches_torch_train_and_eval():
    rng = np.random.default_rng(1)
    x = rng.normal(1.0, 2.0, size=(3, 4, 5, 2))
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    p = {"mode": "train"}
    rm, rv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    for _ in range(2):
        dout = rng.normal(size=x.shape)
        out, cache = nm.spatial_batchnorm_forward(x, gamma, beta, p)
        t_out, t_dx, t_dg, t_db = _torch_bn(x, gamma, beta, rm, rv, dout, True)
        np.testing.assert_allclose(out, t_out, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(p["running_var"], rv.numpy(), rtol=1e-12)  # unbiased with m = N*H*W
        dx, dg, db = nm.spatial_batchnorm_backward(dout, cache)
        assert rel_error(dx, t_dx) < 1e-12 and rel_error(dg, t_dg) < 1e-12 and rel_error(db, t_db) < 1e-12
        x = rng.normal(1.0, 2.0, size=x.shape)
    p["mode"] = "eval"
    out, _ = nm.spatial_batchnorm_forward(x, gamma, beta, p)
    np.testing.assert_allclose(out, _torch_bn(x, gamma, beta, rm, rv, np.ones_like(x), False)[0], rtol=1e-10)


def test_layernorm_matches_torch():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 7)) * rng.uniform(0.5, 3, size=(4, 1)) + rng.normal(size=(4, 1))
    gamma, beta, dout = rng.normal(size=7), rng.normal(size=7), rng.normal(size=(4, 7))
    for eps in (1e-5, 1e-2):
        out, cache = nm.layernorm_forward(x, gamma, beta, {"eps": eps})
        xt, gt, bt = T(x, True), T(gamma, True), T(beta, True)
        t_out = F.layer_norm(xt, (7,), gt, bt, eps=eps)
        t_out.backward(T(dout))
        np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
        dx, dg, db = nm.layernorm_backward(dout, cache)
        assert rel_error(dx, xt.grad.numpy()) < 1e-12
        assert rel_error(dg, gt.grad.numpy()) < 1e-12 and rel_error(db, bt.grad.numpy()) < 1e-12


def test_fold_batchnorm_matches_torch_fusion_and_eval_outputs():
    rng = np.random.default_rng(3)
    d, m = 6, 4
    lin, bn = torch.nn.Linear(d, m).double(), torch.nn.BatchNorm1d(m, eps=1e-3).double()
    with torch.no_grad():
        bn.weight.copy_(T(rng.normal(size=m)))
        bn.bias.copy_(T(rng.normal(size=m)))
        bn.running_mean.copy_(T(rng.normal(size=m)))
        bn.running_var.copy_(T(rng.uniform(0.3, 2, size=m)))
    lin.eval(), bn.eval()
    w, b = lin.weight.detach().numpy().T, lin.bias.detach().numpy()
    wf, bf = nm.fold_batchnorm(
        w,
        b,
        bn.weight.detach().numpy(),
        bn.bias.detach().numpy(),
        bn.running_mean.numpy(),
        bn.running_var.numpy(),
        1e-3,
    )
    fused = torch.nn.utils.fusion.fuse_linear_bn_eval(lin, bn)
    np.testing.assert_allclose(wf, fused.weight.detach().numpy().T, rtol=1e-12)
    np.testing.assert_allclose(bf, fused.bias.detach().numpy(), rtol=1e-12, atol=1e-14)
    x = rng.normal(size=(5, d))
    with torch.no_grad():
        want = bn(lin(T(x))).numpy()
    np.testing.assert_allclose(x @ wf + bf, want, rtol=1e-10, atol=1e-12)
    p = {"mode": "eval", "eps": 1e-3, "running_mean": bn.running_mean.numpy(), "running_var": bn.running_var.numpy()}
    out, _ = nm.batchnorm_forward(x @ w + b, bn.weight.detach().numpy(), bn.bias.detach().numpy(), p)
    np.testing.assert_allclose(x @ wf + bf, out, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- finite differences
def _fresh(mode="train"):
    return {"mode": mode, "running_mean": np.full(3, 0.5), "running_var": np.full(3, 2.0)}


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("backward", ["batchnorm_backward", "batchnorm_backward_alt"])
def test_batchnorm_gradcheck(mode, backward):
    rng = np.random.default_rng(4)
    x, dout = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    gamma, beta = rng.normal(size=3), rng.normal(size=3)
    _, cache = nm.batchnorm_forward(x, gamma, beta, _fresh(mode))
    dx, dg, db = getattr(nm, backward)(dout, cache)
    assert check_gradient(lambda v: nm.batchnorm_forward(v, gamma, beta, _fresh(mode))[0], x, dx, dout)
    assert check_gradient(lambda v: nm.batchnorm_forward(x, v, beta, _fresh(mode))[0], gamma, dg, dout)
    assert check_gradient(lambda v: nm.batchnorm_forward(x, gamma, v, _fresh(mode))[0], beta, db, dout)


def test_spatial_and_layernorm_gradcheck():
    rng = np.random.default_rng(5)
    x, g, b = rng.normal(size=(2, 3, 2, 3)), rng.normal(size=3), rng.normal(size=3)
    dout = rng.normal(size=x.shape)
    _, cache = nm.spatial_batchnorm_forward(x, g, b, {})
    dx, dg, _ = nm.spatial_batchnorm_backward(dout, cache)
    assert check_gradient(lambda v: nm.spatial_batchnorm_forward(v, g, b, {})[0], x, dx, dout)
    assert check_gradient(lambda v: nm.spatial_batchnorm_forward(x, v, b, {})[0], g, dg, dout)
    x, g, b, dout = rng.normal(size=(3, 5)), rng.normal(size=5), rng.normal(size=5), rng.normal(size=(3, 5))
    _, cache = nm.layernorm_forward(x, g, b)
    dx, dg, db = nm.layernorm_backward(dout, cache)
    assert check_gradient(lambda v: nm.layernorm_forward(v, g, b)[0], x, dx, dout)
    assert check_gradient(lambda v: nm.layernorm_forward(x, v, b)[0], g, dg, dout)
    assert check_gradient(lambda v: nm.layernorm_forward(x, g, v)[0], b, db, dout)


# ---------------------------------------------------------------- properties
shapes = st.tuples(st.integers(2, 9), st.integers(1, 6))


@settings(max_examples=30, deadline=None)
@given(shapes, st.integers(0, 2**31 - 1))
def test_batchnorm_properties(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape) * rng.uniform(0.5, 5, size=shape[1]) + rng.normal(size=shape[1]) * 10
    gamma, beta = rng.uniform(0.5, 2, size=shape[1]), rng.normal(size=shape[1])
    out, cache = nm.batchnorm_forward(x, gamma, beta, {"eps": 1e-12})
    assert out.shape == shape
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-8)  # columns: mean beta, std gamma
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-5)
    # invariant to a positive per-feature affine change of the input
    a, c = rng.uniform(0.5, 3, size=shape[1]), rng.normal(size=shape[1])
    np.testing.assert_allclose(nm.batchnorm_forward(a * x + c, gamma, beta, {"eps": 1e-12})[0], out, atol=1e-6)
    dout = rng.normal(size=shape)
    dx, dg, db = nm.batchnorm_backward(dout, cache)
    assert dx.shape == shape and dg.shape == db.shape == (shape[1],)
    np.testing.assert_allclose(dx.sum(axis=0), 0, atol=1e-6 * (1 + np.abs(dx).max()))  # shift invariance
    np.testing.assert_allclose(dx, nm.batchnorm_backward_alt(dout, cache)[0], rtol=1e-8, atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(st.tuples(st.integers(1, 6), st.integers(2, 9)), st.integers(0, 2**31 - 1))
def test_layernorm_properties(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape) * 3 + rng.normal(size=(shape[0], 1)) * 10
    x[:, 0] += 1.0  # no constant rows
    out, cache = nm.layernorm_forward(x, np.ones(shape[1]), np.zeros(shape[1]), {"eps": 1e-12})
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-8)
    np.testing.assert_allclose(out.std(axis=1), 1, rtol=1e-5)
    # each row on its own: the batch does not matter (unlike batch norm)
    np.testing.assert_allclose(
        nm.layernorm_forward(x[:1], np.ones(shape[1]), np.zeros(shape[1]), {"eps": 1e-12})[0], out[:1], atol=1e-12
    )
    dx = nm.layernorm_backward(np.random.default_rng(seed).normal(size=shape), cache)[0]
    np.testing.assert_allclose(dx.sum(axis=1), 0, atol=1e-6 * (1 + np.abs(dx).max()))


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call,exc,msg",
    [
        (lambda: nm.batchnorm_forward(np.ones(3), np.ones(3), np.zeros(3), {}), ValueError, "x must be a 2-D"),
        (lambda: nm.batchnorm_forward(np.ones((2, 3)), np.ones(4), np.zeros(3), {}), ValueError, "gamma"),
        (
            lambda: nm.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"mode": "test"}),
            ValueError,
            "bn_param['mode']",
        ),
        (
            lambda: nm.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"momentum": 1.5}),
            ValueError,
            "momentum",
        ),
        (
            lambda: nm.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"running_var": np.ones(2)}),
            ValueError,
            "running_var",
        ),
        (lambda: nm.batchnorm_forward(np.ones((1, 3)), np.ones(3), np.zeros(3), {}), ValueError, "at least 2 rows"),
        (lambda: nm.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), None), TypeError, "bn_param"),
        (
            lambda: nm.spatial_batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {}),
            ValueError,
            "(N, C, H, W)",
        ),
        (lambda: nm.layernorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(2)), ValueError, "beta"),
        (lambda: nm.layernorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"eps": -1}), ValueError, "eps"),
        (
            lambda: nm.fold_batchnorm(np.ones((3, 2)), np.ones(3), np.ones(2), np.ones(2), np.ones(2), np.ones(2)),
            ValueError,
            "b must have shape",
        ),
        (
            lambda: nm.fold_batchnorm(np.ones((3, 2)), np.ones(2), np.ones(2), np.ones(2), np.ones(2), -np.ones(2)),
            ValueError,
            "running_var",
        ),
    ],
)
def test_bad_input_messages(call, exc, msg):
    with pytest.raises(exc) as info:
        call()
    assert msg in str(info.value)


def test_eval_mode_accepts_a_single_example():
    out, _ = nm.batchnorm_forward(np.ones((1, 2)), np.ones(2), np.zeros(2), {"mode": "eval"})
    np.testing.assert_allclose(out, 1 / np.sqrt(1 + 1e-5))


# ---------------------------------------------------------------- grading
TOPIC = load_topic("04")
POINTS = {p.name: p.points for p in TOPIC.parts}


def test_reference_gets_full_marks():
    scores = grade_module("04", dk)
    assert {k: v[0] for k, v in scores.items()} == POINTS, scores


def _fake(**overrides):
    """The reference deepkit with some functions of norm replaced (a student's library)."""
    mod = types.SimpleNamespace(**{k: getattr(nm, k) for k in dir(nm) if not k.startswith("__")})
    for k, v in overrides.items():
        setattr(mod, k, v)
    return types.SimpleNamespace(norm=mod)


def _lost(fake) -> dict:
    return {k: POINTS[k] - v[0] for k, v in grade_module("04", fake).items() if v[0] < POINTS[k]}


# --- blind spots: what the docstrings define at the edges, each with an implementation that gets it wrong
def _eval_needs_two_rows(x, gamma, beta, p):
    if len(x) < 2:
        raise ValueError("batch norm needs at least 2 rows")
    return nm.batchnorm_forward(x, gamma, beta, p)


def _no_eps(x, gamma, beta, ln_param=None):  # divides by the bare standard deviation: a constant row -> NaN
    mu = x.mean(axis=1, keepdims=True)
    inv_std = 1 / np.sqrt(((x - mu) ** 2).mean(axis=1, keepdims=True))
    return gamma * (x - mu) * inv_std + beta, {"x": x, "mu": mu, "inv_std": inv_std, "gamma": gamma}


@pytest.mark.parametrize(
    "fake,lost",
    [
        (dict(batchnorm_forward=_eval_needs_two_rows), {"bn_running_eval"}),
        (dict(batchnorm_forward=checks._momentum_zero_is_missing), {"bn_running_eval"}),
        (dict(batchnorm_forward=checks._eval_updates_statistics), {"bn_running_eval"}),
        (dict(batchnorm_backward=checks._eval_backward_as_train("batchnorm_backward")), {"bn_backward"}),
        (dict(batchnorm_backward_alt=checks._eval_backward_as_train("batchnorm_backward_alt")), {"bn_backward_alt"}),
        (dict(spatial_batchnorm_backward=checks._spatial_eval_backward_as_train), {"spatial_bn_backward"}),
        (dict(layernorm_forward=_no_eps), {"ln_forward", "ln_backward"}),
    ],
    ids=[
        "eval-one-example",
        "momentum-0",
        "eval-updates",
        "eval-backward",
        "eval-backward-alt",
        "spatial-eval",
        "ln-no-eps",
    ],
)
def test_blind_spot_mutants_lose_exactly_their_parts(fake, lost):
    with np.errstate(all="ignore"):  # the mutants divide by zero on purpose
        got = _lost(_fake(**fake))
    assert set(got) == lost, got


def test_every_hidden_case_exercises_the_edges():
    """Eval mode for every forward and backward, one example in eval, momentum 0 and 1 (probes); batches of 2,
    zero-variance columns/rows and single-example layer norm on some seeds (generators)."""
    probes, parts = load_probes(TOPIC), {p.name: p for p in TOPIC.parts}
    out = run_probe(probes, parts["bn_running_eval"], dk, make_cases(parts["bn_running_eval"])[0])
    assert (
        out["eval_out_one_example"].shape[0] == 1
        and "running_var_momentum_0" in out
        and "running_var_momentum_1" in out
    )
    for name in ("bn_backward", "bn_backward_alt", "spatial_bn_backward"):
        assert {"dx_eval", "dgamma_eval", "dbeta_eval"} <= set(parts[name].grads)
    bn_cases = [c for name in ("bn_forward", "bn_backward") for c in make_cases(parts[name])]
    assert any(len(c["x"]) == 2 for c in bn_cases) or any(
        len(c["x"]) == 2 for c in make_cases(parts["bn_backward_alt"])
    )
    assert any(np.any(np.ptp(c["x"], axis=0) == 0) for c in bn_cases)
    ln_cases = make_cases(parts["ln_forward"]) + make_cases(parts["ln_backward"])
    assert any(np.any(np.ptp(c["x"], axis=1) == 0) for c in ln_cases)
    assert any(len(c["x"]) == 1 for c in ln_cases)


def test_a_wrong_return_structure_says_what_to_return():
    scores = grade_module("04", _fake(batchnorm_forward=lambda x, g, b, p: nm.batchnorm_forward(x, g, b, p)[0]))
    assert "batchnorm_forward must return a pair (out, cache)" in scores["bn_forward"][1]
    scores = grade_module("04", _fake(layernorm_backward=lambda d, c: nm.layernorm_backward(d, c)[0]))
    assert "layernorm_backward must return a triple (dx, dgamma, dbeta)" in scores["ln_backward"][1]


def test_float32_inside_is_named_as_a_precision_problem():
    def float32_forward(x, gamma, beta, p):
        out, cache = nm.batchnorm_forward(np.float32(x), np.float32(gamma), np.float32(beta), p)
        return np.float32(out).astype(np.float64), cache

    points, reason = grade_module("04", _fake(batchnorm_forward=float32_forward), parts=["bn_forward"])["bn_forward"]
    assert points < POINTS["bn_forward"] and "float32" in reason, reason


# --- fairness: correct implementations written differently from the reference keep every point
def _loop_forward(x, gamma, beta, p):
    """Column by column with np.mean / np.var; the running variance from np.var(ddof=1); its own cache tuple."""
    mode, eps, m = p.get("mode", "train"), p.get("eps", 1e-5), p.get("momentum", 0.1)
    rm = np.zeros(x.shape[1]) if p.get("running_mean") is None else np.array(p["running_mean"], dtype=float)
    rv = np.ones(x.shape[1]) if p.get("running_var") is None else np.array(p["running_var"], dtype=float)
    out, xhat, std = np.empty_like(x), np.empty_like(x), np.empty(x.shape[1])
    for j in range(x.shape[1]):
        col = x[:, j]
        mu, var = (col.mean(), col.var()) if mode == "train" else (rm[j], rv[j])
        std[j] = np.sqrt(var + eps)
        xhat[:, j] = (col - mu) / std[j]
        out[:, j] = gamma[j] * xhat[:, j] + beta[j]
        if mode == "train":
            rm[j] += m * (col.mean() - rm[j])  # the same update written as a step towards the batch value
            rv[j] += m * (col.var(ddof=1) - rv[j])
    p["running_mean"], p["running_var"] = rm, rv
    return out, (mode, xhat, std, gamma)


def _jacobian_backward(dout, cache):
    """dx column by column through the explicit Jacobian d xhat / d x = (I - 1/N - xhat xhat^T / N) / std."""
    mode, xhat, std, gamma = cache
    n, d = dout.shape
    dx = np.empty_like(dout)
    for j in range(d):
        jac = np.eye(n) / std[j]
        if mode == "train":
            jac = (np.eye(n) - 1.0 / n - np.outer(xhat[:, j], xhat[:, j]) / n) / std[j]
        dx[:, j] = jac.T @ (gamma[j] * dout[:, j])
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)


def _mean_form_backward(dout, cache):
    """The closed form written with batch means: (dout - mean(dout) - xhat * mean(dout * xhat)) * gamma / std."""
    mode, xhat, std, gamma = cache
    dgamma, dbeta = (dout * xhat).sum(axis=0), dout.sum(axis=0)
    if mode == "eval":
        return dout * gamma / std, dgamma, dbeta
    return (dout - dout.mean(axis=0) - xhat * (dout * xhat).mean(axis=0)) * gamma / std, dgamma, dbeta


def _spatial_via_transpose(x, gamma, beta, p):
    """The docstring's hint: channels last, (N * H * W, C), the student's own batchnorm_forward, and back."""
    n, c, h, w = x.shape
    out, cache = _loop_forward(x.transpose(0, 2, 3, 1).reshape(-1, c), gamma, beta, p)
    return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), (cache, x.shape)


def _spatial_backward_via_transpose(dout, cache):
    bn_cache, (n, c, h, w) = cache
    dx, dgamma, dbeta = _mean_form_backward(dout.transpose(0, 2, 3, 1).reshape(-1, c), bn_cache)
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta


def _ln_as_transposed_batch_norm(x, gamma, beta, ln_param=None):
    """Layer norm = batch norm of x.T (no affine), transposed back, then gamma and beta per feature."""
    eps = (ln_param or {}).get("eps", 1e-5)
    xhat_t, _ = nm.batchnorm_forward(x.T, np.ones(len(x)), np.zeros(len(x)), {"eps": eps})
    return gamma * xhat_t.T + beta, (xhat_t.T, 1 / np.sqrt(x.var(axis=1) + eps), gamma)


def _ln_loop_backward(dout, cache):
    """Row by row through the explicit Jacobian of one row's normalization."""
    xhat, inv_std, gamma = cache
    n, d = dout.shape
    dx = np.empty_like(dout)
    for i in range(n):
        jac = (np.eye(d) - 1.0 / d - np.outer(xhat[i], xhat[i]) / d) * inv_std[i]
        dx[i] = jac.T @ (gamma * dout[i])
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def _fold_with_diag(w, b, gamma, beta, rm, rv, eps=1e-5):
    s = np.diag(gamma / np.sqrt(rv + eps))
    return w @ s, (b - rm) @ s + beta


ALTERNATIVES = {
    "loops, np.var, Jacobians": dict(
        batchnorm_forward=_loop_forward,
        batchnorm_backward=_jacobian_backward,
        batchnorm_backward_alt=_mean_form_backward,
        spatial_batchnorm_forward=_spatial_via_transpose,
        spatial_batchnorm_backward=_spatial_backward_via_transpose,
        layernorm_forward=_ln_as_transposed_batch_norm,
        layernorm_backward=_ln_loop_backward,
        fold_batchnorm=_fold_with_diag,
    ),
}


@pytest.mark.parametrize("name", sorted(ALTERNATIVES))
def test_differently_written_correct_implementations_keep_every_point(name):
    scores = grade_module("04", _fake(**ALTERNATIVES[name]))
    assert {k: v[0] for k, v in scores.items()} == POINTS, scores


def test_no_alternative_is_mistaken_for_a_misconception():
    """On every hidden case the alternatives' outputs pass and match none of the bank's mistakes."""
    fake, probes = _fake(**ALTERNATIVES["loops, np.var, Jacobians"]), load_probes(TOPIC)
    for part in TOPIC.parts:
        for inputs in make_cases(part):
            got = run_probe(probes, part, fake, inputs)
            assert compare_case(part, got, run_probe(probes, part, dk, inputs), inputs).fraction == 1.0, part.name


# ---------------------------------------------------------------- widget
def test_widget_trains_redraws_and_shows_the_bn_effect():
    import matplotlib

    matplotlib.use("Agg")
    from deepkit.viz import normalization as vb

    none, bn = vb.train_run("none", 16, steps=20), vb.train_run("batch", 16, steps=20)
    assert none.hist.shape == (3, 6, len(vb.BINS) - 1) and none.pct.shape == (3, 6, 5)
    # tiny weights: without BN the last layer's activations collapse to ~0, with BN they spread out
    assert np.abs(none.pct[0, -1]).max() < 0.01 < np.abs(bn.pct[0, -1, [1, 3]]).min()
    assert bn.losses[-5:].mean() < bn.losses[:5].mean() - 0.2
    ln = vb.train_run("layer", 4, steps=20)
    np.testing.assert_array_equal(ln.acc_train, ln.acc_eval)  # LN: train mode == eval mode
    with pytest.raises(ValueError, match="norm must be one of"):
        vb.train_run("group", 4)

    e = vb.explorer(steps=20)
    png, redraws = e.image.value, e.redraws
    e.controls["step"].value = 10
    e.controls["layer"].value = 2
    assert e.redraws == redraws + 2 and e.image.value != png
    assert "layer 2" in e.status.value and "train mode" in e.status.value


def test_blitted_redraws_are_pixel_exact():
    """The explorer redraws only its lines on a saved frame (BlitExplorer): the image equals a full draw."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from PIL import Image

    from deepkit.viz import base
    from deepkit.viz import normalization as vb

    def pixels(png):
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

    e = vb.explorer(steps=20)
    for control, value in (("step", 10), ("layer", 2), ("batch_size", 4), ("norm", "layer"), ("batch_size", 16)):
        e.controls[control].value = value
        np.testing.assert_array_equal(pixels(e.image.value), pixels(base.png_bytes(e.draw())), err_msg=control)
    assert len(e._backgrounds) == 2  # one saved frame per batch size seen
