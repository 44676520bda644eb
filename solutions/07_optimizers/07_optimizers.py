# %% [markdown]
# # Exercise 07: optimizers as pure update rules
# Each optimizer is a **pure function** `w_new, state_new = <rule>_step(w, dw, state, **hyper)`: it takes the
# parameters, their gradient and the optimizer's state (a dict of arrays, `{}` before the first step) and returns
# new ones without modifying its inputs. The capstone's `Solver` calls these functions, one state per parameter.
#
# You implement the eight rules, seven learning-rate schedules and a momentum schedule in `lib/deepkit/optim.py`.
# Every test below runs three steps from $w = (1, -2)$ with fixed gradients and compares with numbers produced by
# `torch.optim`; when a test fails it shows the expected path next to yours and a hint. The hidden checks run 30
# steps on random noisy quadratics and compare the whole trajectory, with large $\epsilon$ (so where $\epsilon$
# sits matters), with momentum exactly 0 (it must give plain SGD), and every schedule also at $t = 0$.

# %%
# Setup (run me first): import YOUR deepkit from the nearest lib/ folder and reload it when you edit it.
# %load_ext autoreload
# %autoreload 2
import sys
from pathlib import Path

import numpy as np

_here = Path.cwd().resolve()
_name = "reference" if _here.parent.name == "solutions" else "lib"  # an instructor's source notebook: the reference
LIB = next(p / _name for p in (_here, *_here.parents) if (p / _name / "deepkit" / "__init__.py").is_file())
sys.path.insert(0, str(LIB))
from deepkit.gradcheck import check_gradient, rel_error
from deepkit.testing import assert_close


def hidden_check(part: str) -> None:
    """Marks where the autograder's hidden checks for `part` run: on your lib/, in a sandbox, not here."""


print("using deepkit from", LIB)

# %% nbgrader={"grade": false, "grade_id": "helpers", "locked": true, "schema_version": 3, "solution": false, "task": false}
W0 = np.array([1.0, -2.0])
GRADS = [np.array([0.5, -1.0]), np.array([0.3, 0.2]), np.array([-0.4, 0.6])]


def run_steps(step, **hyper):
    """Three steps of `step` from W0 with GRADS; checks that no input is modified. Returns (3, 2)."""
    w, state, path = W0.copy(), {}, []
    for g in GRADS:
        w_in, g_in = w.copy(), g.copy()
        s_in = {k: np.array(v, copy=True) for k, v in state.items()}
        w_new, state_new = step(w, g, state, **hyper)
        assert np.array_equal(w, w_in) and np.array_equal(g, g_in), "the step modified w or dw in place"
        assert state.keys() == s_in.keys() and all(np.array_equal(state[k], s_in[k]) for k in state), (
            "the step modified the state it was given; return a new dict with new arrays"
        )
        assert isinstance(state_new, dict), f"state must be a dict, got {type(state_new).__name__}"
        w, state = np.asarray(w_new), state_new
        path.append(w)
    return np.array(path)


# %% [markdown]
# ## 1. SGD  (1 point)
# Implement `sgd_step` in `lib/deepkit/optim.py`: with $g = \nabla L(w) + \lambda w$ (torch's `weight_decay`
# $\lambda$), return `(w - lr * g, {})`. Return a **new** array: never write into `w`, `dw` or `state`.

# %% nbgrader={"grade": true, "grade_id": "sgd", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.optim import sgd_step

path = run_steps(sgd_step, lr=0.1, weight_decay=0.1)
expected = np.array(
    [[0.94, -1.88], [0.9006, -1.8812], [0.931594, -1.922388]]
)  # torch.optim.SGD(lr=0.1, weight_decay=0.1)
assert_close(
    path,
    expected,
    "w after steps 1, 2, 3",
    rtol=1e-8,
    atol=1e-9,
    hint="the gradient used is dw + weight_decay * w; return (w - lr * g, {})",
)
print("sgd_step: ok")
### BEGIN HIDDEN TESTS
hidden_check("sgd")
### END HIDDEN TESTS

# %% [markdown]
# ## 2. SGD with momentum  (2 points)
# Implement `sgd_momentum_step` with torch's convention: $v_{t} = \mu v_{t-1} + g_t$ (with $v_0 = 0$),
# $w_{t} = w_{t-1} - \text{lr}\, v_t$. The velocity lives in the returned state, e.g. `{"v": v}`; on the first call
# `state` is `{}`. (CS231n writes $v = \mu v - \text{lr}\, g$, $w \mathrel{+}= v$: the same path for a constant
# learning rate, but not the torch convention the tests use.)

# %% nbgrader={"grade": true, "grade_id": "sgd_momentum", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.optim import sgd_momentum_step

path = run_steps(sgd_momentum_step, lr=0.1, momentum=0.9, weight_decay=0.1)
expected = np.array(
    [[0.94, -1.88], [0.8466, -1.7732], [0.794074, -1.719348]]
)  # torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.1)
assert_close(
    path,
    expected,
    "w after steps 1, 2, 3",
    rtol=1e-8,
    atol=1e-9,
    hint="torch's convention: v = momentum * v + g (v starts at 0), w_new = w - lr * v; keep v in the returned state",
)
assert_close(
    run_steps(sgd_momentum_step, lr=0.1, momentum=0.0, weight_decay=0.1),
    run_steps(sgd_step, lr=0.1, weight_decay=0.1),
    "w with momentum = 0",
    hint="momentum 0 is a valid setting and must give exactly plain SGD (no `momentum or 0.9`)",
)
print("sgd_momentum_step: ok")
### BEGIN HIDDEN TESTS
hidden_check("sgd_momentum")
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Nesterov momentum  (2 points)
# Implement `nesterov_step` in torch's form, where `dw` is the gradient at the stored point:
# $v_t = \mu v_{t-1} + g_t$, $\;w_t = w_{t-1} - \text{lr}\,(g_t + \mu v_t)$. The lecture derives it from the
# look-ahead form. Plain momentum will not pass.

# %% nbgrader={"grade": true, "grade_id": "nesterov", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.optim import nesterov_step

path = run_steps(nesterov_step, lr=0.1, momentum=0.9, weight_decay=0.1)
expected = np.array(
    [[0.886, -1.772], [0.763566, -1.679132], [0.749841646, -1.675595292]]
)  # torch.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)
assert_close(
    path,
    expected,
    "w after steps 1, 2, 3",
    rtol=1e-8,
    atol=1e-9,
    hint="v_new = momentum * v + g, then w_new = w - lr * (g + momentum * v_new)",
)
print("nesterov_step: ok")
### BEGIN HIDDEN TESTS
hidden_check("nesterov")
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Adagrad  (2 points)
# Implement `adagrad_step`: $s_t = s_{t-1} + g_t^2$ (the accumulator is never reset),
# $w_t = w_{t-1} - \text{lr}\, g_t / (\sqrt{s_t} + \epsilon)$.

# %% nbgrader={"grade": true, "grade_id": "adagrad", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.optim import adagrad_step

path = run_steps(adagrad_step, lr=0.5, eps=0.1, weight_decay=0.1)
expected = np.array(
    [[0.5714285714, -1.5384615385], [0.3477245242, -1.5562009107], [0.5533709330, -1.7171532951]]
)  # torch.optim.Adagrad(lr=0.5, eps=0.1, weight_decay=0.1)
assert_close(
    path,
    expected,
    "w after steps 1, 2, 3",
    rtol=1e-8,
    atol=1e-9,
    hint="s adds up g**2 over ALL steps (keep it in the state); eps is added to sqrt(s), not inside the root",
)
print("adagrad_step: ok")
### BEGIN HIDDEN TESTS
hidden_check("adagrad")
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Adadelta  (2 points)
# Implement `adadelta_step` (see its docstring): $E[g^2]_t = \rho E[g^2]_{t-1} + (1-\rho) g_t^2$,
# $\Delta_t = \frac{\sqrt{E[\Delta^2]_{t-1} + \epsilon}}{\sqrt{E[g^2]_t + \epsilon}}\, g_t$,
# $E[\Delta^2]_t = \rho E[\Delta^2]_{t-1} + (1-\rho)\Delta_t^2$, $\;w_t = w_{t-1} - \text{lr}\,\Delta_t$.

# %% nbgrader={"grade": true, "grade_id": "adadelta", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.optim import adadelta_step

path = run_steps(adadelta_step, lr=1.0, rho=0.9, eps=0.1, weight_decay=0.1)
expected = np.array(
    [[0.4855042446, -1.2317787204], [0.1594774979, -1.2956291614], [0.5173504682, -1.6724319349]]
)  # torch.optim.Adadelta(lr=1.0, rho=0.9, eps=0.1, weight_decay=0.1)
assert_close(
    path,
    expected,
    "w after steps 1, 2, 3",
    rtol=1e-8,
    atol=1e-9,
    hint="eps inside BOTH square roots; the numerator uses E[dx^2] from before this step; multiply the step by lr",
)
print("adadelta_step: ok")
### BEGIN HIDDEN TESTS
hidden_check("adadelta")
### END HIDDEN TESTS

# %% [markdown]
# ## 6. RMSProp  (2 points)
# Implement `rmsprop_step`: $a_t = \alpha a_{t-1} + (1-\alpha) g_t^2$,
# $w_t = w_{t-1} - \text{lr}\, g_t / (\sqrt{a_t} + \epsilon)$. Note where $\epsilon$ goes: **outside** the square
# root, as in torch (the tests use a large $\epsilon$, so the other placement fails).

# %% nbgrader={"grade": true, "grade_id": "rmsprop", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.optim import rmsprop_step

path = run_steps(rmsprop_step, lr=0.1, alpha=0.9, eps=0.1, weight_decay=0.1)
expected = np.array(
    [[0.7929154009, -1.7497253858], [0.6730007293, -1.7551651096], [0.7736358165, -1.8460540388]]
)  # torch.optim.RMSprop(lr=0.1, alpha=0.9, eps=0.1, weight_decay=0.1)
assert_close(
    path,
    expected,
    "w after steps 1, 2, 3",
    rtol=1e-8,
    atol=1e-9,
    hint="a = alpha * a + (1 - alpha) * g**2, then divide by sqrt(a) + eps (eps outside the root)",
)
print("rmsprop_step: ok")
### BEGIN HIDDEN TESTS
hidden_check("rmsprop")
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Adam  (3 points)
# Implement `adam_step` with bias correction: $m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t$,
# $v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2$, $\hat m_t = m_t / (1-\beta_1^t)$, $\hat v_t = v_t/(1-\beta_2^t)$,
# $w_t = w_{t-1} - \text{lr}\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)$. The step counter $t$ (1 on the first step)
# must live in the state. (The paper's other form, $\text{lr}_t = \text{lr}\sqrt{1-\beta_2^t}/(1-\beta_1^t)$ and
# $w_t = w_{t-1} - \text{lr}_t\, m_t/(\sqrt{v_t} + \epsilon)$, is accepted by the hidden checks too; the visible test
# below follows torch. $\epsilon$ inside the square root is neither.)

# %% nbgrader={"grade": true, "grade_id": "adam", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
from deepkit.optim import adam_step

path = run_steps(adam_step, lr=0.1, beta1=0.8, beta2=0.9, eps=0.1, weight_decay=0.1)
expected = np.array(
    [[0.9142857143, -1.9076923077], [0.8337542663, -1.8506460223], [0.8049880351, -1.8329993700]]
)  # torch.optim.Adam(lr=0.1, betas=(0.8, 0.9), eps=0.1, weight_decay=0.1)
assert_close(
    path,
    expected,
    "w after steps 1, 2, 3",
    rtol=1e-8,
    atol=1e-9,
    hint="t = 1 on the first step (keep t in the state); m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t); eps added to sqrt(v_hat)",
)
print("adam_step: ok")
### BEGIN HIDDEN TESTS
hidden_check("adam")
### END HIDDEN TESTS

# %% [markdown]
# ## 8. AdaMax  (2 points)
# Implement `adamax_step`: $m_t$ as in Adam, $u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon)$ (elementwise, as torch),
# $w_t = w_{t-1} - \frac{\text{lr}}{1-\beta_1^t}\, m_t / u_t$. Only $m$ is bias-corrected. (Keras adds $\epsilon$ to $u_t$
# instead, $u_t = \max(\beta_2 u_{t-1}, |g_t|)$ and $m_t / (u_t + \epsilon)$: the hidden checks accept that too.)

# %% nbgrader={"grade": true, "grade_id": "adamax", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.optim import adamax_step

path = run_steps(adamax_step, lr=0.1, beta1=0.8, beta2=0.9, eps=0.1, weight_decay=0.1)
expected = np.array(
    [[0.9142857143, -1.9076923077], [0.8374401612, -1.8625465702], [0.8099090894, -1.8490461094]]
)  # torch.optim.Adamax(lr=0.1, betas=(0.8, 0.9), eps=0.1, weight_decay=0.1)
assert_close(
    path,
    expected,
    "w after steps 1, 2, 3",
    rtol=1e-8,
    atol=1e-9,
    hint="u = max(beta2 * u, |g| + eps); only m is bias-corrected: lr / (1 - beta1**t) * m / u",
)
print("adamax_step: ok")
### BEGIN HIDDEN TESTS
hidden_check("adamax")
### END HIDDEN TESTS

# %% [markdown]
# ## 9. Learning-rate schedules  (2 points)
# Implement `step_decay`, `exponential_decay`, `cosine_decay` and `inverse_time_decay`. Each takes the initial
# rate `lr0` and a step number `t` (an int, or an integer array: then return an array of rates):
#
# | schedule | formula | torch |
# |---|---|---|
# | step | $\text{lr}_0\,\gamma^{\lfloor t / s \rfloor}$ | `StepLR(step_size=s, gamma)` |
# | exponential | $\text{lr}_0\,\gamma^{t}$ | `ExponentialLR(gamma)` |
# | cosine | $\text{lr}_{\min} + (\text{lr}_0 - \text{lr}_{\min})\frac{1 + \cos(\pi \min(t, T)/T)}{2}$ | `CosineAnnealingLR(T, eta_min)` |
# | 1/t | $\text{lr}_0 / (1 + k t)$ | Adagrad's `lr_decay` |

# %% nbgrader={"grade": true, "grade_id": "schedules", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.optim import cosine_decay, exponential_decay, inverse_time_decay, step_decay

t = np.arange(8)
assert_close(
    step_decay(0.2, t, 3, 0.5),
    [0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05],
    "step_decay",
    hint="gamma ** (t // step_size)",
)
assert_close(
    exponential_decay(0.2, t[:4], 0.9), [0.2, 0.18, 0.162, 0.1458], "exponential_decay", hint="t = 0 gives lr0"
)
assert_close(
    cosine_decay(0.2, t[:5], 4),
    [0.2, 0.170710678119, 0.1, 0.029289321881, 0.0],
    "cosine_decay",
    hint="(1 + cos(pi * min(t, T) / T)) / 2: half a period from lr0 down to lr_min",
)
assert_close(cosine_decay(0.2, 10, 4, lr_min=0.01), 0.01, "cosine_decay after T", hint="stay at lr_min after T")
assert_close(inverse_time_decay(0.2, t[:4], 0.5), [0.2, 0.133333333333, 0.1, 0.08], "inverse_time_decay")
assert isinstance(step_decay(0.2, 4, 3, 0.5), float), "a scalar t gives a float"
print("schedules: ok")
### BEGIN HIDDEN TESTS
hidden_check("schedules")
### END HIDDEN TESTS

# %% [markdown]
# ## 10. Warm-up, warm-up + cosine, and a momentum schedule  (2 points)
# Implement `linear_warmup`, `warmup_cosine` and `momentum_ramp` (docstrings in `optim.py`):
#
# | schedule | formula | torch |
# |---|---|---|
# | warm-up | $\text{lr}_0\,\big(f + (1-f)\min(t, W)/W\big)$ | `LinearLR(start_factor=f, total_iters=W)` |
# | warm-up + cosine | warm-up for $t < W$, then `cosine_decay(lr0, t - W, T - W, lr_min)` | `SequentialLR([LinearLR, CosineAnnealingLR], [W])` |
# | momentum ramp | $\mu_0 + (\mu_1 - \mu_0)\min(t, R)/R$ | set `param_groups[0]["momentum"]` each step |
#
# Before you code, derive from the formulas (a comment in your code is enough): the rate at $t = 0$ and at
# $t = W$, and why warm-up + cosine is continuous at $t = W$.

# %% nbgrader={"grade": true, "grade_id": "warmup", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.optim import linear_warmup, momentum_ramp, warmup_cosine

t = np.arange(8)
assert_close(
    linear_warmup(0.2, t[:6], 4, 0.25),
    [0.05, 0.0875, 0.125, 0.1625, 0.2, 0.2],
    "linear_warmup",
    hint="at t = 0 the rate is start_factor * lr0 (not 0); it reaches lr0 at t = warmup and stays there",
)  # torch LinearLR(start_factor=0.25, total_iters=4)
assert_close(
    warmup_cosine(0.2, t, 2, 6, 0.5, 0.02),
    [0.1, 0.15, 0.2, 0.1736396103, 0.11, 0.0463603897, 0.02, 0.02],
    "warmup_cosine",
    hint="after the warm-up the cosine's clock starts again: cosine_decay(lr0, t - warmup, total - warmup, lr_min)",
)
assert_close(momentum_ramp(t[:6], 4, 0.5, 0.9), [0.5, 0.6, 0.7, 0.8, 0.9, 0.9], "momentum_ramp")
assert isinstance(linear_warmup(0.2, 0, 4), float), "a scalar t gives a float"
print("warm-up schedules: ok")
### BEGIN HIDDEN TESTS
hidden_check("warmup")
### END HIDDEN TESTS

# %% [markdown]
# ## 11. Reduce the learning rate on a plateau  (2 points)
# Implement `reduce_on_plateau(lr0, metrics, factor, patience, threshold, min_lr)`: given the validation losses of
# $K$ epochs, return the $K + 1$ rates torch's `ReduceLROnPlateau` (mode "min", relative threshold) would set:
# `lrs[0] = lr0`, `lrs[k + 1]` after seeing `metrics[k]`. Read the docstring carefully: an epoch improves only
# when its loss is **strictly** below `best * (1 - threshold)` (a tie with the best is a bad epoch), `best` is the
# best loss so far, the rate is cut when the number of bad epochs **exceeds** `patience`, and the count restarts
# after a cut.

# %% nbgrader={"grade": true, "grade_id": "plateau", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.optim import reduce_on_plateau

losses = [1.0, 0.8, 0.8, 0.79, 0.81, 0.6, 0.6, 0.6, 0.6, 0.59]
assert_close(
    reduce_on_plateau(0.1, losses, factor=0.5, patience=1, threshold=0.05),
    [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.0125],
    "lrs (patience 1, threshold 5%)",
    hint="0.79 is not better than 0.8 * (1 - 0.05); a cut comes when the count of bad epochs EXCEEDS patience",
)  # torch ReduceLROnPlateau(factor=0.5, patience=1, threshold=0.05)
assert_close(
    reduce_on_plateau(0.1, losses, factor=0.5, patience=0, threshold=0.0, min_lr=0.02),
    [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02],
    "lrs (patience 0, min_lr 0.02)",
    hint="a loss EQUAL to the best is not an improvement; the rate never goes below min_lr",
)
print("reduce_on_plateau: ok")
### BEGIN HIDDEN TESTS
hidden_check("plateau")
### END HIDDEN TESTS

# %% [markdown]
# ## Try them (not graded)
# Your optimizers on the Rosenbrock valley, with `deepkit.optim.run` (a given helper that calls your step
# function). Which ones reach the minimum at (1, 1) in 300 steps?

# %%
import matplotlib.pyplot as plt
from deepkit import optim, surfaces

s = surfaces.get("rosenbrock")
lrs = dict(sgd=1e-3, sgd_momentum=1e-3, nesterov=1e-3, adagrad=1.0, adadelta=5.0, rmsprop=3e-2, adam=0.3, adamax=0.3)
X, Y, Z = s.grid(80)
fig, ax = plt.subplots(figsize=(6, 4.5))
ax.contour(X, Y, Z, levels=np.logspace(-1, 3.5, 12), cmap="Greys", linewidths=0.6)
for name, lr in lrs.items():
    try:
        path = optim.run(name, s.gradient, np.array(s.start), 300, lr=lr)
    except NotImplementedError:
        continue
    ax.plot(path[:, 0], path[:, 1], label=f"{name}: f = {s.f(*path[-1]):.2g}")
ax.plot(*s.minimum, "y*", ms=12)
ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# ## Question (1 point, graded by hand): Adam, loss scale and weight decay
# (a) Show that multiplying the loss by a constant $c > 0$ leaves Adam's steps unchanged (up to $\epsilon$), while
# SGD's steps are multiplied by $c$.
# (b) A weight $w > 0$ whose loss gradient is exactly 0 is trained with torch's `Adam(lr=η, weight_decay=λ)`, which
# adds $\lambda w$ to the gradient. After many steps, how much does $w$ shrink per step, and how does that depend on
# $\lambda$? Compare with `AdamW`, which subtracts $\eta\lambda w$ from $w$ directly, and with SGD + L2. Which of the
# two Adam variants behaves like L2 regularisation does with SGD?

# %% [markdown] nbgrader={"grade": true, "grade_id": "adam_scale_question", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader; the release shows "YOUR ANSWER HERE".) (a) With the loss $cL$ every gradient is
# $c\,g$, so $m_t \to c\,m_t$ and $v_t \to c^2 v_t$ (the bias corrections do not depend on $g$), and the step is
# $\eta\,c\hat m/(c\sqrt{\hat v} + \epsilon) = \eta\,\hat m/(\sqrt{\hat v} + \epsilon/c)$: unchanged as long as
# $\epsilon \ll c\sqrt{\hat v}$. SGD's step $\eta\,c\,g$ is $c$ times larger. (b) `Adam(weight_decay=λ)`: the gradient
# is $g = \lambda w$, so $\hat m \approx \lambda w$ and $\sqrt{\hat v} \approx \lambda|w|$, and each step is about
# $\eta\, \mathrm{sign}(w)$: $w$ falls by about $\eta$ per step (linearly, not in proportion to $w$), whatever
# $\lambda$ is, as long as $\lambda w \gg \epsilon$; the normalization cancels $\lambda$ (measured with torch, $\eta =
# 10^{-3}$: $0.93\eta$ per step for $\lambda = 10^{-4}$, $10^{-2}$ and 1 alike). `AdamW`: the loss gradient is 0, so
# $m = v = 0$ and only $w \leftarrow (1 - \eta\lambda)w$ remains: exponential decay by the factor $1 - \eta\lambda$
# per step, a rate proportional to $\lambda$. SGD + L2: $w \leftarrow w - \eta\lambda w = (1 - \eta\lambda)w$, the
# same as AdamW. So AdamW (decoupled weight decay) behaves like L2 with SGD; in Adam the L2 term is divided by
# $\sqrt{\hat v}$, so weights with large gradients are hardly decayed. *Grading:* full marks: both scalings in (a); in
# (b) about $\eta$ per step independent of $\lambda$ for Adam, the factor $1 - \eta\lambda$ for AdamW and SGD + L2,
# and AdamW named. Half: (a) or (b) alone.
