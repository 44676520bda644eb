"""Probes for topic 07 (optimizers): run the student's update rules on a seeded noisy quadratic.

Runs inside the sandbox; imports only numpy and the stdlib. Each probe returns the trajectory of w
(steps + 1 rows); the state dict is the student's own business (its keys are not compared). The momentum rules
also run once with momentum exactly 0, and every schedule is also called with the scalar t = 0 (edge values).
"""

import numpy as np

_HYPER = {
    "sgd_step": ("lr", "weight_decay"),
    "sgd_momentum_step": ("lr", "momentum", "weight_decay"),
    "nesterov_step": ("lr", "momentum", "weight_decay"),
    "adagrad_step": ("lr", "eps", "weight_decay"),
    "adadelta_step": ("lr", "rho", "eps", "weight_decay"),
    "rmsprop_step": ("lr", "alpha", "eps", "weight_decay"),
    "adam_step": ("lr", "beta1", "beta2", "eps", "weight_decay"),
    "adamax_step": ("lr", "beta1", "beta2", "eps", "weight_decay"),
}


def _step_result(name, result, shape):
    """(w_new, state_new) from what the student's step returned, or a TypeError that says what it must return."""
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        got = (
            f"{type(result).__name__} of length {len(result)}"
            if isinstance(result, (tuple, list))
            else type(result).__name__
        )
        raise TypeError(f"{name} must return (w_new, state_new), got {got}")
    w, state = result
    if not isinstance(state, dict):
        raise TypeError(f"{name} must return (w_new, state_new) with state_new a dict, got {type(state).__name__}")
    w = np.array(w, dtype=np.float64)
    if w.shape != shape:
        raise TypeError(f"{name} must return w_new of w's shape {shape}, got shape {w.shape}")
    return w, state


def _trajectory(dk, inp, name, **override):
    """w_{t+1}, state = step(w_t, A w_t - b + noise_t, state) from w0 with state {} on the first call."""
    step = getattr(dk.optim, name)
    hyper = {k: float(override.get(k, inp[k])) for k in _HYPER[name]}
    w = np.array(inp["w0"], dtype=np.float64)
    A, b, noise = inp["A"], inp["b"], inp["noise"]
    out = [w.copy()]
    state = {}
    for t in range(noise.shape[0]):
        dw = (A @ w.ravel() - b).reshape(w.shape) + noise[t]
        w, state = _step_result(name, step(w.copy(), dw, state, **hyper), w.shape)
        out.append(w.copy())
    return np.stack(out)


def sgd(dk, inp):
    return {"w": _trajectory(dk, inp, "sgd_step")}


def sgd_momentum(dk, inp):
    return {
        "w": _trajectory(dk, inp, "sgd_momentum_step"),
        "w_momentum0": _trajectory(dk, inp, "sgd_momentum_step", momentum=0.0),
    }


def nesterov(dk, inp):
    return {
        "w": _trajectory(dk, inp, "nesterov_step"),
        "w_momentum0": _trajectory(dk, inp, "nesterov_step", momentum=0.0),
    }


def adagrad(dk, inp):
    return {"w": _trajectory(dk, inp, "adagrad_step")}


def adadelta(dk, inp):
    return {"w": _trajectory(dk, inp, "adadelta_step")}


def rmsprop(dk, inp):
    return {"w": _trajectory(dk, inp, "rmsprop_step")}


def adam(dk, inp):
    return {"w": _trajectory(dk, inp, "adam_step")}


def adamax(dk, inp):
    return {"w": _trajectory(dk, inp, "adamax_step")}


def _rates(key, fn, t, t0, *args, **kw):
    """The schedule on the integer array t, on the scalar t0 and on the scalar 0."""
    return {
        key: np.asarray(fn(*args[:1], t, *args[1:], **kw), dtype=np.float64),
        key + "_scalar": np.asarray(fn(*args[:1], t0, *args[1:], **kw), dtype=np.float64),
        key + "_t0": np.asarray(fn(*args[:1], 0, *args[1:], **kw), dtype=np.float64),
    }


def schedules(dk, inp):
    """Every schedule on an integer array of steps, on one scalar step and at t = 0."""
    o = dk.optim
    t, t0 = inp["t"], int(inp["t_scalar"])
    lr0 = float(inp["lr0"])
    out = {}
    for key, fn, kw in (
        ("step", o.step_decay, {"step_size": int(inp["step_size"]), "gamma": float(inp["gamma_step"])}),
        ("exponential", o.exponential_decay, {"gamma": float(inp["gamma_exp"])}),
        ("cosine", o.cosine_decay, {"total": int(inp["total"]), "lr_min": float(inp["lr_min"])}),
        ("inverse_time", o.inverse_time_decay, {"k": float(inp["k"])}),
    ):
        out.update(_rates(key, fn, t, t0, lr0, **kw))
    return out


def warmup(dk, inp):
    """Linear warm-up, warm-up + cosine (up to its end and beyond) and the momentum ramp."""
    o = dk.optim
    t, lr0, w, total = inp["t"], float(inp["lr0"]), int(inp["warmup"]), int(inp["total"])
    sf, lr_min = float(inp["start_factor"]), float(inp["lr_min"])
    out = _rates("warmup", o.linear_warmup, t, w, lr0, warmup=w, start_factor=sf)
    out.update(
        _rates("warmup_cosine", o.warmup_cosine, t, total, lr0, warmup=w, total=total, start_factor=sf, lr_min=lr_min)
    )
    ramp = {"ramp": int(inp["ramp"]), "mu0": float(inp["mu0"]), "mu1": float(inp["mu1"])}
    out.update(_rates("momentum", o.momentum_ramp, t, int(inp["ramp"]), **ramp))
    return out


def plateau(dk, inp):
    """The learning rates after each epoch's validation loss, with the case's patience and with patience 0, and on
    a slowly falling curve near 100 (the threshold is relative)."""
    out = {}
    for key, metrics, patience, threshold in (
        ("lrs", "metrics", int(inp["patience"]), float(inp["threshold"])),
        ("lrs_patience0", "metrics", 0, float(inp["threshold"])),
        ("lrs_relative", "metrics_rel", int(inp["patience"]), float(inp["threshold_rel"])),
    ):
        lrs = dk.optim.reduce_on_plateau(
            float(inp["lr0"]),
            np.array(inp[metrics], dtype=np.float64),
            factor=float(inp["factor"]),
            patience=patience,
            threshold=threshold,
            min_lr=float(inp["min_lr"]),
        )
        out[key] = np.asarray(lrs, dtype=np.float64)
    return out
