# %% [markdown]
# # Exercise 04: batch normalization and layer normalization
#
# You will implement, in `lib/deepkit/norm.py`:
#
# * `batchnorm_forward` (train and eval mode, with running statistics), `batchnorm_backward` (staged through
#   the computation graph) and `batchnorm_backward_alt` (a closed form you derive yourself);
# * `spatial_batchnorm_forward` / `spatial_batchnorm_backward` for convolutional activations `(N, C, H, W)`;
# * `layernorm_forward` / `layernorm_backward` (whose backward you also derive);
# * `fold_batchnorm`: merge an eval-mode batch norm into the affine layer before it.
#
# The conventions are PyTorch's, and the module docstring spells them out: `bn_param["momentum"]` (default
# 0.1) is the weight of the **new** batch statistic, `running = (1 - momentum) * running + momentum * batch`,
# and any value in [0, 1] is allowed (0 keeps the statistics, 1 replaces them); the running variance is
# updated with the **unbiased** batch variance `m / (m - 1) * var`, while the normalization in train mode uses
# the biased one; eval mode uses the running statistics, which are constants for the backward pass. Compute in
# float64. Each docstring gives shapes and what to return. Run the setup cell first; after editing `norm.py`,
# re-run a test cell (autoreload is on). The hidden checks run later on your `lib/` with other shapes, momentum
# and eps values, eval mode everywhere, batches of 2 and features with zero variance. The lecture
# `lectures/04_normalization.ipynb` explains the ideas.

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
result = batchnorm_forward(x, gamma, beta, {"mode": "train"})
assert isinstance(result, (tuple, list)) and len(result) == 2, "batchnorm_forward must return a pair (out, cache)"
out, cache = result
# column 0: mean 3, variance 8/3 (divide by N, not N - 1) -> (-1, 0, 1) * sqrt(3/2)
assert_close(out.mean(axis=0), beta, "column means of out", hint="each output column has mean beta: subtract the mean")
assert_close(
    out.std(axis=0),
    np.abs(gamma),
    "column stds of out",
    rtol=1e-4,
    hint="each output column has standard deviation |gamma|: divide by sqrt(var + eps), var with 1/N",
)
assert_close(out, [[-1.224743, -3.449485], [0.0, 1.449485], [1.224743, -1.0]], "out", atol=1e-5)
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
# with $m$ = `bn_param["momentum"]` (0 and 1 are valid values). In eval mode normalize with the running
# statistics instead of the batch's and leave them unchanged (so a single example can be classified).

# %% nbgrader={"grade": true, "grade_id": "bn_running_eval", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import batchnorm_forward

gamma, beta = np.array([1.0, 2.0]), np.array([0.0, -1.0])
p = {"mode": "train", "momentum": 0.1}
batchnorm_forward(np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]]), gamma, beta, p)  # mean (3, 4), unbiased var (4, 4)
assert_close(p["running_mean"], [0.3, 0.4], "running_mean", hint="momentum weights the NEW batch mean")
assert_close(p["running_var"], [1.3, 1.3], "running_var", hint="use the unbiased batch variance N / (N - 1) * var")
batchnorm_forward(np.array([[0.0, 1.0], [2.0, 1.0]]), gamma, beta, p)  # mean (1, 1), unbiased var (2, 0)
assert_close(p["running_mean"], [0.37, 0.46], "running_mean after two steps")
assert_close(p["running_var"], [1.37, 1.17], "running_var after two steps")
q = {"mode": "train", "momentum": 0.0, "running_mean": np.array([5.0, 5.0]), "running_var": np.array([2.0, 2.0])}
batchnorm_forward(np.array([[0.0, 1.0], [2.0, 1.0]]), gamma, beta, q)
assert_close(q["running_mean"], [5.0, 5.0], "running_mean with momentum 0", hint="momentum 0 keeps the statistics")
p["mode"] = "eval"
out, _ = batchnorm_forward(np.array([[1.0, 1.0]]), gamma, beta, p)  # one example is fine in eval
assert_close(p["running_mean"], [0.37, 0.46], "running_mean after eval", hint="eval mode must not change it")
assert_close(out, [[0.538243, -0.001544]], "eval out", atol=1e-5, hint="eval normalizes with the running statistics")
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
# three paths: directly, through $\mu$ and through $v$. Return `dx (N, D), dgamma (D,), dbeta (D,)`. In eval
# mode the statistics are constants: only the direct path is left.

# %% nbgrader={"grade": true, "grade_id": "bn_backward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import batchnorm_backward, batchnorm_forward

x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]])
gamma, beta = np.array([1.0, 2.0]), np.array([0.0, -1.0])
dout = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 2.0]])
_, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
dx, dgamma, dbeta = batchnorm_backward(dout, cache)
assert_close(dbeta, [0.0, 3.0], "dbeta", hint="sum dout over the batch")
assert_close(dgamma, [-2.449485, 1.224743], "dgamma", atol=1e-5, hint="sum dout * xhat over the batch")
assert_close(
    dx.sum(axis=0),
    [0.0, 0.0],
    "column sums of dx",
    hint="missing the path through mu? shifting a column changes nothing",
)
assert_close(dx, [[0.0, -0.612374], [0.0, -0.612369], [0.0, 1.224743]], "dx", atol=1e-5, hint="the path through v?")
p = {"mode": "eval", "running_mean": np.array([2.0, 3.0]), "running_var": np.array([4.0, 1.0])}
_, cache = batchnorm_forward(x, gamma, beta, p)
dx, dgamma, dbeta = batchnorm_backward(dout, cache)
assert_close(
    dx,
    [[0.499999, 0.0], [0.0, 1.99999], [-0.499999, 3.99998]],
    "eval-mode dx",
    atol=1e-5,
    hint="dout * gamma / sqrt(running_var + eps)",
)

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
    assert report.ok, report
### BEGIN HIDDEN TESTS
hidden_check("bn_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4: batch norm backward in closed form (2 points)
#
# Derive the closed form yourself, on paper, from your Part 3 graph: write $\hat g_i = \gamma\,\partial L/\partial y_i$,
# express $\partial L/\partial v$ and $\partial L/\partial\mu$ with the two sums $\sum_j \hat g_j$ and
# $\sum_j \hat g_j \hat x_j$ (use $x_{c} = \sigma \hat x$ and $\sum_i \hat x_i = 0$), substitute them into
# $\partial L/\partial x_i$, and simplify until $\partial L/\partial x_i$ is written with $\partial L/\partial y_i$,
# $\partial L/\partial\beta = \sum_j \partial L/\partial y_j$, $\partial L/\partial\gamma = \sum_j \partial L/\partial y_j\,\hat x_j$
# and per-column constants only. Implement it in `batchnorm_backward_alt(dout, cache)`: same outputs as Part 3,
# a few vectorized lines, no per-node intermediate arrays. The test compares it with your graph version and
# with finite differences.
#
# Your derivation (not graded; write the result here, you will need it in Part 8):
#
# $$\frac{\partial L}{\partial x_i} = \;?$$

# %% nbgrader={"grade": true, "grade_id": "bn_backward_alt", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward

x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]])
gamma, beta = np.array([1.0, 2.0]), np.array([0.0, -1.0])
dout = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 2.0]])
_, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
assert_close(dbeta, [0.0, 3.0], "dbeta")
assert_close(dgamma, [-2.449485, 1.224743], "dgamma", atol=1e-5, hint="sum over the batch: shape (D,)")
assert_close(dx.sum(axis=0), [0.0, 0.0], "column sums of dx", hint="the - sum(dout) term")
assert_close(
    dx,
    [[0.0, -0.612374], [0.0, -0.612369], [0.0, 1.224743]],
    "dx",
    atol=1e-5,
    hint="the - xhat * dgamma term? the 1/N?",
)
p = {"mode": "eval", "running_mean": np.array([2.0, 3.0]), "running_var": np.array([4.0, 1.0])}
dx_eval, _, _ = batchnorm_backward_alt(dout, batchnorm_forward(x, gamma, beta, p)[1])
assert_close(dx_eval, [[0.499999, 0.0], [0.0, 1.99999], [-0.499999, 3.99998]], "eval-mode dx", atol=1e-5)

rng = np.random.default_rng(1)
x, gamma, beta, dout = rng.normal(2, 3, (6, 3)), rng.normal(size=3), rng.normal(size=3), rng.normal(size=(6, 3))
_, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
assert_close(dx, batchnorm_backward(dout, cache)[0], "dx vs your graph backward", rtol=1e-8)
report = check_gradient(lambda v: batchnorm_forward(v, gamma, beta, {"mode": "train"})[0], x, dx, dout)
print(report)
assert report.ok, report
### BEGIN HIDDEN TESTS
hidden_check("bn_backward_alt")
### END HIDDEN TESTS

# %% [markdown]
# How much faster is the closed form? (Not graded.)

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
# running statistics have shape `(C,)`. Reuse `batchnorm_forward` after moving the channel axis last (or take
# the statistics over the axes `(0, 2, 3)` directly).

# %% nbgrader={"grade": true, "grade_id": "spatial_bn_forward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import spatial_batchnorm_forward

x = np.array([[[[1.0, 3.0]], [[0.0, 0.5]]], [[[5.0, 7.0]], [[1.0, -1.0]]]])  # (N, C, H, W) = (2, 2, 1, 2)
gamma, beta = np.array([2.0, 1.0]), np.array([1.0, 0.0])
p = {"mode": "train"}
out, _ = spatial_batchnorm_forward(x, gamma, beta, p)
assert_close(
    p["running_mean"], [0.4, 0.0125], "running_mean", hint="0.1 * the channel means (4, 0.125) over N, H and W"
)
assert_close(
    out.mean(axis=(0, 2, 3)), beta, "channel means of out", hint="statistics per channel: move C last before reshaping"
)
assert_close(
    out,
    [[[[-1.683279, 0.105574]], [[-0.169029, 0.507088]]], [[[1.894426, 3.683279]], [[1.183205, -1.521264]]]],
    "out",
    atol=1e-5,
)
print("spatial_batchnorm_forward: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("spatial_bn_forward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 6: spatial batch norm backward (1 point)
#
# `spatial_batchnorm_backward(dout, cache)` returns `dx (N, C, H, W), dgamma (C,), dbeta (C,)`: undo the same
# reshape around one of your batch norm backward passes (eval mode included).

# %% nbgrader={"grade": true, "grade_id": "spatial_bn_backward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import spatial_batchnorm_backward, spatial_batchnorm_forward

rng = np.random.default_rng(3)
x, gamma, beta = rng.normal(1, 2, (2, 3, 2, 2)), rng.normal(size=3), rng.normal(size=3)
dout = rng.normal(size=x.shape)
_, cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
assert dx.shape == x.shape and dgamma.shape == dbeta.shape == (3,), (dx.shape, dgamma.shape, dbeta.shape)
assert_close(dbeta, dout.sum(axis=(0, 2, 3)), "dbeta", hint="sum over N, H and W")
fwd = lambda x, g, b: spatial_batchnorm_forward(x, g, b, {"mode": "train"})[0]
for name, var, grad, f in [
    ("x", x, dx, lambda v: fwd(v, gamma, beta)),
    ("gamma", gamma, dgamma, lambda v: fwd(x, v, beta)),
]:
    report = check_gradient(f, var, grad, dout, name=name)
    print(report)
    assert report.ok, report
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
# one example alone gives the same result: layer norm does not look at the batch
alone, _ = layernorm_forward(x[1:], np.array([1.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.0]), {"eps": 1e-5})
assert_close(alone, out[1:], "one example alone", hint="statistics per ROW (axis 1), not over the batch")
assert_close(out, [[-1.224736, 1.0, 2.449471], [-0.707106, 0.292894, 2.828425]], "out", atol=1e-5)
print("layernorm_forward: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("ln_forward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 8: layer norm backward (2 points)
#
# `layernorm_backward(dout, cache)` returns `dx (N, D), dgamma (D,), dbeta (D,)`. Derive `dx` from your Part 4
# result: without $\gamma$ and $\beta$, layer norm is batch norm of the transposed matrix. But in batch norm
# every entry of a normalized column had the same $\gamma_j$, and here $\gamma$ varies along the normalized
# row: decide where it goes. `dgamma` and `dbeta` still sum over the batch.

# %% nbgrader={"grade": true, "grade_id": "ln_backward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.norm import layernorm_backward, layernorm_forward

x, gamma, beta = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 8.0]]), np.array([1.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.0])
dout = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]])
dx, dgamma, dbeta = layernorm_backward(dout, layernorm_forward(x, gamma, beta, {"eps": 1e-5})[1])
assert_close(dbeta, [1.5, 2.0, -1.0], "dbeta", hint="sum over the batch (axis 0)")
assert_close(dgamma, [-1.578289, -1.414213, -1.224736], "dgamma", atol=1e-5, hint="sum dout * xhat over the batch")
assert_close(dx.sum(axis=1), [0.0, 0.0], "row sums of dx", hint="shifting a whole row does not change the output")
assert_close(
    dx,
    [[-0.204095, 0.408245, -0.20415], [-0.265165, 0.265165, 0.0]],
    "dx",
    atol=1e-5,
    hint="gamma varies along the row: the row sums run over dout * gamma",
)

rng = np.random.default_rng(4)
x, gamma, beta, dout = rng.normal(size=(4, 5)), rng.normal(size=5), rng.normal(size=5), rng.normal(size=(4, 5))
_, cache = layernorm_forward(x, gamma, beta, {"eps": 1e-5})
dx, dgamma, dbeta = layernorm_backward(dout, cache)
fwd = lambda x, g, b: layernorm_forward(x, g, b, {"eps": 1e-5})[0]
for name, var, grad, f in [
    ("x", x, dx, lambda v: fwd(v, gamma, beta)),
    ("gamma", gamma, dgamma, lambda v: fwd(x, v, beta)),
    ("beta", beta, dbeta, lambda v: fwd(x, gamma, v)),
]:
    report = check_gradient(f, var, grad, dout, name=name)
    print(report)
    assert report.ok, report
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
result = fold_batchnorm(w, b, gamma, beta, rm, rv, 1e-5)
assert isinstance(result, (tuple, list)) and len(result) == 2, "fold_batchnorm must return a pair (w_folded, b_folded)"
wf, bf = result
x = np.random.default_rng(5).normal(size=(4, 3))
bn_out = gamma * (x @ w + b - rm) / np.sqrt(rv + 1e-5) + beta
assert_close(x @ wf + bf, bn_out, "x @ w_folded + b_folded", hint="must equal the eval-mode batch norm's output")
assert_close(wf, [[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]], "w_folded", atol=1e-5)
assert_close(bf, [-0.5, 1.0], "b_folded", atol=1e-5)
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
# (Model answer for the grader; the release shows "YOUR ANSWER HERE".) (a) **Train mode:** every example is normalized
# with the mean and variance of its own batch, here 2 values per feature. These are very noisy estimates (standard
# error of the mean $\sigma/\sqrt 2$; the unbiased variance of 2 Gaussian values has a relative standard deviation of
# $\sqrt 2 \approx 141\%$), and at $m = 2$ they are degenerate: $\mu = (x_1 + x_2)/2$, $\sigma_B = |x_1 - x_2|/2$, so
# $\hat x = \pm 1$ whatever the data (for $\epsilon$ much smaller than the spread). The next layer only learns which
# of the two examples is larger, and each output depends on its batch-mate. **Eval mode:** the running mean and
# variance (moving averages of those noisy batch statistics, the variance scaled by $m/(m-1) = 2$) give a fixed,
# continuous normalization whose outputs the later layers never saw during training: the network that is evaluated is
# a different function from the one that was trained, hence good training loss and poor `model.eval()` accuracy. (b)
# **Layer norm** takes the statistics over the $D$ features of each example: nothing depends on the batch, so the
# computation is the same for a batch of 1 or 1000 and identical in train and eval mode, with no running statistics.
# In an RNN the summed inputs change over time steps, so BN would need statistics per time step (none for a test
# sequence longer than every training sequence, fewer and fewer examples at late steps of variable-length batches); LN
# applies the same per-example normalization at every step with one shared $\gamma$, $\beta$. *Grading:* full marks:
# (a) noisy or degenerate ($\pm 1$) batch statistics in train mode **and** the train/eval mismatch through the running
# statistics; (b) per-example statistics that do not depend on the batch, plus one RNN reason. 1 point: (a) or (b)
# alone, or (a) without the eval-mode mismatch.

# %% [markdown]
# ## Transfer question (manually graded, 2 points)
#
# Section 5 of the lecture showed that for a unit followed by batch norm the loss does not depend on the
# scale of the unit's weights, $L(aW) = L(W)$, so that $\nabla L(aW) = \nabla L(W)/a$ and the gradient is
# orthogonal to $W$. Now train such a layer with SGD **and** weight decay (an L2 penalty $\frac\lambda2\|W\|^2$,
# topic 05). (a) What does the penalty change in the function the network computes? What does it do to
# $\|W\|$ over training, compared with training without it? (b) Combine this with the $1/a$ gradient: how does
# the size of an update relative to $\|W\|$ evolve? (c) Is weight decay a regularizer here, or something else?
# Argue from the formulas (a few sentences, no code needed).

# %% [markdown] nbgrader={"grade": true, "grade_id": "bn_weight_decay_transfer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader; the release shows "YOUR ANSWER HERE".) (a) Because $L(aW) = L(W)$, the penalty cannot
# change the function the layer computes (BN removes the scale); it only changes $\|W\|$. Without it the gradient is
# orthogonal to $W$, so every SGD step makes the weights longer, $\|W - \eta g\|^2 = \|W\|^2 + \eta^2\|g\|^2$: $\|W\|$
# only grows. With it the step is $W \leftarrow (1 - \eta\lambda)W - \eta g$: the norm shrinks by the factor $1 -
# \eta\lambda$ each step, the gradient still lengthens it, and $\|W\|$ settles where the two balance. (b) Write $g =
# \hat g/\|W\|$, with $\hat g$ the gradient at the rescaled weights $W/\|W\|$ (from $\nabla L(aW) = \nabla L(W)/a$).
# The relative update is $\eta\|g\|/\|W\| = \eta\|\hat g\|/\|W\|^2$: an *effective learning rate* $\eta/\|W\|^2$.
# Without decay $\|W\|^4 \approx \|W_0\|^4 + 2\eta^2\|\hat g\|^2 t$ grows, and the relative update decays like
# $1/\sqrt{2t}$ (an uncontrolled learning-rate decay). With decay the equilibrium $2\eta\lambda\|W\|^2 = \eta^2\|\hat
# g\|^2/\|W\|^2$ gives $\|W\|^4 = \eta\|\hat g\|^2/(2\lambda)$ and a constant relative update $\sqrt{2\eta\lambda}$,
# whatever the gradient's size (0.01 for $\eta = 0.1$, $\lambda = 5\cdot10^{-4}$ in a simulation of a scale-invariant
# loss; it takes about $1/(\eta\lambda)$ steps to get there). (c) It is not a regularizer here: every $aW$ computes
# the same function, so it cannot make the model simpler. It is a control of the effective learning rate (larger
# $\lambda$, larger angular steps), which interacts with the learning-rate schedule (van Laarhoven 2017). *Grading:*
# full marks: (a) function unchanged, norm bounded instead of growing; (b) relative step $\propto \eta/\|W\|^2$, so it
# stays about constant ($\sqrt{2\eta\lambda}$) with decay and decays without it; (c) effective learning rate, not
# capacity. 1 point: (a) and (c) right without the $1/\|W\|^2$ argument of (b).
