"""Topic 05 (regularization, the dropout family, early stopping): reference vs torch autograd (float64), finite
differences, property tests, bad input, and the topic's grading (full marks for the reference, no flakes over
1000 seeds, each classic bug loses its own part's points)."""

from __future__ import annotations

import copy
import dataclasses
import types

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.checks import regularization as reg_checks
from autograder.local import grade_module, load_probes, load_topic, make_cases, run_probe
from tests.refs import dk  # puts the reference deepkit on the path

check_gradient, rel_error = dk.gradcheck.check_gradient, dk.gradcheck.rel_error

R, D, E = dk.regularizers, dk.dropout, dk.early_stopping
TOPIC = load_topic("05")
PROBES = load_probes(TOPIC)
PARTS = {p.name: p for p in TOPIC.parts}


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------- penalties
@pytest.mark.parametrize("seed", range(3))
def test_penalties_match_torch_autograd(seed):
    g = rng(seed)
    w = g.normal(size=(4, 6))
    lam, r = 0.37, 0.3
    cases = {
        "l1": (R.l1_penalty(w, lam), lambda t: lam * t.abs().sum()),
        "l2": (R.l2_penalty(w, lam), lambda t: 0.5 * lam * (t**2).sum()),
        "enet": (R.elastic_net_penalty(w, lam, r), lambda t: lam * (r * t.abs().sum() + (1 - r) / 2 * (t**2).sum())),
    }
    for name, ((value, grad), torch_fn) in cases.items():
        tw = t64(w, grad=True)
        tv = torch_fn(tw)
        tv.backward()
        assert abs(value - tv.item()) < 1e-12 * max(1, abs(tv.item())), name
        assert rel_error(grad, tw.grad.numpy()) < 1e-14, name
        assert check_gradient(lambda v, f=name: np.array(cases[f][1](t64(v)).item()), w, grad), name


def test_l2_is_torch_weight_decay():
    """One SGD step on loss + l2_penalty(w, lam) equals torch.optim.SGD(weight_decay=lam) on the loss."""
    g = rng(1)
    w, dloss, lam, lr = g.normal(size=(3, 5)), g.normal(size=(3, 5)), 0.1, 0.5
    ours = w - lr * (dloss + R.l2_penalty(w, lam)[1])
    tw = t64(w, grad=True)
    opt = torch.optim.SGD([tw], lr=lr, weight_decay=lam)
    (tw * t64(dloss)).sum().backward()
    opt.step()
    assert np.allclose(ours, tw.detach().numpy(), rtol=1e-14, atol=1e-15)


def test_penalty_special_cases():
    w = np.array([[-2.0, 0.0, 3.0]])
    assert R.l1_penalty(w, 0.5) == (2.5, pytest.approx(np.array([[-0.5, 0.0, 0.5]])))
    assert R.l2_penalty(w, 0.5)[0] == pytest.approx(0.25 * 13)
    for r in (0.0, 1.0):  # elastic net's end points are the pure penalties
        v, gr = R.elastic_net_penalty(w, 0.7, r)
        v0, g0 = (R.l1_penalty if r == 1.0 else R.l2_penalty)(w, 0.7)
        assert v == pytest.approx(v0) and np.allclose(gr, g0)


@pytest.mark.parametrize("p", [0.3, 0.5, 1.0, 1.5, 2.0, 3.0])
def test_lp_penalty_matches_torch_autograd_and_its_special_cases(p):
    w = rng(20).normal(size=(4, 5))
    value, grad = R.lp_penalty(w, 0.4, p)
    tw = t64(w, grad=True)
    tv = 0.4 * (tw.abs() ** p).sum()
    tv.backward()
    assert value == pytest.approx(tv.item(), rel=1e-12)
    assert rel_error(grad, tw.grad.numpy()) < 1e-13
    assert check_gradient(lambda v: np.array(R.lp_penalty(v, 0.4, p)[0]), w, grad)
    if p == 1.0:  # Lp with p = 1 is L1, with p = 2 twice l2_penalty's value
        assert np.allclose(grad, R.l1_penalty(w, 0.4)[1]) and value == pytest.approx(R.l1_penalty(w, 0.4)[0])
    if p == 2.0:
        assert value == pytest.approx(2 * R.l2_penalty(w, 0.4)[0]) and np.allclose(grad, 2 * R.l2_penalty(w, 0.4)[1])
    w[0, :2] = 0.0  # at w = 0 the (sub)gradient is 0 for every p, finite also for p < 1
    value, grad = R.lp_penalty(w, 0.4, p)
    assert np.all(np.isfinite(grad)) and np.all(grad[0, :2] == 0.0)


def test_lp_with_p_below_one_sparsifies_and_above_one_shrinks():
    """The 1-D proximal problem min_w (w - a)^2 / 2 + lam |w|^p: p < 1 sets small |a| exactly to 0 (a jump),
    p > 1 only shrinks (a continuous map, never exactly 0)."""
    from scipy.optimize import minimize_scalar

    def prox(a, p, lam=0.5):
        grid = np.linspace(-3, 3, 60001)  # global minimum of a non-convex function: a fine grid, then refine
        w0 = grid[np.argmin(0.5 * (grid - a) ** 2 + lam * np.abs(grid) ** p)]
        res = minimize_scalar(
            lambda v: 0.5 * (v - a) ** 2 + R.lp_penalty(np.array([v]), lam, p)[0],
            bounds=(w0 - 1e-3, w0 + 1e-3),
            method="bounded",
            options={"xatol": 1e-12},
        )
        return 0.0 if abs(w0) < 1e-4 else res.x

    small = [prox(a, 0.5) for a in (0.5, 0.9, 1.2)]  # threshold 1.5 * lam ** (2 / 3) = 0.945 for p = 1/2
    assert small[:2] == [0.0, 0.0] and small[2] > 0.5  # a jump from 0 to well above 0
    shrunk = [prox(a, 2.0) for a in (0.3, 0.6, 0.9)]
    assert np.allclose(shrunk, np.array([0.3, 0.6, 0.9]) / 2.0, atol=1e-6)  # a / (1 + 2 lam), never 0


def test_max_norm_matches_torch_renorm():
    g = rng(2)
    w = g.normal(size=(7, 9)) * g.uniform(0.2, 3, size=(1, 9))
    c = float(np.median(np.linalg.norm(w, axis=0)))
    before = w.copy()
    ours = R.max_norm_project(w, c, axis=0)
    assert np.array_equal(w, before), "max_norm_project must not modify its input"
    ref = torch.renorm(t64(w), p=2, dim=1, maxnorm=c).numpy()  # sub-tensors along dim 1 = columns
    assert np.allclose(ours, ref, rtol=1e-6)  # torch rescales by c / (norm + 1e-7)
    ref_rows = torch.renorm(t64(w), p=2, dim=0, maxnorm=c).numpy()
    assert np.allclose(R.max_norm_project(w, c, axis=1), ref_rows, rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.floats(0.1, 5.0), st.integers(0, 1), st.integers(0, 2**31))
def test_max_norm_properties(d, m, c, axis, seed):
    w = rng(seed).normal(size=(d, m)) * 3
    p = R.max_norm_project(w, c, axis=axis)
    norms_in, norms_out = np.linalg.norm(w, axis=axis), np.linalg.norm(p, axis=axis)
    assert np.all(norms_out <= c * (1 + 1e-12))
    inside = norms_in <= c
    assert np.allclose(np.compress(inside, p, axis=1 - axis), np.compress(inside, w, axis=1 - axis))
    assert np.allclose(R.max_norm_project(p, c, axis=axis), p)  # a projection is idempotent
    cos = np.sum(p * w, axis=axis) / (norms_in * norms_out)  # directions are kept
    assert np.allclose(cos, 1.0)


# ------------------------------------------------------------------------------------------------ dropout
def test_dropout_matches_torch_semantics():
    x = rng(3).uniform(0.5, 2, size=(200, 300))
    p = 0.3
    out, cache = D.dropout_forward(x, p, "train", rng(4))
    torch.manual_seed(0)
    tout = torch.nn.functional.dropout(t64(x), p=p, training=True).numpy()
    for o in (out, tout):  # both inverted: kept values are x / (1 - p), dropped are 0
        ratio = o / x
        assert np.all(np.isclose(ratio, 0) | np.isclose(ratio, 1 / (1 - p)))
        assert abs((ratio == 0).mean() - p) < 6 * np.sqrt(p * (1 - p) / x.size)
    assert np.array_equal(D.dropout_forward(x, p, "eval", rng(4))[0], x)
    # backward == torch autograd of x * (the same scaled mask)
    dout = rng(5).normal(size=x.shape)
    tx = t64(x, grad=True)
    (tx * t64(out / x) * t64(dout)).sum().backward()
    assert rel_error(D.dropout_backward(dout, cache), tx.grad.numpy()) < 1e-15


def test_dropout_gradcheck_and_edges():
    x = rng(6).normal(size=(4, 5))
    out, cache = D.dropout_forward(x, 0.4, "train", rng(7))
    dout = rng(8).normal(size=x.shape)
    f = lambda v: D.dropout_forward(v, 0.4, "train", rng(7))[0]  # same seed -> same mask
    assert check_gradient(f, x, D.dropout_backward(dout, cache), dout)
    assert np.array_equal(D.dropout_forward(x, 0.0, "train", rng(0))[0], x)
    assert np.array_equal(D.dropout_forward(x, 1.0, "train", rng(0))[0], np.zeros_like(x))
    _, ce = D.dropout_forward(x, 0.4, "eval", rng(0))
    assert np.array_equal(D.dropout_backward(dout, ce), dout)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.floats(0.0, 1.0), st.sampled_from(["train", "eval"]))
def test_dropout_family_shapes(shape, p, mode):
    x = rng(0).normal(size=shape)
    out, cache = D.dropout_forward(x, p, mode, rng(1))
    assert out.shape == x.shape and D.dropout_backward(np.ones_like(x), cache).shape == x.shape
    x4 = rng(0).normal(size=(2, 3, *(shape + [1, 1])[:2]))
    out4, c4 = D.spatial_dropout_forward(x4, p, mode, rng(1))
    assert out4.shape == x4.shape and D.spatial_dropout_backward(np.ones_like(x4), c4).shape == x4.shape


def test_dropconnect_matches_torch_autograd():
    g = rng(9)
    x, w, b, dout = g.normal(size=(6, 5)), g.normal(size=(5, 4)), g.normal(size=4), g.normal(size=(6, 4))
    p = 0.4
    out, cache = D.dropconnect_forward(x, w, b, p, "train", rng(10))
    # recover the scaled mask from an identity input with the same seed
    w_eff = D.dropconnect_forward(np.eye(5), w, b, p, "train", rng(10))[0] - b
    smask = w_eff / w
    assert np.all(np.isclose(smask, 0) | np.isclose(smask, 1 / (1 - p)))
    tx, tw, tb = t64(x, True), t64(w, True), t64(b, True)
    tout = tx @ (tw * t64(smask)) + tb
    (tout * t64(dout)).sum().backward()
    assert np.allclose(out, tout.detach().numpy(), rtol=1e-13)
    dx, dw, db = D.dropconnect_backward(dout, cache)
    for ours, ref in ((dx, tx.grad), (dw, tw.grad), (db, tb.grad)):
        assert rel_error(ours, ref.numpy()) < 1e-14
    fwd = lambda xx=x, ww=w, bb=b: D.dropconnect_forward(xx, ww, bb, p, "train", rng(10))[0]
    assert check_gradient(lambda v: fwd(xx=v), x, dx, dout, name="x")
    assert check_gradient(lambda v: fwd(ww=v), w, dw, dout, name="w")
    assert check_gradient(lambda v: fwd(bb=v), b, db, dout, name="b")
    ev, _ = D.dropconnect_forward(x, w, b, p, "eval", rng(0))
    assert np.allclose(ev, x @ w + b)


def test_spatial_dropout_matches_torch_dropout2d():
    x = rng(11).uniform(0.5, 2, size=(300, 16, 4, 4))
    p = 0.25
    out, cache = D.spatial_dropout_forward(x, p, "train", rng(12))
    torch.manual_seed(0)
    tout = torch.nn.Dropout2d(p)(t64(x)).numpy()
    for o in (out, tout):
        ratio = (o / x).reshape(300, 16, -1)
        assert np.allclose(ratio, ratio[:, :, :1])  # one value per channel
        assert np.all(np.isclose(ratio, 0) | np.isclose(ratio, 1 / (1 - p)))
        assert abs((ratio[:, :, 0] == 0).mean() - p) < 6 * np.sqrt(p * (1 - p) / (300 * 16))
    dout = rng(13).normal(size=x.shape)
    small = x[:2, :3]
    f = lambda v: D.spatial_dropout_forward(v, p, "train", rng(14))[0]
    _, c2 = D.spatial_dropout_forward(small, p, "train", rng(14))
    assert check_gradient(f, small.copy(), D.spatial_dropout_backward(dout[:2, :3], c2), dout[:2, :3])
    assert np.array_equal(D.spatial_dropout_forward(x, p, "eval", rng(0))[0], x)


# ---------------------------------------------------------------------------------------------- DropBlock
def test_dropblock_gamma_formula():
    # paper, eq. 1: (1 - kp) / bs^2 * f^2 / (f - bs + 1)^2
    assert D.dropblock_gamma(0.9, 7, 14) == pytest.approx(0.1 / 49 * 196 / 64)
    assert D.dropblock_gamma(0.8, 1, 10) == pytest.approx(0.2)  # block_size 1: plain dropout
    assert D.dropblock_gamma(0.8, 3, (8, 10)) == pytest.approx(0.2 / 9 * 80 / (6 * 8))
    assert D.dropblock_gamma(1.0, 3, 8) == 0.0
    # gamma * (#block positions) * bs^2 == (1 - kp) * H * W: the no-overlap drop count
    g, kp, bs, f = D.dropblock_gamma(0.85, 4, 11), 0.85, 4, 11
    assert g * (f - bs + 1) ** 2 * bs**2 == pytest.approx((1 - kp) * f * f)


def test_dropblock_mask_structure_and_exact_rate():
    shape, kp, bs = (400, 16, 10, 10), 0.8, 3
    mask = D.dropblock_mask(shape, kp, bs, rng(15))
    assert mask.shape == shape and set(np.unique(mask)) <= {0.0, 1.0}
    assert reg_checks.blocks_only(mask == 0, bs)
    exact = D.expected_dropblock_rate(kp, bs, 10)
    assert exact == pytest.approx(float(reg_checks.dropblock_pixel_probs(kp, bs, 10, 10).mean()))
    assert exact < 1 - kp  # overlaps make the gamma formula an over-estimate of coverage
    probs = reg_checks.dropblock_pixel_probs(kp, bs, 10, 10)
    sigma = np.sqrt(np.mean(probs * (1 - probs)) / (400 * 16))
    assert abs((mask == 0).mean() - exact) < 6 * sigma
    # the per-pixel probability 1 - (1 - gamma)^k(i, j) (corners are dropped least often)
    per_pixel = (mask == 0).mean(axis=(0, 1))
    assert np.all(np.abs(per_pixel - probs) < 6 * np.sqrt(probs * (1 - probs) / 6400))


def test_dropblock_limits():
    x = rng(16).uniform(0.5, 2, size=(500, 8, 5, 5))
    m1 = D.dropblock_mask(x.shape, 0.7, 1, rng(17))  # block 1: independent pixels at rate 1 - kp
    assert abs((m1 == 0).mean() - 0.3) < 6 * np.sqrt(0.21 / m1.size)
    m5 = D.dropblock_mask(x.shape, 0.7, 5, rng(18))  # block = map: whole channels (SpatialDropout)
    per = m5.reshape(500, 8, -1)
    assert np.all(per.min(axis=2) == per.max(axis=2))
    assert abs((per[:, :, 0] == 0).mean() - 0.3) < 6 * np.sqrt(0.21 / 4000)


def test_dropblock_forward_backward():
    x = rng(19).normal(size=(3, 2, 7, 7))
    out, cache = D.dropblock_forward(x, 0.8, 3, "train", rng(20))
    mask = D.dropblock_mask(x.shape, 0.8, 3, rng(20))  # same seed -> the forward's mask
    assert np.allclose(out, x * mask * mask.size / mask.sum())
    dout = rng(21).normal(size=x.shape)
    dx = D.dropblock_backward(dout, cache)
    tx = t64(x, True)
    (tx * t64(mask * mask.size / mask.sum()) * t64(dout)).sum().backward()
    assert rel_error(dx, tx.grad.numpy()) < 1e-15
    f = lambda v: D.dropblock_forward(v, 0.8, 3, "train", rng(20))[0]
    assert check_gradient(f, x, dx, dout)
    assert np.array_equal(D.dropblock_forward(x, 0.8, 3, "eval", rng(0))[0], x)
    assert np.array_equal(D.dropblock_forward(x, 1.0, 3, "train", rng(0))[0], x)


def test_keep_prob_schedule():
    s = D.keep_prob_schedule
    assert s(0, 100, 0.9) == 1.0 and s(50, 100, 0.9) == pytest.approx(0.95)
    assert s(100, 100, 0.9) == pytest.approx(0.9) and s(1000, 100, 0.9) == pytest.approx(0.9)
    vals = [s(k, 20, 0.75) for k in range(25)]
    assert all(a >= b for a, b in zip(vals, vals[1:]))


# ----------------------------------------------------------------------------------------- early stopping
def _run(metrics, **kw):
    es = E.EarlyStopping(**kw)
    flags = [es.step(m, {"e": np.array([i])}) for i, m in enumerate(metrics)]
    return es, flags


def test_early_stopping_patience_is_exact():
    es, flags = _run([1.0, 1.0, 1.0], patience=2)
    assert flags == [False, False, True]
    es, flags = _run([3.0, 2.0, 2.5, 2.4, 2.2, 2.1], patience=3)
    assert flags == [False, False, False, False, True, True] and es.best_epoch == 1 and es.best == 2.0
    assert es.best_params["e"][0] == 1


def test_early_stopping_min_delta_mode_and_copy():
    _, flags = _run([1.0, 0.95, 0.9], patience=2, min_delta=0.1)  # 0.05 steps are not improvements
    assert flags == [False, False, True]
    es, flags = _run([0.5, 0.6, 0.55, 0.7], patience=2, mode="max")
    assert not any(flags) and es.best_epoch == 3 and es.best == 0.7
    es = E.EarlyStopping(patience=1)
    params = {"w": np.zeros(2)}
    es.step(1.0, params)
    params["w"] += 5  # later in-place updates
    assert np.array_equal(es.best_params["w"], np.zeros(2))  # do not leak into the saved best


def test_early_stopping_on_a_real_validation_curve():
    """Overfitting digits with a big MLP: the val loss is U-shaped; early stopping keeps its bottom."""
    split = dk.data.load_digits(seed=0)
    torch.manual_seed(0)
    X, y = t64(split.X_train[:300]), torch.tensor(split.y_train[:300])
    Xv, yv = t64(split.X_val), torch.tensor(split.y_val)
    net = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)).double()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    es, losses = E.EarlyStopping(patience=10), []
    for _ in range(300):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
        with torch.no_grad():
            losses.append(torch.nn.functional.cross_entropy(net(Xv), yv).item())
        if es.step(losses[-1], copy.deepcopy(net.state_dict())):
            break
    assert es.stopped and es.epoch == es.best_epoch + 10
    assert es.best == min(losses) and losses[-1] > es.best


# ------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: R.l2_penalty(np.ones(3), -1.0), ValueError, "lam"),
        (lambda: R.elastic_net_penalty(np.ones(3), 1.0, 1.5), ValueError, "l1_ratio"),
        (lambda: R.max_norm_project(np.ones(3), 1.0), ValueError, "(D, M)"),
        (lambda: R.max_norm_project(np.ones((2, 2)), 0.0), ValueError, "c"),
        (lambda: D.dropout_forward(np.ones(3), 1.2, "train", rng()), ValueError, "p_drop"),
        (lambda: D.dropout_forward(np.ones(3), 0.5, "test", rng()), ValueError, "mode"),
        (lambda: D.dropout_forward(np.ones(3), 0.5, "train", 0), TypeError, "Generator"),
        (lambda: D.spatial_dropout_forward(np.ones((2, 3)), 0.5, "train", rng()), ValueError, "(N, C, H, W)"),
        (
            lambda: D.dropconnect_forward(np.ones((2, 3)), np.ones((4, 2)), np.ones(2), 0.5, "train", rng()),
            ValueError,
            "w (D, M)",
        ),
        (lambda: D.dropblock_gamma(0.9, 9, 8), ValueError, "block_size"),
        (lambda: D.dropblock_mask((2, 3, 8), 0.9, 3, rng()), ValueError, "(N, C, H, W)"),
        (lambda: D.keep_prob_schedule(-1, 10, 0.9), ValueError, "step"),
        (lambda: E.EarlyStopping(patience=0), ValueError, "patience"),
        (lambda: E.EarlyStopping(mode="best"), ValueError, "mode"),
        (lambda: E.EarlyStopping().step(float("nan")), ValueError, "NaN"),
        (lambda: R.lp_penalty(np.ones(3), 1.0, 0.0), ValueError, "p"),
    ],
)
def test_bad_input_messages(call, exc, words):
    with pytest.raises(exc, match=None) as info:
        call()
    assert words in str(info.value)


# ---------------------------------------------------------------------------------------------- grading
def test_reference_scores_full_marks():
    result = grade_module("05", dk)
    assert {k: v[0] for k, v in result.items()} == {p.name: p.points for p in TOPIC.parts}, result


STATISTICAL = [
    "dropout_forward",
    "dropconnect_forward",
    "spatial_dropout_forward",
    "dropblock_mask",
    "dropblock_forward",
]


def _reference_never_fails(name, n):
    part = dataclasses.replace(PARTS[name], seeds=n)
    for inp in make_cases(part, seed_base=777):
        out = getattr(PROBES, part.probe)(dk, inp)
        frac, why = part.compare(out, out, inp)
        assert frac == 1.0, (name, why)


@pytest.mark.parametrize("name", STATISTICAL)
def test_statistical_checks_do_not_flake_100_seeds(name):
    _reference_never_fails(name, 100)


@pytest.mark.slow
@pytest.mark.parametrize("name", STATISTICAL)
def test_statistical_checks_do_not_flake_1000_seeds(name):
    _reference_never_fails(name, 1000)


def _fake(module_name: str, **replace):
    """A deepkit lookalike: the reference, with some functions of one module replaced."""
    mods = {m: getattr(dk, m) for m in TOPIC.modules}
    ns = types.SimpleNamespace(
        **{k: getattr(mods[module_name], k) for k in dir(mods[module_name]) if not k.startswith("__")}
    )
    for k, v in replace.items():
        setattr(ns, k, v)
    mods[module_name] = ns
    return types.SimpleNamespace(**mods)


def _bernoulli_keep(x_shape, keep, g):
    return (g.random(x_shape) < keep).astype(float)


def _dropout_no_scale(x, p, mode, g):
    if mode == "eval":
        return x.copy(), {"scaled_mask": None}
    m = _bernoulli_keep(x.shape, 1 - p, g)
    return x * m, {"scaled_mask": m}


def _dropout_keep_swapped(x, p, mode, g):
    if mode == "eval" or p in (0.0, 1.0):
        return D.dropout_forward(x, p, mode, g)
    m = _bernoulli_keep(x.shape, p, g) / (1 - p)
    return x * m, {"scaled_mask": m}


def _dropout_test_time_scaling(x, p, mode, g):  # classic (non-inverted) dropout: scale at test time
    if mode == "eval":
        return x * (1 - p), {"scaled_mask": None}
    m = _bernoulli_keep(x.shape, 1 - p, g)
    return x * m, {"scaled_mask": m}


def _dropout_divides_by_zero(x, p, mode, g):  # p_drop == 1 not special-cased: 0 / 0
    if mode == "eval":
        return x.copy(), {"scaled_mask": None}
    with np.errstate(divide="ignore", invalid="ignore"):
        m = _bernoulli_keep(x.shape, 1 - p, g) / (1 - p)
    return x * m, {"scaled_mask": m}


def _spatial_per_pixel(x, p, mode, g):
    return D.dropout_forward(x, p, mode, g)


def _dropblock_mask_no_blocks(shape, kp, bs, g):
    gamma = D.dropblock_gamma(kp, bs, tuple(shape[2:]))
    return (g.random(shape) >= gamma).astype(float)


def _dropblock_mask_wrong_gamma(shape, kp, bs, g):
    n, c, h, w = shape
    seeds = g.random((n, c, h - bs + 1, w - bs + 1)) < (1 - kp) / bs**2  # no feature-size correction
    dropped = np.zeros(shape, bool)
    for i in range(bs):
        for j in range(bs):
            dropped[:, :, i : i + h - bs + 1, j : j + w - bs + 1] |= seeds
    return (~dropped).astype(float)


def _dropblock_mask_clipped(shape, kp, bs, g):
    """Seeds anywhere, blocks centred on them and clipped at the border (a common port of the idea)."""
    n, c, h, w = shape
    seeds = g.random(shape) < min(D.dropblock_gamma(kp, bs, (h, w)), 1.0)
    dropped = np.zeros(shape, bool)
    r = bs // 2
    for i in range(-r, bs - r):
        for j in range(-r, bs - r):
            src = seeds[:, :, max(0, -i) : h - max(0, i), max(0, -j) : w - max(0, j)]
            dropped[:, :, max(0, i) : h - max(0, -i), max(0, j) : w - max(0, -j)] |= src
    return (~dropped).astype(float)


def _dropblock_forward_keep_prob_scale(x, kp, bs, mode, g):
    if mode == "eval" or kp == 1.0:
        return x.copy(), {"scaled_mask": None}
    with np.errstate(divide="ignore", invalid="ignore"):
        m = D.dropblock_mask(x.shape, kp, bs, g) / kp
    return x * m, {"scaled_mask": m}


def _dropblock_forward_nothing_kept_nan(x, kp, bs, mode, g):
    if mode == "eval" or kp == 1.0:
        return x.copy(), {"scaled_mask": None}
    mask = D.dropblock_mask(x.shape, kp, bs, g)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = mask * mask.size / mask.sum()
    return x * m, {"scaled_mask": m}


class _OffByOne(E.EarlyStopping):
    def step(self, val_metric, params=None):
        super().step(val_metric, params)
        self.stopped = self.num_bad_epochs > self.patience
        return self.stopped


class _TiesImprove(E.EarlyStopping):
    """A student's own step with <= : an epoch equal to the best (min_delta 0) resets the count."""

    def step(self, val_metric, params=None):
        self.epoch += 1
        better = (
            val_metric <= self.best - self.min_delta if self.mode == "min" else val_metric >= self.best + self.min_delta
        )
        if better:
            self.best, self.best_epoch, self.num_bad_epochs = float(val_metric), self.epoch, 0
            self.best_params = copy.deepcopy(params)
        else:
            self.num_bad_epochs += 1
        self.stopped = self.num_bad_epochs >= self.patience
        return self.stopped


class _NotACopy(E.EarlyStopping):
    def step(self, val_metric, params=None):
        stop = super().step(val_metric, params)
        if self.best_epoch == self.epoch:
            self.best_params = params
        return stop


def _dc_bias_dropped(x, w, b, p, mode, g):
    out, cache = D.dropconnect_forward(x, w, b, p, mode, g)
    if mode == "train":
        with np.errstate(divide="ignore", invalid="ignore"):
            out = out - b + b * (g.random(b.shape) >= p) / (1 - p)
    return out, cache


def _dc_output_mask(x, w, b, p, mode, g):  # the slides' formula: a mask on the layer's output (bias included)
    if mode == "eval" or p in (0.0, 1.0):
        return D.dropconnect_forward(x, w, b, p, mode, g)
    r = _bernoulli_keep((x.shape[0], w.shape[1]), 1 - p, g) / (1 - p)
    return r * (x @ w + b), {"x": x, "w_eff": w, "scaled_mask": np.ones_like(w)}


def _dc_not_inverted(x, w, b, p, mode, g):
    if mode == "eval":
        return D.dropconnect_forward(x, w, b, p, mode, g)
    m = _bernoulli_keep(w.shape, 1 - p, g)
    return x @ (w * m) + b, {"x": x, "w_eff": w * m, "scaled_mask": m}


def _dropout_mask_per_feature(x, p, mode, g):
    """One Bernoulli per feature, broadcast over the rows: every example drops the same units."""
    if mode == "eval" or p == 0:
        return x.copy(), None
    keep = 1.0 - p
    mask = (g.random(x.shape[1:]) < keep) / keep if keep > 0 else np.zeros(x.shape[1:])
    return x * mask, np.broadcast_to(mask, x.shape)


def _spatial_mask_per_example(x, p, mode, g):
    """One Bernoulli per example, shared by all its channels (mask (N, 1, 1, 1))."""
    if mode == "eval" or p == 0:
        return x.copy(), None
    keep = 1.0 - p
    mask = (g.random((len(x), 1, 1, 1)) < keep) / keep if keep > 0 else np.zeros((len(x), 1, 1, 1))
    return x * mask, np.broadcast_to(mask, x.shape)


def _spatial_mask_per_channel(x, p, mode, g):
    """One Bernoulli per channel, shared by the whole batch (mask (1, C, 1, 1))."""
    if mode == "eval" or p == 0:
        return x.copy(), None
    keep = 1.0 - p
    mask = (g.random((1, x.shape[1], 1, 1)) < keep) / keep if keep > 0 else np.zeros((1, x.shape[1], 1, 1))
    return x * mask, np.broadcast_to(mask, x.shape)


def _dropblock_mask_shared_by_channels(shape, kp, bs, g):
    """One DropBlock mask per example, copied to every channel."""
    return np.repeat(D.dropblock_mask((shape[0], 1, *shape[2:]), kp, bs, g), shape[1], axis=1)


def _dc_mask_per_example(x, w, b, p, mode, g):
    """A weight mask per EXAMPLE (N masks of w's shape) instead of one for the mini-batch."""
    if mode == "eval" or p == 0:
        return D.dropconnect_forward(x, w, b, p, mode, g)
    keep = 1.0 - p
    masks = (g.random((len(x), *w.shape)) < keep) / keep if keep > 0 else np.zeros((len(x), *w.shape))
    return np.einsum("nd,ndm->nm", x, w * masks) + b, {"masks": masks}


def _dc_backward_unmasked(dout, cache):
    dx, _, db = D.dropconnect_backward(dout, cache)
    return dx, cache["x"].T @ dout, db


def _eval_backward_masks(dout, cache):  # in eval mode (no mask) the backward returns zeros
    m = cache["scaled_mask"]
    return np.zeros_like(dout) if m is None else dout * m


def _lp_nan_at_zero(w, lam, p):
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(lam * np.sum(np.abs(w) ** p)), lam * p * np.abs(w) ** (p - 1) * np.sign(w)


# (part that must lose ALL its points, misconception it must be named as or None) -> fake package
WRONG = {
    "l1_penalty": (_fake("regularizers", l1_penalty=reg_checks._l1_without_lambda), reg_checks.L1_WITHOUT_LAMBDA),
    "l1_penalty:sign_at_zero": (
        _fake("regularizers", l1_penalty=reg_checks._l1_sign_at_zero),
        reg_checks.L1_SIGN_AT_ZERO,
    ),
    "l2_penalty": (_fake("regularizers", l2_penalty=reg_checks._l2_twice), reg_checks.L2_TWICE),
    "elastic_net_penalty": (
        _fake("regularizers", elastic_net_penalty=reg_checks._elastic_without_half),
        reg_checks.ELASTIC_WITHOUT_HALF,
    ),
    "lp_penalty": (_fake("regularizers", lp_penalty=reg_checks._lp_without_p), reg_checks.LP_WITHOUT_P),
    "lp_penalty:nan_at_zero": (_fake("regularizers", lp_penalty=_lp_nan_at_zero), reg_checks.LP_NOT_FINITE_AT_ZERO),
    "max_norm_project": (
        _fake("regularizers", max_norm_project=reg_checks._max_norm_rescales_all),
        reg_checks.MAX_NORM_RESCALES_ALL,
    ),
    "dropout_forward:no_scale": (_fake("dropout", dropout_forward=_dropout_no_scale), reg_checks.NOT_INVERTED),
    "dropout_forward:keep_swapped": (
        _fake("dropout", dropout_forward=_dropout_keep_swapped),
        reg_checks.KEEP_AND_DROP_SWAPPED,
    ),
    "dropout_forward:test_time_scaling": (
        _fake("dropout", dropout_forward=_dropout_test_time_scaling),
        reg_checks.SCALES_AT_TEST_TIME,
    ),
    "dropout_forward:p_drop_1": (_fake("dropout", dropout_forward=_dropout_divides_by_zero), None),
    "dropout_backward": (
        _fake(
            "dropout",
            dropout_backward=lambda dout, cache: (
                dout * (1.0 if cache["scaled_mask"] is None else cache["scaled_mask"] != 0)
            ),
        ),
        reg_checks.BACKWARD_WITHOUT_SCALE,
    ),
    "dropout_backward:eval": (_fake("dropout", dropout_backward=_eval_backward_masks), None),
    "dropconnect_forward": (
        _fake("dropout", dropconnect_forward=_dc_not_inverted),
        reg_checks.DROPCONNECT_NOT_INVERTED,
    ),
    "dropconnect_forward:output_mask": (
        _fake("dropout", dropconnect_forward=_dc_output_mask),
        reg_checks.DROPCONNECT_MASKS_OUTPUTS,
    ),
    "dropconnect_backward": (_fake("dropout", dropconnect_backward=_dc_backward_unmasked), reg_checks.DW_UNMASKED),
    "dropconnect_forward:mask_per_example": (_fake("dropout", dropconnect_forward=_dc_mask_per_example), None),
    "dropout_forward:mask_per_feature": (_fake("dropout", dropout_forward=_dropout_mask_per_feature), None),
    "spatial_dropout_forward:mask_per_example": (
        _fake("dropout", spatial_dropout_forward=_spatial_mask_per_example),
        None,
    ),
    "spatial_dropout_forward:mask_per_channel": (
        _fake("dropout", spatial_dropout_forward=_spatial_mask_per_channel),
        None,
    ),
    "dropblock_mask:shared_by_channels": (_fake("dropout", dropblock_mask=_dropblock_mask_shared_by_channels), None),
    "spatial_dropout_forward": (
        _fake("dropout", spatial_dropout_forward=_spatial_per_pixel),
        reg_checks.SPATIAL_PER_PIXEL,
    ),
    "spatial_dropout_backward": (_fake("dropout", spatial_dropout_backward=lambda dout, cache: dout.copy()), None),
    "spatial_dropout_backward:eval": (_fake("dropout", spatial_dropout_backward=_eval_backward_masks), None),
    "dropblock_gamma": (
        _fake("dropout", dropblock_gamma=reg_checks._gamma_without_feature_factor),
        reg_checks.GAMMA_WITHOUT_FEATURE_FACTOR,
    ),
    "dropblock_mask:no_blocks": (_fake("dropout", dropblock_mask=_dropblock_mask_no_blocks), None),
    "dropblock_mask:wrong_gamma": (_fake("dropout", dropblock_mask=_dropblock_mask_wrong_gamma), None),
    "dropblock_mask:clipped": (_fake("dropout", dropblock_mask=_dropblock_mask_clipped), reg_checks.BLOCKS_CLIPPED),
    "dropblock_forward": (
        _fake("dropout", dropblock_forward=_dropblock_forward_keep_prob_scale),
        reg_checks.KEEP_PROB_SCALING,
    ),
    "dropblock_forward:nothing_kept": (_fake("dropout", dropblock_forward=_dropblock_forward_nothing_kept_nan), None),
    "dropblock_backward": (_fake("dropout", dropblock_backward=lambda dout, cache: dout.copy()), None),
    "keep_prob_schedule": (
        _fake("dropout", keep_prob_schedule=reg_checks._schedule_without_clamp),
        reg_checks.SCHEDULE_WITHOUT_CLAMP,
    ),
    "early_stopping:off_by_one": (_fake("early_stopping", EarlyStopping=_OffByOne), reg_checks.OFF_BY_ONE),
    "early_stopping:ties_improve": (_fake("early_stopping", EarlyStopping=_TiesImprove), reg_checks.TIES_IMPROVE),
    "early_stopping:not_a_copy": (_fake("early_stopping", EarlyStopping=_NotACopy), reg_checks.KEEPS_A_REFERENCE),
}


def test_dropping_the_bias_is_caught():
    """A forward bug that also breaks the mask the backward check recovers: loses (at least) the forward."""
    result = grade_module("05", _fake("dropout", dropconnect_forward=_dc_bias_dropped), parts=["dropconnect_forward"])
    assert result["dropconnect_forward"][0] == 0.0


# a forward's mistake may also cost the backward graded through the student's own forward (e.g. at p_drop = 1)
BACKWARD_OF = {
    "dropout_forward": "dropout_backward",
    "dropconnect_forward": "dropconnect_backward",
    "spatial_dropout_forward": "spatial_dropout_backward",
    "dropblock_forward": "dropblock_backward",
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_known_wrong_implementation_loses_exactly_its_part_and_is_named(case):
    part = case.split(":")[0]
    fake, mistake = WRONG[case]
    result = grade_module("05", fake)
    lost = {k: PARTS[k].points - v[0] for k, v in result.items() if v[0] < PARTS[k].points}
    assert lost.get(part) == PARTS[part].points and set(lost) <= {part, BACKWARD_OF.get(part)}, result
    if mistake is not None:
        assert mistake.reason in result[part][1], result[part][1]


@pytest.mark.parametrize(
    "part,mistake",
    [(p, m) for p in TOPIC.parts for m in p.misconceptions if m.detect is not None],
    ids=lambda v: getattr(v, "name", None) or getattr(v, "says", "")[:30],
)
def test_detected_mistakes_never_match_the_reference(part, mistake):
    """The detect() half of tests/test_misconceptions.py: on every hidden case the reference is not detected."""
    for inputs in make_cases(part):
        assert not mistake.detect(run_probe(PROBES, part, dk, inputs), inputs), mistake.says


def test_every_detected_mistake_has_a_wrong_implementation_that_is_named():
    named = {m.says for _, m in WRONG.values() if m is not None}
    detected = [m.says for p in TOPIC.parts for m in p.misconceptions if m.detect is not None]
    assert set(detected) <= named, set(detected) - named


def test_every_hidden_case_exercises_the_edges():
    """Eval mode, p_drop 0 and 1 (keep_prob 1 and 0) in every dropout-family case; exact zeros in the weights."""
    for name, keys in {
        "dropout_forward": {"out_eval", "out_p0", "out_p1"},
        "dropout_backward": {"dx_eval", "dx_p1"},
        "dropconnect_forward": {"out_eval", "out_p0", "out_p1"},
        "dropconnect_backward": {"dx_eval", "dw_eval", "db_eval", "dx_p1", "dw_p1", "db_p1"},
        "spatial_dropout_forward": {"out_eval", "out_p0", "out_p1"},
        "spatial_dropout_backward": {"dx_eval", "dx_p1"},
        "dropblock_mask": {"mask_keep_prob_1", "mask_keep_prob_0_block_1"},
        "dropblock_forward": {"out_eval", "out_keep_prob_1", "out_nothing_kept"},
        "dropblock_backward": {"dx_eval", "dx_p1"},
    }.items():
        out = run_probe(PROBES, PARTS[name], dk, make_cases(PARTS[name])[0])
        assert keys <= set(out), (name, keys - set(out))
    assert np.all(
        run_probe(PROBES, PARTS["dropout_forward"], dk, make_cases(PARTS["dropout_forward"])[0])["out_p1"] == 0
    )
    for name in ("l1_penalty", "lp_penalty"):
        assert all(np.any(c["w"] == 0) for c in make_cases(PARTS[name]))


def test_a_wrong_return_structure_says_what_to_return():
    fake = _fake("dropout", dropout_forward=lambda x, p, mode, g: D.dropout_forward(x, p, mode, g)[0])
    assert "dropout_forward must return a pair (out, cache)" in grade_module("05", fake)["dropout_forward"][1]
    fake = _fake("regularizers", lp_penalty=lambda w, lam, p: R.lp_penalty(w, lam, p)[1])
    assert "lp_penalty must return a pair (value, grad)" in grade_module("05", fake)["lp_penalty"][1]


# --- fairness: correct implementations written differently (other random draws, loops) keep every point
def _binomial_dropout(x, p, mode, g):
    """Another documented draw: rng.binomial instead of rng.random() < keep; a tuple cache."""
    if mode == "eval":
        return x.copy(), (None,)
    keep = 1.0 - p
    scale = g.binomial(1, keep, size=x.shape) / keep if keep > 0 else np.zeros(x.shape)
    return x * scale, (scale,)


def _tuple_backward(dout, cache):
    return dout.copy() if cache[0] is None else dout * cache[0]


def _choice_dropconnect(x, w, b, p, mode, g):
    keep = 1.0 - p
    if mode == "eval":
        scale = np.ones_like(w)
    else:
        scale = g.choice([0.0, 1.0], size=w.shape, p=[p, keep]) / keep if keep > 0 else np.zeros_like(w)
    return x @ (w * scale) + b, (x, w, scale)


def _choice_dropconnect_backward(dout, cache):
    x, w, scale = cache
    return dout @ (w * scale).T, (x.T @ dout) * scale, dout.sum(axis=0)


def _loop_spatial(x, p, mode, g):
    if mode == "eval":
        return x.copy(), (None,)
    keep = 1.0 - p
    scale = np.zeros(x.shape[:2] + (1, 1))
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            scale[n, c] = (g.uniform() < keep) / keep if keep > 0 else 0.0
    return x * scale, (scale,)


def _loop_dropblock_mask(shape, keep_prob, block_size, g):
    """Seed by seed with explicit loops, seeds drawn with rng.binomial."""
    n, c, h, w = shape
    gamma = min(D.dropblock_gamma(keep_prob, block_size, (h, w)), 1.0)
    mask = np.ones(shape)
    seeds = g.binomial(1, gamma, size=(n, c, h - block_size + 1, w - block_size + 1))
    for idx in zip(*np.nonzero(seeds)):
        a, b, i, j = idx
        mask[a, b, i : i + block_size, j : j + block_size] = 0.0
    return mask


def _dropblock_forward_own_mask(x, keep_prob, block_size, mode, g):
    if mode == "eval" or keep_prob == 1.0:
        return x.copy(), (None,)
    mask = _loop_dropblock_mask(x.shape, keep_prob, block_size, g)
    scale = mask * (mask.size / mask.sum()) if mask.sum() > 0 else mask
    return x * scale, (scale,)


class _CountingStopper(E.EarlyStopping):
    """The same rule written with a stored threshold instead of best -/+ min_delta each time."""

    def step(self, val_metric, params=None):
        self.epoch += 1
        better = (
            (val_metric < self.best - self.min_delta)
            if self.mode == "min"
            else (val_metric > self.best + self.min_delta)
        )
        if better:
            self.best, self.best_epoch, self.num_bad_epochs = float(val_metric), self.epoch, 0
            self.best_params = copy.deepcopy(params)
        else:
            self.num_bad_epochs += 1
        self.stopped = not self.num_bad_epochs < self.patience
        return self.stopped


class _GapStopper(_CountingStopper):
    """The improvement written as a gap: best - metric > min_delta (metric - best for mode "max")."""

    def step(self, val_metric, params=None):
        gap = self.best - val_metric if self.mode == "min" else val_metric - self.best
        self.epoch += 1
        if gap > self.min_delta:
            self.best, self.best_epoch, self.num_bad_epochs = float(val_metric), self.epoch, 0
            self.best_params = copy.deepcopy(params)
        else:
            self.num_bad_epochs += 1
        self.stopped = self.num_bad_epochs >= self.patience
        return self.stopped


class _SignedStopper(_CountingStopper):
    """Keras's way: mode "max" as "min" on -metric, and the margin added to the metric: s*metric + min_delta <
    s*best."""

    def step(self, val_metric, params=None):
        sign = 1.0 if self.mode == "min" else -1.0
        self.epoch += 1
        if sign * val_metric + self.min_delta < sign * self.best:
            self.best, self.best_epoch, self.num_bad_epochs = float(val_metric), self.epoch, 0
            self.best_params = copy.deepcopy(params)
        else:
            self.num_bad_epochs += 1
        self.stopped = self.num_bad_epochs >= self.patience
        return self.stopped


@pytest.mark.parametrize("stopper", [_GapStopper, _SignedStopper], ids=["gap", "signed"])
def test_every_way_of_writing_the_min_delta_rule_keeps_every_point(stopper):
    """The cases' metrics and min_delta are exact binary fractions: no formulation of "better by more than
    min_delta" is decided by rounding (on a 0.1 grid the gap form lost half the part)."""
    fake = _fake("early_stopping", EarlyStopping=stopper)
    points, reason = grade_module("05", fake, parts=["early_stopping"])["early_stopping"]
    assert points == next(p.points for p in TOPIC.parts if p.name == "early_stopping"), reason


def _loop_max_norm(w, c, axis=0):
    out = np.array(w, dtype=float)
    slices = out.T if axis in (0, -2) else out
    for row in slices:  # views into out
        norm = np.sqrt(np.sum(row**2))
        if norm > c:
            row *= c / norm
    return out


ALTERNATIVE = {
    "regularizers": dict(
        l1_penalty=lambda w, lam: (
            float(lam * np.sum(np.abs(w))),
            lam * np.where(w > 0, 1.0, np.where(w < 0, -1.0, 0.0)),
        ),
        l2_penalty=lambda w, lam: (float(lam * np.dot(w.ravel(), w.ravel()) / 2), lam * w),
        elastic_net_penalty=lambda w, lam, r: (
            R.l1_penalty(w, lam * r)[0] + R.l2_penalty(w, lam * (1 - r))[0],
            lam * r * np.sign(w) + lam * (1 - r) * w,
        ),
        lp_penalty=lambda w, lam, p: (
            float(lam * np.sum(np.abs(w) ** p)),
            np.where(w == 0, 0.0, lam * p * np.sign(w) * np.abs(np.where(w == 0, 1.0, w)) ** (p - 1)),
        ),
        max_norm_project=_loop_max_norm,
    ),
    "dropout": dict(
        dropout_forward=_binomial_dropout,
        dropout_backward=_tuple_backward,
        dropconnect_forward=_choice_dropconnect,
        dropconnect_backward=_choice_dropconnect_backward,
        spatial_dropout_forward=_loop_spatial,
        spatial_dropout_backward=_tuple_backward,
        dropblock_mask=_loop_dropblock_mask,
        dropblock_forward=_dropblock_forward_own_mask,
        dropblock_backward=_tuple_backward,
        keep_prob_schedule=lambda step, total, target: float(np.interp(step, [0, total], [1.0, target])),
    ),
    "early_stopping": dict(EarlyStopping=_CountingStopper),
}


def test_differently_written_correct_implementations_keep_every_point():
    mods = {m: getattr(dk, m) for m in TOPIC.modules}
    fake = types.SimpleNamespace(**mods)
    for module, functions in ALTERNATIVE.items():
        base = mods[module]
        setattr(fake, module, types.SimpleNamespace(**{**{k: getattr(base, k) for k in dir(base)}, **functions}))
    result = grade_module("05", fake)
    assert {k: v[0] for k, v in result.items()} == {p.name: p.points for p in TOPIC.parts}, result


# ------------------------------------------------------------------------------------------------ widgets
def test_mask_viewer_redraws_and_measures():
    from deepkit.viz import regularization as masks

    e = masks.masks_explorer()
    for kind in masks.KINDS:
        before, img = e.redraws, e.image.value
        e.controls["kind"].value = kind
        assert e.redraws == before + 1 and (kind == "DropBlock" or e.image.value != img)
        assert f"{kind}: measured drop rate" in e.status.value
    e.controls["keep_prob"].value = 0.7
    e.controls["block_size"].value = 3
    m = masks.sample_masks("DropBlock", 0.7, 3, 0)
    assert abs((m == 0).mean() - D.expected_dropblock_rate(0.7, 3, masks.SIZE)) < 0.03
    for kind in ("dropout", "DropConnect"):  # element-wise kinds: measured close to the target
        assert abs((masks.sample_masks(kind, 0.7, 3, 1) == 0).mean() - 0.3) < 6 * np.sqrt(0.21 / 131072)


def test_playground_l2_shrinks_weights_and_widget_redraws():
    from deepkit.viz import regularization as pg

    norms = [np.sqrt(sum((w**2).sum() for w in pg.trained_model(lam, 0.0).Ws)) for lam in (0.0, 0.1)]
    assert norms[1] < 0.5 * norms[0]
    e = pg.explorer(precompute=False)
    before = e.redraws
    e.controls["lam"].value = 0.1
    assert e.redraws == before + 1 and "||W||" in e.status.value


def test_mlp_backward_matches_torch():
    """The playground's NumPy MLP (used for the tables) has correct gradients (dropout off, eval masks)."""
    from deepkit.viz import regularization as pg

    g = rng(30)
    net = pg.MLP(
        [g.normal(size=(5, 4)), g.normal(size=(4, 3)), g.normal(size=(3, 2))],
        [g.normal(size=4), g.normal(size=3), g.normal(size=2)],
        linear_first=True,
    )
    X, dz = g.normal(size=(6, 5)), g.normal(size=(6, 2))
    z, caches = net.forward(X)
    dWs, dbs = net.backward(dz, caches)
    tW = [t64(w, True) for w in net.Ws]
    tb = [t64(b, True) for b in net.bs]
    h = t64(X) @ tW[0] + tb[0]
    h = torch.relu(h @ tW[1] + tb[1])
    (((h @ tW[2]) + tb[2]) * t64(dz)).sum().backward()
    for ours, ref in zip(dWs + dbs, tW + tb):
        assert rel_error(ours, ref.grad.numpy()) < 1e-14
