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
    raise NotImplementedError("Exercise 02_activations: implement sigmoid_forward in lib/deepkit/activations.py")


def sigmoid_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Gradient of the sigmoid: ``dx = dout * s * (1 - s)`` with ``s`` the forward OUTPUT (not x).

    dout: upstream gradient (x's shape); cache: from ``sigmoid_forward``. Returns dx (x's shape).
    """
    raise NotImplementedError("Exercise 02_activations: implement sigmoid_backward in lib/deepkit/activations.py")


# ------------------------------------------------------------------------------------------------ tanh
def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hyperbolic tangent ``out = tanh(x)``, element-wise.

    x: array of any shape. Returns (out, cache): out of x's shape, values in [-1, 1], and the cache (out).
    """
    x = as_float_array(x, "x")
    raise NotImplementedError("Exercise 02_activations: implement tanh_forward in lib/deepkit/activations.py")


def tanh_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Gradient of tanh: ``dx = dout * (1 - t**2)`` with ``t = tanh(x)`` the forward output.

    dout: upstream gradient (x's shape); cache: from ``tanh_forward``. Returns dx (x's shape).
    """
    raise NotImplementedError("Exercise 02_activations: implement tanh_backward in lib/deepkit/activations.py")


# ------------------------------------------------------------------------------------------ leaky ReLU
def leaky_relu_forward(x: np.ndarray, slope: float = 0.01) -> tuple[np.ndarray, tuple]:
    """Leaky ReLU ``out = x if x > 0 else slope * x``, element-wise.

    x: array of any shape; slope: the fixed slope for negative inputs (>= 0, default 0.01).
    Returns (out, cache): out of x's shape and what your backward needs (here (x, slope)).
    """
    x = as_float_array(x, "x")
    slope = check_positive(slope, "slope", allow_zero=True)
    raise NotImplementedError("Exercise 02_activations: implement leaky_relu_forward in lib/deepkit/activations.py")


def leaky_relu_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Gradient of Leaky ReLU: ``dx = dout`` where x > 0, ``slope * dout`` where x <= 0 (at exactly x = 0 the
    slope is ``slope``, as in PyTorch).

    dout: upstream gradient (x's shape); cache: from ``leaky_relu_forward``. Returns dx (x's shape).
    """
    raise NotImplementedError("Exercise 02_activations: implement leaky_relu_backward in lib/deepkit/activations.py")


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
    raise NotImplementedError("Exercise 02_activations: implement prelu_forward in lib/deepkit/activations.py")


def prelu_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of PReLU with respect to x and alpha.

    dout: upstream gradient (x's shape); cache: from ``prelu_forward``.
    Returns (dx, dalpha): dx of x's shape (``dout`` where x > 0, ``alpha * dout`` where x <= 0, x = 0
    included) and dalpha of alpha's shape: ``sum(dout * x)`` over the units where x <= 0, summed over EVERY
    position that shares the parameter (the whole array for a scalar alpha; all axes but axis 1 for a
    per-channel alpha: the batch and any spatial axes).
    """
    raise NotImplementedError("Exercise 02_activations: implement prelu_backward in lib/deepkit/activations.py")


# ------------------------------------------------------------------------------------------------- ELU
def elu_forward(x: np.ndarray, alpha: float = 1.0) -> tuple[np.ndarray, tuple]:
    """Exponential linear unit ``out = x if x > 0 else alpha * (exp(x) - 1)``, element-wise.

    x: array of any shape; alpha: the negative saturation value is -alpha (>= 0, default 1).
    Returns (out, cache): out of x's shape and what your backward needs (here (x, alpha)). No overflow for
    large positive x.
    """
    x = as_float_array(x, "x")
    alpha = check_positive(alpha, "alpha", allow_zero=True)
    raise NotImplementedError("Exercise 02_activations: implement elu_forward in lib/deepkit/activations.py")


def elu_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Gradient of ELU: ``dx = dout`` where x > 0 and ``dout * alpha * exp(x)`` where x <= 0 (``alpha * dout`` at
    exactly x = 0).

    Compute ``exp(x)`` itself: the equal ``out + alpha`` loses every digit once exp(x) drops below the rounding
    error of alpha (relative errors grow from about 1e-10 at x = -15 to 1e-4 at x = -30, and from x = -37 on it
    is exactly 0 instead of alpha * exp(x)).
    dout: upstream gradient (x's shape); cache: from ``elu_forward``. Returns dx (x's shape).
    """
    raise NotImplementedError("Exercise 02_activations: implement elu_backward in lib/deepkit/activations.py")


# ------------------------------------------------------------------------------------------------ SELU
def selu_forward(x: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Scaled ELU ``out = SELU_LAMBDA * elu(x, SELU_ALPHA)``, element-wise.

    The constants SELU_LAMBDA ~ 1.0507 and SELU_ALPHA ~ 1.67326 (module attributes) make mean 0 / variance 1
    a fixed point for N(0, 1) inputs (with LeCun-normal weights, Var(w) = 1 / fan_in: see lecture 02).
    x: array of any shape. Returns (out, cache): out of x's shape and what your backward needs.
    """
    x = as_float_array(x, "x")
    raise NotImplementedError("Exercise 02_activations: implement selu_forward in lib/deepkit/activations.py")


def selu_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Gradient of SELU: ``dx = SELU_LAMBDA * dout`` where x > 0, ``SELU_LAMBDA * SELU_ALPHA * exp(x) * dout``
    where x <= 0 (``SELU_LAMBDA * SELU_ALPHA * dout`` at exactly x = 0).

    dout: upstream gradient (x's shape); cache: from ``selu_forward``. Returns dx (x's shape).
    """
    raise NotImplementedError("Exercise 02_activations: implement selu_backward in lib/deepkit/activations.py")


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
    raise NotImplementedError("Exercise 02_activations: implement maxout_forward in lib/deepkit/activations.py")


def maxout_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of Maxout: each output's gradient flows only into its winning piece (the argmax; on a tie,
    into the first of the tied pieces only, never split or copied among them).

    dout: (N, M) upstream gradient; cache: from ``maxout_forward``.
    Returns (dx, dW, db): dx (N, D), dW (D, M, k) and db (M, k).
    """
    raise NotImplementedError("Exercise 02_activations: implement maxout_backward in lib/deepkit/activations.py")


#: name -> (forward, backward) of the element-wise activations with their default parameters.
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "elu": (elu_forward, elu_backward),
    "selu": (selu_forward, selu_backward),
}
