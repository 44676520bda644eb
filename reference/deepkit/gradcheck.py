"""Gradient checking by centred finite differences (given code).

The error measure is the norm ratio ``||a - n|| / max(||a|| + ||n||, tiny)`` over the whole gradient (not an
element-wise maximum, which explodes where both gradients are ~0). Thresholds below were measured; see
docs/gradcheck.md for the experiment (how many seeds, the worst error of correct layers, the smallest error of
the wrong ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: float64 tolerance for correct analytic gradients with h = 1e-6 (see docs/gradcheck.md).
DEFAULT_TOL = 1e-6
DEFAULT_H = 1e-6
_TINY = 1e-300


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Norm-ratio relative error ``||a - b|| / max(||a|| + ||b||, tiny)``; 0 when both are all zeros.

    a, b: arrays of the same shape (any shape).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes, got {a.shape} and {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / max(denom, _TINY)) if denom > 0 else 0.0


def numerical_gradient(
    f: Callable[[], float] | Callable[[np.ndarray], float], x: np.ndarray, h: float = DEFAULT_H
) -> np.ndarray:
    """Centred-difference gradient of a scalar function at ``x`` (same shape as x).

    ``f`` is called as ``f(x)``; ``x`` is perturbed in place one element at a time and restored.
    """
    return numerical_gradient_array(lambda v: np.asarray(f(v), dtype=np.float64), x, np.array(1.0), h)


def numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray, h: float = DEFAULT_H
) -> np.ndarray:
    """Upstream-weighted centred differences: the gradient of ``sum(f(x) * dout)`` with respect to ``x``.

    x: float64 array, perturbed in place and restored; dout: array of f(x)'s shape. Returns x's shape.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(
            f"x must be a float64 numpy array (it is perturbed in place), got "
            f"{type(x).__name__} {getattr(x, 'dtype', '')}"
        )
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = np.sum(np.asarray(f(x), dtype=np.float64) * dout)
        flat[i] = old - h
        minus = np.sum(np.asarray(f(x), dtype=np.float64) * dout)
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * h)
    return grad


@dataclass
class GradReport:
    """Result of ``check_gradient``: pass/fail, the error, and where the worst element is."""

    ok: bool
    rel_error: float
    tol: float
    worst_index: tuple
    worst_analytic: float
    worst_numeric: float
    skipped_kinks: int = 0
    name: str = "x"

    def __str__(self) -> str:
        verdict = "OK" if self.ok else "FAILED"
        kinks = f", {self.skipped_kinks} element(s) at a kink skipped" if self.skipped_kinks else ""
        return (
            f"gradient check d{self.name}: {verdict}: relative error {self.rel_error:.2e} "
            f"(tolerance {self.tol:.0e}){kinks}; worst element {self.worst_index}: "
            f"analytic {self.worst_analytic:.6g} vs numeric {self.worst_numeric:.6g}"
        )

    def __bool__(self) -> bool:
        return self.ok


def check_gradient(
    f: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    analytic: np.ndarray,
    dout: np.ndarray | None = None,
    h: float = DEFAULT_H,
    tol: float = DEFAULT_TOL,
    kink_aware: bool = True,
    name: str = "x",
) -> GradReport:
    """Compare an analytic gradient with centred differences.

    f: x -> array (or scalar); dout: upstream gradient of f(x)'s shape (default ones, i.e. d sum f / dx);
    analytic: the gradient to check, x's shape. With ``kink_aware`` elements where the one-sided differences
    disagree (x within h of a kink such as ReLU's 0) are left out of the comparison and counted.
    """
    x = np.asarray(x, dtype=np.float64)
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != x.shape:
        raise ValueError(f"analytic gradient d{name} has shape {analytic.shape}, expected x's shape {x.shape}")
    out0 = np.asarray(f(x), dtype=np.float64)
    dout = np.ones_like(out0) if dout is None else np.asarray(dout, dtype=np.float64)
    if dout.shape != out0.shape:
        raise ValueError(f"dout has shape {dout.shape}, expected f(x)'s shape {out0.shape}")
    x = x.copy()
    num = numerical_gradient_array(f, x, dout, h)
    mask = np.ones(x.shape, dtype=bool)
    if kink_aware:
        mask = ~_kinks(f, x, dout, h, num)
    a, n = analytic[mask], num[mask]
    err = rel_error(a, n)
    diff = np.where(mask, np.abs(analytic - num), -1.0)
    worst = np.unravel_index(int(np.argmax(diff)), x.shape) if x.size else ()
    return GradReport(
        ok=bool(err <= tol),
        rel_error=err,
        tol=tol,
        worst_index=tuple(int(i) for i in worst),
        worst_analytic=float(analytic[worst]) if x.size else 0.0,
        worst_numeric=float(num[worst]) if x.size else 0.0,
        skipped_kinks=int((~mask).sum()),
        name=name,
    )


def _kinks(f, x: np.ndarray, dout: np.ndarray, h: float, centred: np.ndarray) -> np.ndarray:
    """Elements where forward and backward one-sided differences disagree beyond smooth curvature."""
    base = np.sum(np.asarray(f(x), dtype=np.float64) * dout)
    flat = x.reshape(-1)
    kink = np.zeros(x.size, dtype=bool)
    scale = max(np.abs(centred).max(initial=0.0), 1.0)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        right = (np.sum(np.asarray(f(x), dtype=np.float64) * dout) - base) / h
        flat[i] = old - h
        left = (base - np.sum(np.asarray(f(x), dtype=np.float64) * dout)) / h
        flat[i] = old
        kink[i] = abs(right - left) > 1e-3 * scale
    return kink.reshape(x.shape)
