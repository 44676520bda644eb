# %% [markdown]
# # Exercise 01: softmax, cross-entropy and backpropagation
#
# You will implement the building blocks of a small neural-network classifier in your own library
# `lib/deepkit/`, then check them here:
#
# * `lib/deepkit/layers.py`: the affine (fully connected) layer and ReLU, forward and backward;
# * `lib/deepkit/losses.py`: softmax, log-softmax, cross-entropy, the fused softmax loss with its gradient and
#   its label-smoothed variant;
# * `lib/deepkit/nets.py`: the loss and gradients of a two-layer net, built from the pieces above.
#
# Each function's docstring gives the shapes and what to return; replace the `raise NotImplementedError`
# line with your code. Run the setup cell first. After you edit a file, just re-run the test cell (the
# setup enables autoreload). Each test cell shows its points; the hidden checks run later on your `lib/` with
# other inputs, including very large scores. The lecture `lectures/01_softmax.ipynb` derives every formula.

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
# ## Part 1: affine forward (1 point)
#
# Implement `affine_forward(x, w, b)` in `lib/deepkit/layers.py`: flatten each example of `x` (shape
# `(N, d1, ..., dk)`) into a row of length `D = d1 * ... * dk`, return `out = x_flat @ w + b` of shape `(N, M)`
# and a `cache` with what the backward pass needs.

# %% nbgrader={"grade": true, "grade_id": "affine_forward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.layers import affine_forward

x = np.array([[1.0, 2.0], [3.0, -1.0]])
w = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]])
b = np.array([0.5, -1.0, 0.0])
result = affine_forward(x, w, b)
assert isinstance(result, tuple) and len(result) == 2, "affine_forward must return a tuple (out, cache)"
out, _ = result
assert out.shape == (2, 3), f"out has shape {out.shape}, expected (N, M) = (2, 3)"
assert_close(out, [[5.5, 1.0, 0.0], [1.5, -2.0, -3.5]], "out", hint="out = x_flat @ w + b (did you add b?)")
# an example may be an image (N, d1, d2): it is flattened row by row
out3, _ = affine_forward(np.arange(12.0).reshape(2, 2, 3), np.ones((6, 1)), np.zeros(1))
assert_close(out3, [[15.0], [51.0]], "out for (2, 2, 3) inputs", hint="flatten each example: x.reshape(N, -1)")
# a single example keeps its batch axis
out1, _ = affine_forward(x[:1], w, b)
assert out1.shape == (1, 3), f"a single example gives shape {out1.shape}, expected (1, 3): keep the batch axis"
print("affine_forward: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("affine_forward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2: affine backward (2 points)
#
# Implement `affine_backward(dout, cache)`: given $\partial L/\partial\,\mathrm{out}$ of shape `(N, M)`,
# return `dx` (the shape of the original `x`), `dw` `(D, M)` and `db` `(M,)`.
# Hint: each gradient has the shape of its variable, which tells you where the transposes go.

# %% nbgrader={"grade": true, "grade_id": "affine_backward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.layers import affine_backward, affine_forward

x = np.array([[1.0, 2.0], [3.0, -1.0]])
w = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]])
b = np.array([0.5, -1.0, 0.0])
dout = np.array([[1.0, 0.0, 2.0], [-1.0, 1.0, 0.0]])
_, cache = affine_forward(x, w, b)
result = affine_backward(dout, cache)
assert isinstance(result, tuple) and len(result) == 3, "affine_backward must return a tuple (dx, dw, db)"
dx, dw, db = result
assert_close(db, [0.0, 1.0, 2.0], "db", hint="b is added to every row: db sums dout over the rows (not the mean)")
assert_close(dw, [[-2.0, 3.0, 2.0], [3.0, -1.0, 4.0]], "dw", hint="dw = x_flat.T @ dout, shape (D, M)")
assert_close(dx, [[-1.0, 3.0], [-1.0, -1.0]], "dx", hint="dx = dout @ w.T, reshaped to x's shape")

# gradient check on random data with a 3-D x
rng = np.random.default_rng(0)
x, w, b = rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5)
dout = rng.standard_normal((4, 5))
dx, dw, db = affine_backward(dout, affine_forward(x, w, b)[1])
for name, var, grad, f in [
    ("x", x, dx, lambda v: affine_forward(v, w, b)[0]),
    ("w", w, dw, lambda v: affine_forward(x, v, b)[0]),
    ("b", b, db, lambda v: affine_forward(x, w, v)[0]),
]:
    report = check_gradient(f, var, grad, dout, name=name)
    print(report)
    assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("affine_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3: ReLU forward (1 point)
#
# Implement `relu_forward(x)` in `lib/deepkit/layers.py`: `out = max(0, x)` element-wise, and a cache.

# %% nbgrader={"grade": true, "grade_id": "relu_forward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.layers import relu_forward

result = relu_forward(np.array([[-2.0, 0.0, 3.0], [0.5, -0.1, 1.0]]))
assert isinstance(result, tuple) and len(result) == 2, "relu_forward must return a tuple (out, cache)"
assert_close(result[0], [[0.0, 0.0, 3.0], [0.5, 0.0, 1.0]], "relu(x)", rtol=0, atol=0)
print("relu_forward: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("relu_forward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4: ReLU backward (1 point)
#
# Implement `relu_backward(dout, cache)`: the upstream gradient passes where $x > 0$ and is blocked elsewhere.
# At exactly $x = 0$ use gradient 0 (PyTorch's convention too; the hidden checks contain exact zeros).

# %% nbgrader={"grade": true, "grade_id": "relu_backward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.layers import relu_backward, relu_forward

x = np.array([[-2.0, 0.0, 3.0], [0.5, -0.1, 1.0]])
dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
dx = relu_backward(dout, relu_forward(x)[1])
assert_close(dx[0, 1], 0.0, "dx at x = 0", hint="at exactly x = 0 the gradient is 0: use the mask x > 0")
assert_close(dx, [[0.0, 0.0, 3.0], [4.0, 0.0, 6.0]], "dx", hint="dx = dout where x > 0, 0 elsewhere")

rng = np.random.default_rng(1)
x, dout = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
report = check_gradient(lambda v: relu_forward(v)[0], x, relu_backward(dout, relu_forward(x)[1]), dout)
print(report)
assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("relu_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 5: softmax (1 point)
#
# Implement `softmax(z)` in `lib/deepkit/losses.py`, row-wise:
# $p_{ij} = e^{z_{ij}} / \sum_k e^{z_{ik}}$. Subtract each row's maximum first: the result is the same, and
# `exp` no longer overflows for scores like 1000 (`np.exp(1000.)` is `inf`, and `inf / inf` is `nan`).
# A 1-D `z` of shape `(C,)` is one row.

# %% nbgrader={"grade": true, "grade_id": "softmax", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.losses import softmax

z = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1000.0], [0.0, 0.0, -1000.0]])
p = softmax(z)
assert np.all(np.isfinite(p)), "softmax produced NaN or inf: did you subtract the row maximum?"
assert_close(p.sum(axis=1), [1.0, 1.0, 1.0], "row sums of p", hint="normalise each ROW: sum over axis=1 (the classes)")
assert_close(p, [[0.0900305732, 0.2447284711, 0.6652409558], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]], "p")
assert_close(softmax(np.array([1.0, 2.0, 3.0])), p[0], "softmax of a 1-D row", hint="a 1-D input is one row: axis=-1")
assert_close(softmax(z[:1] + 123.0), p[:1], "softmax(z + 123)", hint="a constant shift changes nothing")
print("softmax: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("softmax")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 6: log-softmax (1 point)
#
# Implement `log_softmax(z)`: $\log p_{ij} = z_{ij} - \log\sum_k e^{z_{ik}}$, with the same max-shift inside
# the log-sum-exp. Do not compute `np.log(softmax(z))`: a probability of $e^{-1000}$ is rounded to 0 and its
# log becomes `-inf`, while $z_{ij} - \mathrm{logsumexp}$ is exactly $-1000.69\ldots$

# %% nbgrader={"grade": true, "grade_id": "log_softmax", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.losses import log_softmax

z = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1000.0], [0.0, 0.0, -1000.0]])
logp = log_softmax(z)
assert np.all(np.isfinite(logp)), "log_softmax produced NaN or -inf: use the shifted log-sum-exp, not log(softmax(z))"
assert_close(
    logp,
    [[-2.4076059644, -1.4076059644, -0.4076059644], [-np.log(3)] * 3, [-np.log(2), -np.log(2), -1000 - np.log(2)]],
    "logp",
)
print("log_softmax: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("log_softmax")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 7: cross-entropy (1 point)
#
# Implement `cross_entropy(probs, y)`: the **mean** over the $N$ examples of $-\log(\text{probs}[i, y_i])$,
# returned as a Python float. A true-class probability of exactly 0 is clipped to the smallest positive
# float64, `np.finfo(np.float64).tiny` (a loss of about 708 instead of infinity).

# %% nbgrader={"grade": true, "grade_id": "cross_entropy", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.losses import cross_entropy

probs = np.array([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]])
loss = cross_entropy(probs, np.array([0, 2]))
assert isinstance(loss, float), f"cross_entropy must return a Python float (the mean), got {type(loss).__name__}"
assert_close(loss, -(np.log(0.7) + np.log(0.5)) / 2, "loss", hint="the MEAN over N of -log probs[i, y_i]")
assert_close(cross_entropy(np.full((4, 10), 0.1), np.arange(4)), np.log(10), "loss of a uniform guess (log C)")
zero = cross_entropy(np.array([[0.0, 1.0]]), np.array([0]))
assert np.isfinite(zero), "a true-class probability of 0 gave infinity: clip it to np.finfo(np.float64).tiny"
assert_close(zero, 708.3964185322641, "loss for a true-class probability of 0")
print("cross_entropy: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("cross_entropy")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 8: softmax loss and its gradient (2 points)
#
# Implement `softmax_loss(scores, y)` returning `(loss, dscores)`: the mean cross-entropy of
# `softmax(scores)` (compute it with `log_softmax`) and its gradient with respect to the scores,
# $\partial L / \partial s_{ij} = (p_{ij} - [j = y_i]) / N$.

# %% nbgrader={"grade": true, "grade_id": "softmax_loss", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.losses import softmax_loss

scores = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
result = softmax_loss(scores, np.array([0, 1]))
assert isinstance(result, tuple) and len(result) == 2, "softmax_loss must return a tuple (loss, dscores)"
loss, dscores = result
assert_close(loss, 0.7531091265562451, "loss", hint="the MEAN over N of -log softmax(scores)[i, y_i]")
assert_close(dscores[0, 0], -0.1673795221, "dscores[0, 0]", hint="(p - 1) / N at the true class: sign and the 1/N")
assert_close(dscores, [[-0.1673795221, 0.1223642355, 0.0450152866], [1 / 6, -1 / 3, 1 / 6]], "dscores")
loss_big, _ = softmax_loss(scores + 1000.0, np.array([0, 1]))
assert_close(loss_big, loss, "loss of scores + 1000", hint="shifting all scores changes nothing: use log_softmax")

rng = np.random.default_rng(2)
scores, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
report = check_gradient(lambda s: softmax_loss(s, y)[0], scores, softmax_loss(scores, y)[1], name="scores")
print(report)
assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("softmax_loss")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 9: label smoothing (2 points)
#
# Label smoothing trains against a softened target: example $i$'s target spreads $\varepsilon$ of its mass
# uniformly over **all** $C$ classes (the true one included),
# $$q_{ij} = (1-\varepsilon)\,[j = y_i] + \frac{\varepsilon}{C}, \qquad
#   L = -\frac1N \sum_i \sum_j q_{ij} \log p_{ij}, \quad p_i = \mathrm{softmax}(s_i).$$
# (PyTorch's `F.cross_entropy(..., label_smoothing=eps)` is exactly this; some papers put $\varepsilon/(C-1)$ on
# the wrong classes instead: not here.) First **derive** $\partial L/\partial s_{ij}$ on paper: write
# $\log p_{ij} = s_{ij} - \log\sum_k e^{s_{ik}}$ and use $\sum_j q_{ij} = 1$; it should come out as a one-line
# generalisation of Part 8's result. Then implement `smoothed_softmax_loss(scores, y, eps)` in
# `lib/deepkit/losses.py`, returning `(loss, dscores)`. It must work for `eps = 0` (Part 8's loss) and `eps = 1`.

# %% nbgrader={"grade": true, "grade_id": "smoothed_softmax_loss", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.losses import smoothed_softmax_loss, softmax_loss

scores, y = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]]), np.array([0, 1])
result = smoothed_softmax_loss(scores, y, 0.1)
assert isinstance(result, tuple) and len(result) == 2, "smoothed_softmax_loss must return a tuple (loss, dscores)"
loss, dscores = result
assert_close(
    dscores[1],
    [0.15, -0.3, 0.15],
    "dscores of the uniform row",
    hint="p = 1/3 everywhere; the target is 0.1/3 + 0.9 on the true class and 0.1/3 elsewhere; then divide by N",
)
assert_close(loss, 0.8031091265562451, "loss (eps = 0.1)", hint="-(1/N) sum_i sum_j q_ij log p_ij with q summing to 1")
assert_close(dscores, [[-0.13404618877925578, 0.10569756886073216, 0.02834861991852355], [0.15, -0.3, 0.15]], "dscores")
assert_close(smoothed_softmax_loss(scores, y, 0.0)[0], softmax_loss(scores, y)[0], "loss at eps = 0 (Part 8's loss)")
assert_close(smoothed_softmax_loss(scores, y, 1.0)[0], 1.253109126556245, "loss at eps = 1 (uniform target)")

rng = np.random.default_rng(4)
scores, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
report = check_gradient(
    lambda s: smoothed_softmax_loss(s, y, 0.2)[0], scores, smoothed_softmax_loss(scores, y, 0.2)[1], name="scores"
)
print(report)
assert report.ok, "your dscores does not match finite differences of your loss"
### BEGIN HIDDEN TESTS
hidden_check("smoothed_softmax_loss")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 10: a two-layer net (3 points)
#
# Implement `two_layer_loss(params, X, y=None, reg=0.0)` in `lib/deepkit/nets.py` for the net
# `affine -> relu -> affine -> softmax`:
#
# * with `y=None` return the scores `(N, C)`;
# * otherwise return `(loss, grads)` where
#   `loss = softmax_loss + 0.5 * reg * (sum(W1**2) + sum(W2**2))` (biases are not regularised) and `grads`
#   is a dict with keys `"W1", "b1", "W2", "b2"`.
#
# Use your functions from `layers.py` and `losses.py`; the backward pass calls the backward functions in the
# reverse order of the forward pass, each with the cache of its own forward call.

# %% nbgrader={"grade": true, "grade_id": "two_layer_loss", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
from deepkit.nets import init_two_layer, two_layer_loss

params = {
    "W1": np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]]),
    "b1": np.array([0.0, 0.5, -0.5]),
    "W2": np.array([[1.0, -1.0], [0.5, 0.0], [-1.0, 2.0]]),
    "b2": np.array([0.1, -0.1]),
}
X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.5, -1.0]])
y = np.array([0, 1, 1])
scores = two_layer_loss(params, X)
assert_close(scores, [[2.85, -1.1], [1.35, -0.1], [-0.15, 0.9]], "scores (y=None)")
result = two_layer_loss(params, X, y, reg=0.1)
assert isinstance(result, tuple) and len(result) == 2, "with labels, two_layer_loss must return a tuple (loss, grads)"
loss, grads = result
assert isinstance(grads, dict) and set(grads) >= {"W1", "b1", "W2", "b2"}, "grads must be a dict with W1, b1, W2, b2"
assert_close(
    loss, 1.3849510399898652, "loss", hint="data loss 0.65995... + 0.5 * reg * (sum W1**2 + sum W2**2) = 0.725"
)
assert_close(grads["b2"], [0.3501108576, -0.3501108576], "grads['b2']", hint="biases are not regularised")
assert_close(
    grads["W1"],
    [[0.1738143923, -0.2381482327, -0.0796125504], [-0.1980046831, 0.2612028822, 0.1592251008]],
    "grads['W1']",
    hint="through relu_backward (mask of the hidden pre-activation), plus reg * W1",
)

# gradient check of all four parameters on a random net
rng = np.random.default_rng(3)
params = init_two_layer(5, 6, 3, rng, scale=0.5)
X, y = rng.standard_normal((7, 5)), rng.integers(0, 3, 7)
loss, grads = two_layer_loss(params, X, y, reg=0.2)
for name in ("W1", "b1", "W2", "b2"):

    def f(v, name=name):
        return two_layer_loss({**params, name: v}, X, y, reg=0.2)[0]

    report = check_gradient(f, params[name].copy(), grads[name], name=name)
    print(report)
    assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("two_layer_loss")
### END HIDDEN TESTS

# %% [markdown]
# ## Does it learn? (not graded)
#
# With all parts working, a few epochs of plain stochastic gradient descent on the 8x8 digits should reach
# about 95% validation accuracy in about a second. The first loss should be close to $\log 10 \approx 2.30$.

# %%
from deepkit.data import load_digits, minibatches
from deepkit.nets import init_two_layer, two_layer_loss

data = load_digits()
rng = np.random.default_rng(0)
params = init_two_layer(64, 64, 10, rng, scale=0.05)
print(f"initial loss {two_layer_loss(params, data.X_train, data.y_train)[0]:.3f} (log 10 = {np.log(10):.3f})")
for epoch in range(20):
    for xb, yb in minibatches(data.X_train, data.y_train, 64, rng):
        loss, grads = two_layer_loss(params, xb, yb, reg=1e-4)
        for k in params:
            params[k] -= 0.5 * grads[k]
    if (epoch + 1) % 4 == 0:
        acc = np.mean(two_layer_loss(params, data.X_val).argmax(axis=1) == data.y_val)
        print(f"epoch {epoch + 1}: last batch loss {loss:.3f}, validation accuracy {acc:.3f}")

# %% [markdown]
# ## Question (1 point, graded by your instructor)
#
# Before training, with tiny random weights, the loss of a 10-class softmax classifier is about 2.30.
# Why this value? What would you suspect if your first loss were 0.1, or 40?

# %% [markdown] nbgrader={"grade": true, "grade_id": "initial_loss_question", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader; the release shows "YOUR ANSWER HERE".) With tiny weights all scores are about
# 0, the softmax is uniform, $p_y = 1/C$ and the loss is $\log C = \log 10 \approx 2.30$. A first loss of 0.1
# means the model already puts probability $e^{-0.1} \approx 0.9$ on the true class before training: the labels
# leak into the inputs (or the loss is computed on the wrong thing). A loss of 40 means huge initial scores
# (weights far too large, unnormalised inputs) or a bug such as summing instead of averaging.

# %% [markdown]
# ## Transfer question (2 points, graded by your instructor)
#
# Plain cross-entropy keeps pushing the true class's score up: the loss only tends to 0 as the score gap to the
# other classes tends to infinity. Take one example with $C$ classes whose wrong classes all have the same
# score, and let $d = s_y - s_k$ be the gap between the true class and each wrong one.
# (a) With label smoothing $\varepsilon > 0$, derive the gap $d^*$ that minimises the loss (use your gradient
# from Part 9). (b) Evaluate it for $C = 10$, $\varepsilon = 0.1$, and check it numerically with your
# `smoothed_softmax_loss` (a few lines of code in a cell below are welcome). (c) What happens to $d^*$ as
# $\varepsilon \to 0$, and what does that say about why label smoothing is used?

# %% [markdown] nbgrader={"grade": true, "grade_id": "transfer_smoothing_gap", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader.) (a) At the minimum the gradient $p - q$ vanishes, so $p_y = q_y = 1 - \varepsilon
# + \varepsilon/C$ and each wrong $p_k = \varepsilon/C$. With equal wrong scores, $p_y / p_k = e^{d}$, hence
# $e^{d^*} = (1 - \varepsilon + \varepsilon/C)\,C/\varepsilon$, i.e. $d^* = \log\bigl(1 + C(1-\varepsilon)/\varepsilon\bigr)$.
# (b) $C = 10$, $\varepsilon = 0.1$: $d^* = \log 91 \approx 4.51$; the smoothed loss evaluated on a grid of gaps
# (scores $[d, 0, \dots, 0]$) is smallest there and grows on both sides. (c) $d^* \to \infty$ as
# $\varepsilon \to 0$ (like $\log(C/\varepsilon)$): plain cross-entropy has no finite minimiser and drives the
# logits apart without bound (over-confidence, growing weights); smoothing gives a finite target gap, which keeps
# the logits bounded and the predicted probabilities calibrated.
