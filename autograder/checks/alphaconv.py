"""Hidden checks of topic 06: the alpha-conv (softmax-mixed input maps), its gradients and its penalties.
Temperatures other than 1 are included, so a backward that forgets the 1/T of d(c/T)/dc fails."""

from __future__ import annotations

import numpy as np

from autograder.compare import student_array
from autograder.spec import Part


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
        "T": float(rng.choice([1.0, 0.5, 2.5])),
    }


def _logits(rng: np.random.Generator) -> dict:
    C_in, C_out = int(rng.integers(2, 6)), int(rng.integers(1, 4))
    c = 3.0 * rng.standard_normal((C_in, C_out))
    c[0, 0] += 800.0  # a huge logit: overflow without the max-shift
    e = np.exp(c - c.max(axis=0))
    return {
        "c": c,
        "T": float(rng.choice([1.0, 0.7, 3.0])),
        "alpha": e / e.sum(axis=0),
        "dalpha": rng.standard_normal((C_in, C_out)),
        "lam": float(rng.uniform(0.1, 2.0)),
        "p": float(rng.choice([0.3, 0.5, 0.8])),
    }


def _moderate_logits(rng: np.random.Generator) -> dict:
    inp = _logits(rng)
    inp["c"] = 1.5 * rng.standard_normal(inp["c"].shape)  # alpha away from 0, so alpha^(p-1) is tame
    return inp


def _l1_zero(student: dict, reference: dict, inp: dict) -> tuple[float, str]:
    """Value lam * C_out; gradient zero up to rounding (|dc| <= 1e-12 * lam)."""
    value, why = student_array(student, "value", ())
    dc, why_dc = student_array(student, "dc", np.shape(reference["dc"]))
    if value is None or dc is None:
        return 0.0, why or why_dc
    if not np.isclose(value, float(reference["value"]), rtol=1e-9):
        return 0.0, "value: lam * sum |alpha| is not right (every column of alpha sums to 1)"
    if np.max(np.abs(dc), initial=0.0) > 1e-12 * max(inp["lam"], 1.0):
        return 0.0, "dc: the gradient of lam * sum |alpha| with respect to c should be (numerically) zero"
    return 1.0, "ok"


# deepkit modules of earlier topics that these parts also call (graded as part of this topic)
READS = ("losses",)

PARTS = (
    Part(
        "mixing_weights",
        1,
        "mixing_weights",
        _logits,
        description="alpha = softmax(c / T) over the input axis (columns on the simplex)",
    ),
    Part(
        "softmax_jvp",
        1,
        "softmax_jvp",
        _logits,
        grads=("dc",),
        grad_tol=1e-9,
        description="dc = alpha * (dalpha - sum_m dalpha_m alpha_m), column by column",
    ),
    Part("alphaconv_forward", 2, "alphaconv_forward", _layer, description="z_j = sum_i alpha_ij (x_i * k_ji) + b_j"),
    Part(
        "alphaconv_backward",
        3,
        "alphaconv_backward",
        _layer,
        seeds=4,
        grads=("dx", "dk", "dc", "db"),
        grad_tol=1e-8,
        description="dx, dk, dc (through the softmax and 1/T) and db from your own cache",
    ),
    Part(
        "l1_alpha_penalty",
        1,
        "l1_alpha_penalty",
        _logits,
        compare=_l1_zero,
        description="the L1 penalty on alpha: constant value, zero gradient",
    ),
    Part(
        "sparsity_penalty",
        2,
        "sparsity_penalty",
        _moderate_logits,
        grads=("dc_entropy", "dc_lp"),
        grad_tol=1e-8,
        description="entropy and Lp (p < 1) penalties on alpha with their gradients in c",
    ),
)
