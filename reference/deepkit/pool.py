"""Max and average pooling over square windows, vectorized (no Python loop over positions).

x: (N, C, H, W); a window of size ``pool`` moves by ``stride``; out (N, C, Ho, Wo) with
``Ho = (H - pool) // stride + 1``. Max pooling routes each upstream gradient to the first maximum of its window
(as PyTorch does); average pooling spreads it evenly. Overlapping windows (stride < pool) add up.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from deepkit.validate import as_float_array, check_int


class MaxPoolCache(NamedTuple):
    """What ``maxpool_backward`` needs from ``maxpool_forward`` (any tuple your backward understands will do)."""

    x_shape: tuple  # (N, C, H, W)
    arg: np.ndarray  # (N, C, Ho, Wo): flat index of the maximum within each pool x pool window
    pool: int
    stride: int


def _check(x, pool, stride):
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C, H, W)")
    pool = check_int(pool, "pool", 1)
    stride = pool if stride is None else check_int(stride, "stride", 1)
    if pool > min(x.shape[2:]):
        raise ValueError(f"pool {pool} is larger than the input's spatial size {x.shape[2:]}")
    return x, pool, stride


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
    ### BEGIN SOLUTION
    win = sliding_window_view(x, (pool, pool), axis=(2, 3))[:, :, ::stride, ::stride]
    flat = win.reshape(*win.shape[:4], pool * pool)
    arg = flat.argmax(axis=-1)
    out = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    return out, MaxPoolCache(x.shape, arg, pool, stride)
    ### END SOLUTION


def maxpool_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """dout: (N, C, Ho, Wo). Returns dx (N, C, H, W): each dout goes to its window's (first) maximum."""
    dout = as_float_array(dout, "dout", ndim=4, shape_doc="(N, C, Ho, Wo)")
    ### BEGIN SOLUTION
    x_shape, arg, pool, stride = cache
    if dout.shape != arg.shape:
        raise ValueError(f"dout must have the pooled shape {arg.shape}, got {dout.shape}")
    onehot = (arg[..., None] == np.arange(pool * pool)) * dout[..., None]
    return scatter_windows(onehot.reshape(*arg.shape, pool, pool), x_shape, pool, stride)
    ### END SOLUTION


def avgpool_forward(x: np.ndarray, pool: int = 2, stride: int | None = None) -> tuple[np.ndarray, tuple]:
    """Mean over each pool x pool window (stride defaults to pool). Returns out (N, C, Ho, Wo) and a cache."""
    x, pool, stride = _check(x, pool, stride)
    ### BEGIN SOLUTION
    win = sliding_window_view(x, (pool, pool), axis=(2, 3))[:, :, ::stride, ::stride]
    return win.mean(axis=(4, 5)), (x.shape, pool, stride)
    ### END SOLUTION


def avgpool_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """dout: (N, C, Ho, Wo). Returns dx (N, C, H, W): each dout spread evenly over its window."""
    dout = as_float_array(dout, "dout", ndim=4, shape_doc="(N, C, Ho, Wo)")
    ### BEGIN SOLUTION
    x_shape, pool, stride = cache
    share = np.broadcast_to((dout / (pool * pool))[..., None, None], (*dout.shape, pool, pool))
    return scatter_windows(share, x_shape, pool, stride)
    ### END SOLUTION
