"""Probes for topic 04 (normalization). Run inside the sandbox against the student's deepkit and in the trusted
process against the reference, on the same inputs. numpy and the stdlib only.

Every case also exercises what a docstring promises at the edges: eval mode (forward AND backward: the running
statistics are constants), one example in eval mode, momentum 0 and 1.
"""

import numpy as np


def _returns(result, n, what):
    """The student's return value as an n-tuple, or an error that says what the function must return."""
    if not isinstance(result, (tuple, list)) or len(result) != n:
        got = type(result).__name__ + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        raise TypeError(f"{what} (got a {got})")
    return tuple(result)


def _forward(dk, fn, *args):
    return _returns(getattr(dk.norm, fn)(*args), 2, f"{fn} must return a pair (out, cache)")


def _backward(dk, fn, dout, cache):
    return _returns(getattr(dk.norm, fn)(dout, cache), 3, f"{fn} must return a triple (dx, dgamma, dbeta)")


def _bn_param(inp, mode="train", momentum=None):
    return {
        "mode": mode,
        "eps": float(inp["eps"]),
        "momentum": float(inp["momentum"] if momentum is None else momentum),
        "running_mean": np.array(inp["running_mean"], dtype=np.float64),
        "running_var": np.array(inp["running_var"], dtype=np.float64),
    }


def bn_forward(dk, inp):
    """Train-mode output only (running statistics are graded in bn_running_eval)."""
    out, _ = _forward(dk, "batchnorm_forward", inp["x"], inp["gamma"], inp["beta"], _bn_param(inp))
    return {"out": np.asarray(out)}


def bn_running_eval(dk, inp):
    """Several train steps on different batches, then eval mode on new data and on one example (eval must not
    move the statistics); and one train step with momentum 0 (statistics stay) and with momentum 1 (they become
    the batch's)."""
    p = _bn_param(inp)
    for k in range(inp["batches"].shape[0]):
        p["mode"] = "train"
        _forward(dk, "batchnorm_forward", inp["batches"][k], inp["gamma"], inp["beta"], p)
    rm, rv = np.array(p["running_mean"], dtype=np.float64), np.array(p["running_var"], dtype=np.float64)
    p["mode"] = "eval"
    out, _ = _forward(dk, "batchnorm_forward", inp["x"], inp["gamma"], inp["beta"], p)
    result = {
        "running_mean": rm,
        "running_var": rv,
        "eval_out": np.asarray(out),
        "running_mean_after_eval": np.array(p["running_mean"], dtype=np.float64),
        "running_var_after_eval": np.array(p["running_var"], dtype=np.float64),
    }
    one, _ = _forward(dk, "batchnorm_forward", inp["x"][:1], inp["gamma"], inp["beta"], p)
    result["eval_out_one_example"] = np.asarray(one)
    for momentum in (0.0, 1.0):
        q = _bn_param(inp, momentum=momentum)
        _forward(dk, "batchnorm_forward", inp["batches"][0], inp["gamma"], inp["beta"], q)
        result[f"running_mean_momentum_{momentum:g}"] = np.asarray(q["running_mean"])
        result[f"running_var_momentum_{momentum:g}"] = np.asarray(q["running_var"])
    return result


def _bn_backward(dk, inp, fn, forward="batchnorm_forward"):
    """Train mode, then eval mode with the given running statistics (constants: no mean or variance path)."""
    result = {}
    for mode, tag in (("train", ""), ("eval", "_eval")):
        _, cache = _forward(dk, forward, inp["x"], inp["gamma"], inp["beta"], _bn_param(inp, mode))
        dx, dgamma, dbeta = _backward(dk, fn, inp["dout"], cache)
        result.update(
            {f"dx{tag}": np.asarray(dx), f"dgamma{tag}": np.asarray(dgamma), f"dbeta{tag}": np.asarray(dbeta)}
        )
    return result


def bn_backward(dk, inp):
    return _bn_backward(dk, inp, "batchnorm_backward")


def bn_backward_alt(dk, inp):
    return _bn_backward(dk, inp, "batchnorm_backward_alt")


def spatial_bn_forward(dk, inp):
    """Train-mode output, plus eval mode with the given (not updated) running statistics."""
    fn = "spatial_batchnorm_forward"
    out, _ = _forward(dk, fn, inp["x"], inp["gamma"], inp["beta"], _bn_param(inp))
    out_eval, _ = _forward(dk, fn, inp["x"], inp["gamma"], inp["beta"], _bn_param(inp, "eval"))
    return {"out": np.asarray(out), "eval_out": np.asarray(out_eval)}


def spatial_bn_backward(dk, inp):
    return _bn_backward(dk, inp, "spatial_batchnorm_backward", "spatial_batchnorm_forward")


def ln_forward(dk, inp):
    out, _ = _forward(dk, "layernorm_forward", inp["x"], inp["gamma"], inp["beta"], {"eps": float(inp["eps"])})
    return {"out": np.asarray(out)}


def ln_backward(dk, inp):
    _, cache = _forward(dk, "layernorm_forward", inp["x"], inp["gamma"], inp["beta"], {"eps": float(inp["eps"])})
    dx, dgamma, dbeta = _backward(dk, "layernorm_backward", inp["dout"], cache)
    return {"dx": np.asarray(dx), "dgamma": np.asarray(dgamma), "dbeta": np.asarray(dbeta)}


def bn_fold(dk, inp):
    args = (inp["w"], inp["b"], inp["gamma"], inp["beta"], inp["running_mean"], inp["running_var"], float(inp["eps"]))
    w, b = _returns(dk.norm.fold_batchnorm(*args), 2, "fold_batchnorm must return a pair (w_folded, b_folded)")
    return {"w_folded": np.asarray(w), "b_folded": np.asarray(b)}
