"""Trusted comparison of a probe's outputs (student) with the reference's outputs on the same inputs.

Reasons name the output, the kind of mismatch (missing, shape, dtype, non-finite, value, gradient) and the
worst element's index, never the hidden input values or the expected numbers themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autograder.spec import Part

_TINY = 1e-300


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
        return None, f"{key}: expected real numbers, got dtype {got.dtype}"
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
                    0.0, f"{key}: gradient relative error {err:.2e} > {part.grad_tol:.0e}{_worst(got, reff)}"
                )
        elif not np.allclose(got, reff, rtol=part.rtol, atol=part.atol):
            return CaseResult(
                0.0, f"{key}: values differ (rtol {part.rtol:.0e}, atol {part.atol:.0e}){_worst(got, reff)}"
            )
    return CaseResult(1.0, "ok")


def _worst(got: np.ndarray, ref: np.ndarray) -> str:
    """Where the largest mismatch is (the index only: its size would reveal a reference value)."""
    if got.ndim == 0:
        return ""
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(got - ref))), got.shape))
    return f"; the worst element is at index {idx}"


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
