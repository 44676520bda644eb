# %% [markdown]
# # 05 · Regularization: penalties, the dropout family, early stopping, ensembles
#
# A network with many more parameters than training examples can memorise its training set. Its training
# accuracy climbs to 100 % while the validation accuracy stalls or falls: **overfitting**. Regularization is
# everything we do to trade a little training fit for better generalization:
#
# * **explicit** penalties added to the loss: L1, L2 (weight decay), elastic net; constraints such as max-norm;
# * **implicit** methods: dropout and its structured relatives (DropConnect, SpatialDropout, DropBlock),
#   early stopping, data augmentation, noise injection, ensembles.
#
# Each section derives the method, checks the formulas numerically (our NumPy reference vs PyTorch autograd
# in float64 vs finite differences) and ends with the mistakes people actually make. At the end we
# reproduce, at a small scale, the classic comparison tables "L2 on weights vs L2 on embeddings vs dropout".

# %%
import _course  # puts the reference deepkit (reference/) on the path; inline figures; float64 printing
import numpy as np

# %%
import time
import matplotlib.pyplot as plt
import torch
from deepkit import regularizers as R, dropout as D, early_stopping as ES, data
from deepkit.gradcheck import check_gradient, rel_error
from deepkit.viz import regularization as pg

torch.set_num_threads(1)  # tiny tensors: extra threads only add overhead (and fight over 2 shared cores)
T0 = time.perf_counter()
rng = np.random.default_rng
t64 = lambda a, grad=False: torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)

# %% [markdown]
# ## 1. Weight penalties
#
# We minimise $\tilde J(\theta) = J(\theta) + \Omega(\theta)$ with
#
# | penalty | $\Omega(w)$ | $\nabla_w\Omega$ |
# |---|---|---|
# | L1 | $\lambda\sum_i |w_i|$ | $\lambda\,\mathrm{sign}(w)$ (subgradient, 0 at 0) |
# | L2 | $\frac{\lambda}{2}\sum_i w_i^2$ | $\lambda w$ |
# | elastic net | $\lambda\big(r\sum|w_i| + \frac{1-r}{2}\sum w_i^2\big)$ | $\lambda\big(r\,\mathrm{sign}(w)+(1-r)w\big)$ |
#
# With the $\frac12$ in L2, one SGD step is $w \leftarrow w - \eta(\nabla J + \lambda w) = (1-\eta\lambda)w -
# \eta\nabla J$: the weights **decay** by a factor $1-\eta\lambda$ every step, which is exactly
# `torch.optim.SGD(..., weight_decay=lam)`. (For Adam the two are *not* the same: Adam rescales the penalty's
# gradient like any other gradient, which is why `AdamW` applies the decay separately, "decoupled".)
# Biases are usually not penalised: they do not multiply inputs, so they do not make the function steeper.
#
# ### L2 is a Gaussian prior, L1 a Laplace prior
# Maximum a posteriori estimation maximises $\log p(\theta\mid\mathcal D) = \log p(\mathcal D\mid\theta) + \log
# p(\theta) + \text{const}$. With a prior $w_i\sim\mathcal N(0,\sigma^2)$,
# $-\log p(w) = \frac{1}{2\sigma^2}\sum_i w_i^2 + \text{const}$: the L2 penalty with $\lambda = 1/\sigma^2$
# (per example: $\lambda = 1/(N\sigma^2)$ when the loss is a mean over $N$ examples). A narrow prior (small
# $\sigma$) is strong regularization. A Laplace prior $p(w_i)\propto e^{-|w_i|/b}$ gives L1 with
# $\lambda = 1/b$; its sharp peak at 0 is what makes L1 solutions **sparse**.

# %%
w = rng(0).normal(size=(4, 6))
lam, r = 0.3, 0.4
torch_penalties = {
    "l1": (R.l1_penalty(w, lam), lambda t: lam * t.abs().sum()),
    "l2": (R.l2_penalty(w, lam), lambda t: lam / 2 * (t**2).sum()),
    "elastic net": (R.elastic_net_penalty(w, lam, r), lambda t: lam * (r * t.abs().sum() + (1 - r) / 2 * (t**2).sum())),
}
for name, ((value, grad), fn) in torch_penalties.items():
    tw = t64(w, True)
    tv = fn(tw)
    tv.backward()
    fd = check_gradient(lambda v: np.array(fn(t64(v)).item()), w, grad)
    print(
        f"{name:12s} value err {abs(value - tv.item()):.1e}  grad vs autograd {rel_error(grad, tw.grad.numpy()):.1e}"
        f"  grad vs finite differences {fd.rel_error:.1e}"
    )
    assert abs(value - tv.item()) < 1e-12 and rel_error(grad, tw.grad.numpy()) < 1e-14 and fd.ok

# L2 == weight decay in torch.optim.SGD
dJ, lr = rng(1).normal(size=w.shape), 0.1
tw = t64(w, True)
opt = torch.optim.SGD([tw], lr=lr, weight_decay=lam)
(tw * t64(dJ)).sum().backward()
opt.step()
ours = w - lr * (dJ + R.l2_penalty(w, lam)[1])
print("SGD + l2_penalty vs torch SGD(weight_decay):", np.abs(ours - tw.detach().numpy()).max())
assert np.allclose(ours, tw.detach().numpy(), atol=1e-15)

# %% [markdown]
# **Why L1 gives exact zeros.** In one dimension, $\min_w \frac12(w-a)^2 + \lambda|w|$ has the solution
# $w^* = \mathrm{sign}(a)\max(|a|-\lambda, 0)$ (*soft thresholding*): every $|a|\le\lambda$ becomes exactly 0.
# With L2, $\min_w \frac12(w-a)^2 + \frac\lambda2 w^2$ gives $w^* = a/(1+\lambda)$: shrunk, never zero.
# We check both closed forms against a numerical minimiser.

# %%
from scipy.optimize import minimize_scalar

lam = 0.5
a_vals = np.linspace(-1.5, 1.5, 13)
soft = np.sign(a_vals) * np.maximum(np.abs(a_vals) - lam, 0)
num_l1 = [
    minimize_scalar(
        lambda v: 0.5 * (v - a) ** 2 + R.l1_penalty(np.array([v]), lam)[0],
        bounds=(-3, 3),
        method="bounded",
        options={"xatol": 1e-10},
    ).x
    for a in a_vals
]
num_l2 = [minimize_scalar(lambda v: 0.5 * (v - a) ** 2 + R.l2_penalty(np.array([v]), lam)[0]).x for a in a_vals]
print("L1 closed form vs numeric:", np.abs(soft - num_l1).max())
print("L2 closed form vs numeric:", np.abs(a_vals / (1 + lam) - num_l2).max())
assert np.abs(soft - num_l1).max() < 1e-6 and np.abs(a_vals / (1 + lam) - num_l2).max() < 1e-6
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(a_vals, a_vals, "k:", label="no penalty")
ax.plot(a_vals, soft, "o-", label="L1: soft threshold")
ax.plot(a_vals, a_vals / (1 + lam), "s-", label="L2: shrink")
ax.set_xlabel("unpenalised optimum a")
ax.set_ylabel("penalised optimum w*")
ax.legend()
plt.show()

# %% [markdown]
# ## 2. Max-norm: a constraint instead of a penalty
#
# Constrain every neuron's incoming weight vector to $\|w_j\|_2\le c$ (typical $c$: 3 or 4) and train with
# **projected gradient descent**: take a normal step, then project back onto the ball,
# $w_j \leftarrow w_j\min(1, c/\|w_j\|_2)$. Unlike L2 it never shrinks small weights, and it bounds the
# weights even with the large learning rates that dropout training likes. For a weight matrix `w (D, M)` used
# as `x @ w`, neuron $j$ is column $j$: `max_norm_project(w, c, axis=0)`. PyTorch has the same operation as
# `torch.renorm(w, p=2, dim=1, maxnorm=c)` (it rescales with $c/(\|w_j\|+10^{-7})$, hence the tolerance).

# %%
w = rng(2).normal(size=(5, 8)) * rng(3).uniform(0.3, 3, size=(1, 8))
c = 2.0
p = R.max_norm_project(w, c, axis=0)
print("column norms before:", np.linalg.norm(w, axis=0).round(2))
print("column norms after: ", np.linalg.norm(p, axis=0).round(2))
err = np.abs(p - torch.renorm(t64(w), p=2, dim=1, maxnorm=c).numpy()).max()
print(f"max |ours - torch.renorm| = {err:.1e}")
assert err < 1e-6 and np.all(np.linalg.norm(p, axis=0) <= c + 1e-12)

# %% [markdown]
# ## 3. Dropout: training vs test time
#
# During training each hidden unit is kept with probability $q = 1-p$ and zeroed otherwise:
# $\tilde h = m\odot h$, $m_i\sim\mathrm{Bernoulli}(q)$. Every step trains a different "thinned" sub-network
# (there are $2^n$ of them, all sharing weights), and no unit can rely on any particular other unit being
# present. At test time we want the **average** of this ensemble; the cheap approximation is to use all units
# with their expected value $\mathbb E[m_i h_i] = q\,h_i$.
#
# * **Classic dropout** (the original paper and the slides' $d(x) = m\odot x$ in training, $q\,x$ at test):
#   scale by the keep probability **at test time**.
# * **Inverted dropout** (what every framework does): scale by $1/q$ **at training time**,
#   $\tilde h = m\odot h/q$, so that $\mathbb E[\tilde h] = h$ and the test-time network is the plain network.
#   Then `model.eval()` simply switches dropout off and nothing else changes.
#
# For a fixed mask the layer is linear in $h$, so the backward is $\partial L/\partial h = m/q \odot
# \partial L/\partial\tilde h$: the gradient flows only through the kept units, with the same scale.
# (Careful with notation: the classic papers call the *keep* probability $p$; PyTorch's `p` and our
# `p_drop` are the *drop* probability.)

# %%
x = rng(4).uniform(0.5, 2, size=(400, 500))
p = 0.3
out, cache = D.dropout_forward(x, p, "train", rng(5))
ratio = out / x
print("values of out / x:", np.unique(ratio.round(10)), " expected 0 and 1/(1-p) =", 1 / (1 - p))
sigma = np.sqrt(p * (1 - p) / x.size)
print(f"drop rate {np.mean(ratio == 0):.4f} (target {p}, 6 sigma = {6 * sigma:.4f})")
print(f"mean of out / x = {ratio.mean():.4f}: inverted dropout keeps the expectation")
assert abs(np.mean(ratio == 0) - p) < 6 * sigma

# the same semantics as torch: train mode scales, eval mode is the identity
layer = torch.nn.Dropout(p)
tx = t64(x)
layer.train()
t_out = layer(tx).numpy()
layer.eval()
t_eval = layer(tx).numpy()
print(
    "torch train values of out / x:", np.unique((t_out / x).round(10)), "; torch eval == x:", np.array_equal(t_eval, x)
)
assert np.array_equal(D.dropout_forward(x, p, "eval", rng(5))[0], x) and np.array_equal(t_eval, x)

# backward: autograd through x * (the same scaled mask), and finite differences with a fixed seed
dout = rng(6).normal(size=x.shape)
tx = t64(x, True)
(tx * t64(ratio) * t64(dout)).sum().backward()
print("backward vs autograd:", rel_error(D.dropout_backward(dout, cache), tx.grad.numpy()))
xs, ds = x[:3, :4].copy(), dout[:3, :4]
_, cs = D.dropout_forward(xs, p, "train", rng(7))
rep = check_gradient(lambda v: D.dropout_forward(v, p, "train", rng(7))[0], xs, D.dropout_backward(ds, cs), ds)
print(rep)
assert rep.ok

# %% [markdown]
# **Dropout at test time: averaging vs the weight-scaling rule.** For a linear layer the scaled network gives
# the ensemble mean exactly; with nonlinearities it is an approximation. We compare, for a small random ReLU
# net, the Monte-Carlo average of 2,000 dropout networks with the deterministic `eval` output.

# %%
W1, W2 = rng(8).normal(size=(10, 50)) / 3, rng(9).normal(size=(50, 3)) / 7
xin = rng(10).normal(size=(5, 10))


def net(x, mode, g):
    h, _ = D.dropout_forward(np.maximum(x @ W1, 0), 0.5, mode, g)
    return h @ W2


g = rng(11)
mc = np.mean([net(xin, "train", g) for _ in range(2000)], axis=0)
print("MC average of 2000 thinned nets:\n", mc[:2])
print("eval-mode network (weight scaling):\n", net(xin, "eval", g)[:2])
print(
    "max difference:",
    np.abs(mc - net(xin, "eval", g)).max(),
    "(MC noise ~",
    (np.std([net(xin, "train", g) for _ in range(200)], axis=0) / np.sqrt(2000)).max().round(3),
    ")",
)

# %% [markdown]
# ## 4. DropConnect: drop weights instead of units
#
# DropConnect (Wan et al., 2013) masks the **weights**: $y = x\,(W\odot R)/q + b$ with
# $R_{ij}\sim\mathrm{Bernoulli}(q)$, one bit per weight, and no mask on the output.
# Dropout is the special case where all outgoing weights of a unit share one mask bit.
#
# *Corrections to the source notes.* The slides write DropConnect as $y = r * f(RW^Tx + b)$ with
# $R_{ij}\sim\mathrm{Bernoulli}(p)$. Two slips: (1) the output mask $r *$ is dropout's and does not belong to
# DropConnect (the paper: $r = a((M\odot W)v)$, the mask only on the weights, so the bias is never dropped);
# (2) $RW^T$ reads as a matrix product, but the mask multiplies $W$ **elementwise**, $R\odot W$: with
# $W\in\mathbb R^{d\times n}$ and $R$ of the same shape, $RW^T$ is $d\times d$ and mixes weights. (The
# dropout line above it, $y = r * f(W^Tx + b)$ with $W\in\mathbb R^{d\times n}$ and $x\in\mathbb R^n$, has
# the transpose slip too: $W^Tx$ does not exist, $Wx$ does.) The cell after the gradient checks shows the
# shapes, and that a mask on the output is a different layer: same mean, different variance. The backward uses the
# masked weights: $\partial L/\partial x = \delta\,(W\odot R/q)^\top$, $\partial L/\partial W = (x^\top\delta)
# \odot R/q$, $\partial L/\partial b = \sum_n\delta_n$. At test time we use the expected weights
# ($W$ with inverted scaling); the paper's better inference samples from a Gaussian moment-matched to the
# pre-activation, which we skip. Our layer draws one weight mask per mini-batch (per-example masks are the
# paper's version and cost a matrix per example).

# %%
x, W, b = rng(12).normal(size=(6, 5)), rng(13).normal(size=(5, 4)), rng(14).normal(size=4)
dout, p = rng(15).normal(size=(6, 4)), 0.4
out, cache = D.dropconnect_forward(x, W, b, p, "train", rng(16))
R_scaled = (D.dropconnect_forward(np.eye(5), W, b, p, "train", rng(16))[0] - b) / W  # same seed -> same mask
print("scaled weight mask values:", np.unique(R_scaled.round(10)) + 0.0)
tx, tW, tb = t64(x, True), t64(W, True), t64(b, True)
tout = tx @ (tW * t64(R_scaled)) + tb
(tout * t64(dout)).sum().backward()
grads = D.dropconnect_backward(dout, cache)
for name, ours, ref in zip("xWb", grads, (tx.grad, tW.grad, tb.grad)):
    print(f"d{name}: vs autograd {rel_error(ours, ref.numpy()):.1e}")
    assert rel_error(ours, ref.numpy()) < 1e-14
rep = check_gradient(lambda v: D.dropconnect_forward(x, v, b, p, "train", rng(16))[0], W, grads[1], dout, name="W")
print(rep)
assert rep.ok

# %% [markdown]
# For one input $x$ and keep probability $q$, both layers have the mean $xW + b$ (inverted scaling). Their
# variances differ: DropConnect's output $j$ sums $D$ independently masked terms,
# $\mathrm{Var}_j = \frac{1-q}{q}\sum_i x_i^2W_{ij}^2$, while a mask on the output scales the whole sum at once,
# $\mathrm{Var}_j = \frac{1-q}{q}(xW+b)_j^2$. A Monte Carlo check over 100,000 masks:

# %%
d_in, d_out, q = 8, 3, 0.6
xv, Wd, bd = rng(40).normal(size=d_in), rng(41).normal(size=(d_in, d_out)), rng(42).normal(size=d_out)
try:
    np.ones((d_out, d_in)) @ Wd.T @ xv  # the slides' R W^T x with R of W's shape (here W is (d_in, d_out))
except ValueError as exc:
    print("R @ W.T @ x:", str(exc).split(" (")[0][:60])
masks = rng(43).random((100_000, d_in, d_out)) < q
dropconnect = np.einsum("i,mij->mj", xv, Wd * masks) / q + bd  # R (.) W: one bit per weight
outmask = (rng(44).random((100_000, d_out)) < q) / q * (xv @ Wd + bd)  # the slides' r * (...)
for name, samples, var in (
    ("DropConnect", dropconnect, (1 - q) / q * (xv**2) @ (Wd**2)),
    ("output mask", outmask, (1 - q) / q * (xv @ Wd + bd) ** 2),
):
    se = samples.std(axis=0) / np.sqrt(len(samples))
    print(
        f"{name:12s} mean {samples.mean(0).round(3)} (xW + b = {(xv @ Wd + bd).round(3)}), "
        f"variance {samples.var(0).round(3)} (formula {var.round(3)})"
    )
    assert np.all(np.abs(samples.mean(0) - (xv @ Wd + bd)) < 6 * se)
    assert np.allclose(samples.var(0), var, rtol=0.03)

# %% [markdown]
# ## 5. SpatialDropout: whole channels
#
# Neighbouring pixels of a convolutional feature map are strongly correlated: if one pixel is dropped its
# neighbours still carry almost the same information, so element-wise dropout barely regularizes conv layers.
# SpatialDropout (Tompson et al., 2015; `torch.nn.Dropout2d`) draws one decision per **(sample, channel)** and
# drops the entire $H\times W$ map, scaling the kept maps by $1/q$.

# %%
x = rng(17).uniform(0.5, 2, size=(400, 16, 5, 5))
p = 0.25
ours = D.spatial_dropout_forward(x, p, "train", rng(18))[0] / x
torch.manual_seed(0)
theirs = torch.nn.Dropout2d(p)(t64(x)).numpy() / x
for name, ratio in (("ours", ours), ("torch Dropout2d", theirs)):
    per_map = ratio.reshape(400, 16, -1)
    const = np.allclose(per_map, per_map[:, :, :1])
    rate = np.mean(per_map[:, :, 0] == 0)
    print(
        f"{name:16s} one value per channel: {const}; channel drop rate {rate:.4f} "
        f"(target {p}, 6 sigma {6 * np.sqrt(p * (1 - p) / 6400):.4f})"
    )
    assert const and abs(rate - p) < 6 * np.sqrt(p * (1 - p) / 6400)

# %% [markdown]
# ## 6. DropBlock: contiguous regions
#
# DropBlock (Ghiasi, Lin, Le, 2018) sits between the two: it drops `block_size` $\times$ `block_size` squares.
# `block_size = 1` is dropout, a block covering the whole map is SpatialDropout. Per feature map
# (Algorithm 1 of the paper, in training mode only):
#
# 1. sample seeds $M_{ij}\sim\mathrm{Bernoulli}(\gamma)$, only at positions where the whole block fits in the map;
# 2. for every seed, zero the block around it;
# 3. apply $A\leftarrow A\odot M\cdot\frac{\mathrm{count}(M)}{\mathrm{count\_ones}(M)}$ (normalise by the
#    fraction actually kept).
#
# **Deriving $\gamma$.** We want, on an $f\times f$ map with block size $b$, a drop rate of $1-\text{keep\_prob}$,
# i.e. $(1-\text{keep\_prob})f^2$ dropped units on average. Seeds can only sit at $(f-b+1)^2$ positions, and each
# seed drops $b^2$ units, so if blocks never overlapped the expected number of dropped units would be
# $\gamma(f-b+1)^2b^2$. Equating the two:
#
# $$\gamma = \frac{1-\text{keep\_prob}}{b^2}\cdot\frac{f^2}{(f-b+1)^2}.$$
#
# **Why it is only approximate.** Blocks overlap, and a unit covered by two blocks is dropped once, not twice.
# The exact probability that unit $(i,j)$ is dropped is $1-(1-\gamma)^{k(i,j)}$, where $k(i,j)\le b^2$ counts the
# seed positions whose block covers it (fewer near the border: corners are covered by a single position).
# So the real drop rate $\frac{1}{f^2}\sum_{ij}\big(1-(1-\gamma)^{k(i,j)}\big)$ is a little **below**
# $1-\text{keep\_prob}$, and the border is dropped less often than the centre.

# %%
print(" keep_prob  block  feat    gamma    1-keep   exact E[rate]   measured   |z|")
for kp, bs, f in ((0.9, 3, 14), (0.9, 7, 14), (0.8, 5, 16), (0.75, 3, 7), (0.9, 1, 10), (0.9, 10, 10)):
    m = D.dropblock_mask((200, 16, f, f), kp, bs, rng(19))
    exact = D.expected_dropblock_rate(kp, bs, f)
    measured = np.mean(m == 0)
    per_map = (m == 0).reshape(3200, -1).mean(axis=1)
    z = abs(measured - exact) / (per_map.std() / np.sqrt(3200))
    print(
        f"{kp:9.2f} {bs:6d} {f:5d} {D.dropblock_gamma(kp, bs, f):8.4f} {1 - kp:8.3f} {exact:12.4f} {measured:11.4f} {z:6.2f}"
    )
    assert z < 6

# %% [markdown]
# Per-pixel drop frequencies against the exact $1-(1-\gamma)^{k(i,j)}$ (left), and the paper's **scheduled**
# keep_prob (right): a small keep_prob from the first step hurts learning, so keep_prob falls linearly from
# 1 to the target over training.

# %%
kp, bs, f = 0.8, 4, 10
m = D.dropblock_mask((2000, 8, f, f), kp, bs, rng(20))
freq = np.mean(m == 0, axis=(0, 1))
gamma = D.dropblock_gamma(kp, bs, f)
cover = np.array([[min(i, f - bs) - max(0, i - bs + 1) + 1 for i in range(f)]])
exact = 1 - (1 - gamma) ** (cover.T @ cover)
print("max |measured - exact| per pixel:", np.abs(freq - exact).max().round(4))
fig, axes = plt.subplots(1, 3, figsize=(10, 3))
for ax, img, title in ((axes[0], freq, "measured P(drop)"), (axes[1], exact, "exact 1-(1-gamma)^k")):
    im = ax.imshow(img, vmin=0, vmax=exact.max())
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
steps = np.arange(0, 120)
axes[2].plot(steps, [D.keep_prob_schedule(s, 100, 0.85) for s in steps])
axes[2].set_xlabel("training step")
axes[2].set_ylabel("keep_prob")
axes[2].set_title("schedule to 0.85", fontsize=9)
plt.show()

# %%
x = rng(21).normal(size=(3, 2, 7, 7))
out, cache = D.dropblock_forward(x, 0.8, 3, "train", rng(22))
mask = D.dropblock_mask(x.shape, 0.8, 3, rng(22))
print(
    "normalisation count(M)/count_ones(M) =",
    mask.size / mask.sum(),
    "; out == x*M*that:",
    np.allclose(out, x * mask * mask.size / mask.sum()),
)
dout = rng(23).normal(size=x.shape)
rep = check_gradient(
    lambda v: D.dropblock_forward(v, 0.8, 3, "train", rng(22))[0], x, D.dropblock_backward(dout, cache), dout
)
print(rep)
assert rep.ok

# %% [markdown]
# ### Mask viewer
# Pick a layer, move keep_prob and block_size. The bars compare the target $1-\text{keep\_prob}$ with the rate
# measured on $32\times16$ maps of $16\times16$ and, for DropBlock, with the exact expectation. Try a large
# block_size: the gap between target and exact grows with the overlaps.

# %%
from deepkit.viz.regularization import masks_explorer as mask_explorer

mask_explorer()

# %% [markdown]
# ## 7. Early stopping
#
# Training longer fits the training set better, but past some epoch the validation loss starts to rise
# (training slope negative, validation slope positive): the network is memorising. Early stopping keeps a copy
# of the parameters at the best validation epoch and stops after `patience` epochs without an improvement
# larger than `min_delta`. It costs nothing and needs no change to the loss. Below: a 64-256-10 MLP on only
# 300 digits; then why stopping early is a form of L2 regularization.

# %%
split = data.load_digits(seed=0)
torch.manual_seed(0)
X, y = t64(split.X_train[:300]), torch.tensor(split.y_train[:300])
Xv, yv = t64(split.X_val), torch.tensor(split.y_val)
model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)).double()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
stopper = ES.EarlyStopping(patience=15, min_delta=1e-4)
train_curve, val_curve = [], []
for epoch in range(400):
    model.train()
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(X), y)
    loss.backward()
    opt.step()
    model.eval()
    with torch.no_grad():
        val = torch.nn.functional.cross_entropy(model(Xv), yv).item()
    train_curve.append(loss.item())
    val_curve.append(val)
    if stopper.step(val, {k: v.clone() for k, v in model.state_dict().items()}):
        break
print(f"stopped after epoch {stopper.epoch}; best epoch {stopper.best_epoch} with val loss {stopper.best:.4f}")
model.load_state_dict(stopper.best_params)
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(train_curve, label="train")
ax.plot(val_curve, label="validation")
ax.axvline(stopper.best_epoch, color="k", ls=":", label="best epoch (restored)")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("cross-entropy")
ax.legend()
plt.show()
assert stopper.epoch == stopper.best_epoch + 15

# %% [markdown]
# **Early stopping is approximately L2 with $\lambda \approx 1/(\eta t)$.** Take a quadratic loss
# $J(w) = \frac12(w-w^*)^\top H(w-w^*)$ and gradient descent with step $\eta$ from $w_0 = 0$:
# $w_t - w^* = (I-\eta H)(w_{t-1} - w^*)$, so $w_t = \big(I - (I-\eta H)^t\big)w^*$. The L2-penalized minimum of
# $J + \frac\lambda2\|w\|^2$ is $w_\lambda = (H+\lambda I)^{-1}Hw^*$. Along an eigenvector of $H$ with eigenvalue
# $h$, both keep a fraction of $w^*$:
#
# $$\text{early stopping: } 1 - (1-\eta h)^t \approx 1 - e^{-\eta h t}, \qquad \text{L2: } \frac{h}{h+\lambda} .$$
#
# Directions with $h \gg 1/(\eta t)$ are fully learned by both; for $h \ll 1/(\eta t)$ early stopping keeps
# $\approx \eta h t$ and L2 keeps $\approx h/\lambda$: the same when $\lambda = 1/(\eta t)$. Stopping after $t$
# steps acts like a penalty that weakens as $t$ grows. Numbers: gradient descent on a least-squares problem whose
# Hessian has eigenvalues from $10^{-3}$ to $10$, against the ridge solution with $\lambda = 1/(\eta t)$:

# %%
r7 = rng(70)
Q = np.linalg.qr(r7.normal(size=(12, 12)))[0]
eigs = np.logspace(-3, 1, 12)
H, w_star, eta = Q @ np.diag(eigs) @ Q.T, r7.normal(size=12), 0.05
w_gd, done = np.zeros(12), 0
print(f"{'steps t':>8} {'lambda = 1/(eta t)':>19} {'|w_gd - w_ridge| / |w*|':>24} {'|w_gd| / |w*|':>14}")
for t in (20, 200, 2000):
    for _ in range(t - done):
        w_gd -= eta * H @ (w_gd - w_star)
    done = t
    lam_t = 1 / (eta * t)
    w_ridge = np.linalg.solve(H + lam_t * np.eye(12), H @ w_star)
    closed = Q @ ((1 - (1 - eta * eigs) ** t) * (Q.T @ w_star))  # the formula above
    gap = np.linalg.norm(w_gd - w_ridge) / np.linalg.norm(w_star)
    print(f"{t:8d} {lam_t:19.4f} {gap:24.3f} {np.linalg.norm(w_gd) / np.linalg.norm(w_star):14.3f}")
    assert np.allclose(w_gd, closed, atol=1e-10) and gap < 0.15
s_grid = np.logspace(-2, 2, 9)  # eta h t
print("kept fraction, early stopping 1 - exp(-s):", (1 - np.exp(-s_grid)).round(3))
print("kept fraction, L2 s / (1 + s):           ", (s_grid / (1 + s_grid)).round(3))
assert np.abs((1 - np.exp(-s_grid)) - s_grid / (1 + s_grid)).max() < 0.21

# %% [markdown]
# ## 8. Data augmentation and noise injection
#
# The best regularizer is more data. When we know transformations that do not change the label (small
# shifts, crops, flips, colour jitter for images; synonyms or back-translation for text) we can create new
# training examples: **data augmentation**. **Noise injection** is its generic cousin: add small Gaussian
# noise to the inputs, to hidden units, or to the weights. Dropout itself is multiplicative Bernoulli noise.
#
# **Input noise is L2 for a linear model.** With $\epsilon$ of mean 0 and covariance $\sigma^2 I$,
# $\mathbb E_\epsilon\big(w^\top(x+\epsilon)-y\big)^2 = (w^\top x-y)^2 + 2(w^\top x - y)\,w^\top\mathbb E\epsilon +
# \mathbb E(w^\top\epsilon)^2 = (w^\top x-y)^2 + \sigma^2\|w\|^2$. Summed over $N$ examples, least squares on noisy
# inputs minimizes, on average, $\|Xw-y\|^2 + N\sigma^2\|w\|^2$: ridge regression with $\lambda = N\sigma^2$.
# Checked: the expected noisy loss by Monte Carlo, and least squares on many noisy copies of a small data set
# against the ridge solution.

# %%
r8 = rng(80)
N8, D8, sig = 40, 5, 0.5
X8 = r8.normal(size=(N8, D8))
y8 = X8 @ r8.normal(size=D8) + 0.3 * r8.normal(size=N8)
w8 = r8.normal(size=D8)
noisy = ((X8[None] + sig * r8.normal(size=(20_000, N8, D8))) @ w8 - y8) ** 2  # (draws, N)
expected = np.mean((X8 @ w8 - y8) ** 2) + sig**2 * w8 @ w8
se = noisy.mean(axis=1).std() / np.sqrt(len(noisy))
print(f"E[(w^T(x+eps) - y)^2] = {noisy.mean():.4f} +- {se:.4f}; clean loss + sigma^2 |w|^2 = {expected:.4f}")
assert abs(noisy.mean() - expected) < 6 * se
K8 = 400
X_copies = (X8[None] + sig * r8.normal(size=(K8, N8, D8))).reshape(-1, D8)
w_noise = np.linalg.lstsq(X_copies, np.tile(y8, K8), rcond=None)[0]
w_ridge8 = np.linalg.solve(X8.T @ X8 + N8 * sig**2 * np.eye(D8), X8.T @ y8)
w_ls = np.linalg.lstsq(X8, y8, rcond=None)[0]
print(
    f"least squares on {K8} noisy copies vs ridge (lambda = N sigma^2): relative difference "
    f"{np.linalg.norm(w_noise - w_ridge8) / np.linalg.norm(w_ridge8):.3f}; vs plain least squares "
    f"{np.linalg.norm(w_noise - w_ls) / np.linalg.norm(w_ls):.3f}"
)
assert np.linalg.norm(w_noise - w_ridge8) < 0.05 * np.linalg.norm(w_ridge8) < np.linalg.norm(w_noise - w_ls)

# %% [markdown]
# The same trade on real data (150 digits, the NumPy MLP of this topic's playground): copies shifted by one
# pixel (augmentation) or with Gaussian pixel noise, tested on clean, shifted and noisy digits.

# %%
Xs, ys = split.X_train[:150], split.y_train[:150]


def shifted(X, dy, dx):
    return np.roll(np.roll(X.reshape(-1, 8, 8), dy, axis=1), dx, axis=2).reshape(len(X), 64)


shifts = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]
g = rng(24)
X_aug = np.concatenate([shifted(Xs, *s) for s in shifts])
y_aug = np.tile(ys, len(shifts))
X_noise = np.concatenate([Xs] + [Xs + g.normal(scale=0.3, size=Xs.shape) for _ in range(4)])
y_noise = np.tile(ys, 5)
# three test sets: as is, every digit shifted by one pixel, Gaussian pixel noise
k = g.integers(1, 5, size=len(split.X_test))
tests = {
    "clean": split.X_test,
    "shifted 1 px": np.stack([shifted(x[None], *shifts[j])[0] for x, j in zip(split.X_test, k)]),
    "noisy": split.X_test + g.normal(scale=0.3, size=split.X_test.shape),
}
print(f"{'training set':24s}" + "".join(f"{name:>14s}" for name in tests))
for name, (Xt, yt) in {
    "plain (150 digits)": (Xs, ys),
    "+ shifted copies (x5)": (X_aug, y_aug),
    "+ noisy copies (x5)": (X_noise, y_noise),
}.items():
    net = pg.train_mlp(Xt, yt, hidden=(64,), steps=200, lr=0.01)
    print(f"{name:24s}" + "".join(f"{net.accuracy(X, split.y_test):14.3f}" for X in tests.values()))

# %% [markdown]
# On clean, centred test digits the extra copies change little; on shifted digits the shift-augmented
# network is far better: augmentation teaches exactly the invariance you augment for (and nothing else: it
# does not help with noise, while noise injection does a little).

# %% [markdown]
# ## 9. Ensembles: why the average beats a random member
#
# Train $K$ models $f_1,\dots,f_K$ (different seeds, data subsets or hyper-parameters) and predict with
# $\bar f = \frac1K\sum_k f_k$. For the squared error there is an exact identity (the *ambiguity
# decomposition*):
#
# $$\underbrace{\frac1K\sum_k (f_k-y)^2}_{\text{random member}} = \underbrace{(\bar f-y)^2}_{\text{ensemble}} +
# \underbrace{\frac1K\sum_k (f_k-\bar f)^2}_{\text{disagreement}\ \ge 0}.$$
#
# So the ensemble is never worse than a random member, and it gains exactly as much as the members disagree.
# For any convex loss (cross-entropy of averaged probabilities too) Jensen's inequality gives the same
# conclusion: $\ell(\bar f)\le\frac1K\sum_k\ell(f_k)$.
#
# **How much averaging helps.** If the members' errors $e_k$ have variance $v$ and pairwise correlation $\rho$,
# $\mathrm{Var}\big(\frac1K\sum_k e_k\big) = \frac1{K^2}\big(Kv + K(K-1)\rho v\big) = \rho v + \frac{1-\rho}{K}v$:
# independent errors average away, shared errors do not, and no number of members gets below $\rho v$. Dropout
# trains an implicit ensemble of $2^n$ weight-sharing networks. A Monte Carlo check of the formula (errors built
# as $\sqrt\rho\,z_0 + \sqrt{1-\rho}\,z_k$), then the identity above on five real networks:

# %%
r9 = rng(90)
print(f"{'rho':>4} {'K':>3} {'Var(mean error)':>16} {'rho v + (1-rho) v / K':>22}")
for rho in (0.0, 0.3, 0.8):
    for K in (1, 5, 25):
        e = np.sqrt(rho) * r9.normal(size=(100_000, 1)) + np.sqrt(1 - rho) * r9.normal(size=(100_000, K))  # v = 1
        measured, formula = e.mean(axis=1).var(), rho + (1 - rho) / K
        print(f"{rho:4.1f} {K:3d} {measured:16.4f} {formula:22.4f}")
        assert abs(measured - formula) < 6 * formula * np.sqrt(2 / 100_000)

# %%
Xtr, ytr, Xte, yte = pg.moons_data()
members = [pg.train_mlp(Xtr, ytr, hidden=(64, 64), steps=300, lr=0.02, seed=s) for s in range(5)]
probs = np.stack([m.predict_proba(Xte)[:, 1] for m in members])  # (K, N)
y1 = (yte == 1).astype(float)
member_se = np.mean((probs - y1) ** 2, axis=1)
ens_se = np.mean((probs.mean(0) - y1) ** 2)
disagreement = np.mean((probs - probs.mean(0)) ** 2)
print("squared error: members", member_se.round(4), " mean", member_se.mean().round(4))
print(f"ensemble {ens_se:.4f} + disagreement {disagreement:.4f} = {ens_se + disagreement:.4f}")
assert np.isclose(member_se.mean(), ens_se + disagreement)
ce = lambda q: -np.mean(y1 * np.log(q + 1e-12) + (1 - y1) * np.log(1 - q + 1e-12))
print(f"cross-entropy: mean member {np.mean([ce(q) for q in probs]):.4f}, ensemble {ce(probs.mean(0)):.4f}")
print(
    f"accuracy: mean member {np.mean([(q > 0.5) == yte for q in probs]):.4f}, ensemble {np.mean((probs.mean(0) > 0.5) == yte):.4f}"
)
assert ce(probs.mean(0)) <= np.mean([ce(q) for q in probs])

# %% [markdown]
# ## 10. Comparing regularizers: the classic tables, at small scale
#
# The slides report experiments on relation extraction (CNN, SemEval-2010) and sentiment analysis
# (recursive nets, Stanford treebank): L2 on the weights helps generalization; an L2 penalty on the **word
# embeddings** helps too (and even helps optimization); their combination beats either alone by 3-4 points,
# with a "compensatory" diagonal (more of one needs less of the other); dropout helps, is not very sensitive
# below $p\approx0.5$, and too much of anything collapses the accuracy.
#
# We rebuild that setting in miniature (seconds, offline): a synthetic bag-of-words task with 400 words, 4
# classes whose keyword sets overlap pairwise, 300 training documents of 25 words. The model averages 16-d word
# embeddings (a linear layer on word frequencies, no bias), then ReLU(32) with dropout, then softmax; we
# penalise the embeddings (`lam_embed`) and the other weights (`lam_w`) separately with `l2_penalty`. Each
# cell is the test accuracy (%) on 3,000 documents after 150 full-batch Adam steps from one seed (seed 0: 34
# trainings, a few seconds; with another seed most cells move by a few points and cells on the edge of a
# collapse by far more, so read the shape of the tables, not single numbers). The same numbers are stored in
# `docs/results/05_tables.md`.

# %%
t0 = time.perf_counter()
tables = pg.comparison_tables()
from IPython.display import Markdown, display

display(Markdown(pg.markdown_tables(tables)))
we = tables["weights_x_embed"]
dw, de = tables["dropout_x_weights"], tables["dropout_x_embed"]
print(
    f"computed in {time.perf_counter() - t0:.1f} s; no regularization {we[0, 0]:.1f} %, best single L2 "
    f"{max(we[0].max(), we[:, 0].max()):.1f} %, best combination {we.max():.1f} %"
)
# the conclusions read below, checked on these numbers
assert we[0, 0] < we[0, 1:].max() and we[0, 0] < we[1:, 0].max()  # each penalty alone helps
assert we.max() > max(we[0].max(), we[:, 0].max())  # the combination is best
assert we[-1, -1] < 30  # too much of both: near chance
assert dw[1:-1].max() > dw[0].max() and dw[-1].min() < dw[1:-1].min()  # moderate dropout helps, 0.8 hurts
assert de.max() < we[1:, 0].max() + 1  # little on top of a tuned L2

# %% [markdown]
# What to read in the tables (compare with the slides' Table 1 and the dropout table):
#
# * the unregularized model (top-left) memorises rare words and is the worst cell except the collapsed ones;
# * each penalty alone helps; the embedding penalty is the more effective one here, because the embeddings
#   hold most of the parameters and all the rare-word memorisation;
# * combining them helps a little more, and along the anti-diagonal the two strengths compensate;
# * too much penalty (bottom-right) makes the model underfit and the accuracy collapses to near chance (25 %),
#   like the 16.5 % cells of the slides;
# * dropout helps as long as the rate is moderate, and adds little on top of a well-tuned L2.
#
# Numbers depend on the seed and on this toy task; the *shape* of the tables is the point.

# %% [markdown]
# ## 11. $L_p$ penalties: decay for $p > 1$, sparsity for $p < 1$; and a penalty switched on mid-training
#
# The source notes write the general weight penalty $\lambda\sum_j\|W_j\|_p^p = \lambda\sum_i|w_i|^p$ (their
# $\Omega(\alpha)$ on that line is carried over from the alpha-conv slide: the penalty is on $W$) and say: for
# $p > 1$ it is a convex function ("突函数" is a typo for 凸函数, convex) and acts as weight decay; for $p < 1$
# it sparsifies, pushing weights to zero. Both statements follow from the gradient,
# $\partial/\partial w\,\lambda|w|^p = \lambda p|w|^{p-1}\mathrm{sign}(w)$ (`regularizers.lp_penalty`, graded):
#
# * $p > 1$: the pull towards 0 is proportional to $|w|^{p-1}$ and vanishes as $w \to 0$. Weights shrink but
#   never reach 0; for $p = 2$ one gradient step multiplies them by $1 - 2\eta\lambda$ (weight decay).
# * $p = 1$: a constant pull $\lambda$: weights smaller than the data's pull are set to exactly 0 (soft
#   thresholding, section 1).
# * $p < 1$: the pull grows without bound as $w \to 0$, and $|w|^p$ is concave on each side of 0 (not convex):
#   the penalized problem jumps. In one dimension, $\min_w \frac12(w-a)^2 + \lambda|w|^p$ is exactly 0 for
#   $|a|$ below a threshold and then jumps to a clearly non-zero value (for $p = \frac12$ the threshold is
#   $\frac32\lambda^{2/3}$): small weights are removed, large ones hardly shrunk.
#
# The 1-D minimizers by brute force on a fine grid (the non-convex case needs a global search):

# %%
lam11, a_grid = 0.5, np.linspace(0.0, 2.0, 9)
wgrid = np.linspace(-3, 3, 60_001)


def prox_lp(a, p, lam=lam11):
    # global minimizer of (w - a)^2 / 2 + lam |w|^p on the grid
    return wgrid[np.argmin(0.5 * (wgrid - a) ** 2 + lam * np.abs(wgrid) ** p)]


print("a          ", a_grid.round(2))
minimizers = {}
for p_ in (2.0, 1.0, 0.5):
    minimizers[p_] = np.array([prox_lp(a, p_) for a in a_grid])
    print(f"p = {p_:3.1f}    ", minimizers[p_].round(3))
assert np.allclose(minimizers[2.0], a_grid / (1 + 2 * lam11), atol=1e-4)  # p = 2: shrink by 1 / (1 + 2 lam)
assert np.allclose(minimizers[1.0], np.maximum(a_grid - lam11, 0), atol=1e-4)  # p = 1: soft threshold
threshold = 1.5 * lam11 ** (2 / 3)
assert np.all(minimizers[0.5][a_grid < threshold - 0.01] == 0)
assert np.all(minimizers[0.5][a_grid > threshold + 0.01] > 0.6 * threshold)  # a jump, not a slow start
w11 = rng(110).normal(size=(3, 4))
w11[0, 0] = 0.0
for p_ in (0.5, 3.0):
    v11, g11 = R.lp_penalty(w11, 0.3, p_)
    tw = t64(w11, True)
    (0.3 * tw.abs() ** p_).sum().backward()
    finite = np.isfinite(tw.grad.numpy())  # torch: |w|^(p-1) is infinite at 0 for p < 1 (we use 0 there)
    assert rel_error(g11[finite], tw.grad.numpy()[finite]) < 1e-12 and g11[0, 0] == 0.0
print("lp_penalty vs torch autograd (away from 0): OK; at w = 0 the gradient is 0")

# %% [markdown]
# **A penalty switched on mid-training.** The source notes report an experiment in which the L2 penalty is added
# only after some epochs: (a) the final validation accuracy is about the same whenever the penalty is switched on
# ("L2 regularization mainly serves as a local effect"), and (b) once it is on, the test accuracy rises at once,
# while the training accuracy first drops and then recovers. We rerun it on the text task of section 10 (the
# same model; Adam; the penalty $\lambda\sum|W|^2$ with $\lambda = 3\cdot10^{-3}$ on every weight matrix, from
# `lp_penalty` with $p = 2$), switched on at step 0, 60, 120 or never, and once more with $p = \frac12$.

# %%
t11 = time.perf_counter()
inc = pg.incremental_penalty(switch_steps=(0, 60, 120, None), lam=3e-3, p=2.0, steps=240)
sparse = pg.incremental_penalty(switch_steps=(0,), lam=1e-3, p=0.5, steps=240)
k11 = list(inc["steps"])
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
for s_on, color in zip((0, 60, 120, None), ("C0", "C1", "C2", "0.5")):
    label = "never" if s_on is None else f"from step {s_on}"
    axes[0].plot(inc["steps"], inc[s_on]["test"], color=color, label=label)
    axes[1].plot(inc["steps"], inc[s_on]["train"], color=color)
for ax, title in zip(axes, ("test accuracy (%)", "training accuracy (%)")):
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("step")
axes[0].legend(fontsize=8)
plt.show()
finals = {s_on: inc[s_on]["test"][-1] for s_on in (0, 60, 120, None)}
print("final test accuracy:", {("never" if k is None else k): round(float(v), 1) for k, v in finals.items()})
for s_on in (60, 120):
    i = k11.index(s_on)
    print(
        f"switched on at {s_on}: test {inc[s_on]['test'][i]:.1f} -> {inc[s_on]['test'][i + 4]:.1f} after 20 steps; "
        f"train {inc[s_on]['train'][i]:.1f} -> lowest {inc[s_on]['train'][i:].min():.1f} -> final {inc[s_on]['train'][-1]:.1f}"
    )
    assert inc[s_on]["test"][i + 4] > inc[s_on]["test"][i] + 5  # (b) the test accuracy rises at once ...
    assert inc[s_on]["train"][i:].min() < inc[s_on]["train"][i] - 3 < inc[s_on]["train"][-1]  # ... training dips
penalized = [finals[0], finals[60], finals[120]]
assert max(penalized) - min(penalized) < 2 and min(penalized) > finals[None] + 5  # (a) whenever it is switched on
E2, E05 = inc[0]["W"][0], sparse[0]["W"][0]
small = {name: float(np.mean(np.abs(E) < 0.01)) for name, E in (("p = 2", E2), ("p = 1/2", E05))}
print(f"embedding weights below 0.01 in magnitude: {small}; test accuracy with p = 1/2: {sparse[0]['test'][-1]:.1f}")
assert small["p = 1/2"] > 1.5 * small["p = 2"]
print(f"({time.perf_counter() - t11:.1f} s)")

# %% [markdown]
# Reading it: the penalty does its work in the last stretch of training, whenever it starts (the curves switched
# on at 60 and 120 catch up with the one penalized from the start), which is what the notes mean by a local
# effect. And $p = \frac12$ leaves many more embedding weights near zero than $p = 2$. They are not exactly 0:
# a gradient method (here Adam, which also rescales the penalty's gradient) only approaches the kink; exact
# zeros need a proximal step, the thresholding of the 1-D problem above, applied after each update.

# %% [markdown]
# ## 12. Playground: L2 and dropout on a 2-D problem
#
# A 2-64-64-2 ReLU network on 50 noisy "moons" points (the TensorFlow Playground experiment of the slides).
# Without regularization the boundary wraps around individual noisy points; weight decay shrinks the weights
# and smooths the boundary; too much of it underfits. Dropout smooths it differently (an average of thinned
# networks). All 15 settings are trained once when the widget is created (a few seconds) and cached, so
# every slider move only redraws.

# %%
from deepkit.viz.regularization import explorer as playground

playground()

# %% [markdown]
# ## Common mistakes
#
# * **Forgetting `model.eval()`** at validation/test time: dropout keeps dropping, predictions are noisy and
#   worse. Forgetting `model.train()` afterwards silently switches dropout off for the rest of training.
# * **Mixing the conventions**: non-inverted dropout in training with an inverted-dropout test path (or vice
#   versa) makes test activations $1/q$ times too large or small. And `p` is the *drop* probability in
#   PyTorch but the *keep* probability in the original paper and in DropBlock's `keep_prob`.
# * **L2 with Adam is not weight decay**: `Adam(weight_decay=...)` adds $\lambda w$ to the gradient, which
#   Adam then rescales; use `AdamW` for decoupled decay.
# * **Penalising biases and normalization parameters**: usually pointless, sometimes harmful.
# * **DropBlock without the gamma correction** (`gamma = 1 - keep_prob`, or without the
#   $f^2/(f-b+1)^2$ factor) drops far too much or too little, and sampling seeds where the block does not
#   fit clips blocks at the border.
# * **Early stopping on the test set**: the stopping epoch is a hyper-parameter; choose it on validation
#   data, and remember to restore the best parameters, not the last ones.
# * **SpatialDropout implemented per pixel**: it is then just dropout, which does little on conv features.

# %%
print(f"lecture ran in {time.perf_counter() - T0:.1f} s")
