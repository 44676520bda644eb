# %% [markdown]
# # Exercise 04: batch normalization and layer normalization
#
# You will implement, in `lib/deepkit/norm.py`:
#
# * `batchnorm_forward` (train and eval mode, with running statistics), `batchnorm_backward` (staged through
#   the computation graph) and `batchnorm_backward_alt` (the simplified closed form);
# * `spatial_batchnorm_forward` / `spatial_batchnorm_backward` for convolutional activations `(N, C, H, W)`;
# * `layernorm_forward` / `layernorm_backward`;
# * `fold_batchnorm`: merge an eval-mode batch norm into the affine layer before it.
#
# The conventions are PyTorch's, and the module docstring spells them out: `bn_param["momentum"]` (default
# 0.1) is the weight of the **new** batch statistic, `running = (1 - momentum) * running + momentum * batch`;
# the running variance is updated with the **unbiased** batch variance `m / (m - 1) * var`, while the
# normalization in train mode uses the biased one. Each docstring gives shapes and what to return. Run the
# setup cell first; after editing `norm.py`, re-run a test cell (autoreload is on). The hidden checks run later
# on your `lib/` with other shapes, momentum and eps values. The lecture `lectures/04_normalization.ipynb`
# derives every formula.

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

# %% [markdown]
# ## Part 1: batch norm forward, train mode (2 points)
#
# In `batchnorm_forward(x, gamma, beta, bn_param)` with `x` of shape `(N, D)` and `bn_param["mode"] == "train"`:
# $\mu = \frac1N\sum_i x_i$, $\sigma^2 = \frac1N\sum_i (x_i-\mu)^2$ (biased), $\hat x_i = (x_i - \mu)/\sqrt{\sigma^2+\epsilon}$,
# $\text{out}_i = \gamma \hat x_i + \beta$, per column. Return `(out, cache)`; the cache holds whatever your
# backward passes need. (The running statistics are Part 2; this cell checks `out` only.)

# %% nbgrader={"grade": true, "grade_id": "bn_forward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import batchnorm_forward

x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]])
gamma, beta = np.array([1.0, 2.0]), np.array([0.0, -1.0])
out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
# column 0: mean 3, variance 8/3 -> (-1, 0, 1) * sqrt(3/2)
assert out.shape == (3, 2), out.shape
assert np.allclose(out, [[-1.224743, -3.449485], [0.0, 1.449485], [1.224743, -1.0]], atol=1e-5), out
# each output column has mean beta and standard deviation |gamma| (up to eps)
assert np.allclose(out.mean(axis=0), beta) and np.allclose(out.std(axis=0), gamma, rtol=1e-4)
print("batchnorm_forward (train): visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("bn_forward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2: running statistics and eval mode (2 points)
#
# In train mode, also update `bn_param["running_mean"]` and `bn_param["running_var"]`
# (start: zeros and ones, as the given code fills in):
#
# $$\mathrm{running\_mean} \leftarrow (1-m)\,\mathrm{running\_mean} + m\,\mu, \qquad
#   \mathrm{running\_var} \leftarrow (1-m)\,\mathrm{running\_var} + m\,\tfrac{N}{N-1}\sigma^2$$
#
# with $m$ = `bn_param["momentum"]`. In eval mode normalize with the running statistics instead of the batch's
# and leave them unchanged (so a single example can be classified).

# %% nbgrader={"grade": true, "grade_id": "bn_running_eval", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import batchnorm_forward

gamma, beta = np.array([1.0, 2.0]), np.array([0.0, -1.0])
p = {"mode": "train", "momentum": 0.1}
batchnorm_forward(np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]]), gamma, beta, p)  # mean (3, 4), unbiased var (4, 4)
assert np.allclose(p["running_mean"], [0.3, 0.4]) and np.allclose(p["running_var"], [1.3, 1.3]), p
batchnorm_forward(np.array([[0.0, 1.0], [2.0, 1.0]]), gamma, beta, p)  # mean (1, 1), unbiased var (2, 0)
assert np.allclose(p["running_mean"], [0.37, 0.46]), p["running_mean"]
assert np.allclose(p["running_var"], [1.37, 1.17]), p["running_var"]
p["mode"] = "eval"
out, _ = batchnorm_forward(np.array([[1.0, 1.0]]), gamma, beta, p)  # one example is fine in eval
assert np.allclose(out, [[0.538243, -0.001544]], atol=1e-5), out
assert np.allclose(p["running_mean"], [0.37, 0.46]), "eval mode must not change the running statistics"
print("running statistics and eval mode: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("bn_running_eval")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3: batch norm backward through the computation graph (2 points)
#
# Implement `batchnorm_backward(dout, cache)` by walking the forward pass backwards one node at a time
# (scale and shift, $\hat x = x_c \cdot s$, $s = 1/\sigma$, $\sigma = \sqrt{v + \epsilon}$,
# $v = \frac1N\sum x_c^2$, $x_c = x - \mu$, $\mu = \frac1N \sum x$). Remember that $x$ reaches the output through
# three paths: directly, through $\mu$ and through $v$. Return `dx (N, D), dgamma (D,), dbeta (D,)`.

# %% nbgrader={"grade": true, "grade_id": "bn_backward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import batchnorm_backward, batchnorm_forward

x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]])
gamma, beta = np.array([1.0, 2.0]), np.array([0.0, -1.0])
dout = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 2.0]])
_, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
dx, dgamma, dbeta = batchnorm_backward(dout, cache)
assert np.allclose(dbeta, [0.0, 3.0]) and np.allclose(dgamma, [-2.449485, 1.224743], atol=1e-5), (dgamma, dbeta)
assert np.allclose(dx, [[0.0, -0.612374], [0.0, -0.612369], [0.0, 1.224743]], atol=1e-5), dx
assert np.allclose(dx.sum(axis=0), 0), "a shift of a whole column does not change BN's output"

rng = np.random.default_rng(0)
x, gamma, beta, dout = rng.normal(2, 3, (5, 4)), rng.normal(size=4), rng.normal(size=4), rng.normal(size=(5, 4))
dx, dgamma, dbeta = batchnorm_backward(dout, batchnorm_forward(x, gamma, beta, {"mode": "train"})[1])
fwd = lambda x, g, b: batchnorm_forward(x, g, b, {"mode": "train"})[0]
for name, var, grad, f in [
    ("x", x, dx, lambda v: fwd(v, gamma, beta)),
    ("gamma", gamma, dgamma, lambda v: fwd(x, v, beta)),
    ("beta", beta, dbeta, lambda v: fwd(x, gamma, v)),
]:
    report = check_gradient(f, var, grad, dout, name=name)
    print(report)
    assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("bn_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4: batch norm backward in closed form (2 points)
#
# Simplify the graph result on paper to
#
# $$\frac{\partial L}{\partial x_i} = \frac{\gamma}{N\sqrt{\sigma^2+\epsilon}}
#   \Big(N\,\frac{\partial L}{\partial y_i} - \sum_j \frac{\partial L}{\partial y_j}
#   - \hat x_i \sum_j \frac{\partial L}{\partial y_j}\hat x_j\Big)$$
#
# and implement it in `batchnorm_backward_alt(dout, cache)` (same outputs; a few vectorized lines).

# %% nbgrader={"grade": true, "grade_id": "bn_backward_alt", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import batchnorm_backward_alt, batchnorm_forward

x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]])
gamma, beta = np.array([1.0, 2.0]), np.array([0.0, -1.0])
dout = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 2.0]])
_, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
assert np.allclose(dbeta, [0.0, 3.0]) and np.allclose(dgamma, [-2.449485, 1.224743], atol=1e-5), (dgamma, dbeta)
assert np.allclose(dx, [[0.0, -0.612374], [0.0, -0.612369], [0.0, 1.224743]], atol=1e-5), dx

rng = np.random.default_rng(1)
x, gamma, beta, dout = rng.normal(2, 3, (6, 3)), rng.normal(size=3), rng.normal(size=3), rng.normal(size=(6, 3))
dx, dgamma, dbeta = batchnorm_backward_alt(dout, batchnorm_forward(x, gamma, beta, {"mode": "train"})[1])
report = check_gradient(lambda v: batchnorm_forward(v, gamma, beta, {"mode": "train"})[0], x, dx, dout)
print(report)
assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("bn_backward_alt")
### END HIDDEN TESTS

# %% [markdown]
# How much faster is the closed form? (Not graded; the lecture measures the same thing.)

# %%
import timeit
from deepkit.norm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward

rng = np.random.default_rng(2)
x, dout = rng.normal(size=(256, 512)), rng.normal(size=(256, 512))
_, cache = batchnorm_forward(x, np.ones(512), np.zeros(512), {"mode": "train"})
t_graph = min(timeit.repeat(lambda: batchnorm_backward(dout, cache), number=5, repeat=3)) / 5
t_alt = min(timeit.repeat(lambda: batchnorm_backward_alt(dout, cache), number=5, repeat=3)) / 5
print(f"graph {t_graph * 1e3:.2f} ms, closed form {t_alt * 1e3:.2f} ms, speed-up {t_graph / t_alt:.1f}x")

# %% [markdown]
# ## Part 5: spatial batch norm forward (1 point)
#
# For convolutional activations `x` of shape `(N, C, H, W)`, `spatial_batchnorm_forward` keeps ONE mean and
# variance per channel, over the batch and all positions ($m = N H W$ values each); `gamma`, `beta` and the
# running statistics have shape `(C,)`. Reuse `batchnorm_forward` after moving the channel axis last.

# %% nbgrader={"grade": true, "grade_id": "spatial_bn_forward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import spatial_batchnorm_forward

x = np.array([[[[1.0, 3.0]], [[0.0, 0.5]]], [[[5.0, 7.0]], [[1.0, -1.0]]]])  # (N, C, H, W) = (2, 2, 1, 2)
gamma, beta = np.array([2.0, 1.0]), np.array([1.0, 0.0])
p = {"mode": "train"}
out, _ = spatial_batchnorm_forward(x, gamma, beta, p)
assert out.shape == x.shape, out.shape
assert np.allclose(
    out,
    [[[[-1.683279, 0.105574]], [[-0.169029, 0.507088]]], [[[1.894426, 3.683279]], [[1.183205, -1.521264]]]],
    atol=1e-5,
), out
assert np.allclose(p["running_mean"], [0.4, 0.0125]), p["running_mean"]  # 0.1 * channel means (4, 0.125)
print("spatial_batchnorm_forward: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("spatial_bn_forward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 6: spatial batch norm backward (1 point)
#
# `spatial_batchnorm_backward(dout, cache)` returns `dx (N, C, H, W), dgamma (C,), dbeta (C,)`: undo the same
# reshape around one of your batch norm backward passes.

# %% nbgrader={"grade": true, "grade_id": "spatial_bn_backward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import spatial_batchnorm_backward, spatial_batchnorm_forward

rng = np.random.default_rng(3)
x, gamma, beta = rng.normal(1, 2, (2, 3, 2, 2)), rng.normal(size=3), rng.normal(size=3)
dout = rng.normal(size=x.shape)
_, cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
assert dx.shape == x.shape and dgamma.shape == dbeta.shape == (3,)
assert np.allclose(dbeta, dout.sum(axis=(0, 2, 3)))
fwd = lambda x, g, b: spatial_batchnorm_forward(x, g, b, {"mode": "train"})[0]
for name, var, grad, f in [
    ("x", x, dx, lambda v: fwd(v, gamma, beta)),
    ("gamma", gamma, dgamma, lambda v: fwd(x, v, beta)),
]:
    report = check_gradient(f, var, grad, dout, name=name)
    print(report)
    assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("spatial_bn_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 7: layer norm forward (1 point)
#
# `layernorm_forward(x, gamma, beta, ln_param)` normalizes each **row** (one example) over its `D` features,
# with its own mean and biased variance: no batch statistics, no running averages, the same in train and
# test. `gamma`, `beta`: `(D,)`; `ln_param = {"eps": 1e-5}`.

# %% nbgrader={"grade": true, "grade_id": "ln_forward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import layernorm_forward

x = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 8.0]])
out, _ = layernorm_forward(x, np.array([1.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.0]), {"eps": 1e-5})
assert np.allclose(out, [[-1.224736, 1.0, 2.449471], [-0.707106, 0.292894, 2.828425]], atol=1e-5), out
# one example alone gives the same result: layer norm does not look at the batch
alone, _ = layernorm_forward(x[1:], np.array([1.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.0]), {"eps": 1e-5})
assert np.allclose(alone, out[1:])
print("layernorm_forward: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("ln_forward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 8: layer norm backward (2 points)
#
# `layernorm_backward(dout, cache)` returns `dx (N, D), dgamma (D,), dbeta (D,)`. The `dx` formula is the
# batch norm closed form with the sums taken over the features of each row instead of over the batch;
# `dgamma` and `dbeta` still sum over the batch.

# %% nbgrader={"grade": true, "grade_id": "ln_backward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import layernorm_backward, layernorm_forward

rng = np.random.default_rng(4)
x, gamma, beta, dout = rng.normal(size=(4, 5)), rng.normal(size=5), rng.normal(size=5), rng.normal(size=(4, 5))
_, cache = layernorm_forward(x, gamma, beta, {"eps": 1e-5})
dx, dgamma, dbeta = layernorm_backward(dout, cache)
assert np.allclose(dx.sum(axis=1), 0), "shifting a whole row does not change layer norm's output"
fwd = lambda x, g, b: layernorm_forward(x, g, b, {"eps": 1e-5})[0]
for name, var, grad, f in [
    ("x", x, dx, lambda v: fwd(v, gamma, beta)),
    ("gamma", gamma, dgamma, lambda v: fwd(x, v, beta)),
    ("beta", beta, dbeta, lambda v: fwd(x, gamma, v)),
]:
    report = check_gradient(f, var, grad, dout, name=name)
    print(report)
    assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("ln_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 9: folding batch norm into the affine layer (1 point)
#
# At inference an affine layer $z = xW + b$ followed by an eval-mode batch norm is ONE affine map. Implement
# `fold_batchnorm(w, b, gamma, beta, running_mean, running_var, eps)` returning `(w_folded, b_folded)` with
# `x @ w_folded + b_folded` equal to the batch norm's output for every `x` (`w`: `(D, M)`, the rest `(M,)`).

# %% nbgrader={"grade": true, "grade_id": "bn_fold", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import fold_batchnorm

w, b = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]]), np.array([0.5, -1.0])
gamma, beta, rm, rv = np.array([2.0, 1.0]), np.array([0.0, 1.0]), np.array([1.0, -1.0]), np.array([4.0, 1.0])
wf, bf = fold_batchnorm(w, b, gamma, beta, rm, rv, 1e-5)
assert np.allclose(wf, [[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]], atol=1e-5) and np.allclose(bf, [-0.5, 1.0], atol=1e-5)
x = np.random.default_rng(5).normal(size=(4, 3))
bn_out = gamma * (x @ w + b - rm) / np.sqrt(rv + 1e-5) + beta
assert np.allclose(x @ wf + bf, bn_out), "the folded layer must give the batch norm's eval output"
print("fold_batchnorm: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("bn_fold")
### END HIDDEN TESTS

# %% [markdown]
# ## Question (manually graded, 2 points)
#
# You train a network with batch norm using mini-batches of 2 examples, and it does well on the training
# loss but much worse in `model.eval()`. Explain (a) why small batches hurt batch norm, in train mode and in
# eval mode, and (b) why layer normalization does not have this problem, and why it is the usual choice for
# recurrent networks.

# %% [markdown] nbgrader={"grade": true, "grade_id": "bn_small_batches", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# YOUR ANSWER HERE
