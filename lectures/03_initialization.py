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
# vanishes geometrically, and so do the gradients of the early layers (section 4 gives the formula).

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
# **Backward.** $\partial L/\partial x_i = \sum_{j=1}^{n_{out}} w_{ij}\,\partial L/\partial z_j$, so
# $$\mathrm{Var}\!\left(\frac{\partial L}{\partial x}\right) = n_{out}\,\mathrm{Var}(w)\,
# \mathrm{Var}\!\left(\frac{\partial L}{\partial z}\right),$$
# and the gradients keep their variance iff $\mathrm{Var}(w) = 1/n_{out}$.
#
# **Compromise.** Both hold only when $n_{in} = n_{out}$; Glorot and Bengio (2010) take the harmonic compromise
# $$\mathrm{Var}(w) = \frac{2}{n_{in} + n_{out}}.$$
#
# **Uniform bound.** $U(-a, a)$ has variance $(2a)^2/12 = a^2/3$; setting $a^2/3 = 2/(n_{in}+n_{out})$ gives
# $$a = \sqrt{\frac{6}{n_{in} + n_{out}}},$$
# for layer $k$ with $n^{k-1}$ inputs and $n^k$ outputs: $\sqrt{6/(n^{k-1} + n^{k})}$. The seed slides end with
# $\sqrt{6/(n^{k+1} + n^{k})}$: an index typo (the next layer's width), contradicting the line derived just
# above it. A scheme for torch-like gains multiplies: $a = \mathrm{gain}\sqrt{6/(n_{in}+n_{out})}$.
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
    tol = 6 * np.sqrt(0.8 / w.size)  # 6 standard errors of a uniform sample variance
    assert abs(w).max() <= bound and abs(t).max() <= bound + 1e-7 and abs(w.var() / (2 / (a + b)) - 1) < tol

# %% [markdown]
# With widths that go up and down, the typo's bound is off by the factors in the last column (0.5 and 3.8 here):
# not a cosmetic slip. (Only when all widths are equal does the typo not matter.)
#
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
axes[0].set_title("activation std")
axes[1].set_title("gradient std")
axes[2].set_title("training loss")
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
# * **Using the normal's std as the uniform bound:** $U(-\sigma, \sigma)$ has variance $\sigma^2/3$; the bound is
#   $\sqrt 3\,\sigma$.
# * **Transposed fans:** torch's `nn.Linear.weight` is `(out, in)`, deepkit's `W` is `(in, out)`. Xavier does not
#   care (symmetric in the fans) but Kaiming's `fan_in` does.
# * **Std vs variance:** `rng.normal(0, 0.01)` has std 0.01 (variance 1e-4).
# * **Biases:** start them at zero (or a small constant for ReLU); it is the weights that must be random.
