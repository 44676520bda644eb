# %% [markdown]
# # Exercise 07: optimizers as pure update rules
# Each optimizer is a **pure function** `w_new, state_new = <rule>_step(w, dw, state, **hyper)`: it takes the
# parameters, their gradient and the optimizer's state (a dict of arrays, `{}` before the first step) and returns
# new ones without modifying its inputs. The capstone's `Solver` calls these functions, one state per parameter.
#
# You implement the eight rules and four learning-rate schedules in `lib/deepkit/optim.py`. Every test below runs
# three steps from $w = (1, -2)$ with fixed gradients and compares with numbers produced by `torch.optim`;
# the hidden checks run 30 steps on random noisy quadratics and compare the whole trajectory.

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
assert path.shape == (3, 2), path.shape
assert np.allclose(path, expected, rtol=1e-8, atol=1e-9), path
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
assert path.shape == (3, 2), path.shape
assert np.allclose(path, expected, rtol=1e-8, atol=1e-9), path
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
assert path.shape == (3, 2), path.shape
assert np.allclose(path, expected, rtol=1e-8, atol=1e-9), path
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
assert path.shape == (3, 2), path.shape
assert np.allclose(path, expected, rtol=1e-8, atol=1e-9), path
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
assert path.shape == (3, 2), path.shape
assert np.allclose(path, expected, rtol=1e-8, atol=1e-9), path
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
assert path.shape == (3, 2), path.shape
assert np.allclose(path, expected, rtol=1e-8, atol=1e-9), path
print("rmsprop_step: ok")
### BEGIN HIDDEN TESTS
hidden_check("rmsprop")
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Adam  (3 points)
# Implement `adam_step` with bias correction: $m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t$,
# $v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2$, $\hat m_t = m_t / (1-\beta_1^t)$, $\hat v_t = v_t/(1-\beta_2^t)$,
# $w_t = w_{t-1} - \text{lr}\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)$. The step counter $t$ (1 on the first step)
# must live in the state.

# %% nbgrader={"grade": true, "grade_id": "adam", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
from deepkit.optim import adam_step

path = run_steps(adam_step, lr=0.1, beta1=0.8, beta2=0.9, eps=0.1, weight_decay=0.1)
expected = np.array(
    [[0.9142857143, -1.9076923077], [0.8337542663, -1.8506460223], [0.8049880351, -1.8329993700]]
)  # torch.optim.Adam(lr=0.1, betas=(0.8, 0.9), eps=0.1, weight_decay=0.1)
assert path.shape == (3, 2), path.shape
assert np.allclose(path, expected, rtol=1e-8, atol=1e-9), path
print("adam_step: ok")
### BEGIN HIDDEN TESTS
hidden_check("adam")
### END HIDDEN TESTS

# %% [markdown]
# ## 8. AdaMax  (2 points)
# Implement `adamax_step`: $m_t$ as in Adam, $u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon)$ (elementwise, as torch),
# $w_t = w_{t-1} - \frac{\text{lr}}{1-\beta_1^t}\, m_t / u_t$. Only $m$ is bias-corrected.

# %% nbgrader={"grade": true, "grade_id": "adamax", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.optim import adamax_step

path = run_steps(adamax_step, lr=0.1, beta1=0.8, beta2=0.9, eps=0.1, weight_decay=0.1)
expected = np.array(
    [[0.9142857143, -1.9076923077], [0.8374401612, -1.8625465702], [0.8099090894, -1.8490461094]]
)  # torch.optim.Adamax(lr=0.1, betas=(0.8, 0.9), eps=0.1, weight_decay=0.1)
assert path.shape == (3, 2), path.shape
assert np.allclose(path, expected, rtol=1e-8, atol=1e-9), path
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
assert np.allclose(step_decay(0.2, t, 3, 0.5), [0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05])
assert np.allclose(exponential_decay(0.2, t[:4], 0.9), [0.2, 0.18, 0.162, 0.1458])
assert np.allclose(cosine_decay(0.2, t[:5], 4), [0.2, 0.170710678119, 0.1, 0.029289321881, 0.0])
assert np.isclose(cosine_decay(0.2, 10, 4, lr_min=0.01), 0.01)  # stays at lr_min after T
assert np.allclose(inverse_time_decay(0.2, t[:4], 0.5), [0.2, 0.133333333333, 0.1, 0.08])
assert np.isclose(float(step_decay(0.2, 4, 3, 0.5)), 0.1)  # a scalar t works too
print("schedules: ok")
### BEGIN HIDDEN TESTS
hidden_check("schedules")
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
# ## Question (1 point, graded by hand)
# Start gradient descent exactly at the saddle point $(0, 0)$ of $f(x, y) = x^2 - y^2$, and also at
# $(-1, 10^{-3})$. What happens in each case with plain gradient descent, with momentum and with Adam, and why?
# Would a minimum behave the same way?

# %% [markdown] nbgrader={"grade": true, "grade_id": "saddle_question", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false}
# YOUR ANSWER HERE
