"""Probes for topic 08 (convolution, pooling, transposed convolution, residual block, small CNN). Run inside
the sandbox on the student's deepkit and in the trusted process on the reference; numpy and stdlib only.

Edge cases every case carries: a convolution with stride = kernel (non-overlapping patches), pooling with the
default stride (= pool) and pooling of small integers, where windows hold several equal maxima (ties)."""

import numpy as np


def _pair(result, name, what):
    """(out, cache) from what a forward returned, or a TypeError that says what it must return."""
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        got = f"{type(result).__name__} of length {len(result)}" if isinstance(result, (tuple, list)) else None
        raise TypeError(f"{name} must return {what}, got {got or type(result).__name__}")
    return result


def _triple(result, name, what):
    if not (isinstance(result, (tuple, list)) and len(result) == 3):
        got = f"{type(result).__name__} of length {len(result)}" if isinstance(result, (tuple, list)) else None
        raise TypeError(f"{name} must return {what}, got {got or type(result).__name__}")
    return result


def conv_output_size(dk, inp):
    """Every case with strict=True (a size that is not an integer is refused) and strict=False (floored)."""
    out = {}
    for key, strict in (("sizes", True), ("sizes_floored", False)):
        sizes = []
        for n, f, p, s, d in inp["cases"]:
            try:
                sizes.append(int(dk.conv.conv_output_size(int(n), int(f), int(p), int(s), int(d), strict=strict)))
            except ValueError:
                sizes.append(-1)  # refused: not an integer (strict only), or the filter does not fit
        out[key] = np.array(sizes, dtype=np.float64)
    return out


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


def _forward(dk, inp, **override):
    hp = dict(zip(("stride", "pad", "dilation"), _hp(inp)), **override)
    return _pair(dk.conv.conv2d_forward(inp["x"], inp["w"], inp["b"], **hp), "conv2d_forward", "(out, cache)")


def conv2d_forward(dk, inp):
    out, _ = _forward(dk, inp)
    k = inp["w"].shape[2]
    patches, _ = _forward(dk, inp, stride=k, pad=0, dilation=1)  # stride = kernel: non-overlapping patches
    one, _ = _pair(
        dk.conv.conv2d_forward(inp["x"], inp["w"][:, :, :1, :1].copy(), inp["b"]), "conv2d_forward", "(out, cache)"
    )  # a 1x1 convolution: channel mixing at every pixel
    return {"out": np.asarray(out), "out_patches": np.asarray(patches), "out_1x1": np.asarray(one)}


def conv2d_backward(dk, inp):
    _, cache = _forward(dk, inp)
    dx, dw, db = _triple(dk.conv.conv2d_backward(inp["dout"], cache), "conv2d_backward", "(dx, dw, db)")
    return {"dx": np.asarray(dx), "dw": np.asarray(dw), "db": np.asarray(db)}


def dilated_conv(dk, inp):
    out, cache = _forward(dk, inp)
    dx, dw, db = _triple(dk.conv.conv2d_backward(inp["dout"], cache), "conv2d_backward", "(dx, dw, db)")
    return {"out": np.asarray(out), "dx": np.asarray(dx), "dw": np.asarray(dw)}


def _pool_pair(dk, kind, x, inp, default_stride=False):
    """``<kind>pool_forward(x, pool, stride)``, or with the stride left at its default (= pool)."""
    fn = getattr(dk.pool, f"{kind}pool_forward")
    args = (x, int(inp["pool"])) if default_stride else (x, int(inp["pool"]), int(inp["stride"]))
    return _pair(fn(*args), f"{kind}pool_forward", "(out, cache)")


def maxpool_forward(dk, inp):
    return {
        "out": np.asarray(_pool_pair(dk, "max", inp["x"], inp)[0]),
        "out_ties": np.asarray(_pool_pair(dk, "max", inp["x_ties"], inp)[0]),
        "out_default": np.asarray(_pool_pair(dk, "max", inp["x"], inp, default_stride=True)[0]),
    }


def maxpool_backward(dk, inp):
    b = dk.pool.maxpool_backward
    return {
        "dx": np.asarray(b(inp["dout"], _pool_pair(dk, "max", inp["x"], inp)[1])),
        "dx_ties": np.asarray(b(inp["dout"], _pool_pair(dk, "max", inp["x_ties"], inp)[1])),
        "dx_default": np.asarray(b(inp["dout_default"], _pool_pair(dk, "max", inp["x"], inp, default_stride=True)[1])),
    }


def avgpool(dk, inp):
    b = dk.pool.avgpool_backward
    out, cache = _pool_pair(dk, "avg", inp["x"], inp)
    out_d, cache_d = _pool_pair(dk, "avg", inp["x"], inp, default_stride=True)
    return {
        "out": np.asarray(out),
        "dx": np.asarray(b(inp["dout"], cache)),
        "out_default": np.asarray(out_d),
        "dx_default": np.asarray(b(inp["dout_default"], cache_d)),
    }


def conv_transpose2d(dk, inp):
    out, cache = _pair(
        dk.conv.conv_transpose2d_forward(inp["x"], inp["w"], inp["b"], int(inp["stride"]), int(inp["pad"])),
        "conv_transpose2d_forward",
        "(out, cache)",
    )
    dx, dw, db = _triple(
        dk.conv.conv_transpose2d_backward(inp["dout"], cache), "conv_transpose2d_backward", "(dx, dw, db)"
    )
    return {"out": np.asarray(out), "dx": np.asarray(dx), "dw": np.asarray(dw), "db": np.asarray(db)}


def _block_params(inp, prefix="p_"):
    return {k[len(prefix) :]: v for k, v in inp.items() if k.startswith(prefix)}


def _blocks(inp):
    """(tag, x, params, dout) of the case's two blocks: with a 1x1 projection skip and with an identity skip."""
    return (
        ("", inp["x"], _block_params(inp, "p_"), inp["dout"]),
        ("_identity", inp["x_identity"], _block_params(inp, "i_"), inp["dout_identity"]),
    )


def residual_block_forward(dk, inp):
    out = {}
    for tag, x, params, _ in _blocks(inp):
        y, _ = _pair(dk.blocks.residual_block_forward(x, params), "residual_block_forward", "(out, cache)")
        out["out" + tag] = np.asarray(y)
    return out


def residual_block_backward(dk, inp):
    out = {}
    for tag, x, params, dout in _blocks(inp):
        _, cache = _pair(dk.blocks.residual_block_forward(x, params), "residual_block_forward", "(out, cache)")
        dx, grads = _pair(dk.blocks.residual_block_backward(dout, cache), "residual_block_backward", "(dx, grads)")
        if not isinstance(grads, dict):
            raise TypeError(
                f"residual_block_backward must return (dx, grads) with grads a dict, got {type(grads).__name__}"
            )
        out["dx" + tag] = np.asarray(dx)
        out.update({f"d{k}{tag}": np.asarray(grads[k]) for k in params})
    return out


def small_cnn_loss(dk, inp):
    params = _block_params(inp)
    loss, grads = _pair(
        dk.blocks.small_cnn_loss(params, inp["X"], inp["y"], reg=float(inp["reg"])), "small_cnn_loss", "(loss, grads)"
    )
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
