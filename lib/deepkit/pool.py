"""Max and average pooling over square windows, vectorized (no Python loop over positions).

x: (N, C, H, W); a window of size ``pool`` moves by ``stride`` (default: ``pool``, non-overlapping windows);
out (N, C, Ho, Wo) with ``Ho = (H - pool) // stride + 1``. Max pooling routes each upstream gradient to ONE element
of its window: the maximum, and when several elements tie for the maximum, the FIRST of them in row-major order
within the window (top row first, left to right), which is what PyTorch does (its CPU kernel keeps the first
maximum it meets); the tied others get nothing, the gradient is not split. Average pooling spreads it evenly.
Overlapping windows (stride < pool) add up.

The loops below run over the pool x pool offsets of a window (4 or 9), never over positions: each offset is one
strided view of x covering every window at once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from deepkit.validate import as_float_array, check_int


class MaxPoolCache(NamedTuple):
    """What ``maxpool_backward`` needs from ``maxpool_forward`` (any tuple your backward understands will do)."""

    x_shape: tuple  # (N, C, H, W)
    arg: np.ndarray  # (N, C, Ho, Wo): row-major index (0 .. pool*pool - 1) of the first maximum in each window
    pool: int
    stride: int


def _check(x, pool, stride):
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C, H, W)")
    pool = check_int(pool, "pool", 1)
    stride = pool if stride is None else check_int(stride, "stride", 1)
    if pool > min(x.shape[2:]):
        raise ValueError(f"pool {pool} is larger than the input's spatial size {x.shape[2:]}")
    return x, pool, stride


def window_offsets(x: np.ndarray, pool: int, stride: int) -> list[np.ndarray]:
    """The pool * pool strided views of x, one per offset (i, j) of a window, in row-major order: view k holds,
    for every window, its element at offset (k // pool, k % pool); each view has shape (N, C, Ho, Wo)."""
    H, W = x.shape[2:]
    ho, wo = (H - pool) // stride + 1, (W - pool) // stride + 1
    return [
        x[:, :, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride]
        for i in range(pool)
        for j in range(pool)
    ]


def scatter_windows(per_offset: np.ndarray, x_shape: tuple, pool: int, stride: int) -> np.ndarray:
    """Add per-offset gradients (N, C, Ho, Wo, pool, pool) back onto x's grid."""
    dx = np.zeros(x_shape)
    Ho, Wo = per_offset.shape[2:4]
    for i in range(pool):
        for j in range(pool):
            dx[:, :, i : i + stride * Ho : stride, j : j + stride * Wo : stride] += per_offset[:, :, :, :, i, j]
    return dx


def maxpool_forward(x: np.ndarray, pool: int = 2, stride: int | None = None) -> tuple[np.ndarray, tuple]:
    """Max over each pool x pool window (stride defaults to pool). Returns out (N, C, Ho, Wo) and a cache."""
    x, pool, stride = _check(x, pool, stride)
    raise NotImplementedError("Exercise 08_convolution: implement maxpool_forward in lib/deepkit/pool.py")


def maxpool_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """dout: (N, C, Ho, Wo). Returns dx (N, C, H, W): each dout goes to its window's maximum, to the first one
    (row-major within the window) when several tie; overlapping windows add up."""
    dout = as_float_array(dout, "dout", ndim=4, shape_doc="(N, C, Ho, Wo)")
    raise NotImplementedError("Exercise 08_convolution: implement maxpool_backward in lib/deepkit/pool.py")


def avgpool_forward(x: np.ndarray, pool: int = 2, stride: int | None = None) -> tuple[np.ndarray, tuple]:
    """Mean over each pool x pool window (stride defaults to pool). Returns out (N, C, Ho, Wo) and a cache."""
    x, pool, stride = _check(x, pool, stride)
    raise NotImplementedError("Exercise 08_convolution: implement avgpool_forward in lib/deepkit/pool.py")


def avgpool_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """dout: (N, C, Ho, Wo). Returns dx (N, C, H, W): each dout spread evenly over its window."""
    dout = as_float_array(dout, "dout", ndim=4, shape_doc="(N, C, Ho, Wo)")
    raise NotImplementedError("Exercise 08_convolution: implement avgpool_backward in lib/deepkit/pool.py")
