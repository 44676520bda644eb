# %% [markdown]
# # 05 · Regularization and the dropout family
#
# You will implement, in your own `lib/deepkit`, the regularizers of the lecture:
#
# | file | functions |
# |---|---|
# | `lib/deepkit/regularizers.py` | `l1_penalty`, `l2_penalty`, `elastic_net_penalty`, `lp_penalty`, `max_norm_project` |
# | `lib/deepkit/dropout.py` | `dropout_forward/backward`, `dropconnect_forward/backward`, `spatial_dropout_forward/backward`, `dropblock_gamma`, `dropblock_mask`, `dropblock_forward/backward`, `keep_prob_schedule` |
# | `lib/deepkit/early_stopping.py` | `EarlyStopping.step` |
#
# Every function's docstring states the shapes, the formula and what to return; the input checks are already
# written for you. Conventions: `p_drop` is the probability of **dropping** (PyTorch's `p`), every dropout is
# **inverted** (kept units are scaled up during training, so `mode="eval"` is the identity), a drop probability
# of exactly 0 or 1 is allowed (1 drops everything, without dividing by zero), and randomness comes only from the
# `rng` argument (`np.random.default_rng(seed)`; draw the masks any way you like from it).
#
# Each test cell below shows its points. The visible asserts are a first check; the autograder runs more
# (hidden) checks on your library in a sandbox. Random layers are graded statistically: the measured drop
# rate must be within 6 standard deviations of the expected one, on large samples.

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

# %%
from deepkit import regularizers as R, dropout as D, early_stopping as E

rng = np.random.default_rng

# %% [markdown]
# ## 1 · Weight penalties
#
# Implement in `lib/deepkit/regularizers.py` three functions returning `(value, grad)`:
#
# * `l1_penalty(w, lam)`: $\lambda\sum|w|$, gradient $\lambda\,\mathrm{sign}(w)$ (0 at $w=0$);
# * `l2_penalty(w, lam)`: $\frac{\lambda}{2}\sum w^2$, gradient $\lambda w$ (the *weight decay* $\lambda$ of
#   `torch.optim.SGD(weight_decay=lam)`);
# * `elastic_net_penalty(w, lam, l1_ratio)`: $\lambda\big(r\sum|w| + \frac{1-r}{2}\sum w^2\big)$ with
#   $r$ = `l1_ratio`, and its gradient.
#
# `value` is a Python float, `grad` an array of `w`'s shape.

# %% nbgrader={"grade": true, "grade_id": "l1_penalty", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# 1 point: l1_penalty
w = np.array([[1.0, -2.0], [0.0, 3.0]])
v, g = R.l1_penalty(w, 0.5)
assert_close(g[1, 0], 0.0, "grad at w = 0", hint="the subgradient at exactly 0 is 0 (np.sign(0) == 0)")
assert_close(g, [[0.5, -0.5], [0.0, 0.5]], "grad", hint="lam * sign(w)")
assert_close(v, 3.0, "value", hint="lam * sum |w|")
w2 = np.array([[0.3, -1.2], [2.0, -0.7]])  # away from the kink at 0
report = check_gradient(lambda x: np.array(R.l1_penalty(x, 0.5)[0]), w2, R.l1_penalty(w2, 0.5)[1])
print(report)
assert report.ok, report
### BEGIN HIDDEN TESTS
hidden_check("l1_penalty")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "l2_penalty", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# 1 point: l2_penalty
v, g = R.l2_penalty(w, 0.5)
assert_close(g, 0.5 * w, "grad", hint="with the 1/2 in the value, the gradient is lam * w (no factor 2)")
assert_close(v, 3.5, "value", hint="0.5 / 2 * (1 + 4 + 0 + 9)")
report = check_gradient(lambda x: np.array(R.l2_penalty(x, 0.5)[0]), w, g)
print(report)
assert report.ok, report
### BEGIN HIDDEN TESTS
hidden_check("l2_penalty")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "elastic_net_penalty", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# 1 point: elastic_net_penalty
v, g = R.elastic_net_penalty(w, 1.0, 0.5)
assert_close(g, 0.5 * np.sign(w) + 0.5 * w, "grad", hint="lam * (r * sign(w) + (1 - r) * w)")
assert_close(v, 6.5, "value", hint="0.5 * 6 + 0.25 * 14: the L2 part keeps its 1/2")
report = check_gradient(
    lambda x: np.array(R.elastic_net_penalty(x, 1.0, 0.5)[0]), w2, R.elastic_net_penalty(w2, 1.0, 0.5)[1]
)
print(report)
assert report.ok, report
### BEGIN HIDDEN TESTS
hidden_check("elastic_net_penalty")
### END HIDDEN TESTS

# %% [markdown]
# ### Lp penalties: decay or sparsity
#
# The source notes' general penalty is $\lambda\sum_i |w_i|^p$. Implement `lp_penalty(w, lam, p)` returning
# `(value, grad)` with `grad` $= \lambda p\,|w|^{p-1}\mathrm{sign}(w)$ for $w \ne 0$. At $w = 0$ the derivative is
# 0 for $p > 1$ and infinite for $p < 1$: use 0 for every $p$ (a weight that is exactly 0 stays there, like L1's
# subgradient) and never return NaN or infinity. The lecture (section 11) shows why $p > 1$ only shrinks weights
# while $p < 1$ sets small ones exactly to 0.

# %% nbgrader={"grade": true, "grade_id": "lp_penalty", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# 1 point: lp_penalty
w = np.array([[1.0, -2.0], [0.0, 0.25]])
v, g = R.lp_penalty(w, 0.5, 0.5)
assert np.all(np.isfinite(g)), "grad has NaN or inf: |w| ** (p - 1) is infinite at w = 0 for p < 1; use 0 there"
assert_close(g[1, 0], 0.0, "grad at w = 0")
assert_close(g, [[0.25, -0.176777], [0.0, 0.5]], "grad for p = 0.5", atol=1e-6, hint="lam * p * |w|^(p-1) * sign(w)")
assert_close(v, 1.457107, "value for p = 0.5", hint="lam * sum |w|^p (no 1/p)")
v, g = R.lp_penalty(w, 0.5, 3.0)
assert_close(g, [[1.5, -6.0], [0.0, 0.09375]], "grad for p = 3")
assert_close(R.lp_penalty(w, 0.5, 1.0)[1], R.l1_penalty(w, 0.5)[1], "grad for p = 1", hint="p = 1 is the L1 penalty")
report = check_gradient(lambda x: np.array(R.lp_penalty(x, 0.5, 0.5)[0]), w2, R.lp_penalty(w2, 0.5, 0.5)[1])
print(report)
assert report.ok, report
### BEGIN HIDDEN TESTS
hidden_check("lp_penalty")
### END HIDDEN TESTS

# %% [markdown]
# ## 2 · Max-norm constraint (projected updates)
#
# Implement `max_norm_project(w, c, axis=0)`: every slice of `w` along `axis` (with `axis=0`, every column:
# neuron $j$'s incoming weights of an affine layer `x @ w`) whose Euclidean norm exceeds `c` is rescaled to
# norm exactly `c`; the others are unchanged. Return a **new** array (do not modify `w`). Training then does
# `w = max_norm_project(w - lr * dw, c)`: a gradient step followed by a projection back onto the ball.

# %% nbgrader={"grade": true, "grade_id": "max_norm_project", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# 2 points: max_norm_project
w = np.array([[3.0, 0.6], [4.0, 0.8]])  # column norms 5 and 1
p = R.max_norm_project(w, 2.0, axis=0)
assert_close(w, [[3.0, 0.6], [4.0, 0.8]], "w after the call", hint="do not modify w in place: return a new array")
assert_close(p[:, 1], [0.6, 0.8], "column 1 (norm 1 <= c)", hint="columns inside the ball stay unchanged")
assert_close(p, [[1.2, 0.6], [1.6, 0.8]], "max_norm_project(w, 2, axis=0)", hint="column 0 (norm 5) is rescaled to 2")
assert_close(
    R.max_norm_project(w, 2.0, axis=1),
    [
        [3.0 * 2 / np.hypot(3, 0.6), 0.6 * 2 / np.hypot(3, 0.6)],
        [4.0 * 2 / np.hypot(4, 0.8), 0.8 * 2 / np.hypot(4, 0.8)],
    ],
    "max_norm_project(w, 2, axis=1)",
    hint="axis=1: the slices are the rows",
)
### BEGIN HIDDEN TESTS
hidden_check("max_norm_project")
### END HIDDEN TESTS

# %% [markdown]
# ## 3 · Inverted dropout
#
# `dropout_forward(x, p_drop, mode, rng)` returns `(out, cache)`. In `"train"` mode draw a keep mask
# $m\sim\mathrm{Bernoulli}(1-p)$ elementwise and return $x\odot m/(1-p)$ (`x` itself when $p=0$, all zeros when
# $p=1$: no division by zero); in `"eval"` mode return `x` unchanged. `dropout_backward(dout, cache)` returns `dx`: the forward is linear in
# `x` for a fixed mask, so `dx` is `dout` times the same scaled mask (or `dout` itself in eval mode).

# %% nbgrader={"grade": true, "grade_id": "dropout_forward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# 2 points: dropout_forward
x = np.ones((1000, 100))
out, _ = D.dropout_forward(x, 0.3, "train", rng(0))
vals = np.unique(np.round(out, 12))
assert np.allclose(vals, [0.0, 1 / 0.7]), f"values must be 0 or 1/(1-p) = {1 / 0.7:.4f}, got {vals[:5]}"
rate = (out == 0).mean()
print(f"measured drop rate {rate:.4f} (target 0.3)")
assert abs(rate - 0.3) < 6 * np.sqrt(0.3 * 0.7 / x.size), "is p_drop the probability of DROPPING?"
assert_close(D.dropout_forward(x, 0.3, "eval", rng(0))[0], x, "eval output", hint="eval mode is the identity")
with np.errstate(all="raise"):  # a division by zero at p_drop = 1 raises here instead of returning NaN
    assert_close(D.dropout_forward(x[:2, :3], 1.0, "train", rng(0))[0], np.zeros((2, 3)), "out for p_drop = 1")
assert_close(D.dropout_forward(x[:2, :3], 0.0, "train", rng(0))[0], x[:2, :3], "out for p_drop = 0")
### BEGIN HIDDEN TESTS
hidden_check("dropout_forward")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "dropout_backward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# 1 point: dropout_backward
x = rng(1).normal(size=(4, 6))
dout = rng(2).normal(size=(4, 6))
out, cache = D.dropout_forward(x, 0.5, "train", rng(3))
report = check_gradient(
    lambda v: D.dropout_forward(v, 0.5, "train", rng(3))[0], x, D.dropout_backward(dout, cache), dout
)
print(report)
assert report.ok
_, cache = D.dropout_forward(x, 0.5, "eval", rng(3))
assert_close(D.dropout_backward(dout, cache), dout, "eval-mode dx", hint="in eval mode dx = dout")
### BEGIN HIDDEN TESTS
hidden_check("dropout_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## 4 · DropConnect
#
# DropConnect drops **weights** instead of activations. `dropconnect_forward(x, w, b, p_drop, mode, rng)` with
# `x (N, D)`, `w (D, M)`, `b (M,)`: in `"train"` mode draw ONE keep mask $R$ of `w`'s shape for the whole batch
# and return `x @ (w * R / (1 - p_drop)) + b`: the mask multiplies `w` elementwise ($R\odot W$, not a matrix
# product), there is no mask on the output, and the bias is never dropped ($p = 1$ gives `b`). In `"eval"` mode
# return `x @ w + b`. `dropconnect_backward(dout, cache)` returns `(dx, dw, db)`.

# %% nbgrader={"grade": true, "grade_id": "dropconnect_forward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# 2 points: dropconnect_forward
w = np.arange(1.0, 13.0).reshape(3, 4)
b = np.array([0.5, -0.5, 1.0, 0.0])
ev, _ = D.dropconnect_forward(np.eye(3), w, b, 0.5, "eval", rng(0))
assert_close(ev, w + b, "eval output", hint="eval mode is the plain affine x @ w + b")
assert_close(D.dropconnect_forward(np.eye(3), w, b, 1.0, "train", rng(0))[0], np.tile(b, (3, 1)), "out for p_drop = 1")
big_w = np.ones((200, 300))
out, _ = D.dropconnect_forward(np.eye(200), big_w, np.zeros(300), 0.25, "train", rng(1))
assert np.allclose(np.unique(np.round(out, 12)), [0, 1 / 0.75]), "effective weights: 0 or w / (1 - p)"
rate = (out == 0).mean()
print(f"measured weight drop rate {rate:.4f} (target 0.25)")
assert abs(rate - 0.25) < 6 * np.sqrt(0.25 * 0.75 / big_w.size)
### BEGIN HIDDEN TESTS
hidden_check("dropconnect_forward")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "dropconnect_backward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# 2 points: dropconnect_backward
x, w, b = rng(4).normal(size=(5, 3)), rng(5).normal(size=(3, 4)), rng(6).normal(size=4)
dout = rng(7).normal(size=(5, 4))
out, cache = D.dropconnect_forward(x, w, b, 0.4, "train", rng(8))
dx, dw, db = D.dropconnect_backward(dout, cache)
f = lambda xx, ww, bb: D.dropconnect_forward(xx, ww, bb, 0.4, "train", rng(8))[0]  # same seed, same mask
for name, arg, grad in (("x", x, dx), ("w", w, dw), ("b", b, db)):
    fn = {"x": lambda v: f(v, w, b), "w": lambda v: f(x, v, b), "b": lambda v: f(x, w, v)}[name]
    report = check_gradient(fn, arg, grad, dout, name=name)
    print(report)
    assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("dropconnect_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## 5 · SpatialDropout
#
# In a convolutional feature map neighbouring pixels are strongly correlated, so dropping single pixels
# removes little information. `spatial_dropout_forward(x, p_drop, mode, rng)` with `x (N, C, H, W)` draws one
# keep/drop decision per **(sample, channel)** and applies it to the whole `H x W` map (scaled by
# `1 / (1 - p_drop)`), like `torch.nn.Dropout2d`. `spatial_dropout_backward(dout, cache)` returns `dx`.

# %% nbgrader={"grade": true, "grade_id": "spatial_dropout_forward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# 2 points: spatial_dropout_forward
x = np.ones((500, 8, 4, 4))
out, _ = D.spatial_dropout_forward(x, 0.25, "train", rng(9))
per_map = out.reshape(500, 8, 16)
assert np.all(per_map.min(axis=2) == per_map.max(axis=2)), "a whole channel is kept or dropped"
assert np.allclose(np.unique(np.round(out, 12)), [0, 1 / 0.75])
rate = (per_map[:, :, 0] == 0).mean()
print(f"fraction of dropped channels {rate:.4f} (target 0.25)")
assert abs(rate - 0.25) < 6 * np.sqrt(0.25 * 0.75 / 4000)
assert_close(D.spatial_dropout_forward(x, 0.25, "eval", rng(9))[0], x, "eval output")
assert_close(D.spatial_dropout_forward(x[:2, :2], 1.0, "train", rng(9))[0], np.zeros((2, 2, 4, 4)), "p_drop = 1")
### BEGIN HIDDEN TESTS
hidden_check("spatial_dropout_forward")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "spatial_dropout_backward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# 1 point: spatial_dropout_backward
x, dout = rng(10).normal(size=(2, 3, 2, 2)), rng(11).normal(size=(2, 3, 2, 2))
out, cache = D.spatial_dropout_forward(x, 0.5, "train", rng(12))
report = check_gradient(
    lambda v: D.spatial_dropout_forward(v, 0.5, "train", rng(12))[0], x, D.spatial_dropout_backward(dout, cache), dout
)
print(report)
assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("spatial_dropout_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## 6 · DropBlock
#
# DropBlock (Ghiasi et al., 2018) drops contiguous `block_size x block_size` squares. Seeds are drawn with
# probability $\gamma$ only at the $(f-b+1)^2$ places where a whole block fits in an $f\times f$ map; each seed
# then zeroes $b^2$ units. Asking for an expected $(1-\text{keep\_prob})f^2$ dropped units (counting $b^2$ per seed)
# gives
#
# $$\gamma = \frac{1-\text{keep\_prob}}{b^2}\,\frac{f^2}{(f-b+1)^2}.$$
#
# 1. `dropblock_gamma(keep_prob, block_size, feat_size)`: the formula (for a pair `(H, W)` use $HW$ and
#    $(H-b+1)(W-b+1)$).
# 2. `dropblock_mask(shape, keep_prob, block_size, rng)`: a `(N, C, H, W)` mask of 0/1 (1 = keep), one
#    independent mask per channel, seeds only where a whole block fits, each seed's block set to 0.
# 3. `dropblock_forward(x, keep_prob, block_size, mode, rng)`: in `"train"` mode `x * M * M.size / M.sum()`
#    (normalise by the count of kept units); identity in `"eval"` mode or when `keep_prob == 1`.
#    `dropblock_backward(dout, cache)` returns `dx`.
# 4. `keep_prob_schedule(step, total_steps, target)`: linear from 1.0 at step 0 to `target` at `total_steps`,
#    then constant.

# %% nbgrader={"grade": true, "grade_id": "dropblock_gamma", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# 1 point: dropblock_gamma
assert np.isclose(D.dropblock_gamma(0.9, 7, 14), 0.00625)
assert np.isclose(D.dropblock_gamma(0.8, 1, 10), 0.2)  # block_size 1 is plain dropout
assert np.isclose(D.dropblock_gamma(0.8, 3, (8, 10)), 0.2 / 9 * 80 / 48)
### BEGIN HIDDEN TESTS
hidden_check("dropblock_gamma")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "dropblock_mask", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# 3 points: dropblock_mask
m = D.dropblock_mask((200, 16, 7, 7), 0.8, 3, rng(13))
assert m.shape == (200, 16, 7, 7) and set(np.unique(m)) <= {0.0, 1.0}
rate = (m == 0).mean()
print(f"measured drop rate {rate:.4f}, exact expectation 0.1795, 1 - keep_prob = 0.2")
assert abs(rate - 0.17949) < 0.04, "the measured drop rate is far from the expected 0.1795: check gamma"
full = D.dropblock_mask((1000, 4, 5, 5), 0.7, 5, rng(14)).reshape(1000, 4, 25)
assert np.all(full.min(axis=2) == full.max(axis=2)), "block_size = feature size drops whole channels"
assert_close(D.dropblock_mask((2, 3, 5, 5), 1.0, 3, rng(14)), np.ones((2, 3, 5, 5)), "mask for keep_prob = 1")
### BEGIN HIDDEN TESTS
hidden_check("dropblock_mask")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "dropblock_forward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# 1 point: dropblock_forward
x = np.ones((4, 3, 7, 7))
out, _ = D.dropblock_forward(x, 0.8, 3, "train", rng(15))
kept = out[out != 0]
assert np.allclose(kept, x.size / kept.size), "kept units are scaled by count(M) / count_ones(M)"
assert_close(D.dropblock_forward(x, 0.8, 3, "eval", rng(15))[0], x, "eval output")
with np.errstate(all="raise"):  # nothing kept (keep_prob 0, block_size 1): all zeros, no 0 / 0
    assert_close(D.dropblock_forward(x, 0.0, 1, "train", rng(15))[0], np.zeros_like(x), "out when nothing is kept")
### BEGIN HIDDEN TESTS
hidden_check("dropblock_forward")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "dropblock_backward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# 1 point: dropblock_backward
x, dout = rng(16).normal(size=(2, 2, 5, 5)), rng(17).normal(size=(2, 2, 5, 5))
out, cache = D.dropblock_forward(x, 0.7, 2, "train", rng(18))
report = check_gradient(
    lambda v: D.dropblock_forward(v, 0.7, 2, "train", rng(18))[0], x, D.dropblock_backward(dout, cache), dout
)
print(report)
assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("dropblock_backward")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "keep_prob_schedule", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# 1 point: keep_prob_schedule
got = [D.keep_prob_schedule(s, 10, 0.8) for s in (0, 5, 10, 20)]
assert_close(got[3], 0.8, "keep_prob after total_steps", hint="the schedule stays at the target")
assert_close(got, [1.0, 0.9, 0.8, 0.8], "keep_prob at steps 0, 5, 10, 20")
### BEGIN HIDDEN TESTS
hidden_check("keep_prob_schedule")
### END HIDDEN TESTS

# %% [markdown]
# **Question (1 point, graded by hand).** Your measured DropBlock drop rate above is about 0.18, not
# `1 - keep_prob = 0.2`. Explain why in two or three sentences, and say which pixels of a map are dropped
# least often.

# %% [markdown] nbgrader={"grade": true, "grade_id": "dropblock_rate_answer", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader; the release shows "YOUR ANSWER HERE".) $\gamma$ is chosen so that the expected number
# of units covered by blocks, $\gamma\,(f - b + 1)^2\,b^2$, equals $(1 - \text{keep\_prob})\,f^2$: it counts a unit
# covered by two or more blocks two or more times. With overlaps a unit covered by $k$ seed positions is dropped with
# probability $1 - (1 - \gamma)^k < k\gamma$, so the real rate $\frac{1}{f^2}\sum_{ij}\bigl(1 - (1 -
# \gamma)^{k_{ij}}\bigr)$ is below the target: 0.1795 instead of 0.2 for $f = 7$, $b = 3$, keep_prob 0.8 ($\gamma
# \approx 0.0436$). Pixels near the border are dropped least, the corners least of all: only one seed position covers
# a corner ($k = 1$, P(drop) $= \gamma \approx 0.044$), against $k = 9$ and P(drop) $\approx 0.33$ in the central
# $3\times3$. *Grading:* full marks: overlapping blocks counted twice by the formula for $\gamma$, and the border
# (corners) dropped least because fewer seed positions cover it. Half: only one of the two.

# %% [markdown]
# ## 7 · Early stopping
#
# Implement `EarlyStopping.step(val_metric, params=None)` in `lib/deepkit/early_stopping.py`. Each call is one
# epoch (`self.epoch` counts from 0). An epoch **improves** when the metric beats `self.best` by more than
# `min_delta` (lower for `mode="min"`, higher for `"max"`); then record `best`, `best_epoch` and a **deep copy**
# of `params` in `best_params`, and reset `num_bad_epochs`. Otherwise increase `num_bad_epochs`. Return
# `True` (and set `self.stopped`) once `num_bad_epochs >= patience`.

# %% nbgrader={"grade": true, "grade_id": "early_stopping", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# 2 points: early_stopping
es = E.EarlyStopping(patience=2)
assert [es.step(v) for v in (1.0, 1.0, 1.0)] == [False, False, True]  # the 2nd bad epoch stops
es = E.EarlyStopping(patience=3, min_delta=0.05)
params = {"w": np.zeros(1)}
flags = []
for v in (3.0, 2.0, 1.97, 2.5, 1.5, 1.6, 1.7, 1.8):
    params["w"] += 1  # weights change in place
    flags.append(es.step(v, params))
assert flags == [False, False, False, False, False, False, False, True], flags
assert es.best_epoch == 4 and es.best == 1.5 and es.best_params["w"][0] == 5
es = E.EarlyStopping(patience=1, mode="max")
assert [es.step(v) for v in (0.5, 0.7, 0.6)] == [False, False, True] and es.best == 0.7
### BEGIN HIDDEN TESTS
hidden_check("early_stopping")
### END HIDDEN TESTS

# %% [markdown]
# ## Transfer question (manually graded, 2 points)
#
# A network has a dropout layer (`p_drop = 0.5`, inverted) right before a batch-norm layer (topic 04). It trains
# well, but its accuracy in `model.eval()` is clearly worse than in train mode on the same data. (a) For one
# unit whose input $h$ has mean $\mu$ and variance $\sigma^2$, compute the mean and the variance of the dropout
# layer's output in train mode and in eval mode. (b) Which of the two variances does batch norm's running
# variance record, and what happens to the normalized values at test time? (c) Propose two ways to avoid the
# problem. Show the computation in (a).

# %% [markdown] nbgrader={"grade": true, "grade_id": "dropout_bn_transfer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader; the release shows "YOUR ANSWER HERE".) (a) Train mode: $d = m\,h/q$ with $m \sim
# \text{Bernoulli}(q)$ independent of $h$, $q = 1 - p_{drop} = 0.5$. $E[d] = E[m]\,E[h]/q = \mu$, and $E[d^2] =
# E[m^2]\,E[h^2]/q^2 = (\sigma^2 + \mu^2)/q$, so $\mathrm{Var}_{train}(d) = (\sigma^2 + \mu^2)/q - \mu^2 =
# \sigma^2/q + \mu^2(1 - q)/q = 2\sigma^2 + \mu^2$. Eval mode: $d = h$, mean $\mu$, variance $\sigma^2$. (A Monte Carlo check
# with $\mu = \sigma = 1$ gives mean 1.000 and variance 3.00.) (b) Batch norm updates its running statistics in train
# mode, so its running mean is right ($\mu$) but its running variance records $2\sigma^2 + \mu^2$. At test time
# dropout is off, the input variance is only $\sigma^2$, and the normalized values $(h - \mu)/\sqrt{2\sigma^2 +
# \mu^2}$ have variance $\sigma^2/(2\sigma^2 + \mu^2) < 1/2$ instead of 1 (standard deviation $\times 0.58$ for $\mu =
# \sigma$): every later layer receives inputs on a different scale from the one it was trained on ("variance shift",
# Li et al. 2019), and the error compounds through the layers. (c) Any two of: put dropout only after the last
# batch-norm layer (e.g. just before the classifier), never in front of BN; after training, recompute BN's running
# statistics with dropout switched off (a pass over training batches, dropout in eval mode, BN collecting statistics);
# use a smaller $p_{drop}$ or a noise with a much smaller variance (Gaussian or uniform noise). *Grading:* full marks:
# the four moments with the computation ($\mu$, $\sigma^2/q + \mu^2(1-q)/q$ in train; $\mu$, $\sigma^2$ in eval), the
# running variance is the train-mode one so the test-time normalized values are too small, and two sound fixes. 1
# point: (a) right without the consequence in (b), or the right idea without the computation.

# %% [markdown]
# That's all. Run `python -m autograder check 05` in a terminal to get the per-part report of the hidden
# checks on your library before you submit.
