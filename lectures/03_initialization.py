# %% [markdown]
# # Lecture 03: weight initialization
#
# Before the first gradient step, the weights decide whether a deep network can learn at all. This lecture
# 1. proves why zero (or any symmetric) initialisation fails, then shows it in numbers;
# 2. shows what the classic $N(0, 0.01^2)$ does to a deep net;
# 3. derives Xavier/Glorot initialisation step by step (forward variance, backward variance, the compromise,
#    the uniform bound) and Kaiming/He initialisation for ReLU;
# 4. checks every formula empirically (Monte Carlo, torch autograd in float64, finite differences, torch.nn.init);
# 5. lets you play with the schemes in a widget.
#
# We use the reference `deepkit` (`deepkit.init`, `deepkit.layers`, `deepkit.activations`, `deepkit.losses`).
# Shapes: deepkit's affine layer computes `x @ W`, so a dense weight is `(n_in, n_out)`.

# %%
import _course  # puts the reference deepkit (reference/) on the path; inline figures; float64 printing
import numpy as np

# %%
import matplotlib.pyplot as plt
import torch
from deepkit import activations, init, layers, losses
from deepkit.data import load_digits
from deepkit.gradcheck import numerical_gradient_array, rel_error

torch.set_default_dtype(torch.float64)
data = load_digits(seed=0)
X, y = data.X_train, data.y_train
ACT = {
    "relu": (layers.relu_forward, layers.relu_backward),
    "tanh": (activations.tanh_forward, activations.tanh_backward),
}


def mlp_loss(params, X, y, act="relu"):
    """Softmax loss of an MLP (hidden layers with `act`, linear output) and the gradients of every (W, b)."""
    fwd, bwd = ACT[act]
    h, caches = X, []
    for W, b in params[:-1]:
        z, c1 = layers.affine_forward(h, W, b)
        h, c2 = fwd(z)
        caches.append((c1, c2))
    scores, c_out = layers.affine_forward(h, *params[-1])
    loss, dscores = losses.softmax_loss(scores, y)
    dh, dW, db = layers.affine_backward(dscores, c_out)
    grads = [(dW, db)]
    for c1, c2 in reversed(caches):
        dh, dW, db = layers.affine_backward(bwd(dh, c2), c1)
        grads.append((dW, db))
    return loss, grads[::-1]


def sgd(params, steps=50, lr=0.1, act="relu", batch=128, seed=0):
    """A few steps of plain SGD on digits; returns the loss curve (params are updated in place)."""
    rng, curve = np.random.default_rng(seed), []
    for _ in range(steps):
        idx = rng.choice(len(X), batch, replace=False)
        loss, grads = mlp_loss(params, X[idx], y[idx], act)
        curve.append(loss)
        for (W, b), (dW, db) in zip(params, grads):
            W -= lr * dW
            b -= lr * db
    return np.array(curve)


# %% [markdown]
# ## 1. Why zero and symmetric initialisation fail
#
# **Claim.** Take a layer whose weight columns are all equal at step 0, $W_{:,j} = W_{:,k}$ for all hidden units
# $j, k$, with equal biases, and let every later layer treat these units symmetrically (equal outgoing
# weights, e.g. all-constant initialisation). Then after any number of gradient steps the units are still equal.
#
# **Proof (the equal-gradient argument).** By induction on the step. Suppose units $j$ and $k$ have identical
# incoming weights and biases and identical outgoing weights. For every input, their pre-activations are equal,
# $z_j = \sum_i x_i W_{ij} + b_j = z_k$, so their activations $h_j = f(z_j) = h_k$ are equal. Going back, the
# upstream gradient they receive is $\partial L/\partial h_j = \sum_m V_{jm}\,\partial L/\partial s_m$, equal for
# $j$ and $k$ because the outgoing rows $V_{j,:} = V_{k,:}$. Hence
# $\partial L/\partial W_{ij} = x_i\, f'(z_j)\, \partial L/\partial h_j = \partial L/\partial W_{ik}$,
# equal biases' gradients, and equal outgoing gradients $\partial L/\partial V_{jm} = h_j\,\partial L/\partial s_m$.
# The same update keeps them identical; gradient descent never breaks the tie, so a layer of $n$ units computes
# one feature $n$ times. With all zeros it is worse: for ReLU or tanh, $h = f(0) = 0$, so the hidden weights
# receive the gradient $x_i f'(0)\cdot 0 = 0$ and never move at all. Random initialisation breaks the symmetry.
#
# Now in numbers: a 64-32-32-10 ReLU net on digits initialised with a constant, trained 30 SGD steps.

# %%
rng = np.random.default_rng(0)
for scheme, kw in (("constant", {"value": 0.05}), ("zeros", {}), ("kaiming_normal", {})):
    params = init.init_mlp([64, 32, 32, 10], scheme, rng, **kw)
    curve = sgd(params, steps=30, lr=0.3)
    W1 = params[0][0]
    spread = np.abs(W1 - W1[:, :1]).max()  # how different are the hidden units' weight columns?
    moved = np.abs(W1 - init.init_mlp([64, 32, 32, 10], scheme, np.random.default_rng(0), **kw)[0][0]).max()
    print(f"{scheme:15s} loss {curve[0]:.3f} -> {curve[-1]:.3f}   max |W1[:, j] - W1[:, 0]| = {spread:.2e}")
    if scheme != "kaiming_normal":
        assert spread == 0.0, "symmetric units must stay identical"
print("The constant net's 32 hidden units are still exact copies after 30 steps; zeros never leave zero.")

# %% [markdown]
# ## 2. Small random numbers: $N(0, 0.01^2)$ on a deep net
#
# AlexNet (Krizhevsky et al., 2012) drew weights from $N(0, 0.01^2)$. For 5-8 layers with a few thousand inputs
# per unit that worked; in a deep, narrower MLP each layer multiplies the activations' scale by about
# $0.01\sqrt{n}\cdot c_f$ ($c_f\le 1$ from the nonlinearity), here $0.01\sqrt{128} \approx 0.11$: the signal
# vanishes geometrically, and so do the gradients of the early layers (section 3 gives the formula: each layer
# multiplies the backward variance by $n_{out}\mathrm{Var}(w)$ as well).

# %%
from deepkit.viz.initialization import propagate

r = propagate("normal", 0.01, "tanh", depth=8, width=128)
sci = {"float_kind": lambda v: f"{v:.1e}"}
print("activation std per layer:", np.array2string(r["act_std"], formatter=sci))
print("gradient   std per layer:", np.array2string(r["grad_std"], formatter=sci))
ratios = r["act_std"][1:] / r["act_std"][:-1]
print("layer-to-layer ratio of activation std:", ratios.round(4), " predicted 0.01*sqrt(128) =", 0.01 * np.sqrt(128))
assert np.allclose(ratios, 0.01 * np.sqrt(128), rtol=0.15)  # tanh(z) ~ z for tiny z
assert r["act_std"][-1] < 1e-6

# %% [markdown]
# ## 3. Xavier (Glorot) initialisation, step by step
#
# **Tools.** For independent $X, Y$ with zero mean, $\mathrm{Var}(XY) = \mathrm{Var}(X)\mathrm{Var}(Y)$, and
# variances of independent terms add: $\mathrm{Var}(\sum_{i=1}^n X_iY_i) = n\,\mathrm{Var}(X)\mathrm{Var}(Y)$.
# (Some slides write "variance $\sigma$" and then "$\sigma^2$" for the product: with $\sigma$ meaning the variance
# that is correct; we write Var throughout to avoid the confusion.)
#
# **Forward.** A layer computes $z_j = \sum_{i=1}^{n_{in}} x_i w_{ij}$ with i.i.d. zero-mean weights independent
# of the inputs, so
# $$\mathrm{Var}(z_j) = n_{in}\,\mathrm{Var}(w)\,\mathrm{Var}(x).$$
# Near 0 the activation is roughly the identity (tanh, with $f'(0) = 1$), so $\mathrm{Var}(h) \approx
# \mathrm{Var}(z)$: the activations keep their variance from layer to layer iff
# $\mathrm{Var}(w) = 1/n_{in}$. Over $L$ layers, $\mathrm{Var}(z^{(L)}) = \mathrm{Var}(x)\prod_k n^{(k)}_{in}
# \mathrm{Var}(w^{(k)})$: any constant factor away from 1 compounds geometrically.
#
# *This forward condition alone, $\mathrm{Var}(w) = 1/n_{in}$, is **LeCun's** rule* (LeCun et al., "Efficient
# BackProp", 1998), the std $1/\sqrt{n_{in}}$ of `torch.nn.init.kaiming_normal_(w, nonlinearity="linear")`.
# **Note on the source notes:** one set writes `W = np.random.randn(Din, Dout) / np.sqrt(Din)` under the heading
# "Xavier Initialization". That line is LeCun's fan-in rule; Xavier's is the compromise below, which it equals only
# when $D_{in} = D_{out}$ (numbers in the next cells).
#
# **Backward.** $\partial L/\partial x_i = \sum_{j=1}^{n_{out}} w_{ij}\,\partial L/\partial z_j$, so
# $$\mathrm{Var}\!\left(\frac{\partial L}{\partial x}\right) = n_{out}\,\mathrm{Var}(w)\,
# \mathrm{Var}\!\left(\frac{\partial L}{\partial z}\right),$$
# and the gradients keep their variance iff $\mathrm{Var}(w) = 1/n_{out}$.
#
# **Compromise.** Both hold only when $n_{in} = n_{out}$; Glorot and Bengio (2010) take the harmonic compromise
# $$\mathrm{Var}(w) = \frac{2}{n_{in} + n_{out}}.$$
#
# **Through many layers, with layer indices.** Number the layers as the source notes do: layer 1 is the input,
# $n^i$ units in layer $i$, and $w^i$ the weights from layer $i-1$ into layer $i$ (so $w^i$ has fan-in $n^{i-1}$
# and fan-out $n^i$). Then
# $$\mathrm{Var}(z^k) = \mathrm{Var}(x^1)\prod_{i=2}^{k} n^{i-1}\,\mathrm{Var}(w^i), \qquad
#   \mathrm{Var}\!\left(\frac{\partial J}{\partial x^1}\right) = \mathrm{Var}\!\left(\frac{\partial J}{\partial x^k}\right)
#   \prod_{i=2}^{k} n^{i}\,\mathrm{Var}(w^i),$$
# and setting every factor to 1 gives the two conditions $\mathrm{Var}(w^k) = 1/n^{k-1}$ and $1/n^k$.
# **Note on the source notes:** their product lines slip an index each. The forward one reads
# $\prod_{i=2}^{k} n^{i}\sigma_w^i$ (fan-out instead of fan-in: with it, the factors equal to 1 would give
# $\sigma_w^k = 1/n^k$, not the $1/n^{k-1}$ the next line concludes), and the backward one
# $\prod_{i=1}^{k-1} n^{i}\sigma_w^i$ (it counts weights $w^1$ into the input layer, which do not exist, and leaves
# out layer $k$'s). The conclusions they draw are right; the products as written are not. Checked by Monte Carlo
# below on a net whose widths all differ.
#
# **Uniform bound.** $U(-a, a)$ has variance $(2a)^2/12 = a^2/3$; setting $a^2/3 = 2/(n_{in}+n_{out})$ gives
# $$a = \sqrt{\frac{6}{n_{in} + n_{out}}},$$
# for layer $k$ with $n^{k-1}$ inputs and $n^k$ outputs: $\sqrt{6/(n^{k-1} + n^{k})}$. The seed slides end with
# $\sqrt{6/(n^{k+1} + n^{k})}$: an index typo (the next layer's width), contradicting the line derived just
# above it. A scheme for torch-like gains multiplies: $a = \mathrm{gain}\sqrt{6/(n_{in}+n_{out})}$.
#
# **Convolutions.** A conv weight $(F, C, k_h, k_w)$ has fan-in $C k_h k_w$ (each output sums over a
# $C\times k_h\times k_w$ window) and fan-out $F k_h k_w$. **Note on the source notes:** their TensorFlow helper
# computes `epsilon = np.sqrt(6/np.sum(shape))`. For a dense `(n_in, n_out)` shape the sum is $n_{in} + n_{out}$
# and the line is right; for a conv kernel `(kh, kw, C, F)` it adds $k_h + k_w + C + F$ instead of
# $(C + F)k_hk_w$, so the bound is too wide by $\sqrt{(C+F)k_hk_w/(k_h+k_w+C+F)}$: about 3x for a 3x3 kernel
# with 64 and 128 channels (numbers below).
#
# Every formula, checked:

# %%
rng = np.random.default_rng(0)
n_in, n_out, N = 300, 100, 2000
x = rng.normal(0, 1.5, size=(N, n_in))  # Var(x) = 2.25
W = rng.normal(0, 0.07, size=(n_in, n_out))  # Var(w) = 0.0049
z, cache = layers.affine_forward(x, W, np.zeros(n_out))
dz = rng.normal(0, 0.5, size=z.shape)  # Var(dL/dz) = 0.25
dx = layers.affine_backward(dz, cache)[0]
# the empirical variance also includes the randomness of this one W: average over many W in the next cell
print(f"forward : Var(z)  = {z.var():.4f}   n_in  Var(w) Var(x)  = {n_in * 0.0049 * 2.25:.4f}")
print(f"backward: Var(dx) = {dx.var():.4f}   n_out Var(w) Var(dz) = {n_out * 0.0049 * 0.25:.4f}")

# the backward formula dx = dz W^T itself: deepkit vs torch autograd (float64) vs finite differences
xt = torch.tensor(x[:5], requires_grad=True)
(xt @ torch.tensor(W)).backward(torch.tensor(dz[:5]))
fd = numerical_gradient_array(lambda v: layers.affine_forward(v, W, np.zeros(n_out))[0], x[:5].copy(), dz[:5])
print("dx vs torch autograd:", rel_error(dx[:5], xt.grad.numpy()), "  vs finite differences:", rel_error(dx[:5], fd))
assert rel_error(dx[:5], xt.grad.numpy()) < 1e-12 and rel_error(dx[:5], fd) < 1e-7

# %%
# Monte Carlo over 200 independent weight matrices: the formulas are exact in expectation
vz, vdx = [], []
for s in range(200):
    r = np.random.default_rng(s)
    W = r.normal(0, 0.07, size=(n_in, n_out))
    xs, dzs = r.normal(0, 1.5, size=(64, n_in)), r.normal(0, 0.5, size=(64, n_out))
    vz.append((xs @ W).var())
    vdx.append((dzs @ W.T).var())
fz, fdx = n_in * 0.0049 * 2.25, n_out * 0.0049 * 0.25
print(f"E Var(z)  = {np.mean(vz):.4f} (formula {fz:.4f}),  E Var(dx) = {np.mean(vdx):.4f} (formula {fdx:.4f})")
assert abs(np.mean(vz) / fz - 1) < 0.02 and abs(np.mean(vdx) / fdx - 1) < 0.02

# %%
# Xavier's variance and uniform bound: ours, torch.nn.init, and the formula; and what the slide typo gives
sizes = [64, 256, 1024, 64, 10]
typo_factors = []
for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
    w = init.xavier_uniform((a, b), np.random.default_rng(k))
    t = torch.nn.init.xavier_uniform_(torch.empty(b, a)).numpy()  # torch's Linear weight is (out, in)
    bound = np.sqrt(6 / (a + b))
    nxt = sizes[k + 2] if k + 2 < len(sizes) else b  # the last layer has no next one: take n^{k+1} = n^k
    typo = np.sqrt(6 / (nxt + b))
    print(
        f"layer {k}: ({a:3d}, {b:3d})  bound {bound:.4f}  max|w| ours {abs(w).max():.4f} torch {abs(t).max():.4f}"
        f"  Var ours/formula {w.var() / (2 / (a + b)):.3f} torch/formula {t.var() / (2 / (a + b)):.3f}"
        f"   typo bound {typo:.4f} (x{typo / bound:.2f})"
    )
    typo_factors.append(typo / bound)
    tol = 6 * np.sqrt(0.8 / w.size)  # 6 standard errors of a uniform sample variance
    assert abs(w).max() <= bound and abs(t).max() <= bound + 1e-7 and abs(w.var() / (2 / (a + b)) - 1) < tol
assert np.allclose(typo_factors, [0.5, 1.085, 3.834, 1.924], atol=1e-3)  # sqrt((n_in + n_out) / (n_next + n_out))

# %% [markdown]
# With widths that go up and down, the slides' typo bound is off by the factors in the last column (x0.50 and
# x3.83 here): not a cosmetic slip. (Only when all widths are equal does the typo not matter.)


# %%
# LeCun (the notes' "Xavier" line randn / sqrt(Din)) versus Xavier, on shapes with Din != Dout
for shape in ((64, 256), (256, 64), (128, 128)):
    lecun = np.random.default_rng(0).standard_normal(shape) / np.sqrt(shape[0])  # the notes' line
    xavier = init.xavier_normal(shape, np.random.default_rng(1))
    print(
        f"{str(shape):11s} Var: randn/sqrt(Din) {lecun.var():.5f} (1/Din = {1 / shape[0]:.5f}),  "
        f"Xavier {xavier.var():.5f} (2/(Din+Dout) = {2 / sum(shape):.5f}),  ratio {lecun.var() / xavier.var():.2f}"
    )
    assert abs(lecun.var() * shape[0] - 1) < 6 * np.sqrt(2 / lecun.size)
    assert abs(xavier.var() * sum(shape) / 2 - 1) < 6 * np.sqrt(2 / xavier.size)
lecun_std = init.kaiming_std((64, 256), nonlinearity="linear")  # LeCun = Kaiming's fan-in rule with gain 1
assert lecun_std == 1 / np.sqrt(64) and abs(lecun_std**2 / (2 / 320) - 2.5) < 1e-12

# %%
# The layer products with indices, by Monte Carlo: widths n^1 (input) .. n^5 all different, linear layers,
# Var(w^i) chosen arbitrarily; 400 independent nets
n = [40, 120, 70, 200, 90]  # n^1 .. n^5 (n[0] is n^1)
var_w = [None, 0.004, 0.02, 0.008, 0.015]  # Var(w^i) for i = 2..5 (index 0 unused)
fwd_mc, bwd_mc = [], []
for s in range(400):
    r = np.random.default_rng(1000 + s)
    Ws = [r.normal(0, np.sqrt(var_w[i]), size=(n[i - 1], n[i])) for i in range(1, 5)]
    x1 = r.standard_normal((16, n[0]))  # Var(x^1) = 1
    z = x1
    for W in Ws:
        z = z @ W
    fwd_mc.append(np.mean(z**2))
    g = r.standard_normal((16, n[4]))  # dJ/dx^5 with variance 1
    for W in reversed(Ws):
        g = g @ W.T
    bwd_mc.append(np.mean(g**2))
right_fwd = np.prod([n[i - 1] * var_w[i] for i in range(1, 5)])  # prod_{i=2}^{5} n^{i-1} Var(w^i)
notes_fwd = np.prod([n[i] * var_w[i] for i in range(1, 5)])  # the notes: prod_{i=2}^{5} n^i Var(w^i)
right_bwd = np.prod([n[i] * var_w[i] for i in range(1, 5)])  # prod_{i=2}^{5} n^i Var(w^i)
notes_bwd = np.prod([n[i - 1] * var_w[i - 1] for i in range(2, 5)]) * n[0]  # prod_{i=1}^{4}: no w^1 (taken as 1)
for name, mc, right, notes in (("forward", fwd_mc, right_fwd, notes_fwd), ("backward", bwd_mc, right_bwd, notes_bwd)):
    se = np.std(mc) / np.sqrt(len(mc))
    print(
        f"{name:8s}: Monte Carlo {np.mean(mc):.4f} +- {se:.4f}; right product {right:.4f}; as in the notes {notes:.4f}"
    )
    assert abs(np.mean(mc) - right) < 6 * se and abs(np.mean(mc) - notes) > 6 * se

# %%
# The notes' TensorFlow helper sqrt(6 / np.sum(shape)) on a dense and on a conv kernel (TF order kh, kw, C, F)
for tf_shape in ((300, 100), (3, 3, 64, 128), (5, 5, 32, 32)):
    notes_bound = np.sqrt(6 / np.sum(tf_shape))
    ours_shape = tf_shape if len(tf_shape) == 2 else (tf_shape[3], tf_shape[2], tf_shape[0], tf_shape[1])
    fan_in, fan_out = init.compute_fans(ours_shape)  # deepkit's (F, C, kh, kw)
    right = np.sqrt(6 / (fan_in + fan_out))
    w = init.xavier_uniform(ours_shape, np.random.default_rng(0))
    t = torch.nn.init.xavier_uniform_(torch.empty(ours_shape if len(tf_shape) > 2 else ours_shape[::-1])).numpy()
    print(
        f"{str(tf_shape):15s} fans ({fan_in}, {fan_out}): bound {right:.4f} (deepkit max|w| {abs(w).max():.4f}, torch "
        f"{abs(t).max():.4f});  sqrt(6/sum(shape)) = {notes_bound:.4f}  (x{notes_bound / right:.2f})"
    )
    assert abs(w).max() <= right and abs(t).max() <= right + 1e-7 and abs(w).max() > 0.99 * right
assert np.sqrt(6 / np.sum((300, 100))) == np.sqrt(6 / 400)  # dense: the same
assert 2.9 < np.sqrt(6 / np.sum((3, 3, 64, 128))) / np.sqrt(6 / (9 * (64 + 128))) < 3.0  # 3x3, 64 -> 128: 3x

# %% [markdown]
# ## 4. Kaiming (He) initialisation for ReLU
#
# ReLU is not the identity near 0: it zeroes half of a symmetric pre-activation. If $z$ is symmetric with zero
# mean, $E[\mathrm{relu}(z)^2] = \tfrac12 E[z^2] = \tfrac12\mathrm{Var}(z)$. The next layer's pre-activation has
# $\mathrm{Var}(z^{(k+1)}) = n_{in}\mathrm{Var}(w)\,E[(h^{(k)})^2] = \tfrac12 n_{in}\mathrm{Var}(w)\mathrm{Var}(z^{(k)})$
# (the second moment, not the variance, of $h$ enters because $h$ has non-zero mean while $w$ has zero mean).
# Keeping it constant needs
# $$\mathrm{Var}(w) = \frac{2}{n_{in}},\qquad w = \texttt{randn(n\_in, n\_out) * np.sqrt(2 / n\_in)},$$
# i.e. gain $\sqrt2$ times the LeCun std $1/\sqrt{n_{in}}$. (With `mode="fan_out"`, $2/n_{out}$ preserves the
# backward pass instead.) **Common code error:** `np.random.randn(Din, Dout) / np.sqrt(2 / Din)` divides where it
# should multiply, giving $\mathrm{Var}(w) = D_{in}/2$: with $D_{in} = 256$ the variance is $128^2 = 16384$ times
# too large per layer.

# %%
rng = np.random.default_rng(1)
z = rng.normal(0, 2.0, size=1_000_000)
print(f"E[relu(z)^2] = {np.mean(np.maximum(z, 0) ** 2):.4f},  Var(z)/2 = {z.var() / 2:.4f}")
assert abs(np.mean(np.maximum(z, 0) ** 2) / (z.var() / 2) - 1) < 0.01

h = X[:256]
stds = {"right: * sqrt(2/n)": [], "wrong: / sqrt(2/n)": [], "Xavier (no ReLU factor)": []}
for name in stds:
    a = h
    for k in range(8):
        n = a.shape[1]
        g = np.random.default_rng(k).standard_normal((n, 256))
        W = (
            g * np.sqrt(2 / n)
            if name.startswith("right")
            else g / np.sqrt(2 / n)
            if name.startswith("wrong")
            else g * np.sqrt(2 / (n + 256))
        )
        a = np.maximum(a @ W, 0)
        stds[name].append(a.std())
    print(f"{name:26s}", np.array2string(np.array(stds[name]), precision=3, max_line_width=150))
ratio = np.array(stds["right: * sqrt(2/n)"])
assert 0.5 < ratio[-1] / ratio[1] < 2
assert stds["wrong: / sqrt(2/n)"][-1] > 1e14  # x128 per layer: 8 layers ~ 128**7

# %%
# deepkit.init vs torch.nn.init: same std (dense shapes are transposed between the two libraries)
for shape, kw in (
    ((256, 100), dict(mode="fan_in", nonlinearity="relu")),
    ((256, 100), dict(mode="fan_out", nonlinearity="relu")),
    ((32, 16, 3, 3), dict(mode="fan_in", nonlinearity="leaky_relu", a=0.2)),
):
    ours = init.kaiming_normal(shape, np.random.default_rng(0), **kw)
    tshape = shape[::-1] if len(shape) == 2 else shape
    theirs = torch.nn.init.kaiming_normal_(torch.empty(tshape), **kw).numpy()
    want = init.kaiming_std(shape, **kw)
    print(f"{str(shape):15s} {kw}: std ours {ours.std():.4f}  torch {theirs.std():.4f}  formula {want:.4f}")
    assert abs(ours.std() / want - 1) < 0.03 and abs(theirs.std() / want - 1) < 0.03

# %% [markdown]
# **The backward pass: `mode="fan_out"`.** He et al. (2015, section 2.2) derive the backward condition the same way.
# A ReLU layer $z^{k+1} = h^{k} W$, $h^k = \mathrm{relu}(z^k)$, with $W$ of shape $(n_{in}, n_{out})$:
# $$\frac{\partial L}{\partial h^k_i} = \sum_{j=1}^{n_{out}} w_{ij}\,\frac{\partial L}{\partial z^{k+1}_j}, \qquad
#   \frac{\partial L}{\partial z^k_i} = \mathrm{relu}'(z^k_i)\,\frac{\partial L}{\partial h^k_i}.$$
# The weights have zero mean and are independent of the gradient arriving from above, and $\mathrm{relu}'(z) \in
# \{0, 1\}$ is 1 for half of a symmetric $z$ (independently of that gradient, He et al.'s assumption), so
# $$\mathrm{Var}\!\left(\frac{\partial L}{\partial z^k}\right) = \tfrac12\, n_{out}\,\mathrm{Var}(w)\,
#   \mathrm{Var}\!\left(\frac{\partial L}{\partial z^{k+1}}\right),$$
# and the gradient keeps its variance iff $\mathrm{Var}(w) = 2/n_{out}$: `mode="fan_out"`.
#
# **No compromise needed.** Glorot and Bengio averaged the two conditions. He et al. point out that for ReLU nets
# either one alone is enough: with the fan-in rule, layer $k$ multiplies the backward variance by
# $\tfrac12 n^k_{out}\cdot 2/n^k_{in} = n^k_{out}/n^k_{in}$, and since each layer's $n_{out}$ is the next layer's
# $n_{in}$, the product over $L$ layers **telescopes** to $n^L_{out}/n^1_{in}$: a ratio of two widths, the same
# for 10 layers or 1000, never exponential in depth (symmetrically for `fan_out` in the forward pass). The
# compromise $\mathrm{Var}(w) = 2\cdot 2/(n_{in}+n_{out})$ (Xavier with ReLU's gain) satisfies neither condition
# exactly: when the widths alternate, its per-layer factors do not telescope and both directions drift
# geometrically. Monte Carlo on a 13-layer ReLU net whose widths alternate 100 and 400 (input 64, output 10),
# 24 independent nets each; the predictions come from the two recursions above, layer by layer:

# %%
widths = [64] + [100, 400] * 6 + [10]  # n_0 (input) .. n_L; every layer but the last is followed by ReLU
L_net = len(widths) - 1


def second_moments(var_of, nets=24, batch=64, seed=0):
    """Per layer k: mean over nets of E[z_k^2] (forward) and E[(dL/dz_k)^2] (backward), and their standard errors."""
    rng = np.random.default_rng(seed)
    fwd, bwd = np.zeros((nets, L_net)), np.zeros((nets, L_net))
    for t in range(nets):
        Ws = [rng.normal(0, np.sqrt(var_of(a, b)), size=(a, b)) for a, b in zip(widths[:-1], widths[1:])]
        h, zs = rng.standard_normal((batch, widths[0])), []
        for k, W in enumerate(Ws):
            zs.append(h @ W)
            h = np.maximum(zs[-1], 0.0)
        g = rng.standard_normal((batch, widths[-1]))  # dL/dz of the (linear) output layer, variance 1
        for k in range(L_net - 1, -1, -1):
            fwd[t, k], bwd[t, k] = np.mean(zs[k] ** 2), np.mean(g**2)
            if k > 0:
                g = (g @ Ws[k].T) * (zs[k - 1] > 0)
    return fwd.mean(0), fwd.std(0) / np.sqrt(nets), bwd.mean(0), bwd.std(0) / np.sqrt(nets)


def predicted(var_of):
    """The recursions: E[z_1^2] = n_0 Var(w) (unit inputs); E[z_{k+1}^2] = 1/2 n_in Var(w) E[z_k^2];
    E[dz_k^2] = 1/2 n_out Var(w_{k+1}) E[dz_{k+1}^2] with E[dz_L^2] = 1."""
    v = [var_of(a, b) for a, b in zip(widths[:-1], widths[1:])]
    fwd = [widths[0] * v[0]]
    for k in range(1, L_net):
        fwd.append(0.5 * widths[k] * v[k] * fwd[-1])
    bwd = [1.0]
    for k in range(L_net - 2, -1, -1):
        bwd.insert(0, 0.5 * widths[k + 2] * v[k + 1] * bwd[0])
    return np.array(fwd), np.array(bwd)


rules = {
    "fan_in  2/n_in": lambda a, b: 2 / a,
    "fan_out 2/n_out": lambda a, b: 2 / b,
    "compromise 4/(n_in+n_out)": lambda a, b: 4 / (a + b),
}
fig, axes3 = plt.subplots(1, 2, figsize=(10, 3.2))
for name, var_of in rules.items():
    f_mc, f_se, b_mc, b_se = second_moments(var_of)
    f_th, b_th = predicted(var_of)
    print(
        f"{name:26s} forward E[z^2] first/last hidden {f_mc[0]:.3f} / {f_mc[-2]:.3f}; "
        f"backward E[dz^2] first/last hidden {b_mc[0]:.3f} / {b_mc[-2]:.3f}"
    )
    assert np.all(np.abs(f_mc - f_th) < 6 * f_se + 1e-12) and np.all(np.abs(b_mc - b_th) < 6 * b_se + 1e-12)
    axes3[0].semilogy(range(1, L_net + 1), f_mc, "o-", label=name)
    axes3[1].semilogy(range(1, L_net + 1), b_mc, "o-", label=name)
axes3[0].set(xlabel="layer k", ylabel="E[z_k^2] (forward)")
axes3[1].set(xlabel="layer k", ylabel="E[(dL/dz_k)^2] (backward)")
axes3[0].legend(fontsize=7)
plt.show()
f_in, b_in = predicted(rules["fan_in  2/n_in"])
f_out, b_out = predicted(rules["fan_out 2/n_out"])
f_mid, b_mid = predicted(rules["compromise 4/(n_in+n_out)"])
assert np.allclose(f_in, 2.0) and np.allclose(b_out[:-1], b_out[0])  # each rule keeps its own direction exactly
# the other direction: the telescoped width ratio, e.g. backward E[dz_k^2] = n_L / n_(k+1) with the fan-in rule,
# which alternates 10/100 and 10/400 and never compounds
assert np.allclose(b_in[:-1], [widths[-1] / widths[k + 1] for k in range(L_net - 1)])
assert np.allclose(f_out[0::2][:-1], f_out[0]) and np.allclose(f_out[1::2][:-1], f_out[1])
assert np.allclose(f_mid[2::2][:-1] / f_mid[:-2:2][:-1], 0.64) and np.allclose(b_mid[:-3:2] / b_mid[2:-1:2], 0.64)

# %% [markdown]
# With the fan-in rule the forward second moment stays at 2 through all 13 layers, and the backward one only
# alternates between two values (the width ratio 400/100 or its inverse, never compounding); `fan_out` does the
# mirror image. The compromise multiplies the forward second moment by $2n_{in}/(n_{in}+n_{out})$ per layer,
# $\tfrac{2\cdot100}{500}\cdot\tfrac{2\cdot400}{500} = 0.64$ per pair of layers, and the backward one likewise:
# both decay geometrically, as the recursion predicts and the simulation shows. Hence PyTorch's default
# `mode="fan_in"` for `kaiming_normal_`, and no averaging in He et al.

# %% [markdown]
# ## 5. All schemes on a deep MLP, forward and backward, and a few training steps
#
# Six hidden layers of 128 units on digits. At initialisation we measure the std of the activations and of the
# gradients (with respect to each hidden layer's output) layer by layer; then 60 SGD steps show what that means
# for learning.

# %%
configs = [
    ("normal", 0.01, "relu"),
    ("normal", 0.01, "tanh"),
    ("xavier_normal", None, "tanh"),
    ("xavier_normal", None, "relu"),
    ("kaiming_normal", None, "relu"),
]
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
final = {}
for scheme, s, act in configs:
    r = propagate(scheme, s or 0.0, act, depth=6, width=128)
    label = f"{scheme}{'(0.01)' if s else ''} + {act}"
    axes[0].semilogy(range(1, 7), r["act_std"], "o-", label=label)
    axes[1].semilogy(range(1, 7), r["grad_std"], "o-")
    kw = (
        {"std": s}
        if s
        else (
            {"nonlinearity": act}
            if scheme.startswith("kaiming")
            else {"gain": init.calculate_gain(act) if act == "tanh" else 1.0}
        )
    )
    params = init.init_mlp([64] + [128] * 6 + [10], scheme, np.random.default_rng(0), **kw)
    curve = sgd(params, steps=60, lr=0.1, act=act)
    final[label] = curve[-5:].mean()
    axes[2].plot(curve, label=label)
axes[0].set(title="activation std", xlabel="hidden layer", ylabel="std of the activations h")
axes[1].set(title="gradient std", xlabel="hidden layer", ylabel="std of dL/dh")
axes[2].set(title="training loss", xlabel="SGD step", ylabel="minibatch loss")
axes[0].legend(fontsize=7)
plt.show()
for k, v in final.items():
    print(f"{k:28s} loss after 60 steps: {v:.3f}")
assert final["kaiming_normal + relu"] < final["normal(0.01) + relu"] - 0.5  # ln 10 = 2.303 means "nothing learned"

# %% [markdown]
# ## 6. Explore
#
# Choose the scheme (zeros, constant, $N(0, s^2)$ with the scale slider, Xavier, Kaiming), the activation, the
# depth and the width. Left: std per layer, forward (activations) and backward (gradients), with the dead (ReLU:
# exactly 0) or saturated (tanh $|h| > 0.99$, sigmoid outside $[0.01, 0.99]$) fraction as grey bars. Middle and
# right: the histograms, first layer dark, last layer yellow. Try: $N(0, 1)$ with tanh (saturation), Xavier
# with ReLU at depth 12 (slow decay), Kaiming with ReLU, constant 0.1 (every unit identical: histograms are
# spikes).

# %%
from deepkit.viz.initialization import explorer

w = explorer()
w

# %% [markdown]
# ## Common mistakes
#
# * **Dividing by the gain:** `randn(n_in, n_out) / np.sqrt(2 / n_in)` has variance $n_{in}/2$, not $2/n_{in}$.
# * **Index typo in the Xavier bound:** it is $\sqrt{6/(n_{in}+n_{out})}$ of the layer's OWN fans
#   ($n^{k-1}+n^k$), not $n^{k+1}+n^k$.
# * **Summing the shape for a convolution:** `np.sqrt(6 / np.sum(shape))` is right for dense weights only; a
#   kernel's fans are $Ck_hk_w$ and $Fk_hk_w$.
# * **Calling LeCun "Xavier":** `randn(Din, Dout) / np.sqrt(Din)` is the fan-in rule $1/n_{in}$ (LeCun); Xavier
#   averages fan-in and fan-out.
# * **SELU with `nonlinearity="selu"`:** torch's gain 3/4 breaks SELU's fixed point; use `"linear"` (lecture 02, section 5).
# * **Using the normal's std as the uniform bound:** $U(-\sigma, \sigma)$ has variance $\sigma^2/3$; the bound is
#   $\sqrt 3\,\sigma$.
# * **Transposed fans:** torch's `nn.Linear.weight` is `(out, in)`, deepkit's `W` is `(in, out)`. Xavier does not
#   care (symmetric in the fans) but Kaiming's `fan_in` does.
# * **Std vs variance:** `rng.normal(0, 0.01)` has std 0.01 (variance 1e-4).
# * **Biases:** start them at zero (or a small constant for ReLU); it is the weights that must be random.
