"""Probes for topic 05 (regularization): run the student's deepkit on the trusted inputs; numpy + stdlib only.

Random layers are probed so that their randomness can be checked without knowing how the student draws it:
the outputs let the trusted side recover the mask (out / x, or the effective weights of DropConnect from a
one-hot-per-row input), and every backward runs through the student's OWN forward cache. Every case also runs
the deterministic edges the docstrings define: eval mode (forward and backward), a drop probability of exactly
0 and of exactly 1 (keep_prob 1 and 0 for DropBlock), on a small slice of the case's input.
"""

import numpy as np


def _rng(inp):
    return np.random.default_rng(int(inp["seed"]))


def _arr(v):
    return np.asarray(v, dtype=np.float64)


def _returns(result, n, what):
    """The student's return value as an n-tuple, or an error that says what the function must return."""
    if not isinstance(result, (tuple, list)) or len(result) != n:
        got = type(result).__name__ + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        raise TypeError(f"{what} (got a {got})")
    return tuple(result)


def _call(dk, module, name, n, what, *args):
    return _returns(getattr(getattr(dk, module), name)(*args), n, f"{name} must return {what}")


def _layer(dk, name, *args):
    """A dropout-family forward: (out, cache)."""
    return _call(dk, "dropout", name, 2, "a pair (out, cache)", *args)


# ------------------------------------------------------------------------------------------- penalties
def _penalty(dk, name, *args):
    value, grad = _call(dk, "regularizers", name, 2, "a pair (value, grad)", *args)
    return _arr(value), _arr(grad)


def l1_penalty(dk, inp):
    v, g = _penalty(dk, "l1_penalty", inp["w"], float(inp["lam"]))
    return {"value": v, "grad": g}


def l2_penalty(dk, inp):
    v, g = _penalty(dk, "l2_penalty", inp["w"], float(inp["lam"]))
    return {"value": v, "grad": g}


def elastic_net_penalty(dk, inp):
    v, g = _penalty(dk, "elastic_net_penalty", inp["w"], float(inp["lam"]), float(inp["l1_ratio"]))
    return {"value": v, "grad": g}


def lp_penalty(dk, inp):
    """One p below 1 (sparsifying) and one above (decay), on the same weights (with exact zeros)."""
    vs, gs = _penalty(dk, "lp_penalty", inp["w"], float(inp["lam"]), float(inp["p_small"]))
    vl, gl = _penalty(dk, "lp_penalty", inp["w"], float(inp["lam"]), float(inp["p_large"]))
    return {"value_small": vs, "grad_small": gs, "value_large": vl, "grad_large": gl}


def max_norm_project(dk, inp):
    w_before = np.array(inp["w"], dtype=np.float64)
    out0 = dk.regularizers.max_norm_project(inp["w"], float(inp["c"]), axis=0)
    out1 = dk.regularizers.max_norm_project(inp["w"], float(inp["c"]), axis=1)
    return {"axis0": _arr(out0), "axis1": _arr(out1), "w_changed": _arr(np.abs(_arr(inp["w"]) - w_before).max())}


# -------------------------------------------------------------------------------------------- dropout
def _edge(x):
    """The small slice of a case's input on which the edges (p_drop 0 and 1) are run."""
    return x[tuple(slice(0, 3) for _ in range(x.ndim))]


def dropout_forward(dk, inp):
    x, p = inp["x"], float(inp["p_drop"])
    out, _ = _layer(dk, "dropout_forward", x, p, "train", _rng(inp))
    ev, _ = _layer(dk, "dropout_forward", x, p, "eval", _rng(inp))
    p0, _ = _layer(dk, "dropout_forward", _edge(x), 0.0, "train", _rng(inp))
    p1, _ = _layer(dk, "dropout_forward", _edge(x), 1.0, "train", _rng(inp))
    return {"out": _arr(out), "out_eval": _arr(ev), "out_p0": _arr(p0), "out_p1": _arr(p1)}


def dropout_backward(dk, inp):
    m, x, dout, p = dk.dropout, inp["x"], inp["dout"], float(inp["p_drop"])
    out, cache = _layer(dk, "dropout_forward", x, p, "train", _rng(inp))
    dx = m.dropout_backward(dout, cache)
    _, cache_e = _layer(dk, "dropout_forward", x, p, "eval", _rng(inp))
    dx_eval = m.dropout_backward(dout, cache_e)
    _, cache_1 = _layer(dk, "dropout_forward", _edge(x), 1.0, "train", _rng(inp))
    dx_p1 = m.dropout_backward(_edge(dout), cache_1)
    return {"out": _arr(out), "dx": _arr(dx), "dx_eval": _arr(dx_eval), "dx_p1": _arr(dx_p1)}


def dropconnect_forward(dk, inp):
    x, w, b, p = inp["x"], inp["w"], inp["b"], float(inp["p_drop"])
    out, _ = _layer(dk, "dropconnect_forward", x, w, b, p, "train", _rng(inp))
    ev, _ = _layer(dk, "dropconnect_forward", x, w, b, p, "eval", _rng(inp))
    small = (_edge(x), w[:3, :4], b[:4])
    p0, _ = _layer(dk, "dropconnect_forward", *small, 0.0, "train", _rng(inp))
    p1, _ = _layer(dk, "dropconnect_forward", *small, 1.0, "train", _rng(inp))
    repeated, _ = _layer(dk, "dropconnect_forward", np.repeat(x[:1], 8, axis=0), w, b, p, "train", _rng(inp))
    return {
        "out": _arr(out),
        "out_eval": _arr(ev),
        "out_p0": _arr(p0),
        "out_p1": _arr(p1),
        "out_repeated": _arr(repeated),  # one example 8 times: one mask for the batch gives 8 equal rows
    }


def dropconnect_backward(dk, inp):
    x, w, b, p, dout = inp["x"], inp["w"], inp["b"], float(inp["p_drop"]), inp["dout"]
    out, cache = _layer(dk, "dropconnect_forward", x, w, b, p, "train", _rng(inp))
    result = {"out": _arr(out)}
    small = (_edge(x), w[:3, :4], b[:4])
    for tag, args, mode, d in (
        ("", (x, w, b, p), "train", dout),
        ("_eval", (x, w, b, p), "eval", dout),
        ("_p1", (*small, 1.0), "train", dout[:3, :4]),
    ):
        if tag:
            _, cache = _layer(dk, "dropconnect_forward", *args, mode, _rng(inp))
        grads = _call(dk, "dropout", "dropconnect_backward", 3, "a triple (dx, dw, db)", d, cache)
        result.update({f"{name}{tag}": _arr(g) for name, g in zip(("dx", "dw", "db"), grads)})
    return result


def spatial_dropout_forward(dk, inp):
    x, p = inp["x"], float(inp["p_drop"])
    out, _ = _layer(dk, "spatial_dropout_forward", x, p, "train", _rng(inp))
    ev, _ = _layer(dk, "spatial_dropout_forward", x, p, "eval", _rng(inp))
    p0, _ = _layer(dk, "spatial_dropout_forward", _edge(x), 0.0, "train", _rng(inp))
    p1, _ = _layer(dk, "spatial_dropout_forward", _edge(x), 1.0, "train", _rng(inp))
    return {"out": _arr(out), "out_eval": _arr(ev), "out_p0": _arr(p0), "out_p1": _arr(p1)}


def spatial_dropout_backward(dk, inp):
    m, x, dout, p = dk.dropout, inp["x"], inp["dout"], float(inp["p_drop"])
    out, cache = _layer(dk, "spatial_dropout_forward", x, p, "train", _rng(inp))
    dx = m.spatial_dropout_backward(dout, cache)
    _, cache_e = _layer(dk, "spatial_dropout_forward", x, p, "eval", _rng(inp))
    _, cache_1 = _layer(dk, "spatial_dropout_forward", _edge(x), 1.0, "train", _rng(inp))
    return {
        "out": _arr(out),
        "dx": _arr(dx),
        "dx_eval": _arr(m.spatial_dropout_backward(dout, cache_e)),
        "dx_p1": _arr(m.spatial_dropout_backward(_edge(dout), cache_1)),
    }


def dropblock_gamma(dk, inp):
    g = [
        dk.dropout.dropblock_gamma(float(k), int(b), int(s))
        for k, b, s in zip(inp["keep_prob"], inp["block_size"], inp["feat_size"])
    ]
    return {"gamma": _arr(g)}


def dropblock_mask(dk, inp):
    shape = tuple(int(s) for s in inp["shape"])
    mask = dk.dropout.dropblock_mask(shape, float(inp["keep_prob"]), int(inp["block_size"]), _rng(inp))
    small = (2, 3, 5, 5)
    keep_all = dk.dropout.dropblock_mask(small, 1.0, int(inp["block_size"]), _rng(inp))
    drop_all = dk.dropout.dropblock_mask(small, 0.0, 1, _rng(inp))
    return {"mask": _arr(mask), "mask_keep_prob_1": _arr(keep_all), "mask_keep_prob_0_block_1": _arr(drop_all)}


def dropblock_forward(dk, inp):
    x, kp, bs = inp["x"], float(inp["keep_prob"]), int(inp["block_size"])
    out, _ = _layer(dk, "dropblock_forward", x, kp, bs, "train", _rng(inp))
    ev, _ = _layer(dk, "dropblock_forward", x, kp, bs, "eval", _rng(inp))
    edge = x[:2, :3]
    kp1, _ = _layer(dk, "dropblock_forward", edge, 1.0, bs, "train", _rng(inp))
    none_kept, _ = _layer(dk, "dropblock_forward", edge, 0.0, 1, "train", _rng(inp))
    return {"out": _arr(out), "out_eval": _arr(ev), "out_keep_prob_1": _arr(kp1), "out_nothing_kept": _arr(none_kept)}


def dropblock_backward(dk, inp):
    m, x, dout = dk.dropout, inp["x"], inp["dout"]
    kp, bs = float(inp["keep_prob"]), int(inp["block_size"])
    out, cache = _layer(dk, "dropblock_forward", x, kp, bs, "train", _rng(inp))
    _, cache_e = _layer(dk, "dropblock_forward", x, kp, bs, "eval", _rng(inp))
    _, cache_0 = _layer(dk, "dropblock_forward", x[:2, :3], 0.0, 1, "train", _rng(inp))
    return {
        "out": _arr(out),
        "dx": _arr(m.dropblock_backward(dout, cache)),
        "dx_eval": _arr(m.dropblock_backward(dout, cache_e)),
        "dx_p1": _arr(m.dropblock_backward(dout[:2, :3], cache_0)),
    }


def keep_prob_schedule(dk, inp):
    total, target = int(inp["total_steps"]), float(inp["target"])
    kp = [dk.dropout.keep_prob_schedule(int(s), total, target) for s in inp["steps"]]
    return {"keep_prob": _arr(kp)}


# ------------------------------------------------------------------------------------- early stopping
def early_stopping(dk, inp):
    stopper = dk.early_stopping.EarlyStopping(
        patience=int(inp["patience"]), min_delta=float(inp["min_delta"]), mode=str(inp["mode"])
    )
    flags, best_epochs, bests, tags = [], [], [], []
    params = {"epoch": np.array([-1.0])}  # updated IN PLACE every epoch, like real weights
    for epoch, v in enumerate(inp["metrics"]):
        params["epoch"][0] = epoch
        flags.append(bool(stopper.step(float(v), params)))
        best_epochs.append(stopper.best_epoch)
        bests.append(stopper.best)
        best = stopper.best_params
        tags.append(float(best["epoch"][0]) if isinstance(best, dict) and "epoch" in best else -1.0)
    return {"stop": _arr(flags), "best_epoch": _arr(best_epochs), "best": _arr(bests), "best_params_epoch": _arr(tags)}
