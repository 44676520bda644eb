"""Topic 03 (initialization): the reference deepkit.init against torch.nn.init, its input checks, and the hidden
checks (reference scores full marks on 1000/1000 seeds; each classic mistake loses its part's points)."""

from __future__ import annotations

import importlib.util
import math
import types

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.checks import initialization as init_checks
from autograder.local import grade_module, load_probes, load_topic
from tests.refs import REF_LIB, dk

I = dk.init
TOPIC = load_topic("03")
PROBES = load_probes(TOPIC)
PARTS = {p.name: p for p in TOPIC.parts}
FULL = {p.name: p.points for p in TOPIC.parts}


# ------------------------------------------------------------------------------------------ vs torch
@pytest.mark.parametrize("shape", [(3, 5), (64, 10), (8, 3, 5, 5), (4, 2, 3), (6, 4, 2, 3, 3)])
def test_fans_match_torch(shape):
    # torch's Linear weight is (out, in): the transpose of ours; conv weights are (F, C, ...) in both.
    tshape = shape[::-1] if len(shape) == 2 else shape
    assert I.compute_fans(shape) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(tshape))


@pytest.mark.parametrize(
    "name,param",
    [
        ("linear", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("selu", None),
        ("conv2d", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", 0.0),
        ("leaky_relu", 1.0),
    ],
)
def test_gain_matches_torch(name, param):
    assert I.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param), rel=1e-15)


def _moments(w):
    w = np.asarray(w, dtype=np.float64).ravel()
    return {"n": w.size, "mean": w.mean(), "m2": np.mean(w**2), "m4": np.mean(w**4), "min": w.min(), "max": w.max()}


def _torch_sample(fn, shape, seed, **kw):
    torch.manual_seed(seed)
    tshape = shape[::-1] if len(shape) == 2 else shape  # torch's Linear weight is (out, in)
    t = torch.empty(tshape, dtype=torch.float64)
    fn(t, **kw)
    return t.numpy()


SCHEME_CASES = [
    ("xavier_uniform", (300, 200), {"gain": 5 / 3}, torch.nn.init.xavier_uniform_, {"gain": 5 / 3}),
    ("xavier_normal", (32, 12, 3, 3), {"gain": 1.0}, torch.nn.init.xavier_normal_, {"gain": 1.0}),
    (
        "kaiming_normal",
        (150, 400),
        {"mode": "fan_in"},
        torch.nn.init.kaiming_normal_,
        {"mode": "fan_in", "nonlinearity": "relu"},
    ),
    (
        "kaiming_normal",
        (150, 400),
        {"mode": "fan_out"},
        torch.nn.init.kaiming_normal_,
        {"mode": "fan_out", "nonlinearity": "relu"},
    ),
    (
        "kaiming_uniform",
        (40, 16, 5, 5),
        {"nonlinearity": "leaky_relu", "a": 0.2},
        torch.nn.init.kaiming_uniform_,
        {"nonlinearity": "leaky_relu", "a": 0.2},
    ),
    (
        "kaiming_uniform",
        (400, 150),
        {"nonlinearity": "tanh", "mode": "fan_out"},
        torch.nn.init.kaiming_uniform_,
        {"nonlinearity": "tanh", "mode": "fan_out"},
    ),
]


@pytest.mark.parametrize("name,shape,kw,tfn,tkw", SCHEME_CASES)
def test_scheme_same_distribution_as_torch(name, shape, kw, tfn, tkw):
    """Our samples and torch's samples (4 draws each) both pass the hidden check's 6-sigma test against the
    closed form, and uniform ones share torch's bound."""
    ours = [getattr(I, name)(shape, np.random.default_rng(s), **kw) for s in range(4)]
    theirs = [_torch_sample(tfn, shape, s, **tkw) for s in range(4)]
    assert ours[0].shape == shape and ours[0].dtype == np.float64
    inp = {
        "shape": np.array(shape),
        "gain": kw.get("gain", 1.0),
        "nonlinearity": kw.get("nonlinearity", "relu"),
        "a": kw.get("a", 0.0),
    }
    dist, var, bound = init_checks.theory(name, inp, kw.get("mode", "fan_in"))
    for sample in (ours, theirs):
        flat = np.concatenate([w.ravel() for w in sample])
        assert init_checks.check_moments(_moments(flat), dist, var, bound, name) is None
    assert (
        I.kaiming_std(shape, kw.get("mode", "fan_in"), kw.get("nonlinearity", "relu"), kw.get("a", 0.0)) ** 2
        == pytest.approx(var)
        if name.startswith("kaiming")
        else True
    )


def test_normal_zeros_constant():
    rng = np.random.default_rng(1)
    w = I.normal((300, 200), 0.01, rng)
    assert w.shape == (300, 200) and abs(w.std() - 0.01) < 6 * 0.01 * math.sqrt(0.5 / w.size) * 2
    assert np.array_equal(I.zeros((2, 3)), np.zeros((2, 3))) and I.zeros((2, 3)).dtype == np.float64
    c = I.constant((4, 1, 2), -0.5)
    assert c.shape == (4, 1, 2) and np.all(c == -0.5) and c.dtype == np.float64
    torch_c = torch.nn.init.constant_(torch.empty(4, 1, 2, dtype=torch.float64), -0.5).numpy()
    assert np.array_equal(c, torch_c)


def test_init_mlp_shapes_and_schemes():
    rng = np.random.default_rng(0)
    layers = I.init_mlp([64, 100, 30, 10], "xavier_normal", rng, gain=5 / 3)
    assert [(W.shape, b.shape) for W, b in layers] == [((64, 100), (100,)), ((100, 30), (30,)), ((30, 10), (10,))]
    assert all(np.all(b == 0) for _, b in layers)
    assert all(np.all(W == 0.3) for W, _ in I.init_mlp([5, 4, 3], "constant", rng, value=0.3))
    assert all(np.all(W == 0) for W, _ in I.init_mlp([5, 4, 3], "zeros", rng))
    # same rng state -> same weights as calling the scheme directly, layer by layer
    a = I.init_mlp([20, 30, 5], "kaiming_uniform", np.random.default_rng(7), mode="fan_out")
    r = np.random.default_rng(7)
    b = [I.kaiming_uniform((20, 30), r, mode="fan_out"), I.kaiming_uniform((30, 5), r, mode="fan_out")]
    assert all(np.array_equal(x[0], y) for x, y in zip(a, b))


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    scheme=st.sampled_from(["xavier_uniform", "xavier_normal", "kaiming_normal", "kaiming_uniform"]),
)
def test_property_shapes_fans(shape, scheme):
    shape = tuple(shape)
    fi, fo = I.compute_fans(shape)
    if len(shape) > 2:  # fan_in / C == fan_out / F == receptive field size
        assert fi * shape[0] == fo * shape[1] == shape[0] * shape[1] * math.prod(shape[2:])
    w = getattr(I, scheme)(shape, np.random.default_rng(0))
    assert w.shape == shape and w.dtype == np.float64 and np.all(np.isfinite(w))
    if scheme.endswith("uniform"):
        var = 2 / (fi + fo) if scheme.startswith("xavier") else 2 / fi
        assert np.abs(w).max() <= math.sqrt(3 * var)


@pytest.mark.parametrize(
    "call,exc,words",
    [
        (lambda: I.compute_fans((5,)), ValueError, "shape"),
        (lambda: I.compute_fans((3, 0)), ValueError, "shape[1]"),
        (lambda: I.compute_fans("ab"), TypeError, "shape"),
        (lambda: I.calculate_gain("softplus"), ValueError, "nonlinearity"),
        (lambda: I.calculate_gain("leaky_relu", -1.0), ValueError, "param"),
        (lambda: I.normal((2, 2), -1.0, np.random.default_rng()), ValueError, "std"),
        (lambda: I.normal((2, 2), 1.0, 42), TypeError, "rng"),
        (lambda: I.xavier_uniform((2, 2), np.random.default_rng(), gain=0), ValueError, "gain"),
        (lambda: I.kaiming_normal((2, 2), np.random.default_rng(), mode="in"), ValueError, "mode"),
        (lambda: I.constant((2, 2), "a"), TypeError, "value"),
        (lambda: I.init_mlp([4, 3], "he", np.random.default_rng()), ValueError, "scheme"),
        (lambda: I.init_mlp([4], "zeros", np.random.default_rng()), ValueError, "layer_sizes"),
        (lambda: I.init_mlp([4, 3], "normal", np.random.default_rng(), sdt=1.0), TypeError, "sdt"),
    ],
)
def test_bad_input(call, exc, words):
    with pytest.raises(exc, match=None) as info:
        call()
    assert words in str(info.value)


# ------------------------------------------------------------------------------------------- grading
def test_reference_full_marks():
    assert grade_module("03", dk) == {name: (pts, "all checks passed") for name, pts in FULL.items()}


@pytest.mark.slow
@pytest.mark.parametrize(
    "part", ["normal", "xavier_uniform", "xavier_normal", "kaiming_normal", "kaiming_uniform", "init_mlp"]
)
def test_reference_passes_1000_seeds(part):
    """The statistical checks cannot flake: the reference passes every one of 1000 independent seeds."""
    p = PARTS[part]
    n = 1000 if part != "init_mlp" else 200
    fails = 0
    for s in range(n):
        inp = p.inputs(np.random.default_rng([7, s]))
        out = getattr(PROBES, p.probe)(dk, inp)
        frac, reason = p.compare(out, out, inp)
        fails += frac < 1
    assert fails == 0


def test_experiment_reference_stable():
    """Two independent reference runs pass against each other (100 seed pairs measured offline: worst log-ratio
    0.15 +- 0.05, largest 0.26, tolerance log 1.75 = 0.56); here 3 seeds."""
    p = PARTS["experiment"]
    for s in range(3):
        inp = p.inputs(np.random.default_rng([11, s]))
        a = PROBES.experiment(dk, inp)
        b = PROBES.experiment(dk, dict(inp, seed=inp["seed"] + 1))
        assert p.compare(a, b, inp) == (1.0, "ok")


def _fresh_init() -> types.ModuleType:
    """A private copy of the reference init module whose globals we can break one at a time."""
    spec = importlib.util.spec_from_file_location("_fake_init", REF_LIB / "deepkit" / "init.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fake(**replace) -> types.SimpleNamespace:
    mod = _fresh_init()
    for name, make in replace.items():
        setattr(mod, name, make(mod))
    return types.SimpleNamespace(init=mod)


def _kaiming_divides(m):
    def kaiming_std(shape, mode="fan_in", nonlinearity="relu", a=0.0):
        fi, fo = m.compute_fans(shape)
        return 1.0 / (m.calculate_gain(nonlinearity, a) / math.sqrt(fi if mode == "fan_in" else fo))

    return kaiming_std


def _torch_fans(m):
    ref = m.compute_fans
    return lambda shape: ref(shape)[::-1] if len(shape) == 2 else ref(shape)


def _uniform_with_normal_bound(m):
    def xavier_uniform(shape, rng, gain=1.0):
        fi, fo = m.compute_fans(shape)
        b = gain * math.sqrt(2.0 / (fi + fo))
        return rng.uniform(-b, b, size=tuple(shape))

    return xavier_uniform


def _kaiming_uniform_normal_bound(m):
    return lambda shape, rng, mode="fan_in", nonlinearity="relu", a=0.0: (
        rng.uniform(-1, 1, size=tuple(shape)) * m.kaiming_std(shape, mode, nonlinearity, a)
    )


def _relu_gain_2(m):
    ref = m.calculate_gain
    return lambda nonlinearity, param=None: 2.0 if nonlinearity == "relu" else ref(nonlinearity, param)


def _xavier_lecun(m):
    def xavier_normal(shape, rng, gain=1.0):
        return rng.normal(0, gain / math.sqrt(m.compute_fans(shape)[0]), size=tuple(shape))

    return xavier_normal


def _xavier_normal_is_uniform(m):
    def xavier_normal(shape, rng, gain=1.0):
        fi, fo = m.compute_fans(shape)
        b = gain * math.sqrt(6.0 / (fi + fo))
        return rng.uniform(-b, b, size=tuple(shape))

    return xavier_normal


def _std_as_variance(m):
    return lambda shape, std, rng: rng.normal(0, math.sqrt(std), size=tuple(shape))


def _index_typo_mlp(m):
    """The slide typo: layer k's Xavier bound uses n^{k+1} + n^k (the NEXT layer) instead of n^{k-1} + n^k."""
    ref = m.init_mlp

    def init_mlp(layer_sizes, scheme, rng, **kw):
        if not scheme.startswith("xavier"):
            return ref(layer_sizes, scheme, rng, **kw)
        out, s = [], list(layer_sizes)
        for i in range(len(s) - 1):
            nxt = s[i + 2] if i + 2 < len(s) else s[i + 1]
            std = kw.get("gain", 1.0) * math.sqrt(2.0 / (s[i + 1] + nxt))
            W = (
                rng.uniform(-std * math.sqrt(3), std * math.sqrt(3), (s[i], s[i + 1]))
                if scheme.endswith("uniform")
                else rng.normal(0, std, (s[i], s[i + 1]))
            )
            out.append((W, np.zeros(s[i + 1])))
        return out

    return init_mlp


def _int_zeros(m):
    return lambda shape: np.zeros(shape, dtype=np.int64)


def _nonzero_bias(m):
    ref = m.init_mlp
    return lambda *a, **k: [(W, b + 0.01) for W, b in ref(*a, **k)]


# (name, replacements, parts that must lose points, parts that may also lose because they use the broken function)
WRONG = [
    (
        "kaiming divides by sqrt(2/n)",
        {"kaiming_std": _kaiming_divides},
        {"kaiming_normal", "kaiming_uniform", "experiment"},
        {"init_mlp"},
    ),
    (
        "torch's (out, in) fans for dense",
        {"compute_fans": _torch_fans},
        {"fans", "kaiming_normal"},
        {"kaiming_uniform", "init_mlp", "experiment"},
    ),
    (
        "normal's std as the uniform bound",
        {"xavier_uniform": _uniform_with_normal_bound},
        {"xavier_uniform", "experiment"},
        {"init_mlp"},
    ),
    (
        "kaiming_uniform with the normal's std as bound",
        {"kaiming_uniform": _kaiming_uniform_normal_bound},
        {"kaiming_uniform"},
        {"init_mlp"},
    ),
    (
        "relu gain 2 instead of sqrt 2",
        {"calculate_gain": _relu_gain_2},
        {"gains", "experiment"},
        {"kaiming_normal", "kaiming_uniform", "init_mlp"},
    ),
    (
        "LeCun fan_in only for xavier_normal",
        {"xavier_normal": _xavier_lecun},
        {"xavier_normal"},
        {"init_mlp", "experiment"},
    ),
    (
        "uniform samples for xavier_normal",
        {"xavier_normal": _xavier_normal_is_uniform},
        {"xavier_normal"},
        {"init_mlp"},
    ),
    ("std used as variance", {"normal": _std_as_variance}, {"normal", "experiment"}, set()),
    ("slide index typo n^{k+1} + n^k", {"init_mlp": _index_typo_mlp}, {"init_mlp"}, set()),
    ("integer zeros", {"zeros": _int_zeros}, {"zeros_constant"}, {"init_mlp"}),
    ("non-zero biases", {"init_mlp": _nonzero_bias}, {"init_mlp"}, set()),
]


@pytest.mark.parametrize("name,replace,must,may", WRONG, ids=[w[0] for w in WRONG])
def test_wrong_variant_loses_its_points(name, replace, must, may):
    # the experiment is the slow part: graded only where it must lose (where it may, it is not asserted on)
    parts = [p for p in FULL if p != "experiment" or p in must]
    scores = grade_module("03", _fake(**replace), parts=parts, ref=dk)
    lost = {p for p, (pts, _) in scores.items() if pts < FULL[p]}
    assert must <= lost, (name, scores)
    assert lost <= must | may, (name, scores)
    assert all(scores[p] == (FULL[p], "all checks passed") for p in set(parts) - must - may)
    for p in must - {"experiment", "init_mlp"}:
        assert scores[p][0] == 0, (name, p, scores[p])


def _kaiming_slide_code(m):
    """The slides' ReLU line, randn(fan_in, fan_out) / np.sqrt(2 / fan_in), whatever the nonlinearity."""

    def kaiming_normal(shape, rng, mode="fan_in", nonlinearity="relu", a=0.0):
        return rng.standard_normal(tuple(shape)) / math.sqrt(2.0 / m.compute_fans(shape)[0])

    return kaiming_normal


def test_a_far_too_wide_sample_is_told_its_variance_not_its_mean():
    """A variance fan/2 instead of 2/fan puts the sample mean many EXPECTED stds from 0; the reason must still
    be about the variance (the mean's band widens with the sample's own spread)."""
    points, reason = grade_module("03", _fake(kaiming_normal=_kaiming_slide_code), parts=["kaiming_normal"], ref=dk)[
        "kaiming_normal"
    ]
    assert points == 0 and "variance is" in reason and "mean" not in reason, reason


def _xavier_sum_of_shape(m):
    """The source notes' TensorFlow helper: epsilon = sqrt(6 / np.sum(shape))."""

    def xavier_uniform(shape, rng, gain=1.0):
        b = gain * math.sqrt(6.0 / float(np.sum(shape)))
        return rng.uniform(-b, b, size=tuple(shape))

    return xavier_uniform


def _kaiming_mode_ignored(m):
    def kaiming_std(shape, mode="fan_in", nonlinearity="relu", a=0.0):
        return m.calculate_gain(nonlinearity, a) / math.sqrt(m.compute_fans(shape)[0])

    return kaiming_std


# (misconception, the implementation that makes it, the part it is named in)
DETECTED = [
    (init_checks.STD_AS_VARIANCE, {"normal": _std_as_variance}, "normal"),
    (init_checks.XAVIER_UNIFORM_STD_BOUND, {"xavier_uniform": _uniform_with_normal_bound}, "xavier_uniform"),
    (init_checks.XAVIER_SUM_OF_SHAPE, {"xavier_uniform": _xavier_sum_of_shape}, "xavier_uniform"),
    (init_checks.XAVIER_IS_LECUN, {"xavier_normal": _xavier_lecun}, "xavier_normal"),
    (init_checks.XAVIER_NORMAL_IS_UNIFORM, {"xavier_normal": _xavier_normal_is_uniform}, "xavier_normal"),
    (init_checks.KAIMING_DIVIDES, {"kaiming_std": _kaiming_divides}, "kaiming_normal"),
    (init_checks.KAIMING_MODE_IGNORED, {"kaiming_std": _kaiming_mode_ignored}, "kaiming_normal"),
    (init_checks.KAIMING_UNIFORM_STD_BOUND, {"kaiming_uniform": _kaiming_uniform_normal_bound}, "kaiming_uniform"),
    (init_checks.MLP_INDEX_TYPO, {"init_mlp": _index_typo_mlp}, "init_mlp"),
    (init_checks.MLP_BIASES, {"init_mlp": _nonzero_bias}, "init_mlp"),
]


@pytest.mark.parametrize("mistake, replace, part", DETECTED, ids=[d[2] + "-" + d[0].says[:30] for d in DETECTED])
def test_detected_mistakes_are_named(mistake, replace, part):
    assert mistake.says in [m.says for m in PARTS[part].misconceptions]  # (the grader loads its own copy)
    points, reason = grade_module("03", _fake(**replace), parts=[part], ref=dk)[part]
    assert points < FULL[part] and mistake.reason in reason, reason


@pytest.mark.parametrize("part", sorted({d[2] for d in DETECTED}))
def test_the_reference_never_looks_like_a_detected_mistake(part):
    """On many seeds (the hidden ones and 40 more), no detect of the part fires on the reference's samples."""
    from autograder.local import make_cases

    spec = PARTS[part]
    cases = make_cases(spec) + [
        spec.inputs(np.random.default_rng([5, s])) for s in range(40 if part != "init_mlp" else 10)
    ]
    for inputs in cases:
        out = getattr(PROBES, spec.probe)(dk, inputs)
        for mistake in spec.misconceptions:
            if mistake.detect is not None:
                assert not mistake.detect(out, inputs), mistake.says


def test_the_bank_has_at_least_five_per_topic_and_covers_every_graded_part_but_the_experiment():
    named = {p.name for p in TOPIC.parts if p.misconceptions}
    assert named == set(FULL) - {"experiment"}
    assert sum(len(p.misconceptions) for p in TOPIC.parts) >= 5


@pytest.mark.parametrize(
    "replace, part, words",
    [
        ({"compute_fans": lambda m: lambda shape: m.math.prod(shape)}, "fans", "(fan_in, fan_out)"),
        (
            {"xavier_normal": lambda m: lambda shape, rng, gain=1.0: (np.zeros(shape), 0)},
            "xavier_normal",
            "one NumPy array",
        ),
        ({"init_mlp": lambda m: lambda sizes, scheme, rng, **kw: {"W": 0}}, "init_mlp", "list of (W, b) pairs"),
        ({"calculate_gain": lambda m: lambda n, param=None: (1.0, 1.0)}, "gains", "one number"),
    ],
)
def test_a_wrong_return_structure_says_what_to_return(replace, part, words):
    points, reason = grade_module("03", _fake(**replace), parts=[part], ref=dk)[part]
    assert points == 0 and words in reason, reason


# Correct implementations written differently from the reference (other random draws where the docstring leaves
# them open): each keeps every point of its parts.
def _fans_numpy(m):
    return lambda shape: (
        (int(shape[0]), int(shape[1]))
        if len(shape) == 2
        else (int(np.prod(shape[1:])), int(shape[0] * np.prod(shape[2:])))
    )


def _normal_standard(m):
    return lambda shape, std, rng: std * rng.standard_normal(tuple(shape))


def _xavier_uniform_random(m):
    def xavier_uniform(shape, rng, gain=1.0):
        fi, fo = m.compute_fans(shape)
        return (2.0 * rng.random(tuple(shape)) - 1.0) * gain * np.sqrt(6.0 / (fi + fo))

    return xavier_uniform


def _xavier_normal_standard(m):
    def xavier_normal(shape, rng, gain=1.0):
        fi, fo = m.compute_fans(shape)
        return rng.standard_normal(tuple(shape)) * (gain * np.sqrt(2.0 / (fi + fo)))

    return xavier_normal


def _kaiming_normal_own_std(m):
    def kaiming_normal(shape, rng, mode="fan_in", nonlinearity="relu", a=0.0):
        fi, fo = m.compute_fans(shape)
        var = m.calculate_gain(nonlinearity, a) ** 2 / (fi if mode == "fan_in" else fo)
        return np.sqrt(var) * rng.standard_normal(tuple(shape))

    return kaiming_normal


def _kaiming_uniform_scaled(m):
    def kaiming_uniform(shape, rng, mode="fan_in", nonlinearity="relu", a=0.0):
        bound = np.sqrt(3.0) * m.kaiming_std(shape, mode, nonlinearity, a)
        return bound * rng.uniform(-1.0, 1.0, size=tuple(shape))

    return kaiming_uniform


def _gain_table(m):
    table = {"tanh": 5.0 / 3.0, "relu": np.sqrt(2.0), "selu": 0.75}

    def calculate_gain(nonlinearity, param=None):
        if nonlinearity == "leaky_relu":
            slope = 0.01 if param is None else param
            return float(np.sqrt(2.0 / (1.0 + slope**2)))
        return table.get(nonlinearity, 1.0)

    return calculate_gain


def _init_mlp_loop(m):
    def init_mlp(layer_sizes, scheme, rng, **kw):
        layers = []
        for d_in, d_out in zip(layer_sizes[:-1], layer_sizes[1:]):
            if scheme.startswith("xavier"):
                W = getattr(m, scheme)((d_in, d_out), rng, kw.get("gain", 1.0))
            elif scheme.startswith("kaiming"):
                W = getattr(m, scheme)(
                    (d_in, d_out), rng, **{k: kw[k] for k in ("mode", "nonlinearity", "a") if k in kw}
                )
            elif scheme == "normal":
                W = m.normal((d_in, d_out), kw.get("std", 0.01), rng)
            elif scheme == "constant":
                W = m.constant((d_in, d_out), kw.get("value", 0.1))
            else:
                W = m.zeros((d_in, d_out))
            layers.append([W, np.zeros(d_out)])  # a list pair is a pair too
        return layers

    return init_mlp


ALTERNATIVES = {
    "compute_fans with np.prod": ({"compute_fans": _fans_numpy}, ["fans"]),
    "calculate_gain from a table": ({"calculate_gain": _gain_table}, ["gains"]),
    "normal via standard_normal * std": ({"normal": _normal_standard}, ["normal"]),
    "xavier_uniform via rng.random": ({"xavier_uniform": _xavier_uniform_random}, ["xavier_uniform"]),
    "xavier_normal via standard_normal": ({"xavier_normal": _xavier_normal_standard}, ["xavier_normal"]),
    "kaiming_normal without kaiming_std": ({"kaiming_normal": _kaiming_normal_own_std}, ["kaiming_normal"]),
    "kaiming_uniform as a scaled U(-1, 1)": ({"kaiming_uniform": _kaiming_uniform_scaled}, ["kaiming_uniform"]),
    "init_mlp as an if/elif loop returning lists": ({"init_mlp": _init_mlp_loop}, ["init_mlp"]),
}


@pytest.mark.parametrize("name", list(ALTERNATIVES))
def test_differently_written_correct_implementations_keep_every_point(name):
    replace, parts = ALTERNATIVES[name]
    scores = grade_module("03", _fake(**replace), parts=parts, ref=dk)
    assert scores == {p: (FULL[p], "all checks passed") for p in parts}, scores


def test_swapped_fans_cannot_hurt_xavier():
    """Xavier depends on fan_in + fan_out only, so swapping the fans is harmless there (but not for Kaiming)."""
    scores = grade_module("03", _fake(compute_fans=_torch_fans), parts=["xavier_uniform", "xavier_normal"], ref=dk)
    assert scores == {"xavier_uniform": (2.0, "all checks passed"), "xavier_normal": (1.0, "all checks passed")}


# ------------------------------------------------------------------------------------------- widget
def test_explorer_core_and_redraw():
    from deepkit.viz.initialization import explorer, propagate

    r = propagate("kaiming_normal", activation="relu", depth=8, width=128)
    assert 0.5 < r["act_std"][-1] / r["act_std"][0] < 2 and 0.3 < r["frac"].mean() < 0.7  # ~half the ReLUs dead
    r = propagate("normal", 0.01, "tanh", depth=8, width=128)
    ratio = r["act_std"][1:] / r["act_std"][:-1]
    assert np.allclose(ratio, 0.01 * np.sqrt(128), rtol=0.2)  # Var(z) = n Var(w) Var(x), tanh ~ identity
    assert r["grad_std"][0] < 1e-6 * r["grad_std"][-1]  # and the gradients vanish going back
    r = propagate("constant", 0.1, "tanh", depth=3, width=16)
    assert all(np.ptp(a, axis=1).max() == 0 for a in r["acts"])  # every unit of a layer identical
    w = explorer()
    before = (w.redraws, w.image.value)
    w.controls["scheme"].value = "xavier_normal"
    assert w.redraws == before[0] + 1 and w.image.value != before[1]
    with pytest.raises(ValueError, match="scheme"):
        propagate("he")
