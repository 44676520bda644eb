# %% [markdown]
# # Lecture 04: batch normalization and layer normalization
#
# Deep networks train badly when the scale of the signal drifts from layer to layer. **Batch normalization**
# (BN; Ioffe and Szegedy, 2015) standardizes every feature with the statistics of the current mini-batch and
# then lets the network rescale it with two learned parameters. **Layer normalization** (LN; Ba, Kiros and
# Hinton, 2016) does the same with the statistics of each example on its own.
#
# Plan: the motivation as the BN paper states it (and what later work found), the forward pass, the backward
# pass derived node by node through the computation graph and then simplified to a closed form, running
# statistics and inference, folding BN into the preceding layer, spatial BN for images, `model.train()` /
# `model.eval()` in PyTorch, and layer normalization. Every formula is checked against PyTorch autograd in
# float64 and against finite differences; the code is the course's reference `deepkit.norm`.

# %%
import _course  # puts the reference deepkit (reference/) on the path; inline figures; float64 printing
import numpy as np

# %%
import time
import timeit

import torch
import torch.nn.functional as F

from deepkit import norm
from deepkit.gradcheck import check_gradient, rel_error

torch.set_default_dtype(torch.float64)
T0 = time.perf_counter()
rng = np.random.default_rng(0)


def tt(a, grad=False):
    # a float64 torch tensor (with requires_grad when grad=True)
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# %% [markdown]
# ## 1. Why normalize? Internal covariate shift, as the paper states it
#
# Ioffe and Szegedy define **internal covariate shift** as *the change in the distribution of network
# activations due to the change in network parameters during training*. Each layer's input is the previous
# layer's output, so when the earlier layers' weights change, every later layer sees inputs from a moving
# distribution and "needs to continuously adapt" to it; small parameter changes are amplified with depth.
# With saturating nonlinearities such as the sigmoid $g(x) = 1/(1+e^{-x})$ (note the minus sign), inputs that
# drift to large $|x|$ land where $g'(x) \approx 0$ and the gradient vanishes. The paper's remedy: fix the mean
# and variance of each layer input, *inside* the network, so that the gradient accounts for the normalization
# (normalizing outside the gradient step made their models blow up). Its claimed benefits: higher learning
# rates, less sensitivity to initialization, trainable saturating nonlinearities, and a regularizing effect
# (the batch statistics are noisy) that reduces the need for dropout.
#
# **A short, honest note on later evidence.** The benefits are real; the explanation is disputed.
# Santurkar et al. (2018, *How does batch normalization help optimization?*) trained networks with BN
# followed by deliberately injected, time-varying noise (so the layer inputs' distributions kept shifting)
# and they trained as well as plain BN networks; measured in terms of how much a layer's gradient changes when
# earlier layers update, BN did not reduce "covariate shift". Their evidence points instead to a smoother
# loss landscape (the loss and its gradient change more slowly along the gradient direction), which is what
# allows the larger learning rates. Other work stresses that BN makes a layer's output invariant to the scale
# of its weights (section 5). So treat "reduces internal covariate shift" as the paper's motivation, not as the
# established mechanism.
#
# *Notes on the source notes.* (1) The sigmoid is $1/(1+e^{-x})$, not $1/(1+e^{x})$. (2) The notes motivate
# BN by generalization: if the distribution of a layer's inputs drifts during training, the network generalizes
# worse. The paper's covariate-shift argument is about *training* (speed, saturation, learning rates); its
# generalization claim is a separate one, argued by analogy with dropout and backed by experiments: a training
# example is seen together with random batch-mates, so the network no longer gives it a deterministic output,
# which they "found to be advantageous to the generalization" and which let them reduce or remove dropout. So
# BN does regularize, by the paper's own account, through batch noise rather than through fixed distributions.
# (3) The notes' inference variance $\mathrm{Var}[x] \leftarrow \frac{m}{m-1}\,\mathbb{E}_B[\sigma_B^2]$ is the
# paper's, and it is right: it is the unbiased estimate of the population variance from the batch variances.
# PyTorch computes a different estimate of the same quantity, an exponential moving average of unbiased batch
# variances during training; section 6 derives the first and compares the two with numbers.

# %% [markdown]
# ## 2. The forward pass
#
# For a mini-batch $x \in \mathbb{R}^{m\times D}$ (here $m = N$ rows), independently for every feature
# (column) $j$:
#
# $$\mu_j = \frac1m\sum_{i=1}^m x_{ij}, \qquad \sigma_j^2 = \frac1m\sum_{i=1}^m (x_{ij}-\mu_j)^2, \qquad
#   \hat x_{ij} = \frac{x_{ij}-\mu_j}{\sqrt{\sigma_j^2+\epsilon}}, \qquad y_{ij} = \gamma_j \hat x_{ij} + \beta_j .$$
#
# The variance is the **biased** one (divide by $m$). $\gamma$ and $\beta$ are learned; with
# $\gamma = \sqrt{\sigma^2+\epsilon}$ and $\beta = \mu$ the layer can undo the normalization, so it never
# reduces what the network can represent. The paper normalizes each feature separately rather than whitening
# them jointly (a full covariance is expensive and singular when $m < D$).

# %%
x = rng.normal(loc=[5.0, -2.0, 0.0], scale=[3.0, 0.5, 1.0], size=(8, 3))
gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.0, -1.0])
bn_param = {"mode": "train", "momentum": 0.1, "eps": 1e-5}
out, cache = norm.batchnorm_forward(x, gamma, beta, bn_param)
print("column means of out:", out.mean(axis=0), " (beta =", beta, ")")
print("column stds  of out:", out.std(axis=0), " (gamma =", gamma, ")")

ref = F.batch_norm(tt(x), torch.zeros(3), torch.ones(3), tt(gamma), tt(beta), training=True, momentum=0.1, eps=1e-5)
err = np.abs(out - ref.numpy()).max()
print(f"max |deepkit - torch| = {err:.1e}")
assert err < 1e-12

# %% [markdown]
# ## 3. The backward pass, node by node through the computation graph
#
# Write the forward pass as a chain of simple nodes (per column; sums run over the batch $i = 1..m$):
#
# | node | forward | local derivative |
# |---|---|---|
# | 1 | $\mu = \frac1m \sum_i x_i$ | $\partial\mu/\partial x_i = 1/m$ |
# | 2 | $x_{c,i} = x_i - \mu$ | $1$ w.r.t. $x_i$, $-1$ w.r.t. $\mu$ |
# | 3 | $v = \frac1m\sum_i x_{c,i}^2$ | $2x_{c,i}/m$ |
# | 4 | $\sigma = \sqrt{v+\epsilon}$ | $1/(2\sigma)$ |
# | 5 | $s = 1/\sigma$ | $-1/\sigma^2$ |
# | 6 | $\hat x_i = x_{c,i}\, s$ | $s$ w.r.t. $x_{c,i}$, $x_{c,i}$ w.r.t. $s$ |
# | 7 | $y_i = \gamma \hat x_i + \beta$ | $\gamma$, $\hat x_i$, $1$ |
#
# Going backwards with upstream gradient $g_i = \partial L/\partial y_i$, every node multiplies by its local
# derivative and **sums over every path** (a variable used by several nodes collects one term per use):
#
# $$\frac{\partial L}{\partial\beta} = \sum_i g_i,\quad \frac{\partial L}{\partial\gamma} = \sum_i g_i\hat x_i,\quad
#   \frac{\partial L}{\partial \hat x_i} = \gamma g_i =: \hat g_i$$
# $$\frac{\partial L}{\partial s} = \sum_i \hat g_i\, x_{c,i},\quad
#   \frac{\partial L}{\partial \sigma} = -\frac{1}{\sigma^2}\frac{\partial L}{\partial s},\quad
#   \frac{\partial L}{\partial v} = \frac{1}{2\sigma}\frac{\partial L}{\partial \sigma}$$
# $$\frac{\partial L}{\partial x_{c,i}} = \hat g_i\, s + \frac{2 x_{c,i}}{m}\frac{\partial L}{\partial v}
#   \quad\text{(two paths: through } \hat x_i \text{ and through } v)$$
# $$\frac{\partial L}{\partial\mu} = -\sum_i \frac{\partial L}{\partial x_{c,i}},\qquad
#   \frac{\partial L}{\partial x_i} = \frac{\partial L}{\partial x_{c,i}} + \frac1m\frac{\partial L}{\partial\mu}
#   \quad\text{(two paths: direct and through } \mu).$$
#
# The paper (and the source notes) also route $\mu$ into $v$, which adds the term
# $\frac{\partial L}{\partial v}\cdot\frac{-2}{m}\sum_i x_{c,i}$ to $\partial L/\partial\mu$; it is exactly zero
# because centred values sum to zero. Forgetting the $\mu$ path (the "mean term") is the classic bug: the
# result is then wrong by $\gamma s\,\frac1m\sum_i g_i$ in every row.
# `norm.batchnorm_backward` implements exactly these lines.

# %%
dout = rng.normal(size=out.shape)
dx, dgamma, dbeta = norm.batchnorm_backward(dout, cache)

xt, gt, bt = tt(x, True), tt(gamma, True), tt(beta, True)
F.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5).backward(tt(dout))
for name, ours, theirs in [("dx", dx, xt.grad), ("dgamma", dgamma, gt.grad), ("dbeta", dbeta, bt.grad)]:
    e = rel_error(ours, theirs.numpy())
    print(f"graph backward vs torch autograd, {name}: relative error {e:.1e}")
    assert e < 1e-12

fwd = lambda v: norm.batchnorm_forward(v, gamma, beta, {"mode": "train"})[0]
report = check_gradient(fwd, x, dx, dout)
print(report)
assert report.ok

# %% [markdown]
# ## 4. The simplified closed form
#
# Substitute backwards. With $\hat g_i = \gamma g_i$ and $x_{c,i} = \sigma\hat x_i$:
# $\frac{\partial L}{\partial v} = -\frac{1}{2\sigma^3}\sum_j \hat g_j x_{c,j} = -\frac{1}{2\sigma^2}\sum_j\hat g_j\hat x_j$,
# so $\frac{\partial L}{\partial x_{c,i}} = \frac{1}{\sigma}\big(\hat g_i - \frac{\hat x_i}{m}\sum_j \hat g_j\hat x_j\big)$.
# Summing this over $i$ kills the second term ($\sum_i \hat x_i = 0$), so
# $\frac1m\frac{\partial L}{\partial\mu} = -\frac{1}{m\sigma}\sum_j \hat g_j$, and altogether
#
# $$\boxed{\;\frac{\partial L}{\partial x_i} = \frac{\gamma}{m\sqrt{\sigma^2+\epsilon}}
#   \Big(m\,g_i - \sum_j g_j - \hat x_i \sum_j g_j \hat x_j\Big)
#   = \frac{\gamma}{m\sqrt{\sigma^2+\epsilon}}\Big(m\,g_i - \frac{\partial L}{\partial\beta}
#     - \hat x_i\frac{\partial L}{\partial\gamma}\Big)\;}$$
#
# Read it as: the incoming gradient, minus its mean over the batch (BN's output does not change when a column
# is shifted), minus its projection on $\hat x$ (nor when it is rescaled). Both removed directions are
# exactly the ones the normalization makes invisible. The closed form reuses $\partial L/\partial\beta$ and
# $\partial L/\partial\gamma$ and needs no intermediate arrays.

# %%
dx_alt, dgamma_alt, dbeta_alt = norm.batchnorm_backward_alt(dout, cache)
for name, a, b in [("dx", dx_alt, dx), ("dgamma", dgamma_alt, dgamma), ("dbeta", dbeta_alt, dbeta)]:
    print(
        f"closed form vs graph, {name}: {rel_error(a, b):.1e};  vs torch: "
        f"{rel_error(a, {'dx': xt, 'dgamma': gt, 'dbeta': bt}[name].grad.numpy()):.1e}"
    )
assert rel_error(dx_alt, xt.grad.numpy()) < 1e-12
print("column sums of dx (shift invariance):", dx_alt.sum(axis=0))
assert np.allclose(dx_alt.sum(axis=0), 0)

# timing on a realistic layer: the same answer either way (the graph version needs more arrays)
xb, db_ = rng.normal(size=(256, 1024)), rng.normal(size=(256, 1024))
_, cb = norm.batchnorm_forward(xb, np.ones(1024), np.zeros(1024), {"mode": "train"})
t_graph = np.median(timeit.repeat(lambda: norm.batchnorm_backward(db_, cb), number=3, repeat=7)) / 3
t_alt = np.median(timeit.repeat(lambda: norm.batchnorm_backward_alt(db_, cb), number=3, repeat=7)) / 3
print(f"(256, 1024): graph {t_graph * 1e3:.2f} ms, closed form {t_alt * 1e3:.2f} ms -> {t_graph / t_alt:.1f}x")
assert rel_error(norm.batchnorm_backward(db_, cb)[0], norm.batchnorm_backward_alt(db_, cb)[0]) < 1e-12

# %% [markdown]
# ## 5. Scale invariance: $\mathrm{BN}(aWu) = \mathrm{BN}(Wu)$, and a gradient that shrinks as $1/a$
#
# Let a layer compute $z = uW$ for the batch $u$ ($m\times D_{in}$) and feed $z$ to BN. Multiply the weights
# of one unit (column $j$ of $W$) by $a > 0$: every $z_{ij}$ becomes $a z_{ij}$, the batch mean $a\mu_j$ and the
# variance $a^2\sigma_j^2$, so
#
# $$\hat z_{ij} = \frac{a z_{ij} - a\mu_j}{\sqrt{a^2\sigma_j^2 + \epsilon}} = \frac{z_{ij}-\mu_j}{\sqrt{\sigma_j^2 + \epsilon/a^2}}
#   \;\xrightarrow{\;\epsilon\to 0\;}\; \frac{z_{ij}-\mu_j}{\sigma_j} .$$
#
# With $\epsilon \ll \sigma^2$ the output, and so the loss, does not depend on the scale of the unit's weights:
# $L(aW) = L(W)$. Differentiate this identity.
#
# * With respect to $W$: $a\,\nabla L(aW) = \nabla L(W)$, so $\nabla L(aW) = \nabla L(W)/a$. Weights ten times
#   larger receive a gradient ten times smaller: the relative change of a step, $\eta\|\nabla L\|/\|W\|$,
#   falls as $1/a^2$.
# * With respect to $a$ at $a = 1$: $\langle W_{:j}, \nabla_{W_{:j}} L\rangle = 0$ for every unit. The gradient is
#   orthogonal to the weights, so a plain gradient step can only make them longer:
#   $\|W_{:j} - \eta g_j\|^2 = \|W_{:j}\|^2 + \eta^2\|g_j\|^2$.
#
# (This is the "invariance to the scale of the weights" of section 1's note; for the whole layer, with one $a$,
# the same holds.) Numbers, with deepkit's BN and its backward, and torch autograd for the gradient:

# %%
r5 = np.random.default_rng(5)
u5, W5 = r5.normal(size=(32, 10)), r5.normal(size=(10, 6))
g5, b5, up5 = r5.normal(size=6), r5.normal(size=6), r5.normal(size=(32, 6))  # up5 = dL/d(BN output)


def bn_layer(W, eps):
    """BN(u5 @ W) and dL/dW for the loss L = sum(BN(u5 @ W) * up5)."""
    out, c = norm.batchnorm_forward(u5 @ W, g5, b5, {"mode": "train", "eps": eps})
    return out, u5.T @ norm.batchnorm_backward_alt(up5, c)[0]


Wt = tt(W5, True)
(F.batch_norm(tt(u5) @ Wt, None, None, tt(g5), tt(b5), training=True, eps=1e-12) * tt(up5)).sum().backward()
out1, grad1 = bn_layer(W5, 1e-12)
assert rel_error(grad1, Wt.grad.numpy()) < 1e-10  # the gradient itself, against autograd
print(f"{'a':>5} {'eps':>7} | max|BN(aWu) - BN(Wu)|  rel. error of a * grad(aW) vs grad(W)")
for eps in (1e-12, 1e-5):
    out1, grad1 = bn_layer(W5, eps)
    for a in (0.1, 10.0):
        out_a, grad_a = bn_layer(a * W5, eps)
        print(f"{a:5g} {eps:7.0e} | {np.abs(out_a - out1).max():20.1e}  {rel_error(a * grad_a, grad1):.1e}")
        if eps == 1e-12:
            assert np.abs(out_a - out1).max() < 1e-9 and rel_error(a * grad_a, grad1) < 1e-9
out1, grad1 = bn_layer(W5, 1e-12)  # (eps -> 0: the exact invariance)
cosines = np.sum(W5 * grad1, axis=0) / (np.linalg.norm(W5, axis=0) * np.linalg.norm(grad1, axis=0))
print("cos(W_j, dL/dW_j) per unit:", cosines.round(12))
assert np.abs(cosines).max() < 1e-9
W_next = W5 - 0.5 * grad1  # one SGD step: every unit's weight vector gets longer by exactly eta^2 ||g||^2
growth = np.linalg.norm(W_next, axis=0) ** 2 - np.linalg.norm(W5, axis=0) ** 2
assert np.allclose(growth, 0.25 * np.linalg.norm(grad1, axis=0) ** 2)
print("||W_j||^2 after one step - before:", growth.round(4), "= eta^2 ||g_j||^2")

# %% [markdown]
# ## 6. Running statistics, the momentum convention, and inference
#
# At test time the output must depend on the example alone (a batch may hold one image), so BN keeps
# **running averages** of the batch statistics during training and uses them in eval mode:
#
# $$\hat x = \frac{x - \mathrm{running\_mean}}{\sqrt{\mathrm{running\_var} + \epsilon}}, \qquad y = \gamma\hat x + \beta .$$
#
# **Momentum: two conventions for the same update.**
#
# * PyTorch: `momentum=0.1` is the weight of the **new** value:
#   $\text{running} \leftarrow (1 - 0.1)\,\text{running} + 0.1\,\text{batch}$.
# * Keras/TensorFlow (and many papers and old code bases): `momentum=0.99` (or 0.9) is the weight of the
#   **old** value: $\text{running} \leftarrow 0.99\,\text{running} + 0.01\,\text{batch}$.
#
# So torch's `momentum=0.1` is Keras's `momentum=0.9`. Copying a number across frameworks without flipping
# it (0.9 in torch means "90% new value") gives running statistics that follow the last batch.
#
# **Unbiased variance.** For $m$ independent values with mean $\mu$ and variance $\sigma^2$, write
# $\sum_i (x_i-\bar x)^2 = \sum_i (x_i-\mu)^2 - m(\bar x-\mu)^2$. The first sum has expectation $m\sigma^2$, the
# second $m\cdot\sigma^2/m = \sigma^2$, so
#
# $$\mathbb{E}[\sigma_B^2] = \frac{m-1}{m}\,\sigma^2, \qquad \mathbb{E}\Big[\frac{m}{m-1}\sigma_B^2\Big] = \sigma^2 .$$
#
# The batch variance underestimates the population variance, by a factor 3/4 for $m = 4$. Two correct ways to
# turn batch variances into the variance used at inference:
#
# * **the paper** (Algorithm 2, after training, with the network frozen): average $\sigma_B^2$ over many
#   batches of the training set and multiply by $\frac{m}{m-1}$ (the source notes' formula);
# * **PyTorch** (during training, no extra pass): an exponential moving average of the unbiased
#   $\frac{m}{m-1}\sigma_B^2$, with weight `momentum` on the new batch.
#
# On data whose distribution does not move, both are unbiased. The average of $K$ batches has variance
# $\mathrm{Var}(s^2)/K$; the moving average keeps a variance of $\frac{\text{momentum}}{2-\text{momentum}}
# \mathrm{Var}(s^2)$ however long it runs (it remembers about $2/\text{momentum} - 1$ batches), with
# $\mathrm{Var}(s^2) = 2\sigma^4/(m-1)$ for Gaussian data. What the moving average buys is tracking: while the
# network trains, the distribution of a layer's inputs moves, and the average over the whole run lags behind.
# `deepkit.norm` follows torch (the train-mode normalization still divides by $m$).

# %%
sig2, m4, reps = 4.0, 4, 200_000
bv = rng.normal(0.0, 2.0, size=(reps, m4)).var(axis=1)  # biased batch variances of batches of 4
se = bv.std() / np.sqrt(reps)
print(f"E[sigma_B^2] = {bv.mean():.4f} +- {se:.4f}; (m-1)/m sigma^2 = {(m4 - 1) / m4 * sig2}; sigma^2 = {sig2}")
assert abs(bv.mean() - (m4 - 1) / m4 * sig2) < 6 * se and abs(bv.mean() - sig2) > 50 * se


def paper_and_ema(s2, momentum=0.1):
    """Population-variance estimates from unbiased batch variances s2 (R runs, K batches): the paper's
    average over the K batches, and torch's moving average (started at 1, like a fresh layer)."""
    ema = np.ones(len(s2))
    for k in range(s2.shape[1]):
        ema = (1 - momentum) * ema + momentum * s2[:, k]
    return s2.mean(axis=1), ema


def std_and_se(v):
    """Standard deviation of v and its standard error (from the fourth central moment)."""
    c = v - v.mean()
    var, m4th = np.mean(c**2), np.mean(c**4)
    return np.sqrt(var), 0.5 * np.sqrt((m4th - var**2) / len(v)) / np.sqrt(var)


R, K, mom = 2000, 400, 0.1
s2 = rng.normal(0.0, 2.0, size=(R, K, m4)).var(axis=2, ddof=1)  # stationary data, variance 4
paper, ema = paper_and_ema(s2, mom)
var_s2 = 2 * sig2**2 / (m4 - 1)
predicted = {"paper": np.sqrt(var_s2 / K), "EMA": np.sqrt(mom / (2 - mom) * var_s2)}
print(f"{'':5s} {'mean':>8s} {'std':>8s} {'predicted std':>14s}   over {R} runs of {K} batches")
for name, est in (("paper", paper), ("EMA", ema)):
    sd, sd_se = std_and_se(est)
    print(f"{name:5s} {est.mean():8.4f} {sd:8.4f} {predicted[name]:14.4f}")
    assert abs(est.mean() - sig2) < 6 * sd / np.sqrt(R) and abs(sd - predicted[name]) < 6 * sd_se

# a moving target: the input variance grows from 1 to 4 during training
scale = np.sqrt(np.linspace(1.0, 4.0, K))[None, :, None]
paper_d, ema_d = paper_and_ema((rng.normal(size=(500, K, m4)) * scale).var(axis=2, ddof=1), mom)
print(f"drifting: final variance 4.0; paper {paper_d.mean():.3f} (the run's middle), EMA {ema_d.mean():.3f}")
assert abs(paper_d.mean() - 2.5) < 0.05 and abs(ema_d.mean() - 4.0) < 0.2

# %% [markdown]
# Four training steps of ours against a torch `BatchNorm1d`, and what the two classic mistakes would have
# produced:

# %%
layer = torch.nn.BatchNorm1d(3, momentum=0.1, eps=1e-5)
p = {"mode": "train", "momentum": 0.1, "eps": 1e-5}
biased, flipped = np.ones(3), np.ones(3)
layer.train()
for step in range(4):
    xb = rng.normal(loc=[5.0, -2.0, 0.0], scale=[3.0, 0.5, 1.0], size=(5, 3))
    with torch.no_grad():
        layer(tt(xb))
    norm.batchnorm_forward(xb, np.ones(3), np.zeros(3), p)
    biased = 0.9 * biased + 0.1 * xb.var(axis=0)  # mistake 1: biased variance
    flipped = 0.1 * flipped + 0.9 * xb.var(axis=0, ddof=1)  # mistake 2: momentum on the old value
print("torch running_var   :", layer.running_var.numpy())
print("deepkit running_var :", p["running_var"])
print("biased variance     :", biased)
print("flipped momentum    :", flipped)
assert np.allclose(p["running_var"], layer.running_var.numpy(), rtol=1e-12)
assert np.allclose(p["running_mean"], layer.running_mean.numpy(), rtol=1e-12)

# eval mode: running statistics, no update, one example at a time is fine
x1 = rng.normal(size=(1, 3))
layer.eval()
with torch.no_grad():
    want = layer(tt(x1)).numpy()
before = p["running_mean"].copy()
p["mode"] = "eval"
got, _ = norm.batchnorm_forward(x1, np.ones(3), np.zeros(3), p)
print(f"eval mode, one example: max |deepkit - torch| = {np.abs(got - want).max():.1e}")
assert np.allclose(got, want, atol=1e-12) and np.array_equal(before, p["running_mean"])

# %% [markdown]
# In eval mode the statistics are constants, so the backward pass is just $\partial L/\partial x =
# g\,\gamma/\sqrt{\mathrm{running\_var}+\epsilon}$ (no mean or variance paths). Both backward functions handle it:

# %%
x2, g2 = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
_, c_eval = norm.batchnorm_forward(x2, gamma, beta, p)
xt = tt(x2, True)
F.batch_norm(xt, tt(p["running_mean"]), tt(p["running_var"]), tt(gamma), tt(beta), training=False).backward(tt(g2))
e = rel_error(norm.batchnorm_backward(g2, c_eval)[0], xt.grad.numpy())
print(f"eval-mode dx vs torch: {e:.1e}")
assert e < 1e-12

# %% [markdown]
# ## 7. Folding BN into the preceding affine layer
#
# In eval mode BN is a fixed per-feature affine map, so an affine layer $z = xW + b$ followed by BN is a single
# affine layer. With $s = \gamma / \sqrt{\mathrm{running\_var}+\epsilon}$ (per output feature):
#
# $$y = s\odot(xW + b - \mathrm{running\_mean}) + \beta = x\,\underbrace{(W\,\mathrm{diag}(s))}_{W'} +
#   \underbrace{s\odot(b - \mathrm{running\_mean}) + \beta}_{b'} .$$
#
# Deployment tools do this to save the BN layer's time and memory at inference; it is only valid with
# frozen (eval-mode) statistics. `norm.fold_batchnorm` returns $(W', b')$; we check it against the unfolded
# computation, against torch's `Linear` + `BatchNorm1d` in eval mode, and against torch's own fusion helper.

# %%
D, M = 6, 4
lin, bn = torch.nn.Linear(D, M), torch.nn.BatchNorm1d(M)
with torch.no_grad():
    bn.weight.copy_(tt(rng.normal(size=M)))
    bn.bias.copy_(tt(rng.normal(size=M)))
    bn.running_mean.copy_(tt(rng.normal(size=M)))
    bn.running_var.copy_(tt(rng.uniform(0.5, 2, size=M)))
lin.eval()
bn.eval()
W, b = lin.weight.detach().numpy().T, lin.bias.detach().numpy()  # torch stores (M, D); we use (D, M)
Wf, bf = norm.fold_batchnorm(
    W, b, bn.weight.detach().numpy(), bn.bias.detach().numpy(), bn.running_mean.numpy(), bn.running_var.numpy(), bn.eps
)
xs = rng.normal(size=(10, D))
with torch.no_grad():
    torch_out = bn(lin(tt(xs))).numpy()
unfolded, _ = norm.batchnorm_forward(
    xs @ W + b,
    bn.weight.detach().numpy(),
    bn.bias.detach().numpy(),
    {"mode": "eval", "running_mean": bn.running_mean.numpy(), "running_var": bn.running_var.numpy()},
)
fused = torch.nn.utils.fusion.fuse_linear_bn_eval(lin, bn)
print(f"folded vs unfolded (deepkit): {np.abs(xs @ Wf + bf - unfolded).max():.1e}")
print(f"folded vs torch Linear+BN   : {np.abs(xs @ Wf + bf - torch_out).max():.1e}")
print(f"W' vs torch's fuse_linear_bn_eval: {np.abs(Wf - fused.weight.detach().numpy().T).max():.1e}")
assert np.allclose(xs @ Wf + bf, torch_out, atol=1e-12) and np.allclose(xs @ Wf + bf, unfolded, atol=1e-12)

# %% [markdown]
# ## 8. Spatial batch normalization for $N\times C\times H\times W$
#
# A convolution applies the same filter at every position, so a channel should be normalized the same way
# everywhere: one mean and one variance **per channel**, over the batch and all positions
# ($m = N\cdot H\cdot W$ values each); $\gamma, \beta$ and the running statistics have shape $(C,)$.
# Implementation: move $C$ last, flatten to $(NHW, C)$, reuse the fully connected BN, undo the reshape
# (`torch.nn.BatchNorm2d`). Normalizing over the wrong axes (for example flattening to $(-1, C)$ without
# moving $C$ last) still runs and gives nonsense.

# %%
x4 = rng.normal(loc=2.0, scale=3.0, size=(4, 3, 5, 5))
g4, b4, d4 = rng.normal(size=3), rng.normal(size=3), rng.normal(size=(4, 3, 5, 5))
p4 = {"mode": "train"}
out4, c4 = norm.spatial_batchnorm_forward(x4, g4, b4, p4)
layer2d = torch.nn.BatchNorm2d(3)
with torch.no_grad():
    layer2d.weight.copy_(tt(g4))
    layer2d.bias.copy_(tt(b4))
xt = tt(x4, True)
o = layer2d(xt)
o.backward(tt(d4))
dx4, dg4, db4 = norm.spatial_batchnorm_backward(d4, c4)
print(
    f"forward {np.abs(out4 - o.detach().numpy()).max():.1e}, running_var "
    f"{np.abs(p4['running_var'] - layer2d.running_var.numpy()).max():.1e} (unbiased with m = N*H*W), "
    f"dx {rel_error(dx4, xt.grad.numpy()):.1e}, dgamma {rel_error(dg4, layer2d.weight.grad.numpy()):.1e}"
)
assert np.allclose(out4, o.detach().numpy(), atol=1e-12)
assert np.allclose(p4["running_var"], layer2d.running_var.numpy())
assert rel_error(dx4, xt.grad.numpy()) < 1e-12
small = rng.normal(size=(2, 2, 2, 3))
rep = check_gradient(
    lambda v: norm.spatial_batchnorm_forward(v, g4[:2], b4[:2], {})[0],
    small,
    norm.spatial_batchnorm_backward(d4[:2, :2, :2, :3], norm.spatial_batchnorm_forward(small, g4[:2], b4[:2], {})[1])[
        0
    ],
    d4[:2, :2, :2, :3],
)
print(rep)
assert rep.ok

# %% [markdown]
# ## 9. `model.train()` and `model.eval()` in PyTorch
#
# A module's mode decides which statistics BN uses. `model.train()` (the default after construction):
# batch statistics, and every forward pass **updates the running statistics, even under
# `torch.no_grad()`**. `model.eval()`: running statistics, no updates. (`torch.no_grad()` only switches off
# gradient tracking; it does not change the mode.) Forgetting `model.eval()` before evaluating is the most
# common BN bug: predictions then depend on which other examples share the batch, and evaluating on test data
# silently changes the running statistics.

# %%
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
xa = torch.randn(16, 4) * 2 + 1
model.train()
for _ in range(20):  # "training": only the running statistics move here
    with torch.no_grad():
        model(torch.randn(16, 4) * 2 + 1)
probe = xa[:1]
with torch.no_grad():
    rm_before = model[1].running_mean.clone()
    in_batch_a = model(torch.cat([probe, xa[1:8]]))[0]  # still train mode
    in_batch_b = model(torch.cat([probe, 5 * xa[8:15]]))[0]
    moved = (model[1].running_mean - rm_before).abs().max().item()
    model.eval()
    rm_eval = model[1].running_mean.clone()
    alone, same_again = model(probe)[0], model(probe)[0]
print("train mode, the same example in two batches:", in_batch_a.numpy(), in_batch_b.numpy())
print("eval mode, the example alone (twice):       ", alone.numpy(), same_again.numpy())
print(
    f"train-mode forward under no_grad moved running_mean by up to {moved:.3f}; eval mode moved it by "
    f"{(model[1].running_mean - rm_eval).abs().max().item():.1f}"
)
assert not torch.allclose(in_batch_a, in_batch_b) and torch.equal(alone, same_again) and moved > 0
try:
    model.train()
    model(probe)
except ValueError as exc:
    print("train mode with one example:", str(exc)[:70])

# %% [markdown]
# ## 10. Layer normalization, and why BN is awkward for RNNs and small batches
#
# BN's statistics come from the batch, which causes three problems:
#
# * **Small batches.** With $m$ examples the batch mean and variance are noisy estimates (the mean's standard
#   error is $\sigma/\sqrt m$). At $m = 2$ every normalized value is exactly $\pm 1$ whatever the data, and
#   the train-mode function differs a lot from the eval-mode one, so the model that was trained is not the
#   one that is evaluated. (Detection and segmentation models with 1-2 images per GPU hit this.)
# * **Recurrent networks.** The summed inputs of an RNN change over time steps, so BN would need separate
#   statistics per time step; a test sequence longer than every training sequence has steps without any
#   statistics, and variable-length batches shrink the effective batch at late steps.
# * **Dependence between examples.** An example's output depends on its batch-mates (section 9).
#
# **Layer normalization** computes the statistics over the $D$ features of **each example**:
#
# $$\mu_i = \frac1D\sum_j x_{ij},\quad \sigma_i^2 = \frac1D\sum_j (x_{ij}-\mu_i)^2,\quad
#   y_{ij} = \gamma_j\frac{x_{ij}-\mu_i}{\sqrt{\sigma_i^2+\epsilon}} + \beta_j .$$
#
# The same computation at train and test time, no running statistics, any batch size, the same at every time
# step of an RNN (one set of $\gamma, \beta$ shared over time). LN is the standard in transformers and RNNs;
# BN remains common in convolutional networks with reasonable batch sizes.
#
# **The backward pass.** Without $\gamma$ and $\beta$, LN is BN of the transposed matrix, so section 4's closed
# form applies with the sums taken over the $D$ features of a row. One thing does not carry over: in BN,
# $\gamma_j$ is the same for every entry of the column being normalized and could be taken out of the sums;
# in LN, $\gamma_j$ varies *along* the row being normalized. So the sums must run over
# $\hat g_{ij} = \gamma_j g_{ij}$, the gradient arriving at $\hat x$, and not over $g$ with $\gamma$ in front
# (the exercise derives the result). $\partial L/\partial\gamma$ and $\partial L/\partial\beta$ still sum over
# the batch. The cell checks `norm.layernorm_backward` against torch, and shows that BN's formula with $\gamma$
# outside the sums is wrong unless every $\gamma_j$ is the same.

# %%
xl = rng.normal(size=(5, 7)) * rng.uniform(0.5, 4, size=(5, 1)) + rng.normal(size=(5, 1)) * 3
gl, bl, dl = rng.normal(size=7), rng.normal(size=7), rng.normal(size=(5, 7))
outl, cl = norm.layernorm_forward(xl, gl, bl, {"eps": 1e-5})
dxl, dgl, dbl = norm.layernorm_backward(dl, cl)
xt, gt, bt = tt(xl, True), tt(gl, True), tt(bl, True)
ot = F.layer_norm(xt, (7,), gt, bt, eps=1e-5)
ot.backward(tt(dl))
errs = [
    np.abs(outl - ot.detach().numpy()).max(),
    rel_error(dxl, xt.grad.numpy()),
    rel_error(dgl, gt.grad.numpy()),
    rel_error(dbl, bt.grad.numpy()),
]
print("layer norm vs torch: forward {:.1e}, dx {:.1e}, dgamma {:.1e}, dbeta {:.1e}".format(*errs))
assert max(errs) < 1e-12
rep = check_gradient(lambda v: norm.layernorm_forward(v, gl, bl)[0], xl, dxl, dl)
print(rep)
assert rep.ok


def gamma_outside(dout, x, gamma, eps=1e-5):
    # BN's closed form turned sideways with gamma in front of the row sums (the tempting mistake)
    xhat = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + eps)
    D = x.shape[1]
    inner = D * dout - dout.sum(1, keepdims=True) - xhat * (dout * xhat).sum(1, keepdims=True)
    return gamma / (D * np.sqrt(x.var(1, keepdims=True) + eps)) * inner


wrong = rel_error(gamma_outside(dl, xl, gl), xt.grad.numpy())
same_gamma = np.full(7, 1.7)
right_if_constant = rel_error(
    gamma_outside(dl, xl, same_gamma), norm.layernorm_backward(dl, norm.layernorm_forward(xl, same_gamma, bl)[1])[0]
)
print(f"gamma outside the row sums: relative error {wrong:.2f}; with every gamma_j = 1.7: {right_if_constant:.1e}")
assert wrong > 0.1 and right_if_constant < 1e-12
# one example alone gives the same answer; batch norm of a batch of 2 gives +-1 whatever the data
alone, _ = norm.layernorm_forward(xl[:1], gl, bl)
assert np.allclose(alone, outl[:1])
two, _ = norm.batchnorm_forward(rng.normal(size=(2, 4)) * 10, np.ones(4), np.zeros(4), {"eps": 1e-12})
print("batch norm, batch of 2 (any data):\n", two.round(6))

# %% [markdown]
# ## 11. Explore: a deep net with and without normalization
#
# A 6-layer tanh MLP on the 8x8 digits, initialized with deliberately small weights (standard deviation
# 0.05) and trained for 60 plain SGD steps. Without normalization the signal shrinks layer after layer
# (all activations near 0) and the loss hardly moves; with batch norm every layer's pre-activations are
# standardized and training proceeds; layer norm also rescues the signal. Change the batch size to see BN's
# train-mode accuracy (batch statistics) drift away from its eval-mode accuracy (running statistics) for
# small batches, while LN's two curves coincide. Each setting trains once, the first time you pick it
# (a fraction of a second), and is cached.
#
# First the numbers behind it, for BN and LN over batch sizes:

# %%
from deepkit.viz.normalization import BATCH_SIZES, explorer, train_run

print(f"{'batch':>5} | {'BN loss':>7} {'BN acc train/eval':>18} | {'LN loss':>7} {'LN acc':>6}")
for bs in BATCH_SIZES:
    rb, rl = train_run("batch", bs), train_run("layer", bs)
    print(
        f"{bs:5d} | {rb.losses[-10:].mean():7.3f} {rb.acc_train[-1]:8.2f} / {rb.acc_eval[-1]:.2f}    | "
        f"{rl.losses[-10:].mean():7.3f} {rl.acc_eval[-1]:6.2f}"
    )
rn = train_run("none", 16)
print(
    f"no normalization, batch 16: loss {rn.losses[-10:].mean():.3f}, "
    f"layer-6 activations' middle half within +-{np.abs(rn.pct[0, -1, [1, 3]]).max():.4f}"
)

# %% [markdown]
# Reading the table: at batch 64 batch norm trains fastest; layer norm also keeps the signal alive but learns
# more slowly in this small MLP. At batch sizes 2 and 4 everything is poor, normalization or not: 60 SGD steps
# on 2 examples see only 120 digits, with very noisy gradients. But only BN adds a second problem: its
# train-mode accuracy (each validation batch, of the same small size, normalized with its own statistics) is
# far from its eval-mode accuracy (running statistics): two different functions. LN's train-mode and
# eval-mode outputs are identical by construction.

# %%
explorer()

# %% [markdown]
# ## Common mistakes
#
# * **Biased variance in the running average** (or unbiased in the normalization): training matches, eval
#   mode does not match PyTorch; the gap is the factor $m/(m-1)$, large for small batches.
# * **Momentum convention flipped**: torch `momentum=0.1` = Keras `momentum=0.9`; 0.9 in torch means the
#   running statistics are essentially the last batch's.
# * **Backward without the mean path** ($\partial L/\partial\mu$): the gradient is wrong by a constant per
#   column; a gradient check catches it, and so does the invariant $\sum_i \partial L/\partial x_i = 0$.
# * **`dgamma` / `dbeta` not summed over the batch** (shape `(N, D)` instead of `(D,)`).
# * **Spatial BN over the wrong axes**: statistics must be per channel over $(N, H, W)$; reshaping
#   `(N, C, H, W)` straight to `(-1, C)` mixes channels and positions.
# * **Layer norm over the batch axis**: that is batch norm without running statistics.
# * **Evaluating in train mode**: forget `model.eval()` and predictions depend on the batch, and the running
#   statistics are overwritten by test data (even under `torch.no_grad()`).
# * **Folding BN while it is still training**: folding uses the running statistics; it is an inference-time
#   transformation.

# %%
print(f"lecture ran in {time.perf_counter() - T0:.1f} s")
