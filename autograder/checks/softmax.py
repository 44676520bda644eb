"""Hidden checks of topic 01: affine and ReLU layers, softmax, log-softmax, cross-entropy, the softmax loss, its
label-smoothed variant and the two-layer net.

Every case also exercises an edge the docstrings fix: scores near 1000 (a softmax without the max-shift
overflows to NaN), a single example (N = 1), a 1-D row for softmax, exact zeros for ReLU (gradient 0 there), a
true-class probability of exactly 0 for cross_entropy (clipped, loss ~708), a true class 800 below its row's
maximum for the losses (a loss taken as log(softmax) is infinite there) and label smoothing at eps = 0 and 1.
"""

from __future__ import annotations

import numpy as np

from autograder.spec import Misconception, Part


def _affine(rng: np.random.Generator) -> dict:
    N, dims, M = int(rng.integers(2, 6)), (int(rng.integers(2, 4)), int(rng.integers(2, 4))), int(rng.integers(2, 6))
    D = dims[0] * dims[1]
    return {
        "x": rng.standard_normal((N, *dims)),
        "x1": rng.standard_normal((1, *dims)),  # a single example
        "w": rng.standard_normal((D, M)),
        "b": rng.standard_normal(M),
        "dout": rng.standard_normal((N, M)),
        "dout1": rng.standard_normal((1, M)),
    }


def _relu(rng: np.random.Generator) -> dict:
    shape = (int(rng.integers(2, 6)), int(rng.integers(3, 7)))
    x = rng.standard_normal(shape)
    x.flat[rng.choice(x.size, size=3, replace=False)] = 0.0  # the kink: relu(0) = 0 and its gradient is 0
    return {"x": x, "dout": rng.standard_normal(shape)}


def _scores(rng: np.random.Generator, big: float) -> np.ndarray:
    """(N, C) scores: random rows plus one row around +big and one with a spread of size ``big``."""
    N, C = int(rng.integers(3, 7)), int(rng.integers(3, 6))
    z = 3.0 * rng.standard_normal((N, C))
    z[0] += big  # all entries large: exp overflows without the shift
    z[1] = big * rng.uniform(-1.0, 1.0, size=C)  # a large spread: tiny probabilities ...
    z[1, rng.permutation(C)[:2]] = (-0.6 * big, 0.6 * big)  # ... at least one below e^-745 (0 in float64) for big 1000
    return z


def _softmax(rng: np.random.Generator) -> dict:
    return {"z": _scores(rng, 1000.0)}


def _cross_entropy(rng: np.random.Generator) -> dict:
    z = 2.0 * rng.standard_normal((int(rng.integers(3, 8)), int(rng.integers(2, 6))))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    y = rng.integers(0, z.shape[1], size=z.shape[0])
    zero = probs.copy()
    zero[0] = 1.0 / (z.shape[1] - 1)
    zero[0, y[0]] = 0.0  # a true class with probability exactly 0: clipped to the smallest positive float64
    return {"probs": probs, "probs_zero": zero, "y": y}


def _softmax_loss(rng: np.random.Generator) -> dict:
    z = _scores(rng, 30.0)
    z[0] += 1000.0  # a row near 1000: overflow without the shift; its probabilities are moderate
    y = rng.integers(0, z.shape[1], size=z.shape[0])
    # a row whose true class scores 800 below the row's maximum: its probability underflows to 0 in float64, so
    # a loss taken as log(softmax(scores)) is infinite; the loss built on log_softmax is finite (~800 / N)
    z[-1, y[-1]] = z[-1].max() - 800.0
    return {"scores": z, "y": y}


def _smoothed(rng: np.random.Generator) -> dict:
    return {**_softmax_loss(rng), "eps": float(rng.uniform(0.05, 0.4))}


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


# --------------------------------------------------------------------------------------- known mistakes
# Wrong implementations written against the reference (trusted code: see spec.Misconception).
def _affine_without_bias(x, w, b):
    from deepkit import layers

    out, cache = layers.affine_forward(x, w, b)
    return out - b, cache


def _affine_db_mean(dout, cache):
    from deepkit import layers

    dx, dw, db = layers.affine_backward(dout, cache)
    return dx, dw, db / len(dout)


def _affine_dw_from_transpose(dout, cache):
    from deepkit import layers

    x, w, _ = cache
    dx, dw, db = layers.affine_backward(dout, cache)
    return dx, (dout.T @ x.reshape(len(x), -1)).reshape(dw.shape), db  # (M, D) numbers in a (D, M) array


def _affine_dx_flat(dout, cache):
    from deepkit import layers

    x, w, _ = cache
    dx, dw, db = layers.affine_backward(dout, cache)
    return dx.reshape(len(x), -1), dw, db


def _relu_grad_one_at_zero(dout, cache):
    return np.asarray(dout, dtype=np.float64) * (cache >= 0)


def _softmax_unshifted(z):
    with np.errstate(all="ignore"):
        e = np.exp(np.asarray(z, dtype=np.float64))
        return e / e.sum(axis=-1, keepdims=True)


def _row_overflows(student, inputs, key: str) -> bool:
    """The row of scores near 1000 came out NaN or infinite: the max-shift is missing."""
    got = np.asarray(student.get(key, ()), dtype=np.float64)
    return got.shape == np.shape(inputs["z"]) and not np.all(np.isfinite(got[0]))


def _softmax_column(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)  # right for a 1-D row, wrong for a batch


def _log_of_softmax(student, inputs) -> bool:
    """-inf where the probability underflows to 0 (log(softmax(z))), while the near-1000 row is fine."""
    got = np.asarray(student.get("logp", ()), dtype=np.float64)
    return got.shape == np.shape(inputs["z"]) and np.all(np.isfinite(got[0])) and bool(np.any(np.isneginf(got)))


def _ce_summed(probs, y):
    from deepkit import losses

    return losses.cross_entropy(probs, y) * len(y)


def _ce_all_pairs(probs, y):
    """probs[:, y] is an (N, N) matrix: the mean over all N^2 pairs instead of the N true classes."""
    picked = np.asarray(probs, dtype=np.float64)[:, y]
    return float(-np.mean(np.log(np.maximum(picked, np.finfo(np.float64).tiny))))


def _ce_unclipped(student, inputs) -> bool:
    loss = np.asarray(student.get("loss_zero", 0.0), dtype=np.float64)
    return loss.size == 1 and not np.isfinite(float(loss.reshape(())))


def _loss_from_log_of_probs(*keys: str):
    """detect: a loss key is infinite or NaN while every dscores key is finite: the loss was taken as
    log(softmax(scores)), which is -inf where the true (or, smoothed, any) class's probability underflows."""

    def detect(student, inputs) -> bool:
        losses = [np.asarray(student.get(k, 0.0), dtype=np.float64) for k in keys if k.startswith("loss")]
        grads = [np.asarray(student.get(k, np.nan), dtype=np.float64) for k in keys if k.startswith("dscores")]
        return any(not np.all(np.isfinite(v)) for v in losses) and all(np.all(np.isfinite(g)) for g in grads)

    return detect


def _loss_summed(scores, y):
    from deepkit import losses

    loss, ds = losses.softmax_loss(scores, y)
    return loss * len(y), ds


def _loss_wrong_sign(scores, y):
    from deepkit import losses

    loss, ds = losses.softmax_loss(scores, y)
    return loss, -ds


def _loss_unscaled_gradient(scores, y):
    from deepkit import losses

    loss, ds = losses.softmax_loss(scores, y)
    return loss, ds * len(y)


def _smoothed_over_other_classes(scores, y, eps=0.1):
    """The other convention: 1 - eps on the true class and eps / (C - 1) on each of the others."""
    from deepkit import losses

    N, C = np.shape(scores)
    logp = losses.log_softmax(scores)
    q = np.full((N, C), eps / (C - 1))
    q[np.arange(N), y] = 1.0 - eps
    return float(-(q * logp).sum() / N), (np.exp(logp) - q) / N


def _smoothed_loss_only(scores, y, eps=0.1):
    """Smoothed targets in the loss, but the plain gradient (p - onehot) / N."""
    from deepkit import losses

    loss, _ = losses.smoothed_softmax_loss(scores, y, eps)
    return loss, losses.softmax_loss(scores, y)[1]


def _smoothed_without_true_share(scores, y, eps=0.1):
    """q = (1 - eps) on the true class and eps / C on the others only: the targets sum to 1 - eps / C."""
    from deepkit import losses

    N, C = np.shape(scores)
    logp = losses.log_softmax(scores)
    q = np.full((N, C), eps / C)
    q[np.arange(N), y] = 1.0 - eps
    return float(-(q * logp).sum() / N), (np.exp(logp) - q) / N


def _smoothed_unscaled_gradient(scores, y, eps=0.1):
    from deepkit import losses

    loss, ds = losses.smoothed_softmax_loss(scores, y, eps)
    return loss, ds * len(y)


def _net(params, X, y, reg, *, half=True, bias_reg=False, relu_backward=True, reg_grad=True):
    """The two-layer net with one of its classic slips (the reference's layers, step by step)."""
    from deepkit import layers, losses

    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    h, c1 = layers.affine_forward(X, W1, b1)
    a, cr = layers.relu_forward(h)
    scores, c2 = layers.affine_forward(a, W2, b2)
    if y is None:
        return scores
    loss, ds = losses.softmax_loss(scores, y)
    loss += (0.5 if half else 1.0) * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    da, dW2, db2 = layers.affine_backward(ds, c2)
    dh = layers.relu_backward(da, cr) if relu_backward else da
    _, dW1, db1 = layers.affine_backward(dh, c1)
    g = reg if reg_grad else 0.0
    grads = {"W1": dW1 + g * W1, "b1": db1, "W2": dW2 + g * W2, "b2": db2}
    if bias_reg:
        grads["b1"], grads["b2"] = db1 + reg * b1, db2 + reg * b2
    return loss, grads


def _net_no_half(params, X, y=None, reg=0.0):
    return _net(params, X, y, reg, half=False)


def _net_bias_reg(params, X, y=None, reg=0.0):
    return _net(params, X, y, reg, bias_reg=True)


def _net_no_relu_backward(params, X, y=None, reg=0.0):
    return _net(params, X, y, reg, relu_backward=False)


def _net_no_reg_gradient(params, X, y=None, reg=0.0):
    return _net(params, X, y, reg, reg_grad=False)


AFFINE_NO_BIAS = Misconception(
    "out matches x_flat @ w without the bias: out = x_flat @ w + b",
    "lecture 01, section 1",
    {"layers.affine_forward": _affine_without_bias},
)
AFFINE_DB_MEAN = Misconception(
    "db matches the MEAN of dout over the rows: the bias is added to every row, so its gradient is the SUM",
    "lecture 01, section 6",
    {"layers.affine_backward": _affine_db_mean},
)
AFFINE_DW_TRANSPOSED = Misconception(
    "dw holds the numbers of dout.T @ x (shape (M, D)) reshaped to (D, M): dw = x_flat.T @ dout; let the shapes "
    "place the transposes",
    "lecture 01, section 6",
    {"layers.affine_backward": _affine_dw_from_transpose},
)
AFFINE_DX_FLAT = Misconception(
    "dx has the flattened shape (N, D): reshape it back to x's original shape (N, d1, ..., dk)",
    "lecture 01, section 6",
    {"layers.affine_backward": _affine_dx_flat},
)
RELU_KINK = Misconception(
    "dx lets the gradient through at x = 0 (x >= 0): the docstring (and PyTorch) take the slope 0 there, "
    "dx = dout * (x > 0)",
    "lecture 01, section 7",
    {"layers.relu_backward": _relu_grad_one_at_zero},
)
SOFTMAX_UNSHIFTED = Misconception(
    "softmax gives NaN for the row of scores near 1000: exp overflows; subtract each row's maximum first",
    "lecture 01, section 2",
    detect=lambda student, inputs: _row_overflows(student, inputs, "p"),
)
SOFTMAX_COLUMN = Misconception(
    "p is normalised over the column (axis 0): each ROW must sum to 1 (sum over the classes, axis 1)",
    "lecture 01, section 2",
    {"losses.softmax": _softmax_column},
)
LOG_SOFTMAX_UNSHIFTED = Misconception(
    "log_softmax gives -inf or NaN for the row of scores near 1000: use the max-shift inside the log-sum-exp",
    "lecture 01, section 2",
    detect=lambda student, inputs: _row_overflows(student, inputs, "logp"),
)
LOG_OF_SOFTMAX = Misconception(
    "log_softmax gives -inf where a probability underflows to 0: that is log(softmax(z)); compute "
    "z - m - log(sum(exp(z - m))) instead",
    "lecture 01, section 2",
    detect=_log_of_softmax,
)
CE_SUMMED = Misconception(
    "the loss is the SUM over the examples: cross_entropy is the mean, -(1/N) sum_i log probs[i, y_i]",
    "lecture 01, section 3",
    {"losses.cross_entropy": _ce_summed},
)
CE_ALL_PAIRS = Misconception(
    "the loss averages log probs[:, y], an (N, N) matrix: pick one entry per row, probs[np.arange(N), y]",
    "lecture 01, section 3",
    {"losses.cross_entropy": _ce_all_pairs},
)
CE_UNCLIPPED = Misconception(
    "cross_entropy returned infinity for a true-class probability of exactly 0: the docstring clips it to the "
    "smallest positive float64 (np.finfo(np.float64).tiny)",
    "lecture 01, section 3",
    detect=_ce_unclipped,
)
LOSS_OF_PROBS = Misconception(
    "the loss is infinite for the row whose true class scores 800 below its maximum: log(softmax(scores)) is "
    "-inf where a probability underflows to 0; take the loss from log_softmax (the log-sum-exp)",
    "lecture 01, section 4",
    detect=_loss_from_log_of_probs("loss", "loss_single", "dscores", "dscores_single"),
)
SMOOTH_OF_PROBS = Misconception(
    "the smoothed loss is infinite (or NaN): log(softmax(scores)) is -inf where a probability underflows to 0, "
    "and eps / C of it counts for every class; take the loss from log_softmax (the log-sum-exp)",
    "lecture 01, section 5",
    detect=_loss_from_log_of_probs("loss_0", "loss_eps", "loss_1", "dscores_0", "dscores_eps", "dscores_1"),
)
LOSS_SUMMED = Misconception(
    "the loss is summed over the batch while dscores is the gradient of the MEAN: return the mean",
    "lecture 01, section 4",
    {"losses.softmax_loss": _loss_summed},
)
LOSS_WRONG_SIGN = Misconception(
    "dscores has the wrong sign: the gradient is (p - onehot) / N, which pushes the true class's score UP when "
    "descended",
    "lecture 01, section 4",
    {"losses.softmax_loss": _loss_wrong_sign},
)
LOSS_UNSCALED = Misconception(
    "dscores is p - onehot without the 1/N of the mean",
    "lecture 01, section 4",
    {"losses.softmax_loss": _loss_unscaled_gradient},
)
SMOOTH_OTHER_CLASSES = Misconception(
    "the targets put eps / (C - 1) on each wrong class: this course (and torch's label_smoothing) spreads eps "
    "over ALL C classes, q = (1 - eps) onehot + eps / C",
    "lecture 01, section 5",
    {"losses.smoothed_softmax_loss": _smoothed_over_other_classes},
)
SMOOTH_LOSS_ONLY = Misconception(
    "dscores is the unsmoothed (p - onehot) / N: the gradient of the smoothed loss is (p - q) / N",
    "lecture 01, section 5",
    {"losses.smoothed_softmax_loss": _smoothed_loss_only},
)
SMOOTH_NO_TRUE_SHARE = Misconception(
    "the true class's target is 1 - eps without its own eps / C: q = (1 - eps) onehot + eps / C sums to 1",
    "lecture 01, section 5",
    {"losses.smoothed_softmax_loss": _smoothed_without_true_share},
)
SMOOTH_UNSCALED = Misconception(
    "dscores is p - q without the 1/N of the mean",
    "lecture 01, section 5",
    {"losses.smoothed_softmax_loss": _smoothed_unscaled_gradient},
)
NET_NO_HALF = Misconception(
    "the loss adds reg * ||W||^2 while the gradient adds reg * W: the penalty is 0.5 * reg * ||W||^2",
    "lecture 01, section 6",
    {"nets.two_layer_loss": _net_no_half},
)
NET_BIAS_REG = Misconception(
    "the biases' gradients include reg * b: only the weights are regularised",
    "lecture 01, section 6",
    {"nets.two_layer_loss": _net_bias_reg},
)
NET_NO_RELU_BACKWARD = Misconception(
    "dW1 and db1 skip the ReLU's backward: the gradient must be masked where the hidden pre-activation is <= 0",
    "lecture 01, section 6",
    {"nets.two_layer_loss": _net_no_relu_backward},
)
NET_NO_REG_GRADIENT = Misconception(
    "the loss includes the L2 penalty but dW1, dW2 miss its gradient reg * W",
    "lecture 01, section 6",
    {"nets.two_layer_loss": _net_no_reg_gradient},
)

PARTS = (
    Part(
        "affine_forward",
        1,
        "affine_forward",
        _affine,
        description="affine forward on (N, d1, d2) inputs and a single example: x_flat @ w + b",
        misconceptions=(AFFINE_NO_BIAS,),
    ),
    Part(
        "affine_backward",
        2,
        "affine_backward",
        _affine,
        grads=("dx", "dw", "db", "dx_single", "dw_single", "db_single"),
        description="affine backward through your own cache: dx (x's shape), dw, db; also for N = 1",
        misconceptions=(AFFINE_DB_MEAN, AFFINE_DW_TRANSPOSED, AFFINE_DX_FLAT),
    ),
    Part("relu_forward", 1, "relu_forward", _relu, description="relu forward: max(0, x)"),
    Part(
        "relu_backward",
        1,
        "relu_backward",
        _relu,
        grads=("dx",),
        description="relu backward through your own cache, gradient 0 at x = 0",
        misconceptions=(RELU_KINK,),
    ),
    Part(
        "softmax",
        1,
        "softmax",
        _softmax,
        description="row-wise softmax, including scores near 1000 and a 1-D row",
        misconceptions=(SOFTMAX_UNSHIFTED, SOFTMAX_COLUMN),
    ),
    Part(
        "log_softmax",
        1,
        "log_softmax",
        _softmax,
        description="row-wise log-softmax, including scores near 1000 and tiny probabilities",
        misconceptions=(LOG_SOFTMAX_UNSHIFTED, LOG_OF_SOFTMAX),
    ),
    Part(
        "cross_entropy",
        1,
        "cross_entropy",
        _cross_entropy,
        description="mean cross-entropy of probabilities and labels (a true-class probability of 0 clipped)",
        misconceptions=(CE_SUMMED, CE_ALL_PAIRS, CE_UNCLIPPED),
    ),
    Part(
        "softmax_loss",
        2,
        "softmax_loss",
        _softmax_loss,
        grads=("dscores", "dscores_single"),
        description="softmax loss (mean over N, a true class far below the maximum) and dscores = (p - onehot) / N",
        misconceptions=(LOSS_OF_PROBS, LOSS_SUMMED, LOSS_WRONG_SIGN, LOSS_UNSCALED),
    ),
    Part(
        "smoothed_softmax_loss",
        2,
        "smoothed_softmax_loss",
        _smoothed,
        grads=("dscores_0", "dscores_eps", "dscores_1"),
        description="label smoothing: targets (1 - eps) onehot + eps / C, dscores = (p - q) / N, eps = 0 and 1 too",
        misconceptions=(SMOOTH_OF_PROBS, SMOOTH_OTHER_CLASSES, SMOOTH_LOSS_ONLY, SMOOTH_NO_TRUE_SHARE, SMOOTH_UNSCALED),
    ),
    Part(
        "two_layer_loss",
        3,
        "two_layer_loss",
        _two_layer,
        seeds=4,
        grads=("dW1", "db1", "dW2", "db2"),
        description="two-layer net: scores, loss with 0.5 * reg * L2, and all four gradients",
        misconceptions=(NET_NO_HALF, NET_BIAS_REG, NET_NO_RELU_BACKWARD, NET_NO_REG_GRADIENT),
    ),
)
