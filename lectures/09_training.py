# %% [markdown]
# # 09 · Training practice: babysitting a network
#
# The previous lectures built the pieces: layers, losses, initialisation, normalization, dropout, optimizers.
# This one is about *using* them: how to set up a training run so that it works, how to tell early that it does
# not, and how to choose hyper-parameters without burning compute. Everything runs on the reference `deepkit`
# (`deepkit.models`, `deepkit.solver`) and is checked against PyTorch.
#
# 1. data preprocessing: centring and scaling, per feature or per channel, with **training** statistics only; PCA
#    and whitening;
# 2. the training loop (`Solver`) and its equivalence with a PyTorch loop;
# 3. the babysitting checklist: the initial loss, overfitting a tiny subset, reading loss curves;
# 4. the learning rate: a range test in log space;
# 5. hyper-parameter search: random versus grid, coarse to fine, log-uniform sampling;
# 6. monitoring: the update/weight ratio per layer, the train/validation gap;
# 7. a live dashboard, and the capstone numbers (MLP and CNN on the digits, deepkit vs PyTorch).

# %%
import _course  # puts the reference deepkit (reference/) on the path; inline figures; float64 printing
import numpy as np
import copy
import math
import time

import matplotlib.pyplot as plt
import torch

import deepkit as dk
from deepkit.gradcheck import numerical_gradient, rel_error
from deepkit.models import MLP, SmallCNN, apply_preprocess, fit_preprocess, preprocess_split
from deepkit.solver import (
    Solver,
    grid_points,
    initial_loss_check,
    lr_range_test,
    overfit_small_subset,
    random_search,
    refine_space,
    sample_hyperparams,
    update_weight_ratio,
)

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)
split = dk.data.load_digits(seed=0)
print("digits:", split.X_train.shape, split.X_val.shape, split.X_test.shape)

# %% [markdown]
# ## 1. Preprocessing
#
# Gradient descent works best when the inputs are centred and of similar scale. A first-layer unit computes
# $w^\top x$; its weight gradient is $\frac{\partial L}{\partial w} = \delta\, x$ (with $\delta$ the upstream
# scalar). If every input $x_j$ is positive (raw pixels), all components of this gradient share the sign of
# $\delta$: the weights can only all grow or all shrink together, and reaching a mixed-sign target takes a zig-zag
# path. Centring removes that constraint; scaling gives every feature a similar curvature, so one learning rate
# suits all of them.
#
# * **per feature** (MLPs, tabular data): $\mu_j = \frac1N \sum_i x_{ij}$, $\sigma_j^2 = \frac1N\sum_i (x_{ij}-\mu_j)^2$,
#   $\tilde x_{ij} = (x_{ij} - \mu_j)/\sigma_j$ (one $\mu$, $\sigma$ per pixel);
# * **per channel** (images, CNNs): one $\mu_c$, $\sigma_c$ per channel over examples **and** positions
#   ($N \cdot H \cdot W$ numbers each), which keeps the convolution's translation equivariance (every position is
#   treated the same). This is what `torchvision.transforms.Normalize(mean, std)` takes.
#
# PCA and whitening (decorrelate, then scale to unit variance) go one step further; they come after the leak below.
# (The source notes write per-channel centring as "每个通道减去所有通道的平均值", each channel minus the mean of all
# channels: a slip. Each channel gets its own mean, over all examples and positions, as in the second bullet.)
#
# **The rule that matters most:** the statistics are computed on the **training set only** and then applied,
# unchanged, to validation and test data. Otherwise information about the held-out data leaks into training, and
# the validation score stops being an honest estimate.

# %%
data, stats = preprocess_split(split)  # per feature, training statistics
imgs, cstats = preprocess_split(dk.data.load_digits(images=True, seed=0), mode="channel")

# check against torch's reductions (population std, unbiased=False)
Xt = torch.tensor(split.X_train)
err_mean = np.abs(stats["mean"] - Xt.mean(0).numpy()).max()
err_std = np.abs(
    np.where(stats["std"] == 1.0, 1.0, stats["std"])
    - np.where(Xt.std(0, unbiased=False).numpy() < 1e-8, 1.0, Xt.std(0, unbiased=False).numpy())
).max()
It = torch.tensor(dk.data.load_digits(images=True, seed=0).X_train)
err_c = abs(cstats["mean"][0] - It.mean().item()) + abs(cstats["std"][0] - It.std(unbiased=False).item())
print(f"per-feature mean/std vs torch: {err_mean:.1e} {err_std:.1e}; per-channel: {err_c:.1e}")
assert max(err_mean, err_std, err_c) < 1e-12
print("always-blank pixels (std 0, left unscaled):", int((stats["std"] == 1.0).sum()))
print(
    f"train after: mean {data['X_train'].mean():+.2e}, std {data['X_train'].std():.3f};  "
    f"val after: mean {data['X_val'].mean():+.3f} (centred with TRAIN statistics: not exactly 0, as it should be)"
)

# %% [markdown]
# What does a leak change? The statistics themselves (below: fitted on the training set, or on all
# 1,797 images), and with them every number computed downstream. On i.i.d. data like these digits the accuracy
# moves little; with a distribution shift between the training and the held-out data, fitting on the held-out data
# quietly adapts the model to them, and the validation score is no longer an estimate of anything.

# %%
everything = np.concatenate([split.X_train, split.X_val, split.X_test])
leaky = fit_preprocess(everything)
print(
    f"largest change of a pixel mean: {np.abs(leaky['mean'] - stats['mean']).max():.3f}, "
    f"of a pixel std: {np.abs(leaky['std'] - stats['std']).max():.3f}"
)
for name, st in (("train only", stats), ("all data (leak)", leaky)):
    d = {k: (apply_preprocess(v, st) if k.startswith("X") else v) for k, v in vars(split).items()}
    s = Solver(MLP(64, (50,), 10, seed=0), d, "adam", {"lr": 1e-3}, batch_size=50, num_epochs=3).train()
    print(f"statistics from {name:16s} validation accuracy {s.best_val_acc:.3f}")

# %% [markdown]
# ### PCA and whitening
#
# Centring and scaling treat every feature on its own. When features are **correlated** (neighbouring pixels
# are), one can go further (CS231n's "decorrelate, then whiten"), with the covariance of the centred training data:
#
# 1. **centre**: $X_c = X - \mu$;
# 2. **decorrelate** (PCA): the covariance $\Sigma = \frac1N X_c^\top X_c$ is symmetric, so
#    $\Sigma = U \Lambda U^\top$ with orthonormal eigenvectors $U$ and eigenvalues $\lambda_1 \ge \dots \ge \lambda_D \ge 0$.
#    Rotating onto them, $X_{rot} = X_c U$, gives the covariance $U^\top \Sigma U = \Lambda$: the new features are
#    uncorrelated, with variances $\lambda_k$. Keeping the first $k$ columns is **PCA**: the $k$ directions of
#    largest variance, which keep the fraction $\sum_{j\le k}\lambda_j / \sum_j \lambda_j$ of the total variance;
# 3. **whiten**: divide each rotated feature by its standard deviation, $X_{white} = X_c U (\Lambda + \epsilon)^{-1/2}$;
#    its covariance is $\Lambda/(\Lambda+\epsilon)$, the identity where $\lambda \gg \epsilon$. $\epsilon$ matters: the
#    smallest eigenvalues are mostly noise, and dividing by their tiny square roots would blow the noise up;
# 4. **ZCA** rotates back: $X_{zca} = X_{white}\, U^\top$. Still white (covariance $U U^\top = I$), and of all whitening
#    transforms the one that moves the data least: whitened images still look like images (with edges enhanced).
#
# All statistics come from the **training** set, like the mean and std above. The four steps on correlated 2-D
# data, each checked by the number it promises (and against scikit-learn's `PCA(whiten=True)`, which divides by the
# $N-1$ variances where we divide by the $N$ ones):

# %%
from sklearn.decomposition import PCA

from deepkit.models import fit_whitening, pca_whiten, zca_whiten

rng = np.random.default_rng(0)
X2 = rng.normal(size=(500, 2)) @ np.array([[2.0, 0.0], [1.2, 0.5]]).T + np.array([3.0, -2.0])
st2 = fit_whitening(X2)
steps = {
    "original": X2,
    "centred": X2 - st2["mean"],
    "decorrelated (rotated)": pca_whiten(X2, st2, whiten=False),
    "whitened (PCA)": pca_whiten(X2, st2, eps=0.0),
    "whitened (ZCA)": zca_whiten(X2, st2, eps=0.0),
}
fig, axes = plt.subplots(1, 5, figsize=(14, 3), sharex=True, sharey=True)
n2 = len(X2)
for a, (name, Z) in zip(axes, steps.items()):
    cov = (Z - Z.mean(0)).T @ (Z - Z.mean(0)) / n2
    a.scatter(Z[:, 0], Z[:, 1], s=2, alpha=0.5)
    a.axhline(0, color="k", lw=0.5)
    a.axvline(0, color="k", lw=0.5)
    a.set_title(
        f"{name}\nmean ({Z[:, 0].mean():.1f}, {Z[:, 1].mean():.1f}), cov [[{cov[0, 0]:.2f}, {cov[0, 1]:.2f}], "
        f"[., {cov[1, 1]:.2f}]]",
        fontsize=8,
    )
    a.set_aspect("equal")
axes[0].set(xlim=(-6, 8), ylim=(-7, 7))
plt.show()
cov_of = lambda Z: Z.T @ Z / n2  # noqa: E731 - the steps after centring have mean 0
assert np.allclose(steps["centred"].mean(axis=0), 0, atol=1e-12)
assert np.allclose(cov_of(steps["decorrelated (rotated)"]), np.diag(st2["eigvals"]), atol=1e-10)  # diagonal: Lambda
assert np.allclose(cov_of(steps["whitened (PCA)"]), np.eye(2), atol=1e-10)
assert np.allclose(cov_of(steps["whitened (ZCA)"]), np.eye(2), atol=1e-10)
assert np.allclose(st2["eigvecs"].T @ st2["eigvecs"], np.eye(2), atol=1e-12)  # U is orthonormal
sk = PCA(whiten=True).fit(X2)
sk_white = sk.transform(X2) * np.sqrt(n2 / (n2 - 1))
print(
    "eigenvalues:",
    st2["eigvals"].round(4),
    " sklearn's explained_variance_ * (N-1)/N:",
    (sk.explained_variance_ * (n2 - 1) / n2).round(4),
)
print(
    f"PCA-whitened vs sklearn (up to the sign of each component): {np.abs(np.abs(sk_white) - np.abs(steps['whitened (PCA)'])).max():.1e}"
)
assert np.allclose(sk.explained_variance_ * (n2 - 1) / n2, st2["eigvals"], rtol=1e-10)
assert np.allclose(np.abs(sk_white), np.abs(steps["whitened (PCA)"]), rtol=1e-8, atol=1e-10)
# ZCA moves the data least: the mean squared change from the centred data, ZCA vs PCA whitening
move = {k: np.mean(np.sum((steps[k] - steps["centred"]) ** 2, axis=1)) for k in ("whitened (PCA)", "whitened (ZCA)")}
print(
    f"mean squared distance to the centred data: PCA whitening {move['whitened (PCA)']:.3f}, ZCA {move['whitened (ZCA)']:.3f}"
)
assert move["whitened (ZCA)"] < move["whitened (PCA)"]

# %% [markdown]
# On the digits (64 pixels): how the variance is spread over the principal components, and what whitening does to
# the images. With a tiny $\epsilon$ the ZCA-whitened digits are mostly amplified noise (the low-variance directions
# are multiplied by $1/\sqrt{\lambda + \epsilon}$, up to $1/\sqrt{\epsilon} = 100$ for $\epsilon = 10^{-4}$, since some
# eigenvalues are 0); a moderate $\epsilon$ keeps the strokes and sharpens them.

# %%
st_dg = fit_whitening(split.X_train)
frac = np.cumsum(st_dg["eigvals"]) / st_dg["eigvals"].sum()
k95 = int(np.argmax(frac >= 0.95)) + 1
print(
    f"{k95} of 64 components keep 95% of the variance; the eigenvalues range from {st_dg['eigvals'][0]:.2f} "
    f"down to {st_dg['eigvals'][-1]:.1e} (always-blank pixels)"
)
assert np.allclose(frac[-1], 1.0) and 20 < k95 < 45
fig, axes = plt.subplots(1, 5, figsize=(11, 2.4))
axes[0].semilogy(st_dg["eigvals"] + 1e-12)
axes[0].set(title="eigenvalues", xlabel="component")
shown = {"original": split.X_val[0]}
for eps_z in (1e-4, 0.1, 1.0):
    shown[f"ZCA, eps = {eps_z:g}"] = zca_whiten(split.X_val[:1], st_dg, eps=eps_z)[0]
for a, (name, img) in zip(axes[1:], shown.items()):
    a.imshow(img.reshape(8, 8), cmap="gray")
    a.set_title(name, fontsize=9)
    a.axis("off")
plt.show()

# %% [markdown]
# ## 2. The training loop
#
# `deepkit.solver.Solver` is the loop every framework has, written out:
#
# ```
# for epoch in range(num_epochs):
#     for X_batch, y_batch in minibatches(X_train, y_train, batch_size, rng):     # a new permutation each epoch
#         model.train();  loss, grads = model.loss(X_batch, y_batch)
#         for name in params:  params[name], state[name] = step(params[name], grads[name], state[name], lr=lr, ...)
#     lr *= lr_decay
#     model.eval();  record train / val accuracy;  keep the best parameters
# ```
#
# The PyTorch equivalent is `model.train()`, `loss.backward()`, `optimizer.step()`, `scheduler.step()`, and
# `model.eval()` + `torch.no_grad()` for evaluation. Two details decide whether a run is reproducible and honest:
# an explicit random generator (the same seed gives the same batches, the same dropout masks, the same numbers)
# and evaluation in **eval mode** (no dropout; batchnorm's running statistics).
#
# First the gradient of the model the Solver trains: the MLP's backward (chained from the layers' backward
# functions) against torch autograd and finite differences.

# %%
rng = np.random.default_rng(0)
X, y = rng.normal(size=(8, 6)), rng.integers(0, 4, 8)
model = MLP(6, (10, 7), 4, reg=0.2, normalization="batchnorm", seed=1, output_scale=1.0)
loss, grads = model.loss(X, y)

p = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
h = torch.tensor(X)
for i in (1, 2):
    h = torch.nn.functional.batch_norm(
        h @ p[f"W{i}"] + p[f"b{i}"], None, None, p[f"gamma{i}"], p[f"beta{i}"], training=True
    ).relu()
t_loss = torch.nn.functional.cross_entropy(h @ p["W3"] + p["b3"], torch.tensor(y)) + 0.1 * sum(
    (p[f"W{i}"] ** 2).sum() for i in (1, 2, 3)
)
t_loss.backward()
print(f"loss: deepkit {loss:.12f}  torch {t_loss.item():.12f}")
for k in ("W1", "gamma1", "W2", "W3", "b3"):
    num = numerical_gradient(lambda _: model.loss(X, y)[0], model.params[k])
    print(
        f"{k:7s} vs autograd {rel_error(grads[k], p[k].grad.numpy()):.1e}   vs finite differences "
        f"{rel_error(grads[k], num):.1e}"
    )
    assert rel_error(grads[k], p[k].grad.numpy()) < 1e-10 and rel_error(grads[k], num) < 1e-6

# %% [markdown]
# Now the whole loop: the Solver against a PyTorch loop with `torch.optim.Adam` and `ExponentialLR` on the same batches (the same permutations), step by step.

# %%
d = {"X_train": data["X_train"][:200], "y_train": data["y_train"][:200], "X_val": data["X_val"], "y_val": data["y_val"]}
mlp = MLP(64, (32,), 10, reg=1e-3, seed=0)
init = copy.deepcopy(mlp.params)
solver = Solver(mlp, d, "adam", {"lr": 3e-3}, lr_decay=0.9, batch_size=40, num_epochs=3, seed=5).train()

p = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
opt = torch.optim.Adam(p.values(), lr=3e-3)
sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
order, t_losses = np.random.default_rng(5), []
for epoch in range(3):
    perm = order.permutation(200)
    for s in range(0, 200, 40):
        b = perm[s : s + 40]
        out = torch.relu(torch.tensor(d["X_train"][b]) @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        loss = torch.nn.functional.cross_entropy(out, torch.tensor(d["y_train"][b])) + 0.5e-3 * (
            (p["W1"] ** 2).sum() + (p["W2"] ** 2).sum()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        t_losses.append(loss.item())
    sched.step()
diff = np.abs(np.array(solver.history["loss"]) - t_losses).max()
print(f"{len(t_losses)} steps, largest difference of the loss histories: {diff:.1e}")
assert diff < 1e-10

# %% [markdown]
# ## 3. The babysitting checklist
#
# ### 3.1 The initial loss
# With small weights all $C$ scores are about equal, so $p_k \approx 1/C$ and the softmax loss is
# $L = -\log p_y \approx -\log(1/C) = \log C$ (2.303 for ten classes). The check costs one forward pass and
# catches a wrong loss, a wrong label format or a bad initialisation. A second check: adding the L2 penalty
# $\frac{\lambda}{2}\sum\|W\|^2$ must make the loss *larger*.

# %%
zero_scores = np.zeros((5, 10))
assert abs(dk.losses.softmax_loss(zero_scores, np.arange(5))[0] - math.log(10)) < 1e-15  # exactly log C
for name, kw in (
    ("kaiming, small output layer", {}),
    ("kaiming, full-size output layer", {"output_scale": 1.0}),
    ("N(0, 1) weights", {"init": "normal", "init_kw": {"std": 1.0}, "output_scale": 1.0}),
):
    r = initial_loss_check(MLP(64, (100,), 10, reg=0.05, seed=0, **kw), data["X_train"], data["y_train"])
    print(f"{name:32s} loss {r['loss_no_reg']:7.3f} (log C = {r['expected']:.3f}); with reg 0.05: {r['loss_reg']:8.3f}")

# %% [markdown]
# The default MLP scales its output layer by 0.1, so its scores start small and the loss is within 0.01 of
# $\log 10$. A full-size output layer gives a loss of about 3, and unit-variance weights a loss in the tens: the
# network starts out confidently wrong, and the first steps are spent undoing that.
#
# ### 3.2 Overfit a tiny subset
# Before training on everything: take 20-50 examples, switch regularization off, and train until the loss is
# about 0 and the training accuracy 100%. A model that cannot memorise 30 examples has a bug (or far too little
# capacity, or a learning rate far off).

# %%
s = overfit_small_subset(
    MLP(64, (100,), 10, seed=0), data, num_examples=30, num_epochs=40, batch_size=10, optim_config={"lr": 1e-2}
)
print(
    f"30 examples: loss {s.history['loss'][0]:.3f} -> {s.history['loss'][-1]:.5f}, "
    f"training accuracy {s.history['train_acc'][-1]:.2f}"
)
assert s.history["train_acc"][-1] == 1.0

# %% [markdown]
# ### 3.3 Reading loss curves
# Four runs of the same network that differ in one setting. What to look for:
#
# * **learning rate too low**: the loss decreases almost linearly and slowly;
# * **too high**: the loss drops fast, then stalls on a high plateau, or jumps around by orders of magnitude
#   (here), or explodes to NaN;
# * **good**: a fast drop that bends into a slow decrease;
# * **bad initialisation** (tiny weights): a flat start at $\log C$, then a sudden descent once the signal
#   gets through the layers.

# %%
sub = {
    "X_train": data["X_train"][:600],
    "y_train": data["y_train"][:600],
    "X_val": data["X_val"],
    "y_val": data["y_val"],
}


def curve(lr, hidden=(100,), **kw):
    s = Solver(MLP(64, hidden, 10, seed=0, **kw), sub, "sgd", {"lr": lr}, batch_size=50, num_epochs=10, seed=0)
    return s.train().history["loss"]


runs = {
    "too low (lr 1e-3)": curve(1e-3),
    "good (lr 0.3)": curve(0.3),
    "too high (lr 2)": curve(2.0),
    "bad init (N(0, 0.01), 2 hidden)": curve(
        0.3, hidden=(100, 100), init="normal", init_kw={"std": 1e-2}, output_scale=1.0
    ),
}
fig, ax = plt.subplots(1, 4, figsize=(12, 2.6), sharey=True)
for a, (name, loss) in zip(ax, runs.items()):
    a.semilogy(loss, lw=0.8)
    a.set_title(name, fontsize=9)
    a.set_xlabel("iteration")
ax[0].set_ylim(1e-2, 1e3)
ax[0].set_ylabel("mini-batch loss (log)")
plt.show()
for name, loss in runs.items():
    print(f"{name:32s} first {loss[0]:.3f}, mean of the last 20 {np.mean(loss[-20:]):8.3f}")

# %% [markdown]
# ## 4. The learning rate first: a range test in log space
#
# The learning rate is the most important hyper-parameter. A good value for one network can be $10^{-4}$, for
# another $10^{-1}$, so search over **orders of magnitude**: $\eta_k = \eta_{\min}\,(\eta_{\max}/\eta_{\min})^{k/(n-1)}$,
# equally spaced in $\log_{10}\eta$ (`np.logspace`). A linear grid from $10^{-5}$ to $1$ would put 90% of its points
# above $0.1$. `lr_range_test` runs a few dozen steps from the same initialisation for every $\eta_k$ and reports
# the training loss: too small barely moves, too large diverges, and a good choice lies a bit below the minimum
# (the minimum of a short run is usually on the edge of instability).

# %%
lrs, losses = lr_range_test(
    lambda: MLP(64, (100,), 10, seed=0),
    sub,
    lr_min=1e-4,
    lr_max=1e2,
    num=13,
    num_iters=24,
    batch_size=50,
    optimizer="sgd",
)
assert np.allclose(np.diff(np.log10(lrs)), 0.5)  # equal steps in log10
fig, ax = plt.subplots(figsize=(5.5, 3))
ax.semilogx(lrs, np.minimum(losses, 20), "o-")
ax.set(xlabel="learning rate (log scale)", ylabel="training loss after 24 steps", ylim=(0, 5))
plt.show()
print("lr with the lowest loss:", lrs[np.argmin(losses)], " lr where it blows up:", lrs[np.argmax(losses > 5)])

# %% [markdown]
# ## 5. Hyper-parameter search
#
# **Random beats grid** (Bergstra & Bengio, 2012). With a $3\times3$ grid over (learning rate, L2 strength) only
# 3 distinct learning rates are ever tried; 9 random points try 9. When one hyper-parameter matters much more than
# the other (the usual case), the random search explores the important axis three times more finely for the same
# cost. Below, a score that depends strongly on $x$ and weakly on $y$.

# %%
f = lambda x, y: np.exp(-(((x - 0.63) / 0.08) ** 2)) + 0.05 * y  # x matters, y hardly
grid = [(x, y) for x in (1 / 6, 3 / 6, 5 / 6) for y in (1 / 6, 3 / 6, 5 / 6)]
rng = np.random.default_rng(3)
rand = list(zip(rng.random(9), rng.random(9)))
xs = np.linspace(0, 1, 200)
fig, ax = plt.subplots(1, 2, figsize=(9, 3))
for a, pts, name in zip(ax, (grid, rand), ("grid: 3 distinct x", "random: 9 distinct x")):
    a.plot(xs, f(xs, 0), "k-", lw=1)
    a.plot([p[0] for p in pts], [f(*p) for p in pts], "o")
    a.set(title=f"{name}; best {max(f(*p) for p in pts):.2f}", xlabel="important hyper-parameter x")
plt.show()

# %% [markdown]
# **Sample in log space.** For a scale parameter (learning rate, L2 strength) draw
# $u \sim U(\log_{10} a, \log_{10} b)$ and use $10^u$: the density of $x = 10^u$ is
# $p(x) = \frac{1}{x \ln(b/a)}$, so every decade gets the same probability
# $P(x \in [10^k, 10^{k+1}]) = \ln 10 / \ln(b/a)$. Check with 20,000 draws from `sample_hyperparams`:

# %%
space = {"lr": (1e-5, 1e-1, "log"), "dropout": (0.0, 0.5, "linear")}
rng = np.random.default_rng(0)
lr = np.array([sample_hyperparams(space, rng)["lr"] for _ in range(20000)])
per_decade = np.histogram(lr, bins=10.0 ** np.arange(-5, 0))[0] / len(lr)
predicted = math.log(10) / math.log(1e-1 / 1e-5)
print("fraction per decade:", per_decade.round(4), " predicted:", predicted)
assert np.all(np.abs(per_decade - predicted) < 6 * math.sqrt(predicted * (1 - predicted) / len(lr)))
lin = np.random.default_rng(0).uniform(1e-5, 1e-1, 20000)
print("a LINEAR draw puts", f"{np.mean(lin > 1e-2):.1%}", "of its samples in the top decade alone")


# %% [markdown]
# **Coarse to fine.** First a coarse search over wide ranges with short runs (one or two epochs is enough to
# separate hopeless settings from promising ones), then narrow the ranges around the best trials (`refine_space`)
# and search again with longer runs. Watch for a best value on the **edge** of the range: then the range was too
# narrow, widen it rather than refine.


# %%
def val_accuracy(lr, reg):
    s = Solver(MLP(64, (50,), 10, reg=reg, seed=0), sub, "adam", {"lr": lr}, batch_size=50, num_epochs=2).train()
    return s.best_val_acc


coarse_space = {"lr": (1e-5, 1.0, "log"), "reg": (1e-5, 1.0, "log")}
coarse = random_search(val_accuracy, coarse_space, 10, np.random.default_rng(0))
fine_space = refine_space(coarse, coarse_space, top_k=3)
fine = random_search(val_accuracy, fine_space, 6, np.random.default_rng(1))
fig, ax = plt.subplots(figsize=(5.5, 3.4))
for trials, marker, label in ((coarse, "o", "coarse"), (fine, "^", "fine")):
    sc = ax.scatter(
        [t["params"]["lr"] for t in trials],
        [t["params"]["reg"] for t in trials],
        c=[t["score"] for t in trials],
        vmin=0,
        vmax=1,
        marker=marker,
        edgecolors="k",
        label=label,
    )
ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="L2 strength")
fig.colorbar(sc, label="val accuracy (2 epochs)")
ax.legend(fontsize=8)
plt.show()
print("refined ranges:", {k: (f"{lo:.2g}", f"{hi:.2g}") for k, (lo, hi, _) in fine_space.items()})
print(f"best coarse {coarse[0]['score']:.3f}, best fine {fine[0]['score']:.3f}")

# %% [markdown]
# ## 6. Monitoring a run
#
# ### 6.1 The update/weight ratio
# For each weight matrix, at every step, compare the size of the **update** with the size of the **current**
# weights (not the initial ones):
# $$ r_t = \frac{\|W_{t+1} - W_t\|}{\|W_t\|}, \qquad \text{for SGD } r_t = \frac{\eta\,\|\nabla_W L\|}{\|W_t\|}. $$
# A rule of thumb (Karpathy): about $10^{-3}$. Much lower ($10^{-5}$): the layer barely moves, the learning rate is
# too low for it; much higher ($10^{-1}$): each step rewrites a tenth of the weights, too high. Plot it per layer:
# with one global learning rate, layers can sit at very different ratios (below: the output layer `W3`, whose
# weights start 10x smaller, moves 10-100x faster relative to its size). The formula for SGD, checked with
# `torch.optim.SGD`:

# %%
rng = np.random.default_rng(0)
w, g = rng.normal(size=(64, 100)), rng.normal(size=(64, 100)) * 0.01
tw = torch.tensor(w, requires_grad=True)
opt = torch.optim.SGD([tw], lr=0.05)
tw.grad = torch.tensor(g)
opt.step()
r = update_weight_ratio(w, tw.detach().numpy())
print(f"ratio {r:.6e} = lr |g| / |w| = {0.05 * np.linalg.norm(g) / np.linalg.norm(w):.6e}")
assert abs(r - 0.05 * np.linalg.norm(g) / np.linalg.norm(w)) < 1e-15

# %%
fig, ax = plt.subplots(1, 3, figsize=(12, 2.8), sharey=True)
for a, lr in zip(ax, (1e-3, 5e-2, 2.0)):
    s = Solver(MLP(64, (100, 50), 10, seed=0), sub, "sgd", {"lr": lr}, batch_size=50, num_epochs=3).train()
    for name, r in s.history["ratios"].items():
        a.semilogy(r, lw=0.8, label=name)
    a.axhline(1e-3, color="k", ls="--", lw=0.8)
    a.set(title=f"SGD lr {lr:g}", xlabel="iteration")
    print(
        f"lr {lr:g}: median ratios",
        {k: f"{np.median(v):.1e}" for k, v in s.history["ratios"].items()},
        f"val acc {s.best_val_acc:.3f}",
    )
ax[0].set_ylabel("update / weight")
ax[0].legend(fontsize=8)
plt.show()

# %% [markdown]
# ### 6.2 The gap between training and validation accuracy
# * a **large gap** (training accuracy far above validation): overfitting. More regularization (L2, dropout),
#   more data or augmentation, a smaller model, early stopping;
# * **no gap** and both low: underfitting. A bigger model, a longer run, less regularization, a better learning rate;
# * a small gap with both high: where you want to be.
#
# The same MLP trained on 150, 600 and all 1,257 training digits, and on 150 with dropout 0.5:

# %%
fig, ax = plt.subplots(1, 4, figsize=(12, 2.6), sharey=True)
for a, (n, epochs, kw) in zip(ax, ((150, 16, {}), (600, 6, {}), (1257, 4, {}), (150, 16, {"dropout": 0.5}))):
    d = {"X_train": data["X_train"][:n], "y_train": data["y_train"][:n], "X_val": data["X_val"], "y_val": data["y_val"]}
    s = Solver(
        MLP(64, (100,), 10, seed=0, **kw),
        d,
        "adam",
        {"lr": 2e-3},
        batch_size=25,
        num_epochs=epochs,
        num_train_samples=None,
    ).train()
    a.plot(s.history["train_acc"], "o-", ms=2, label="train")
    a.plot(s.history["val_acc"], "s-", ms=2, label="val")
    gap = s.history["train_acc"][-1] - s.history["val_acc"][-1]
    name = f"{n} examples" + (", dropout 0.5" if kw else "")
    a.set(xlabel="epoch", ylim=(0.5, 1.02))
    a.set_title(f"{name}: gap {gap:.3f}", fontsize=9)
    print(f"{name:26s} train {s.history['train_acc'][-1]:.3f}  val {s.history['val_acc'][-1]:.3f}  gap {gap:.3f}")
ax[0].legend()
plt.show()

# %% [markdown]
# More data is the most reliable cure for a gap. Regularization (dropout, L2, early stopping) narrows it too,
# partly by *lowering the training accuracy*; whether the validation accuracy goes up has to be measured, which
# is what the hyper-parameter search of section 5 is for.

# %% [markdown]
# ## 7. A live dashboard
#
# `deepkit.viz.training` follows a Solver while it trains: the mini-batch loss, the accuracies per epoch, the
# update/weight ratio of every layer (log scale, the $10^{-3}$ line dashed) and the standard deviation of every
# hidden layer's activations, with a progress bar and a Stop button. `dash.run()` trains in chunks inside the cell
# (the button is read between chunks); in a live notebook `dash.start()` runs the same loop as a background task
# on the kernel's event loop, so a click on Stop arrives while training runs.
# The model here has batchnorm and dropout: its activation statistics stay put while the weights grow.

# %%
from IPython.display import display

from deepkit.viz.training import explorer

live = Solver(
    MLP(64, (100, 100), 10, normalization="batchnorm", dropout=0.2, seed=0),
    data,
    "adam",
    {"lr": 1e-3},
    batch_size=50,
    num_epochs=6,
)
dash = explorer(live, every=39)
display(dash)
dash.run()
print(f"{dash.explorer.redraws} redraws, the last in {dash.explorer.last_ms:.0f} ms")


# %% [markdown]
# ## 8. Capstone numbers: deepkit against PyTorch
#
# The same MLP (64-100-10, Kaiming init, Adam $10^{-3}$, 10 epochs, batches of 50) and the same small CNN
# (conv 3x3 with 8 filters, ReLU, 2x2 max-pool, linear; Adam $5\cdot10^{-3}$, 8 epochs), trained with deepkit and
# with PyTorch (float64, one thread) on the preprocessed digits: **the same initial weights** (deepkit's, copied into
# the torch modules), the same mini-batches (the Solver's permutations), the same optimizer, and both keep the epoch
# with the best validation accuracy. Then the two runs must agree step by step, and they do: the same losses and the
# same test accuracy; what differs is the wall time.


# %%
def torch_from(model):
    """The torch module of a deepkit MLP (64-100-10) or SmallCNN, holding a copy of its current weights."""
    p = {k: torch.tensor(v) for k, v in model.params.items()}
    if isinstance(model, MLP):
        net = torch.nn.Sequential(torch.nn.Linear(64, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
        pairs = ((net[0], "W1", "b1"), (net[2], "W2", "b2"))
        weights = {"W1": p["W1"].T, "W2": p["W2"].T}  # deepkit's affine is x @ W, torch's Linear x @ weight.T
    else:
        net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(128, 10),
        )
        pairs = ((net[0], "W1", "b1"), (net[4], "W2", "b2"))
        weights = {"W1": p["W1"], "W2": p["W2"].T}  # conv weights share the (F, C, kh, kw) layout
    with torch.no_grad():
        for layer, w, b in pairs:
            layer.weight.copy_(weights[w])
            layer.bias.copy_(p[b])
    return net


def torch_train(net, d, lr, epochs, seed=0):
    """Adam on the Solver's batches (np.random.default_rng(seed): one permutation per epoch, batches of 50);
    keeps the weights of the epoch with the best validation accuracy, like the Solver. Returns (net, losses)."""
    X, y = torch.tensor(d["X_train"]), torch.tensor(d["y_train"])
    Xv, yv = torch.tensor(d["X_val"]), d["y_val"]
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    rng, losses, best = np.random.default_rng(seed), [], (-1.0, None)
    for _ in range(epochs):
        perm = rng.permutation(len(y))
        for s in range(0, len(y), 50):
            idx = perm[s : s + 50]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(X[idx]), y[idx])
            loss.backward()
            opt.step()
            losses.append(loss.item())
        with torch.no_grad():
            acc = float((net(Xv).argmax(1).numpy() == yv).mean())
        if acc > best[0]:
            best = (acc, copy.deepcopy(net.state_dict()))
    net.load_state_dict(best[1])
    return net, np.array(losses)


def torch_acc(net, X, y):
    with torch.no_grad():
        return float((net(torch.tensor(X)).argmax(1).numpy() == y).mean())


rows = []
for name, make, d, lr, epochs in (
    ("MLP", lambda: MLP(64, (100,), 10, seed=0), data, 1e-3, 10),
    ("CNN", lambda: SmallCNN(filters=8, seed=0), imgs, 5e-3, 8),
):
    model = make()
    net = torch_from(model)  # the same initial weights, before deepkit trains them
    t0 = time.perf_counter()
    s = Solver(model, d, "adam", {"lr": lr}, batch_size=50, num_epochs=epochs, seed=0).train()
    ours = (s.check_accuracy(d["X_test"], d["y_test"]), time.perf_counter() - t0)
    t0 = time.perf_counter()
    net, t_losses = torch_train(net, d, lr, epochs)
    theirs = (torch_acc(net, d["X_test"], d["y_test"]), time.perf_counter() - t0)
    gap = np.abs(np.array(s.history["loss"]) - t_losses).max()
    rows.append((name, *ours, *theirs, gap))
print(f"{'model':6}{'deepkit acc':>12}{'time':>8}{'torch acc':>11}{'time':>8}{'max |loss difference|':>24}")
for name, a, t, ta, tt, gap in rows:
    print(f"{name:6}{a:12.3f}{t:7.1f}s{ta:11.3f}{tt:7.1f}s{gap:24.1e}")
assert all(r[1] >= 0.95 for r in rows)
assert all(r[1] == r[3] and r[5] < 1e-8 for r in rows)  # the same run, twice

# %% [markdown]
# The loss histories agree to rounding error over every step and the test accuracies are identical: the Solver,
# the layers and Adam of deepkit compute what PyTorch computes. (With torch's own default initialisation instead of
# copied weights, or float32, the two runs would differ by about what two seeds differ by: 270 test images, one
# image is 0.37 points.)
#
# ## Common mistakes
# * **Preprocessing statistics from validation or test data** (or from everything): a leak; the reported accuracy
#   is optimistic. Fit on `X_train`, apply everywhere.
# * **Measuring accuracy in train mode**: dropout noise and batch statistics make the number low and random. Call
#   `model.eval()` (PyTorch: also `torch.no_grad()`), and switch back with `model.train()`.
# * **Not reshuffling every epoch**, or re-seeding the generator each epoch: the network sees the same batches in
#   the same order, which biases the gradient noise; never reuse one fixed order.
# * **Update/weight ratio from the gradient**: $\|\nabla W\|/\|W\|$ ignores the learning rate; the ratio that
#   means something is that of the actual update, $\|\Delta W\|/\|W\|$, with the *current* weights (not the
#   initial ones, as some slides say).
# * **A linear grid for the learning rate**: search in log space, and sample log-uniformly.
# * **Whitening slips**: a covariance of uncentred data, eigenvalues left in `np.linalg.eigh`'s ascending order,
#   dividing by $\lambda$ instead of $\sqrt{\lambda + \epsilon}$, ZCA without the rotation back, or whitening the
#   validation set with its own statistics.
# * **Tuning on the test set**: choose hyper-parameters on the validation set; look at the test set once.
