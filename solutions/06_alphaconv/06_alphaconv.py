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
assert np.all(np.isfinite(alpha)), "alpha has NaN or inf: exp(1000) overflows, subtract each column's maximum first"
assert_close(alpha.sum(axis=0), [1.0, 1.0], "column sums of alpha", hint="softmax over axis 0 (the input maps)")
assert_close(alpha, [[0.25, 0.5], [0.75, 0.5]], "alpha")
assert_close(
    mixing_weights(np.array([[0.0], [2.0]]), temperature=2.0)[:, 0],
    [1 / (1 + np.e), np.e / (1 + np.e)],
    "alpha at temperature 2",
    hint="divide the logits by the temperature",
)
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

a = np.array([[0.2, 0.5], [0.3, 0.25], [0.5, 0.25]])
d = np.array([[1.0, 1.0], [0.0, 0.0], [2.0, 0.0]])
assert_close(
    softmax_jvp(a, np.ones((3, 2))),
    np.zeros((3, 2)),
    "dc for a constant dalpha",
    hint="subtract sum_m dalpha_m alpha_m",
)
assert_close(
    softmax_jvp(a, d),
    [[0.2 * (1 - 1.2), 0.5 * (1 - 0.5)], [0.3 * (0 - 1.2), 0.25 * (0 - 0.5)], [0.5 * (2 - 1.2), 0.25 * (0 - 0.5)]],
    "dc",
    hint="one sum per column (axis 0)",
)
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
result = alphaconv_forward(x, k, c, np.array([1.0]))
assert isinstance(result, (tuple, list)) and len(result) == 2, "alphaconv_forward must return a pair (z, cache)"
z, cache = result
# window sums of map 0 are 8, 12, 20, 24; of map 1: 44, 48, 56, 60
assert_close(
    z[0, 0],
    0.25 * np.array([[8, 12], [20, 24]]) + 0.75 * np.array([[44, 48], [56, 60]]) + 1,
    "z",
    hint="z_j = sum_i alpha_ij (x_i * k_ji) + b_j",
)
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
result = alphaconv_backward(dz, cache)
assert isinstance(result, (tuple, list)) and len(result) == 4, "alphaconv_backward must return (dx, dk, dc, db)"
grads = dict(zip("x k c b".split(), result))
args = dict(x=x, k=k, c=c, b=b)
for name, g in grads.items():
    report = check_gradient(
        lambda v: alphaconv_forward(**{**args, name: v}, temperature=0.5)[0], args[name], g, dz, name=name
    )
    print(report)
    assert report.ok, report
### BEGIN HIDDEN TESTS
hidden_check("alphaconv_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 5 · `l1_alpha_penalty(c, lam, temperature=1.0, weights=None)` (1 point)
# Implement the slides' penalty, with a strength per connection: $\Omega = \lambda\sum_{ij} w_{ij}|\alpha_{ij}|$
# (`weights` $w$ of `c`'s shape, default all ones: the slides' penalty). Return `(value, dc)` with
# $\partial\Omega/\partial\alpha=\lambda\,w\odot\mathrm{sign}(\alpha)$ pushed through `softmax_jvp` (and $1/T$).
# Run the test, then answer the question below.

# %% nbgrader={"grade": true, "grade_id": "l1_alpha_penalty", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Visible tests for l1_alpha_penalty (1 point)
from deepkit.alphaconv import l1_alpha_penalty

c = np.array([[0.3, -2.0], [1.0, 0.5], [0.0, 4.0]])
w = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
value, dc = l1_alpha_penalty(c, 0.7, weights=w)
assert_close(value, 1.160995, "value with weights", hint="lam * sum(weights * |alpha|)")
assert_close(
    dc,
    [[0.06321, -0.001676], [-0.248154, 0.000049], [0.184945, 0.001627]],
    "dc with weights",
    atol=1e-6,
    hint="push lam * weights * sign(alpha) through softmax_jvp",
)
report = check_gradient(lambda v: np.array(l1_alpha_penalty(v, 0.7, 2.0, w)[0]), c, l1_alpha_penalty(c, 0.7, 2.0, w)[1])
print(report)
assert report.ok, report
value, dc = l1_alpha_penalty(c, 0.7)  # the slides' penalty: every connection weighted 1
print(f"slides' penalty: value {value:.6f}, largest |dc| {np.abs(dc).max():.1e}")
assert_close(value, 0.7 * 2, "the slides' penalty", hint="lam * sum |alpha|: every column of alpha sums to 1")
assert dc.shape == (3, 2) and np.abs(dc).max() < 1e-12, "with every weight 1 the gradient is zero up to rounding"
### BEGIN HIDDEN TESTS
hidden_check("l1_alpha_penalty")
### END HIDDEN TESTS

# %% [markdown]
# **Question (2 points).** With every weight 1 (the slides' penalty) the value above is $0.7 \times 2$ and the
# gradient is zero up to rounding, for every `c` and every `lam`. Why, and what does that mean for a network
# trained with this penalty? Answer in two or three sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "l1_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader; the release shows "YOUR ANSWER HERE".) Every column $\alpha_{:j} =
# \mathrm{softmax}(c_{:j}/T)$ has non-negative entries that sum to 1, so $\sum_i |\alpha_{ij}| = \sum_i \alpha_{ij} =
# 1$ and $\Omega = \lambda\,C_{out} = 0.7 \times 2$ for every $c$: the penalty is a constant function of $c$, and its
# gradient $\lambda(|\alpha_i| - \alpha_i\sum_k|\alpha_k|) = \lambda(\alpha_i - \alpha_i) = 0$ (the $10^{-17}$ left is
# rounding of $\sum_i\alpha_i = 1$). It adds a constant to the loss and nothing to the gradient, so training with it
# is identical to training without it, for any $\lambda$: it does not make $\alpha$ sparse. A penalty that sparsifies
# must be smallest at the vertices of the simplex (entropy, $L_p$ with $p < 1$, or a lower temperature). *Grading:*
# full marks: columns sum to 1 so the penalty is the constant $\lambda C_{out}$ with zero gradient, and therefore no
# effect on training / no sparsity. 1 point: only "the gradient is zero" or only "it has no effect", without the
# reason.

# %% [markdown]
# ## Part 6 · `entropy_penalty` and `lp_penalty` (2 points)
# `entropy_penalty(c, lam, temperature=1.0)`: $\lambda\sum_j H(\alpha_{:j})$ with $H(a)=-\sum_i a_i\log a_i$;
# `lp_penalty(c, lam, p=0.5, temperature=1.0)`: $\lambda\sum_{ij}\alpha_{ij}^p$. Both return `(value, dc)`.
# An entry of $\alpha$ can be exactly 0 (a logit far below the others): count $0\log 0$ as 0 and keep every
# gradient entry finite.

# %% nbgrader={"grade": true, "grade_id": "sparsity_penalty", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Visible tests for the sparsifying penalties (2 points)
from deepkit.alphaconv import entropy_penalty, lp_penalty

c = np.zeros((4, 1))  # uniform alpha: the maximum of both penalties
v, dc = entropy_penalty(c, 1.0)
assert_close(v, np.log(4), "entropy of a uniform column", hint="-sum alpha log alpha")
assert_close(dc, np.zeros((4, 1)), "dc at the maximum (a stationary point)")
v, dc = lp_penalty(c, 1.0, p=0.5)
assert_close(v, 4 * 0.25**0.5, "Lp of a uniform column")
assert_close(dc, np.zeros((4, 1)), "dc at the maximum")
one_hot = np.array([[0.0], [-2000.0], [-2000.0]])  # alpha = (1, 0, 0) exactly
for penalty in (entropy_penalty, lp_penalty):
    v, dc = penalty(one_hot, 1.0)
    assert np.isfinite(v) and np.all(np.isfinite(dc)), f"{penalty.__name__}: alpha = 0 needs a guard (0 log 0 = 0)"
rng = np.random.default_rng(1)
c = rng.normal(size=(4, 2))
for penalty in (entropy_penalty, lambda cc, lam: lp_penalty(cc, lam, p=0.5)):
    v, dc = penalty(c, 0.8)
    report = check_gradient(lambda cc: np.array(penalty(cc, 0.8)[0]), c, dc, name="c")
    assert report.ok, report
    # one step of gradient descent makes the largest alpha of each column larger: sparser
    a0, a1 = mixing_weights(c), mixing_weights(c - 0.5 * dc)
    assert np.all(a1.max(axis=0) > a0.max(axis=0)), "a descent step should sharpen every column"
### BEGIN HIDDEN TESTS
hidden_check("sparsity_penalty")
### END HIDDEN TESTS

# %% [markdown]
# ## Transfer question (manually graded, 2 points)
#
# A colleague drops the softmax and gates every connection independently, $\alpha_{ij} = \sigma(c_{ij})$ (the
# logistic sigmoid, no normalization over $i$), keeping the slides' penalty $\lambda\sum_{ij}|\alpha_{ij}|$.
# (a) Is the penalty's gradient still zero? Compute $\partial\Omega/\partial c_{ij}$. (b) What does the penalty
# now do to the gates during training, and what can the layer express that it could not with the softmax (think
# of an output map that should use no input at all, or all of them fully)? (c) You want each output map to
# pick one or two of its input maps: which parametrization and which penalty would you choose, and why?

# %% [markdown] nbgrader={"grade": true, "grade_id": "alphaconv_transfer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader; the release shows "YOUR ANSWER HERE".) (a) No. $\alpha_{ij} = \sigma(c_{ij}) > 0$, so
# $\Omega = \lambda\sum_{ij}\sigma(c_{ij})$ and $\partial\Omega/\partial c_{ij} = \lambda\,\sigma(c_{ij})(1 -
# \sigma(c_{ij})) = \lambda\,\alpha_{ij}(1 - \alpha_{ij}) > 0$: each gate's gradient depends on its own logit only and
# is never zero. (b) Gradient descent lowers every logit, pushing every gate towards 0, like L1 on the gates: a gate
# survives only where the data loss pulls it back harder than $\lambda\alpha(1-\alpha)$. The push fades as $\alpha \to
# 0$, so unused gates shrink towards 0 without reaching it exactly. Without the sum-to-one constraint an output map
# can use no input at all (all gates near 0) or all inputs fully (all near 1, total weight up to $C_{in}$), while a
# softmax column is always a convex combination with total weight 1. A catch: $z_j$ depends on the products
# $\alpha_{ij}k_{ji}$ only, so the network can dodge the penalty by shrinking $\alpha$ and growing $k$ (same function,
# smaller penalty): the kernels need weight decay (or a fixed norm) as well. (c) For "one or two of the inputs": keep
# the softmax (a budget of 1 makes the inputs compete, and there is no $\alpha$/$k$ scale trade-off) and add a penalty
# that is smallest at the vertices of the simplex: entropy or $L_p$ with $p < 1$ (the data term decides whether one or
# two inputs keep weight), optionally with a falling temperature; sparsemax/top-$k$ give exact zeros. Sigmoid gates
# with L1 plus weight decay on $k$ (or L0/hard-concrete gates) are also acceptable if the answer addresses the scale
# trade-off and wants outputs that may use no input. *Grading:* full marks: the derivative $\lambda\sigma(1-\sigma)
# \neq 0$; gates shrink and independent gates can express "none" and "all"; a justified choice in (c). 1 point: (a)
# right with (b) or (c) vague, or (b)/(c) sound without a correct gradient.
