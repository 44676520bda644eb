"""Trusted comparison of a probe's outputs (student) with the reference's outputs on the same inputs.

Reasons name the output, the kind of mismatch (missing, shape, dtype, non-finite, value, gradient), the size of
the error against the tolerance, how many elements are off and where the worst one is, and (``judge_case``) the
known mistake the outputs match; never the hidden input values or the expected numbers themselves. An error of
float32 size on float32-representable values is named as a precision problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from autograder.spec import Misconception, Part

_TINY = 1e-300
# what an array of another dtype kind holds, as a reason names it (a dtype's own text is not shown: the field
# names of a record dtype are free text)
KIND_NAMES = {"O": "Python objects", "U": "text", "S": "bytes", "c": "complex numbers", "V": "records"}


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Norm-ratio relative error (the same measure as deepkit.gradcheck.rel_error, kept here so the trusted
    side never imports a module a student could have shadowed)."""
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / max(denom, _TINY)) if denom > 0 else 0.0


@dataclass
class CaseResult:
    """One seeded case of one part: the fraction of credit and why."""

    fraction: float
    reason: str


def student_array(student: dict, key: str, shape: tuple | None = None) -> tuple[np.ndarray | None, str]:
    """The untrusted output ``student[key]`` as a finite float64 array (of ``shape`` if given), or
    ``(None, reason)``. Shared by the default comparison and the topics' own ``compare`` functions."""
    if key not in student:
        return None, f"output {key!r} is missing"
    got = student[key]
    if not isinstance(got, np.ndarray):
        try:
            got = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            return None, f"{key}: expected a numeric array, got {type(got).__name__}"
    if got.dtype.kind not in "biuf":
        return None, f"{key}: expected real numbers, got an array of {KIND_NAMES.get(got.dtype.kind, 'another type')}"
    if shape is not None and got.shape != tuple(shape):
        return None, f"{key}: shape {got.shape}, expected {tuple(shape)}"
    got = got.astype(np.float64, copy=False)
    if not np.all(np.isfinite(got)):
        bad = np.unravel_index(int(np.argmax(~np.isfinite(got))), got.shape) if got.ndim else ()
        return None, f"{key}: contains NaN or infinity (first at index {tuple(map(int, bad))})"
    return got, ""


def compare_case(part: Part, student: dict, reference: dict, inputs: dict) -> CaseResult:
    """Compare one case's outputs; ``student`` is untrusted (any types, missing keys)."""
    if part.compare is not None:
        frac, reason = part.compare(student, reference, inputs)
        return CaseResult(float(min(max(frac, 0.0), 1.0)), reason)
    for key, ref in reference.items():
        reff = np.asarray(ref).astype(np.float64, copy=False)
        got, why = student_array(student, key, reff.shape)
        if got is None:
            return CaseResult(0.0, why)
        if key in part.grads:
            err = rel_error(got, reff)
            if err > part.grad_tol:
                return CaseResult(
                    0.0,
                    f"{key}: gradient relative error {err:.1e} > tolerance {part.grad_tol:.0e}"
                    f"{_precision(got, err)}{_worst(got, reff)}",
                )
        elif not np.allclose(got, reff, rtol=part.rtol, atol=part.atol):
            return CaseResult(0.0, _value_reason(key, got, reff, part.rtol, part.atol))
    return CaseResult(1.0, "ok")


def _value_reason(key: str, got: np.ndarray, ref: np.ndarray, rtol: float, atol: float) -> str:
    """How far ``got`` is from ``ref``: the relative error, how many elements miss the tolerance, the worst."""
    err = rel_error(got, ref)
    off = ~np.isclose(got, ref, rtol=rtol, atol=atol)
    where = f"{int(off.sum())} of {off.size} elements" if got.ndim else "the value"
    return (
        f"{key}: values differ: relative error {err:.1e} (tolerance rtol {rtol:.0e}, atol {atol:.0e}); "
        f"{where} outside it{_precision(got, err)}{_worst(got, ref)}"
    )


def _precision(got: np.ndarray, err: float) -> str:
    """A hint when the error is the size of float32 rounding and every value is a float32 number."""
    f32 = np.finfo(np.float32).eps
    if err < 50 * f32 and got.size and np.array_equal(got, got.astype(np.float32).astype(np.float64)):
        return (
            f" (your result agrees to {err:.0e} relative and every value is a float32 number: "
            "did you compute in float32? deepkit computes in float64)"
        )
    return ""


def _worst(got: np.ndarray, ref: np.ndarray) -> str:
    """Where the largest mismatch is (the index only: its size would reveal a reference value)."""
    if got.ndim == 0:
        return ""
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(got - ref))), got.shape))
    return f"; the worst element is at index {idx}"


def matching_misconception(
    part: Part, student: dict, inputs: dict, wrong: list[tuple[Misconception, dict | None]]
) -> Misconception | None:
    """The first known mistake whose outputs (or ``detect``) the student's outputs match on this case."""
    for mistake, outputs in wrong:
        try:
            if mistake.detect is not None:
                if mistake.detect(student, inputs):
                    return mistake
            elif outputs is not None and compare_case(part, student, outputs, inputs).fraction >= 1.0:
                return mistake
        except Exception:  # noqa: BLE001 - odd student output: it simply does not match
            continue
    return None


def judge_case(
    part: Part, student: dict, reference: dict, inputs: dict, wrong: Callable[[], list] | None = None
) -> CaseResult:
    """``compare_case``, and when the case fails, the known mistake the outputs match, named with its lecture
    pointer. ``wrong()`` returns ``[(misconception, its outputs on these inputs)]``; it is called only for a
    failed case (computing the mistakes' outputs costs a probe run each)."""
    result = compare_case(part, student, reference, inputs)
    if result.fraction < 1.0 and wrong is not None and part.misconceptions:
        mistake = matching_misconception(part, student, inputs, wrong())
        if mistake is not None:
            return CaseResult(result.fraction, f"{mistake.reason} ({result.reason})")
    return result


def part_score(part: Part, cases: list[CaseResult]) -> tuple[float, str]:
    """Points for a part from its cases: points * mean fraction, rounded down to 0.5; reason of first failure."""
    if not cases:
        return 0.0, "no result"
    frac = sum(c.fraction for c in cases) / len(cases)
    score = np.floor(part.points * frac * 2 + 1e-9) / 2
    failed = [c.reason for c in cases if c.fraction < 1.0]
    n_ok = sum(c.fraction >= 1.0 for c in cases)
    if not failed:
        reason = "all checks passed"
    elif n_ok == 0 and len(set(failed)) == 1:  # the same failure every time: say it once
        reason = failed[0]
    else:
        reason = f"{n_ok}/{len(cases)} cases passed; {failed[0]}"
    return float(score), reason
