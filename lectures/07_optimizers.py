# %% [markdown]
# # 07 · Optimizers: from gradient descent to Adam
#
# Training a network means minimising a loss $L(w) = \frac1N\sum_{i=1}^N \ell_i(w)$ with nothing but gradients.
# This lecture builds the family of first-order methods one idea at a time, and checks every formula with numbers:
#
# 1. batch, stochastic and mini-batch gradient descent: what noise the batch size buys, and what it costs;
# 2. choosing the learning rate, and schedules that change it during training;
# 3. momentum and Nesterov momentum (both forms, and the rearrangement that makes Nesterov practical);
# 4. per-coordinate learning rates: Adagrad, Adadelta, RMSProp;
# 5. Adam with its bias correction (we measure the bias), and AdaMax;
# 6. saddle points versus local minima;
# 7. an explorer of all eight rules on four 2-D surfaces.
#
# All rules live in `deepkit.optim` as pure functions `w_new, state_new = rule_step(w, dw, state, **hyper)`;
# we check each against `torch.optim` in float64.

# %%
import _course  # puts the reference deepkit (reference/) on the path; inline figures; float64 printing
import numpy as np
import time

import matplotlib.pyplot as plt
import torch

from deepkit import data, layers, losses, optim, surfaces
from deepkit.gradcheck import check_gradient, rel_error

torch.set_default_dtype(torch.float64)

# %% [markdown]
# ## 1. Batch, stochastic and mini-batch gradient descent
#
# Gradient descent moves against the gradient: $w_{t+1} = w_t - \eta\, \nabla L(w_t)$. Three ways to get the
# gradient:
#
# * **batch GD** uses all $N$ examples: the exact gradient, $N$ example-gradients of work per step;
# * **stochastic GD** (SGD) uses one random example $i$: $g = \nabla \ell_i(w)$, unbiased ($\mathbb E\, g = \nabla L$)
#   but noisy, one example of work per step;
# * **mini-batch GD** averages a random batch $B$ of $b$ examples: $g_B = \frac1b \sum_{i\in B} \nabla\ell_i(w)$.
#
# For a batch drawn without replacement, $\mathbb E\, g_B = \nabla L$ and the total variance is
# $$\mathbb E\,\lVert g_B - \nabla L\rVert^2 = \frac{\sigma^2}{b}\cdot\frac{N-b}{N-1},\qquad
# \sigma^2 = \frac1N\sum_i \lVert \nabla\ell_i - \nabla L\rVert^2 .$$
# The noise falls like $1/b$ (its standard deviation like $1/\sqrt b$), while the cost grows like $b$:
# quadrupling the batch only halves the noise. That, and the fact that vectorised hardware makes a batch of 32 about
# as fast as a batch of 1, is why mini-batches of tens to hundreds are the default.
#
# We measure it on softmax (multinomial logistic) regression on the 8×8 digits, built from topic 01's layers.

# %%
split = data.load_digits(seed=0)
X, y = split.X_train, split.y_train
N, D, C = X.shape[0], X.shape[1], split.num_classes


def loss_grad(w, Xb, yb):
    """Softmax regression: w packs W (D, C) and b (C,). Returns (loss, gradient with w's shape)."""
    W, b = w[: D * C].reshape(D, C), w[D * C :]
    scores, cache = layers.affine_forward(Xb, W, b)
    loss, dscores = losses.softmax_loss(scores, yb)
    _, dW, db = layers.affine_backward(dscores, cache)
    return loss, np.concatenate([dW.ravel(), db])


w_test = np.random.default_rng(1).normal(scale=0.1, size=D * C + C)
# the gradient three ways: our backprop, torch autograd, centred finite differences
wt = torch.tensor(w_test, requires_grad=True)
lt = torch.nn.functional.cross_entropy(
    torch.tensor(X[:50]) @ wt[: D * C].reshape(D, C) + wt[D * C :], torch.tensor(y[:50])
)
lt.backward()
ours = loss_grad(w_test, X[:50], y[:50])[1]
report = check_gradient(lambda v: np.array(loss_grad(v, X[:50], y[:50])[0]), w_test, ours)
print(f"N = {N} examples, {w_test.size} parameters")
print(
    f"backprop vs torch autograd: rel. error {rel_error(ours, wt.grad.numpy()):.1e}; vs finite differences: {report.rel_error:.1e}"
)
assert rel_error(ours, wt.grad.numpy()) < 1e-12 and report.ok

# %%
# Gradient noise vs batch size at a fixed point w, measured over many random batches
rng = np.random.default_rng(0)
per_example = np.stack([loss_grad(w_test, X[i : i + 1], y[i : i + 1])[1] for i in range(N)])  # (N, P)
full = per_example.mean(axis=0)
sigma2 = ((per_example - full) ** 2).sum(axis=1).mean()
print(f"{'batch b':>8} {'measured E|g_B - g|^2':>22} {'theory':>10} {'ratio':>6} {'ms per gradient':>16}")
sizes, measured = [1, 4, 16, 64, 256, 1024], []
for b in sizes:
    errs = [((per_example[rng.choice(N, b, replace=False)].mean(axis=0) - full) ** 2).sum() for _ in range(400)]
    theory = sigma2 / b * (N - b) / (N - 1)
    t0 = time.perf_counter()
    for _ in range(20):
        loss_grad(w_test, X[:b], y[:b])
    ms = (time.perf_counter() - t0) / 20 * 1e3
    measured.append(np.mean(errs))
    print(f"{b:8d} {np.mean(errs):22.5f} {theory:10.5f} {np.mean(errs) / theory:6.2f} {ms:16.3f}")
    assert abs(np.mean(errs) / theory - 1) < 0.25  # 400 draws: a few percent of sampling error


# %% [markdown]
# The measured variance follows $\sigma^2/b$ (ratios near 1), and the cost of one gradient grows much more slowly
# than $b$ for small batches (per-call overhead dominates). Now train the same model for the same number of
# **example-gradients** (5 epochs of work) with the three variants:


# %%
def train(batch, lr, epochs=5, seed=0):
    """Mini-batch SGD with deepkit.optim.sgd_step; returns the full training loss after each epoch's worth of work."""
    rng, w, state, curve = np.random.default_rng(seed), np.zeros(D * C + C), {}, []
    for _ in range(epochs):
        for Xb, yb in data.minibatches(X, y, batch, rng):
            w, state = optim.sgd_step(w, loss_grad(w, Xb, yb)[1], state, lr=lr)
        curve.append(loss_grad(w, X, y)[0])
    return np.array(curve)


t0 = time.perf_counter()
runs = {
    "batch GD (b = N), lr 2": train(N, 2.0),
    "mini-batch b = 32, lr 0.5": train(32, 0.5),
    "SGD b = 1, lr 0.05": train(1, 0.05),
}
for k, v in runs.items():
    print(f"{k:28s} loss after 1..5 epochs: {np.round(v, 3)}")
print(f"({time.perf_counter() - t0:.1f} s)")
assert runs["mini-batch b = 32, lr 0.5"][-1] < runs["batch GD (b = N), lr 2"][-1]

# %% [markdown]
# Per unit of work, batch GD makes only 5 steps and is far behind; mini-batches make ~200 smaller but
# good-enough steps. Pure SGD makes the most steps but needs a small learning rate to keep its noise in check
# (and is slow in wall-clock time: one Python call per example).
#
# ## 2. Choosing the learning rate, and schedules
#
# On a quadratic $L(w) = \frac12 w^\top H w$ gradient descent is linear: $w_{t+1} = (I - \eta H) w_t$, so along each
# eigenvector of $H$ (eigenvalue $\lambda$) the error is multiplied by $1 - \eta\lambda$ per step. It converges iff
# $|1 - \eta\lambda| < 1$ for all $\lambda$, i.e. $\eta < 2/\lambda_{\max}$; the slowest direction then shrinks
# by $1 - \eta\lambda_{\min} \ge 1 - 2/\kappa$ with the condition number $\kappa = \lambda_{\max}/\lambda_{\min}$.
# Check on the ill-conditioned quadratic $(x^2 + 20 y^2)/2$ ($\lambda = 1, 20$, so $\eta_{\max} = 0.1$):

# %%
quad = surfaces.get("quadratic")
print(f"{'lr':>6} {'|1 - lr*20|':>12} {'predicted |y_50|':>17} {'measured |y_50|':>16} {'f after 50 steps':>17}")
for lr in (0.05, 0.09, 0.099, 0.101, 0.11):
    path = optim.run("sgd", quad.gradient, np.array([-3.5, 1.5]), 50, lr=lr)
    predicted = 1.5 * abs(1 - lr * 20) ** 50
    print(f"{lr:6.3f} {abs(1 - lr * 20):12.3f} {predicted:17.3e} {abs(path[-1, 1]):16.3e} {quad.value(path[-1]):17.3e}")
    assert np.isclose(abs(path[-1, 1]), predicted, rtol=1e-9)

# %% [markdown]
# Just below $2/\lambda_{\max}$ the steep direction oscillates without converging for a long time; just above it
# diverges. Meanwhile the flat direction shrinks only by $1 - 0.1 = 0.9$ per step: with one learning rate for all
# directions, conditioning limits the speed. (Practical recipe: try learning rates on a log grid, take the largest
# that does not diverge, then decay it.)
#
# **Schedules** start large (fast progress) and end small (less noise near the minimum). `deepkit.optim` has four,
# each a function of the step or epoch $t$; they match torch's schedulers:

# %%
t = np.arange(60)
sched = torch.optim.lr_scheduler


def torch_lrs(make, lr0=0.1, n=60):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr0)
    s, out = make(opt), []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        s.step()
    return np.array(out)


ours = {
    "step (s = 15, γ = 0.5)": optim.step_decay(0.1, t, 15, 0.5),
    "exponential (γ = 0.95)": optim.exponential_decay(0.1, t, 0.95),
    "cosine (T = 59)": optim.cosine_decay(0.1, t, 59, 1e-3),
    "1/t (k = 0.1)": optim.inverse_time_decay(0.1, t, 0.1),
}
theirs = [
    torch_lrs(lambda o: sched.StepLR(o, 15, 0.5)),
    torch_lrs(lambda o: sched.ExponentialLR(o, 0.95)),
    torch_lrs(lambda o: sched.CosineAnnealingLR(o, 59, 1e-3)),
    torch_lrs(lambda o: sched.LambdaLR(o, lambda e: 1 / (1 + 0.1 * e))),
]
fig, ax = plt.subplots(figsize=(7, 2.8))
for (name, lr), ref in zip(ours.items(), theirs):
    print(f"{name:24s} max |ours - torch| = {np.abs(lr - ref).max():.1e}")
    assert np.allclose(lr, ref, rtol=1e-10)
    ax.plot(t, lr, label=name)
ax.set_xlabel("epoch t")
ax.set_ylabel("learning rate")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 3. Momentum and Nesterov momentum
#
# **Momentum** (heavy ball) keeps a velocity, an exponentially weighted sum of past gradients:
# $$v_t = \mu v_{t-1} + g_t,\qquad w_t = w_{t-1} - \eta\, v_t \qquad (\text{torch}, v_0 = 0).$$
# Along a direction where gradients keep their sign the steps add up to $\eta/(1-\mu)$ times the gradient
# (10× for $\mu = 0.9$); where they alternate (the steep walls of a valley) they cancel.
# CS231n writes $v_t = \mu v_{t-1} - \eta g_t$, $w_t = w_{t-1} + v_t$: its velocity is $-\eta$ times torch's, so the
# two give the same path while $\eta$ is constant, and differ once a schedule changes $\eta$ (torch's velocity
# does not remember the old learning rate).
#
# **Nesterov** evaluates the gradient at the look-ahead point $w + \mu v$ where momentum is about to carry us
# (CS231n sign convention):
# $$v_{t+1} = \mu v_t - \eta \nabla f(w_t + \mu v_t),\qquad w_{t+1} = w_t + v_{t+1}.$$
# Frameworks want the gradient at the stored parameters. Substitute $\tilde w_t = w_t + \mu v_t$:
# $$v_{t+1} = \mu v_t - \eta\nabla f(\tilde w_t),\qquad
# \tilde w_{t+1} = w_{t+1} + \mu v_{t+1} = \tilde w_t - \mu v_t + (1+\mu)\, v_{t+1}.$$
# This is CS231n's `x += -mu * v_prev + (1 + mu) * v`. With torch's velocity $b = -v/\eta$ it reads
# $b_{t+1} = \mu b_t + \nabla f(\tilde w_t)$ and
# $\tilde w_{t+1} = \tilde w_t - \eta\,(\nabla f(\tilde w_t) + \mu\, b_{t+1})$, which is exactly
# `torch.optim.SGD(nesterov=True)` and `deepkit.optim.nesterov_step`. Check all three forms on a quadratic:

# %%
rng = np.random.default_rng(0)
q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
H = (q * np.array([0.1, 0.5, 1.0, 5.0, 10.0])) @ q.T
grad_q = lambda w: H @ w  # noqa: E731
lr, mu, w0 = 0.05, 0.9, rng.normal(size=5)

w, v = w0.copy(), np.zeros(5)  # look-ahead form
wt, vt = w0.copy(), np.zeros(5)  # CS231n rearranged form, in w~
p = torch.tensor(w0.copy(), requires_grad=True)  # torch
opt = torch.optim.SGD([p], lr=lr, momentum=mu, nesterov=True)
ours, state, worst = w0.copy(), {}, [0.0, 0.0, 0.0]
for _ in range(100):
    v = mu * v - lr * grad_q(w + mu * v)
    w = w + v
    v_prev = vt
    vt = mu * vt - lr * grad_q(wt)
    wt = wt - mu * v_prev + (1 + mu) * vt
    p.grad = torch.tensor(grad_q(p.detach().numpy()))
    opt.step()
    ours, state = optim.nesterov_step(ours, grad_q(ours), state, lr=lr, momentum=mu)
    worst = [
        max(worst[0], np.abs(wt - (w + mu * v)).max()),
        max(worst[1], np.abs(p.detach().numpy() - wt).max()),
        max(worst[2], np.abs(ours - wt).max()),
    ]
print(
    f"look-ahead w + mu v vs rearranged w~: {worst[0]:.1e}; torch vs w~: {worst[1]:.1e}; nesterov_step vs w~: {worst[2]:.1e}"
)
assert max(worst) < 1e-12


# %%
# Steps to reach |w| < 1e-6 on this quadratic (kappa = 100): momentum needs about sqrt(kappa) times fewer
def steps_to(name, tol=1e-6, **h):
    path = optim.run(name, grad_q, w0, 5000, **h)
    return int(np.argmax(np.linalg.norm(path, axis=1) < tol))


print("GD (lr = 1/L = 0.1):         ", steps_to("sgd", lr=0.1))
print("momentum (lr 0.1, mu 0.9):   ", steps_to("sgd_momentum", lr=0.1, momentum=0.9))
lr_opt, mu_opt = 4 / (np.sqrt(10) + np.sqrt(0.1)) ** 2, ((np.sqrt(100) - 1) / (np.sqrt(100) + 1)) ** 2
print(
    f"momentum (lr {lr_opt:.3f}, mu {mu_opt:.3f}):",
    steps_to("sgd_momentum", lr=lr_opt, momentum=mu_opt),
    " (the optimal heavy-ball setting for kappa = 100)",
)
print("Nesterov (lr 0.1, mu 0.9):   ", steps_to("nesterov", lr=0.1, momentum=0.9))
assert steps_to("sgd_momentum", lr=0.1, momentum=0.9) < steps_to("sgd", lr=0.1) / 3

# %% [markdown]
# ## 4. Per-coordinate learning rates: Adagrad, RMSProp, Adadelta
#
# One learning rate for all coordinates is what made the ill-conditioned quadratic slow. Adaptive methods divide
# each coordinate's step by a running size of its gradients (all operations elementwise):
#
# | rule | state update | step |
# |---|---|---|
# | Adagrad | $s_t = s_{t-1} + g_t^2$ | $w_t = w_{t-1} - \eta\, g_t / (\sqrt{s_t} + \epsilon)$ |
# | RMSProp | $a_t = \alpha a_{t-1} + (1-\alpha) g_t^2$ | $w_t = w_{t-1} - \eta\, g_t / (\sqrt{a_t} + \epsilon)$ |
# | Adadelta | $E[g^2]_t = \rho E[g^2]_{t-1} + (1-\rho) g_t^2$; $\;E[\Delta^2]_t = \rho E[\Delta^2]_{t-1} + (1-\rho)\Delta_t^2$ | $\Delta_t = \frac{\sqrt{E[\Delta^2]_{t-1}+\epsilon}}{\sqrt{E[g^2]_t+\epsilon}}\, g_t$, $\;w_t = w_{t-1} - \eta\Delta_t$ |
#
# Adagrad's sum only grows, so its effective rate $\eta/\sqrt{s_t}$ decays like $1/\sqrt t$ even when progress
# has stalled: good for sparse features (rare coordinates keep large steps), often too aggressive for deep nets.
# RMSProp (Hinton's lecture notes) replaces the sum by a leaky average, so the rate adapts without vanishing.
# Adadelta additionally replaces $\eta$ by the RMS of recent steps, so the step has the units of $w$ (the paper
# has no learning rate; torch keeps an `lr` factor, default 1). Note where $\epsilon$ sits: **outside** the root
# in Adagrad/RMSProp/Adam (torch), **inside** both roots in Adadelta.
#
# Every rule of `deepkit.optim` against `torch.optim`, 60 steps of a noisy quadratic in float64 with
# weight decay, and with a large $\epsilon$ so that its placement matters:

# %%
rng = np.random.default_rng(1)
q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
A = (q * rng.uniform(0.2, 2.0, 6)) @ q.T
b_vec, w_start, noise = rng.normal(size=6), rng.normal(size=6), rng.normal(scale=0.5, size=(60, 6))
table = {  # name: (our hyper-parameters, torch class, torch kwargs)
    "sgd": (dict(lr=0.1), torch.optim.SGD, dict(lr=0.1)),
    "sgd_momentum": (dict(lr=0.05, momentum=0.9), torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    "nesterov": (dict(lr=0.05, momentum=0.9), torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    "adagrad": (dict(lr=0.3, eps=0.1), torch.optim.Adagrad, dict(lr=0.3, eps=0.1)),
    "adadelta": (dict(rho=0.9, eps=0.1), torch.optim.Adadelta, dict(rho=0.9, eps=0.1)),
    "rmsprop": (dict(lr=0.02, alpha=0.9, eps=0.1), torch.optim.RMSprop, dict(lr=0.02, alpha=0.9, eps=0.1)),
    "adam": (
        dict(lr=0.05, beta1=0.8, beta2=0.95, eps=0.1),
        torch.optim.Adam,
        dict(lr=0.05, betas=(0.8, 0.95), eps=0.1),
    ),
    "adamax": (
        dict(lr=0.05, beta1=0.8, beta2=0.95, eps=0.1),
        torch.optim.Adamax,
        dict(lr=0.05, betas=(0.8, 0.95), eps=0.1),
    ),
}
for name, (h, cls, kw) in table.items():
    w, state = w_start.copy(), {}
    p = torch.tensor(w_start.copy(), requires_grad=True)
    opt = cls([p], weight_decay=0.05, **kw)
    err = 0.0
    for n in noise:
        w, state = optim.OPTIMIZERS[name](w, A @ w - b_vec + n, state, weight_decay=0.05, **h)
        p.grad = torch.tensor(A @ p.detach().numpy() - b_vec + n)
        opt.step()
        err = max(err, np.abs(w - p.detach().numpy()).max())
    print(
        f"{name:12s} vs torch.optim.{cls.__name__:8s} max |difference| over 60 steps: {err:.1e}   state keys: {sorted(state)}"
    )
    assert err < 1e-12

# %%
# eps placement matters when eps is not tiny: RMSProp with eps inside the square root drifts away from torch's
w_in, a, w_o, s = w_start.copy(), np.zeros(6), w_start.copy(), {}
for n in noise[:30]:
    g = A @ w_in - b_vec + n
    a = 0.9 * a + 0.1 * g**2
    w_in = w_in - 0.02 * g / np.sqrt(a + 0.1)
    w_o, s = optim.rmsprop_step(w_o, A @ w_o - b_vec + n, s, lr=0.02, alpha=0.9, eps=0.1)
print(f"RMSProp after 30 steps, eps = 0.1: max |w(eps inside the root) - w(torch)| = {np.abs(w_in - w_o).max():.3e}")
assert np.abs(w_in - w_o).max() > 1e-3

# %% [markdown]
# ## 5. Adam, its bias correction, and AdaMax
#
# Adam combines momentum (a leaky average $m$ of gradients) with RMSProp (a leaky average $v$ of squared gradients):
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
# w_t = w_{t-1} - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$
# Both averages start at 0, so early on they are biased towards 0. Unrolling,
# $m_t = (1-\beta_1)\sum_{k=1}^t \beta_1^{t-k} g_k$, and if the $g_k$ have mean $\bar g$,
# $\mathbb E\, m_t = (1 - \beta_1^t)\,\bar g$ (the weights sum to $1-\beta_1^t$). Hence the corrections
# $\hat m_t = m_t/(1-\beta_1^t)$ and $\hat v_t = v_t/(1-\beta_2^t)$. With the defaults
# $\beta_1 = 0.9, \beta_2 = 0.999$ the second-moment bias is severe: $v_1 = 0.001\, g_1^2$. The numbers, for noisy
# gradients $g_t \sim \mathcal N(1, 0.5^2)$ (so $\mathbb E g = 1$, $\mathbb E g^2 = 1.25$), averaged over 20 000 runs:

# %%
rng = np.random.default_rng(0)
b1, b2, T = 0.9, 0.999, 10
g = rng.normal(1.0, 0.5, size=(20000, T))
m = np.zeros(20000)
v = np.zeros(20000)
print(
    f"{'t':>3} {'E m_t':>8} {'1-b1^t':>8} {'E m_hat':>8} {'E v_t':>8} {'E v_hat':>8} {'uncorrected step / lr':>22} {'corrected':>10}"
)
for t in range(1, T + 1):
    m = b1 * m + (1 - b1) * g[:, t - 1]
    v = b2 * v + (1 - b2) * g[:, t - 1] ** 2
    mh, vh = m / (1 - b1**t), v / (1 - b2**t)
    raw, fixed = np.median(m / np.sqrt(v)), np.median(mh / np.sqrt(vh))
    print(
        f"{t:3d} {m.mean():8.4f} {1 - b1**t:8.4f} {mh.mean():8.4f} {v.mean():8.5f} {vh.mean():8.4f} {raw:22.3f} {fixed:10.3f}"
    )
    assert abs(m.mean() / (1 - b1**t) - 1) < 0.01 and abs(vh.mean() / 1.25 - 1) < 0.02

# %% [markdown]
# $\mathbb E\,m_t$ matches $1-\beta_1^t$ and the corrected averages are unbiased. Without correction the first
# step is $\eta \cdot 0.1 g/ (\sqrt{0.001}|g|) \approx 3.16\,\eta$, and
# the bias of $v$ keeps the uncorrected steps several times too large for on the order of $1/(1-\beta_2) = 1000$
# steps (the column "uncorrected step / lr"; the median of $m_t/\sqrt{v_t}$). With correction the first step is $\eta\,\mathrm{sign}(g_1)$ (for $\epsilon \ll |g|$): Adam's step size is set by
# $\eta$, not by the gradient's scale. Check against torch, and the scale invariance:

# %%
for scale in (1e-4, 1.0, 1e4):
    g1 = scale * np.array([0.3, -2.0, 5.0])
    w1, _ = optim.adam_step(np.zeros(3), g1, {}, lr=0.01, eps=1e-12)
    p = torch.zeros(3, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.01, eps=1e-12)
    p.grad = torch.tensor(g1)
    opt.step()
    print(f"gradient scale {scale:7.0e}: first Adam step {w1}  (torch {p.detach().numpy()})")
    assert np.allclose(w1, -0.01 * np.sign(g1)) and np.allclose(w1, p.detach().numpy(), rtol=1e-12)

# %% [markdown]
# **AdaMax** replaces the $\ell_2$ average in $v$ by an $\ell_p$ one and lets $p\to\infty$. With
# $v_t^{(p)} = (1-\beta_2^p)\sum_k \beta_2^{p(t-k)}|g_k|^p$, the limit of $(v_t^{(p)})^{1/p}$ is
# $u_t = \max_k \beta_2^{t-k}|g_k| = \max(\beta_2 u_{t-1}, |g_t|)$. (Torch adds $\epsilon$ inside the max:
# $u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon)$.) A maximum does not shrink towards its zero start the way an
# average does, so $u$ needs no bias correction, but $m$ still does: the step is
# $w_t = w_{t-1} - \frac{\eta}{1-\beta_1^t} \frac{m_t}{u_t}$. (Some notes say "AdaMax needs no bias correction";
# only $u_t$ is exempt.) The limit, numerically (the $(1-\beta_2^p)^{1/p}$ factor tends to 1):

# %%
gs = np.random.default_rng(3).normal(size=20)
decay = 0.99 ** np.arange(19, -1, -1)
u = 0.0
for gk in gs:
    u = max(0.99 * u, abs(gk))
for p in (2, 8, 32, 128, 512):
    lp = ((1 - 0.99**p) * np.sum(decay**p * np.abs(gs) ** p)) ** (1 / p)
    print(f"p = {p:4d}: (v_t^(p))^(1/p) = {lp:.6f}")
print(f"u_t = max_k beta2^(t-k) |g_k| = {u:.6f}")
assert abs(lp - u) / u < 0.01

# %% [markdown]
# ## 6. Saddle points versus local minima
#
# At a stationary point ($\nabla f = 0$) the Hessian decides: all eigenvalues positive is a local minimum; mixed signs
# is a saddle. In high dimensions a random stationary point is far more likely to be a saddle (every one of
# many eigenvalues would have to be positive), and Dauphin et al. (2014) argue saddles surrounded by plateaus,
# not bad local minima, are what slows training. On $f = x^2 - y^2$ ($H = \mathrm{diag}(2, -2)$), gradient
# descent multiplies $y$ by $1 + 2\eta$ per step: from $y_0 = 10^{-3}$ it needs
# $\ln(10^3)/\ln(1+2\eta)$ steps to reach $|y| = 1$, and from exactly $y_0 = 0$ it never leaves.
# Momentum multiplies the escape rate; noise breaks the symmetry; Adam's normalised step moves $y$ by about $\eta$
# per step however small the gradient is:

# %%
sad = surfaces.get("saddle")
print("Hessian eigenvalues at (0, 0):", np.linalg.eigvalsh(np.diag([2.0, -2.0])), "-> a saddle")
rng = np.random.default_rng(0)
noisy = lambda w: sad.gradient(w) + rng.normal(scale=0.05, size=2)  # noqa: E731


def escape(name, start, grad=sad.gradient, steps=1000, **h):
    path = optim.run(name, grad, np.array(start), steps, **h)
    out = np.flatnonzero(np.abs(path[:, 1]) > 1)
    return int(out[0]) if out.size else None


lr = 0.01
print(f"predicted GD escape from y0 = 1e-3: {np.log(1e3) / np.log(1 + 2 * lr):.0f} steps")
rows = [
    ("GD, y0 = 1e-3", escape("sgd", (-1, 1e-3), lr=lr)),
    ("GD, y0 = 0 exactly", escape("sgd", (-1, 0.0), lr=lr)),
    ("GD + gradient noise, y0 = 0", escape("sgd", (-1, 0.0), grad=noisy, lr=lr)),
    ("momentum 0.9, y0 = 1e-3", escape("sgd_momentum", (-1, 1e-3), lr=lr, momentum=0.9)),
    ("Adam, y0 = 1e-3", escape("adam", (-1, 1e-3), lr=lr)),
    ("Adam, y0 = 0 exactly", escape("adam", (-1, 0.0), lr=lr)),
]
for name, k in rows:
    print(f"{name:30s} steps until |y| > 1: {k if k is not None else 'never (1000 steps)'}")
assert rows[0][1] == int(np.ceil(np.log(1e3) / np.log(1 + 2 * lr))) and rows[1][1] is None
assert rows[2][1] is not None and rows[3][1] < rows[0][1] and rows[4][1] < rows[0][1]

# %% [markdown]
# Exactly at the symmetric start no deterministic method escapes: every gradient has $y$-component 0 (Adam too).
# Real training never starts exactly there, and mini-batch noise is one of the things that makes saddles
# harmless in practice.
#
# ## 7. Explorer
#
# The surfaces (given module `deepkit.surfaces`; gradients checked against autograd and finite differences here):

# %%
pts = np.random.default_rng(0).uniform(-2, 2, size=(2, 4))
for key, s in surfaces.SURFACES.items():
    x_t, y_t = (torch.tensor(c, requires_grad=True) for c in pts)
    fx = {
        "beale": lambda: (
            (1.5 - x_t + x_t * y_t) ** 2 + (2.25 - x_t + x_t * y_t**2) ** 2 + (2.625 - x_t + x_t * y_t**3) ** 2
        ),
        "rosenbrock": lambda: (1 - x_t) ** 2 + 100 * (y_t - x_t**2) ** 2,
        "saddle": lambda: x_t**2 - y_t**2,
        "quadratic": lambda: 0.5 * (x_t**2 + surfaces.KAPPA * y_t**2),
    }[key]()
    fx.sum().backward()
    gx, gy = s.grad(*pts)
    e_auto = rel_error(np.stack([gx, gy]), np.stack([x_t.grad.numpy(), y_t.grad.numpy()]))
    e_fd = check_gradient(lambda w: np.array(s.value(w)), pts[:, 0], s.gradient(pts[:, 0])).rel_error
    print(f"{s.name:18s} gradient vs autograd {e_auto:.1e}, vs finite differences {e_fd:.1e}")
    assert e_auto < 1e-12 and e_fd < 1e-7

# %% [markdown]
# Pick a surface and a start point, choose which optimizers to show, and move the learning-rate multiplier
# (each rule starts from a rate that suits the surface, shown in the legend), momentum, $\beta_1, \beta_2$,
# $\rho$ and the gradient noise. Things to try: on **Beale**, momentum and Nesterov overshoot and swing back
# (Nesterov corrects sooner) while the adaptive methods head straight in; on the **saddle**, SGD crawls
# and the adaptive methods run down the $-y$ slope; on **Rosenbrock**, everything finds the valley quickly and then
# crawls along it; on the **quadratic**, raise `lr ×` until SGD oscillates across the narrow direction, then watch
# momentum at $\mu = 0.99$ spiral. Set $\beta_2$ to 0.9 and compare Adam's path to RMSProp's.

# %%
from deepkit.viz.optimizers import explorer

ex = explorer()
ex

# %%
# redraw cost (the widget re-renders on every control change; trajectories are cached per setting)
times = []
cpu = []
for k, v in [("lr_scale", 2.0), ("surface", "rosenbrock"), ("beta1", 0.8), ("surface", "beale")]:
    c0 = time.process_time()
    ex.controls[k].value = v
    times.append(ex.last_ms)
    cpu.append((time.process_time() - c0) * 1e3)
print("redraw wall times (ms):", np.round(times).astype(int), " CPU times (ms):", np.round(cpu).astype(int))

# %% [markdown]
# ## 8. In PyTorch
#
# | `deepkit.optim` | `torch.optim` |
# |---|---|
# | `sgd_step(lr, weight_decay)` | `SGD(params, lr, weight_decay)` |
# | `sgd_momentum_step(lr, momentum)` | `SGD(params, lr, momentum)` (dampening 0) |
# | `nesterov_step(lr, momentum)` | `SGD(params, lr, momentum, nesterov=True)` |
# | `adagrad_step(lr, eps)` | `Adagrad(params, lr, eps=eps)` (lr_decay ≙ `inverse_time_decay`) |
# | `adadelta_step(lr, rho, eps)` | `Adadelta(params, lr, rho, eps)` |
# | `rmsprop_step(lr, alpha, eps)` | `RMSprop(params, lr, alpha, eps)` |
# | `adam_step(lr, beta1, beta2, eps)` | `Adam(params, lr, betas=(beta1, beta2), eps)` |
# | `adamax_step(lr, beta1, beta2, eps)` | `Adamax(params, lr, betas=(beta1, beta2), eps)` |
# | `step_decay`, `exponential_decay`, `cosine_decay` | `lr_scheduler.StepLR`, `ExponentialLR`, `CosineAnnealingLR` |
#
# A torch training loop: `opt.zero_grad(); loss.backward(); opt.step()` per batch and `scheduler.step()` per epoch.
# Note torch's `weight_decay` is L2 added to the gradient; `AdamW` decouples it (it shrinks $w$ directly), which is
# not the same as L2 for adaptive methods.

# %%
# The same digits model trained with torch.optim.Adam and with deepkit.optim.adam_step: identical losses
rng = np.random.default_rng(0)
batches = [rng.choice(N, 32, replace=False) for _ in range(50)]
w, state = np.zeros(D * C + C), {}
p = torch.zeros(D * C + C, requires_grad=True)
opt = torch.optim.Adam([p], lr=0.01)
Xt, yt = torch.tensor(X), torch.tensor(y)
for idx in batches:
    w, state = optim.adam_step(w, loss_grad(w, X[idx], y[idx])[1], state, lr=0.01)
    opt.zero_grad()
    torch.nn.functional.cross_entropy(Xt[idx] @ p[: D * C].reshape(D, C) + p[D * C :], yt[idx]).backward()
    opt.step()
print(
    f"after 50 Adam steps: deepkit loss {loss_grad(w, X, y)[0]:.10f}, torch loss "
    f"{loss_grad(p.detach().numpy(), X, y)[0]:.10f}, max |w difference| {np.abs(w - p.detach().numpy()).max():.1e}"
)
assert np.allclose(w, p.detach().numpy(), atol=1e-10)

# %% [markdown]
# ## Common mistakes
#
# * **Adam without bias correction**: the first steps are ~3× too large with the default $\beta_2 = 0.999$, and the
#   early steps are tied to the gradient scale. Keep $t$ in the state and start it at 1 on the first step.
# * **$\epsilon$ in the wrong place**: torch's RMSProp/Adam/Adagrad use $\sqrt{a} + \epsilon$; $\sqrt{a + \epsilon}$
#   is a different method (identical only when $\epsilon$ is negligible).
# * **Nesterov coded as plain momentum**, or evaluating the gradient at $w + \mu v$ while also using the
#   rearranged update (look-ahead counted twice).
# * **Resetting Adagrad's accumulator** (re-creating the state each step): the method turns into sign-like SGD.
# * **Momentum sign errors**: with torch's $v = \mu v + g$ you subtract $\eta v$; with CS231n's $v = \mu v - \eta g$ you add $v$.
#   Mixing the two conventions climbs the loss.
# * **Mutating inputs** (`w -= lr * dw` on the caller's array, `state["v"] *= mu`): the caller's copy changes too,
#   which breaks anything that keeps the previous parameters (early stopping, checkpoints, the gradient check).
# * **Changing the learning rate of CS231n-style momentum mid-training** is not the same as changing torch's.
#
# Seed-notes corrections: the Adam update quoted "like autograd/RMSprop" means Adagrad/RMSProp; "Adagrad,
# RMSprop, Adadelta" (not "Adadelta, RMSprop, Adadelta") head down the saddle fastest; AdaMax still bias-corrects
# $m_t$ (only $u_t$ needs none).
