"""Basic layers: affine (fully connected) and ReLU, forward and backward.

Every forward returns the tuple ``(out, cache)``; the matching backward takes the upstream gradient ``dout`` (same
shape as ``out``) and that cache, and returns the gradients of the forward's differentiable inputs, in order.
Everything is computed in float64.
Later topics build on these functions (two-layer nets, solvers, convolutional blocks).
"""

from __future__ import annotations

import numpy as np

from deepkit.validate import as_float_array, check_shape

AffineCache = tuple  # (x, w, b): x in its original shape (N, d1, ..., dk)


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, AffineCache]:
    """Fully connected layer ``out = x_flat @ w + b``.

    x: (N, D) or (N, d1, ..., dk) with d1 * ... * dk = D; each example is flattened to a row of length D.
    w: (D, M) weights; b: (M,) bias.
    Returns (out, cache): out (N, M) and what ``affine_backward`` needs (here (x, w, b)). N = 1 works too.
    """
    x = as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must be an array of shape (N, D) or (N, d1, ..., dk), got shape {x.shape}")
    w = as_float_array(w, "w", ndim=2, shape_doc="(D, M)")
    b = as_float_array(b, "b", ndim=1, shape_doc="(M,)")
    D = int(np.prod(x.shape[1:]))
    check_shape(w, "w", (D, None), doc=f"(D, M) with D = {D} (the size of one example of x)")
    check_shape(b, "b", (w.shape[1],), doc=f"(M,) with M = {w.shape[1]} (the columns of w)")
    ### BEGIN SOLUTION
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)
    ### END SOLUTION


def affine_backward(dout: np.ndarray, cache: AffineCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the affine layer.

    dout: (N, M) upstream gradient of the loss with respect to ``out``; cache: from ``affine_forward``.
    Returns (dx, dw, db): dx with x's original shape (N, d1, ..., dk), dw (D, M) and db (M,):
    ``dx = dout @ w.T`` (reshaped), ``dw = x_flat.T @ dout``, ``db = dout.sum(axis=0)``.
    """
    x, w, b = cache
    dout = as_float_array(dout, "dout", ndim=2, shape_doc="(N, M)")
    check_shape(dout, "dout", (x.shape[0], w.shape[1]), doc=f"(N, M) = {(x.shape[0], w.shape[1])}")
    ### BEGIN SOLUTION
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db
    ### END SOLUTION


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rectified linear unit ``out = max(0, x)``, element-wise.

    x: array of any shape. Returns (out, cache): out of x's shape and what your backward needs (here x).
    """
    x = as_float_array(x, "x")
    ### BEGIN SOLUTION
    return np.maximum(x, 0.0), x
    ### END SOLUTION


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Gradient of ReLU: ``dx = dout * (x > 0)``. At exactly x = 0, where ReLU has a kink, the gradient is 0 (the
    left slope, as in PyTorch): the hidden checks contain exact zeros.

    dout: upstream gradient, the shape of x; cache: x from ``relu_forward``. Returns dx (x's shape).
    """
    x = cache
    dout = as_float_array(dout, "dout")
    check_shape(dout, "dout", x.shape, doc=f"{x.shape} (the shape of relu_forward's x)")
    ### BEGIN SOLUTION
    return dout * (x > 0)
    ### END SOLUTION
