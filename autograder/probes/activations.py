"""Probes for topic 02 (activations): run INSIDE the sandbox against the student's deepkit.

Each probe takes ``dk`` (the imported deepkit package) and the seeded inputs, and returns plain arrays.
Backward probes chain through the student's own forward cache. A function that returns the wrong structure
(a forward without its cache, a backward with too few gradients) raises a TypeError that says what it must
return. Imports: numpy and the stdlib only.
"""

import numpy as np


def _f(a):
    return np.asarray(a, dtype=np.float64)


def _returns(result, fn: str, names: tuple):
    """``result`` unpacked as the tuple ``names`` that ``fn`` must return, or a TypeError that says so."""
    if isinstance(result, (tuple, list)) and len(result) == len(names):
        return result
    shape = f"a {type(result).__name__}"
    if isinstance(result, (tuple, list)):
        shape += f" of {len(result)} items"
    raise TypeError(f"{fn} must return a tuple ({', '.join(names)}); it returned {shape}")


def _array(result, fn: str, what: str = "dx"):
    """``result`` as the single array ``fn`` must return, or a TypeError that says so."""
    if isinstance(result, (tuple, list)):
        raise TypeError(f"{fn} must return {what} alone (an array), not a {type(result).__name__}")
    return _f(result)


def _forward(act, name, x, *args):
    """(out, cache) of ``act.<name>_forward(x, *args)``, checked for structure."""
    fn = f"{name}_forward"
    return _returns(getattr(act, fn)(x, *args), fn, ("out", "cache"))


def _forward_only(act, name, x, *args):
    return _f(_forward(act, name, x, *args)[0])


def _chain(act, name, x, dout, *args):
    """dx of ``<name>_backward`` through the student's own forward cache."""
    _, cache = _forward(act, name, x, *args)
    fn = f"{name}_backward"
    return _array(getattr(act, fn)(dout, cache), fn)


def sigmoid_tanh_forward(dk, inp):
    a = dk.activations
    return {
        "sigmoid": _forward_only(a, "sigmoid", inp["x"]),
        "sigmoid_extreme": _forward_only(a, "sigmoid", inp["x_extreme"]),
        "tanh": _forward_only(a, "tanh", inp["x"]),
        "tanh_extreme": _forward_only(a, "tanh", inp["x_extreme"]),
    }


def sigmoid_backward(dk, inp):
    return {"dx": _chain(dk.activations, "sigmoid", inp["x"], inp["dout"])}


def tanh_backward(dk, inp):
    return {"dx": _chain(dk.activations, "tanh", inp["x"], inp["dout"])}


def leaky_relu_forward(dk, inp):
    a = dk.activations
    return {
        "out_default": _forward_only(a, "leaky_relu", inp["x"]),
        "out_slope": _forward_only(a, "leaky_relu", inp["x"], float(inp["slope"])),
    }


def leaky_relu_backward(dk, inp):
    a = dk.activations
    return {
        "dx_default": _chain(a, "leaky_relu", inp["x"], inp["dout"]),
        "dx_slope": _chain(a, "leaky_relu", inp["x"], inp["dout"], float(inp["slope"])),
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
    return {f"out_{name}": _forward_only(a, "prelu", x, al) for name, x, al, _ in _prelu_cases(inp)}


def _prelu_grads(dk, inp):
    a = dk.activations
    res = {}
    for name, x, al, dout in _prelu_cases(inp):
        _, cache = _forward(a, "prelu", x, al)
        dx, dalpha = _returns(a.prelu_backward(dout, cache), "prelu_backward", ("dx", "dalpha"))
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
        "out_default": _forward_only(a, "elu", inp["x"]),
        "out_alpha": _forward_only(a, "elu", inp["x"], float(inp["alpha"])),
    }


def elu_backward(dk, inp):
    a = dk.activations
    return {
        "dx_default": _chain(a, "elu", inp["x"], inp["dout"]),
        "dx_alpha": _chain(a, "elu", inp["x"], inp["dout"], float(inp["alpha"])),
    }


def selu_forward(dk, inp):
    return {"out": _forward_only(dk.activations, "selu", inp["x"])}


def selu_backward(dk, inp):
    return {"dx": _chain(dk.activations, "selu", inp["x"], inp["dout"])}


def maxout_forward(dk, inp):
    a = dk.activations
    return {
        "out": _forward_only(a, "maxout", inp["x"], inp["W"], inp["b"]),
        "out_ties": _forward_only(a, "maxout", inp["x_tie"], inp["W_tie"], inp["b_tie"]),
    }


def _maxout_grads(a, x, W, b, dout):
    _, cache = _forward(a, "maxout", x, W, b)
    return _returns(a.maxout_backward(dout, cache), "maxout_backward", ("dx", "dW", "db"))


def maxout_backward(dk, inp):
    a = dk.activations
    dx, dW, db = _maxout_grads(a, inp["x"], inp["W"], inp["b"], inp["dout"])
    tx, tW, tb = _maxout_grads(a, inp["x_tie"], inp["W_tie"], inp["b_tie"], inp["dout_tie"])
    return {"dx": _f(dx), "dW": _f(dW), "db": _f(db), "dx_ties": _f(tx), "dW_ties": _f(tW), "db_ties": _f(tb)}
