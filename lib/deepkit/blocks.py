"""Building blocks made of convolutions: a residual block and a small CNN classifier.

Residual block (He et al., 2016), "same" 3x3 convolutions so shapes are kept:

    h = relu(conv3x3(x, W1) + b1);   out = relu(conv3x3(h, W2) + b2 + skip(x))

where skip(x) = x, or a 1x1 convolution (Ws, bs) when the number of channels changes. The block only has to
learn the *residual* F(x) = out - x; with W2 = 0 it is the identity (after the ReLU), which is why very deep
residual nets train where plain ones degrade.

Small CNN: conv3x3 (pad 1) -> ReLU -> 2x2 max-pool -> affine -> softmax cross-entropy.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from deepkit.conv import conv2d_backward, conv2d_forward
from deepkit.layers import affine_backward, affine_forward, relu_backward, relu_forward
from deepkit.losses import softmax_loss
from deepkit.pool import maxpool_backward, maxpool_forward
from deepkit.validate import as_float_array, as_labels, check_positive


class ResidualCache(NamedTuple):
    """The caches of the block's five steps, for ``residual_block_backward``."""

    conv1: tuple
    relu1: tuple
    conv2: tuple
    skip: tuple | None  # the 1x1 projection's cache, None for the identity skip
    relu_out: tuple


def init_residual_block(c_in: int, c_out: int, rng: np.random.Generator, scale: float = 0.1) -> dict:
    """Parameters of a residual block (given): W1 (c_out, c_in, 3, 3), b1, W2 (c_out, c_out, 3, 3), b2, and
    Ws (c_out, c_in, 1, 1), bs when c_in != c_out."""
    p = {
        "W1": scale * rng.standard_normal((c_out, c_in, 3, 3)),
        "b1": np.zeros(c_out),
        "W2": scale * rng.standard_normal((c_out, c_out, 3, 3)),
        "b2": np.zeros(c_out),
    }
    if c_in != c_out:
        p.update(Ws=scale * rng.standard_normal((c_out, c_in, 1, 1)), bs=np.zeros(c_out))
    return p


def residual_block_forward(x: np.ndarray, params: dict) -> tuple[np.ndarray, tuple]:
    """out = relu(conv(relu(conv(x, W1) + b1), W2) + b2 + skip(x)), 3x3 convs with pad 1.

    x: (N, C_in, H, W); params as from ``init_residual_block``. Returns out (N, C_out, H, W) and a cache.
    """
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C_in, H, W)")
    for key in ("W1", "b1", "W2", "b2"):
        if key not in params:
            raise ValueError(f"params must hold W1, b1, W2, b2 (and Ws, bs to change channels); missing {key}")
    if params["W1"].shape[0] != x.shape[1] and "Ws" not in params:
        raise ValueError(
            f"the block changes channels {x.shape[1]} -> {params['W1'].shape[0]}: params need a "
            f"1x1 projection Ws (C_out, C_in, 1, 1) and bs"
        )
    raise NotImplementedError("Exercise 08_convolution: implement residual_block_forward in lib/deepkit/blocks.py")


def residual_block_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, dict]:
    """dout: (N, C_out, H, W). Returns dx (N, C_in, H, W) and grads {"W1", "b1", "W2", "b2"[, "Ws", "bs"]}.

    The skip connection adds its gradient to dx unchanged (identity) or through the 1x1 projection.
    """
    dout = as_float_array(dout, "dout", ndim=4, shape_doc="(N, C_out, H, W)")
    raise NotImplementedError("Exercise 08_convolution: implement residual_block_backward in lib/deepkit/blocks.py")


def init_small_cnn(
    in_shape: tuple = (1, 8, 8), filters: int = 8, classes: int = 10, rng: np.random.Generator | None = None
) -> dict:
    """Kaiming-scaled parameters of the small CNN (given): W1 (F, C, 3, 3), b1 (F,), W2 (F*H/2*W/2, classes), b2."""
    rng = np.random.default_rng(0) if rng is None else rng
    C, H, W = in_shape
    d = filters * (H // 2) * (W // 2)
    return {
        "W1": rng.standard_normal((filters, C, 3, 3)) * np.sqrt(2.0 / (C * 9)),
        "b1": np.zeros(filters),
        "W2": rng.standard_normal((d, classes)) * np.sqrt(1.0 / d),
        "b2": np.zeros(classes),
    }


def small_cnn_loss(params: dict, X: np.ndarray, y: np.ndarray | None = None, reg: float = 0.0):
    """conv3x3(pad 1) -> ReLU -> maxpool 2x2 -> affine -> softmax loss.

    X: (N, C, H, W) with even H, W; y: (N,) labels or None. Returns scores (N, classes) when y is None, else
    (loss, grads) with loss = mean cross-entropy + 0.5 reg (||W1||^2 + ||W2||^2), grads shaped like params.
    """
    X = as_float_array(X, "X", ndim=4, shape_doc="(N, C, H, W)")
    reg = check_positive(reg, "reg", allow_zero=True)
    if y is not None:
        y = as_labels(y, "y", X.shape[0], params["W2"].shape[1])
    raise NotImplementedError("Exercise 08_convolution: implement small_cnn_loss in lib/deepkit/blocks.py")
