"""Activation functions and their gradients (topic 02).

Every activation comes as a pair ``<name>_forward(x, ...) -> (out, cache)`` (a tuple of two: the forward's
output and whatever the backward needs) and ``<name>_backward(dout, cache) -> dx`` (PReLU returns
``(dx, dalpha)``; Maxout returns ``(dx, dW, db)``). Element-wise activations accept arrays of any shape;
``dout`` has the shape of ``out``. Everything is computed in float64.

Kinks: where an activation is not differentiable (x = 0 for ReLU, Leaky ReLU, PReLU, and ELU/SELU unless
alpha = 1), the backward uses the LEFT slope at exactly x = 0, as PyTorch does: 0 for ReLU, ``slope`` for Leaky
ReLU, ``alpha`` for PReLU and ELU, ``SELU_LAMBDA * SELU_ALPHA`` for SELU. Maxout's ties go to the first piece.

ReLU is implemented in ``deepkit.layers`` (topic 01) and re-exported here, so ``ACTIVATIONS`` lists every
element-wise activation in one place: ``ACTIVATIONS[name] == (forward, backward)`` with default parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deepkit.layers import relu_backward, relu_forward
from deepkit.validate import as_float_array, check_positive, check_shape

#: SELU's constants (Klambauer et al., 2017): the fixed point mean 0 / variance 1 for N(0, 1) inputs.
SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717

__all__ = [
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "relu_forward",
    "relu_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "prelu_forward",
    "prelu_backward",
    "elu_forward",
    "elu_backward",
    "selu_forward",
    "selu_backward",
    "maxout_forward",
    "maxout_backward",
    "ACTIVATIONS",
    "SELU_LAMBDA",
    "SELU_ALPHA",
]


def _check_dout(dout: np.ndarray, shape: tuple) -> np.ndarray:
    """dout as float64 with the forward output's shape (not scanned for NaN: that pass would cost as much as a
    ReLU backward, and a NaN upstream gradient is the caller's bug, not this layer's)."""
    dout = np.asarray(dout)
    if dout.dtype.kind not in "biuf":
        raise TypeError(f"dout must hold real numbers (int or float), got dtype {dout.dtype}")
    check_shape(dout, "dout", tuple(shape), doc=f"{tuple(shape)} (the shape of the forward output)")
    return dout.astype(np.float64, copy=False)


# --------------------------------------------------------------------------------------------- sigmoid
def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logistic sigmoid ``out = 1 / (1 + exp(-x))``, element-wise and numerically stable.

    x: array of any shape. Returns (out, cache): out of x's shape, values in [0, 1], and the cache (out, which
    is all the backward pass needs). No overflow (and no warning) for large |x|, e.g. 1000.
    """
    x = as_float_array(x, "x")
    ### BEGIN SOLUTION
    # sigma(x) = e^x / (1 + e^x), with x clipped at 40 so that exp never overflows: above x = 36.8 sigma(x)
    # rounds to exactly 1 in float64 (1 - sigma(x) < 2^-53), which the clipped formula also gives. (Another
    # stable way exponentiates only -|x|, with one formula per sign; this one needs no mask and is faster.)
    e = np.minimum(x, 40.0, out=np.empty_like(x))  # (out= keeps a 0-d x an array, for the in-place steps)
    np.exp(e, out=e)
    out = np.add(e, 1.0, out=np.empty_like(x))
    np.divide(e, out, out=out)
    return out, out
    ### END SOLUTION


def sigmoid_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Gradient of the sigmoid: ``dx = dout * s * (1 - s)`` with ``s`` the forward OUTPUT (not x).

    dout: upstream gradient (x's shape); cache: from ``sigmoid_forward``. Returns dx (x's shape).
    """
    ### BEGIN SOLUTION
    s = cache
    dout = _check_dout(dout, s.shape)
    dx = 1.0 - s
    dx *= s
    dx *= dout
    return dx
    ### END SOLUTION


# ------------------------------------------------------------------------------------------------ tanh
def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hyperbolic tangent ``out = tanh(x)``, element-wise.

    x: array of any shape. Returns (out, cache): out of x's shape, values in [-1, 1], and the cache (out).
    """
    x = as_float_array(x, "x")
    ### BEGIN SOLUTION
    out = np.tanh(x)
    return out, out
    ### END SOLUTION


def tanh_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Gradient of tanh: ``dx = dout * (1 - t**2)`` with ``t = tanh(x)`` the forward output.

    dout: upstream gradient (x's shape); cache: from ``tanh_forward``. Returns dx (x's shape).
    """
    ### BEGIN SOLUTION
    t = cache
    dout = _check_dout(dout, t.shape)
    dx = np.multiply(t, t, out=np.empty_like(t))
    np.subtract(1.0, dx, out=dx)
    dx *= dout
    return dx
    ### END SOLUTION


# ------------------------------------------------------------------------------------------ leaky ReLU
def leaky_relu_forward(x: np.ndarray, slope: float = 0.01) -> tuple[np.ndarray, tuple]:
    """Leaky ReLU ``out = x if x > 0 else slope * x``, element-wise.

    x: array of any shape; slope: the fixed slope for negative inputs (>= 0, default 0.01).
    Returns (out, cache): out of x's shape and what your backward needs (here (x, slope)).
    """
    x = as_float_array(x, "x")
    slope = check_positive(slope, "slope", allow_zero=True)
    ### BEGIN SOLUTION
    out = np.multiply(x, slope, out=np.empty_like(x))
    # x if x > 0 else slope * x: the larger of the two when slope <= 1, the smaller when slope > 1
    (np.maximum if slope <= 1.0 else np.minimum)(out, x, out=out)
    return out, (x, slope)
    ### END SOLUTION


def leaky_relu_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Gradient of Leaky ReLU: ``dx = dout`` where x > 0, ``slope * dout`` where x <= 0 (at exactly x = 0 the
    slope is ``slope``, as in PyTorch).

    dout: upstream gradient (x's shape); cache: from ``leaky_relu_forward``. Returns dx (x's shape).
    """
    ### BEGIN SOLUTION
    x, slope = cache
    dout = _check_dout(dout, x.shape)
    # (no np.where: on inputs of mixed signs it is branchy and several times slower than arithmetic on the 0/1
    # mask, which gives the same values exactly)
    positive = x > 0
    if slope <= 1.0:
        dx = np.maximum(positive, slope)  # the local slope: max(1, slope) = 1 and max(0, slope) = slope
    else:
        dx = np.multiply(~positive, slope)
        dx += positive
    dx *= dout
    return dx
    ### END SOLUTION


# ----------------------------------------------------------------------------------------------- PReLU
def _alpha_view(alpha: np.ndarray, x: np.ndarray) -> np.ndarray:
    """alpha (a 0-d array, or one value per channel along axis 1) reshaped to broadcast against x."""
    if alpha.ndim == 0:
        return alpha
    return alpha.reshape((1, -1) + (1,) * (x.ndim - 2))


def prelu_forward(x: np.ndarray, alpha: float | np.ndarray) -> tuple[np.ndarray, tuple]:
    """Parametric ReLU ``out = x if x > 0 else alpha * x`` with a learned ``alpha``.

    x: array (N, C, ...) (any shape when alpha is a scalar); alpha: a scalar shared by all units, or an array
    of shape (C,), one value per feature/channel along axis 1 (broadcast over N and any spatial axes).
    Returns (out, cache): out of x's shape and what your backward needs (here (x, alpha)).
    """
    x = as_float_array(x, "x")
    alpha = as_float_array(alpha, "alpha", ndim=(0, 1), shape_doc="() or (C,)")
    if alpha.ndim == 1 and (x.ndim < 2 or x.shape[1] != alpha.shape[0]):
        raise ValueError(
            f"alpha of shape {alpha.shape} needs x of shape (N, {alpha.shape[0]}, ...) "
            f"(one alpha per channel along axis 1), got x of shape {x.shape}"
        )
    ### BEGIN SOLUTION
    out = np.minimum(x, 0.0)
    out *= _alpha_view(alpha, x)
    out += np.maximum(x, 0.0)  # alpha * x where x <= 0, x where x > 0
    return out, (x, alpha)
    ### END SOLUTION


def prelu_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of PReLU with respect to x and alpha.

    dout: upstream gradient (x's shape); cache: from ``prelu_forward``.
    Returns (dx, dalpha): dx of x's shape (``dout`` where x > 0, ``alpha * dout`` where x <= 0, x = 0
    included) and dalpha of alpha's shape: ``sum(dout * x)`` over the units where x <= 0, summed over EVERY
    position that shares the parameter (the whole array for a scalar alpha; all axes but axis 1 for a
    per-channel alpha: the batch and any spatial axes).
    """
    ### BEGIN SOLUTION
    x, alpha = cache
    dout = _check_dout(dout, x.shape)
    positive = x > 0
    dx = np.multiply(~positive, _alpha_view(alpha, x))  # the local slope: alpha where x <= 0 ...
    dx += positive  # ... and 1 where x > 0 (exact: one term is 0)
    dx *= dout
    contrib = np.minimum(x, 0.0)  # x where x <= 0, else 0
    contrib *= dout
    if alpha.ndim == 0:
        dalpha = np.asarray(contrib.sum())
    else:
        dalpha = contrib.sum(axis=tuple(i for i in range(x.ndim) if i != 1))
    return dx, dalpha
    ### END SOLUTION


# ------------------------------------------------------------------------------------------------- ELU
def elu_forward(x: np.ndarray, alpha: float = 1.0) -> tuple[np.ndarray, tuple]:
    """Exponential linear unit ``out = x if x > 0 else alpha * (exp(x) - 1)``, element-wise.

    x: array of any shape; alpha: the negative saturation value is -alpha (>= 0, default 1).
    Returns (out, cache): out of x's shape and what your backward needs (here (x, alpha)). No overflow for
    large positive x.
    """
    x = as_float_array(x, "x")
    alpha = check_positive(alpha, "alpha", allow_zero=True)
    ### BEGIN SOLUTION
    out = np.minimum(x, 0.0, out=np.empty_like(x))  # exp only of x <= 0: never overflows
    np.expm1(out, out=out)  # expm1, not exp - 1: full precision for x near 0
    out *= alpha
    out += np.maximum(x, 0.0)  # alpha * (exp(x) - 1) where x <= 0, x where x > 0
    return out, (x, alpha)
    ### END SOLUTION


def elu_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Gradient of ELU: ``dx = dout`` where x > 0 and ``dout * alpha * exp(x)`` where x <= 0 (``alpha * dout`` at
    exactly x = 0).

    Compute ``exp(x)`` itself: the equal ``out + alpha`` loses every digit once exp(x) drops below the rounding
    error of alpha (relative errors grow from about 1e-10 at x = -15 to 1e-4 at x = -30, and from x = -37 on it
    is exactly 0 instead of alpha * exp(x)).
    dout: upstream gradient (x's shape); cache: from ``elu_forward``. Returns dx (x's shape).
    """
    ### BEGIN SOLUTION
    x, alpha = cache
    dout = _check_dout(dout, x.shape)
    dx = np.minimum(x, 0.0, out=np.empty_like(x))
    np.exp(dx, out=dx)  # exp(x) where x <= 0, 1 where x > 0
    dx *= alpha
    # where x > 0 the slope is 1, not alpha: add the difference there (exact when alpha is in [1/2, 2], as the
    # usual 1 and SELU's 1.67 are, since 1 - alpha is then exact; otherwise within one rounding)
    dx += np.multiply(x > 0, 1.0 - alpha)
    dx *= dout
    return dx
    ### END SOLUTION


# ------------------------------------------------------------------------------------------------ SELU
def selu_forward(x: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Scaled ELU ``out = SELU_LAMBDA * elu(x, SELU_ALPHA)``, element-wise.

    The constants SELU_LAMBDA ~ 1.0507 and SELU_ALPHA ~ 1.67326 (module attributes) make mean 0 / variance 1
    a fixed point for N(0, 1) inputs (with LeCun-normal weights, Var(w) = 1 / fan_in: see lecture 02).
    x: array of any shape. Returns (out, cache): out of x's shape and what your backward needs.
    """
    x = as_float_array(x, "x")
    ### BEGIN SOLUTION
    out, cache = elu_forward(x, SELU_ALPHA)
    out *= SELU_LAMBDA
    return out, cache
    ### END SOLUTION


def selu_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Gradient of SELU: ``dx = SELU_LAMBDA * dout`` where x > 0, ``SELU_LAMBDA * SELU_ALPHA * exp(x) * dout``
    where x <= 0 (``SELU_LAMBDA * SELU_ALPHA * dout`` at exactly x = 0).

    dout: upstream gradient (x's shape); cache: from ``selu_forward``. Returns dx (x's shape).
    """
    ### BEGIN SOLUTION
    dx = elu_backward(dout, cache)
    dx *= SELU_LAMBDA
    return dx
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------- Maxout
def maxout_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Maxout layer: ``z[n, m, j] = x[n] @ W[:, m, j] + b[m, j]``, ``out[n, m] = max_j z[n, m, j]``.

    x: (N, D) inputs; W: (D, M, k) weights, k affine pieces for each of the M outputs; b: (M, k) biases.
    Returns (out, cache): out (N, M) and what your backward needs (here (x, W, idx) with idx (N, M) the index
    of the winning piece; when pieces tie for the maximum, the FIRST of them wins, as ``np.argmax`` picks).
    """
    x = as_float_array(x, "x", ndim=2, shape_doc="(N, D)")
    W = as_float_array(W, "W", ndim=3, shape_doc="(D, M, k)")
    b = as_float_array(b, "b", ndim=2, shape_doc="(M, k)")
    D, M, k = W.shape
    check_shape(x, "x", (None, D), doc=f"(N, {D}) to match W's first axis")
    check_shape(b, "b", (M, k), doc=f"({M}, {k}) to match W of shape {W.shape}")
    ### BEGIN SOLUTION
    z = (x @ W.reshape(D, M * k)).reshape(-1, M, k) + b
    idx = z.argmax(axis=2)
    out = np.take_along_axis(z, idx[..., None], axis=2)[..., 0]
    return out, (x, W, idx)
    ### END SOLUTION


def maxout_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of Maxout: each output's gradient flows only into its winning piece (the argmax; on a tie,
    into the first of the tied pieces only, never split or copied among them).

    dout: (N, M) upstream gradient; cache: from ``maxout_forward``.
    Returns (dx, dW, db): dx (N, D), dW (D, M, k) and db (M, k).
    """
    ### BEGIN SOLUTION
    x, W, idx = cache
    D, M, k = W.shape
    dout = _check_dout(dout, idx.shape)
    dz = np.zeros(idx.shape + (k,))
    np.put_along_axis(dz, idx[..., None], dout[..., None], axis=2)
    dz2 = dz.reshape(-1, M * k)
    dx = dz2 @ W.reshape(D, M * k).T
    dW = (x.T @ dz2).reshape(D, M, k)
    db = dz.sum(axis=0)
    return dx, dW, db
    ### END SOLUTION


#: name -> (forward, backward) of the element-wise activations with their default parameters.
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "elu": (elu_forward, elu_backward),
    "selu": (selu_forward, selu_backward),
}
