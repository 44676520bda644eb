"""Helpers for the visible tests of the exercise notebooks (given code).

A failing visible test should teach: say what was checked, show what was expected next to what your code
returned, and give the hint that usually explains the difference.
"""

from __future__ import annotations

import numpy as np


def assert_close(got, expected, name: str = "output", rtol: float = 1e-6, atol: float = 1e-8, hint: str = "") -> None:
    """Raise ``AssertionError`` unless ``got`` matches ``expected`` (same shape, ``np.allclose(rtol, atol)``).

    got: what your function returned (array-like); expected: the known answer for the fixed visible inputs.
    The message shows both arrays, the largest difference and ``hint``.
    """
    got_arr = np.asarray(got, dtype=np.float64) if _numeric(got) else None
    exp_arr = np.asarray(expected, dtype=np.float64)
    if got_arr is None:
        raise AssertionError(f"{name}: expected an array of numbers, got {type(got).__name__}. {hint}".rstrip())
    if got_arr.shape != exp_arr.shape:
        raise AssertionError(f"{name}: expected shape {exp_arr.shape}, got shape {got_arr.shape}. {hint}".rstrip())
    if np.allclose(got_arr, exp_arr, rtol=rtol, atol=atol):
        return
    with np.printoptions(precision=6, suppress=True, linewidth=100, threshold=60):
        diff = float(np.max(np.abs(got_arr - exp_arr))) if got_arr.size else 0.0
        message = f"{name} is off (largest difference {diff:.3g}).\nexpected:\n{exp_arr}\ngot:\n{got_arr}"
    raise AssertionError(message + (f"\nhint: {hint}" if hint else ""))


def _numeric(value) -> bool:
    try:
        return np.asarray(value).dtype.kind in "biuf"
    except Exception:  # noqa: BLE001 - ragged lists and other odd values
        return False
