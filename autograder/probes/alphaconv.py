"""Probes for topic 06 (the alpha-conv). Run inside the sandbox on the student's deepkit and in the trusted
process on the reference; import only numpy and the stdlib."""

import numpy as np


def _returns(result, n, what):
    """The student's return value as an n-tuple, or an error that says what the function must return."""
    if not isinstance(result, (tuple, list)) or len(result) != n:
        got = type(result).__name__ + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        raise TypeError(f"{what} (got a {got})")
    return tuple(result)


def _penalty(dk, name, *args, **kw):
    value, dc = _returns(getattr(dk.alphaconv, name)(*args, **kw), 2, f"{name} must return a pair (value, dc)")
    return np.asarray(value, dtype=np.float64), np.asarray(dc)


def mixing_weights(dk, inp):
    return {"alpha": np.asarray(dk.alphaconv.mixing_weights(inp["c"], float(inp["T"])))}


def softmax_jvp(dk, inp):
    return {"dc": np.asarray(dk.alphaconv.softmax_jvp(inp["alpha"], inp["dalpha"]))}


def _forward(dk, inp):
    result = dk.alphaconv.alphaconv_forward(inp["x"], inp["k"], inp["c"], inp["b"], temperature=float(inp["T"]))
    return _returns(result, 2, "alphaconv_forward must return a pair (z, cache)")


def alphaconv_forward(dk, inp):
    z, _ = _forward(dk, inp)
    return {"z": np.asarray(z)}


def alphaconv_backward(dk, inp):
    _, cache = _forward(dk, inp)
    grads = _returns(
        dk.alphaconv.alphaconv_backward(inp["dz"], cache), 4, "alphaconv_backward must return (dx, dk, dc, db)"
    )
    return {name: np.asarray(g) for name, g in zip(("dx", "dk", "dc", "db"), grads)}


def l1_alpha_penalty(dk, inp):
    """The slides' penalty (every connection weighted 1), then unequal weights per connection."""
    lam, T = float(inp["lam"]), float(inp["T"])
    value, dc = _penalty(dk, "l1_alpha_penalty", inp["c"], lam, T)
    value_w, dc_w = _penalty(dk, "l1_alpha_penalty", inp["c"], lam, T, weights=inp["weights"])
    return {"value": value, "dc": dc, "value_weighted": value_w, "dc_weighted": dc_w}


def sparsity_penalty(dk, inp):
    lam, T = float(inp["lam"]), float(inp["T"])
    ev, edc = _penalty(dk, "entropy_penalty", inp["c"], lam, T)
    lv, ldc = _penalty(dk, "lp_penalty", inp["c"], lam, float(inp["p"]), T)
    return {"entropy": ev, "dc_entropy": edc, "lp": lv, "dc_lp": ldc}
