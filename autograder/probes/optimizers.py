"""Probes for topic 07 (optimizers): run the student's update rules on a seeded noisy quadratic.

Runs inside the sandbox; imports only numpy and the stdlib. Each probe returns the trajectory of w
(steps + 1 rows); the state dict is the student's own business (its keys are not compared).
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


def _trajectory(dk, inp, name):
    """w_{t+1}, state = step(w_t, A w_t - b + noise_t, state) from w0 with state {} on the first call."""
    step = getattr(dk.optim, name)
    hyper = {k: float(inp[k]) for k in _HYPER[name]}
    w = np.array(inp["w0"], dtype=np.float64)
    A, b, noise = inp["A"], inp["b"], inp["noise"]
    out = [w.copy()]
    state = {}
    for t in range(noise.shape[0]):
        dw = (A @ w.ravel() - b).reshape(w.shape) + noise[t]
        w, state = step(w.copy(), dw, state, **hyper)
        w = np.array(w, dtype=np.float64)
        out.append(w.copy())
    return {"w": np.stack(out)}


def sgd(dk, inp):
    return _trajectory(dk, inp, "sgd_step")


def sgd_momentum(dk, inp):
    return _trajectory(dk, inp, "sgd_momentum_step")


def nesterov(dk, inp):
    return _trajectory(dk, inp, "nesterov_step")


def adagrad(dk, inp):
    return _trajectory(dk, inp, "adagrad_step")


def adadelta(dk, inp):
    return _trajectory(dk, inp, "adadelta_step")


def rmsprop(dk, inp):
    return _trajectory(dk, inp, "rmsprop_step")


def adam(dk, inp):
    return _trajectory(dk, inp, "adam_step")


def adamax(dk, inp):
    return _trajectory(dk, inp, "adamax_step")


def schedules(dk, inp):
    """Every schedule on an integer array of steps and on one scalar step."""
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
        out[key] = np.asarray(fn(lr0, t, **kw), dtype=np.float64)
        out[key + "_scalar"] = np.asarray(fn(lr0, t0, **kw), dtype=np.float64)
    return out
