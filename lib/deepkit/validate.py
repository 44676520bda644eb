"""Input validation shared by every deepkit function (given code, identical in lib/ and reference/).

Each helper raises ``TypeError`` or ``ValueError`` with a message that names the argument and says what was
expected, e.g. ``x must be a 2-D array of shape (N, D), got shape (3,)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def as_float_array(x: Any, name: str, ndim: int | Sequence[int] | None = None, shape_doc: str = "") -> np.ndarray:
    """Return ``x`` as a float64 ndarray (no copy when it already is one), checking its rank.

    ndim: the required number of dimensions (or a tuple of allowed ones); shape_doc, e.g. "(N, D)", goes into
    the error message. Rejects complex, object and string arrays and non-finite values.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and friends
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (int or float), got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            doc = f" of shape {shape_doc}" if shape_doc else ""
            raise ValueError(f"{name} must be a {want} array{doc}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def check_shape(arr: np.ndarray, name: str, expected: tuple, doc: str = "") -> None:
    """Check ``arr.shape == expected``; ``None`` in ``expected`` matches any size."""
    ok = arr.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, arr.shape))
    if not ok:
        want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{name} must have shape {doc or want}, got {arr.shape}")


def as_labels(y: Any, name: str, n: int, num_classes: int) -> np.ndarray:
    """Integer class labels of shape (n,) with values in [0, num_classes)."""
    arr = np.asarray(y)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and arr.size and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the {n} rows of scores, got {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(f"{name} values must be in [0, {num_classes}), got min {arr.min()} max {arr.max()}")
    return arr.astype(np.int64, copy=False)


def check_positive(value: Any, name: str, allow_zero: bool = False) -> float:
    """A real scalar > 0 (or >= 0 when allow_zero)."""
    v = _scalar(value, name)
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {v}")
    return v


def check_prob(value: Any, name: str, low_open: bool = False, high_open: bool = False) -> float:
    """A probability in [0, 1]; low_open/high_open exclude 0 or 1."""
    v = _scalar(value, name)
    lo_ok = v > 0 if low_open else v >= 0
    hi_ok = v < 1 if high_open else v <= 1
    if not (lo_ok and hi_ok):
        interval = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        raise ValueError(f"{name} must be in {interval}, got {v}")
    return v


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    """An integer (Python or NumPy) at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def check_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """A numpy.random.Generator (use ``np.random.default_rng(seed)``)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}"
        )
    return rng


def _scalar(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):  # math, not numpy: a hyper-parameter check runs on every optimizer step
        raise ValueError(f"{name} must be finite, got {v}")
    return v
