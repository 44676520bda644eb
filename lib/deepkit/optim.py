"""First-order optimizers as pure update rules, and learning-rate (and momentum) schedules.

Every rule has the same signature::

    w_new, state_new = <rule>_step(w, dw, state, **hyper)

w:      parameters, float array of any shape (the weights of one layer, or a point on a 2-D surface).
dw:     the gradient of the loss at ``w``, same shape as ``w``.
state:  a dict of arrays the rule carries from one step to the next (velocity, squared-gradient averages,
        the step counter...). Pass an empty dict ``{}`` on the first call: the rule initialises what it needs.
hyper:  keyword hyper-parameters named as in ``torch.optim`` (``lr``, ``momentum``, ``alpha``, ``rho``,
        ``beta1``/``beta2`` for torch's ``betas``, ``eps``, ``weight_decay``). The defaults are torch's, except
        for SGD: torch's ``SGD`` has ``lr=1e-3`` and ``momentum=0``; here ``sgd_step`` defaults to ``lr=1e-2``
        and the two momentum rules to ``lr=1e-2, momentum=0.9`` (a momentum rule without momentum would be SGD).

A rule never modifies ``w``, ``dw`` or the arrays in ``state``: it returns new ones. With the same
hyper-parameters, ``w_new`` equals what ``torch.optim.<Rule>`` produces for a parameter ``w`` whose ``.grad``
is ``dw`` (float64). ``weight_decay`` is torch's L2 form: the gradient used is ``dw + weight_decay * w``.

The schedules at the end map a step (or epoch) number ``t`` to a learning rate, as torch's schedulers do:
``StepLR``, ``ExponentialLR``, ``CosineAnnealingLR``, the ``1/t`` decay of Adagrad's ``lr_decay``, ``LinearLR``
(a warm-up), warm-up followed by cosine annealing (``SequentialLR``), a linear momentum ramp, and
``ReduceLROnPlateau`` (which reads a sequence of validation losses instead of ``t``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deepkit.validate import as_float_array, check_int, check_positive, check_prob

State = dict
StepFn = Callable[..., "tuple[np.ndarray, State]"]


def _check_step(w, dw, state) -> tuple[np.ndarray, np.ndarray, State]:
    """Validate the common arguments of a step: float arrays of the same shape and a dict state."""
    w = as_float_array(w, "w")
    dw = as_float_array(dw, "dw")
    if dw.shape != w.shape:
        raise ValueError(f"dw must have the shape of w {w.shape}, got {dw.shape}")
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict (pass {{}} on the first step), got {type(state).__name__}")
    for key, value in state.items():
        if np.shape(value) not in ((), w.shape):
            raise ValueError(
                f"state[{key!r}] has shape {np.shape(value)}, expected w's shape {w.shape} "
                f"(or a scalar): was this state made for other parameters?"
            )
    return w, dw, state


def _check_adam_hyper(lr: float, beta1: float, beta2: float, eps: float, weight_decay: float) -> None:
    """The hyper-parameters Adam and AdaMax share: lr > 0, betas in [0, 1), eps > 0, weight_decay >= 0."""
    check_positive(lr, "lr")
    check_prob(beta1, "beta1", high_open=True)
    check_prob(beta2, "beta2", high_open=True)
    check_positive(eps, "eps")
    check_positive(weight_decay, "weight_decay", allow_zero=True)


def sgd_step(
    w: np.ndarray, dw: np.ndarray, state: State, lr: float = 1e-2, weight_decay: float = 0.0
) -> tuple[np.ndarray, State]:
    """Vanilla (stochastic) gradient descent: ``w_new = w - lr * g`` with ``g = dw + weight_decay * w``.

    w, dw: arrays of the same shape. state: unused, returned as a new empty dict.
    Returns (w_new of w's shape, {}). Matches ``torch.optim.SGD(lr=lr, weight_decay=weight_decay)``.
    """
    w, dw, state = _check_step(w, dw, state)
    check_positive(lr, "lr")
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    raise NotImplementedError("Exercise 07_optimizers: implement sgd_step in lib/deepkit/optim.py")


def sgd_momentum_step(
    w: np.ndarray, dw: np.ndarray, state: State, lr: float = 1e-2, momentum: float = 0.9, weight_decay: float = 0.0
) -> tuple[np.ndarray, State]:
    """SGD with (heavy-ball) momentum, torch's convention::

        v_new = momentum * v + g          (v = 0 before the first step, so v_1 = g)
        w_new = w - lr * v_new

    with ``g = dw + weight_decay * w``. State: ``{"v": velocity, w's shape}``.
    Returns (w_new, {"v": v_new}). Matches ``torch.optim.SGD(lr, momentum, dampening=0)``.
    ``momentum=0`` is a valid setting (not a missing one): it must give exactly ``sgd_step``'s path.

    Note: CS231n writes ``v = mu * v - lr * g; w = w + v``. With a constant learning rate the two give the
    same trajectory (the CS231n velocity is ``-lr`` times torch's); they differ only when ``lr`` changes during
    training, because torch's velocity does not carry the old learning rate.
    """
    w, dw, state = _check_step(w, dw, state)
    check_positive(lr, "lr")
    check_prob(momentum, "momentum", high_open=True)
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    raise NotImplementedError("Exercise 07_optimizers: implement sgd_momentum_step in lib/deepkit/optim.py")


def nesterov_step(
    w: np.ndarray, dw: np.ndarray, state: State, lr: float = 1e-2, momentum: float = 0.9, weight_decay: float = 0.0
) -> tuple[np.ndarray, State]:
    """Nesterov momentum in torch's form (the gradient is taken at the current ``w``)::

        v_new = momentum * v + g
        w_new = w - lr * (g + momentum * v_new)

    with ``g = dw + weight_decay * w``. This is the look-ahead method ``v' = mu v - lr grad f(w + mu v)``
    rewritten in the variable ``w~ = w + mu v`` (derivation in the lecture), so ``dw`` is the gradient at the
    point you store. State: ``{"v"}``. Matches ``torch.optim.SGD(lr, momentum, nesterov=True)``.
    ``momentum=0`` must give exactly ``sgd_step``'s path.
    """
    w, dw, state = _check_step(w, dw, state)
    check_positive(lr, "lr")
    check_prob(momentum, "momentum", high_open=True)
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    raise NotImplementedError("Exercise 07_optimizers: implement nesterov_step in lib/deepkit/optim.py")


def adagrad_step(
    w: np.ndarray, dw: np.ndarray, state: State, lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0
) -> tuple[np.ndarray, State]:
    """Adagrad: a per-coordinate learning rate shrinking with the sum of all past squared gradients::

        s_new = s + g**2                  (s = 0 before the first step; it is never reset)
        w_new = w - lr * g / (sqrt(s_new) + eps)

    State: ``{"sum_sq": s}``. Matches ``torch.optim.Adagrad(lr, eps=eps, weight_decay)`` (lr_decay=0).
    """
    w, dw, state = _check_step(w, dw, state)
    check_positive(lr, "lr")
    check_positive(eps, "eps")
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    raise NotImplementedError("Exercise 07_optimizers: implement adagrad_step in lib/deepkit/optim.py")


def adadelta_step(
    w: np.ndarray,
    dw: np.ndarray,
    state: State,
    lr: float = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
) -> tuple[np.ndarray, State]:
    """Adadelta: the step has the units of ``w``, a ratio of two running RMS values::

        E[g2]_new  = rho * E[g2] + (1 - rho) * g**2
        delta      = sqrt(E[dx2] + eps) / sqrt(E[g2]_new + eps) * g
        E[dx2]_new = rho * E[dx2] + (1 - rho) * delta**2
        w_new      = w - lr * delta

    (eps inside both square roots; both averages start at 0.) State: ``{"sq_avg", "delta_avg"}``.
    Matches ``torch.optim.Adadelta(lr, rho, eps, weight_decay)``; the original paper has no lr (lr = 1).
    """
    w, dw, state = _check_step(w, dw, state)
    check_positive(lr, "lr")
    check_prob(rho, "rho")
    check_positive(eps, "eps")
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    raise NotImplementedError("Exercise 07_optimizers: implement adadelta_step in lib/deepkit/optim.py")


def rmsprop_step(
    w: np.ndarray,
    dw: np.ndarray,
    state: State,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> tuple[np.ndarray, State]:
    """RMSProp: Adagrad with a leaky (exponentially decaying) average of squared gradients::

        a_new = alpha * a + (1 - alpha) * g**2     (a = 0 before the first step)
        w_new = w - lr * g / (sqrt(a_new) + eps)   (eps OUTSIDE the square root, as torch)

    ``alpha`` is torch's name for CS231n's ``decay_rate``. State: ``{"sq_avg"}``.
    Matches ``torch.optim.RMSprop(lr, alpha, eps, weight_decay)`` (momentum=0, centered=False).
    """
    w, dw, state = _check_step(w, dw, state)
    check_positive(lr, "lr")
    check_prob(alpha, "alpha")
    check_positive(eps, "eps")
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    raise NotImplementedError("Exercise 07_optimizers: implement rmsprop_step in lib/deepkit/optim.py")


def adam_step(
    w: np.ndarray,
    dw: np.ndarray,
    state: State,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> tuple[np.ndarray, State]:
    """Adam with bias correction (t counts steps from 1)::

        m_new = beta1 * m + (1 - beta1) * g        v_new = beta2 * v + (1 - beta2) * g**2
        m_hat = m_new / (1 - beta1**t)             v_hat = v_new / (1 - beta2**t)
        w_new = w - lr * m_hat / (sqrt(v_hat) + eps)

    State: ``{"m", "v", "t"}`` (t a 0-d array, the number of steps taken so far, 0 when absent).
    Matches ``torch.optim.Adam(lr, betas=(beta1, beta2), eps, weight_decay)`` (amsgrad=False): this is
    Algorithm 1 of Kingma & Ba (2015). Their section 2 also gives an "efficient" form with the same name eps,
    ``lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)``, ``w_new = w - lr_t * m_new / (sqrt(v_new) + eps)``
    (TensorFlow's "epsilon hat"): it differs from Algorithm 1 only where eps sits (its eps acts like
    ``eps * sqrt(1 - beta2**t)`` in Algorithm 1). Both forms are accepted by the checks; eps INSIDE the square
    root is neither and is not.
    """
    w, dw, state = _check_step(w, dw, state)
    _check_adam_hyper(lr, beta1, beta2, eps, weight_decay)
    raise NotImplementedError("Exercise 07_optimizers: implement adam_step in lib/deepkit/optim.py")


def adamax_step(
    w: np.ndarray,
    dw: np.ndarray,
    state: State,
    lr: float = 2e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> tuple[np.ndarray, State]:
    """AdaMax: Adam with the infinity norm in place of the RMS::

        m_new = beta1 * m + (1 - beta1) * g
        u_new = max(beta2 * u, |g| + eps)           (elementwise; u = 0 before the first step)
        w_new = w - lr / (1 - beta1**t) * m_new / u_new

    Only ``m`` needs a bias correction: a max is not pulled towards its zero start like an average.
    State: ``{"m", "u", "t"}``. Matches ``torch.optim.Adamax(lr, betas=(beta1, beta2), eps, weight_decay)``.
    """
    w, dw, state = _check_step(w, dw, state)
    _check_adam_hyper(lr, beta1, beta2, eps, weight_decay)
    raise NotImplementedError("Exercise 07_optimizers: implement adamax_step in lib/deepkit/optim.py")


OPTIMIZERS: dict[str, StepFn] = {
    "sgd": sgd_step,
    "sgd_momentum": sgd_momentum_step,
    "nesterov": nesterov_step,
    "adagrad": adagrad_step,
    "adadelta": adadelta_step,
    "rmsprop": rmsprop_step,
    "adam": adam_step,
    "adamax": adamax_step,
}


# ----------------------------------------------------------------------------------------------------------
# Learning-rate schedules: t is a step or epoch number >= 0 (an int or an integer array); each returns the
# learning rate to use at t (a float, or an array of t's shape).


def _check_t(t) -> np.ndarray:
    arr = np.asarray(t)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"t must be an integer step number (or an array of them), got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"t must be >= 0, got {arr.min()}")
    return arr


def _out(x: np.ndarray):
    return float(x) if np.ndim(x) == 0 else x


def step_decay(lr0: float, t, step_size: int, gamma: float = 0.1):
    """Step decay: ``lr0 * gamma ** floor(t / step_size)`` (torch ``StepLR``; t counts epochs from 0, so
    ``step_decay(lr0, 0, ...) == lr0``)."""
    t = _check_t(t)
    check_positive(lr0, "lr0")
    step_size = check_int(step_size, "step_size", minimum=1)
    check_positive(gamma, "gamma")
    raise NotImplementedError("Exercise 07_optimizers: implement step_decay in lib/deepkit/optim.py")


def exponential_decay(lr0: float, t, gamma: float = 0.95):
    """Exponential decay: ``lr0 * gamma ** t`` (torch ``ExponentialLR``)."""
    t = _check_t(t)
    check_positive(lr0, "lr0")
    check_positive(gamma, "gamma")
    raise NotImplementedError("Exercise 07_optimizers: implement exponential_decay in lib/deepkit/optim.py")


def cosine_decay(lr0: float, t, total: int, lr_min: float = 0.0):
    """Cosine annealing from ``lr0`` at t = 0 to ``lr_min`` at t = total, constant ``lr_min`` after::

        lr_min + (lr0 - lr_min) * (1 + cos(pi * min(t, total) / total)) / 2

    (torch ``CosineAnnealingLR(T_max=total, eta_min=lr_min)`` for t <= total; torch goes back up after.)
    """
    t = _check_t(t)
    check_positive(lr0, "lr0")
    total = check_int(total, "total", minimum=1)
    check_positive(lr_min, "lr_min", allow_zero=True)
    raise NotImplementedError("Exercise 07_optimizers: implement cosine_decay in lib/deepkit/optim.py")


def inverse_time_decay(lr0: float, t, k: float = 0.01):
    """1/t decay: ``lr0 / (1 + k * t)`` (torch Adagrad's ``lr_decay``; ``LambdaLR(lambda t: 1 / (1 + k t))``)."""
    t = _check_t(t)
    check_positive(lr0, "lr0")
    check_positive(k, "k", allow_zero=True)
    raise NotImplementedError("Exercise 07_optimizers: implement inverse_time_decay in lib/deepkit/optim.py")


def linear_warmup(lr0: float, t, warmup: int, start_factor: float = 0.1):
    """Linear warm-up from ``start_factor * lr0`` at t = 0 to ``lr0`` at t = warmup, constant ``lr0`` after::

        lr0 * (start_factor + (1 - start_factor) * min(t, warmup) / warmup)

    (torch ``LinearLR(start_factor, end_factor=1.0, total_iters=warmup)``). At t = 0 the rate is
    ``start_factor * lr0``, never 0: ``start_factor`` is in (0, 1], as torch requires (a first step with rate 0
    would do nothing).
    """
    t = _check_t(t)
    check_positive(lr0, "lr0")
    warmup = check_int(warmup, "warmup", minimum=1)
    start_factor = check_prob(start_factor, "start_factor", low_open=True)
    raise NotImplementedError("Exercise 07_optimizers: implement linear_warmup in lib/deepkit/optim.py")


def warmup_cosine(lr0: float, t, warmup: int, total: int, start_factor: float = 0.1, lr_min: float = 0.0):
    """Linear warm-up for ``warmup`` steps, then cosine annealing to ``lr_min`` at t = total (constant after)::

        t <  warmup:  linear_warmup(lr0, t, warmup, start_factor)
        t >= warmup:  cosine_decay(lr0, t - warmup, total - warmup, lr_min)     (lr0 exactly at t = warmup)

    The schedule of most transformer trainings; torch: ``SequentialLR([LinearLR(start_factor,
    total_iters=warmup), CosineAnnealingLR(T_max=total - warmup, eta_min=lr_min)], milestones=[warmup])``
    (for t <= total). Needs total > warmup.
    """
    t = _check_t(t)
    check_positive(lr0, "lr0")
    warmup = check_int(warmup, "warmup", minimum=1)
    total = check_int(total, "total", minimum=warmup + 1)
    start_factor = check_prob(start_factor, "start_factor", low_open=True)
    check_positive(lr_min, "lr_min", allow_zero=True)
    raise NotImplementedError("Exercise 07_optimizers: implement warmup_cosine in lib/deepkit/optim.py")


def momentum_ramp(t, ramp: int, mu0: float = 0.5, mu1: float = 0.99):
    """A momentum schedule: ``mu0`` at t = 0, rising linearly to ``mu1`` at t = ramp, constant ``mu1`` after::

        mu0 + (mu1 - mu0) * min(t, ramp) / ramp

    (the CS231n advice: start near 0.5, anneal to 0.99 over some epochs). Feed it to ``sgd_momentum_step``'s
    ``momentum`` at every step; torch's ``SGD`` reads ``param_groups[0]["momentum"]`` at each ``step()``.
    """
    t = _check_t(t)
    ramp = check_int(ramp, "ramp", minimum=1)
    check_prob(mu0, "mu0", high_open=True)
    check_prob(mu1, "mu1", high_open=True)
    raise NotImplementedError("Exercise 07_optimizers: implement momentum_ramp in lib/deepkit/optim.py")


def reduce_on_plateau(
    lr0: float, metrics, factor: float = 0.1, patience: int = 10, threshold: float = 1e-4, min_lr: float = 0.0
) -> np.ndarray:
    """The learning rates ``torch.optim.lr_scheduler.ReduceLROnPlateau`` (mode "min", relative threshold,
    no cooldown) sets when it is given the validation losses ``metrics`` one epoch at a time.

    metrics: 1-D array of K losses (lower is better). Returns an array of K + 1 rates: ``lrs[0] = lr0`` (before
    any epoch), ``lrs[k + 1]`` the rate after seeing ``metrics[k]``. The rule, epoch by epoch, starting with
    ``best = inf`` and a count of bad epochs of 0:

    * an epoch IMPROVES when ``metric < best * (1 - threshold)`` (strictly: a loss equal to the best, or better
      by less than the relative threshold, is not an improvement); then ``best = metric`` and the count is 0,
      otherwise the count goes up by 1 (``best`` is the best loss so far, not the previous one);
    * when the count EXCEEDS ``patience`` (count > patience, so patience=2 allows two bad epochs and cuts on the
      third), the rate becomes ``max(lr * factor, min_lr)`` and the count restarts at 0.

    (torch also skips a cut smaller than 1e-8; with these settings that never matters.)
    """
    check_positive(lr0, "lr0")
    metrics = as_float_array(metrics, "metrics", ndim=1)
    check_prob(factor, "factor", low_open=True, high_open=True)
    patience = check_int(patience, "patience", minimum=0)
    check_prob(threshold, "threshold", high_open=True)
    check_positive(min_lr, "min_lr", allow_zero=True)
    raise NotImplementedError("Exercise 07_optimizers: implement reduce_on_plateau in lib/deepkit/optim.py")


SCHEDULES: dict[str, Callable] = {
    "step": step_decay,
    "exponential": exponential_decay,
    "cosine": cosine_decay,
    "inverse_time": inverse_time_decay,
    "warmup": linear_warmup,
    "warmup_cosine": warmup_cosine,
}


def run(
    step: StepFn | str,
    grad: Callable[[np.ndarray], np.ndarray],
    w0: np.ndarray,
    steps: int,
    schedule: Callable[[int], float] | None = None,
    **hyper,
) -> np.ndarray:
    """Run an optimizer from ``w0`` for ``steps`` steps (given helper, used by lectures and widgets).

    step: a step function or a name in OPTIMIZERS; grad: w -> dL/dw (same shape);
    schedule: optional t -> lr (t = 0, 1, ...) overriding ``hyper["lr"]`` at every step.
    Returns the trajectory, shape (steps + 1, *w0.shape), starting with w0. If the iterate overflows, the
    remaining rows are NaN (so plots simply stop there).
    """
    step = OPTIMIZERS[step] if isinstance(step, str) else step
    w = as_float_array(w0, "w0")
    steps = check_int(steps, "steps", minimum=0)
    out = np.full((steps + 1,) + w.shape, np.nan)
    out[0] = w
    state: State = {}
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            if schedule is not None:
                hyper["lr"] = schedule(t)
            g = np.asarray(grad(w), dtype=np.float64)
            if not np.isfinite(g).all():
                break
            w_new, state = step(w, g, state, **hyper)
            if not np.abs(w_new).max(initial=0.0) < 1e8:  # also False for NaN: a diverged run stops here
                break
            out[t + 1] = w = w_new
    return out
