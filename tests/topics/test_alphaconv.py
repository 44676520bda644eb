"""Topic 06, the softmax-weighted (alpha) convolution: reference vs torch autograd and finite differences,
the zero gradient of the L1 penalty on the simplex, penalties that do sparsify, and the hidden checks."""

import types

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.checks import alphaconv as checks
from autograder.local import grade_module, load_probes, load_topic, make_cases, run_probe
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
    with pytest.raises(ValueError, match=r"weights must have c's shape"):
        ac.l1_alpha_penalty(c, 1.0, weights=np.ones((2, 2)))
    with pytest.raises(ValueError, match="weights must be >= 0"):
        ac.l1_alpha_penalty(c, 1.0, weights=-np.ones_like(c))
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


TOPIC = load_topic("06")
POINTS = {p.name: p.points for p in TOPIC.parts}


def _broken(**overrides):
    """A deepkit whose alphaconv wraps the reference but replaces some functions."""
    mod = types.SimpleNamespace(**{n: getattr(ac, n) for n in dir(ac) if not n.startswith("__")})
    for name, fn in overrides.items():
        setattr(mod, name, fn)
    return types.SimpleNamespace(alphaconv=mod, losses=dk.losses)


def _lost(fake) -> dict:
    return {k: POINTS[k] - v[0] for k, v in grade_module("06", fake).items() if v[0] < POINTS[k]}


def _softmax_without_max_shift(c, temperature=1.0):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(c / temperature)
        return e / e.sum(axis=0)


def _entropy_unguarded(c, lam, temperature=1.0):
    alpha = ac.mixing_weights(c, temperature)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_alpha = np.log(alpha)
        return -lam * float(np.sum(alpha * log_alpha)), ac.softmax_jvp(alpha, -lam * (log_alpha + 1)) / temperature


def _l1_ignores_weights(c, lam, temperature=1.0, weights=None):
    return ac.l1_alpha_penalty(c, lam, temperature)


@pytest.mark.parametrize(
    "overrides,lost",
    [
        (dict(softmax_jvp=lambda a, d: a * d), {"softmax_jvp"}),
        (dict(mixing_weights=lambda c, temperature=1.0: dk.losses.softmax(c / temperature)), {"mixing_weights"}),
        (
            dict(alphaconv_forward=lambda x, k, c, b, temperature=1.0: ac.alphaconv_forward(x, k, c, b)),
            {"alphaconv_forward", "alphaconv_backward"},
        ),
        (
            dict(entropy_penalty=lambda c, lam, temperature=1.0: ac.l1_alpha_penalty(c, lam, temperature)),
            {"sparsity_penalty"},
        ),
        # blind spots: overflow for a huge logit, alpha exactly 0, a function that returns a zero gradient
        (dict(mixing_weights=_softmax_without_max_shift), {"mixing_weights"}),
        (dict(entropy_penalty=_entropy_unguarded), {"sparsity_penalty"}),
        (dict(l1_alpha_penalty=checks._l1_always_zero), {"l1_alpha_penalty"}),
        (dict(l1_alpha_penalty=_l1_ignores_weights), {"l1_alpha_penalty"}),
    ],
    ids=["jvp", "softmax-axis", "temperature", "entropy", "overflow", "alpha-zero", "l1-zeros", "l1-unweighted"],
)
def test_known_wrong_implementations_lose_their_parts(overrides, lost):
    got = _lost(_broken(**overrides))
    assert set(got) == lost, got


def _lp_unguarded(c, lam, p=0.5, temperature=1.0):
    alpha = ac.mixing_weights(c, temperature)
    with np.errstate(divide="ignore", invalid="ignore"):
        return lam * float(np.sum(alpha**p)), ac.softmax_jvp(alpha, lam * p * alpha ** (p - 1)) / temperature


def _softmax_jvp_unchecked(alpha, dalpha):
    """A student's jvp without the reference's NaN check: the NaN of an unguarded penalty reaches dc."""
    return alpha * (dalpha - np.sum(dalpha * alpha, axis=0, keepdims=True))


@pytest.mark.parametrize("penalty", ["entropy_penalty", "lp_penalty"])
def test_a_penalty_without_the_alpha_zero_guard_loses_every_case(penalty):
    """Every sparsity case has a column with alpha exactly 0, so an unguarded log alpha or alpha^(p-1) loses the
    whole part, not the half of the cases that happened to have one."""
    wrong = {"entropy_penalty": _entropy_unguarded, "lp_penalty": _lp_unguarded}[penalty]
    points, reason = grade_module("06", _broken(**{penalty: wrong, "softmax_jvp": _softmax_jvp_unchecked}))[
        "sparsity_penalty"
    ]
    assert points == 0, reason


def test_overflow_is_named_both_ways():
    """OVERFLOW is a detect() misconception (tests/test_misconceptions.py checks the replace() ones)."""
    points, reason = grade_module("06", _broken(mixing_weights=_softmax_without_max_shift), parts=["mixing_weights"])[
        "mixing_weights"
    ]
    assert points == 0 and checks.OVERFLOW.reason in reason, reason
    part = next(p for p in TOPIC.parts if p.name == "mixing_weights")
    probes = load_probes(TOPIC)
    for inputs in make_cases(part):
        assert not checks.OVERFLOW.detect(run_probe(probes, part, dk, inputs), inputs)


def test_a_wrong_return_structure_says_what_to_return():
    fake = _broken(alphaconv_backward=lambda dz, cache: ac.alphaconv_backward(dz, cache)[:3])
    assert "alphaconv_backward must return (dx, dk, dc, db)" in grade_module("06", fake)["alphaconv_backward"][1]
    fake = _broken(lp_penalty=lambda c, lam, p=0.5, temperature=1.0: ac.lp_penalty(c, lam, p, temperature)[1])
    assert "lp_penalty must return a pair (value, dc)" in grade_module("06", fake)["sparsity_penalty"][1]


def test_every_hidden_case_exercises_the_edges():
    parts = {p.name: p for p in TOPIC.parts}
    for name in ("mixing_weights", "softmax_jvp", "l1_alpha_penalty"):
        assert all(np.max(c["c"]) > 745 * 3 for c in make_cases(parts[name]))  # overflow without the max-shift
    assert all(c["T"] != 1.0 for name in parts for c in make_cases(parts[name]) if "T" in c)
    assert all(np.max(c["c"]) > 745 * 3 for c in make_cases(parts["sparsity_penalty"]))  # alpha exactly 0
    for case in make_cases(parts["l1_alpha_penalty"]):
        w = case["weights"]
        assert np.any(w == 0) and np.ptp(w) > 0  # unequal weights: a non-zero gradient to compute


# --- fairness: correct implementations written differently from the reference keep every point
def _loop_softmax(c, temperature=1.0):
    alpha = np.empty_like(c, dtype=float)
    for j in range(c.shape[1]):
        col = c[:, j] / temperature
        e = np.exp(col - col.max())
        alpha[:, j] = e / e.sum()
    return alpha


def _jacobian_jvp(alpha, dalpha):
    dc = np.empty_like(alpha)
    for j in range(alpha.shape[1]):
        a = alpha[:, j]
        dc[:, j] = (np.diag(a) - np.outer(a, a)).T @ dalpha[:, j]
    return dc


def _loop_forward(x, k, c, b, temperature=1.0):
    n, c_in, h, w = x.shape
    c_out, _, kh, kw = k.shape
    alpha = _loop_softmax(c, temperature)
    z = np.zeros((n, c_out, h - kh + 1, w - kw + 1))
    for j in range(c_out):
        for i in range(c_in):
            for u in range(kh):
                for v in range(kw):
                    z[:, j] += alpha[i, j] * k[j, i, u, v] * x[:, i, u : u + z.shape[2], v : v + z.shape[3]]
        z[:, j] += b[j]
    return z, (x, k, alpha, temperature)


def _loop_backward(dz, cache):
    x, k, alpha, temperature = cache
    c_out, c_in, kh, kw = k.shape
    ho, wo = dz.shape[2:]
    dx, dk, dalpha = np.zeros_like(x), np.zeros_like(k), np.zeros_like(alpha)
    for j in range(c_out):
        for i in range(c_in):
            for u in range(kh):
                for v in range(kw):
                    window = x[:, i, u : u + ho, v : v + wo]
                    dalpha[i, j] += k[j, i, u, v] * np.sum(dz[:, j] * window)
                    dk[j, i, u, v] = alpha[i, j] * np.sum(dz[:, j] * window)
                    dx[:, i, u : u + ho, v : v + wo] += alpha[i, j] * k[j, i, u, v] * dz[:, j]
    return dx, dk, _jacobian_jvp(alpha, dalpha) / temperature, dz.sum(axis=(0, 2, 3))


def _explicit_l1(c, lam, temperature=1.0, weights=None):
    alpha = _loop_softmax(c, temperature)
    w = np.ones_like(alpha) if weights is None else weights
    return float(lam * np.sum(w * alpha)), _jacobian_jvp(alpha, lam * w) / temperature  # alpha > 0: sign = 1


def _entropy_where(c, lam, temperature=1.0):
    """0 log 0 = 0 with np.where, and the documented gradient without the + 1 (softmax_jvp removes constants)."""
    alpha = _loop_softmax(c, temperature)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(alpha > 0, alpha * np.log(alpha), 0.0)
        dalpha = np.where(alpha > 0, -lam * np.log(alpha), 0.0)
    return -lam * float(plogp.sum()), _jacobian_jvp(alpha, dalpha) / temperature


def _lp_clipped(c, lam, p=0.5, temperature=1.0):
    alpha = _loop_softmax(c, temperature)
    return float(lam * np.sum(alpha**p)), _jacobian_jvp(alpha, lam * p * np.clip(alpha, 1e-12, None) ** (p - 1)) / (
        temperature
    )


ALTERNATIVE = dict(
    mixing_weights=_loop_softmax,
    softmax_jvp=_jacobian_jvp,
    alphaconv_forward=_loop_forward,
    alphaconv_backward=_loop_backward,
    l1_alpha_penalty=_explicit_l1,
    entropy_penalty=_entropy_where,
    lp_penalty=_lp_clipped,
)


def test_differently_written_correct_implementations_keep_every_point():
    scores = grade_module("06", _broken(**ALTERNATIVE))
    assert {k: v[0] for k, v in scores.items()} == POINTS, scores


# --- the explorer's trainer is the same layer
def test_the_explorers_trainer_has_the_layers_gradients():
    from deepkit.viz import alphaconv as viz

    x, t = viz.make_task(0)
    rng = np.random.default_rng(3)
    k, c, b = rng.normal(size=(1, 4, 3, 3)), rng.normal(size=(4, 1)), rng.normal(size=1)
    for temperature in (1.0, 0.4):
        z, cache = ac.alphaconv_forward(x, k, c, b, temperature)
        diff = z - t
        _, dk_, dc, db = ac.alphaconv_backward(diff / diff.size, cache)
        loss, alpha, dk2, dc2, db2 = viz.layer_grads(k, c, b, temperature)
        assert loss == pytest.approx(0.5 * np.mean(diff**2), rel=1e-12)
        np.testing.assert_allclose(alpha, cache.alpha[:, 0], rtol=1e-12)
        for ours, theirs in ((dk2, dk_), (dc2, dc), (db2, db)):
            assert gc.rel_error(ours, theirs) < 1e-12


def test_explorer_blits_pixel_exact_frames_per_penalty():
    import io

    import matplotlib

    matplotlib.use("Agg")
    from PIL import Image

    from deepkit.viz import alphaconv as viz
    from deepkit.viz import base

    def pixels(png):
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

    e = viz.explorer()
    for control, value in (("penalty", "L1 (slides)"), ("lam", 0.1), ("temperature", 0.5), ("penalty", "entropy")):
        before = e.redraws
        e.controls[control].value = value
        assert e.redraws == before + 1
        np.testing.assert_array_equal(pixels(e.image.value), pixels(base.png_bytes(e.draw())), err_msg=control)
    assert len(e._backgrounds) == 2  # the frame depends on the penalty only
    assert "final alpha with entropy" in e.status.value
    low, high = viz.OBJECTIVE_LIMITS
    for name in viz.PENALTIES:  # the fixed objective axis holds every run
        loss = viz.train(name, 1.0, 0.2)["loss"]
        assert low < loss.min() and loss.max() < high
