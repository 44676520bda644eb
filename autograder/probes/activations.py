"""Probes for topic 02 (activations): run INSIDE the sandbox against the student's deepkit.

Each probe takes ``dk`` (the imported deepkit package) and the seeded inputs, and returns plain arrays.
Backward probes chain through the student's own forward cache. Imports: numpy and the stdlib only.
"""

import numpy as np


def _f(a):
    return np.asarray(a, dtype=np.float64)


def _forward_only(fwd, x, *args):
    out, _ = fwd(x, *args)
    return _f(out)


def _chain(fwd, bwd, x, dout, *args):
    _, cache = fwd(x, *args)
    return _f(bwd(dout, cache))


def sigmoid_tanh_forward(dk, inp):
    a = dk.activations
    return {
        "sigmoid": _forward_only(a.sigmoid_forward, inp["x"]),
        "sigmoid_extreme": _forward_only(a.sigmoid_forward, inp["x_extreme"]),
        "tanh": _forward_only(a.tanh_forward, inp["x"]),
    }


def sigmoid_backward(dk, inp):
    a = dk.activations
    return {"dx": _chain(a.sigmoid_forward, a.sigmoid_backward, inp["x"], inp["dout"])}


def tanh_backward(dk, inp):
    a = dk.activations
    return {"dx": _chain(a.tanh_forward, a.tanh_backward, inp["x"], inp["dout"])}


def leaky_relu_forward(dk, inp):
    a = dk.activations
    return {
        "out_default": _forward_only(a.leaky_relu_forward, inp["x"]),
        "out_slope": _forward_only(a.leaky_relu_forward, inp["x"], float(inp["slope"])),
    }


def leaky_relu_backward(dk, inp):
    a = dk.activations
    return {
        "dx_default": _chain(a.leaky_relu_forward, a.leaky_relu_backward, inp["x"], inp["dout"]),
        "dx_slope": _chain(a.leaky_relu_forward, a.leaky_relu_backward, inp["x"], inp["dout"], float(inp["slope"])),
    }


def _prelu_cases(inp):
    """(name, x, alpha, dout): a scalar alpha, a per-feature alpha (N, C), a per-channel alpha (N, C, H, W)."""
    return [
        ("scalar", inp["x4"], float(inp["alpha_s"]), inp["dout4"]),
        ("feature", inp["x2"], inp["alpha2"], inp["dout2"]),
        ("channel", inp["x4"], inp["alpha4"], inp["dout4"]),
    ]


def prelu_forward(dk, inp):
    a = dk.activations
    return {f"out_{name}": _forward_only(a.prelu_forward, x, al) for name, x, al, _ in _prelu_cases(inp)}


def _prelu_grads(dk, inp):
    a = dk.activations
    res = {}
    for name, x, al, dout in _prelu_cases(inp):
        _, cache = a.prelu_forward(x, al)
        dx, dalpha = a.prelu_backward(dout, cache)
        dalpha = _f(dalpha)
        if np.ndim(al) == 0 and dalpha.size == 1:
            dalpha = dalpha.reshape(())
        res[f"dx_{name}"], res[f"dalpha_{name}"] = _f(dx), dalpha
    return res


def prelu_backward(dk, inp):
    return {k: v for k, v in _prelu_grads(dk, inp).items() if k.startswith("dx_")}


def prelu_dalpha(dk, inp):
    return {k: v for k, v in _prelu_grads(dk, inp).items() if k.startswith("dalpha_")}


def elu_forward(dk, inp):
    a = dk.activations
    return {
        "out_default": _forward_only(a.elu_forward, inp["x"]),
        "out_alpha": _forward_only(a.elu_forward, inp["x"], float(inp["alpha"])),
    }


def elu_backward(dk, inp):
    a = dk.activations
    return {
        "dx_default": _chain(a.elu_forward, a.elu_backward, inp["x"], inp["dout"]),
        "dx_alpha": _chain(a.elu_forward, a.elu_backward, inp["x"], inp["dout"], float(inp["alpha"])),
    }


def selu_forward(dk, inp):
    return {"out": _forward_only(dk.activations.selu_forward, inp["x"])}


def selu_backward(dk, inp):
    a = dk.activations
    return {"dx": _chain(a.selu_forward, a.selu_backward, inp["x"], inp["dout"])}


def maxout_forward(dk, inp):
    out, _ = dk.activations.maxout_forward(inp["x"], inp["W"], inp["b"])
    return {"out": _f(out)}


def maxout_backward(dk, inp):
    a = dk.activations
    _, cache = a.maxout_forward(inp["x"], inp["W"], inp["b"])
    dx, dW, db = a.maxout_backward(inp["dout"], cache)
    return {"dx": _f(dx), "dW": _f(dW), "db": _f(db)}
