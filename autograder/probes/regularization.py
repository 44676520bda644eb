"""Probes for topic 05 (regularization): run the student's deepkit on the trusted inputs; numpy + stdlib only.

Random layers are probed so that their randomness can be checked without knowing how the student draws it:
the outputs let the trusted side recover the mask (out / x, or the effective weights of DropConnect from a
one-hot-per-row input), and every backward runs through the student's OWN forward cache.
"""

import numpy as np


def _rng(inp):
    return np.random.default_rng(int(inp["seed"]))


def _arr(v):
    return np.asarray(v, dtype=np.float64)


# ------------------------------------------------------------------------------------------- penalties
def l1_penalty(dk, inp):
    v, g = dk.regularizers.l1_penalty(inp["w"], float(inp["lam"]))
    return {"value": _arr(v), "grad": _arr(g)}


def l2_penalty(dk, inp):
    v, g = dk.regularizers.l2_penalty(inp["w"], float(inp["lam"]))
    return {"value": _arr(v), "grad": _arr(g)}


def elastic_net_penalty(dk, inp):
    v, g = dk.regularizers.elastic_net_penalty(inp["w"], float(inp["lam"]), float(inp["l1_ratio"]))
    return {"value": _arr(v), "grad": _arr(g)}


def max_norm_project(dk, inp):
    out0 = dk.regularizers.max_norm_project(inp["w"], float(inp["c"]), axis=0)
    out1 = dk.regularizers.max_norm_project(inp["w"], float(inp["c"]), axis=1)
    return {"axis0": _arr(out0), "axis1": _arr(out1), "w_after": _arr(inp["w"])}


# -------------------------------------------------------------------------------------------- dropout
def dropout_forward(dk, inp):
    f = dk.dropout.dropout_forward
    out, _ = f(inp["x"], float(inp["p_drop"]), "train", _rng(inp))
    ev, _ = f(inp["x"], float(inp["p_drop"]), "eval", _rng(inp))
    return {"out": _arr(out), "out_eval": _arr(ev)}


def dropout_backward(dk, inp):
    m = dk.dropout
    out, cache = m.dropout_forward(inp["x"], float(inp["p_drop"]), "train", _rng(inp))
    dx = m.dropout_backward(inp["dout"], cache)
    _, cache_e = m.dropout_forward(inp["x"], float(inp["p_drop"]), "eval", _rng(inp))
    dx_eval = m.dropout_backward(inp["dout"], cache_e)
    return {"out": _arr(out), "dx": _arr(dx), "dx_eval": _arr(dx_eval)}


def dropconnect_forward(dk, inp):
    f = dk.dropout.dropconnect_forward
    out, _ = f(inp["x"], inp["w"], inp["b"], float(inp["p_drop"]), "train", _rng(inp))
    ev, _ = f(inp["x"], inp["w"], inp["b"], float(inp["p_drop"]), "eval", _rng(inp))
    return {"out": _arr(out), "out_eval": _arr(ev)}


def dropconnect_backward(dk, inp):
    m = dk.dropout
    out, cache = m.dropconnect_forward(inp["x"], inp["w"], inp["b"], float(inp["p_drop"]), "train", _rng(inp))
    dx, dw, db = m.dropconnect_backward(inp["dout"], cache)
    return {"out": _arr(out), "dx": _arr(dx), "dw": _arr(dw), "db": _arr(db)}


def spatial_dropout_forward(dk, inp):
    f = dk.dropout.spatial_dropout_forward
    out, _ = f(inp["x"], float(inp["p_drop"]), "train", _rng(inp))
    ev, _ = f(inp["x"], float(inp["p_drop"]), "eval", _rng(inp))
    return {"out": _arr(out), "out_eval": _arr(ev)}


def spatial_dropout_backward(dk, inp):
    m = dk.dropout
    out, cache = m.spatial_dropout_forward(inp["x"], float(inp["p_drop"]), "train", _rng(inp))
    return {"out": _arr(out), "dx": _arr(m.spatial_dropout_backward(inp["dout"], cache))}


def dropblock_gamma(dk, inp):
    g = [
        dk.dropout.dropblock_gamma(float(k), int(b), int(s))
        for k, b, s in zip(inp["keep_prob"], inp["block_size"], inp["feat_size"])
    ]
    return {"gamma": _arr(g)}


def dropblock_mask(dk, inp):
    shape = tuple(int(s) for s in inp["shape"])
    mask = dk.dropout.dropblock_mask(shape, float(inp["keep_prob"]), int(inp["block_size"]), _rng(inp))
    return {"mask": _arr(mask)}


def dropblock_forward(dk, inp):
    f = dk.dropout.dropblock_forward
    out, _ = f(inp["x"], float(inp["keep_prob"]), int(inp["block_size"]), "train", _rng(inp))
    ev, _ = f(inp["x"], float(inp["keep_prob"]), int(inp["block_size"]), "eval", _rng(inp))
    return {"out": _arr(out), "out_eval": _arr(ev)}


def dropblock_backward(dk, inp):
    m = dk.dropout
    out, cache = m.dropblock_forward(inp["x"], float(inp["keep_prob"]), int(inp["block_size"]), "train", _rng(inp))
    return {"out": _arr(out), "dx": _arr(m.dropblock_backward(inp["dout"], cache))}


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
