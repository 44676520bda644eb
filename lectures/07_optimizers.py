# %% [markdown]
# # 07 · Optimizers: from gradient descent to Adam
#
# Training a network means minimising a loss $L(w) = \frac1N\sum_{i=1}^N \ell_i(w)$ with nothing but gradients.
# This lecture builds the family of first-order methods one idea at a time, and checks every formula with numbers:
#
# 1. batch, stochastic and mini-batch gradient descent: what noise the batch size buys, and what it costs;
# 2. choosing the learning rate: the stability limit $2/\lambda_{\max}$;
# 3. learning-rate schedules (step, exponential, cosine, 1/t, warm-up, reduce-on-plateau), why SGD needs a
#    decaying rate to converge at all (Robbins-Monro), and momentum schedules;
# 4. momentum and Nesterov momentum (both forms, and the rearrangement that makes Nesterov practical);
# 5. per-coordinate learning rates: Adagrad, RMSProp, and Adadelta derived from the units of Newton's step;
# 6. Adam with its bias correction (we measure the bias), and AdaMax;
# 7. saddle points versus local minima;
# 8. one network trained with each of the eight rules;
# 9. an explorer of all eight rules on four 2-D surfaces.
#
# All rules live in `deepkit.optim` as pure functions `w_new, state_new = rule_step(w, dw, state, **hyper)`;
# we check each against `torch.optim` in float64.

# %%
import _course  # puts the reference deepkit (reference/) on the path; inline figures; float64 printing
import numpy as np
import time
import warnings

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
# Every rule of `deepkit.optim` also takes torch's `weight_decay` $\lambda$: the gradient it uses is
# $g + \lambda w$, the gradient of the L2 penalty $\frac\lambda2\lVert w\rVert^2$ added to the loss (so plain SGD
# shrinks $w$ by the factor $1 - \eta\lambda$ at every step, "weight decay").
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
# ## 2. Choosing the learning rate
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
# that does not diverge, then decay it: the next section says why the decay is not optional.)
#
# ## 3. Learning-rate schedules, and why SGD needs a decaying rate
#
# **Why decay at all (Robbins-Monro).** Take the simplest noisy problem, $f(w) = \frac h2 w^2$ with stochastic
# gradients $g_t = h w_t + \sigma\xi_t$ ($\xi_t$ independent, mean 0, variance 1). SGD with rates $\eta_t$ gives
# $$w_{t+1} = (1 - \eta_t h)\,w_t - \eta_t\sigma\xi_t,\qquad
# \mathbb E\,w_{t+1} = (1-\eta_t h)\,\mathbb E\,w_t,\qquad
# \operatorname{Var} w_{t+1} = (1-\eta_t h)^2 \operatorname{Var} w_t + \eta_t^2\sigma^2 .$$
# * The mean is $w_0\prod_t (1 - \eta_t h) \approx w_0\, e^{-h\sum_t \eta_t}$: it reaches the minimum only if
#   $\sum_t \eta_t = \infty$ (the steps must be able to travel any distance).
# * With a **constant** rate the variance settles where $V = (1-\eta h)^2 V + \eta^2\sigma^2$, i.e.
#   $V_\infty = \dfrac{\eta\,\sigma^2}{h\,(2 - \eta h)}$: SGD never converges, it hovers in a cloud whose size is
#   proportional to $\eta$. Killing the noise needs $\eta_t \to 0$, fast enough that $\sum_t \eta_t^2 < \infty$.
#
# These are the Robbins-Monro conditions (1951): $\sum \eta_t = \infty$, $\sum \eta_t^2 < \infty$; $\eta_t = a/(t+b)$
# satisfies both, and for $2ah > 1$ the variance then falls like $V_t \approx \frac{a^2\sigma^2}{(2ah-1)\,t}$.
# The numbers, from the exact recursions and from 20 000 simulated runs ($h = \sigma = 1$, $w_0 = 5$, 3000 steps):

# %%
rng = np.random.default_rng(0)
h_rm, sigma, w_start, T = 1.0, 1.0, 5.0, 3000
steps_t = np.arange(T)
rates = {
    "constant 0.1": np.full(T, 0.1),
    "a/(t+b): 1/(t+10)": 1.0 / (steps_t + 10),
    "too fast: 1/(t+2)^2": 1.0 / (steps_t + 2.0) ** 2,
}
print(f"{'rate':>20} {'sum eta':>8} {'sum eta^2':>10} {'E w_T exact':>12} {'Var w_T exact':>14} {'simulated':>10}")
rm = {}
for name, eta in rates.items():
    mean, var = w_start, 0.0
    w = np.full(20000, w_start)
    for e in eta:
        mean, var = (1 - e * h_rm) * mean, (1 - e * h_rm) ** 2 * var + e**2 * sigma**2
        w = (1 - e * h_rm) * w - e * sigma * rng.standard_normal(w.size)
    rm[name] = (mean, var, w.var())
    print(f"{name:>20} {eta.sum():8.2f} {np.sum(eta**2):10.4f} {mean:12.2e} {var:14.3e} {w.var():10.3e}")
    se = var * np.sqrt(2 / (w.size - 1))  # standard error of a sample variance (Gaussian w)
    assert abs(w.var() - var) < 6 * se and abs(w.mean() - mean) < 6 * np.sqrt(var / w.size) + 1e-12
stationary = 0.1 * sigma**2 / (h_rm * (2 - 0.1 * h_rm))
asymptotic = 1.0**2 * sigma**2 / ((2 * 1.0 * h_rm - 1) * (T + 10))
print(f"constant rate: stationary variance eta sigma^2 / (h (2 - eta h)) = {stationary:.4e}")
print(f"1/(t+10): a^2 sigma^2 / ((2ah - 1) t) at t = T: {asymptotic:.3e}")
assert np.isclose(rm["constant 0.1"][1], stationary, rtol=1e-9)
assert abs(rm["a/(t+b): 1/(t+10)"][1] / asymptotic - 1) < 0.02
assert rm["too fast: 1/(t+2)^2"][0] > 1.0  # sum eta is finite: the mean stops short of the minimum

# %% [markdown]
# The constant rate ends in a cloud of variance $0.053$ around the minimum however long it runs; $1/(t+10)$ keeps
# shrinking it like $1/t$ (here to $3.3\cdot10^{-4}$); $1/(t+2)^2$ decays so fast that $\sum\eta_t \approx 0.64$ and
# the mean is stuck at $w_0\prod_t(1-\eta_t h) = 2.5$, halfway from $w_0 = 5$ to the minimum. In practice nobody uses a pure $1/t$ on deep
# networks (it decays too early), but every schedule below ends small for exactly this reason.
#
# **The schedules.** Each maps the step or epoch $t$ (counted from 0: at $t = 0$ every schedule gives its starting
# rate) to a rate, and matches a scheduler of `torch.optim.lr_scheduler`:
#
# | schedule | $\eta_t$ | torch |
# |---|---|---|
# | step | $\eta_0\,\gamma^{\lfloor t/s\rfloor}$ | `StepLR(s, gamma)` |
# | exponential | $\eta_0\,\gamma^{t}$ | `ExponentialLR(gamma)` |
# | cosine | $\eta_{\min} + (\eta_0-\eta_{\min})\frac{1+\cos(\pi\min(t,T)/T)}{2}$ | `CosineAnnealingLR(T, eta_min)` |
# | 1/t | $\eta_0/(1+kt)$ | Adagrad's `lr_decay`, `LambdaLR` |
# | linear warm-up | $\eta_0\,(f + (1-f)\min(t,W)/W)$ | `LinearLR(start_factor=f, total_iters=W)` |
# | warm-up + cosine | warm-up for $t<W$, then cosine over $T-W$ steps | `SequentialLR([LinearLR, CosineAnnealingLR], [W])` |
#
# **Warm-up** starts small on purpose: at initialisation the gradients can be large and their directions
# unreliable (and Adam's $v$ has seen only a few gradients), so a few hundred small steps keep the first updates
# from throwing the weights somewhere bad; a rate of exactly 0 at $t = 0$ would waste a step, hence the starting
# factor $f > 0$. **Reduce-on-plateau** does not follow the clock: it watches the validation loss and multiplies
# the rate by `factor` when the loss has not improved on its best (by more than a relative `threshold`) for more
# than `patience` epochs; a loss *equal* to the best is not an improvement.

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


with warnings.catch_warnings():  # SequentialLR passes a deprecated epoch argument to its schedulers
    warnings.simplefilter("ignore")
    warm_cos = torch_lrs(
        lambda o: sched.SequentialLR(
            o, [sched.LinearLR(o, 0.1, total_iters=8), sched.CosineAnnealingLR(o, 51, 1e-3)], milestones=[8]
        )
    )
schedules = {  # name: (deepkit, torch)
    "step (s = 15, γ = 0.5)": (optim.step_decay(0.1, t, 15, 0.5), torch_lrs(lambda o: sched.StepLR(o, 15, 0.5))),
    "exponential (γ = 0.95)": (
        optim.exponential_decay(0.1, t, 0.95),
        torch_lrs(lambda o: sched.ExponentialLR(o, 0.95)),
    ),
    "cosine (T = 59)": (
        optim.cosine_decay(0.1, t, 59, 1e-3),
        torch_lrs(lambda o: sched.CosineAnnealingLR(o, 59, 1e-3)),
    ),
    "1/t (k = 0.1)": (
        optim.inverse_time_decay(0.1, t, 0.1),
        torch_lrs(lambda o: sched.LambdaLR(o, lambda e: 1 / (1 + 0.1 * e))),
    ),
    "warm-up (W = 8, f = 0.1)": (
        optim.linear_warmup(0.1, t, 8, 0.1),
        torch_lrs(lambda o: sched.LinearLR(o, 0.1, total_iters=8)),
    ),
    "warm-up + cosine (W = 8, T = 59)": (optim.warmup_cosine(0.1, t, 8, 59, 0.1, 1e-3), warm_cos),
}
fig, ax = plt.subplots(figsize=(7, 2.8))
for name, (lr, ref) in schedules.items():
    print(f"{name:34s} rate at t = 0: {lr[0]:.4f}   max |ours - torch| = {np.abs(lr - ref).max():.1e}")
    assert np.allclose(lr, ref, rtol=1e-10) and lr[0] > 0
    ax.plot(t, lr, label=name)
ax.set_xlabel("epoch t")
ax.set_ylabel("learning rate")
ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# Reduce-on-plateau on a real run: softmax regression on the digits with mini-batch SGD, 30 epochs, the
# validation loss measured after each epoch and handed to `reduce_on_plateau` (and to torch's
# `ReduceLROnPlateau`, which must set the same rates).

# %%
Xv, yv = split.X_val, split.y_val
w_p, lr_now, val_losses, lrs_used = np.zeros(D * C + C), 0.5, [], []
rng_p = np.random.default_rng(0)
for epoch in range(30):
    lrs_used.append(lr_now)
    for Xb, yb in data.minibatches(X, y, 32, rng_p):
        w_p, _ = optim.sgd_step(w_p, loss_grad(w_p, Xb, yb)[1], {}, lr=lr_now)
    val_losses.append(loss_grad(w_p, Xv, yv)[0])
    lr_now = float(optim.reduce_on_plateau(0.5, val_losses, factor=0.3, patience=2, threshold=1e-3)[-1])
plateau_lrs = optim.reduce_on_plateau(0.5, val_losses, factor=0.3, patience=2, threshold=1e-3)
p = torch.zeros(1, requires_grad=True)
opt = torch.optim.SGD([p], lr=0.5)
on_plateau = sched.ReduceLROnPlateau(opt, factor=0.3, patience=2, threshold=1e-3)
torch_plateau = [0.5]
for v in val_losses:
    on_plateau.step(v)
    torch_plateau.append(opt.param_groups[0]["lr"])
print("validation loss per epoch:", np.round(val_losses, 4))
print("rate per epoch:           ", np.round(lrs_used, 4))
assert np.allclose(plateau_lrs, torch_plateau, rtol=1e-12) and np.allclose(plateau_lrs[:-1], lrs_used)
assert plateau_lrs[-1] < 0.5  # the plateau was detected and the rate cut

# %% [markdown]
# **Momentum schedules.** The same idea for $\mu$ (the source notes, after CS231n): start near 0.5 and raise it
# (to 0.9, or 0.99 for long noisy runs) over some epochs, `momentum_ramp(t, ramp, mu0, mu1)`. Early on, with large
# gradients, a heavy ball overshoots; once the gradients are small and noisy, a large $\mu$ averages more of them
# (the step is about $\eta/(1-\mu)$ times their running mean). torch has no momentum scheduler for SGD, but
# `SGD.step()` reads `param_groups[0]["momentum"]` at every step, so setting it is all it takes (torch's velocity does
# not store the learning rate, so changing $\mu$ or $\eta$ mid-run is safe). On the $\kappa = 100$ quadratic of
# section 4 below with $\eta = 0.15$, $\mu = 0.9$ fixed against a ramp 0.5 → 0.9 over 50 steps, and the ramp in torch:

# %%
rng = np.random.default_rng(0)
q5, _ = np.linalg.qr(rng.normal(size=(5, 5)))
H5 = (q5 * np.array([0.1, 0.5, 1.0, 5.0, 10.0])) @ q5.T
w_init = rng.normal(size=5)
ramped = {}
for name, mus in (
    ("fixed 0.9", np.full(300, 0.9)),
    ("ramp 0.5 -> 0.9", optim.momentum_ramp(np.arange(300), 50, 0.5, 0.9)),
):
    w_m, st_m, worst = w_init.copy(), {}, 0.0
    for mu in mus:
        w_m, st_m = optim.sgd_momentum_step(w_m, H5 @ w_m, st_m, lr=0.15, momentum=mu)
        worst = max(worst, 0.5 * w_m @ H5 @ w_m)
    ramped[name] = (worst, np.linalg.norm(w_m), w_m)
    print(
        f"{name:16s} largest loss after a step {worst:.3f} (start {0.5 * w_init @ H5 @ w_init:.3f}), |w_300| = {np.linalg.norm(w_m):.1e}"
    )
p = torch.tensor(w_init.copy(), requires_grad=True)
opt = torch.optim.SGD([p], lr=0.15, momentum=0.5)
for mu in optim.momentum_ramp(np.arange(300), 50, 0.5, 0.9):
    opt.param_groups[0]["momentum"] = float(mu)
    p.grad = torch.tensor(H5 @ p.detach().numpy())
    opt.step()
print(
    f"torch SGD with param_groups[0]['momentum'] set each step: max |difference| {np.abs(p.detach().numpy() - ramped['ramp 0.5 -> 0.9'][2]).max():.1e}"
)
assert np.allclose(ramped["ramp 0.5 -> 0.9"][2], p.detach().numpy(), rtol=1e-10, atol=1e-14)
assert (
    ramped["ramp 0.5 -> 0.9"][0] < 0.5 * ramped["fixed 0.9"][0]
    and ramped["ramp 0.5 -> 0.9"][1] < ramped["fixed 0.9"][1]
)

# %% [markdown]
# The fixed heavy ball's first steps overshoot (the loss climbs back to 2.4 of its starting 2.9); the ramp never
# goes above 0.43 and ends closer to the minimum. A ramp to 0.99 would be too much on this noise-free problem: the
# best constant $\mu$ for a step $\eta$ is about $(1-\sqrt{\eta\lambda_{\min}})^2$ (0.77 here); beyond it the ball
# spirals (try $\mu = 0.99$ on the quadratic in the explorer).

# %% [markdown]
# ## 4. Momentum and Nesterov momentum
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
# ## 5. Per-coordinate learning rates: Adagrad, RMSProp, Adadelta
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
# Adadelta additionally replaces $\eta$ by the RMS of recent steps, so the step has the units of $w$ (derived
# below; the paper has no learning rate, torch keeps an `lr` factor, default 1). Note where $\epsilon$ sits: **outside** the root
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
# **Adadelta from the units of Newton's step** (Zeiler, 2012). Give $w$ some unit (metres, say) and the loss
# another. The gradient $\partial f/\partial w$ then has units of $f/w$ and the curvature $\partial^2 f/\partial w^2$
# of $f/w^2$, so
#
# * an SGD step $\eta\, g$ has units of $f/w$: to be a length, $\eta$ must carry units $w^2/f$, which is why its good
#   value depends on how the problem is scaled;
# * an Adagrad/RMSProp/Adam step $\eta\, g/\mathrm{RMS}[g]$ is unit-free: $\eta$ must carry the units of $w$;
# * Newton's step $\Delta w = H^{-1}g$ has units $(f/w)/(f/w^2) = w$: right by construction.
#
# Zeiler's idea: in one coordinate, Newton says $\Delta w = g/\frac{\partial^2 f}{\partial w^2}$, i.e.
# $\frac{1}{\partial^2 f/\partial w^2} = \frac{\Delta w}{g}$. Estimate that ratio from the recent past, with
# running RMS values of the steps and of the gradients: $\Delta w_t = \frac{\mathrm{RMS}[\Delta w]_{t-1}}{\mathrm{RMS}[g]_t}
# \, g_t$, with $\mathrm{RMS}[y]_t = \sqrt{E[y^2]_t + \epsilon}$. ($\mathrm{RMS}[\Delta w]$ stops at $t-1$ because
# $\Delta w_t$ is what we are computing.) The step now has the units of $w$ with no learning rate at all.
#
# The argument, checked with numbers on a 2-D quadratic (100 steps each, the same starting point): **(a)** multiply
# the loss by $k = 10$; **(b)** change the unit of $w$, $w = c\,u$ with $c = 3$, and run on $u$. A method that
# respects the units draws the same path in $w$. Newton is exact in both; Adadelta is exact too if its two
# $\epsilon$'s are given their units ($\epsilon_{\Delta}$ in $w^2$, $\epsilon_g$ in $(f/w)^2$, rescaled with the
# problem); torch's Adadelta uses one $\epsilon$ for both, so its first steps, whose size is $\sqrt{\epsilon}$ in
# whatever unit $w$ has, break (b).

# %%
H2 = np.array([[3.0, 1.0], [1.0, 0.5]])
w0_2 = np.array([1.5, -2.0])


def path_of(step, grad, w0, n=100, **h):
    w, st, out = w0.copy(), {}, [w0.copy()]
    for _ in range(n):
        w, st = step(w, grad(w), st, **h)
        out.append(w)
    return np.array(out)


def newton_step(w, g, st, hess):
    return w - np.linalg.solve(hess, g), st


def adadelta_units(w, g, st, rho=0.9, eps_dw=1e-6, eps_g=1e-6):
    """Adadelta with one epsilon per unit: eps_dw for E[dw^2] (units of w^2), eps_g for E[g^2]."""
    sq = rho * st.get("sq", 0.0) + (1 - rho) * g * g
    dw = np.sqrt(st.get("acc", 0.0) + eps_dw) / np.sqrt(sq + eps_g) * g
    return w - dw, {"sq": sq, "acc": rho * st.get("acc", 0.0) + (1 - rho) * dw * dw}


k_f, c_w = 10.0, 3.0
grad_f = lambda v: H2 @ v  # noqa: E731
grad_kf = lambda v: k_f * (H2 @ v)  # noqa: E731 - (a) the loss times k
grad_u = lambda u: c_w * (H2 @ (c_w * u))  # noqa: E731 - (b) f(c u) as a function of u
methods = {  # name: (step, hyper for f, for k f, for u)
    "SGD (lr 0.01)": (optim.sgd_step, {"lr": 0.01}, {"lr": 0.01}, {"lr": 0.01}),
    "RMSProp (lr 0.01)": (optim.rmsprop_step, {"lr": 0.01}, {"lr": 0.01}, {"lr": 0.01}),
    "Adam (lr 0.05)": (optim.adam_step, {"lr": 0.05}, {"lr": 0.05}, {"lr": 0.05}),
    "Adadelta, torch (one eps)": (optim.adadelta_step, {}, {}, {}),
    "Adadelta, eps with units": (
        adadelta_units,
        {},
        {"eps_g": 1e-6 * k_f**2},
        {"eps_dw": 1e-6 / c_w**2, "eps_g": 1e-6 * c_w**2},
    ),
    "Newton": (newton_step, {"hess": H2}, {"hess": k_f * H2}, {"hess": c_w**2 * H2}),
}
print(f"{'':27s} {'(a) loss x 10':>15} {'(b) w = 3 u':>13}   max |path difference| in w")
units = {}
for name, (step, h, h_k, h_u) in methods.items():
    base = path_of(step, grad_f, w0_2, **h)
    units[name] = (
        np.abs(path_of(step, grad_kf, w0_2, **h_k) - base).max(),
        np.abs(c_w * path_of(step, grad_u, w0_2 / c_w, **h_u) - base).max(),
    )
    print(f"{name:27s} {units[name][0]:15.1e} {units[name][1]:13.1e}")
assert units["SGD (lr 0.01)"][0] > 0.1 and units["SGD (lr 0.01)"][1] > 0.1
assert units["RMSProp (lr 0.01)"][0] < 1e-6 < 0.1 < units["RMSProp (lr 0.01)"][1]  # unit-free: wrong for (b)
assert max(units["Newton"]) < 1e-12 and max(units["Adadelta, eps with units"]) < 1e-12
assert units["Adadelta, torch (one eps)"][1] > 0.1

# %% [markdown]
# ## 6. Adam, its bias correction, and AdaMax
#
# Adam combines momentum (a leaky average $m$ of gradients) with RMSProp (a leaky average $v$ of squared gradients):
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
# w_t = w_{t-1} - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$
# Both averages start at 0, so early on they are biased towards 0. Unrolling,
# $m_t = (1-\beta_1)\sum_{k=1}^t \beta_1^{t-k} g_k$, and if the $g_k$ have mean $\bar g$,
# $\mathbb E\, m_t = (1 - \beta_1^t)\,\bar g$ (the weights sum to $1-\beta_1^t$). Hence the corrections
# $\hat m_t = m_t/(1-\beta_1^t)$ and $\hat v_t = v_t/(1-\beta_2^t)$. (The paper's section 2 also writes the same
# update as $\eta_t = \eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)$, $w_t = w_{t-1} - \eta_t m_t/(\sqrt{v_t} + \hat\epsilon)$,
# TensorFlow's form: identical except where $\epsilon$ sits, $\hat\epsilon = \epsilon\sqrt{1-\beta_2^t}$; torch follows
# Algorithm 1, and the exercise accepts both. Weight decay: torch's `Adam(weight_decay=λ)` adds $\lambda w$ to $g$
# before both averages, so it is divided by $\sqrt{\hat v}$ like the gradient; `AdamW` instead subtracts
# $\eta\lambda w$ directly, a different method for adaptive rules.) With the defaults
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
# $\mathbb E\,m_t$ matches $1-\beta_1^t$ and the corrected averages are unbiased. How much too large are the
# uncorrected steps? For a steady gradient $g$ (no noise) both averages are exact geometric sums,
# $m_t = (1-\beta_1^t)\,g$ and $v_t = (1-\beta_2^t)\,g^2$, so the uncorrected step is
# $$\frac{m_t}{\sqrt{v_t}} = \frac{1-\beta_1^t}{\sqrt{1-\beta_2^t}}\;\mathrm{sign}(g)
# \qquad\text{times } \eta,\ \text{against } \eta\,\mathrm{sign}(g) \text{ with the correction.}$$
# At $t = 1$ that is $0.1/\sqrt{0.001} = 3.16$; the numerator then grows faster than the denominator, so the
# ratio keeps **rising** for a while, peaks near $t = 12$ at about 6.6, and comes down only slowly, on the time
# scale $1/(1-\beta_2) = 1000$ of $v$: still about 2 at $t = 300$. Not "about 3x": between 2x and 6.6x for
# hundreds of steps. (The noisy run above, column "uncorrected step / lr", follows the same curve.)

# %%
t_adam = np.arange(1, 2001)
ratio = (1 - 0.9**t_adam) / np.sqrt(1 - 0.999**t_adam)
peak = int(t_adam[np.argmax(ratio)])
# the closed form against Adam itself: uncorrected m / sqrt(v) after t steps of a constant gradient
m_c = v_c = 0.0
for k in range(300):
    m_c, v_c = 0.9 * m_c + 0.1 * 0.7, 0.999 * v_c + 0.001 * 0.7**2
print(
    f"t = 1: {ratio[0]:.2f}x   peak {ratio.max():.2f}x at t = {peak}   t = 300: {ratio[299]:.2f}x   t = 2000: {ratio[-1]:.2f}x"
)
assert np.isclose(ratio[0], 0.1 / np.sqrt(0.001)) and np.isclose(m_c / np.sqrt(v_c), ratio[299], rtol=1e-12)
assert 3.1 < ratio[0] < 3.2 and 6.5 < ratio.max() < 6.7 and 11 <= peak <= 13 and 1.9 < ratio[299] < 2.0
fig, ax = plt.subplots(figsize=(6, 2.6))
ax.semilogx(t_adam, ratio)
ax.axhline(1, color="k", lw=0.8, ls="--")
ax.set(xlabel="step t", ylabel="uncorrected / corrected step", title="Adam without bias correction, β = (0.9, 0.999)")
plt.show()

# %% [markdown]
# With correction the first step is $\eta\,\mathrm{sign}(g_1)$ (for $\epsilon \ll |g|$): Adam's step size is set
# by $\eta$, not by the gradient's scale. Check against torch, and the scale invariance:

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
# average does, so $u$ needs no bias correction (as the source notes say: "we do not need to compute a bias
# correction for $u_t$"); $m$ is still an average started at 0 and keeps its correction: the step is
# $w_t = w_{t-1} - \frac{\eta}{1-\beta_1^t} \frac{m_t}{u_t}$. Where $\epsilon$ goes is a convention: torch puts it
# inside the max, Keras/TensorFlow add it to $u_t$ in the denominator; the paper has none (both are accepted
# by the exercise's checks). The limit, numerically (the $(1-\beta_2^p)^{1/p}$ factor tends to 1):

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
# ## 7. Saddle points versus local minima
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
# ## 8. One network trained with each of the eight rules
#
# The sections above isolate one mechanism at a time on small problems. Now the whole picture on real data, as
# careful comparisons do it: one ReLU MLP (64-64-64-64-10) on the digits, **the same** initial weights (Kaiming
# normal, one seed), **the same** mini-batches of 64, 10 epochs; only the update rule changes, each at a customary
# learning rate (torch's defaults for the adaptive rules, a few times larger for AdaMax; SGD 0.1 and the momentum
# rules 0.01, since momentum multiplies the effective step by $1/(1-\mu) = 10$). We record per epoch the validation
# **accuracy**; per layer the **gradient flow** (mean $|\partial L/\partial W|$) and the size of the **update
# relative to the weights**, $\|\Delta W\|/\|W\|$, averaged over the training steps; and after training the
# **dead** ReLUs per hidden layer (no validation digit activates them).

# %%
SIZES = [64, 64, 64, 64, 10]
RULES = {
    "sgd": {"lr": 0.1},
    "sgd_momentum": {"lr": 0.01, "momentum": 0.9},
    "nesterov": {"lr": 0.01, "momentum": 0.9},
    "adagrad": {"lr": 0.05},
    "adadelta": {"lr": 1.0},
    "rmsprop": {"lr": 1e-3},
    "adam": {"lr": 1e-3},
    "adamax": {"lr": 2e-3},
}


def mlp_grads(params, X, y):
    """Loss, per-layer [dW, db] and hidden pre-activations of the ReLU MLP ``params`` = [[W, b], ...]."""
    h, caches, zs = X, [], []
    for W, b in params[:-1]:
        z, c_aff = layers.affine_forward(h, W, b)
        h, c_relu = layers.relu_forward(z)
        caches.append((c_aff, c_relu))
        zs.append(z)
    scores, c_out = layers.affine_forward(h, *params[-1])
    loss, dscores = losses.softmax_loss(scores, y)
    dh, dW, db = layers.affine_backward(dscores, c_out)
    grads = [(dW, db)]
    for c_aff, c_relu in reversed(caches):
        dh, dW, db = layers.affine_backward(layers.relu_backward(dh, c_relu), c_aff)
        grads.append((dW, db))
    return loss, grads[::-1], zs, scores


def train_with(rule, hyper, epochs=10):
    """Train the MLP with ``optim.OPTIMIZERS[rule]``; per-epoch accuracy, per-layer flow and update ratio, dead units."""
    rng = np.random.default_rng(0)  # the same initial weights for every rule
    params = [[rng.normal(0, np.sqrt(2 / a), (a, b)), np.zeros(b)] for a, b in zip(SIZES[:-1], SIZES[1:])]
    states = [[{}, {}] for _ in params]  # one optimizer state per array
    batches, accs, ratio, flow, steps = np.random.default_rng(1), [], 0.0, 0.0, 0  # the same mini-batches too
    for _ in range(epochs):
        for xb, yb in data.minibatches(split.X_train, split.y_train, 64, batches):
            _, grads, _, _ = mlp_grads(params, xb, yb)
            w_before = [p[0] for p in params]
            for p, g, st in zip(params, grads, states):
                for i in range(2):
                    p[i], st[i] = optim.OPTIMIZERS[rule](p[i], g[i], st[i], **hyper)
            ratio = ratio + np.array([np.linalg.norm(p[0] - w) / np.linalg.norm(w) for p, w in zip(params, w_before)])
            flow, steps = flow + np.array([np.abs(g[0]).mean() for g in grads]), steps + 1
        _, _, zs, scores = mlp_grads(params, split.X_val, split.y_val)
        accs.append(np.mean(scores.argmax(axis=1) == split.y_val))
    dead = np.array([np.mean(np.all(z <= 0, axis=0)) for z in zs])
    return {"acc": np.array(accs), "ratio": ratio / steps, "flow": flow / steps, "dead": dead}


t8 = time.perf_counter()
runs = {rule: train_with(rule, hyper) for rule, hyper in RULES.items()}
print(f"8 rules x 10 epochs in {time.perf_counter() - t8:.1f} s\n")
print(
    f"{'rule':>12} {'lr':>6} | val. acc. epoch 1 / 10 | mean |dL/dW|, layer 1..4 | "
    f"|dW|/|W| per step, layer 1..4 | dead, layer 1 2 3"
)
for rule, r in runs.items():
    flow = " ".join(f"{g:.1e}" for g in r["flow"])
    ratio = " ".join(f"{g:.1e}" for g in r["ratio"])
    dead = " ".join(f"{d:4.0%}" for d in r["dead"])
    print(f"{rule:>12} {RULES[rule]['lr']:6g} | {r['acc'][0]:9.3f} / {r['acc'][-1]:.3f}    | {flow} | {ratio} | {dead}")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.3))
for rule, r in runs.items():
    ax1.plot(range(1, len(r["acc"]) + 1), r["acc"], label=rule, ls="-" if "sgd" in rule or rule == "nesterov" else "--")
    ax2.semilogy(range(1, 5), r["ratio"], "o-", label=rule)
ax1.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0.5, 1.0))
ax2.set(xlabel="layer (4 = output)", ylabel="mean |ΔW| / |W| per step", xticks=range(1, 5))
ax2.legend(fontsize=7, ncol=2)
plt.show()
spread = {rule: r["ratio"].max() / r["ratio"].min() for rule, r in runs.items()}
assert all(0.92 < r["acc"][-1] < 0.97 for r in runs.values())  # every rule, at its customary rate, learns the digits
assert all(spread[rule] > 2 for rule in ("sgd", "sgd_momentum", "nesterov"))  # the step follows each layer's gradient
assert all(spread[rule] < 1.4 for rule in ("adagrad", "adadelta", "rmsprop", "adam", "adamax"))  # per-coordinate rates
assert runs["adagrad"]["ratio"].min() > max(runs[r]["ratio"].max() for r in RULES if r != "adagrad")
assert (
    runs["adagrad"]["dead"][0]
    == runs["adagrad"]["dead"].max()
    > max(runs[r]["dead"][0] for r in RULES if r != "adagrad")
)

# %% [markdown]
# What the numbers say. With each rule at its customary rate all eight learn the digits to 93-96% in 10 epochs on
# this small problem: differences of a point or two are within seed-to-seed noise, and no rule is "best" in
# general. What differs is *how* they move the weights. The three SGD rules step along the gradient, so each
# layer's relative update follows its gradient: the output layer, whose gradient is largest, moves more than twice
# as fast (relative to its weights) as the hidden layers. The five adaptive rules divide by a per-coordinate
# gradient scale, so every layer moves at about the same relative rate (within 1.3x): the effect of section 5 at
# the scale of layers. Adagrad's rate 0.05 is large in that normalised sense: its first step moves every
# coordinate by $\eta$ itself, about a third of a typical weight ($E|w| \approx 0.14$ for Kaiming weights of fan-in
# 64). It makes the largest relative updates of the eight and kills the most first-layer ReLUs before its growing
# sum of squared gradients slows it down. Tune the learning rate for each rule
# separately before comparing rules: at one shared rate the comparison mostly measures the rate.
#
# ## 9. Explorer
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
# (each rule starts from a rate that suits the surface, listed under the plot), momentum, $\beta_1, \beta_2$,
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
# ## 10. In PyTorch
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
# | `inverse_time_decay`, `linear_warmup`, `warmup_cosine` | `LambdaLR`, `LinearLR`, `SequentialLR([LinearLR, CosineAnnealingLR])` |
# | `reduce_on_plateau(lr0, val_losses, ...)` | `ReduceLROnPlateau(opt, ...)`, `.step(val_loss)` once per epoch |
# | `momentum_ramp` | set `opt.param_groups[0]["momentum"]` before each `opt.step()` |
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
# * **Adam without bias correction**: with the default $\beta_2 = 0.999$ the first step is 3.2× too large, the
#   error grows to 6.6× around step 12 and is still 2× at step 300 (section 6), and the early steps are tied to
#   the gradient scale. Keep $t$ in the state and start it at 1 on the first step.
# * **$\epsilon$ in the wrong place**: torch's RMSProp/Adam/Adagrad use $\sqrt{a} + \epsilon$; $\sqrt{a + \epsilon}$
#   is a different method (identical only when $\epsilon$ is negligible). Adam's other documented form (the paper's
#   $\hat\epsilon$) is fine; a guess is not.
# * **Nesterov coded as plain momentum**, or evaluating the gradient at $w + \mu v$ while also using the
#   rearranged update (look-ahead counted twice).
# * **Resetting Adagrad's accumulator** (re-creating the state each step): the method turns into sign-like SGD.
# * **Momentum sign errors**: with torch's $v = \mu v + g$ you subtract $\eta v$; with CS231n's $v = \mu v - \eta g$ you add $v$.
#   Mixing the two conventions climbs the loss. And `momentum or 0.9`: a momentum of 0 is a setting (plain SGD).
# * **Mutating inputs** (`w -= lr * dw` on the caller's array, `state["v"] *= mu`): the caller's copy changes too,
#   which breaks anything that keeps the previous parameters (early stopping, checkpoints, the gradient check).
# * **Changing the learning rate of CS231n-style momentum mid-training** is not the same as changing torch's.
# * **Schedules off by one**: $t$ counts from 0 and the rate at $t = 0$ is the starting rate (a warm-up starts at
#   $f\eta_0$, not 0); reduce-on-plateau cuts when the count of bad epochs *exceeds* the patience, compares with
#   the best loss so far, and restarts the count after a cut.
# * **A constant learning rate for SGD to the end**: it converges to a noise cloud of size $\propto \eta$, not to
#   the minimum (section 3).
#
# Source-notes slips flagged: the Adam update quoted "like autograd/RMSprop" means Adagrad/RMSProp; "Adagrad,
# RMSprop, Adadelta" (not "Adadelta, RMSprop, Adadelta") head down the saddle fastest; "biased towards zero ...
# especially when the decay rates are small (i.e. $\beta_1$ and $\beta_2$ are close to 1)" means the rates
# $1-\beta$ are small (the $\beta$'s themselves are large). The notes' AdaMax is right: $u_t$ needs no bias
# correction; the lecture only adds that $m_t$ keeps its own.
