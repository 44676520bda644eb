"""Activation functions and their gradients (topic 02).

Every activation comes as a pair ``<name>_forward(x, ...) -> (out, cache)`` and
``<name>_backward(dout, cache) -> dx`` (PReLU also returns ``dalpha``; Maxout returns ``(dx, dW, db)``).
Element-wise activations accept arrays of any shape; ``dout`` has the shape of ``out``.

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
    """dout as float64 with the forward output's shape."""
    dout = as_float_array(dout, "dout")
    check_shape(dout, "dout", tuple(shape), doc=f"{tuple(shape)} (the shape of the forward output)")
    return dout


# --------------------------------------------------------------------------------------------- sigmoid
def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logistic sigmoid ``out = 1 / (1 + exp(-x))``, element-wise and numerically stable.

    x: array of any shape. Returns out (x's shape, values in [0, 1]) and cache (out, which is all the
    backward pass needs). No overflow warning for large |x| (e.g. 1000): exp is only taken of -|x|.
    """
    x = as_float_array(x, "x")
    ### BEGIN SOLUTION
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out, out
    ### END SOLUTION


def sigmoid_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Gradient of the sigmoid: ``dx = dout * s * (1 - s)`` with ``s`` the forward OUTPUT (not x).

    dout: upstream gradient (x's shape); cache: from ``sigmoid_forward``. Returns dx (x's shape).
    """
    ### BEGIN SOLUTION
    s = cache
    dout = _check_dout(dout, s.shape)
    return dout * s * (1.0 - s)
    ### END SOLUTION


# ------------------------------------------------------------------------------------------------ tanh
def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hyperbolic tangent ``out = tanh(x)``, element-wise.

    x: array of any shape. Returns out (x's shape, values in [-1, 1]) and cache (out).
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
    return dout * (1.0 - t * t)
    ### END SOLUTION


# ------------------------------------------------------------------------------------------ leaky ReLU
def leaky_relu_forward(x: np.ndarray, slope: float = 0.01) -> tuple[np.ndarray, tuple]:
    """Leaky ReLU ``out = x if x > 0 else slope * x``, element-wise.

    x: array of any shape; slope: the fixed slope for negative inputs (>= 0, default 0.01).
    Returns out (x's shape) and cache (x, slope).
    """
    x = as_float_array(x, "x")
    slope = check_positive(slope, "slope", allow_zero=True)
    ### BEGIN SOLUTION
    out = np.where(x > 0, x, slope * x)
    return out, (x, slope)
    ### END SOLUTION


def leaky_relu_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Gradient of Leaky ReLU: ``dx = dout`` where x > 0, ``slope * dout`` elsewhere (also at x = 0).

    dout: upstream gradient (x's shape); cache: from ``leaky_relu_forward``. Returns dx (x's shape).
    """
    ### BEGIN SOLUTION
    x, slope = cache
    dout = _check_dout(dout, x.shape)
    return np.where(x > 0, dout, slope * dout)
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
    Returns out (x's shape) and cache (x, alpha).
    """
    x = as_float_array(x, "x")
    alpha = as_float_array(alpha, "alpha", ndim=(0, 1), shape_doc="() or (C,)")
    if alpha.ndim == 1 and (x.ndim < 2 or x.shape[1] != alpha.shape[0]):
        raise ValueError(
            f"alpha of shape {alpha.shape} needs x of shape (N, {alpha.shape[0]}, ...) "
            f"(one alpha per channel along axis 1), got x of shape {x.shape}"
        )
    ### BEGIN SOLUTION
    a = _alpha_view(alpha, x)
    out = np.where(x > 0, x, a * x)
    return out, (x, alpha)
    ### END SOLUTION


def prelu_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of PReLU with respect to x and alpha.

    dout: upstream gradient (x's shape); cache: from ``prelu_forward``.
    Returns dx (x's shape) and dalpha with alpha's shape: ``sum(dout * x)`` over the units where x <= 0,
    summed over EVERY position that shares the parameter (the whole array for a scalar alpha; all axes but
    axis 1 for a per-channel alpha: the batch and any spatial axes).
    """
    ### BEGIN SOLUTION
    x, alpha = cache
    dout = _check_dout(dout, x.shape)
    neg = x <= 0
    dx = np.where(neg, _alpha_view(alpha, x) * dout, dout)
    contrib = np.where(neg, dout * x, 0.0)
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
    Returns out (x's shape) and cache (x, out, alpha). No overflow for large positive x.
    """
    x = as_float_array(x, "x")
    alpha = check_positive(alpha, "alpha", allow_zero=True)
    ### BEGIN SOLUTION
    out = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
    return out, (x, out, alpha)
    ### END SOLUTION


def elu_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Gradient of ELU: ``dx = dout`` where x > 0 and ``dout * alpha * exp(x) = dout * (out + alpha)`` elsewhere.

    dout: upstream gradient (x's shape); cache: from ``elu_forward``. Returns dx (x's shape).
    """
    ### BEGIN SOLUTION
    x, out, alpha = cache
    dout = _check_dout(dout, x.shape)
    return np.where(x > 0, dout, dout * (out + alpha))
    ### END SOLUTION


# ------------------------------------------------------------------------------------------------ SELU
def selu_forward(x: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Scaled ELU ``out = SELU_LAMBDA * elu(x, SELU_ALPHA)``, element-wise.

    The constants SELU_LAMBDA ~ 1.0507 and SELU_ALPHA ~ 1.67326 (module attributes) make mean 0 / variance 1
    a fixed point for N(0, 1) inputs. x: array of any shape. Returns out (x's shape) and cache.
    """
    x = as_float_array(x, "x")
    ### BEGIN SOLUTION
    elu_out, elu_cache = elu_forward(x, SELU_ALPHA)
    return SELU_LAMBDA * elu_out, elu_cache
    ### END SOLUTION


def selu_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Gradient of SELU: ``dx = SELU_LAMBDA * dout`` where x > 0, ``SELU_LAMBDA * SELU_ALPHA * exp(x) * dout``
    elsewhere.

    dout: upstream gradient (x's shape); cache: from ``selu_forward``. Returns dx (x's shape).
    """
    ### BEGIN SOLUTION
    return elu_backward(SELU_LAMBDA * as_float_array(dout, "dout"), cache)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------- Maxout
def maxout_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Maxout layer: ``z[n, m, j] = x[n] @ W[:, m, j] + b[m, j]``, ``out[n, m] = max_j z[n, m, j]``.

    x: (N, D) inputs; W: (D, M, k) weights, k affine pieces for each of the M outputs; b: (M, k) biases.
    Returns out (N, M) and cache (x, W, idx) with idx (N, M) the index of the winning piece.
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
    """Gradients of Maxout: each output's gradient flows only into its winning piece (the argmax).

    dout: (N, M) upstream gradient; cache: from ``maxout_forward``.
    Returns dx (N, D), dW (D, M, k) and db (M, k).
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
