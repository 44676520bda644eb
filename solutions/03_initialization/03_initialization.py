# %% [markdown]
# # Exercise 03: weight initialization
#
# You will implement the classic initialisation schemes in your library file `lib/deepkit/init.py`, then check
# them here and run a deep network with them:
#
# * `compute_fans(shape)` and `calculate_gain(nonlinearity, param)`;
# * `zeros`, `constant`, `normal`;
# * `xavier_uniform`, `xavier_normal` (Glorot), `kaiming_std`, `kaiming_normal`, `kaiming_uniform` (He);
# * `init_mlp(layer_sizes, scheme, rng, **kw)`, which builds all the `(W, b)` pairs of an MLP.
#
# Conventions: deepkit's affine layer computes `x @ w`, so a dense weight has shape `(D_in, D_out)`
# (torch's `nn.Linear.weight` is the transpose, `(out, in)`); a convolution weight is `(F, C, kh, kw)` like torch's.
# Randomness only through the `rng` argument (`np.random.default_rng(seed)`); return float64 arrays.
#
# The visible tests below use fixed seeds and tolerances; the hidden checks sample tens of thousands of weights
# with fresh seeds and compare their mean, variance, kurtosis (normal vs uniform) and range with the theory, at
# 6 standard errors, for dense and convolution shapes.

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
# ## Part 1: fans (1 point)
#
# Implement `compute_fans(shape)`: return `(fan_in, fan_out)` as ints.
# Dense `(D_in, D_out)` -> `(D_in, D_out)`; convolution `(F, C, kh, kw)` -> `(C*kh*kw, F*kh*kw)`
# (any number of kernel dimensions: multiply them all into the receptive-field size).

# %% nbgrader={"grade": true, "grade_id": "fans", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.init import compute_fans

fans = compute_fans((64, 10))
assert isinstance(fans, tuple) and len(fans) == 2, "compute_fans must return a tuple (fan_in, fan_out)"
assert fans == (64, 10), f"dense (64, 10): got {fans}, expected (64, 10): deepkit's dense weight is (D_in, D_out)"
assert compute_fans((8, 3, 5, 5)) == (75, 200), (
    f"conv (F, C, kh, kw) = (8, 3, 5, 5): got {compute_fans((8, 3, 5, 5))}, expected (C*kh*kw, F*kh*kw) = (75, 200)"
)
assert compute_fans((8, 3, 1, 1)) == (3, 8), "a 1 x 1 kernel: the fans are C and F"
assert compute_fans((4, 2, 3)) == (6, 12), "1-D convolution (F, C, k): multiply every kernel dimension"
assert all(isinstance(f, int) for f in compute_fans((8, 3, 5, 5))), "return Python ints (int(...))"
print("compute_fans: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("fans")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2: gains (1 point)
#
# Implement `calculate_gain(nonlinearity, param=None)` with the same numbers as `torch.nn.init.calculate_gain`:
# `linear`, `identity`, `conv*` and `sigmoid` -> 1; `tanh` -> 5/3; `relu` -> $\sqrt 2$;
# `leaky_relu` -> $\sqrt{2/(1+a^2)}$ with slope $a$ = `param` (0.01 when `param` is None); `selu` -> 3/4.

# %% nbgrader={"grade": true, "grade_id": "gains", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.init import calculate_gain

assert_close(
    calculate_gain("relu"), 1.4142135623730951, "gain('relu')", rtol=1e-12, hint="sqrt(2): the gain multiplies the std"
)
assert_close(calculate_gain("linear"), 1.0, "gain('linear')")
assert_close(calculate_gain("sigmoid"), 1.0, "gain('sigmoid')")
assert_close(calculate_gain("tanh"), 1.6666666666666667, "gain('tanh')", rtol=1e-12)
assert_close(
    calculate_gain("leaky_relu"), 1.4141428569978354, "gain('leaky_relu')", rtol=1e-12, hint="param None: a = 0.01"
)
assert_close(
    calculate_gain("leaky_relu", 0.2),
    1.3867504905630728,
    "gain('leaky_relu', 0.2)",
    rtol=1e-12,
    hint="sqrt(2 / (1 + a**2))",
)
assert_close(
    calculate_gain("leaky_relu", 0.0),
    2**0.5,
    "gain('leaky_relu', 0)",
    rtol=1e-12,
    hint="a = 0 is ReLU, not the default",
)
assert_close(calculate_gain("selu"), 0.75, "gain('selu')")
print("calculate_gain: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("gains")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3: zeros and constant (1 point)
#
# `zeros(shape)` and `constant(shape, value)`: float64 arrays of the requested shape.
# (They are here to show in Part 10 and in the lecture why they fail: every hidden unit of a layer computes the
# same function and receives the same gradient, so they stay identical forever.)

# %% nbgrader={"grade": true, "grade_id": "zeros_constant", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.init import constant, zeros

z = zeros((2, 3))
assert z.dtype == np.float64, f"zeros returned dtype {z.dtype}: every initialiser returns float64"
assert z.shape == (2, 3) and not z.any(), f"zeros((2, 3)) returned shape {z.shape}"
c = constant((3, 1, 2), -0.5)
assert c.dtype == np.float64, f"constant returned dtype {c.dtype}, expected float64"
assert_close(c, np.full((3, 1, 2), -0.5), "constant((3, 1, 2), -0.5)", rtol=0, atol=0)
print("zeros/constant: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("zeros_constant")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4: normal (1 point)
#
# `normal(shape, std, rng)`: samples of $N(0, \mathrm{std}^2)$ (`std` is the standard deviation, not the variance).

# %% nbgrader={"grade": true, "grade_id": "normal", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.init import normal

w = normal((300, 200), 0.01, np.random.default_rng(0))
assert isinstance(w, np.ndarray) and w.shape == (300, 200) and w.dtype == np.float64, (
    "a float64 array of shape (300, 200)"
)
# 60,000 samples: the sample std is within 6 * 0.01 / sqrt(2 * 60000) = 0.00017 of 0.01
assert abs(w.std() - 0.01) < 1.7e-4, (
    f"sample std {w.std():.3g}, expected 0.01: std is the standard deviation, not the variance"
)
assert abs(w.mean()) < 6 * 0.01 / np.sqrt(w.size), f"sample mean {w.mean():.3g}, expected 0"
print("normal: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("normal")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 5: Xavier uniform (2 points)
#
# `xavier_uniform(shape, rng, gain=1)`: $U(-a, a)$ with
# $a = \mathrm{gain}\cdot\sqrt{6/(\mathrm{fan_{in}}+\mathrm{fan_{out}})}$, so that
# $\mathrm{Var}(w) = a^2/3 = \mathrm{gain}^2\cdot 2/(\mathrm{fan_{in}}+\mathrm{fan_{out}})$.
# Careful: the bound of a uniform distribution is $\sqrt 3$ times its standard deviation (using the normal's std
# as the bound gives a variance three times too small). Use `compute_fans`.

# %% nbgrader={"grade": true, "grade_id": "xavier_uniform", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.init import xavier_uniform

w = xavier_uniform((300, 200), np.random.default_rng(0))
bound = 0.10954451150103323  # sqrt(6 / 500)
assert w.shape == (300, 200) and w.dtype == np.float64, "a float64 array of the requested shape"
assert np.abs(w).max() > 0.7 * bound, (
    f"max |w| is {np.abs(w).max():.4f}, about sqrt(1/3) of the bound {bound:.4f}: the normal's std used as the bound?"
)
assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound, f"max |w| {np.abs(w).max():.4f}, bound {bound:.4f}"
assert abs(w.var() / 0.004 - 1) < 0.03, f"variance {w.var():.5f}, expected 2 / 500 = 0.004 (6 standard errors: 3%)"
w = xavier_uniform((16, 8, 3, 3), np.random.default_rng(1), gain=5 / 3)
assert np.abs(w).max() <= 5 / 3 * np.sqrt(6 / (72 + 144)), "conv fans (72, 144) and the gain multiply into the bound"
assert np.abs(w).max() > 0.99 * 5 / 3 * np.sqrt(6 / (72 + 144)), "conv (16, 8, 3, 3): use compute_fans, not sum(shape)"
print("xavier_uniform: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("xavier_uniform")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 6: Xavier normal (1 point)
#
# `xavier_normal(shape, rng, gain=1)`: $N(0, \sigma^2)$ with
# $\sigma = \mathrm{gain}\cdot\sqrt{2/(\mathrm{fan_{in}}+\mathrm{fan_{out}})}$.

# %% nbgrader={"grade": true, "grade_id": "xavier_normal", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.init import xavier_normal

w = xavier_normal((100, 400), np.random.default_rng(0))
assert w.shape == (100, 400) and w.dtype == np.float64, "a float64 array of the requested shape"
assert abs(w.var() * 100 - 1) > 0.3, "variance 1/fan_in = 1/100: that is LeCun's rule; Xavier uses 2/(fan_in + fan_out)"
assert abs(w.var() / 0.004 - 1) < 0.045, f"variance {w.var():.5f}, expected 2 / 500 = 0.004 (6 standard errors: 4.2%)"
kurtosis = np.mean(w**4) / np.mean(w**2) ** 2  # 3 for a normal, 1.8 for a uniform
assert abs(kurtosis - 3) < 0.15, f"kurtosis {kurtosis:.2f}: a normal has 3 (a uniform 1.8)"
print("xavier_normal: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("xavier_normal")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 7: Kaiming normal (2 points)
#
# Implement `kaiming_std(shape, mode, nonlinearity, a)`: $\mathrm{gain}/\sqrt{\mathrm{fan}}$ with
# `gain = calculate_gain(nonlinearity, a)` and `fan` = fan_in (`mode="fan_in"`, keeps the forward variance) or
# fan_out (`mode="fan_out"`, keeps the backward variance); then `kaiming_normal(shape, rng, mode, nonlinearity, a)`
# draws $N(0, \mathrm{std}^2)$. For ReLU, $\mathrm{std} = \sqrt{2/\mathrm{fan_{in}}}$: the gain
# **multiplies**. (A widespread code line reads `np.random.randn(Din, Dout) / np.sqrt(2 / Din)`: that divides,
# giving variance $D_{in}/2$ instead of $2/D_{in}$.)

# %% nbgrader={"grade": true, "grade_id": "kaiming_normal", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.init import kaiming_normal, kaiming_std

assert_close(
    kaiming_std((200, 50)), 0.1, "kaiming_std((200, 50))", rtol=1e-12, hint="sqrt(2 / 200): the gain MULTIPLIES"
)
assert_close(
    kaiming_std((200, 50), mode="fan_out"), 0.2, "kaiming_std(mode='fan_out')", rtol=1e-12, hint="fan_out = 50"
)
assert_close(kaiming_std((32, 16, 3, 3), nonlinearity="tanh"), 5 / 3 / 12, "kaiming_std of a conv, tanh", rtol=1e-12)
w = kaiming_normal((200, 300), np.random.default_rng(0))
assert w.shape == (200, 300) and w.dtype == np.float64, "a float64 array of the requested shape"
assert abs(w.var() / 0.01 - 1) < 0.035, f"variance {w.var():.5f}, expected 2 / 200 = 0.01"
print("kaiming_normal: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("kaiming_normal")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 8: Kaiming uniform (1 point)
#
# `kaiming_uniform(shape, rng, mode, nonlinearity, a)`: $U(-b, b)$ with $b = \sqrt 3\cdot$`kaiming_std(...)`
# (same variance as `kaiming_normal`).

# %% nbgrader={"grade": true, "grade_id": "kaiming_uniform", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.init import kaiming_uniform

w = kaiming_uniform((200, 300), np.random.default_rng(0))
b = 0.17320508075688773  # sqrt(3) * sqrt(2 / 200)
assert w.shape == (200, 300), f"shape {w.shape}, expected (200, 300)"
assert np.abs(w).max() > 0.99 * b, f"max |w| {np.abs(w).max():.4f}, bound {b:.4f}: the bound is sqrt(3) * std"
assert np.abs(w).max() <= b, f"max |w| {np.abs(w).max():.4f} exceeds the bound {b:.4f}"
assert abs(w.var() / 0.01 - 1) < 0.025, f"variance {w.var():.5f}, expected 0.01"
print("kaiming_uniform: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("kaiming_uniform")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 9: a whole MLP (1 point)
#
# `init_mlp(layer_sizes, scheme, rng, **kw)`: for `layer_sizes = [D_0, ..., D_L]` return the list of `L` pairs
# `(W_i, b_i)`, `W_i` of shape `(D_i, D_{i+1})` drawn with `scheme` (a name from `deepkit.init.SCHEMES`), `b_i`
# zeros of shape `(D_{i+1},)`. Pass the keywords on: `value` (constant, default 0.1), `std` (normal, default 0.01),
# `gain` (Xavier), `mode`, `nonlinearity`, `a` (Kaiming). Layer $k$ uses its OWN fans $(D_{k}, D_{k+1})$
# (some slides write the Xavier bound with $n^{k+1}+n^k$, the next layer's size: a typo).

# %% nbgrader={"grade": true, "grade_id": "init_mlp", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
from deepkit.init import init_mlp

params = init_mlp([64, 100, 30, 10], "xavier_normal", np.random.default_rng(0), gain=5 / 3)
assert isinstance(params, list) and len(params) == 3, "init_mlp must return a list of 3 (W, b) pairs for 4 sizes"
assert [(W.shape, b.shape) for W, b in params] == [((64, 100), (100,)), ((100, 30), (30,)), ((30, 10), (10,))], (
    "W_i has shape (D_i, D_{i+1}) and b_i shape (D_{i+1},)"
)
assert all(not b.any() for _, b in params), "biases start at exactly zero"
W1 = params[1][0]
assert abs(W1.var() / ((5 / 3) ** 2 * 2 / 130) - 1) < 0.2, "layer 1 uses its own fans (100, 30): gain^2 * 2 / 130"
assert all(np.all(W == 0.3) for W, _ in init_mlp([5, 4, 3], "constant", np.random.default_rng(0), value=0.3))
W = init_mlp([300, 400], "kaiming_uniform", np.random.default_rng(1), mode="fan_out")[0][0]
assert np.abs(W).max() <= np.sqrt(3 * 2 / 400)
print("init_mlp: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("init_mlp")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 10: a deep MLP on digits (2 points)
#
# With your initialisers, push a batch of digits through 7 hidden layers of 256 units and backpropagate a random
# upstream gradient; record the standard deviation of the activations and of the gradients at every layer.
# The code is given (plain NumPy, so it does not depend on your layers from exercise 01); your job was the
# initialisers. Look at the plot: which scheme keeps both signals alive?
# The hidden check runs the same experiment on fresh seeds and compares each layer's std with the reference's
# (within a factor 1.75, far more than the run-to-run noise, far less than the classic mistakes produce).

# %%
import matplotlib.pyplot as plt
from deepkit import init
from deepkit.data import load_digits

X = load_digits(seed=0).X_train[:64]
EXPERIMENT = (
    ("normal", {"std": 0.05}, "tanh"),
    ("xavier_normal", {"gain": 1.0}, "tanh"),
    ("kaiming_normal", {"nonlinearity": "relu"}, "relu"),
    ("xavier_uniform", {"gain": 1.0}, "relu"),
)


def layer_stds(scheme, kw, act, sizes=(64, 256, 256, 256, 256, 256, 256, 256, 10), seed=0):
    """Per hidden layer: std of the activations (forward) and of dL/dh (backward) at initialisation."""
    rng = np.random.default_rng(seed)
    Ws = [getattr(init, scheme)((a, b), rng=rng, **kw) for a, b in zip(sizes[:-1], sizes[1:])]
    h, hs = X, []
    for W in Ws[:-1]:
        z = h @ W
        h = np.tanh(z) if act == "tanh" else np.maximum(z, 0)
        hs.append(h)
    dh, gs = rng.normal(size=(len(X), sizes[-1])) @ Ws[-1].T, []
    for W, h in zip(Ws[-2::-1], hs[::-1]):
        gs.append(dh.std())
        dh = (dh * (1 - h**2) if act == "tanh" else dh * (h > 0)) @ W.T
    return np.array([h.std() for h in hs]), np.array(gs[::-1])


fig, axes = plt.subplots(1, 2, figsize=(9, 3))
results = {}
for scheme, kw, act in EXPERIMENT:
    a, g = layer_stds(scheme, kw, act)
    results[scheme, act] = (a, g)
    axes[0].semilogy(range(1, 8), a, "o-", label=f"{scheme} + {act}")
    axes[1].semilogy(range(1, 8), g, "o-")
axes[0].set_title("activation std per layer")
axes[1].set_title("gradient std per layer")
axes[0].legend(fontsize=7)
plt.show()

# %% nbgrader={"grade": true, "grade_id": "experiment", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
a, g = results["kaiming_normal", "relu"]
assert 0.5 < a[-1] / a[0] < 2 and 0.5 < g[0] / g[-1] < 2, (a, g)  # Kaiming keeps ReLU nets alive
a, g = results["normal", "tanh"]
assert a[-1] / a[0] < 0.5, a  # N(0, 0.05^2) shrinks layer after layer
a, g = results["xavier_uniform", "relu"]
assert a[-1] / a[0] < 0.2, a  # Xavier halves ReLU variance per layer
print("experiment: visible tests passed")
### BEGIN HIDDEN TESTS
hidden_check("experiment")
### END HIDDEN TESTS

# %% [markdown]
# ## Question (not autograded)
#
# Explain in two or three sentences why initialising every weight of a hidden layer to the same constant
# (zeros or not) makes the network unable to learn more than one hidden feature per layer, whatever the data.

# %% [markdown] nbgrader={"grade": true, "grade_id": "symmetry_answer", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader; the release shows "YOUR ANSWER HERE".) With equal incoming weights and biases, all
# hidden units of the layer compute the same pre-activation and activation for every input; with equal outgoing
# weights they also receive the same upstream gradient, so their weight gradients are equal and one step keeps them
# equal. By induction they stay copies forever: the layer computes one feature, however many units it has.

# %% [markdown]
# ## Transfer question (2 points, graded by your instructor)
#
# Dropout (topic 05) multiplies each hidden activation by an independent mask $m \in \{0, 1/q\}$ that keeps a
# unit with probability $q$ ("inverted" dropout: the kept ones are scaled by $1/q$, so $E[m\,h] = E[h]$).
# (a) Repeat the forward derivation of Kaiming initialisation for a ReLU MLP with such dropout after every hidden
# ReLU, at training time: which $\mathrm{Var}(w)$ keeps the pre-activations' variance the same from layer to layer?
# (b) With those weights, what happens to the pre-activations' variance at test time (no dropout), layer after
# layer? (c) And with the usual Kaiming weights ($2/n_{in}$): what happens during training? Check one of your
# answers with a few lines of NumPy (a deep ReLU net of width 256 with $q = 0.5$) and report the numbers.

# %% [markdown] nbgrader={"grade": true, "grade_id": "transfer_dropout_init", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader.) (a) $E[(m h)^2] = E[m^2]E[h^2] = \tfrac{1}{q}\cdot\tfrac12\mathrm{Var}(z)$ since
# $E[m^2] = q/q^2 = 1/q$; so $\mathrm{Var}(z^{k+1}) = n_{in}\mathrm{Var}(w)\,\mathrm{Var}(z^k)/(2q)$ and the
# variance is kept by $\mathrm{Var}(w) = 2q/n_{in}$. (b) At test time there is no $1/q$ in the second moment: each
# layer multiplies the variance by $q$, so it shrinks like $q^L$ (0.5 per layer for $q = 0.5$). (c) With
# $2/n_{in}$, training multiplies the variance by $1/q$ per layer: it grows like $q^{-L}$ ($2^L$), while test time is
# exactly balanced. Either way train and test see different scales in a deep net: one reason deep nets use dropout
# sparingly, on a few layers, or with normalisation. A simulation (20 layers of 256, $q = 0.5$) shows the train
# variance doubling per layer with $2/n$ weights and the test variance halving per layer with $2q/n$ weights.
