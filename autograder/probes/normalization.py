"""Probes for topic 04 (normalization). Run inside the sandbox against the student's deepkit and in the trusted
process against the reference, on the same inputs. numpy and the stdlib only.
"""

import numpy as np


def _bn_param(inp, mode="train"):
    return {
        "mode": mode,
        "eps": float(inp["eps"]),
        "momentum": float(inp["momentum"]),
        "running_mean": np.array(inp["running_mean"], dtype=np.float64),
        "running_var": np.array(inp["running_var"], dtype=np.float64),
    }


def bn_forward(dk, inp):
    """Train-mode output only (running statistics are graded in bn_running_eval)."""
    out, _ = dk.norm.batchnorm_forward(inp["x"], inp["gamma"], inp["beta"], _bn_param(inp))
    return {"out": np.asarray(out)}


def bn_running_eval(dk, inp):
    """Several train steps on different batches, then eval mode on new data (eval must not move the stats)."""
    p = _bn_param(inp)
    for k in range(inp["batches"].shape[0]):
        p["mode"] = "train"
        dk.norm.batchnorm_forward(inp["batches"][k], inp["gamma"], inp["beta"], p)
    rm, rv = np.array(p["running_mean"], dtype=np.float64), np.array(p["running_var"], dtype=np.float64)
    p["mode"] = "eval"
    out, _ = dk.norm.batchnorm_forward(inp["x"], inp["gamma"], inp["beta"], p)
    return {
        "running_mean": rm,
        "running_var": rv,
        "eval_out": np.asarray(out),
        "running_mean_after_eval": np.asarray(p["running_mean"]),
        "running_var_after_eval": np.asarray(p["running_var"]),
    }


def _bn_backward(dk, inp, fn):
    _, cache = dk.norm.batchnorm_forward(inp["x"], inp["gamma"], inp["beta"], _bn_param(inp))
    dx, dgamma, dbeta = getattr(dk.norm, fn)(inp["dout"], cache)
    return {"dx": np.asarray(dx), "dgamma": np.asarray(dgamma), "dbeta": np.asarray(dbeta)}


def bn_backward(dk, inp):
    return _bn_backward(dk, inp, "batchnorm_backward")


def bn_backward_alt(dk, inp):
    return _bn_backward(dk, inp, "batchnorm_backward_alt")


def spatial_bn_forward(dk, inp):
    """Train-mode output, plus eval mode with the given (not updated) running statistics."""
    out, _ = dk.norm.spatial_batchnorm_forward(inp["x"], inp["gamma"], inp["beta"], _bn_param(inp))
    out_eval, _ = dk.norm.spatial_batchnorm_forward(inp["x"], inp["gamma"], inp["beta"], _bn_param(inp, "eval"))
    return {"out": np.asarray(out), "eval_out": np.asarray(out_eval)}


def spatial_bn_backward(dk, inp):
    _, cache = dk.norm.spatial_batchnorm_forward(inp["x"], inp["gamma"], inp["beta"], _bn_param(inp))
    dx, dgamma, dbeta = dk.norm.spatial_batchnorm_backward(inp["dout"], cache)
    return {"dx": np.asarray(dx), "dgamma": np.asarray(dgamma), "dbeta": np.asarray(dbeta)}


def ln_forward(dk, inp):
    out, _ = dk.norm.layernorm_forward(inp["x"], inp["gamma"], inp["beta"], {"eps": float(inp["eps"])})
    return {"out": np.asarray(out)}


def ln_backward(dk, inp):
    _, cache = dk.norm.layernorm_forward(inp["x"], inp["gamma"], inp["beta"], {"eps": float(inp["eps"])})
    dx, dgamma, dbeta = dk.norm.layernorm_backward(inp["dout"], cache)
    return {"dx": np.asarray(dx), "dgamma": np.asarray(dgamma), "dbeta": np.asarray(dbeta)}


def bn_fold(dk, inp):
    w, b = dk.norm.fold_batchnorm(
        inp["w"], inp["b"], inp["gamma"], inp["beta"], inp["running_mean"], inp["running_var"], float(inp["eps"])
    )
    return {"w_folded": np.asarray(w), "b_folded": np.asarray(b)}
