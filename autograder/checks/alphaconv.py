"""Hidden checks of topic 06: the alpha-conv (softmax-mixed input maps), its gradients and its penalties.

Temperatures other than 1 are included, so a backward that forgets the 1/T of d(c/T)/dc fails; logits of +800
(overflow without the max-shift, and alpha entries that are exactly 0) test the stable softmax and the guards
of the sparsifying penalties; the L1 penalty is also graded with unequal weights per connection, where its
gradient is not zero, so a function that returns zeros cannot pass.
"""

from __future__ import annotations

import numpy as np

from autograder.compare import rel_error, student_array
from autograder.spec import Misconception, Part


def _sizes(rng):
    return dict(
        N=int(rng.integers(1, 4)),
        C_in=int(rng.integers(2, 5)),
        C_out=int(rng.integers(1, 4)),
        H=int(rng.integers(4, 8)),
        W=int(rng.integers(4, 8)),
        kh=int(rng.integers(1, 4)),
        kw=int(rng.integers(1, 4)),
    )


def _layer(rng: np.random.Generator) -> dict:
    s = _sizes(rng)
    Ho, Wo = s["H"] - s["kh"] + 1, s["W"] - s["kw"] + 1
    return {
        "x": rng.standard_normal((s["N"], s["C_in"], s["H"], s["W"])),
        "k": rng.standard_normal((s["C_out"], s["C_in"], s["kh"], s["kw"])),
        "c": 2.0 * rng.standard_normal((s["C_in"], s["C_out"])),
        "b": rng.standard_normal(s["C_out"]),
        "dz": rng.standard_normal((s["N"], s["C_out"], Ho, Wo)),
        "T": float(rng.choice([0.5, 1.6, 2.5])),  # never 1: a forgotten 1/T must show
    }


def _logits(rng: np.random.Generator) -> dict:
    C_in, C_out = int(rng.integers(2, 6)), int(rng.integers(2, 4))
    c = 3.0 * rng.standard_normal((C_in, C_out))
    c[0, 0] += 2500.0  # a huge logit (/ T > 745 for every T used): exp overflows without the max-shift, and
    # column 0 becomes exactly one-hot (alpha = 0 elsewhere)
    e = np.exp(c - c.max(axis=0))
    return {
        "c": c,
        "T": float(rng.choice([0.7, 1.6, 3.0])),
        "alpha": e / e.sum(axis=0),
        "dalpha": rng.standard_normal((C_in, C_out)),
        "lam": float(rng.uniform(0.1, 2.0)),
        "p": float(rng.choice([0.3, 0.5, 0.8])),
    }


def _moderate_logits(rng: np.random.Generator) -> dict:
    inp = _logits(rng)
    inp["c"] = 1.5 * rng.standard_normal(inp["c"].shape)  # alpha away from 0, so alpha^(p-1) is tame
    # ... except one column with an underflowing logit, in every case: alpha exactly 0 there (the docstrings'
    # edge; that one-hot column's dc is 0, so the other columns still carry every other check)
    inp["c"][0, -1] += 2500.0
    return inp


def _penalty_weights(rng: np.random.Generator) -> dict:
    inp = _logits(rng)
    w = rng.uniform(0.0, 2.0, size=inp["c"].shape)
    w[rng.random(w.shape) < 0.25] = 0.0  # some connections not penalized at all
    w[int(rng.integers(w.shape[0])), :] = 0.0  # ... and in every column at least one
    w[0, :] = 3.0  # ... and at least one penalized
    inp["weights"] = w
    return inp


def _l1_penalty(student: dict, reference: dict, inp: dict) -> tuple[float, str]:
    """The slides' penalty: value lam * C_out and a gradient that is zero up to rounding (|dc| <= 1e-12 lam);
    with unequal weights: the value and a (non-zero) gradient like the reference's."""
    value, why = student_array(student, "value", ())
    if value is None:
        return 0.0, why
    if not np.isclose(value, float(reference["value"]), rtol=1e-9):
        err = abs(float(value) - float(reference["value"])) / max(abs(float(reference["value"])), 1e-300)
        return 0.0, f"value: relative error {err:.1e} > 1e-09 for lam * sum |alpha| (every column of alpha sums to 1)"
    dc, why = student_array(student, "dc", np.shape(reference["dc"]))
    if dc is None:
        return 0.0, why
    worst = float(np.max(np.abs(dc - np.asarray(reference["dc"])), initial=0.0))  # the reference's is ~1e-17
    if worst > 1e-12 * max(inp["lam"], 1.0):
        return 0.0, f"dc with every weight 1: largest |dc| {worst:.1e}, more than rounding (1e-12 * lam)"
    value_w, why = student_array(student, "value_weighted", ())
    if value_w is None:
        return 0.0, why
    if not np.isclose(value_w, float(reference["value_weighted"]), rtol=1e-9):
        err = abs(float(value_w) - float(reference["value_weighted"])) / max(
            abs(float(reference["value_weighted"])), 1e-300
        )
        return 0.0, f"value_weighted: relative error {err:.1e} > 1e-09 for lam * sum(weights * |alpha|)"
    dc_w, why = student_array(student, "dc_weighted", np.shape(reference["dc_weighted"]))
    if dc_w is None:
        return 0.0, why
    err = rel_error(dc_w, np.asarray(reference["dc_weighted"]))
    if err > 1e-8:
        return 0.0, f"dc_weighted: gradient relative error {err:.1e} > tolerance 1e-08 (unequal weights per connection)"
    return 1.0, "ok"


# --------------------------------------------------------------------------------------- known mistakes
# Wrong implementations written against the reference (trusted code, never shipped; see spec.Misconception).
def _softmax(c):
    e = np.exp(c - c.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _softmax_over_outputs(c, temperature=1.0):
    return _softmax((c / temperature).T).T


def _temperature_multiplied(c, temperature=1.0):
    return _softmax(c * temperature)


def _overflowed(student: dict, inp: dict) -> bool:
    """alpha has a NaN or an infinity although every logit is finite: exp overflowed (a logit of +800)."""
    alpha = np.asarray(student.get("alpha", np.zeros(1)), dtype=np.float64)
    return bool(alpha.size and not np.all(np.isfinite(alpha)))


def _jvp_without_subtraction(alpha, dalpha):
    return alpha * dalpha


def _jvp_sum_over_outputs(alpha, dalpha):
    return alpha * (dalpha - np.sum(dalpha * alpha, axis=1, keepdims=True))


def _forward_ignores_temperature(x, k, c, b, temperature=1.0):
    from deepkit import alphaconv

    return alphaconv.alphaconv_forward(x, k, c, b, 1.0)


def _backward(change):
    def wrong(dz, cache):
        from deepkit import alphaconv

        return change(dz, cache, alphaconv.alphaconv_backward(dz, cache))

    return wrong


def _no_one_over_t(dz, cache, grads):
    dx, dk, dc, db = grads
    return dx, dk, dc * cache.temperature, db


def _dalpha_as_dc(dz, cache, grads):
    dx, dk, _, db = grads
    return dx, dk, np.einsum("njhw,nijhw->ij", dz, cache.y), db


def _dk_without_alpha(dz, cache, grads):
    dx, dk, dc, db = grads
    return dx, dk / cache.alpha.T[:, :, None, None], dc, db


def _l1_always_zero(c, lam, temperature=1.0, weights=None):
    w = np.ones_like(c) if weights is None else np.asarray(weights, dtype=np.float64)
    return float(lam * np.sum(w * _softmax(c / temperature))), np.zeros_like(c)


def _l1_gradient_in_alpha(c, lam, temperature=1.0, weights=None):
    w = np.ones_like(c) if weights is None else np.asarray(weights, dtype=np.float64)
    alpha = _softmax(c / temperature)
    return float(lam * np.sum(w * alpha)), lam * w * np.sign(alpha)


def _negative_entropy(c, lam, temperature=1.0):
    from deepkit import alphaconv

    value, dc = alphaconv.entropy_penalty(c, lam, temperature)
    return -value, -dc


def _lp_without_p(c, lam, p=0.5, temperature=1.0):
    from deepkit import alphaconv

    alpha = alphaconv.mixing_weights(c, temperature)
    safe = np.maximum(alpha, np.finfo(np.float64).tiny)
    return float(lam * np.sum(alpha**p)), alphaconv.softmax_jvp(alpha, lam * safe ** (p - 1.0)) / temperature


FORWARD, GRADIENTS, L1, SPARSIFY = (f"lecture 06, section {k}" for k in (1, 2, 3, 4))

SOFTMAX_OVER_OUTPUTS = Misconception(
    "alpha matches a softmax over the OUTPUT axis: each output map j mixes its inputs, so normalize every column "
    "(axis 0, over the input maps i)",
    FORWARD,
    {"alphaconv.mixing_weights": _softmax_over_outputs},
)
TEMPERATURE_MULTIPLIED = Misconception(
    "alpha matches softmax(c * T): the temperature divides the logits, softmax(c / T)",
    SPARSIFY,
    {"alphaconv.mixing_weights": _temperature_multiplied},
)
OVERFLOW = Misconception(
    "alpha has NaN or infinity for a huge logit: exp overflows; subtract each column's maximum first (or reuse "
    "your stable softmax)",
    FORWARD,
    detect=_overflowed,
)
JVP_WITHOUT_SUBTRACTION = Misconception(
    "dc matches alpha * dalpha: the softmax Jacobian also couples the entries, subtract sum_m dalpha_m alpha_m",
    GRADIENTS,
    {"alphaconv.softmax_jvp": _jvp_without_subtraction},
)
JVP_SUM_OVER_OUTPUTS = Misconception(
    "dc matches the alpha-weighted sum taken over the OUTPUT axis: each column is its own softmax, sum over the "
    "inputs (axis 0)",
    GRADIENTS,
    {"alphaconv.softmax_jvp": _jvp_sum_over_outputs},
)
FORWARD_IGNORES_TEMPERATURE = Misconception(
    "z matches the layer with temperature 1: alpha = softmax(c / T)",
    SPARSIFY,
    {"alphaconv.alphaconv_forward": _forward_ignores_temperature},
)
NO_ONE_OVER_T = Misconception(
    "dc is T times too large: alpha = softmax(c / T) adds the factor 1 / T to dJ/dc",
    SPARSIFY,
    {"alphaconv.alphaconv_backward": _backward(_no_one_over_t)},
)
DALPHA_AS_DC = Misconception(
    "dc matches dJ/dalpha: the parameters are the logits c, so push dJ/dalpha through the softmax (softmax_jvp)",
    GRADIENTS,
    {"alphaconv.alphaconv_backward": _backward(_dalpha_as_dc)},
)
DK_WITHOUT_ALPHA = Misconception(
    "dk misses the factor alpha_ij: the kernel k_ji only acts through alpha_ij (x_i * k_ji)",
    GRADIENTS,
    {"alphaconv.alphaconv_backward": _backward(_dk_without_alpha)},
)
L1_ALWAYS_ZERO = Misconception(
    "dc is zero even with unequal weights per connection: the slides' penalty has a zero gradient because every "
    "column of alpha sums to 1, but a penalty that weighs connections differently moves alpha",
    L1,
    {"alphaconv.l1_alpha_penalty": _l1_always_zero},
)
L1_GRADIENT_IN_ALPHA = Misconception(
    "dc matches the gradient in alpha, lam * weights * sign(alpha): push it through the softmax (softmax_jvp, 1/T)",
    L1,
    {"alphaconv.l1_alpha_penalty": _l1_gradient_in_alpha},
)
NEGATIVE_ENTROPY = Misconception(
    "the entropy penalty has the wrong sign: lam * H(alpha) with H = -sum alpha log alpha >= 0, smallest at a "
    "one-hot column",
    SPARSIFY,
    {"alphaconv.entropy_penalty": _negative_entropy},
)
LP_WITHOUT_P = Misconception(
    "dc of the Lp penalty misses the factor p: d(alpha^p)/d alpha = p alpha^(p-1)",
    SPARSIFY,
    {"alphaconv.lp_penalty": _lp_without_p},
)

# deepkit modules of earlier topics that these parts also call (graded as part of this topic)
READS = ("losses",)

PARTS = (
    Part(
        "mixing_weights",
        1,
        "mixing_weights",
        _logits,
        description="alpha = softmax(c / T) over the input axis (columns on the simplex)",
        misconceptions=(SOFTMAX_OVER_OUTPUTS, TEMPERATURE_MULTIPLIED, OVERFLOW),
    ),
    Part(
        "softmax_jvp",
        1,
        "softmax_jvp",
        _logits,
        grads=("dc",),
        grad_tol=1e-9,
        description="dc = alpha * (dalpha - sum_m dalpha_m alpha_m), column by column",
        misconceptions=(JVP_WITHOUT_SUBTRACTION, JVP_SUM_OVER_OUTPUTS),
    ),
    Part(
        "alphaconv_forward",
        2,
        "alphaconv_forward",
        _layer,
        description="z_j = sum_i alpha_ij (x_i * k_ji) + b_j",
        misconceptions=(FORWARD_IGNORES_TEMPERATURE,),
    ),
    Part(
        "alphaconv_backward",
        3,
        "alphaconv_backward",
        _layer,
        seeds=4,
        grads=("dx", "dk", "dc", "db"),
        grad_tol=1e-8,
        description="dx, dk, dc (through the softmax and 1/T) and db from your own cache",
        misconceptions=(NO_ONE_OVER_T, DALPHA_AS_DC, DK_WITHOUT_ALPHA),
    ),
    Part(
        "l1_alpha_penalty",
        1,
        "l1_alpha_penalty",
        _penalty_weights,
        compare=_l1_penalty,
        description="the L1 penalty on alpha: constant with equal weights (zero gradient); unequal weights move alpha",
        misconceptions=(L1_ALWAYS_ZERO, L1_GRADIENT_IN_ALPHA),
    ),
    Part(
        "sparsity_penalty",
        2,
        "sparsity_penalty",
        _moderate_logits,
        grads=("dc_entropy", "dc_lp"),
        grad_tol=1e-8,
        description="entropy and Lp (p < 1) penalties on alpha with their gradients in c (alpha = 0 included)",
        misconceptions=(NEGATIVE_ENTROPY, LP_WITHOUT_P),
    ),
)
