"""Hidden checks for topic 02 (activations): forward and backward are separate parts; PReLU's dalpha too.

Every element-wise case holds exact zeros (the kink: the docstrings fix the slope at x = 0 to the left slope,
as PyTorch does), saturated inputs (|x| ~ 10) and, for the sigmoid and tanh forward, |x| up to 1000. Maxout has
a second case
of small integers where pieces tie exactly (the first tied piece wins, as ``np.argmax`` picks).
"""

from __future__ import annotations

import numpy as np

from autograder.spec import Misconception, Part

#: how many entries of each element-wise case are exactly 0 (the kink)
KINK_ZEROS = 3


def _with_kinks(rng: np.random.Generator, shape: tuple, scale: float, saturated: bool = False) -> np.ndarray:
    """Normal values with |x| >= 0.01 except KINK_ZEROS entries that are exactly 0 (and, if ``saturated``, the
    last two entries about +10 and -10)."""
    x = rng.normal(0.0, scale, size=shape)
    x = np.where(np.abs(x) < 0.01, np.copysign(0.5, x), x)
    if saturated:
        x.flat[-1] = 9.0 + rng.random()
        x.flat[-2] = -(9.0 + rng.random())
    x.flat[rng.choice(x.size - 2, size=KINK_ZEROS, replace=False)] = 0.0
    return x


def _elementwise(rng: np.random.Generator) -> dict:
    shape = (int(rng.integers(3, 7)), int(rng.integers(4, 9)))
    x = _with_kinks(rng, shape, 3.0, saturated=True)
    dout = rng.normal(size=shape)
    dout[x == 0] = rng.choice([-1.0, 1.0], size=KINK_ZEROS) * rng.uniform(1.0, 2.0, size=KINK_ZEROS)
    return {
        "x": x,
        "dout": dout,
        "x_extreme": np.array([-1000.0, -745.5, -40.0, -1e-3, 0.0, 1e-3, 40.0, 745.5, 1000.0]),
        "slope": float(rng.uniform(0.05, 0.4)),
        "alpha": float(rng.uniform(0.3, 2.5)),
    }


def _prelu(rng: np.random.Generator) -> dict:
    n, c = int(rng.integers(3, 6)), int(rng.integers(2, 5))
    h, w = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    return {
        "x2": _with_kinks(rng, (n, c), 2.0),
        "dout2": rng.normal(size=(n, c)),
        "alpha2": rng.uniform(-0.2, 0.6, size=c),
        "x4": _with_kinks(rng, (n, c, h, w), 2.0),
        "dout4": rng.normal(size=(n, c, h, w)),
        "alpha4": rng.uniform(-0.2, 0.6, size=c),
        "alpha_s": float(rng.uniform(0.05, 0.5)),
    }


def _maxout(rng: np.random.Generator) -> dict:
    n, d, m, k = (int(rng.integers(3, 7)), int(rng.integers(3, 6)), int(rng.integers(2, 5)), int(rng.integers(2, 5)))
    # ties: small integers make every piece's value exact in any summation order; unit 0's last piece is a copy
    # of its first with a bias so large that the two tie for the maximum on every example
    W_tie = rng.integers(-2, 3, size=(d, m, k)).astype(np.float64)
    b_tie = rng.integers(-2, 3, size=(m, k)).astype(np.float64)
    W_tie[:, 0, -1] = W_tie[:, 0, 0]
    b_tie[0, 0] = b_tie[0, -1] = 50.0
    return {
        "x": rng.normal(size=(n, d)),
        "W": rng.normal(size=(d, m, k)),
        "b": rng.normal(size=(m, k)),
        "dout": rng.normal(size=(n, m)),
        "x_tie": rng.integers(-2, 3, size=(n, d)).astype(np.float64),
        "W_tie": W_tie,
        "b_tie": b_tie,
        "dout_tie": rng.normal(size=(n, m)),
    }


# --------------------------------------------------------------------------------------- known mistakes
# Wrong implementations written against the reference (trusted code: see spec.Misconception).
def _sigmoid_forward_caching_x(x):
    from deepkit import activations

    return activations.sigmoid_forward(x)[0], np.asarray(x, dtype=np.float64)


def _tanh_forward_caching_x(x):
    from deepkit import activations

    return activations.tanh_forward(x)[0], np.asarray(x, dtype=np.float64)


def _exp_ratio_sigmoid(x):
    """sigma(x) = e^x / (1 + e^x) without any guard: inf / inf = NaN for x > 709."""
    with np.errstate(all="ignore"):
        e = np.exp(np.asarray(x, dtype=np.float64))
        out = e / (1.0 + e)
    return out, out


def _sigmoid_nan_for_large_x(student, inputs) -> bool:
    got = np.asarray(student.get("sigmoid_extreme", ()), dtype=np.float64)
    big = np.asarray(inputs["x_extreme"]) > 709.0
    return got.shape == big.shape and bool(np.all(np.isnan(got[big])))


def _tanh_nan_for_large_x(student, inputs) -> bool:
    """tanh from exponentials, (e^x - e^-x) / (e^x + e^-x): inf / inf = NaN for |x| > 710."""
    got = np.asarray(student.get("tanh_extreme", ()), dtype=np.float64)
    big = np.abs(np.asarray(inputs["x_extreme"])) > 710.0
    return got.shape == big.shape and bool(np.all(np.isnan(got[big])))


def _leaky_backward_relu_mask(dout, cache):
    return np.asarray(dout, dtype=np.float64) * (cache[0] > 0)


def _leaky_backward_one_at_zero(dout, cache):
    x, slope = cache
    return np.where(x >= 0, dout, slope * np.asarray(dout, dtype=np.float64))


def _leaky_forward_default_slope(x, slope=0.01):
    from deepkit import activations

    return activations.leaky_relu_forward(x)


def _prelu_dalpha_per_example(dout, cache):
    from deepkit import activations

    x, alpha = cache
    dx, _ = activations.prelu_backward(dout, cache)
    contrib = np.where(x <= 0, dout * x, 0.0)
    if alpha.ndim == 0:
        return dx, contrib.reshape(x.shape[0], -1).sum(1)
    return dx, contrib.reshape(x.shape[0], x.shape[1], -1).sum(2)


def _prelu_dalpha_batch_mean(dout, cache):
    from deepkit import activations

    dx, dalpha = activations.prelu_backward(dout, cache)
    return dx, dalpha / cache[0].shape[0]


def _elu_backward_without_alpha(dout, cache):
    """dout * alpha * (exp(x) - 1), the forward's OUTPUT, where x <= 0 (forgetting the + alpha)."""
    x, alpha = cache
    return np.where(x > 0, dout, dout * alpha * np.expm1(np.minimum(x, 0.0)))


def _elu_backward_one_at_zero(dout, cache):
    x, alpha = cache
    return np.where(x >= 0, dout, dout * alpha * np.exp(np.minimum(x, 0.0)))


def _prelu_backward_one_at_zero(dout, cache):
    from deepkit import activations

    x, _ = cache
    dx, dalpha = activations.prelu_backward(dout, cache)
    return np.where(x == 0, dout, dx), dalpha


def _selu_backward_lambda_at_zero(dout, cache):
    """SELU_LAMBDA * dout at x = 0 (the right slope) instead of SELU_LAMBDA * SELU_ALPHA * dout."""
    from deepkit import activations

    x = cache[0]
    return np.where(x == 0, activations.SELU_LAMBDA * np.asarray(dout), activations.selu_backward(dout, cache))


def _selu_forward_rounded(x):
    from deepkit import activations

    out, cache = activations.elu_forward(x, 1.6733)
    return 1.0507 * out, cache


def _maxout_backward_every_piece(dout, cache):
    """The max's gradient copied to all k pieces instead of the winning one."""
    x, W, idx = cache
    D, M, k = W.shape
    dz = np.broadcast_to(np.asarray(dout, dtype=np.float64)[..., None], (len(x), M, k)).reshape(-1, M * k)
    return dz @ W.reshape(D, M * k).T, (x.T @ dz).reshape(D, M, k), dz.reshape(-1, M, k).sum(0)


def _maxout_forward_caching_z(x, W, b):
    """The reference forward, with the pieces' values z in the cache (for the mistake below)."""
    from deepkit import activations

    out, (x, W, _) = activations.maxout_forward(x, W, b)
    D, M, k = W.shape
    return out, (x, W, (x @ W.reshape(D, M * k)).reshape(-1, M, k) + b)


def _maxout_backward_every_tied_piece(dout, cache):
    """The max's gradient sent through the mask z == max: every tied piece gets a full copy."""
    x, W, z = cache
    D, M, k = W.shape
    mask = z == z.max(axis=2, keepdims=True)
    dz = (np.asarray(dout, dtype=np.float64)[..., None] * mask).reshape(-1, M * k)
    return dz @ W.reshape(D, M * k).T, (x.T @ dz).reshape(D, M, k), dz.reshape(-1, M, k).sum(0)


TANH_NAN = Misconception(
    "tanh gives NaN for |x| > 710: (e^x - e^-x) / (e^x + e^-x) is inf / inf there; use np.tanh (or a formula "
    "that exponentiates only -2|x|)",
    "lecture 02, section 1",
    detect=_tanh_nan_for_large_x,
)
SIGMOID_FROM_X = Misconception(
    "dx matches the sigmoid derivative applied to the input x instead of the forward's output s: "
    "dx = dout * s * (1 - s) with s = sigmoid(x), so cache s",
    "lecture 02, section 1",
    {"activations.sigmoid_forward": _sigmoid_forward_caching_x},
)
SIGMOID_NAN = Misconception(
    "sigmoid gives NaN for x > 709: e^x / (1 + e^x) is inf / inf there; exponentiate only -|x| (one formula per "
    "sign) or clip x first",
    "lecture 02, section 1",
    detect=_sigmoid_nan_for_large_x,
)
TANH_FROM_X = Misconception(
    "dx matches 1 - x^2 with x the input: tanh's derivative is 1 - t^2 with t = tanh(x), the forward's output",
    "lecture 02, section 1",
    {"activations.tanh_forward": _tanh_forward_caching_x},
)
LEAKY_RELU_MASK = Misconception(
    "dx matches ReLU's mask: the leak's whole point is the gradient slope * dout (not 0) where x < 0",
    "lecture 02, section 4",
    {"activations.leaky_relu_backward": _leaky_backward_relu_mask},
)
LEAKY_KINK = Misconception(
    "dx matches slope 1 at x = 0 (x >= 0): at exactly x = 0 the docstring (and PyTorch) take the left slope, "
    "slope * dout",
    "lecture 02, section 1",
    {"activations.leaky_relu_backward": _leaky_backward_one_at_zero},
)
LEAKY_IGNORES_SLOPE = Misconception(
    "the output ignores the slope argument (always 0.01)",
    "lecture 02, section 4",
    {"activations.leaky_relu_forward": _leaky_forward_default_slope},
)
PRELU_KINK = Misconception(
    "dx matches slope 1 at x = 0 (x >= 0): at exactly x = 0 the docstring (and PyTorch) take the left slope, "
    "alpha * dout",
    "lecture 02, section 1",
    {"activations.prelu_backward": _prelu_backward_one_at_zero},
)
SELU_KINK = Misconception(
    "dx matches the slope SELU_LAMBDA at x = 0: at exactly x = 0 the docstring (and PyTorch) take the left slope, "
    "SELU_LAMBDA * SELU_ALPHA",
    "lecture 02, section 1",
    {"activations.selu_backward": _selu_backward_lambda_at_zero},
)
PRELU_PER_EXAMPLE = Misconception(
    "dalpha has one value per example: alpha is shared by the whole batch (and every spatial position), so its "
    "gradient sums over them",
    "lecture 02, section 4",
    {"activations.prelu_backward": _prelu_dalpha_per_example},
)
PRELU_MEAN = Misconception(
    "dalpha matches the batch MEAN of the contributions: the chain rule sums over every position sharing alpha "
    "(the loss's own 1/N is already in dout)",
    "lecture 02, section 4",
    {"activations.prelu_backward": _prelu_dalpha_batch_mean},
)
ELU_FROM_OUTPUT = Misconception(
    "dx matches dout * alpha * (exp(x) - 1), the forward's output, where x <= 0: the derivative is "
    "alpha * exp(x) = out + alpha",
    "lecture 02, section 1",
    {"activations.elu_backward": _elu_backward_without_alpha},
)
ELU_KINK = Misconception(
    "dx matches slope 1 at x = 0 (x >= 0): at exactly x = 0 the docstring (and PyTorch) take the left slope, "
    "alpha * exp(0) = alpha",
    "lecture 02, section 1",
    {"activations.elu_backward": _elu_backward_one_at_zero},
)
SELU_ROUNDED = Misconception(
    "the output matches SELU with the rounded constants 1.0507 and 1.6733: use SELU_LAMBDA and SELU_ALPHA from "
    "the module (the fixed point needs them to all digits)",
    "lecture 02, section 5",
    {"activations.selu_forward": _selu_forward_rounded},
)
MAXOUT_EVERY_PIECE = Misconception(
    "the gradient went to every one of the k pieces: the max routes it to the winning piece only",
    "lecture 02, section 6",
    {"activations.maxout_backward": _maxout_backward_every_piece},
)
MAXOUT_EVERY_TIED_PIECE = Misconception(
    "where pieces tie for the max, each got the whole gradient (a mask z == max): only the first tied piece "
    "(np.argmax's choice) gets it, so the gradient is not counted twice",
    "lecture 02, section 6",
    {
        "activations.maxout_forward": _maxout_forward_caching_z,
        "activations.maxout_backward": _maxout_backward_every_tied_piece,
    },
)

PARTS = (
    Part(
        "sigmoid_tanh_forward",
        1,
        "sigmoid_tanh_forward",
        _elementwise,
        description="sigmoid and tanh forward (both for |x| up to 1000)",
        misconceptions=(SIGMOID_NAN, TANH_NAN),
    ),
    Part(
        "sigmoid_backward",
        1,
        "sigmoid_backward",
        _elementwise,
        grads=("dx",),
        description="sigmoid backward: dout * s * (1 - s) from the cached output",
        misconceptions=(SIGMOID_FROM_X,),
    ),
    Part(
        "tanh_backward",
        1,
        "tanh_backward",
        _elementwise,
        grads=("dx",),
        description="tanh backward: dout * (1 - tanh(x)^2)",
        misconceptions=(TANH_FROM_X,),
    ),
    Part(
        "leaky_relu_forward",
        1,
        "leaky_relu_forward",
        _elementwise,
        description="Leaky ReLU forward, default and custom slope",
        misconceptions=(LEAKY_IGNORES_SLOPE,),
    ),
    Part(
        "leaky_relu_backward",
        1,
        "leaky_relu_backward",
        _elementwise,
        grads=("dx_default", "dx_slope"),
        description="Leaky ReLU backward: slope (not 0) for negative inputs and at exactly 0",
        misconceptions=(LEAKY_RELU_MASK, LEAKY_KINK),
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
        description="PReLU backward: dx, with slope alpha at exactly 0",
        misconceptions=(PRELU_KINK,),
    ),
    Part(
        "prelu_dalpha",
        2,
        "prelu_dalpha",
        _prelu,
        grads=("dalpha_scalar", "dalpha_feature", "dalpha_channel"),
        description="PReLU backward: dalpha summed over every position sharing the parameter",
        misconceptions=(PRELU_PER_EXAMPLE, PRELU_MEAN),
    ),
    Part("elu_forward", 1, "elu_forward", _elementwise, description="ELU forward, default and custom alpha"),
    Part(
        "elu_backward",
        1,
        "elu_backward",
        _elementwise,
        grads=("dx_default", "dx_alpha"),
        description="ELU backward: alpha * exp(x) for x <= 0 (alpha at exactly 0)",
        misconceptions=(ELU_FROM_OUTPUT, ELU_KINK),
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
        misconceptions=(SELU_ROUNDED,),
    ),
    Part(
        "selu_backward",
        1,
        "selu_backward",
        _elementwise,
        grads=("dx",),
        grad_tol=1e-10,
        description="SELU backward (SELU_LAMBDA * SELU_ALPHA at exactly 0)",
        misconceptions=(SELU_KINK,),
    ),
    Part("maxout_forward", 2, "maxout_forward", _maxout, description="Maxout forward: max over k pieces"),
    Part(
        "maxout_backward",
        2,
        "maxout_backward",
        _maxout,
        grads=("dx", "dW", "db", "dx_ties", "dW_ties", "db_ties"),
        description="Maxout backward: the gradient goes only to the winning piece (the first one on a tie)",
        misconceptions=(MAXOUT_EVERY_PIECE, MAXOUT_EVERY_TIED_PIECE),
    ),
)
