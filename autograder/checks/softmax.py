"""Hidden checks of topic 01: affine and ReLU layers, softmax, log-softmax, cross-entropy, softmax loss and the
two-layer net. Inputs are seeded; scores include rows of size ~1000 so a softmax without the max-shift
overflows (NaN) and fails."""

from __future__ import annotations

import numpy as np

from autograder.spec import Part


def _affine(rng: np.random.Generator) -> dict:
    N, dims, M = int(rng.integers(2, 6)), (int(rng.integers(2, 4)), int(rng.integers(2, 4))), int(rng.integers(2, 6))
    D = dims[0] * dims[1]
    return {
        "x": rng.standard_normal((N, *dims)),
        "w": rng.standard_normal((D, M)),
        "b": rng.standard_normal(M),
        "dout": rng.standard_normal((N, M)),
    }


def _relu(rng: np.random.Generator) -> dict:
    shape = (int(rng.integers(2, 6)), int(rng.integers(2, 7)))
    x = rng.standard_normal(shape)
    x[0, 0] = 0.0  # the convention at the kink: relu(0) = 0 and its gradient is taken as 0
    return {"x": x, "dout": rng.standard_normal(shape)}


def _scores(rng: np.random.Generator, big: float) -> np.ndarray:
    """(N, C) scores: random rows plus one row around +big and one with a spread of size ``big``."""
    N, C = int(rng.integers(3, 7)), int(rng.integers(3, 6))
    z = 3.0 * rng.standard_normal((N, C))
    z[0] += big  # all entries large: exp overflows without the shift
    z[1] = big * rng.uniform(-1.0, 1.0, size=C)  # a large spread: tiny probabilities
    return z


def _softmax(rng: np.random.Generator) -> dict:
    return {"z": _scores(rng, 1000.0)}


def _cross_entropy(rng: np.random.Generator) -> dict:
    z = 2.0 * rng.standard_normal((int(rng.integers(3, 8)), int(rng.integers(2, 6))))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return {"probs": e / e.sum(axis=1, keepdims=True), "y": rng.integers(0, z.shape[1], size=z.shape[0])}


def _softmax_loss(rng: np.random.Generator) -> dict:
    z = _scores(rng, 30.0)
    z[0] += 1000.0  # a row near 1000: overflow without the shift; its probabilities are moderate
    return {"scores": z, "y": rng.integers(0, z.shape[1], size=z.shape[0])}


def _two_layer(rng: np.random.Generator) -> dict:
    N, D, H, C = int(rng.integers(4, 9)), int(rng.integers(3, 7)), int(rng.integers(4, 9)), int(rng.integers(3, 6))
    return {
        "X": rng.standard_normal((N, D)),
        "y": rng.integers(0, C, size=N),
        "W1": 0.7 * rng.standard_normal((D, H)),
        "b1": 0.3 * rng.standard_normal(H),
        "W2": 0.7 * rng.standard_normal((H, C)),
        "b2": 0.3 * rng.standard_normal(C),
        "reg": float(rng.uniform(0.05, 0.5)),
    }


PARTS = (
    Part(
        "affine_forward",
        1,
        "affine_forward",
        _affine,
        description="affine forward on (N, d1, d2) inputs: x_flat @ w + b",
    ),
    Part(
        "affine_backward",
        2,
        "affine_backward",
        _affine,
        grads=("dx", "dw", "db"),
        description="affine backward through your own cache: dx (x's shape), dw, db",
    ),
    Part("relu_forward", 1, "relu_forward", _relu, description="relu forward: max(0, x)"),
    Part(
        "relu_backward",
        1,
        "relu_backward",
        _relu,
        grads=("dx",),
        description="relu backward through your own cache, gradient 0 at x = 0",
    ),
    Part("softmax", 1, "softmax", _softmax, description="row-wise softmax, including scores near 1000"),
    Part(
        "log_softmax",
        1,
        "log_softmax",
        _softmax,
        description="row-wise log-softmax, including scores near 1000 and tiny probabilities",
    ),
    Part(
        "cross_entropy",
        1,
        "cross_entropy",
        _cross_entropy,
        description="mean cross-entropy of probabilities and labels",
    ),
    Part(
        "softmax_loss",
        2,
        "softmax_loss",
        _softmax_loss,
        grads=("dscores",),
        description="softmax loss (mean over N) and dscores = (p - onehot) / N",
    ),
    Part(
        "two_layer_loss",
        3,
        "two_layer_loss",
        _two_layer,
        seeds=4,
        grads=("dW1", "db1", "dW2", "db2"),
        description="two-layer net: scores, loss with 0.5 * reg * L2, and all four gradients",
    ),
)
