"""Hidden checks for topic 07 (optimizers): one part per update rule, three for the schedules.

Each rule runs 30 steps on a seeded noisy quadratic (w of shape (2, 3), gradient A w - b + noise, torch-style
weight decay 0.01..0.1) and the whole trajectory of w must match the reference, itself equal to
torch.optim in float64 (tests/topics/test_optimizers.py). eps is drawn large (0.05..0.5) so that where eps sits
(inside or outside the square root) changes the trajectory by far more than the tolerance. Edge values: the
momentum rules also run with momentum exactly 0 (it must give plain SGD), every schedule is also evaluated at
t = 0, and the plateau losses repeat exactly (a loss equal to the best is not an improvement).

Fairness: Adam and AdaMax each have two documented placements of eps (Adam: Algorithm 1, as torch, or the
paper's "efficient" form with eps-hat; AdaMax: torch's max(beta2 u, |g| + eps) or Keras' max(beta2 u, |g|) + eps).
Both are accepted (``_either``); the known mistakes (``Misconception``) are named when a trajectory matches one.
"""

from __future__ import annotations

from dataclasses import replace as _replace

import numpy as np

from autograder.compare import compare_case
from autograder.spec import Misconception, Part

STEPS = 30
SHAPE = (2, 3)


def _problem(rng: np.random.Generator) -> dict:
    d = int(np.prod(SHAPE))
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    A = (q * rng.uniform(0.2, 2.0, size=d)) @ q.T
    return {
        "w0": rng.normal(size=SHAPE),
        "A": A,
        "b": rng.normal(size=d),
        "noise": rng.normal(scale=0.5, size=(STEPS,) + SHAPE),
        "weight_decay": float(rng.uniform(0.01, 0.1)),
    }


def _inputs(**draws):
    """inputs(rng): the problem plus hyper-parameters drawn uniformly from the given (low, high) ranges."""

    def inputs(rng: np.random.Generator) -> dict:
        inp = _problem(rng)
        inp.update({k: float(rng.uniform(lo, hi)) for k, (lo, hi) in draws.items()})
        return inp

    return inputs


def _schedule_inputs(rng: np.random.Generator) -> dict:
    total = int(rng.integers(10, 40))
    return {
        "t": np.arange(0, 60),
        "t_scalar": int(rng.integers(1, 60)),
        "lr0": float(rng.uniform(0.01, 1.0)),
        "step_size": int(rng.integers(2, 15)),
        "gamma_step": float(rng.uniform(0.1, 0.9)),
        "gamma_exp": float(rng.uniform(0.8, 0.99)),
        "total": total,
        "lr_min": float(rng.uniform(0.0, 0.005)),
        "k": float(rng.uniform(0.01, 0.5)),
    }


def _warmup_inputs(rng: np.random.Generator) -> dict:
    warmup = int(rng.integers(2, 12))
    return {
        "t": np.arange(0, 70),
        "lr0": float(rng.uniform(0.01, 1.0)),
        "warmup": warmup,
        "total": int(rng.integers(warmup + 5, 60)),
        "start_factor": float(rng.uniform(0.05, 0.5)),
        "lr_min": float(rng.uniform(0.0, 0.005)),
        "ramp": int(rng.integers(3, 40)),
        "mu0": float(rng.uniform(0.3, 0.6)),
        "mu1": float(rng.uniform(0.9, 0.99)),
    }


def _plateau_inputs(rng: np.random.Generator) -> dict:
    """A validation-loss curve that flattens out, on a 0.01 grid, with some epochs EQUAL to the best so far
    (ties: not an improvement) and some just above it."""
    k = np.arange(50)
    curve = np.round(1.5 * np.exp(-k / rng.uniform(4, 12)) + 0.3 + rng.normal(scale=0.05, size=k.size), 2)
    for i in np.flatnonzero(rng.random(k.size) < 0.3)[1:]:
        curve[i] = curve[:i].min()  # an exact tie with the best
    lr0 = float(rng.uniform(0.05, 1.0))
    threshold_rel = float(rng.choice([0.01, 0.05]))
    return {
        "metrics": curve,
        "lr0": lr0,
        "factor": float(rng.uniform(0.5, 0.8)),
        "patience": int(rng.integers(1, 5)),
        "threshold": float(rng.choice([0.0, 1e-3])),
        "min_lr": float(lr0 * rng.choice([0.0, 0.01])),
        # losses near 100 that fall by a tenth of the relative threshold per epoch: by the documented relative
        # rule (metric < best * (1 - threshold)) no improvement for 9 epochs, so the rate is cut (patience <= 4);
        # by an absolute threshold (metric < best - threshold) every epoch improves and the rate never moves
        "threshold_rel": threshold_rel,
        "metrics_rel": rng.uniform(80.0, 120.0) * (1 - threshold_rel / 10) ** np.arange(12),
    }


# ----------------------------------------------------------------------------------------------------------
# Trusted trajectories (the probe's loop, probes/optimizers.py ``_trajectory``) for the documented alternatives.
def _trajectory(step, inp: dict, names: tuple) -> np.ndarray:
    """w_0 .. w_30 of ``step(w, dw, state, **hyper)`` on the case's noisy quadratic."""
    hyper = {k: float(inp[k]) for k in names}
    w, state, out = np.array(inp["w0"], dtype=np.float64), {}, []
    out.append(w.copy())
    for noise in inp["noise"]:
        dw = (inp["A"] @ w.ravel() - inp["b"]).reshape(w.shape) + noise
        w, state = step(w, dw, state, **hyper)
        out.append(w.copy())
    return np.stack(out)


_ADAM = ("lr", "beta1", "beta2", "eps", "weight_decay")


def _adam_moments(w, dw, state, beta1, beta2, weight_decay):
    g = dw + weight_decay * w
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    v = beta2 * state.get("v", 0.0) + (1 - beta2) * g * g
    return t, m, v


def adam_algorithm1(w, dw, state, lr, beta1, beta2, eps, weight_decay):
    """Kingma & Ba, Algorithm 1 (torch): eps added to sqrt(v_hat)."""
    t, m, v = _adam_moments(w, dw, state, beta1, beta2, weight_decay)
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), {"t": t, "m": m, "v": v}


def adam_eps_hat(w, dw, state, lr, beta1, beta2, eps, weight_decay):
    """Kingma & Ba, section 2's efficient form: lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t), eps-hat on sqrt(v)."""
    t, m, v = _adam_moments(w, dw, state, beta1, beta2, weight_decay)
    lr_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    return w - lr_t * m / (np.sqrt(v) + eps), {"t": t, "m": m, "v": v}


def _adamax_moments(w, dw, state, beta1, weight_decay):
    g = dw + weight_decay * w
    t = state.get("t", 0) + 1
    return g, t, beta1 * state.get("m", 0.0) + (1 - beta1) * g


def adamax_torch(w, dw, state, lr, beta1, beta2, eps, weight_decay):
    """torch.optim.Adamax: u = max(beta2 u, |g| + eps)."""
    g, t, m = _adamax_moments(w, dw, state, beta1, weight_decay)
    u = np.maximum(beta2 * state.get("u", 0.0), np.abs(g) + eps)
    return w - lr / (1 - beta1**t) * m / u, {"t": t, "m": m, "u": u}


def adamax_keras(w, dw, state, lr, beta1, beta2, eps, weight_decay):
    """Keras / TensorFlow AdaMax: u = max(beta2 u, |g|), step m / (u + eps)."""
    g, t, m = _adamax_moments(w, dw, state, beta1, weight_decay)
    u = np.maximum(beta2 * state.get("u", 0.0), np.abs(g))
    return w - lr / (1 - beta1**t) * m / (u + eps), {"t": t, "m": m, "u": u}


#: part -> (the form the docstring states first, the other documented form)
DOCUMENTED_FORMS = {"adam": (adam_algorithm1, adam_eps_hat), "adamax": (adamax_torch, adamax_keras)}


def _either(name: str):
    """compare(): the student's trajectory matches the reference's, or, when the reference is the docstring's
    first form (so this is a real grading, not a misconception lookup), the other documented form."""

    def compare(student: dict, reference: dict, inp: dict) -> tuple[float, str]:
        plain = _PLAIN[name]
        first = compare_case(plain, student, reference, inp)
        if first.fraction >= 1.0:
            return 1.0, "ok"
        stated, other = DOCUMENTED_FORMS[name]
        if compare_case(plain, reference, {"w": _trajectory(stated, inp, _ADAM)}, inp).fraction >= 1.0:
            if compare_case(plain, student, {"w": _trajectory(other, inp, _ADAM)}, inp).fraction >= 1.0:
                return 1.0, "ok"
        return 0.0, first.reason

    return compare


# ----------------------------------------------------------------------------------------------------------
# Known mistakes, written against the reference (trusted code; the grader names them, see spec.Misconception).
def _sgd_no_weight_decay(w, dw, state, lr=1e-2, weight_decay=0.0):
    from deepkit import optim

    return optim.sgd_step(w, dw, state, lr=lr)


def _momentum_sign(w, dw, state, lr=1e-2, momentum=0.9, weight_decay=0.0):
    g = dw + weight_decay * w
    v = g - momentum * state.get("v", 0 * w)  # the old velocity subtracted: the first step is still right
    return w - lr * v, {"v": v}


def _momentum_dampened(w, dw, state, lr=1e-2, momentum=0.9, weight_decay=0.0):
    g = dw + weight_decay * w
    v = momentum * state.get("v", 0 * w) + (1 - momentum) * g  # an average of gradients, as Adam's m
    return w - lr * v, {"v": v}


def _momentum_zero_is_default(w, dw, state, lr=1e-2, momentum=0.9, weight_decay=0.0):
    from deepkit import optim

    return optim.sgd_momentum_step(w, dw, state, lr=lr, momentum=momentum or 0.9, weight_decay=weight_decay)


def _nesterov_plain(w, dw, state, lr=1e-2, momentum=0.9, weight_decay=0.0):
    from deepkit import optim

    return optim.sgd_momentum_step(w, dw, state, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _nesterov_rearranged_sign(w, dw, state, lr=1e-2, momentum=0.9, weight_decay=0.0):
    g = dw + weight_decay * w
    v_old = state.get("v", 0 * w)
    v = momentum * v_old + g
    # CS231n's x += -mu v_prev + (1 + mu) v with the sign of the mu v_prev term flipped (in torch's units)
    return w - lr * ((1 + momentum) * v + momentum * v_old), {"v": v}


def _nesterov_zero_is_default(w, dw, state, lr=1e-2, momentum=0.9, weight_decay=0.0):
    from deepkit import optim

    return optim.nesterov_step(w, dw, state, lr=lr, momentum=momentum or 0.9, weight_decay=weight_decay)


def _adagrad_reset(w, dw, state, lr=1e-2, eps=1e-10, weight_decay=0.0):
    from deepkit import optim

    return optim.adagrad_step(w, dw, {}, lr=lr, eps=eps, weight_decay=weight_decay)


def _adagrad_eps_inside(w, dw, state, lr=1e-2, eps=1e-10, weight_decay=0.0):
    g = dw + weight_decay * w
    s = state.get("sum_sq", 0 * w) + g * g
    return w - lr * g / np.sqrt(s + eps), {"sum_sq": s}


def _adadelta_no_lr(w, dw, state, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    from deepkit import optim

    return optim.adadelta_step(w, dw, state, lr=1.0, rho=rho, eps=eps, weight_decay=weight_decay)


def _adadelta_old_sq(w, dw, state, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    g = dw + weight_decay * w
    sq_old, acc = state.get("sq_avg", 0 * w), state.get("delta_avg", 0 * w)
    delta = np.sqrt(acc + eps) / np.sqrt(sq_old + eps) * g  # E[g^2] before this step's g^2 is added
    sq = rho * sq_old + (1 - rho) * g * g
    return w - lr * delta, {"sq_avg": sq, "delta_avg": rho * acc + (1 - rho) * delta * delta}


def _rmsprop_eps_inside(w, dw, state, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0):
    g = dw + weight_decay * w
    a = alpha * state.get("sq_avg", 0 * w) + (1 - alpha) * g * g
    return w - lr * g / np.sqrt(a + eps), {"sq_avg": a}


def _rmsprop_alpha_swapped(w, dw, state, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0):
    g = dw + weight_decay * w
    a = (1 - alpha) * state.get("sq_avg", 0 * w) + alpha * g * g
    return w - lr * g / (np.sqrt(a) + eps), {"sq_avg": a}


def _adam_no_bias_correction(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    g = dw + weight_decay * w
    m = beta1 * state.get("m", 0 * w) + (1 - beta1) * g
    v = beta2 * state.get("v", 0 * w) + (1 - beta2) * g * g
    return w - lr * m / (np.sqrt(v) + eps), {"m": m, "v": v}


def _adam_t_stuck(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    from deepkit import optim

    w_new, s = optim.adam_step(w, dw, {**state, "t": np.array(0)}, lr, beta1, beta2, eps, weight_decay)
    return w_new, s  # t is 1 at every step: the first step's correction forever


def _adam_eps_inside(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    g = dw + weight_decay * w
    t = int(state.get("t", 0)) + 1
    m = beta1 * state.get("m", 0 * w) + (1 - beta1) * g
    v = beta2 * state.get("v", 0 * w) + (1 - beta2) * g * g
    step = m / (1 - beta1**t) / np.sqrt(v / (1 - beta2**t) + eps)
    return w - lr * step, {"m": m, "v": v, "t": np.array(t)}


def _adam_decoupled(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    from deepkit import optim

    w_new, s = optim.adam_step(w, dw, state, lr, beta1, beta2, eps, 0.0)
    return w_new - lr * weight_decay * w, s  # AdamW's decay, not torch Adam's L2 in the gradient


def _adamax_bias_u(w, dw, state, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    from deepkit import optim

    w2, s2 = optim.adamax_step(w, dw, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
    return w + (w2 - w) * (1 - beta2 ** int(s2["t"])), s2  # u divided by (1 - beta2^t) as well


def _adamax_no_bias_m(w, dw, state, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    from deepkit import optim

    w2, s2 = optim.adamax_step(w, dw, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
    return w + (w2 - w) * (1 - beta1 ** int(s2["t"])), s2  # "AdaMax needs no bias correction" taken for m too


def _cosine_quarter(lr0, t, total, lr_min=0.0):
    t = np.asarray(t)
    return lr_min + (lr0 - lr_min) * np.cos(np.pi * np.minimum(t, total) / (2 * total))


def _step_no_floor(lr0, t, step_size, gamma=0.1):
    return lr0 * gamma ** (np.asarray(t) / step_size)


def _exponential_from_one(lr0, t, gamma=0.95):
    return lr0 * gamma ** (np.asarray(t) + 1.0)


def _warmup_from_zero(lr0, t, warmup, start_factor=0.1):
    return lr0 * np.minimum(np.asarray(t), warmup) / warmup


def _warmup_cosine_clock(lr0, t, warmup, total, start_factor=0.1, lr_min=0.0):
    from deepkit import optim

    t = np.asarray(t)
    cos = optim.cosine_decay(lr0, t, total, lr_min)  # the cosine's clock started at 0, not at the warm-up's end
    return np.where(t < warmup, optim.linear_warmup(lr0, t, warmup, start_factor), cos)


def _plateau_patience_ge(lr0, metrics, factor=0.1, patience=10, threshold=1e-4, min_lr=0.0):
    lr, best, bad, lrs = lr0, np.inf, 0, [lr0]
    for m in metrics:
        best, bad = (m, 0) if m < best * (1 - threshold) else (best, bad + 1)
        if bad >= patience:  # one bad epoch too early
            lr, bad = max(lr * factor, min_lr), 0
        lrs.append(lr)
    return np.array(lrs)


def _plateau_vs_previous(lr0, metrics, factor=0.1, patience=10, threshold=1e-4, min_lr=0.0):
    lr, prev, bad, lrs = lr0, np.inf, 0, [lr0]
    for m in metrics:
        bad = 0 if m < prev * (1 - threshold) else bad + 1  # compared with the last loss, not the best
        prev = m
        if bad > patience:
            lr, bad = max(lr * factor, min_lr), 0
        lrs.append(lr)
    return np.array(lrs)


def _plateau_absolute_threshold(lr0, metrics, factor=0.1, patience=10, threshold=1e-4, min_lr=0.0):
    lr, best, bad, lrs = lr0, np.inf, 0, [lr0]
    for m in metrics:
        best, bad = (m, 0) if m < best - threshold else (best, bad + 1)  # torch's threshold_mode="abs"
        if bad > patience:
            lr, bad = max(lr * factor, min_lr), 0
        lrs.append(lr)
    return np.array(lrs)


def _plateau_no_reset(lr0, metrics, factor=0.1, patience=10, threshold=1e-4, min_lr=0.0):
    lr, best, bad, lrs = lr0, np.inf, 0, [lr0]
    for m in metrics:
        best, bad = (m, 0) if m < best * (1 - threshold) else (best, bad + 1)
        if bad > patience:  # the count is not restarted: a cut every epoch from now on
            lr = max(lr * factor, min_lr)
        lrs.append(lr)
    return np.array(lrs)


def _plateau_ties_improve(lr0, metrics, factor=0.1, patience=10, threshold=1e-4, min_lr=0.0):
    lr, best, bad, lrs = lr0, np.inf, 0, [lr0]
    for m in metrics:
        better = m < best * (1 - threshold) or m == best  # a tie with the best counts as progress
        best, bad = (m, 0) if better else (best, bad + 1)
        if bad > patience:
            lr, bad = max(lr * factor, min_lr), 0
        lrs.append(lr)
    return np.array(lrs)


def _mistake(says: str, section: int, target: str, fn) -> Misconception:
    return Misconception(says, f"lecture 07, section {section}", {f"optim.{target}": fn})


# sections of lectures/07_optimizers.py
SEC_SGD, SEC_SCHEDULES, SEC_MOMENTUM, SEC_ADAPTIVE, SEC_ADAM = 1, 3, 4, 5, 6

EPS = (0.05, 0.5)
_TOL = dict(rtol=1e-6, atol=1e-9)
_MOMENTUM0 = "momentum 0 must give plain SGD (0 is a setting, not a missing value: never `momentum or 0.9`)"

PARTS = (
    Part(
        "sgd",
        1,
        "sgd",
        _inputs(lr=(0.05, 0.4)),
        description="sgd_step: 30-step trajectory",
        misconceptions=(
            _mistake(
                "the path matches SGD without weight decay (the gradient used is dw + weight_decay * w)",
                SEC_SGD,
                "sgd_step",
                _sgd_no_weight_decay,
            ),
        ),
        **_TOL,
    ),
    Part(
        "sgd_momentum",
        2,
        "sgd_momentum",
        _inputs(lr=(0.02, 0.1), momentum=(0.5, 0.95)),
        description="sgd_momentum_step: trajectory (torch convention v = mu v + g), also with momentum 0",
        misconceptions=(
            _mistake(
                "the path matches momentum with the old velocity subtracted (v = g - mu v): torch's velocity "
                "is v = mu v + g and the step is w - lr v",
                SEC_MOMENTUM,
                "sgd_momentum_step",
                _momentum_sign,
            ),
            _mistake(
                "the path matches a dampened velocity v = mu v + (1 - mu) g (an average, like Adam's m): "
                "torch's momentum SUMS the gradients, v = mu v + g",
                SEC_MOMENTUM,
                "sgd_momentum_step",
                _momentum_dampened,
            ),
            _mistake(_MOMENTUM0, SEC_MOMENTUM, "sgd_momentum_step", _momentum_zero_is_default),
        ),
        **_TOL,
    ),
    Part(
        "nesterov",
        2,
        "nesterov",
        _inputs(lr=(0.02, 0.1), momentum=(0.5, 0.95)),
        description="nesterov_step: trajectory (torch's Nesterov form), also with momentum 0",
        misconceptions=(
            _mistake(
                "the path matches plain (heavy-ball) momentum: Nesterov steps by g + mu v_new",
                SEC_MOMENTUM,
                "nesterov_step",
                _nesterov_plain,
            ),
            _mistake(
                "the path matches the rearranged Nesterov update with +mu v_prev: CS231n's form is "
                "x += -mu v_prev + (1 + mu) v",
                SEC_MOMENTUM,
                "nesterov_step",
                _nesterov_rearranged_sign,
            ),
            _mistake(_MOMENTUM0, SEC_MOMENTUM, "nesterov_step", _nesterov_zero_is_default),
        ),
        **_TOL,
    ),
    Part(
        "adagrad",
        2,
        "adagrad",
        _inputs(lr=(0.1, 0.5), eps=EPS),
        description="adagrad_step: trajectory (accumulated squared gradients)",
        misconceptions=(
            _mistake(
                "the path matches Adagrad whose sum of squared gradients restarts every step (keep it in the "
                "returned state)",
                SEC_ADAPTIVE,
                "adagrad_step",
                _adagrad_reset,
            ),
            _mistake(
                "the path matches Adagrad with eps inside the square root: torch uses sqrt(s) + eps",
                SEC_ADAPTIVE,
                "adagrad_step",
                _adagrad_eps_inside,
            ),
        ),
        **_TOL,
    ),
    Part(
        "adadelta",
        2,
        "adadelta",
        _inputs(lr=(0.5, 1.0), rho=(0.8, 0.95), eps=EPS),
        description="adadelta_step: trajectory",
        misconceptions=(
            _mistake(
                "the path matches Adadelta without the lr factor (the paper has none; torch multiplies by lr)",
                SEC_ADAPTIVE,
                "adadelta_step",
                _adadelta_no_lr,
            ),
            _mistake(
                "the path matches Adadelta dividing by E[g^2] from before this step's g^2 was added",
                SEC_ADAPTIVE,
                "adadelta_step",
                _adadelta_old_sq,
            ),
        ),
        **_TOL,
    ),
    Part(
        "rmsprop",
        2,
        "rmsprop",
        _inputs(lr=(0.01, 0.1), alpha=(0.8, 0.99), eps=EPS),
        description="rmsprop_step: trajectory (eps outside the square root)",
        misconceptions=(
            _mistake(
                "the path matches RMSProp with eps inside the square root: torch uses sqrt(a) + eps",
                SEC_ADAPTIVE,
                "rmsprop_step",
                _rmsprop_eps_inside,
            ),
            _mistake(
                "the path matches RMSProp with alpha and 1 - alpha swapped: a = alpha a + (1 - alpha) g^2",
                SEC_ADAPTIVE,
                "rmsprop_step",
                _rmsprop_alpha_swapped,
            ),
        ),
        **_TOL,
    ),
    Part(
        "adam",
        3,
        "adam",
        _inputs(lr=(0.02, 0.2), beta1=(0.7, 0.95), beta2=(0.9, 0.999), eps=EPS),
        compare=_either("adam"),
        description="adam_step: trajectory with bias correction (either documented eps placement)",
        misconceptions=(
            _mistake(
                "the path matches Adam without bias correction (divide m by 1 - beta1^t and v by 1 - beta2^t)",
                SEC_ADAM,
                "adam_step",
                _adam_no_bias_correction,
            ),
            _mistake(
                "the path matches Adam whose step counter t stays at 1 (keep t in the state and add 1 each step)",
                SEC_ADAM,
                "adam_step",
                _adam_t_stuck,
            ),
            _mistake(
                "the path matches Adam with eps inside the square root, sqrt(v_hat + eps)",
                SEC_ADAM,
                "adam_step",
                _adam_eps_inside,
            ),
            _mistake(
                "the path matches AdamW's decoupled decay (w - lr wd w): torch's Adam adds weight_decay * w "
                "to the gradient",
                SEC_ADAM,
                "adam_step",
                _adam_decoupled,
            ),
        ),
        **_TOL,
    ),
    Part(
        "adamax",
        2,
        "adamax",
        _inputs(lr=(0.02, 0.2), beta1=(0.7, 0.95), beta2=(0.9, 0.999), eps=EPS),
        compare=_either("adamax"),
        description="adamax_step: trajectory (eps in the max as torch, or added to u as Keras)",
        misconceptions=(
            _mistake(
                "the path matches AdaMax with u bias-corrected too: only m needs 1 - beta1^t",
                SEC_ADAM,
                "adamax_step",
                _adamax_bias_u,
            ),
            _mistake(
                "the path matches AdaMax without m's bias correction: u needs none, m still does",
                SEC_ADAM,
                "adamax_step",
                _adamax_no_bias_m,
            ),
        ),
        **_TOL,
    ),
    Part(
        "schedules",
        2,
        "schedules",
        _schedule_inputs,
        description="step, exponential, cosine and 1/t learning-rate schedules (t = 0 included)",
        misconceptions=(
            _mistake(
                "the cosine schedule matches cos(pi t / (2 T)), a quarter period: use (1 + cos(pi t / T)) / 2",
                SEC_SCHEDULES,
                "cosine_decay",
                _cosine_quarter,
            ),
            _mistake(
                "step decay matches gamma^(t / step_size) without the floor: the rate drops in steps",
                SEC_SCHEDULES,
                "step_decay",
                _step_no_floor,
            ),
            _mistake(
                "exponential decay matches lr0 gamma^(t + 1): t counts from 0 and the rate at t = 0 is lr0",
                SEC_SCHEDULES,
                "exponential_decay",
                _exponential_from_one,
            ),
        ),
        rtol=1e-9,
        atol=1e-12,
    ),
    Part(
        "warmup",
        2,
        "warmup",
        _warmup_inputs,
        description="linear warm-up, warm-up + cosine, and a momentum ramp (t = 0 included)",
        misconceptions=(
            _mistake(
                "the warm-up starts at 0 (lr0 t / warmup): at t = 0 the rate is start_factor lr0, never 0",
                SEC_SCHEDULES,
                "linear_warmup",
                _warmup_from_zero,
            ),
            _mistake(
                "warm-up + cosine matches a cosine whose clock starts at t = 0: after the warm-up use "
                "cosine_decay(lr0, t - warmup, total - warmup)",
                SEC_SCHEDULES,
                "warmup_cosine",
                _warmup_cosine_clock,
            ),
        ),
        rtol=1e-9,
        atol=1e-12,
    ),
    Part(
        "plateau",
        2,
        "plateau",
        _plateau_inputs,
        description="reduce-on-plateau: best so far, strict improvement, patience, min_lr",
        misconceptions=(
            _mistake(
                "the rate is cut one epoch too early (count >= patience): torch cuts when the count EXCEEDS patience",
                SEC_SCHEDULES,
                "reduce_on_plateau",
                _plateau_patience_ge,
            ),
            _mistake(
                "the losses are compared with the previous epoch's, not with the best so far",
                SEC_SCHEDULES,
                "reduce_on_plateau",
                _plateau_vs_previous,
            ),
            _mistake(
                "the count of bad epochs is not restarted after a cut (then every later epoch cuts again)",
                SEC_SCHEDULES,
                "reduce_on_plateau",
                _plateau_no_reset,
            ),
            _mistake(
                "the threshold is absolute (metric < best - threshold): it is relative, an improvement must be "
                "below best * (1 - threshold)",
                SEC_SCHEDULES,
                "reduce_on_plateau",
                _plateau_absolute_threshold,
            ),
            _mistake(
                "a loss EQUAL to the best is counted as an improvement: it must be strictly below "
                "best * (1 - threshold)",
                SEC_SCHEDULES,
                "reduce_on_plateau",
                _plateau_ties_improve,
            ),
        ),
        rtol=1e-9,
        atol=1e-12,
    ),
)

#: the value comparison of the parts with their own ``compare`` (their reasons come from it)
_PLAIN = {p.name: _replace(p, compare=None, misconceptions=()) for p in PARTS if p.compare is not None}
