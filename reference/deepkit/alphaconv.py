"""A convolution whose input maps are mixed by learned softmax weights (the "alpha-conv").

Output map j mixes the correlations of every input map i with its own kernel k_ji:

    z_j = sum_i alpha_ij (x_i * k_ji) + b_j,      alpha_ij = exp(c_ij / T) / sum_m exp(c_mj / T)

so each column alpha_:j lies on the probability simplex (non-negative, sums to 1). The activation f is applied
outside the layer (a_j = f(z_j), any deepkit activation). ``*`` is a "valid" cross-correlation, as in every deep
learning library's conv layer.

Shapes: x (N, C_in, H, W); k (C_out, C_in, kh, kw); c (C_in, C_out); b (C_out,);
z (N, C_out, H - kh + 1, W - kw + 1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from deepkit.validate import as_float_array, check_positive


class AlphaConvCache(NamedTuple):
    """What ``alphaconv_backward`` needs from ``alphaconv_forward`` (any tuple your backward understands will do)."""

    x: np.ndarray  # (N, C_in, H, W)
    k: np.ndarray  # (C_out, C_in, kh, kw)
    alpha: np.ndarray  # (C_in, C_out) mixing weights
    y: np.ndarray  # (N, C_in, C_out, Ho, Wo) pair correlations
    temperature: float


def pair_correlations(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Every input map correlated with every kernel (given: a plain, vectorized "valid" correlation).

    x: (N, C_in, H, W); k: (C_out, C_in, kh, kw). Returns y (N, C_in, C_out, Ho, Wo) with
    ``y[n, i, j] = x[n, i] * k[j, i]`` (Ho = H - kh + 1, Wo = W - kw + 1): the maps before mixing.
    """
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C_in, H, W)")
    k = as_float_array(k, "k", ndim=4, shape_doc="(C_out, C_in, kh, kw)")
    if k.shape[1] != x.shape[1]:
        raise ValueError(
            f"k must have shape (C_out, {x.shape[1]}, kh, kw) to match x's {x.shape[1]} input maps, got {k.shape}"
        )
    if k.shape[2] > x.shape[2] or k.shape[3] > x.shape[3]:
        raise ValueError(f"kernel {k.shape[2:]} is larger than the input maps {x.shape[2:]}")
    windows = sliding_window_view(x, k.shape[2:], axis=(2, 3))  # (N, C_in, Ho, Wo, kh, kw)
    return np.einsum("nihwpq,jipq->nijhw", windows, k, optimize=True)


def mixing_weights(c: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """alpha = softmax of c / temperature over the INPUT axis (axis 0), one simplex per output map.

    c: (C_in, C_out) logits. Returns alpha (C_in, C_out), every column non-negative and summing to 1.
    A small temperature sharpens alpha towards one-hot, a large one flattens it towards uniform. Logits may be
    huge (hundreds): exp must not overflow.
    """
    c = as_float_array(c, "c", ndim=2, shape_doc="(C_in, C_out)")
    check_positive(temperature, "temperature")
    ### BEGIN SOLUTION
    from deepkit.losses import softmax

    return softmax(c.T / temperature).T
    ### END SOLUTION


def softmax_jvp(alpha: np.ndarray, dalpha: np.ndarray) -> np.ndarray:
    """Back-propagate through alpha = softmax(c) column by column (the vector-Jacobian product).

    alpha, dalpha: (C_in, C_out), dalpha = dJ/dalpha. Returns dJ/dc (C_in, C_out):
    ``dc_ij = alpha_ij (dalpha_ij - sum_m dalpha_mj alpha_mj)`` (for temperature 1).
    """
    alpha = as_float_array(alpha, "alpha", ndim=2, shape_doc="(C_in, C_out)")
    dalpha = as_float_array(dalpha, "dalpha", ndim=2, shape_doc="(C_in, C_out)")
    if alpha.shape != dalpha.shape:
        raise ValueError(f"dalpha must have alpha's shape {alpha.shape}, got {dalpha.shape}")
    ### BEGIN SOLUTION
    return alpha * (dalpha - np.sum(dalpha * alpha, axis=0, keepdims=True))
    ### END SOLUTION


def alphaconv_forward(
    x: np.ndarray, k: np.ndarray, c: np.ndarray, b: np.ndarray, temperature: float = 1.0
) -> tuple[np.ndarray, tuple]:
    """z_j = sum_i alpha_ij (x_i * k_ji) + b_j for every example.

    x: (N, C_in, H, W); k: (C_out, C_in, kh, kw); c: (C_in, C_out); b: (C_out,).
    Returns z (N, C_out, Ho, Wo) and a cache for ``alphaconv_backward``. Use ``pair_correlations`` and
    ``mixing_weights``.
    """
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C_in, H, W)")
    k = as_float_array(k, "k", ndim=4, shape_doc="(C_out, C_in, kh, kw)")
    c = as_float_array(c, "c", ndim=2, shape_doc="(C_in, C_out)")
    b = as_float_array(b, "b", ndim=1, shape_doc="(C_out,)")
    if c.shape != (x.shape[1], k.shape[0]):
        raise ValueError(f"c must have shape (C_in, C_out) = {(x.shape[1], k.shape[0])}, got {c.shape}")
    if b.shape != (k.shape[0],):
        raise ValueError(f"b must have shape ({k.shape[0]},), got {b.shape}")
    ### BEGIN SOLUTION
    y = pair_correlations(x, k)
    alpha = mixing_weights(c, temperature)
    z = np.einsum("nijhw,ij->njhw", y, alpha, optimize=True) + b[None, :, None, None]
    return z, AlphaConvCache(x, k, alpha, y, temperature)
    ### END SOLUTION


def alphaconv_backward(dz: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the alpha-conv. dz: (N, C_out, Ho, Wo) = dJ/dz. Returns (dx, dk, dc, db).

    dJ/dalpha_ij = sum_{n,u,v} dz[n, j, u, v] * (x_i * k_ji)[n, u, v]   (the slide's formula, summed over n)
    dJ/dc = softmax_jvp(alpha, dJ/dalpha) / temperature
    dk[j, i] = alpha_ij * sum_n x[n, i] * dz[n, j]   (a correlation of the input with the upstream gradient)
    dx[n, i] = sum_j alpha_ij * (dz[n, j] convolved "full" with k[j, i])
    db_j = sum_{n,u,v} dz[n, j, u, v]
    """
    dz = as_float_array(dz, "dz", ndim=4, shape_doc="(N, C_out, Ho, Wo)")
    ### BEGIN SOLUTION
    x, k, alpha, y, temperature = cache
    if dz.shape != (y.shape[0], y.shape[2], *y.shape[3:]):
        raise ValueError(f"dz must have z's shape {(y.shape[0], y.shape[2], *y.shape[3:])}, got {dz.shape}")
    kh, kw = k.shape[2:]
    Ho, Wo = dz.shape[2:]
    dalpha = np.einsum("njhw,nijhw->ij", dz, y, optimize=True)
    dc = softmax_jvp(alpha, dalpha) / temperature
    db = dz.sum(axis=(0, 2, 3))
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))
    dk = np.einsum("njhw,nihwpq->jipq", dz, windows, optimize=True) * alpha.T[:, :, None, None]
    k_eff = k * alpha.T[:, :, None, None]  # (C_out, C_in, kh, kw)
    dx = np.zeros_like(x)
    for p in range(kh):
        for q in range(kw):
            dx[:, :, p : p + Ho, q : q + Wo] += np.einsum("njhw,ji->nihw", dz, k_eff[:, :, p, q], optimize=True)
    return dx, dk, dc, db
    ### END SOLUTION


def l1_alpha_penalty(
    c: np.ndarray, lam: float, temperature: float = 1.0, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """The slides' sparsity penalty ``lam * sum_ij weights_ij * |alpha_ij|`` and its gradient with respect to c.

    c: (C_in, C_out) logits; lam >= 0; weights: (C_in, C_out), >= 0, how strongly each connection is penalized
    (default: all ones, the slides' penalty). alpha = mixing_weights(c, temperature). The gradient in alpha is
    ``lam * weights * sign(alpha)`` (sign(0) = 0), pushed through the softmax and its 1/temperature.
    Returns (value: float, dc: (C_in, C_out)).
    """
    c = as_float_array(c, "c", ndim=2, shape_doc="(C_in, C_out)")
    check_positive(lam, "lam", allow_zero=True)
    if weights is None:
        weights = np.ones_like(c)
    weights = as_float_array(weights, "weights", ndim=2, shape_doc="(C_in, C_out)")
    if weights.shape != c.shape:
        raise ValueError(f"weights must have c's shape {c.shape}, got {weights.shape}")
    if np.any(weights < 0):
        raise ValueError("weights must be >= 0 (a penalty strength per connection)")
    ### BEGIN SOLUTION
    alpha = mixing_weights(c, temperature)
    dalpha = lam * weights * np.sign(alpha)
    return float(lam * np.sum(weights * np.abs(alpha))), softmax_jvp(alpha, dalpha) / temperature
    ### END SOLUTION


def entropy_penalty(c: np.ndarray, lam: float, temperature: float = 1.0) -> tuple[float, np.ndarray]:
    """A penalty that does sparsify: lam * sum_j H(alpha_:j), H(a) = -sum_i a_i log a_i, minimal at one-hot.

    c: (C_in, C_out). Returns (value, dc) with dJ/dalpha = -lam (log alpha + 1) pushed through the softmax
    (the + 1 may be left out: softmax_jvp removes any constant). alpha can be exactly 0 (a logit far below the
    others underflows): count 0 log 0 as 0 and keep every gradient entry finite.
    """
    c = as_float_array(c, "c", ndim=2, shape_doc="(C_in, C_out)")
    check_positive(lam, "lam", allow_zero=True)
    ### BEGIN SOLUTION
    alpha = mixing_weights(c, temperature)
    log_alpha = np.log(np.maximum(alpha, np.finfo(np.float64).tiny))
    value = -lam * float(np.sum(alpha * log_alpha))
    return value, softmax_jvp(alpha, -lam * (log_alpha + 1.0)) / temperature
    ### END SOLUTION


def lp_penalty(c: np.ndarray, lam: float, p: float = 0.5, temperature: float = 1.0) -> tuple[float, np.ndarray]:
    """lam * sum_ij alpha_ij^p with 0 < p < 1: concave on the simplex, so it is smallest at the vertices.

    c: (C_in, C_out). Returns (value, dc) with dJ/dalpha = lam p alpha^(p-1) pushed through the softmax.
    alpha can be exactly 0: 0^p = 0 and alpha^(p-1) is infinite there, so keep every gradient entry finite
    (the entry's dc is 0 whatever finite value you use: softmax_jvp multiplies it by alpha).
    """
    c = as_float_array(c, "c", ndim=2, shape_doc="(C_in, C_out)")
    check_positive(lam, "lam", allow_zero=True)
    check_positive(p, "p")
    ### BEGIN SOLUTION
    alpha = mixing_weights(c, temperature)
    safe = np.maximum(alpha, np.finfo(np.float64).tiny)  # alpha^(p-1) is infinite at alpha = 0
    value = lam * float(np.sum(alpha**p))
    return value, softmax_jvp(alpha, lam * p * safe ** (p - 1.0)) / temperature
    ### END SOLUTION
