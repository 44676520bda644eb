# %% [markdown]
# # 02 Activation functions
#
# Without a nonlinearity a deep network is one affine map. The activation $f$ after each affine layer
# $z = Wx + b$, $a = f(z)$ supplies the nonlinearity, and it also sits on the path of every gradient:
# $$\frac{\partial L}{\partial z} = \frac{\partial L}{\partial a} \odot f'(z).$$
# Backpropagation through $L$ layers multiplies $L$ such local slopes $f'(z)$ (and weight matrices). If
# $f'$ is often near 0, the early layers get almost no gradient.
# That single product explains most of this lecture: saturation (sigmoid, tanh), dead units (ReLU), the leaky
# fixes (Leaky ReLU, PReLU, ELU), self-normalisation (SELU) and the piecewise-linear Maxout.
#
# We use the course's reference implementation `deepkit.activations` and check every formula three ways:
# the derived formula, PyTorch autograd (float64) and centred finite differences.

# %%
import _course  # puts the reference deepkit (reference/) on the path; inline figures; float64 printing
import numpy as np

# %%
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from scipy.integrate import quad
from scipy.optimize import fsolve

from deepkit import activations as A, data, layers, losses
from deepkit.gradcheck import check_gradient, numerical_gradient_array, rel_error

# %% [markdown]
# ## 1. The formulas and their derivatives
#
# | name | $f(x)$ | $f'(x)$ |
# |---|---|---|
# | sigmoid | $\sigma(x) = \dfrac{1}{1+e^{-x}}$ | $\sigma(x)\,(1-\sigma(x))$ |
# | tanh | $\tanh x = 2\sigma(2x) - 1$ | $1 - \tanh^2 x$ |
# | ReLU | $\max(0, x)$ | $\mathbb 1[x > 0]$ |
# | Leaky ReLU | $x$ if $x>0$, else $s x$ ($s = 0.01$) | $1$ if $x>0$, else $s$ |
# | PReLU | $x$ if $x>0$, else $\alpha x$ ($\alpha$ learned) | $\partial/\partial x$: $1$ or $\alpha$; $\partial/\partial\alpha$: $0$ or $x$ |
# | ELU | $x$ if $x>0$, else $\alpha(e^x - 1)$ | $1$ if $x>0$, else $\alpha e^x = f(x) + \alpha$ |
# | SELU | $\lambda\,\mathrm{ELU}_{\alpha}(x)$, $\lambda \approx 1.0507$, $\alpha \approx 1.6733$ | $\lambda$ if $x>0$, else $\lambda\alpha e^x$ |
#
# **Sigmoid.** With $u = 1 + e^{-x}$: $\sigma' = -u^{-2}\cdot(-e^{-x}) = \frac{1}{u}\cdot\frac{e^{-x}}{u}
# = \sigma\,(1-\sigma)$, because $\frac{e^{-x}}{1+e^{-x}} = 1 - \sigma$. The derivative is a function of the
# *output*, so the backward pass caches $s = \sigma(x)$ and computes `dout * s * (1 - s)`.
# Its maximum is $\sigma'(0) = 1/4$.
#
# **tanh.** $\tanh x = \frac{e^x - e^{-x}}{e^x + e^{-x}}$, and the quotient rule gives
# $\frac{(e^x+e^{-x})^2 - (e^x-e^{-x})^2}{(e^x+e^{-x})^2} = 1 - \tanh^2 x$; its maximum is 1 at $x = 0$.
#
# **ELU.** For $x \le 0$: $\frac{d}{dx}\alpha(e^x-1) = \alpha e^x = f(x) + \alpha$, again a function of the
# output. At $x = 0$ the two one-sided slopes are $1$ and $\alpha$: ELU is smooth only for $\alpha = 1$.
#
# **The kinks.** ReLU, Leaky ReLU and PReLU are not differentiable at 0 (nor ELU for $\alpha \ne 1$). Any value
# between the one-sided slopes is a valid subgradient; deepkit, like PyTorch, uses the left slope ($0$, $s$,
# $\alpha$) at exactly $x = 0$. A finite-difference check straddling a kink measures the average of the two
# slopes, so our gradient checker leaves such points out (`kink_aware=True`) and reports how many it skipped.
#
# A note on a common slide formula: $\max(\alpha x, x)$ equals PReLU only when $\alpha \le 1$ (for
# $\alpha > 1$ it takes $\alpha x$ for *positive* $x$). Write it with a case split.
#
# Below, each derived derivative (written out again by hand, independently of the library) is compared with
# the library's backward pass, with torch autograd and with centred differences.

# %%
x = np.linspace(-4, 4, 81)  # contains 0: the kinks are exercised
dout = np.random.default_rng(0).normal(size=x.shape)
sig = 1 / (1 + np.exp(-x))
derived = {  # the derivatives from the table, by hand
    "sigmoid": sig * (1 - sig),
    "tanh": 1 - np.tanh(x) ** 2,
    "relu": (x > 0) * 1.0,
    "leaky_relu": np.where(x > 0, 1.0, 0.01),
    "elu": np.where(x > 0, 1.0, np.exp(x)),
    "selu": A.SELU_LAMBDA * np.where(x > 0, 1.0, A.SELU_ALPHA * np.exp(x)),
}
torch_fn = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "selu": F.selu,
}
print(f"{'activation':>11} | lib vs derived | lib vs torch | lib vs finite diff (kinks skipped)")
for name, (fwd, bwd) in A.ACTIVATIONS.items():
    out, cache = fwd(x)
    dx = bwd(dout, cache)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch_fn[name](xt)
    yt.backward(torch.tensor(dout))
    e_derived = rel_error(dx, dout * derived[name])
    e_torch = max(rel_error(dx, xt.grad.numpy()), np.abs(out - yt.detach().numpy()).max())
    rep = check_gradient(lambda v: fwd(v)[0], x, dx, dout)
    print(f"{name:>11} | {e_derived:14.1e} | {e_torch:12.1e} | {rep.rel_error:.1e} ({rep.skipped_kinks})")
    assert e_derived < 1e-12 and e_torch < 1e-12 and rep.ok

# %% [markdown]
# ReLU and Leaky ReLU skip exactly one point (the kink at 0); ELU and SELU are smooth at 0 for ELU's
# $\alpha = 1$ but SELU's $\alpha \approx 1.67$ makes a kink, which the checker found by itself.
#
# **Numerical stability.** The textbook $1/(1+e^{-x})$ overflows (with a warning) for $x < -709$, and
# $e^x/(1+e^x)$ gives `inf/inf = nan` for $x > 709$. Two fixes never overflow: evaluate only
# $e^{-|x|} \in (0, 1]$ and choose the algebraically equal form for each sign (the exercise's way), or clip:
# $1 - \sigma(x) = 1/(1+e^{x}) < 2^{-53}$ once $x > 36.8$, so in float64 $\sigma(x)$ rounds to exactly 1 there,
# and $e^{x}/(1+e^{x})$ with $x$ clipped at 40 is exact everywhere (the library's way: no mask, so faster).
# ELU likewise exponentiates only $\min(x, 0)$.

# %%
big = np.array([-1000.0, -745.0, -40.0, 0.0, 40.0, 745.0, 1000.0])
with np.errstate(all="ignore"):
    naive = np.exp(big) / (1 + np.exp(big))
print("naive e^x/(1+e^x):", naive)
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("error")  # the stable version must not even warn
    stable = A.sigmoid_forward(big)[0]
print("stable sigmoid:   ", stable)
e = np.exp(-np.abs(big))
per_sign = np.where(big >= 0, 1 / (1 + e), e / (1 + e))  # the exercise's formula
print("one form per sign:", per_sign)
assert np.allclose(stable, torch.sigmoid(torch.tensor(big)).numpy(), rtol=1e-12, atol=1e-300)
assert np.allclose(stable, per_sign, rtol=1e-15, atol=0)
assert 1 / (1 + np.exp(36.8)) < 2.0**-53 and 1 / (1 + np.exp(-36.8)) == 1.0  # sigma rounds to 1 past 36.8

# %% [markdown]
# **Precision of the ELU/SELU backward.** The slope $\alpha e^x$ equals $f(x) + \alpha$ (output plus $\alpha$), a
# tempting shortcut that reuses the forward's output. But $f(x) = \alpha(e^x - 1)$ is stored rounded to about
# $\alpha \cdot 10^{-16}$, so $f(x) + \alpha$ keeps only the digits of $e^x$ above that level: a relative error of
# about $10^{-16}/e^{x}$, i.e. up to $10^{-10}$ at $x = -15$ ($e^x = 3\cdot10^{-7}$), $10^{-4}$ at $x = -30$, and from
# $x \approx -37$ on the slope is exactly 0. In a deep net such a slope multiplies everything behind it. deepkit
# computes $e^{x}$ directly:

# %%
xs = np.array([-5.0, -15.0, -20.0, -30.0, -40.0, -300.0])
out, cache = A.elu_forward(xs, 1.5)
shortcut = out + 1.5  # alpha * exp(x) "from the output"
exact = A.elu_backward(np.ones_like(xs), cache)
xt = torch.tensor(xs, requires_grad=True)
F.elu(xt, 1.5).backward(torch.ones_like(xt))
ref = xt.grad.numpy()
sci = {"float_kind": "{:8.1e}".format}
print("x                      :", np.array2string(xs, formatter=sci))
print("rel. error, out + alpha:", np.array2string(np.abs(shortcut - ref) / ref, formatter=sci))
print("rel. error, deepkit    :", np.array2string(np.abs(exact - ref) / ref, formatter=sci))
assert np.all(np.abs(exact - ref) <= 1e-15 * ref)  # full relative precision, even at exp(-300) = 5e-131
assert np.abs(shortcut[1] - ref[1]) / ref[1] > 1e-11 and np.all(shortcut[4:] == 0.0)

# %%
grid = np.linspace(-5, 5, 401)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
for name, (fwd, bwd) in A.ACTIVATIONS.items():
    out, cache = fwd(grid)
    ax1.plot(grid, out, label=name)
    ax2.plot(grid, bwd(np.ones_like(grid), cache), label=name)
ax1.set(title="f(x)", ylim=(-2, 3))
ax2.set(title="f'(x)", ylim=(-0.05, 1.85))
ax1.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 2. Sigmoid and tanh: saturation and zero-centredness
#
# **Saturation.** $\sigma'(x) < 0.01$ for $|x| > 4.6$ and $\tanh'(x) < 0.01$ for $|x| > 3$: once a unit's input
# is large in magnitude, the unit passes almost no gradient, whatever the loss says. Even at best,
# $\sigma' \le 1/4$, so a chain of $L$ sigmoid layers scales the gradient by at most $4^{-L}$ (times the
# weights): $4^{-10} \approx 10^{-6}$.
#
# **Not zero-centred.** A sigmoid layer's outputs are all positive. For the next layer $z = W a + b$ with
# $a > 0$, the gradient of row $i$ of $W$ is $\frac{\partial L}{\partial z_i}\,a^\top$: every entry of that row
# has the **same sign** (the sign of $\partial L/\partial z_i$). Per example the weights of a unit can only all
# grow or all shrink together, so reaching a mixed-sign update takes zig-zag steps. tanh's outputs are
# centred on 0 and do not have this problem (it still saturates).

# %%
rng = np.random.default_rng(1)
a_sig = A.sigmoid_forward(rng.normal(size=(1, 6)))[0]  # one example's positive inputs to the next layer
a_tanh = A.tanh_forward(rng.normal(size=(1, 6)))[0]
dz = rng.normal(size=(1, 4))  # upstream gradient of 4 units
for name, a in [("sigmoid", a_sig), ("tanh", a_tanh)]:
    dW = dz.T @ a  # (4 units, 6 weights each), one example
    same = np.mean([np.all(np.sign(r) == np.sign(r[0])) for r in dW])
    print(f"{name:>7} inputs: fraction of units whose weight gradients all share one sign = {same:.0%}")
print(
    f"max sigmoid' = {A.sigmoid_backward(np.ones(1), A.sigmoid_forward(np.zeros(1))[1])[0]}, 0.25**10 = {0.25**10:.1e}"
)

# %% [markdown]
# **Saturation in a deep network.** `deepkit.viz.activations.DeepMLP` runs a fixed random MLP (width 100,
# batch 256, weights $W_l = g \cdot N(0, 1)/\sqrt{100}$) forward and backward. A unit counts as *saturated*
# when its local slope is below 5% of the activation's peak slope; *dead* when that holds for every input.
# With tanh, a weight gain $g$ too large pushes pre-activations into the flat tails; too small shrinks the
# signal towards 0 and the gradient of the early layers vanishes with it.

# %%
from deepkit.viz.activations import DeepMLP

net = DeepMLP(width=100, batch=256, max_depth=20)
print(f"{'activation':>10} {'gain':>5} | saturated: layer 1 / 10 / 20 | mean |dL/dz|: layer 1 / layer 20")
for act, gain in [
    ("tanh", 0.5),
    ("tanh", 1.0),
    ("tanh", 3.0),
    ("sigmoid", 1.0),
    ("sigmoid", 4.0),
    ("relu", 1.0),
    ("relu", 2**0.5),
    ("selu", 1.0),
]:
    r = net.simulate(act, gain=gain, depth=20)
    s, g = r["saturated"], r["grad_z"]
    print(
        f"{act:>10} {gain:5.2f} | {s[0]:9.0%} {s[9]:5.0%} {s[19]:5.0%}         | "
        f"{g[0]:.1e} / {g[19]:.1e}  (ratio {g[0] / g[19]:.1e})"
    )

# %% [markdown]
# Read the table ($\partial L/\partial z$ is the gradient arriving at a layer's pre-activations; the ratio
# compares layer 1 with layer 20). Sigmoid at gain 1: no unit is saturated, yet the gradient reaching layer 1
# is $10^{-12}$ times the last layer's: every layer multiplies it by at most $g \cdot 1/4$. tanh at gain 0.5
# shrinks the signal in both directions (ratio $\sim 10^{-6}$); at gain 3 about 40% of the units sit in the flat
# tails and the gradient now *grows* backwards (an exploding, chaotic regime) - neither trains well. ReLU passes
# gradient through only about half its units per example (the "saturated" 50% is its flat negative side) and
# loses a factor $\sqrt 2$ per layer unless the gain is $\sqrt 2$ (Kaiming); SELU at gain 1 (LeCun) keeps the
# scale by construction (section 5). Initialisation is topic 03; here the point is that the activation's
# slope profile decides which weight scales work.
#
# ## 3. ReLU and dead units
#
# ReLU does not saturate for $x > 0$ and is cheap. But $f'(x) = 0$ for $x < 0$: a unit whose pre-activation is
# negative **for every input** receives exactly zero gradient for its incoming weights and bias, so no
# gradient step can ever revive it. One too-large learning-rate step that pushes a unit's bias far negative is
# enough. Below: a 2-64-2 network on the moons data, trained with a sane learning rate, then 20 steps with a
# much too large one, then the sane rate again. A unit is "all-negative" when $z \le 0$ on every training point.

# %%
X, y = data.make_moons(400, noise=0.2, seed=0)


def train(act, schedule, H=64, seed=0):
    fwd, bwd = A.ACTIVATIONS[act]
    rng = np.random.default_rng(seed)
    P = dict(W1=rng.normal(0, 1.0, (2, H)), b1=np.zeros(H), W2=rng.normal(0, H**-0.5, (H, 2)), b2=np.zeros(2))
    rows = []
    for lr, steps in schedule:
        for _ in range(steps):
            z, c1 = layers.affine_forward(X, P["W1"], P["b1"])
            a, ca = fwd(z)
            s, c2 = layers.affine_forward(a, P["W2"], P["b2"])
            loss, ds = losses.softmax_loss(s, y)
            da, dW2, db2 = layers.affine_backward(ds, c2)
            _, dW1, db1 = layers.affine_backward(bwd(da, ca), c1)
            for k, g in zip(("W1", "b1", "W2", "b2"), (dW1, db1, dW2, db2)):
                P[k] -= lr * g
        negative = np.all(X @ P["W1"] + P["b1"] <= 0, axis=0)
        grad_dead = np.abs(dW1[:, negative]).max(initial=0.0)
        rows.append((lr, steps, loss, negative.mean(), grad_dead))
    return rows


for act in ("relu", "leaky_relu"):
    print(act)
    for lr, steps, loss, neg, g in train(act, [(0.5, 100), (10.0, 20), (0.5, 400)]):
        print(
            f"  after {steps:3d} steps at lr {lr:4.1f}: loss {loss:.3f}, all-negative units {neg:5.1%}, "
            f"max |dL/dW1| into them {g:.1e}"
        )
rows = train("relu", [(0.5, 100), (10.0, 20), (0.5, 400)])
assert rows[1][3] > 0.3 and rows[2][3] == rows[1][3] and rows[2][4] == 0.0  # dead, and stay dead

# %% [markdown]
# The ReLU units killed by the large steps get a gradient of exactly 0 and stay dead through 400 more steps:
# the network trains on with a fraction of its width. Leaky ReLU's all-negative units still get a gradient
# (the slope $s$) and some of them recover. Remedies: smaller learning rates, sensible initialisation,
# normalisation layers, or a leaky activation.
#
# ## 4. Leaky ReLU and PReLU
#
# Leaky ReLU keeps a fixed slope $s$ (0.01) for $x < 0$: never a zero gradient, outputs of both signs.
# PReLU learns the slope: $f(x) = x$ for $x > 0$, $\alpha x$ otherwise. Its gradient with respect to $\alpha$ is
# $\partial f/\partial\alpha = x\,\mathbb 1[x \le 0]$; since one $\alpha$ is **shared** by many positions
# (all units for a scalar $\alpha$; for a per-channel $\alpha_c$, every example and every spatial position of
# channel $c$), the chain rule sums over all of them:
# $$\frac{\partial L}{\partial \alpha_c} = \sum_{n}\sum_{h,w} \frac{\partial L}{\partial a_{n,c,h,w}}\;
# x_{n,c,h,w}\,\mathbb 1[x_{n,c,h,w} \le 0].$$
# Forgetting the sum over the batch (or averaging instead of summing, when the loss already averages) is the
# classic bug. PyTorch's `nn.PReLU(num_parameters=C)` is the per-channel form.

# %%
rng = np.random.default_rng(2)
x4, d4 = rng.normal(size=(8, 3, 4, 4)), rng.normal(size=(8, 3, 4, 4))
for alpha in (np.array(0.25), np.array([0.1, 0.2, 0.3])):
    out, cache = A.prelu_forward(x4, alpha)
    dx, dalpha = A.prelu_backward(d4, cache)
    xt = torch.tensor(x4, requires_grad=True)
    at = torch.tensor(alpha.reshape(-1), requires_grad=True)
    F.prelu(xt, at).backward(torch.tensor(d4))
    fd = check_gradient(lambda a: A.prelu_forward(x4, a)[0], alpha, dalpha, d4, name="alpha")
    print(
        f"alpha shape {alpha.shape}: dalpha = {np.round(dalpha, 4)}; vs torch {rel_error(dalpha.reshape(-1), at.grad.numpy()):.1e}; "
        f"dx vs torch {rel_error(dx, xt.grad.numpy()):.1e}; {fd}"
    )
    assert rel_error(dalpha.reshape(-1), at.grad.numpy()) < 1e-12 and fd.ok

# %% [markdown]
# ## 5. ELU and SELU: the self-normalising fixed point
#
# ELU replaces the leak by a smooth exponential that saturates at $-\alpha$: negative outputs pull the mean
# activation towards 0, and the saturation makes the negative side robust to noise (a deactivated unit says
# "about $-\alpha$", not an ever larger negative number).
#
# SELU scales ELU, $\mathrm{selu}(x) = \lambda\,\mathrm{ELU}_\alpha(x)$, and chooses $(\lambda, \alpha)$ so that
# the map "input distribution $\mapsto$ output distribution" has a fixed point at mean 0, variance 1. If
# $z \sim N(0, 1)$ we want
# $$\mathbb E[\mathrm{selu}(z)] = 0, \qquad \mathbb E[\mathrm{selu}(z)^2] = 1.$$
# With LeCun-normal weights ($W_{ij} \sim N(0, 1/n_{in})$) and mean 0 / variance 1 activations, the next
# pre-activations $z = W a$ are again approximately $N(0, 1)$ (central limit theorem), so the statistics are
# preserved layer after layer; Klambauer et al. (2017) show the fixed point is attracting. Two equations, two
# unknowns: solve them numerically (splitting the integrals at SELU's kink).

# %%
phi = lambda z: np.exp(-z * z / 2) / np.sqrt(2 * np.pi)  # N(0, 1) density


def moments(lam, alpha):
    neg1 = quad(lambda z: alpha * np.expm1(z) * phi(z), -np.inf, 0)[0]
    neg2 = quad(lambda z: (alpha * np.expm1(z)) ** 2 * phi(z), -np.inf, 0)[0]
    pos1, pos2 = 1 / np.sqrt(2 * np.pi), 0.5  # E[z; z > 0] and E[z^2; z > 0]
    return lam * (pos1 + neg1), lam**2 * (pos2 + neg2)


lam, alpha = fsolve(lambda p: np.subtract(moments(*p), (0.0, 1.0)), x0=(1.0, 1.0), xtol=1e-14)
print(f"solved:  lambda = {lam:.12f}, alpha = {alpha:.12f}")
print(f"deepkit: lambda = {A.SELU_LAMBDA:.12f}, alpha = {A.SELU_ALPHA:.12f}")
t = torch.tensor([-1.0], dtype=torch.float64)
print(f"torch:   selu(-1) = {F.selu(t).item():.12f}, lambda*alpha*(e^-1 - 1) = {lam * alpha * np.expm1(-1):.12f}")
assert abs(lam - A.SELU_LAMBDA) < 1e-9 and abs(alpha - A.SELU_ALPHA) < 1e-9


# %% [markdown]
# Now the property itself: 50 SELU layers of width 256 with LeCun-normal weights, a batch of 1000 standard
# normal inputs. Compare with tanh and ReLU under the same initialisation (ReLU would need Kaiming's
# $\sqrt{2/n}$), and start SELU once from a badly scaled input (mean 1, variance 4) to see the attraction.


# %%
def propagate(act, h, layers_=50, width=256, seed=0):
    rng = np.random.default_rng(seed)
    fwd = A.ACTIVATIONS[act][0]
    stats = []
    for _ in range(layers_):
        h = fwd(h @ rng.normal(0, 1 / np.sqrt(width), size=(width, width)))[0]  # LeCun normal
        stats.append((h.mean(), h.var()))
    return np.array(stats)


h0 = np.random.default_rng(1).normal(size=(1000, 256))
runs = {
    "selu": propagate("selu", h0),
    "selu, input mean 1 var 4": propagate("selu", 1 + 2 * h0),
    "tanh": propagate("tanh", h0),
    "relu": propagate("relu", h0),
}
print(f"{'':>25} " + " ".join(f"layer {l:>2}     " for l in (1, 5, 10, 25, 50)))
for name, s in runs.items():
    print(f"{name:>25} " + " ".join(f"{s[l - 1, 0]:+.2f}/{s[l - 1, 1]:<8.2g}" for l in (1, 5, 10, 25, 50)))
s = runs["selu"]
assert np.all(np.abs(s[:, 0]) < 0.1) and np.all(np.abs(s[:, 1] - 1) < 0.15)
fig, ax = plt.subplots(figsize=(7, 3))
for name, s in runs.items():
    ax.semilogy(np.arange(1, 51), s[:, 1], label=name)
ax.set(
    xlabel="layer",
    ylabel="variance of activations",
    title="activation variance through 50 layers, LeCun-normal weights",
)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# (Entries are mean/variance.) SELU keeps mean $\approx 0$ and variance $\approx 1$ for 50 layers and pulls the
# badly scaled input back towards $(0, 1)$; tanh's variance decays, ReLU's halves every layer
# ($2^{-50} \approx 10^{-15}$). The guarantee needs the setting it was derived for: LeCun-normal weights, no
# batch normalisation, and `AlphaDropout` instead of ordinary dropout.
#
# **Not with SELU's "Kaiming gain".** `torch.nn.init.calculate_gain("selu")` (and `deepkit.init`, which copies
# it) returns $3/4$, so `kaiming_normal_(w, nonlinearity="selu")` draws $\mathrm{Var}(w) = (3/4)^2/n_{in}$. The
# derivation above needs $\mathrm{Var}(w) = 1/n_{in}$ exactly: with $9/16$ of it, $z = Wa$ has variance $0.56$
# instead of 1 and the fixed point is gone. PyTorch's documentation says so: for self-normalising networks use
# `nonlinearity="linear"` (gain 1, i.e. LeCun normal); the $3/4$ "sacrifices the normalization effect for more
# stable gradient flow in rectangular layers". In numbers, 50 SELU layers with each:

# %%
from deepkit import init

kaiming_runs = {}
for nl in ("linear", "selu"):
    rng, h = np.random.default_rng(0), h0
    for _ in range(50):
        h = A.selu_forward(h @ init.kaiming_normal((256, 256), rng, nonlinearity=nl))[0]
    kaiming_runs[nl] = (h.mean(), h.var())
    print(
        f"kaiming_normal(nonlinearity={nl!r}), gain {init.calculate_gain(nl):.2f}: after 50 layers mean "
        f"{h.mean():+.3f}, variance {h.var():.3f}"
    )
assert init.calculate_gain("selu") == torch.nn.init.calculate_gain("selu") == 0.75
assert abs(kaiming_runs["linear"][1] - 1) < 0.15 and kaiming_runs["selu"][1] < 0.2

# %% [markdown]
# ## 6. Maxout
#
# A Maxout unit outputs the largest of $k$ affine functions of its input,
# $\text{out}_m = \max_{j \le k}\,(x^\top W_{:,m,j} + b_{m,j})$, so the activation is *learned* as a convex,
# piecewise-linear function. It **generalises ReLU and Leaky ReLU**: with $k = 2$, piece 1 $= (w, c)$ and
# piece 2 $= (0, 0)$ gives $\max(w^\top x + c, 0) = \mathrm{ReLU}(w^\top x + c)$; piece 2 $= (s w, s c)$ gives
# $\max(u, s u)$ = Leaky ReLU of $u = w^\top x + c$ (for $s \le 1$). It never saturates and never dies (some
# piece always wins and receives the gradient), at $k$ times the parameters.
#
# Backward: the max routes the upstream gradient to the **winning piece only**; the losing pieces get 0.
# Then each piece is an ordinary affine layer.

# %%
rng = np.random.default_rng(3)
x, w, c = rng.normal(size=(6, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
u = x @ w + c
relu_W, relu_b = np.stack([w, 0 * w], axis=2), np.stack([c, 0 * c], axis=1)  # k = 2 pieces
leaky_W, leaky_b = np.stack([w, 0.01 * w], axis=2), np.stack([c, 0.01 * c], axis=1)
e_relu = np.abs(A.maxout_forward(x, relu_W, relu_b)[0] - A.relu_forward(u)[0]).max()
e_leaky = np.abs(A.maxout_forward(x, leaky_W, leaky_b)[0] - A.leaky_relu_forward(u)[0]).max()
print(f"maxout(k=2) vs ReLU: {e_relu:.1e}; vs Leaky ReLU: {e_leaky:.1e}")
assert e_relu < 1e-14 and e_leaky < 1e-14

W, b, dout = rng.normal(size=(4, 3, 5)), rng.normal(size=(3, 5)), rng.normal(size=(6, 3))
out, cache = A.maxout_forward(x, W, b)
dx, dW, db = A.maxout_backward(dout, cache)
xt, Wt, bt = (torch.tensor(v, requires_grad=True) for v in (x, W, b))
(torch.einsum("nd,dmk->nmk", xt, Wt) + bt).max(dim=2).values.backward(torch.tensor(dout))
for name, mine, t in (("dx", dx, xt), ("dW", dW, Wt), ("db", db, bt)):
    print(f"{name} vs torch: {rel_error(mine, t.grad.numpy()):.1e}")
    assert rel_error(mine, t.grad.numpy()) < 1e-12
print(
    "pieces receiving gradient per output:",
    (np.abs(db) > 0).sum(axis=1),
    "of",
    b.shape[1],
    "(db sums the routed gradient over the batch)",
)
rep = check_gradient(lambda v: A.maxout_forward(v, W, b)[0], x, dx, dout)
print(rep)
assert rep.ok

# %% [markdown]
# ## 7. The same network trained with each activation
#
# The sections above looked at one mechanism at a time. Now the whole picture on real data, as careful
# comparisons do it: one MLP (64-64-64-64-10, three hidden layers) on the digits, **the same** initial weights
# (LeCun normal, $N(0, 1/n_{in})$, one seed), the same minibatches, plain SGD with the same learning rate
# (0.1) for 15 epochs; only the activation changes. We record (1) the **gradient flow** at initialisation: the
# mean $|\partial L/\partial W|$ of each layer on one batch; (2) the validation **accuracy** per epoch; (3) after
# training, per hidden layer, the **dead** units (slope exactly 0 on every validation input) and the
# **saturated** ones (slope below 5% of the activation's peak on every validation input).

# %%
from deepkit.data import load_digits, minibatches

digits = load_digits()
SIZES = [64, 64, 64, 64, 10]


def mlp_step(params, X, y, act):
    """Loss, per-layer gradients and hidden pre-activations of the MLP with activation ``act``."""
    fwd, bwd = A.ACTIVATIONS[act]
    h, caches, zs = X, [], []
    for W, b in params[:-1]:
        z, c_aff = layers.affine_forward(h, W, b)
        h, c_act = fwd(z)
        caches.append((c_aff, c_act))
        zs.append(z)
    scores, c_out = layers.affine_forward(h, *params[-1])
    loss, dscores = losses.softmax_loss(scores, y)
    dh, dW, db = layers.affine_backward(dscores, c_out)
    grads = [(dW, db)]
    for c_aff, c_act in reversed(caches):
        dh, dW, db = layers.affine_backward(bwd(dh, c_act), c_aff)
        grads.append((dW, db))
    return loss, grads[::-1], zs, scores


def compare_activations(epochs=15, lr=0.1):
    results = {}
    for act in A.ACTIVATIONS:
        rng = np.random.default_rng(0)  # the same initial weights for every activation
        params = [(rng.normal(0, a**-0.5, (a, b)), np.zeros(b)) for a, b in zip(SIZES[:-1], SIZES[1:])]
        _, grads, _, _ = mlp_step(params, digits.X_train[:256], digits.y_train[:256], act)
        flow = [np.abs(dW).mean() for dW, _ in grads]
        batches, accs = np.random.default_rng(1), []  # the same minibatches too
        for _ in range(epochs):
            for xb, yb in minibatches(digits.X_train, digits.y_train, 64, batches):
                _, grads, _, _ = mlp_step(params, xb, yb, act)
                for (W, b), (dW, db) in zip(params, grads):
                    W -= lr * dW
                    b -= lr * db
            _, _, zs, scores = mlp_step(params, digits.X_val, digits.y_val, act)
            accs.append(np.mean(scores.argmax(axis=1) == digits.y_val))
        fwd, bwd = A.ACTIVATIONS[act]
        peak = bwd(np.ones(1), fwd(np.zeros(1))[1])[0]  # every slope here peaks at x = 0 (ReLU's: 0 at 0, 1 above)
        peak = max(peak, bwd(np.ones(1), fwd(np.ones(1))[1])[0])
        slopes = [bwd(np.ones_like(z), fwd(z)[1]) for z in zs]
        results[act] = {
            "flow": np.array(flow),
            "acc": np.array(accs),
            "dead": np.array([np.mean(np.all(s == 0, axis=0)) for s in slopes]),
            "saturated": np.array([np.mean(np.all(s < 0.05 * peak, axis=0)) for s in slopes]),
        }
    return results


t_cmp = time.perf_counter()
cmp = compare_activations()
print(f"6 activations x 15 epochs in {time.perf_counter() - t_cmp:.1f} s\n")
print(
    f"{'activation':>10} | mean |dL/dW| at init, layer 1 .. 4 (output) | val. acc. | dead / saturated units, layer 1 2 3"
)
for act, r in cmp.items():
    flow = " ".join(f"{g:.1e}" for g in r["flow"])
    dead = " ".join(f"{d:4.0%}" for d in r["dead"])
    sat = " ".join(f"{d:4.0%}" for d in r["saturated"])
    print(f"{act:>10} | {flow:>40} | {r['acc'][-1]:9.3f} | {dead}  /  {sat}")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.3))
for act, r in cmp.items():
    ax1.semilogy(range(1, 5), r["flow"], "o-", label=act)
    ax2.plot(range(1, len(r["acc"]) + 1), r["acc"], label=act)
ax1.set(xlabel="layer (4 = output)", ylabel="mean |dL/dW| at initialisation", xticks=range(1, 5))
ax2.set(xlabel="epoch", ylabel="validation accuracy")
ax2.legend(fontsize=8)
plt.show()
assert cmp["sigmoid"]["acc"][-1] < 0.5 and cmp["sigmoid"]["flow"][0] < 0.01 * cmp["sigmoid"]["flow"][-1]
assert all(cmp[a]["acc"][-1] > 0.85 for a in ("tanh", "relu", "leaky_relu", "elu", "selu"))
assert cmp["relu"]["dead"].sum() > 0 and all(cmp[a]["dead"].sum() == 0 for a in cmp if a != "relu")

# %% [markdown]
# What the numbers say. **Sigmoid** does not learn at all in 15 epochs with this (reasonable for the others)
# setup: at initialisation the first layer's gradient is already about 250 times smaller than the output
# layer's (each sigmoid layer multiplies it by at most $1/4$), and its positive outputs make the next layer's
# updates zig-zag. **tanh, ELU and SELU** have slope 1 at 0 and zero-centred outputs: their gradient reaches layer
# 1 with the same order of magnitude as the last layer's. SELU starts with the largest gradients (its slopes
# $\lambda \approx 1.05$ and up to $\lambda\alpha \approx 1.76$ with the LeCun init are its design point).
# **ReLU** ends with a few percent of dead units per layer: units that no validation digit activates and that
# receive exactly zero gradient; **Leaky ReLU**, with the same weights and batches, has none and the same
# accuracy here (its all-negative units count as saturated, slope $0.01 < 5\%$ of 1, but they still learn). A single run on a small data set: differences of a point or two in accuracy
# are within seed-to-seed noise; the sigmoid's failure and the dead units are not.
#
# ## 8. Explore
#
# Pick an activation, the weight gain and input scale, and the depth. Left to right: histograms of the
# pre-activations (each layer divided by its own standard deviation, printed in the label, since the scales
# can differ by many decades) and of the activations of the first, middle and last layer; the saturated fraction (grey) and dead
# units (red) per layer; $\log_{10}$ of the mean $|\partial L/\partial z|$ (solid) and
# $|\partial L/\partial W|$ (dashed) per layer. Things to try: sigmoid at
# depth 20 (the gradient falls by orders of magnitude towards layer 1); tanh with gain 3 (everything
# saturates); ReLU with gain 1 versus 1.4; ReLU with input scale 0.1 and a small gain; SELU at gain 1.

# %%
from deepkit.viz.activations import explorer

ex = explorer()
ex

# %% [markdown]
# ## 9. When to use what
#
# | activation | use it for | watch out for |
# |---|---|---|
# | ReLU | the default for hidden layers (MLPs, CNNs); with Kaiming init | dead units at large learning rates; not zero-centred |
# | Leaky ReLU / PReLU | when dead units show up; PReLU in CNNs (per channel) | one more hyper-parameter / parameter; PReLU's $\alpha$ usually without weight decay |
# | ELU | ReLU's benefits with closer-to-zero mean, smooth for $\alpha = 1$ | `exp` costs more |
# | SELU | deep plain MLPs without normalisation layers | needs LeCun-normal init (`nonlinearity="linear"`, not torch's SELU gain 3/4), no BatchNorm, `AlphaDropout` |
# | Maxout | a learned piecewise-linear activation (with dropout) | $k$ times the parameters |
# | tanh | recurrent cells, outputs in $(-1, 1)$ | saturates; keep pre-activations small |
# | sigmoid | output layer for a probability or a gate (LSTM gates, attention gates) | hidden layers: saturates, slope $\le 1/4$, not zero-centred |
#
# (Modern transformers mostly use GELU/SiLU, smooth relatives of ReLU; the same analysis applies.)
#
# ## Common mistakes
#
# * Sigmoid/tanh backward applied to the **input**: `dout * x * (1 - x)` or `1 - x**2`. The formulas take the
#   forward **output**; cache it.
# * A naive sigmoid `1 / (1 + np.exp(-x))`: warnings (and `nan` for the `e^x/(1+e^x)` form) at $|x| > 709$.
# * Leaky ReLU backward that copies ReLU's mask: gradient 0 (instead of $s$) for negative inputs.
# * PReLU `dalpha` not summed over the batch and spatial positions, or of the wrong shape (one value per example).
# * ELU backward with $\alpha(e^x - 1)$ (the output) instead of $\alpha e^x$ (the output **plus** $\alpha$).
# * SELU with rounded constants (1.05, 1.67): the fixed point drifts over many layers; use the exact values.
# * Maxout backward sending the gradient to **every** piece instead of only the argmax.
# * Gradient checks at a kink: a centred difference straddling $x = 0$ gives the average slope; skip those
#   points (the checker's `kink_aware`) instead of loosening the tolerance.
