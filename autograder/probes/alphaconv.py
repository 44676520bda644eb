"""Probes for topic 06 (the alpha-conv). Run inside the sandbox on the student's deepkit and in the trusted
process on the reference; import only numpy and the stdlib."""

import numpy as np


def mixing_weights(dk, inp):
    return {"alpha": np.asarray(dk.alphaconv.mixing_weights(inp["c"], float(inp["T"])))}


def softmax_jvp(dk, inp):
    return {"dc": np.asarray(dk.alphaconv.softmax_jvp(inp["alpha"], inp["dalpha"]))}


def alphaconv_forward(dk, inp):
    z, _ = dk.alphaconv.alphaconv_forward(inp["x"], inp["k"], inp["c"], inp["b"], temperature=float(inp["T"]))
    return {"z": np.asarray(z)}


def alphaconv_backward(dk, inp):
    _, cache = dk.alphaconv.alphaconv_forward(inp["x"], inp["k"], inp["c"], inp["b"], temperature=float(inp["T"]))
    dx, dk_, dc, db = dk.alphaconv.alphaconv_backward(inp["dz"], cache)
    return {"dx": np.asarray(dx), "dk": np.asarray(dk_), "dc": np.asarray(dc), "db": np.asarray(db)}


def l1_alpha_penalty(dk, inp):
    value, dc = dk.alphaconv.l1_alpha_penalty(inp["c"], float(inp["lam"]), float(inp["T"]))
    return {"value": np.asarray(value, dtype=np.float64), "dc": np.asarray(dc)}


def sparsity_penalty(dk, inp):
    ev, edc = dk.alphaconv.entropy_penalty(inp["c"], float(inp["lam"]), float(inp["T"]))
    lv, ldc = dk.alphaconv.lp_penalty(inp["c"], float(inp["lam"]), float(inp["p"]), float(inp["T"]))
    return {
        "entropy": np.asarray(ev, dtype=np.float64),
        "dc_entropy": np.asarray(edc),
        "lp": np.asarray(lv, dtype=np.float64),
        "dc_lp": np.asarray(ldc),
    }
