"""Hidden checks for topic 02 (activations): forward and backward are separate parts; PReLU's dalpha too."""

from __future__ import annotations

import numpy as np

from autograder.spec import Part


def _away_from_zero(rng: np.random.Generator, shape: tuple, scale: float = 2.0) -> np.ndarray:
    """Normal values with |x| >= 0.01, so no kink convention (the gradient at exactly 0) can matter."""
    x = rng.normal(0.0, scale, size=shape)
    return np.where(np.abs(x) < 0.01, np.copysign(0.5, x), x)


def _elementwise(rng: np.random.Generator) -> dict:
    shape = (int(rng.integers(3, 7)), int(rng.integers(4, 9)))
    x = _away_from_zero(rng, shape, scale=3.0)
    x.flat[0] = 9.0 + rng.random()  # a saturated positive input
    x.flat[1] = -(9.0 + rng.random())  # a saturated negative input
    return {
        "x": x,
        "dout": rng.normal(size=shape),
        "x_extreme": np.array([-1000.0, -745.5, -40.0, -1e-3, 0.0, 1e-3, 40.0, 745.5, 1000.0]),
        "slope": float(rng.uniform(0.05, 0.4)),
        "alpha": float(rng.uniform(0.3, 2.5)),
    }


def _prelu(rng: np.random.Generator) -> dict:
    n, c = int(rng.integers(3, 6)), int(rng.integers(2, 5))
    h, w = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    return {
        "x2": _away_from_zero(rng, (n, c)),
        "dout2": rng.normal(size=(n, c)),
        "alpha2": rng.uniform(-0.2, 0.6, size=c),
        "x4": _away_from_zero(rng, (n, c, h, w)),
        "dout4": rng.normal(size=(n, c, h, w)),
        "alpha4": rng.uniform(-0.2, 0.6, size=c),
        "alpha_s": float(rng.uniform(0.05, 0.5)),
    }


def _maxout(rng: np.random.Generator) -> dict:
    n, d, m, k = (int(rng.integers(3, 7)), int(rng.integers(3, 6)), int(rng.integers(2, 5)), int(rng.integers(2, 5)))
    return {
        "x": rng.normal(size=(n, d)),
        "W": rng.normal(size=(d, m, k)),
        "b": rng.normal(size=(m, k)),
        "dout": rng.normal(size=(n, m)),
    }


PARTS = (
    Part(
        "sigmoid_tanh_forward",
        1,
        "sigmoid_tanh_forward",
        _elementwise,
        description="sigmoid (stable for |x| = 1000) and tanh forward",
    ),
    Part(
        "sigmoid_backward",
        1,
        "sigmoid_backward",
        _elementwise,
        grads=("dx",),
        description="sigmoid backward: dout * s * (1 - s) from the cached output",
    ),
    Part(
        "tanh_backward",
        1,
        "tanh_backward",
        _elementwise,
        grads=("dx",),
        description="tanh backward: dout * (1 - tanh(x)^2)",
    ),
    Part(
        "leaky_relu_forward",
        1,
        "leaky_relu_forward",
        _elementwise,
        description="Leaky ReLU forward, default and custom slope",
    ),
    Part(
        "leaky_relu_backward",
        1,
        "leaky_relu_backward",
        _elementwise,
        grads=("dx_default", "dx_slope"),
        description="Leaky ReLU backward: slope (not 0) for negative inputs",
    ),
    Part(
        "prelu_forward",
        1,
        "prelu_forward",
        _prelu,
        description="PReLU forward with a scalar, per-feature and per-channel alpha",
    ),
    Part(
        "prelu_backward",
        1,
        "prelu_backward",
        _prelu,
        grads=("dx_scalar", "dx_feature", "dx_channel"),
        description="PReLU backward: dx",
    ),
    Part(
        "prelu_dalpha",
        2,
        "prelu_dalpha",
        _prelu,
        grads=("dalpha_scalar", "dalpha_feature", "dalpha_channel"),
        description="PReLU backward: dalpha summed over every position sharing the parameter",
    ),
    Part("elu_forward", 1, "elu_forward", _elementwise, description="ELU forward, default and custom alpha"),
    Part(
        "elu_backward",
        1,
        "elu_backward",
        _elementwise,
        grads=("dx_default", "dx_alpha"),
        description="ELU backward: alpha * exp(x) for negative inputs",
    ),
    # SELU's constants are given in the module (SELU_LAMBDA, SELU_ALPHA): rounded constants must fail.
    Part(
        "selu_forward",
        1,
        "selu_forward",
        _elementwise,
        rtol=1e-10,
        atol=1e-12,
        description="SELU forward with the exact SELU_LAMBDA and SELU_ALPHA",
    ),
    Part("selu_backward", 1, "selu_backward", _elementwise, grads=("dx",), grad_tol=1e-10, description="SELU backward"),
    Part("maxout_forward", 2, "maxout_forward", _maxout, description="Maxout forward: max over k pieces"),
    Part(
        "maxout_backward",
        2,
        "maxout_backward",
        _maxout,
        grads=("dx", "dW", "db"),
        description="Maxout backward: the gradient goes only to the winning piece",
    ),
)
