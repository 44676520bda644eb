"""Hidden checks of topic 08: output sizes, receptive fields, im2col, convolution forward/backward (strided,
padded, dilated), pooling, transposed convolution, the residual block, the small CNN's loss, and a small CNN
trained on digits with the student's own layers."""

from __future__ import annotations

import numpy as np

from autograder.spec import Part


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
    N, C, F = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
    k = int(rng.integers(1, 4))
    d = int(rng.integers(1, 3)) if dilation is None else dilation
    s, p = int(rng.integers(1, 3)), int(rng.integers(0, 3))
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


def _plain_conv(rng):
    return _conv(rng, dilation=1)


def _dilated_conv(rng):
    inp = _conv(rng, dilation=2)
    if inp["w"].shape[2] == 1:  # a 1x1 filter does not show dilation: use 3x3
        return _dilated_conv(rng)
    return inp


def _pool(rng):
    pool, stride = [(2, 2), (3, 1), (3, 2), (2, 1)][int(rng.integers(0, 4))]
    N, C, H, W = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(4, 9)), int(rng.integers(4, 9))
    x = rng.standard_normal((N, C, H, W))
    Ho, Wo = (H - pool) // stride + 1, (W - pool) // stride + 1
    return {"x": x, "pool": pool, "stride": stride, "dout": rng.standard_normal((N, C, Ho, Wo))}


def _transpose(rng):
    N, C_in, C_out, k = (
        int(rng.integers(1, 3)),
        int(rng.integers(1, 4)),
        int(rng.integers(1, 4)),
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
    c_in = int(rng.integers(1, 4))
    c_out = c_in if rng.random() < 0.5 else c_in + 1
    N, H = int(rng.integers(1, 3)), int(rng.integers(3, 6))
    inp = {
        "x": rng.standard_normal((N, c_in, H, H)),
        "dout": rng.standard_normal((N, c_out, H, H)),
        "p_W1": 0.5 * rng.standard_normal((c_out, c_in, 3, 3)),
        "p_b1": 0.1 * rng.standard_normal(c_out),
        "p_W2": 0.5 * rng.standard_normal((c_out, c_out, 3, 3)),
        "p_b2": 0.1 * rng.standard_normal(c_out),
    }
    if c_out != c_in:
        inp.update(p_Ws=0.5 * rng.standard_normal((c_out, c_in, 1, 1)), p_bs=0.1 * rng.standard_normal(c_out))
    return inp


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


def _accuracy(student: dict, reference: dict, inp: dict) -> tuple[float, str]:
    y_val = _digits_split()[3]  # the labels never enter the sandbox
    pred = np.asarray(student.get("pred", []))
    if pred.shape != y_val.shape:
        return 0.0, f"pred: shape {pred.shape}, expected {y_val.shape}"
    acc = float(np.mean(pred == y_val))
    if acc >= TARGET_ACCURACY:
        return 1.0, "ok"
    return 0.0, f"validation accuracy {acc:.1%} after training, below the target {TARGET_ACCURACY:.0%}"


# deepkit modules of earlier topics that these parts also call (graded as part of this topic)
READS = ("layers", "losses")

PARTS = (
    Part(
        "conv_output_size",
        1,
        "conv_output_size",
        _sizes,
        seeds=2,
        description="(N - F + 2P) / S + 1 with dilation, refusing sizes that are not integers",
    ),
    Part(
        "receptive_field",
        1,
        "receptive_field",
        _fields,
        seeds=2,
        description="receptive field of a stack of layers with strides and dilations",
    ),
    Part("im2col", 1, "im2col", _conv, description="every receptive field as a row, (C, kh, kw) order"),
    Part(
        "conv2d_forward",
        2,
        "conv2d_forward",
        _plain_conv,
        seeds=4,
        description="conv2d forward with stride and zero padding",
    ),
    Part(
        "conv2d_backward",
        3,
        "conv2d_backward",
        _plain_conv,
        seeds=4,
        grads=("dx", "dw", "db"),
        description="conv2d backward: dx, dw, db from your own cache",
    ),
    Part(
        "dilated_conv",
        1,
        "dilated_conv",
        _dilated_conv,
        grads=("dx", "dw"),
        description="dilated convolution forward and backward",
    ),
    Part("maxpool_forward", 1, "maxpool_forward", _pool, seeds=4, description="max pooling forward"),
    Part(
        "maxpool_backward",
        2,
        "maxpool_backward",
        _pool,
        seeds=4,
        grads=("dx",),
        description="max pooling backward (gradient to the first maximum, overlaps add up)",
    ),
    Part("avgpool", 1, "avgpool", _pool, grads=("dx",), description="average pooling forward and backward"),
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
        description="residual block forward, identity or 1x1-projection skip",
    ),
    Part(
        "residual_block_backward",
        2,
        "residual_block_backward",
        _block,
        seeds=4,
        grads=("dx", "dW1", "db1", "dW2", "db2", "dWs", "dbs"),
        description="residual block backward, including the skip path",
    ),
    Part(
        "small_cnn_loss",
        2,
        "small_cnn_loss",
        _cnn,
        grads=("dW1", "db1", "dW2", "db2"),
        description="small CNN loss and gradients (conv, ReLU, max-pool, affine, softmax)",
    ),
    Part(
        "cnn_digits",
        2,
        "cnn_digits",
        _digits,
        seeds=1,
        compare=_accuracy,
        timeout=120.0,
        description=f"your small CNN trained on digits reaches {TARGET_ACCURACY:.0%} validation accuracy",
    ),
)
