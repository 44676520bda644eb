"""Probes for topic 01 (softmax, cross-entropy, backprop). Run inside the sandbox on the student's deepkit and
in the trusted process on the reference; import only numpy and the stdlib.

A function that returns the wrong structure (a forward without its cache, a loss without its gradient, a
backward with too few gradients) raises a TypeError that says what it must return.
"""

import numpy as np


def _returns(result, fn: str, names: tuple):
    """``result`` unpacked as the tuple ``names`` that ``fn`` must return, or a TypeError that says so."""
    if isinstance(result, (tuple, list)) and len(result) == len(names):
        return result
    shape = f"a {type(result).__name__}"
    if isinstance(result, (tuple, list)):
        shape += f" of {len(result)} items"
    raise TypeError(f"{fn} must return a tuple ({', '.join(names)}); it returned {shape}")


def _array(result, fn: str, what: str):
    """``result`` as the single array ``fn`` must return, or a TypeError that says so."""
    if isinstance(result, (tuple, list)):
        raise TypeError(f"{fn} must return {what} alone (an array), not a {type(result).__name__}")
    return np.asarray(result)


def _scalar(result, fn: str):
    """A loss as a float64 0-d array, or a TypeError saying a loss is one number."""
    value = np.asarray(result, dtype=np.float64)
    if value.size != 1:
        raise TypeError(f"{fn} must return the loss as one number (the mean over the batch), got shape {value.shape}")
    return value.reshape(())


def _affine(dk, x, w, b):
    return _returns(dk.layers.affine_forward(x, w, b), "affine_forward", ("out", "cache"))


def affine_forward(dk, inp):
    return {
        "out": np.asarray(_affine(dk, inp["x"], inp["w"], inp["b"])[0]),
        "out_single": np.asarray(_affine(dk, inp["x1"], inp["w"], inp["b"])[0]),
    }


def _affine_grads(dk, x, w, b, dout):
    _, cache = _affine(dk, x, w, b)
    dx, dw, db = _returns(dk.layers.affine_backward(dout, cache), "affine_backward", ("dx", "dw", "db"))
    return np.asarray(dx), np.asarray(dw), np.asarray(db)


def affine_backward(dk, inp):
    dx, dw, db = _affine_grads(dk, inp["x"], inp["w"], inp["b"], inp["dout"])
    dx1, dw1, db1 = _affine_grads(dk, inp["x1"], inp["w"], inp["b"], inp["dout1"])
    return {"dx": dx, "dw": dw, "db": db, "dx_single": dx1, "dw_single": dw1, "db_single": db1}


def _relu(dk, x):
    return _returns(dk.layers.relu_forward(x), "relu_forward", ("out", "cache"))


def relu_forward(dk, inp):
    return {"out": np.asarray(_relu(dk, inp["x"])[0])}


def relu_backward(dk, inp):
    _, cache = _relu(dk, inp["x"])
    return {"dx": _array(dk.layers.relu_backward(inp["dout"], cache), "relu_backward", "dx")}


def softmax(dk, inp):
    f = dk.losses.softmax
    return {"p": _array(f(inp["z"]), "softmax", "p"), "p_row": _array(f(inp["z"][2]), "softmax", "p")}


def log_softmax(dk, inp):
    f = dk.losses.log_softmax
    return {
        "logp": _array(f(inp["z"]), "log_softmax", "logp"),
        "logp_row": _array(f(inp["z"][2]), "log_softmax", "logp"),
    }


def cross_entropy(dk, inp):
    f = dk.losses.cross_entropy
    return {
        "loss": _scalar(f(inp["probs"], inp["y"]), "cross_entropy"),
        "loss_zero": _scalar(f(inp["probs_zero"], inp["y"]), "cross_entropy"),
    }


def _loss_grad(result, fn):
    loss, dscores = _returns(result, fn, ("loss", "dscores"))
    return _scalar(loss, fn), np.asarray(dscores)


def softmax_loss(dk, inp):
    loss, dscores = _loss_grad(dk.losses.softmax_loss(inp["scores"], inp["y"]), "softmax_loss")
    loss1, dscores1 = _loss_grad(dk.losses.softmax_loss(inp["scores"][:1], inp["y"][:1]), "softmax_loss")
    return {"loss": loss, "dscores": dscores, "loss_single": loss1, "dscores_single": dscores1}


def smoothed_softmax_loss(dk, inp):
    """The loss and gradient for eps = 0, a random eps and eps = 1 (the two ends of the range)."""
    out = {}
    for tag, eps in (("0", 0.0), ("eps", float(inp["eps"])), ("1", 1.0)):
        result = dk.losses.smoothed_softmax_loss(inp["scores"], inp["y"], eps)
        out[f"loss_{tag}"], out[f"dscores_{tag}"] = _loss_grad(result, "smoothed_softmax_loss")
    return out


def two_layer_loss(dk, inp):
    params = {k: inp[k] for k in ("W1", "b1", "W2", "b2")}
    scores = _array(dk.nets.two_layer_loss(dict(params), inp["X"]), "two_layer_loss (with y=None)", "the scores")
    loss, grads = _returns(
        dk.nets.two_layer_loss(dict(params), inp["X"], inp["y"], reg=float(inp["reg"])),
        "two_layer_loss (with labels)",
        ("loss", "grads"),
    )
    if not isinstance(grads, dict) or any(k not in grads for k in ("W1", "b1", "W2", "b2")):
        got = sorted(map(str, grads))[:6] if isinstance(grads, dict) else type(grads).__name__
        raise TypeError(f"two_layer_loss must return grads as a dict with the keys W1, b1, W2, b2; got {got}")
    return {
        "scores": scores,
        "loss": _scalar(loss, "two_layer_loss"),
        **{"d" + k: np.asarray(grads[k]) for k in ("W1", "b1", "W2", "b2")},
    }
