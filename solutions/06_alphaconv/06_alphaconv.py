# %% [markdown]
# # Exercise 06 · The alpha-conv
#
# Implement the softmax-weighted convolution of the lecture in **`lib/deepkit/alphaconv.py`**:
# $z_j=\sum_i\alpha_{ij}(x_i*k_{ji})+b_j$ with $\alpha_{:j}=\mathrm{softmax}(c_{:j}/T)$ over the input axis.
# `pair_correlations(x, k)` is given: it returns every $x_i * k_{ji}$ as an array `(N, C_in, C_out, Ho, Wo)`.
# Run the setup cell, then each test cell after you implement the function it names. Points are in each cell.

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
# ## Part 1 · `mixing_weights(c, temperature=1.0)` (1 point)
# Return $\alpha=\mathrm{softmax}(c/T)$ taken over **axis 0** (the input maps), shape `(C_in, C_out)`. It must be
# stable for huge logits (subtract the column maximum, or reuse your `deepkit.losses.softmax` on `c.T`).

# %% nbgrader={"grade": true, "grade_id": "mixing_weights", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Visible tests for mixing_weights (1 point)
from deepkit.alphaconv import mixing_weights

alpha = mixing_weights(np.array([[0.0, 1000.0], [np.log(3.0), 1000.0]]))
assert alpha.shape == (2, 2)
assert np.allclose(alpha, [[0.25, 0.5], [0.75, 0.5]]), alpha
assert np.allclose(mixing_weights(np.array([[0.0], [2.0]]), temperature=2.0)[:, 0], [1 / (1 + np.e), np.e / (1 + np.e)])
### BEGIN HIDDEN TESTS
hidden_check("mixing_weights")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2 · `softmax_jvp(alpha, dalpha)` (1 point)
# Given $\alpha$ and $\partial J/\partial\alpha$ (both `(C_in, C_out)`), return $\partial J/\partial c$ for
# $T=1$: $\;dc_{ij}=\alpha_{ij}\big(d\alpha_{ij}-\sum_m d\alpha_{mj}\alpha_{mj}\big)$. One line; no loops.

# %% nbgrader={"grade": true, "grade_id": "softmax_jvp", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Visible tests for softmax_jvp (1 point)
from deepkit.alphaconv import softmax_jvp

a = np.array([[0.2], [0.3], [0.5]])
d = np.array([[1.0], [0.0], [2.0]])
assert np.allclose(softmax_jvp(a, d), [[0.2 * (1 - 1.2)], [0.3 * (0 - 1.2)], [0.5 * (2 - 1.2)]])
assert np.allclose(softmax_jvp(a, np.ones((3, 1))), 0.0)  # adding a constant to dalpha changes nothing
### BEGIN HIDDEN TESTS
hidden_check("softmax_jvp")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3 · `alphaconv_forward(x, k, c, b, temperature=1.0)` (2 points)
# Return `(z, cache)` with `z` of shape `(N, C_out, Ho, Wo)`. Keep in the cache what the backward pass needs.

# %% nbgrader={"grade": true, "grade_id": "alphaconv_forward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Visible tests for alphaconv_forward (2 points)
from deepkit.alphaconv import alphaconv_forward

x = np.arange(2 * 3 * 3, dtype=float).reshape(1, 2, 3, 3)
k = np.ones((1, 2, 2, 2))
c = np.array([[0.0], [np.log(3.0)]])  # alpha = [0.25, 0.75]
z, cache = alphaconv_forward(x, k, c, np.array([1.0]))
# window sums of map 0 are 8, 12, 20, 24; of map 1: 44, 48, 56, 60
assert z.shape == (1, 1, 2, 2)
assert np.allclose(z[0, 0], 0.25 * np.array([[8, 12], [20, 24]]) + 0.75 * np.array([[44, 48], [56, 60]]) + 1)
### BEGIN HIDDEN TESTS
hidden_check("alphaconv_forward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4 · `alphaconv_backward(dz, cache)` (3 points)
# Return `(dx, dk, dc, db)`. $\partial J/\partial\alpha_{ij}=\sum_{n,u,v}\delta_{n,j,u,v}\,(x_i*k_{ji})_{n,u,v}$, then
# `softmax_jvp` and divide by $T$; `dk` and `dx` are those of a convolution whose kernel is $\alpha_{ij}k_{ji}$.
# The test below checks all four against centred finite differences.

# %% nbgrader={"grade": true, "grade_id": "alphaconv_backward", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Visible tests for alphaconv_backward (3 points): gradient checks
from deepkit.alphaconv import alphaconv_backward

rng = np.random.default_rng(6)
x, k = rng.normal(size=(2, 3, 5, 4)), rng.normal(size=(2, 3, 2, 3))
c, b = rng.normal(size=(3, 2)), rng.normal(size=2)
z, cache = alphaconv_forward(x, k, c, b, temperature=0.5)
dz = rng.normal(size=z.shape)
grads = dict(zip("x k c b".split(), alphaconv_backward(dz, cache)))
args = dict(x=x, k=k, c=c, b=b)
for name, g in grads.items():
    report = check_gradient(
        lambda v: alphaconv_forward(**{**args, name: v}, temperature=0.5)[0], args[name], g, dz, name=name
    )
    print(report)
    assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("alphaconv_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 5 · `l1_alpha_penalty(c, lam, temperature=1.0)` (1 point)
# Implement the slides' penalty $\lambda\sum_{ij}|\alpha_{ij}|$: return `(value, dc)` with
# $\partial\Omega/\partial\alpha=\lambda\,\mathrm{sign}(\alpha)$ pushed through `softmax_jvp` (and $1/T$).
# Then answer the question below.

# %% nbgrader={"grade": true, "grade_id": "l1_alpha_penalty", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Visible tests for l1_alpha_penalty (1 point)
from deepkit.alphaconv import l1_alpha_penalty

value, dc = l1_alpha_penalty(np.array([[0.3, -2.0], [1.0, 0.5], [0.0, 4.0]]), 0.7)
assert np.isclose(value, 0.7 * 2)
assert dc.shape == (3, 2) and np.abs(dc).max() < 1e-12
### BEGIN HIDDEN TESTS
hidden_check("l1_alpha_penalty")
### END HIDDEN TESTS

# %% [markdown]
# **Question (2 points).** Why is the gradient above zero for every `c` and every `lam`, and what does that mean for a network trained with this penalty? Answer in two or three sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "l1_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# YOUR ANSWER HERE

# %% [markdown]
# ## Part 6 · `entropy_penalty` and `lp_penalty` (2 points)
# `entropy_penalty(c, lam, temperature=1.0)`: $\lambda\sum_j H(\alpha_{:j})$ with $H(a)=-\sum_i a_i\log a_i$;
# `lp_penalty(c, lam, p=0.5, temperature=1.0)`: $\lambda\sum_{ij}\alpha_{ij}^p$. Both return `(value, dc)`.
# Guard the logarithm and the power against $\alpha=0$.

# %% nbgrader={"grade": true, "grade_id": "sparsity_penalty", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Visible tests for the sparsifying penalties (2 points)
from deepkit.alphaconv import entropy_penalty, lp_penalty

c = np.zeros((4, 1))  # uniform alpha: the maximum of both penalties
v, dc = entropy_penalty(c, 1.0)
assert np.isclose(v, np.log(4)) and np.allclose(dc, 0.0)  # a stationary point (the maximum)
v, dc = lp_penalty(c, 1.0, p=0.5)
assert np.isclose(v, 4 * 0.25**0.5) and np.allclose(dc, 0.0)
rng = np.random.default_rng(1)
c = rng.normal(size=(4, 2))
for penalty in (entropy_penalty, lambda cc, lam: lp_penalty(cc, lam, p=0.5)):
    v, dc = penalty(c, 0.8)
    report = check_gradient(lambda cc: np.array(penalty(cc, 0.8)[0]), c, dc, name="c")
    assert report.ok, report
    # one step of gradient descent makes the largest alpha of each column larger: sparser
    a0, a1 = mixing_weights(c), mixing_weights(c - 0.5 * dc)
    assert np.all(a1.max(axis=0) > a0.max(axis=0))
### BEGIN HIDDEN TESTS
hidden_check("sparsity_penalty")
### END HIDDEN TESTS
