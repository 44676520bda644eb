# %% [markdown]
# # 02 Activation functions: forward and backward
#
# A layer's nonlinearity decides how gradients flow. In this exercise you implement the common activations in
# `lib/deepkit/activations.py`, each as a pair
#
# * `<name>_forward(x, ...) -> (out, cache)`: the output and whatever the backward pass needs,
# * `<name>_backward(dout, cache) -> dx`: the gradient with respect to the input, given the upstream `dout`.
#
# Every function works element-wise on arrays of any shape (PReLU's per-channel `alpha` is along axis 1;
# Maxout is a layer with its own weights). ReLU is already in `deepkit.layers` (exercise 01) and is
# re-exported by `activations.py`. Read each function's docstring for the exact contract.
#
# Each graded cell below checks one part on small fixed inputs; hidden checks then run your library on other
# inputs in a sandbox. Forward and backward are graded separately. Run the setup cell first.

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
import warnings
import deepkit.activations as A


def pair(result, fn: str):
    """What a forward returns, checked: a tuple (out, cache)."""
    assert isinstance(result, tuple) and len(result) == 2, (
        f"{fn} must return a tuple (out, cache), the output and what your backward needs; "
        f"it returned a {type(result).__name__}"
    )
    return result


# %% [markdown]
# ## 1. Sigmoid and tanh forward (1 point)
#
# Implement `sigmoid_forward` and `tanh_forward`. $\sigma(x) = 1/(1+e^{-x})$ must be **numerically stable**:
# `np.exp(1000)` overflows to `inf` with a warning (and `e^x/(1+e^x)` then gives `nan`). One way: compute the
# exponential of $-|x|$ only, which lies in $(0, 1]$, and pick the algebraically equal form for each sign:
# $\sigma(x) = 1/(1+e^{-|x|})$ for $x \ge 0$ and $e^{-|x|}/(1+e^{-|x|})$ for $x < 0$. (Another: clip $x$ before
# exponentiating, at a value where $\sigma$ already rounds to 1 in float64.)
# Each forward returns a tuple `(out, cache)`; here cache the **output**: it is all the backward pass needs.

# %% nbgrader={"grade": true, "grade_id": "sigmoid_tanh_forward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
x = np.array([-1000.0, -2.0, 0.0, 1.0, 1000.0])
with warnings.catch_warnings():
    warnings.simplefilter("error")  # an overflow warning fails this test
    s, _ = pair(A.sigmoid_forward(x), "sigmoid_forward")
assert not np.any(np.isnan(s)), (
    "sigmoid gave NaN: e^x / (1 + e^x) is inf / inf for x = 1000; never exponentiate a large x"
)
assert_close(s, [0.0, 0.11920292202211755, 0.5, 0.7310585786300049, 1.0], "sigmoid(x)", rtol=1e-10, atol=1e-15)
t, _ = pair(A.tanh_forward(np.array([[-2.0, 0.0], [0.5, 3.0]])), "tanh_forward")
assert_close(t, [[-0.9640275800758169, 0.0], [0.46211715726000974, 0.9950547536867305]], "tanh(x)")
print("sigmoid and tanh forward look right")
### BEGIN HIDDEN TESTS
hidden_check("sigmoid_tanh_forward")
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Sigmoid backward (1 point)
#
# $\sigma'(x) = \sigma(x)\,(1-\sigma(x))$. Implement `sigmoid_backward` with the **cached output** $s$:
# `dx = dout * s * (1 - s)`. A classic bug applies the formula to the input `x` instead of `s`.

# %% nbgrader={"grade": true, "grade_id": "sigmoid_backward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
x = np.array([-2.0, -0.5, 0.5, 3.0])
dout = np.array([1.0, -2.0, 0.5, 2.0])
_, cache = pair(A.sigmoid_forward(x), "sigmoid_forward")
dx = A.sigmoid_backward(dout, cache)
assert_close(
    dx,
    [0.1049935854035065, -0.47000742440318893, 0.11750185610079725, 0.090353319461824],
    "dx",
    hint="dx = dout * s * (1 - s) with s = sigmoid(x), the forward's OUTPUT (cache it), not x",
)
rng = np.random.default_rng(0)
xr, dr = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
report = check_gradient(lambda v: A.sigmoid_forward(v)[0], xr, A.sigmoid_backward(dr, A.sigmoid_forward(xr)[1]), dr)
print(report)
assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("sigmoid_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Tanh backward (1 point)
#
# $\tanh'(x) = 1 - \tanh^2(x)$: implement `tanh_backward` from the cached output $t$ (`dout * (1 - t**2)`).

# %% nbgrader={"grade": true, "grade_id": "tanh_backward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
x = np.array([-2.0, -0.5, 0.5, 3.0])
dout = np.array([1.0, -2.0, 0.5, 2.0])
dx = A.tanh_backward(dout, pair(A.tanh_forward(x), "tanh_forward")[1])
assert_close(
    dx,
    [0.07065082485316443, -1.5728954659318548, 0.3932238664829637, 0.01973207433088042],
    "dx",
    hint="dx = dout * (1 - t**2) with t = tanh(x), the forward's OUTPUT, not x",
)
rng = np.random.default_rng(1)
xr, dr = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
report = check_gradient(lambda v: A.tanh_forward(v)[0], xr, A.tanh_backward(dr, A.tanh_forward(xr)[1]), dr)
print(report)
assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("tanh_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Leaky ReLU (1 + 1 points)
#
# $f(x) = x$ for $x > 0$ and $f(x) = s\,x$ otherwise, with a fixed small slope $s$ (default 0.01).
# Implement `leaky_relu_forward(x, slope=0.01)` and `leaky_relu_backward`. The whole point of the leak:
# the gradient for negative inputs is $s$, **not 0**. At exactly $x = 0$, where the function has a kink, use
# the left slope $s$ too, as PyTorch does (the hidden checks contain exact zeros).

# %% nbgrader={"grade": true, "grade_id": "leaky_relu_forward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
x = np.array([-2.0, -0.5, 0.5, 3.0])
out, _ = pair(A.leaky_relu_forward(x), "leaky_relu_forward")
assert_close(out, [-0.02, -0.005, 0.5, 3.0], "leaky_relu(x)")
out, _ = pair(A.leaky_relu_forward(x, slope=0.2), "leaky_relu_forward")
assert_close(out, [-0.4, -0.1, 0.5, 3.0], "leaky_relu(x, slope=0.2)", hint="use the slope argument, not 0.01")
### BEGIN HIDDEN TESTS
hidden_check("leaky_relu_forward")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "leaky_relu_backward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])  # x[2] = 0: the kink
dout = np.array([1.0, -2.0, 4.0, 0.5, 2.0])
dx = A.leaky_relu_backward(dout, pair(A.leaky_relu_forward(x, 0.2), "leaky_relu_forward")[1])
assert dx[0] != 0, "dx is 0 for a negative input: the leak's gradient there is slope * dout, not 0"
assert_close(dx[2], 0.8, "dx at x = 0", hint="at exactly x = 0 use the left slope: slope * dout")
assert_close(dx, [0.2, -0.4, 0.8, 0.5, 2.0], "dx (slope 0.2)")
assert_close(A.leaky_relu_backward(dout, A.leaky_relu_forward(x)[1]), [0.01, -0.02, 0.04, 0.5, 2.0], "dx (slope 0.01)")
rng = np.random.default_rng(2)
xr, dr = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
dx = A.leaky_relu_backward(dr, A.leaky_relu_forward(xr, 0.1)[1])
report = check_gradient(lambda v: A.leaky_relu_forward(v, 0.1)[0], xr, dx, dr)
print(report)
assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("leaky_relu_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## 5. PReLU: a learned leak (1 + 1 + 2 points)
#
# PReLU is Leaky ReLU with the slope $\alpha$ **learned**: $f(x) = x$ for $x > 0$, $\alpha x$ otherwise.
# `alpha` is either a scalar shared by every unit, or an array of shape `(C,)`: one value per feature
# (input `(N, C)`) or per channel (input `(N, C, H, W)`), broadcast along axis 1.
#
# `prelu_backward(dout, cache)` returns `(dx, dalpha)`. Because one $\alpha_c$ is used at many positions,
# its gradient is a **sum** over all of them (the batch and any spatial axes):
# $$\frac{\partial L}{\partial \alpha_c} = \sum_{n,h,w:\; x_{n,c,h,w} \le 0} \text{dout}_{n,c,h,w}\, x_{n,c,h,w}.$$
# `dalpha` has `alpha`'s shape (a 0-d array or float for a scalar alpha). At exactly $x = 0$ the slope is
# $\alpha$ (the left slope, as for Leaky ReLU).

# %% nbgrader={"grade": true, "grade_id": "prelu_forward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
x = np.array([[-1.0, 2.0, -3.0], [4.0, -5.0, -0.5]])
out, _ = pair(A.prelu_forward(x, np.array([0.1, 0.2, 0.3])), "prelu_forward")
assert_close(out, [[-0.1, 2.0, -0.9], [4.0, -1.0, -0.15]], "prelu(x, per-feature alpha)", hint="alpha[c] for column c")
out, _ = pair(A.prelu_forward(x, 0.25), "prelu_forward")
assert_close(out, [[-0.25, 2.0, -0.75], [4.0, -1.25, -0.125]], "prelu(x, scalar alpha)")
out4, _ = pair(A.prelu_forward(np.ones((2, 3, 2, 2)) * -1.0, np.array([0.1, 0.2, 0.3])), "prelu_forward")
assert out4.shape == (2, 3, 2, 2), f"output shape {out4.shape}, expected x's shape (2, 3, 2, 2)"
assert_close(out4[1, :, 0, 1], [-0.1, -0.2, -0.3], "prelu(x4)[1, :, 0, 1]", hint="alpha is per channel: axis 1")
### BEGIN HIDDEN TESTS
hidden_check("prelu_forward")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "prelu_backward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
x = np.array([[-1.0, 2.0, 0.0], [4.0, -5.0, -0.5]])  # x[0, 2] = 0: the kink
dout = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
result = A.prelu_backward(dout, pair(A.prelu_forward(x, np.array([0.1, 0.2, 0.3])), "prelu_forward")[1])
assert isinstance(result, tuple) and len(result) == 2, "prelu_backward must return a tuple (dx, dalpha)"
dx, _ = result
assert_close(dx[0, 2], 0.9, "dx at x = 0", hint="at exactly x = 0 use the left slope: alpha * dout")
assert_close(dx, [[0.1, 2.0, 0.9], [-1.0, 0.1, 0.6]], "dx")
rng = np.random.default_rng(3)
xr, dr, alpha = rng.normal(size=(4, 3, 2)), rng.normal(size=(4, 3, 2)), np.array([0.1, 0.2, 0.3])
dx, _ = A.prelu_backward(dr, A.prelu_forward(xr, alpha)[1])
report = check_gradient(lambda v: A.prelu_forward(v, alpha)[0], xr, dx, dr)
print(report)
assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("prelu_backward")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "prelu_dalpha", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
x = np.array([[-1.0, 2.0, -3.0], [4.0, -5.0, -0.5]])
dout = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
_, dalpha = A.prelu_backward(dout, pair(A.prelu_forward(x, np.array([0.1, 0.2, 0.3])), "prelu_forward")[1])
assert np.shape(dalpha) == (3,), (
    f"dalpha has shape {np.shape(dalpha)}; it must have alpha's shape (3,): one alpha is shared by the whole batch, "
    "so its gradient sums over the examples"
)
assert_close(dalpha, [-1.0, -2.5, -10.0], "dalpha (per feature)", hint="sum dout * x over the examples where x <= 0")
_, dalpha = A.prelu_backward(dout, A.prelu_forward(x, 0.25)[1])
assert np.size(dalpha) == 1, f"dalpha has {np.size(dalpha)} values; a scalar alpha has one gradient"
assert_close(float(dalpha), -13.5, "dalpha (scalar)", hint="a scalar alpha is shared by every unit: sum over all")
rng = np.random.default_rng(4)
xr, dr, alpha = rng.normal(size=(4, 3, 2)), rng.normal(size=(4, 3, 2)), np.array([0.1, 0.2, 0.3])
_, dalpha = A.prelu_backward(dr, A.prelu_forward(xr, alpha)[1])
report = check_gradient(lambda a: A.prelu_forward(xr, a)[0], alpha, dalpha, dr, name="alpha")
print(report)
assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("prelu_dalpha")
### END HIDDEN TESTS

# %% [markdown]
# ## 6. ELU (1 + 1 points)
#
# $f(x) = x$ for $x > 0$ and $\alpha(e^x - 1)$ otherwise (default $\alpha = 1$): smooth, negative outputs
# that saturate at $-\alpha$, so the mean activation is closer to 0 than ReLU's.
# For $x \le 0$, $f'(x) = \alpha e^x = f(x) + \alpha$ (at exactly $x = 0$ that is $\alpha$: the left slope).
# Avoid overflow: never evaluate `np.exp` of a large positive `x` (e.g. use `np.expm1(np.minimum(x, 0))`).

# %% nbgrader={"grade": true, "grade_id": "elu_forward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
x = np.array([-2.0, -0.5, 0.5, 3.0])
with warnings.catch_warnings():
    warnings.simplefilter("error")
    big, _ = pair(A.elu_forward(np.array([800.0, -800.0])), "elu_forward")
assert_close(big, [800.0, -1.0], "elu([800, -800])", hint="exponentiate only min(x, 0): exp(800) overflows")
assert_close(pair(A.elu_forward(x), "elu_forward")[0], [-0.8646647167633873, -0.3934693402873666, 0.5, 3.0], "elu(x)")
assert_close(A.elu_forward(x, 0.5)[0], [-0.43233235838169365, -0.1967346701436833, 0.5, 3.0], "elu(x, alpha=0.5)")
### BEGIN HIDDEN TESTS
hidden_check("elu_forward")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "elu_backward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])  # x[2] = 0: a kink when alpha != 1
dout = np.array([1.0, -2.0, 4.0, 0.5, 2.0])
dx = A.elu_backward(dout, pair(A.elu_forward(x, 0.5), "elu_forward")[1])
assert_close(
    dx[:2], [0.06766764161830635, -0.6065306597126334], "dx for x < 0", hint="the slope is alpha * exp(x) = out + alpha"
)
assert_close(dx[2], 2.0, "dx at x = 0", hint="at exactly x = 0 use the left slope: alpha * exp(0) * dout")
assert_close(dx, [0.06766764161830635, -0.6065306597126334, 2.0, 0.5, 2.0], "dx (alpha 0.5)")
assert_close(
    A.elu_backward(dout, A.elu_forward(x)[1]), [0.1353352832366127, -1.2130613194252668, 4.0, 0.5, 2.0], "dx (alpha 1)"
)
rng = np.random.default_rng(5)
xr, dr = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
report = check_gradient(lambda v: A.elu_forward(v, 1.5)[0], xr, A.elu_backward(dr, A.elu_forward(xr, 1.5)[1]), dr)
print(report)
assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("elu_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## 7. SELU (1 + 1 points)
#
# $\mathrm{selu}(x) = \lambda\,\mathrm{elu}(x, \alpha)$ with the constants given in the module,
# `A.SELU_LAMBDA` $\approx 1.0507$ and `A.SELU_ALPHA` $\approx 1.67326$. They are chosen so that a standard
# normal input gives an output of mean 0 and variance 1 (the lecture derives them). Use the module constants,
# not rounded ones: the hidden check compares to 10 significant digits. You may call your ELU.

# %% nbgrader={"grade": true, "grade_id": "selu_forward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
x = np.array([-2.0, -0.5, 0.5, 3.0])
assert_close(
    pair(A.selu_forward(x), "selu_forward")[0],
    [-1.520166468595695, -0.6917581878028713, 0.5253504936777402, 3.1521029620664414],
    "selu(x)",
    rtol=1e-12,
    hint="use A.SELU_LAMBDA and A.SELU_ALPHA, all their digits",
)
z = np.random.default_rng(6).standard_normal(200_000)
y = A.selu_forward(z)[0]
print(f"N(0, 1) in: out mean {y.mean():+.4f}, variance {y.var():.4f}")
assert abs(y.mean()) < 0.02 and abs(y.var() - 1) < 0.02
### BEGIN HIDDEN TESTS
hidden_check("selu_forward")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "selu_backward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])  # x[2] = 0: SELU's kink (alpha != 1)
dout = np.array([1.0, -2.0, 4.0, 0.5, 2.0])
dx = A.selu_backward(dout, pair(A.selu_forward(x), "selu_forward")[1])
assert_close(dx[2], 7.0323973633895065, "dx at x = 0", hint="at exactly x = 0 the slope is SELU_LAMBDA * SELU_ALPHA")
assert_close(
    dx,
    [0.23793287225168183, -2.1326823060890105, 7.0323973633895065, 0.5253504936777402, 2.101401974710961],
    "dx",
    rtol=1e-12,
)
rng = np.random.default_rng(7)
xr, dr = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
report = check_gradient(lambda v: A.selu_forward(v)[0], xr, A.selu_backward(dr, A.selu_forward(xr)[1]), dr)
print(report)
assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("selu_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## 8. Maxout (2 + 2 points)
#
# A Maxout unit takes the maximum of $k$ affine functions of its input:
# $$z_{n,m,j} = \sum_d x_{n,d} W_{d,m,j} + b_{m,j}, \qquad \text{out}_{n,m} = \max_{j} z_{n,m,j},$$
# with `x` of shape `(N, D)`, `W` of shape `(D, M, k)` and `b` of shape `(M, k)`; the output is `(N, M)`.
# The max passes its upstream gradient **only to the winning piece** $j^* = \arg\max_j z_{n,m,j}$ (the others
# get 0); from there it is an affine layer: `dx`, `dW`, `db`. Cache the argmax indices in the forward pass.
# When several pieces tie for the maximum, the **first** of them wins (what `np.argmax` picks) and gets the whole
# gradient; the others get 0. Hint: `W.reshape(D, M * k)` turns all pieces into one matrix product.

# %% nbgrader={"grade": true, "grade_id": "maxout_forward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
x = np.array([[1.0, -1.0], [0.5, 2.0]])
W = np.array([[[1.0, -1.0], [0.5, 0.0]], [[2.0, 0.0], [-1.0, 1.0]]])
b = np.array([[0.0, 0.5], [0.0, -0.25]])
out, _ = pair(A.maxout_forward(x, W, b), "maxout_forward")
assert out.shape == (2, 2), f"out has shape {out.shape}, expected (N, M) = (2, 2)"
assert_close(out, [[-0.5, 1.5], [4.5, 1.75]], "maxout(x)", hint="out[n, m] = max over j of x[n] @ W[:, m, j] + b[m, j]")
### BEGIN HIDDEN TESTS
hidden_check("maxout_forward")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "maxout_backward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
x = np.array([[1.0, -1.0], [0.5, 2.0]])
W = np.array([[[1.0, -1.0], [0.5, 0.0]], [[2.0, 0.0], [-1.0, 1.0]]])
b = np.array([[0.0, 0.5], [0.0, -0.25]])
result = A.maxout_backward(np.array([[1.0, 2.0], [3.0, -1.0]]), pair(A.maxout_forward(x, W, b), "maxout_forward")[1])
assert isinstance(result, tuple) and len(result) == 3, "maxout_backward must return a tuple (dx, dW, db)"
dx, dW, db = result
assert_close(db, [[3.0, 1.0], [2.0, -1.0]], "db", hint="each output's gradient goes to its winning piece only")
assert_close(dx, [[0.0, -2.0], [3.0, 5.0]], "dx")
assert_close(dW, [[[1.5, 1.0], [2.0, -0.5]], [[6.0, -1.0], [-2.0, -2.0]]], "dW")
# a tie: unit 0's two pieces are identical, so they tie on every example; the first one wins
W_tie = np.array([[[1.0, 1.0], [0.5, 0.0]], [[2.0, 2.0], [-1.0, 1.0]]])
b_tie = np.array([[0.0, 0.0], [0.0, -0.25]])
_, dW, db = A.maxout_backward(np.array([[1.0, 2.0], [3.0, -1.0]]), A.maxout_forward(x, W_tie, b_tie)[1])
assert_close(
    db, [[4.0, 0.0], [2.0, -1.0]], "db with tied pieces", hint="on a tie only the FIRST piece gets the gradient"
)
assert_close(dW, [[[2.5, 0.0], [2.0, -0.5]], [[5.0, 0.0], [-2.0, -2.0]]], "dW with tied pieces")
rng = np.random.default_rng(8)
xr, Wr, br, dr = rng.normal(size=(4, 3)), rng.normal(size=(3, 2, 3)), rng.normal(size=(2, 3)), rng.normal(size=(4, 2))
dx, dW, db = A.maxout_backward(dr, A.maxout_forward(xr, Wr, br)[1])
for name, arr, grad, f in [
    ("x", xr, dx, lambda v: A.maxout_forward(v, Wr, br)[0]),
    ("W", Wr, dW, lambda v: A.maxout_forward(xr, v, br)[0]),
    ("b", br, db, lambda v: A.maxout_forward(xr, Wr, v)[0]),
]:
    report = check_gradient(f, arr, grad, dr, name=name)
    print(report)
    assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("maxout_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## 9. Explain (manually graded, 2 points)
#
# In two or three sentences each: (a) why can a ReLU unit "die" during training, and why cannot a Leaky ReLU
# unit? An ELU unit's slope $\alpha e^x$ also tends to 0 far on the negative side: can an ELU unit stop learning
# too, and how does that differ from a dead ReLU unit? (b) Why does a deep stack of sigmoid layers train slowly
# even when no unit is dead?

# %% [markdown] nbgrader={"grade": true, "grade_id": "explain_dead_and_saturation", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader; the release shows "YOUR ANSWER HERE".)
# (a) ReLU's slope is exactly 0 for every negative input. If a unit's pre-activation becomes negative for every
# training input (e.g. after a large step pushed its bias down), its incoming weights and bias get exactly zero
# gradient, so no later step can move them: the unit is dead for good. Leaky ReLU's slope is $s > 0$ everywhere,
# so the weights always get a gradient. ELU's slope $\alpha e^x$ is positive for every finite $x$, so an ELU unit
# never gets an exactly-zero gradient, but far on the negative side it is tiny ($e^{-10} \approx 5\cdot10^{-5}$,
# $e^{-30} \approx 10^{-13}$): such a unit is *saturated* and learns extremely slowly, like a sigmoid's tail,
# and it recovers as soon as its input moves back towards 0. A dead ReLU unit gets 0 however close to 0 it is.
# (b) Every sigmoid layer multiplies the backpropagated gradient by $\sigma'(z) \le 1/4$ (times the weights),
# so after $L$ layers the early layers' gradient is smaller by up to $4^{-L}$ (vanishing gradients); its outputs
# are also all positive, so each unit's weight gradients share one sign per example and the updates zig-zag.

# %% [markdown]
# ## 10. Transfer: a new activation (manually graded, 2 points)
#
# Many recent networks use SiLU (also called Swish), $f(x) = x\,\sigma(x)$, which the lecture does not treat.
# (a) Derive $f'(x)$ and write it with $\sigma(x)$ only (no new exponentials), so that a backward pass could
# reuse the forward's cached $\sigma(x)$. (b) Is $f$ monotonic? Find numerically (a few lines of NumPy are
# fine) where $f$ has its minimum and its value there. (c) Using (a): can a SiLU unit die like a ReLU unit,
# saturate like a sigmoid unit, or neither? Say which side of the axis each answer refers to.

# %% [markdown] nbgrader={"grade": true, "grade_id": "transfer_silu", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader.)
# (a) $f'(x) = \sigma(x) + x\,\sigma(x)(1-\sigma(x)) = \sigma(x)\,\bigl(1 + x(1 - \sigma(x))\bigr)$.
# (b) No: $f' < 0$ where $1 + x(1-\sigma(x)) < 0$, which holds for every $x$ below about $-1.2785$. So $f$
# decreases on $(-\infty, -1.2785)$ and increases after it, with its minimum $f(-1.2785) \approx -0.2785$ (found
# e.g. on a fine grid or with `scipy.optimize`). Check: $f \to 0^-$ as $x \to -\infty$ and $f(0) = 0$.
# (c) For $x \to +\infty$, $f'(x) \to 1$: no saturation on the positive side (like ReLU). For $x \to -\infty$,
# $f'(x) \approx (1 + x)e^x \to 0$: far on the negative side the unit saturates (the gradient vanishes
# exponentially, like ELU's), but it is never exactly 0 as ReLU's is, so the unit does not die in ReLU's sense.
