"""A two-layer fully connected classifier: affine -> ReLU -> affine -> softmax cross-entropy.

Built only from ``deepkit.layers`` and ``deepkit.losses``: the network's backward pass is the chain of the
layers' backward functions, in reverse order of the forward pass.
"""

from __future__ import annotations

import numpy as np

from deepkit.layers import affine_backward, affine_forward, relu_backward, relu_forward
from deepkit.losses import softmax_loss
from deepkit.validate import as_float_array, as_labels, check_int, check_positive, check_rng, check_shape

PARAM_NAMES = ("W1", "b1", "W2", "b2")


def init_two_layer(D: int, H: int, C: int, rng: np.random.Generator, scale: float = 1e-2) -> dict[str, np.ndarray]:
    """Small random weights and zero biases (given code; topic 03 is about choosing ``scale`` well).

    D inputs, H hidden units, C classes. Returns {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}
    with weights drawn from N(0, scale^2).
    """
    D, H, C = check_int(D, "D", 1), check_int(H, "H", 1), check_int(C, "C", 1)
    rng = check_rng(rng)
    scale = check_positive(scale, "scale")
    return {
        "W1": scale * rng.standard_normal((D, H)),
        "b1": np.zeros(H),
        "W2": scale * rng.standard_normal((H, C)),
        "b2": np.zeros(C),
    }


def two_layer_loss(
    params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray | None = None, reg: float = 0.0
) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
    """Scores, or loss and gradients, of the net ``scores = relu(X W1 + b1) W2 + b2``.

    params: {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}; X: (N, D) (or (N, d1, ..., dk), flattened);
    y: (N,) integer labels in [0, C), or None; reg: L2 strength >= 0.
    If y is None returns scores (N, C). Otherwise returns (loss, grads) with
    ``loss = mean softmax cross-entropy + 0.5 * reg * (||W1||^2 + ||W2||^2)`` (squared Frobenius norms;
    biases are not regularised; the 0.5 makes the penalty's gradient ``reg * W``) and
    grads = {"W1", "b1", "W2", "b2"}, each the shape of its parameter.
    Use affine_forward/backward, relu_forward/backward and softmax_loss; do not re-derive their math.
    """
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"params must hold {', '.join(PARAM_NAMES)}; missing {', '.join(missing)}")
    W1 = as_float_array(params["W1"], "params['W1']", ndim=2, shape_doc="(D, H)")
    W2 = as_float_array(params["W2"], "params['W2']", ndim=2, shape_doc="(H, C)")
    check_shape(W2, "params['W2']", (W1.shape[1], None), doc=f"(H, C) with H = {W1.shape[1]} (W1's columns)")
    reg = check_positive(reg, "reg", allow_zero=True)
    X = as_float_array(X, "X")
    if X.ndim < 2:
        raise ValueError(f"X must be an array of shape (N, D) or (N, d1, ..., dk), got shape {X.shape}")
    if y is not None:
        y = as_labels(y, "y", X.shape[0], W2.shape[1])
    raise NotImplementedError("Exercise 01_softmax: implement two_layer_loss in lib/deepkit/nets.py")
