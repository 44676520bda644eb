"""Probes for topic 08 (convolution, pooling, transposed convolution, residual block, small CNN). Run inside
the sandbox on the student's deepkit and in the trusted process on the reference; numpy and stdlib only."""

import numpy as np


def conv_output_size(dk, inp):
    sizes = []
    for n, f, p, s, d in inp["cases"]:
        try:
            sizes.append(int(dk.conv.conv_output_size(int(n), int(f), int(p), int(s), int(d), strict=True)))
        except ValueError:
            sizes.append(-1)  # refused: not an integer, or the filter does not fit
    return {"sizes": np.array(sizes, dtype=np.float64)}


def receptive_field(dk, inp):
    r = [
        dk.conv.receptive_field([int(v) for v in k], [int(v) for v in s], [int(v) for v in d])
        for k, s, d in zip(inp["kernels"], inp["strides"], inp["dilations"])
    ]
    return {"r": np.array(r, dtype=np.float64)}


def _hp(inp):
    return int(inp["stride"]), int(inp["pad"]), int(inp["dilation"])


def im2col(dk, inp):
    s, p, d = _hp(inp)
    kh, kw = inp["w"].shape[2:]
    return {"cols": np.asarray(dk.conv.im2col(inp["x"], kh, kw, s, p, d))}


def conv2d_forward(dk, inp):
    out, _ = dk.conv.conv2d_forward(inp["x"], inp["w"], inp["b"], *_hp(inp))
    return {"out": np.asarray(out)}


def conv2d_backward(dk, inp):
    _, cache = dk.conv.conv2d_forward(inp["x"], inp["w"], inp["b"], *_hp(inp))
    dx, dw, db = dk.conv.conv2d_backward(inp["dout"], cache)
    return {"dx": np.asarray(dx), "dw": np.asarray(dw), "db": np.asarray(db)}


def dilated_conv(dk, inp):
    out, cache = dk.conv.conv2d_forward(inp["x"], inp["w"], inp["b"], *_hp(inp))
    dx, dw, db = dk.conv.conv2d_backward(inp["dout"], cache)
    return {"out": np.asarray(out), "dx": np.asarray(dx), "dw": np.asarray(dw)}


def maxpool_forward(dk, inp):
    out, _ = dk.pool.maxpool_forward(inp["x"], int(inp["pool"]), int(inp["stride"]))
    return {"out": np.asarray(out)}


def maxpool_backward(dk, inp):
    _, cache = dk.pool.maxpool_forward(inp["x"], int(inp["pool"]), int(inp["stride"]))
    return {"dx": np.asarray(dk.pool.maxpool_backward(inp["dout"], cache))}


def avgpool(dk, inp):
    out, cache = dk.pool.avgpool_forward(inp["x"], int(inp["pool"]), int(inp["stride"]))
    return {"out": np.asarray(out), "dx": np.asarray(dk.pool.avgpool_backward(inp["dout"], cache))}


def conv_transpose2d(dk, inp):
    out, cache = dk.conv.conv_transpose2d_forward(inp["x"], inp["w"], inp["b"], int(inp["stride"]), int(inp["pad"]))
    dx, dw, db = dk.conv.conv_transpose2d_backward(inp["dout"], cache)
    return {"out": np.asarray(out), "dx": np.asarray(dx), "dw": np.asarray(dw), "db": np.asarray(db)}


def _block_params(inp):
    return {k[2:]: v for k, v in inp.items() if k.startswith("p_")}


def residual_block_forward(dk, inp):
    out, _ = dk.blocks.residual_block_forward(inp["x"], _block_params(inp))
    return {"out": np.asarray(out)}


def residual_block_backward(dk, inp):
    params = _block_params(inp)
    _, cache = dk.blocks.residual_block_forward(inp["x"], params)
    dx, grads = dk.blocks.residual_block_backward(inp["dout"], cache)
    out = {"dx": np.asarray(dx)}
    out.update({f"d{k}": np.asarray(grads[k]) for k in params})
    return out


def small_cnn_loss(dk, inp):
    params = _block_params(inp)
    loss, grads = dk.blocks.small_cnn_loss(params, inp["X"], inp["y"], reg=float(inp["reg"]))
    out = {"loss": np.asarray(loss, dtype=np.float64)}
    out.update({f"d{k}": np.asarray(grads[k]) for k in params})
    return out


def cnn_digits(dk, inp):
    """Train the student's small CNN with plain minibatch SGD; return its predictions on held-out digits."""
    rng = np.random.default_rng(int(inp["seed"]))
    params = dk.blocks.init_small_cnn((1, 8, 8), 8, 10, rng=rng)
    X, y = inp["X_train"], inp["y_train"]
    for _ in range(int(inp["epochs"])):
        order = rng.permutation(len(y))
        for s in range(0, len(y), 32):
            idx = order[s : s + 32]
            _, grads = dk.blocks.small_cnn_loss(params, X[idx], y[idx], reg=1e-4)
            for k in params:
                params[k] = params[k] - float(inp["lr"]) * grads[k]
    scores = dk.blocks.small_cnn_loss(params, inp["X_val"])
    return {"pred": np.asarray(scores).argmax(axis=1).astype(np.float64)}
