"""Hidden checks of topic 08: output sizes, receptive fields, im2col, convolution forward/backward (strided,
padded, dilated), pooling, transposed convolution, the residual block, the small CNN's loss, and a small CNN
trained on digits with the student's own layers.

Edge cases in every case (autograder/probes/convolution.py): a convolution with stride = kernel, pooling with the
default stride (= pool), and max pooling of small integers, where several elements of a window tie for the
maximum: the whole gradient goes to the first of them in row-major order (PyTorch's rule, stated in pool.py).
Known mistakes (``Misconception``) are named in the reasons, with the lecture section that explains them."""

from __future__ import annotations

import numpy as np

from autograder.spec import Misconception, Part


def _sizes(rng):
    cases = [
        (
            int(rng.integers(5, 30)),
            int(rng.integers(1, 6)),
            int(rng.integers(0, 3)),
            int(rng.integers(1, 4)),
            int(rng.integers(1, 3)),
        )
        for _ in range(12)
    ]
    cases += [(7, 3, 0, 3, 1), (2, 5, 0, 1, 1), (32, 5, 2, 1, 1)]  # not an integer; does not fit; "same"
    return {"cases": np.array(cases)}


def _fields(rng):
    """Six stacks of four layers each: kernels, strides and dilations."""
    return {
        "kernels": rng.integers(1, 8, size=(6, 4)),
        "strides": rng.integers(1, 4, size=(6, 4)),
        "dilations": rng.integers(1, 4, size=(6, 4)),
    }


def _conv(rng, dilation=None):
    """A convolution whose windows overlap (kernel 2 or 3 > stride): an adding col2im is needed. The probe also
    runs it with stride = kernel (non-overlapping patches) and with the 1x1 corner of the kernel. At least two
    examples: with N = 1 a db averaged over the batch, or im2col rows ordered by position before example, look
    right."""
    N, C, F = int(rng.integers(2, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
    k = int(rng.integers(2, 4))
    d = int(rng.integers(1, 3)) if dilation is None else dilation
    s, p = int(rng.integers(1, k)), int(rng.integers(0, 3))
    H, W = int(rng.integers(d * (k - 1) + 2, 10)), int(rng.integers(d * (k - 1) + 2, 10))
    x = rng.standard_normal((N, C, H, W))
    Ho, Wo = (H + 2 * p - d * (k - 1) - 1) // s + 1, (W + 2 * p - d * (k - 1) - 1) // s + 1
    return {
        "x": x,
        "w": rng.standard_normal((F, C, k, k)),
        "b": rng.standard_normal(F),
        "dout": rng.standard_normal((N, F, Ho, Wo)),
        "stride": s,
        "pad": p,
        "dilation": d,
    }


def _im2col_inputs(rng):
    """At least two channels and a 2x2 kernel, so that the (C, kh, kw) order of a row shows."""
    inp = _conv(rng)
    if inp["x"].shape[1] < 2:
        inp["x"] = np.concatenate([inp["x"], rng.standard_normal(inp["x"].shape)], axis=1)
        inp["w"] = np.concatenate([inp["w"], rng.standard_normal(inp["w"].shape)], axis=1)
    return inp


def _plain_conv(rng):
    return _conv(rng, dilation=1)


def _dilated_conv(rng):
    return _conv(rng, dilation=2)


def _pool(rng):
    """Windows that overlap or not (stride = pool, the default), on real-valued x and on small integers x_ties
    where several elements of a window tie for the maximum (the gradient goes to the first, row-major)."""
    pool, stride = [(2, 2), (3, 1), (3, 2), (2, 1), (3, 3)][int(rng.integers(0, 5))]
    N, C, H, W = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(4, 9)), int(rng.integers(4, 9))
    Ho, Wo = (H - pool) // stride + 1, (W - pool) // stride + 1
    Hd, Wd = (H - pool) // pool + 1, (W - pool) // pool + 1
    return {
        "x": rng.standard_normal((N, C, H, W)),
        "x_ties": rng.integers(-2, 3, size=(N, C, H, W)).astype(np.float64),
        "pool": pool,
        "stride": stride,
        "dout": rng.standard_normal((N, C, Ho, Wo)),
        "dout_default": rng.standard_normal((N, C, Hd, Wd)),
    }


def _transpose(rng):
    """At least two input and two output channels: with one of them 1, w read in the (C_out, C_in) layout of
    conv2d holds the same numbers in the same order, and that mistake would pass."""
    N, C_in, C_out, k = (
        int(rng.integers(1, 3)),
        int(rng.integers(2, 4)),
        int(rng.integers(2, 4)),
        int(rng.integers(2, 4)),
    )
    s, p, H, W = int(rng.integers(1, 4)), int(rng.integers(0, 2)), int(rng.integers(2, 5)), int(rng.integers(2, 5))
    Ho, Wo = (H - 1) * s - 2 * p + k, (W - 1) * s - 2 * p + k
    return {
        "x": rng.standard_normal((N, C_in, H, W)),
        "w": rng.standard_normal((C_in, C_out, k, k)),
        "b": rng.standard_normal(C_out),
        "stride": s,
        "pad": p,
        "dout": rng.standard_normal((N, C_out, Ho, Wo)),
    }


def _block(rng):
    """Two blocks in every case: one that changes the channels (1x1 projection skip, params p_*) and one that
    keeps them (identity skip, params i_*), so a mistake on either path shows on every seed."""
    c_in = int(rng.integers(1, 4))
    c_out = c_in + 1
    N, H = int(rng.integers(1, 3)), int(rng.integers(3, 6))
    return {
        "x": rng.standard_normal((N, c_in, H, H)),
        "dout": rng.standard_normal((N, c_out, H, H)),
        "p_W1": 0.5 * rng.standard_normal((c_out, c_in, 3, 3)),
        "p_b1": 0.1 * rng.standard_normal(c_out),
        "p_W2": 0.5 * rng.standard_normal((c_out, c_out, 3, 3)),
        "p_b2": 0.1 * rng.standard_normal(c_out),
        "p_Ws": 0.5 * rng.standard_normal((c_out, c_in, 1, 1)),
        "p_bs": 0.1 * rng.standard_normal(c_out),
        "x_identity": rng.standard_normal((N, c_out, H, H)),
        "dout_identity": rng.standard_normal((N, c_out, H, H)),
        "i_W1": 0.5 * rng.standard_normal((c_out, c_out, 3, 3)),
        "i_b1": 0.1 * rng.standard_normal(c_out),
        "i_W2": 0.5 * rng.standard_normal((c_out, c_out, 3, 3)),
        "i_b2": 0.1 * rng.standard_normal(c_out),
    }


def _cnn(rng):
    N, C, F_, classes = (
        int(rng.integers(2, 6)),
        int(rng.integers(1, 3)),
        int(rng.integers(2, 5)),
        int(rng.integers(3, 6)),
    )
    H = 2 * int(rng.integers(2, 4))
    return {
        "X": rng.standard_normal((N, C, H, H)),
        "y": rng.integers(0, classes, size=N),
        "p_W1": 0.5 * rng.standard_normal((F_, C, 3, 3)),
        "p_b1": 0.1 * rng.standard_normal(F_),
        "p_W2": 0.5 * rng.standard_normal((F_ * (H // 2) ** 2, classes)),
        "p_b2": 0.1 * rng.standard_normal(classes),
        "reg": float(rng.uniform(0.0, 0.3)),
    }


def _digits_split():
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = (d.data / 16.0).reshape(-1, 1, 8, 8), d.target.astype(np.int64)
    idx = np.random.default_rng(8).permutation(len(y))
    return X[idx[:1200]], y[idx[:1200]], X[idx[1200:]], y[idx[1200:]]


def _digits(rng):
    X_tr, y_tr, X_val, _ = _digits_split()
    return {
        "X_train": X_tr,
        "y_train": y_tr,
        "X_val": X_val,
        "seed": int(rng.integers(0, 1000)),
        "epochs": 10,
        "lr": 0.2,
    }


TARGET_ACCURACY = 0.85  # the reference reaches 0.90-0.95 over seeds; rounding differences cost < 1%

# CPU seconds for the digits run (380 mini-batches of 32): the reference needs 0.4 s, a correct CS231n-style
# naive convolution (four Python loops over N, F, Ho, Wo in forward and backward) with loop pooling about 90 s.
# The part grades the network, not its speed: such a student must not time out, with room for a slower CPU
# (tests/topics/test_convolution.py::test_a_four_loop_convolution_fits_the_digits_budget).
DIGITS_CPU = 300.0


def _accuracy(student: dict, reference: dict, inp: dict) -> tuple[float, str]:
    y_val = _digits_split()[3]  # the labels never enter the sandbox
    pred = np.asarray(student.get("pred", []))
    if pred.shape != y_val.shape:
        return 0.0, f"pred: shape {pred.shape}, expected {y_val.shape}"
    acc = float(np.mean(pred == y_val))
    if acc >= TARGET_ACCURACY:
        return 1.0, "ok"
    return 0.0, f"validation accuracy {acc:.1%} after training, below the target {TARGET_ACCURACY:.0%}"


# --------------------------------------------------------------------------------------------- known mistakes
# Wrong implementations written against the reference (trusted code; the grader names them, see spec.Misconception).
def _floor_instead_of_refusing(n, f, pad=0, stride=1, dilation=1, strict=True):
    from deepkit import conv

    return conv.conv_output_size(n, f, pad, stride, dilation, strict=False)


def _always_strict(n, f, pad=0, stride=1, dilation=1, strict=True):
    from deepkit import conv

    return conv.conv_output_size(n, f, pad, stride, dilation, strict=True)


def _field_without_strides(kernels, strides=None, dilations=None):
    from deepkit import conv

    return conv.receptive_field(kernels, None, dilations)


def _field_without_dilation(kernels, strides=None, dilations=None):
    from deepkit import conv

    return conv.receptive_field(kernels, strides, None)


def _im2col_channels_last(x, kh, kw, stride=1, pad=0, dilation=1):
    from deepkit import conv

    cols = conv.im2col(x, kh, kw, stride, pad, dilation)
    C = x.shape[1]
    return cols.reshape(-1, C, kh, kw).transpose(0, 2, 3, 1).reshape(cols.shape)  # (kh, kw, C) order


def _conv_flipped(x, w, b, stride=1, pad=0, dilation=1):
    from deepkit import conv

    return conv.conv2d_forward(x, w[:, :, ::-1, ::-1].copy(), b, stride, pad, dilation)


def _conv_no_bias(x, w, b, stride=1, pad=0, dilation=1):
    from deepkit import conv

    return conv.conv2d_forward(x, w, np.zeros_like(b), stride, pad, dilation)


def _col2im_assign(cols, x_shape, kh, kw, stride=1, pad=0, dilation=1):
    """col2im that ASSIGNS each field instead of adding: overlapping contributions overwrite each other."""
    from deepkit import conv

    N, C, H, W = x_shape
    Ho = conv.conv_output_size(H, kh, pad, stride, dilation, strict=False)
    Wo = conv.conv_output_size(W, kw, pad, stride, dilation, strict=False)
    c6 = cols.reshape(N, Ho, Wo, C, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    for i in range(kh):
        for j in range(kw):
            r, c = i * dilation, j * dilation
            xp[:, :, r : r + stride * Ho : stride, c : c + stride * Wo : stride] = c6[:, :, i, j]
    return xp[:, :, pad : pad + H, pad : pad + W] if pad else xp


def _conv_backward_assign(dout, cache):
    x_shape, cols, w, stride, pad, dilation = cache
    F, _, kh, kw = w.shape
    d = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    return (
        _col2im_assign(d @ w.reshape(F, -1), x_shape, kh, kw, stride, pad, dilation),
        (d.T @ cols).reshape(w.shape),
        d.sum(axis=0),
    )


def _pool_windows(cache):
    from deepkit import pool

    (N, C, H, W), arg, p, s = cache
    return arg, p, s, (N, C, H, W), pool


def _maxpool_to_every_element(dout, cache):
    arg, p, s, shape, pool = _pool_windows(cache)
    return pool.scatter_windows(np.broadcast_to(dout[..., None, None], (*dout.shape, p, p)), shape, p, s)


def _tied_maxima(cache, x):
    """(N, C, Ho, Wo, p, p) mask of the elements equal to their window's maximum (recomputed from x)."""
    from deepkit import pool

    arg, p, s, shape, _ = _pool_windows(cache)
    views = np.stack(pool.window_offsets(x, p, s), axis=-1)
    return (views == views.max(axis=-1, keepdims=True)).reshape(*arg.shape, p, p)


def _maxpool_ties_split(x, pool_size=2, stride=None):
    """maxpool_forward keeping x, so that the wrong backward below can see every tied maximum."""
    from deepkit import pool

    out, cache = pool.maxpool_forward(x, pool_size, stride)
    return out, (cache, np.asarray(x, dtype=np.float64))


def _split_backward(dout, cache_x):
    cache, x = cache_x
    _, p, s, shape, pool = _pool_windows(cache)
    tied = _tied_maxima(cache, x)
    share = tied / tied.sum(axis=(-2, -1), keepdims=True) * dout[..., None, None]  # split evenly among ties
    return pool.scatter_windows(share, shape, p, s)


def _every_tie_backward(dout, cache_x):
    cache, x = cache_x
    _, p, s, shape, pool = _pool_windows(cache)
    return pool.scatter_windows(_tied_maxima(cache, x) * dout[..., None, None], shape, p, s)  # each tie: all


def _last_tie_backward(dout, cache_x):
    cache, x = cache_x
    _, p, s, shape, pool = _pool_windows(cache)
    tied = _tied_maxima(cache, x).reshape(*dout.shape, p * p)
    last = p * p - 1 - np.argmax(tied[..., ::-1], axis=-1)  # the LAST maximum (np.argmax on the reversed window)
    onehot = (last[..., None] == np.arange(p * p)) * dout[..., None]
    return pool.scatter_windows(onehot.reshape(*dout.shape, p, p), shape, p, s)


def _maxpool_stride_one(x, pool_size=2, stride=None):
    from deepkit import pool

    return pool.maxpool_forward(x, pool_size, 1 if stride is None else stride)  # default stride 1, not pool


def _avgpool_not_divided(dout, cache):
    from deepkit import pool

    x_shape, p, s = cache
    return pool.avgpool_backward(dout, cache) * (p * p)


def _block_no_skip_gradient(dout, cache):
    from deepkit import blocks, conv, layers

    dx, grads = blocks.residual_block_backward(dout, cache)
    dsum = layers.relu_backward(dout, cache.relu_out)
    return dx - (dsum if cache.skip is None else conv.conv2d_backward(dsum, cache.skip)[0]), grads


def _block_relu_then_add(x, params):
    """out = relu(conv(h) + b2) + skip(x): the last ReLU before the addition instead of after it."""
    from deepkit import conv, layers

    h, _ = layers.relu_forward(conv.conv2d_forward(x, params["W1"], params["b1"], pad=1)[0])
    f, _ = layers.relu_forward(conv.conv2d_forward(h, params["W2"], params["b2"], pad=1)[0])
    skip = conv.conv2d_forward(x, params["Ws"], params["bs"])[0] if "Ws" in params else x
    return f + skip, None


def _cnn_full_reg(params, X, y=None, reg=0.0):
    from deepkit import blocks

    if y is None:
        return blocks.small_cnn_loss(params, X)
    loss, grads = blocks.small_cnn_loss(params, X, y, 2 * reg)  # reg ||W||^2 instead of 0.5 reg ||W||^2
    return loss, grads


def _cnn_reg_on_biases(params, X, y=None, reg=0.0):
    from deepkit import blocks

    if y is None:
        return blocks.small_cnn_loss(params, X)
    loss, grads = blocks.small_cnn_loss(params, X, y, reg)
    loss += 0.5 * reg * (np.sum(params["b1"] ** 2) + np.sum(params["b2"] ** 2))
    return loss, {**grads, "b1": grads["b1"] + reg * params["b1"], "b2": grads["b2"] + reg * params["b2"]}


def _mistake(says: str, section: int, replace: dict) -> Misconception:
    return Misconception(says, f"lecture 08, section {section}", replace)


# sections of lectures/08_convolution.py
SEC_SIZE, SEC_FIELD, SEC_IM2COL, SEC_POOL, SEC_RESIDUAL, SEC_CNN = 1, 2, 3, 4, 9, 10


# deepkit modules of earlier topics that these parts also call (graded as part of this topic)
READS = ("layers", "losses")

PARTS = (
    Part(
        "conv_output_size",
        1,
        "conv_output_size",
        _sizes,
        seeds=2,
        description="(N - F + 2P) / S + 1 with dilation, refusing sizes that are not integers (floored with "
        "strict=False)",
        misconceptions=(
            _mistake(
                "sizes that are not integers are floored instead of refused (strict=True must raise ValueError)",
                SEC_SIZE,
                {"conv.conv_output_size": _floor_instead_of_refusing},
            ),
            _mistake(
                "strict=False still refuses sizes that are not integers: without strict the size is floored, as "
                "PyTorch does",
                SEC_SIZE,
                {"conv.conv_output_size": _always_strict},
            ),
        ),
    ),
    Part(
        "receptive_field",
        1,
        "receptive_field",
        _fields,
        seeds=2,
        description="receptive field of a stack of layers with strides and dilations",
        misconceptions=(
            _mistake(
                "the receptive field ignores the strides: each layer's reach is multiplied by the product of the "
                "strides BEFORE it",
                SEC_FIELD,
                {"conv.receptive_field": _field_without_strides},
            ),
            _mistake(
                "the receptive field ignores the dilations: a dilated k-tap filter spans d (k - 1) + 1 pixels",
                SEC_FIELD,
                {"conv.receptive_field": _field_without_dilation},
            ),
        ),
    ),
    Part(
        "im2col",
        1,
        "im2col",
        _im2col_inputs,
        description="every receptive field as a row, (C, kh, kw) order",
        misconceptions=(
            _mistake(
                "the columns are in (kh, kw, C) order: flatten each field as x[n, :, rows, cols], channels first",
                SEC_IM2COL,
                {"conv.im2col": _im2col_channels_last},
            ),
        ),
    ),
    Part(
        "conv2d_forward",
        2,
        "conv2d_forward",
        _plain_conv,
        seeds=4,
        description="conv2d forward with stride and zero padding (and stride = kernel)",
        misconceptions=(
            _mistake(
                "out matches a true convolution (the kernel flipped): deep-learning 'convolution' is cross-correlation",
                SEC_IM2COL,
                {"conv.conv2d_forward": _conv_flipped},
            ),
            _mistake(
                "out matches the convolution without the bias b[f]", SEC_IM2COL, {"conv.conv2d_forward": _conv_no_bias}
            ),
        ),
    ),
    Part(
        "conv2d_backward",
        3,
        "conv2d_backward",
        _plain_conv,
        seeds=4,
        grads=("dx", "dw", "db"),
        description="conv2d backward: dx, dw, db from your own cache",
        misconceptions=(
            _mistake(
                "dx matches a col2im that ASSIGNS overlapping receptive fields instead of adding them",
                SEC_IM2COL,
                {"conv.conv2d_backward": _conv_backward_assign},
            ),
        ),
    ),
    Part(
        "dilated_conv",
        1,
        "dilated_conv",
        _dilated_conv,
        grads=("dx", "dw"),
        description="dilated convolution forward and backward",
    ),
    Part(
        "maxpool_forward",
        1,
        "maxpool_forward",
        _pool,
        seeds=4,
        description="max pooling forward (also with the default stride = pool)",
        misconceptions=(
            _mistake(
                "with the stride left out, the windows move by 1: the default stride is the pool size",
                SEC_POOL,
                {"pool.maxpool_forward": _maxpool_stride_one},
            ),
        ),
    ),
    Part(
        "maxpool_backward",
        2,
        "maxpool_backward",
        _pool,
        seeds=4,
        grads=("dx", "dx_ties", "dx_default"),
        description="max pooling backward: gradient to the first maximum (ties!), overlaps add up",
        misconceptions=(
            _mistake(
                "dx matches a gradient sent to EVERY element of the window: only the maximum gets it",
                SEC_POOL,
                {"pool.maxpool_backward": _maxpool_to_every_element},
            ),
            _mistake(
                "dx matches the gradient SPLIT among tied maxima: the first maximum (row-major) gets all of it",
                SEC_POOL,
                {"pool.maxpool_forward": _maxpool_ties_split, "pool.maxpool_backward": _split_backward},
            ),
            _mistake(
                "dx matches the whole gradient given to EVERY tied maximum: only the first one gets it",
                SEC_POOL,
                {"pool.maxpool_forward": _maxpool_ties_split, "pool.maxpool_backward": _every_tie_backward},
            ),
            _mistake(
                "dx matches the gradient given to the LAST tied maximum: the first one (row-major) gets it",
                SEC_POOL,
                {"pool.maxpool_forward": _maxpool_ties_split, "pool.maxpool_backward": _last_tie_backward},
            ),
        ),
    ),
    Part(
        "avgpool",
        1,
        "avgpool",
        _pool,
        grads=("dx", "dx_default"),
        description="average pooling forward and backward (also with the default stride)",
        misconceptions=(
            _mistake(
                "dx is pool * pool times too large: each input gets dout / (pool * pool)",
                SEC_POOL,
                {"pool.avgpool_backward": _avgpool_not_divided},
            ),
        ),
    ),
    Part(
        "conv_transpose2d",
        2,
        "conv_transpose2d",
        _transpose,
        grads=("dx", "dw", "db"),
        description="transposed convolution forward and backward",
    ),
    Part(
        "residual_block_forward",
        1,
        "residual_block_forward",
        _block,
        seeds=4,
        description="residual block forward, identity and 1x1-projection skip",
        misconceptions=(
            _mistake(
                "out matches relu(F(x)) + x: the skip is added BEFORE the last ReLU, out = relu(F(x) + x)",
                SEC_RESIDUAL,
                {"blocks.residual_block_forward": _block_relu_then_add},
            ),
        ),
    ),
    Part(
        "residual_block_backward",
        2,
        "residual_block_backward",
        _block,
        seeds=4,
        grads=(
            ("dx", "dW1", "db1", "dW2", "db2", "dWs", "dbs")
            + ("dx_identity", "dW1_identity", "db1_identity", "dW2_identity", "db2_identity")
        ),
        description="residual block backward, including the skip path (identity and projection)",
        misconceptions=(
            _mistake(
                "dx misses the skip path: the gradient at the sum, relu'(...) * dout, also flows back through "
                "the identity (or the 1x1 projection) into dx",
                SEC_RESIDUAL,
                {"blocks.residual_block_backward": _block_no_skip_gradient},
            ),
        ),
    ),
    Part(
        "small_cnn_loss",
        2,
        "small_cnn_loss",
        _cnn,
        grads=("dW1", "db1", "dW2", "db2"),
        description="small CNN loss and gradients (conv, ReLU, max-pool, affine, softmax)",
        misconceptions=(
            _mistake(
                "the loss uses reg ||W||^2: the penalty is 0.5 reg (||W1||^2 + ||W2||^2), gradient reg W",
                SEC_CNN,
                {"blocks.small_cnn_loss": _cnn_full_reg},
            ),
            _mistake(
                "the biases are regularized too: the penalty is on the weights W1, W2 only",
                SEC_CNN,
                {"blocks.small_cnn_loss": _cnn_reg_on_biases},
            ),
        ),
    ),
    Part(
        "cnn_digits",
        2,
        "cnn_digits",
        _digits,
        seeds=1,
        compare=_accuracy,
        timeout=DIGITS_CPU,
        description=f"your small CNN trained on digits reaches {TARGET_ACCURACY:.0%} validation accuracy",
    ),
)
