# %% [markdown]
# # 06 · Softmax-weighted connections: the alpha-conv
#
# A normal convolution layer adds up the correlations of **all** input maps with their kernels. The
# *alpha-conv* (from the lecture notes "networks with convolution weights") lets every output map $j$ learn
# **how much** of each input map $i$ to use:
#
# $$a_j = f\Big(\sum_{i=1}^{N_{in}} \alpha_{ij}\,(x_i * k_{ji}) + b_j\Big),\qquad
# \alpha_{ij} = \frac{\exp(c_{ij})}{\sum_{m}\exp(c_{mj})},$$
#
# so each column $\alpha_{:j}$ is a point of the probability simplex ($\alpha_{ij}\ge 0$, $\sum_i \alpha_{ij}=1$)
# and the free parameters are the logits $c_{ij}$. This lecture
#
# 1. derives $\partial J/\partial\alpha$ and $\partial J/\partial c$ and checks them against torch autograd and
#    finite differences;
# 2. shows that the **L1 sparsity penalty of the classic slides, $\lambda\sum_{ij}|\alpha_{ij}|$, does nothing**:
#    on the simplex it is the constant $\lambda N_{out}$ and its gradient is exactly zero;
# 3. offers penalties that *do* sparsify (entropy, $L_p$ with $p<1$, a temperature) and trains with them.
#
# Everything below uses the reference `deepkit.alphaconv` (shapes: x `(N, C_in, H, W)`, k `(C_out, C_in, kh, kw)`,
# c `(C_in, C_out)`, b `(C_out,)`).

# %%
import _course  # puts the reference deepkit (reference/) on the path; inline figures; float64 printing
import numpy as np
import torch
from deepkit import alphaconv as ac
from deepkit.gradcheck import check_gradient, rel_error

torch.set_default_dtype(torch.float64)

# %% [markdown]
# ## 1. Forward pass
#
# Write $y_{ij} = x_i * k_{ji}$ for the "valid" correlation of input map $i$ with the kernel that output map $j$
# uses for it. Then $z_j = \sum_i \alpha_{ij} y_{ij} + b_j$. A standard convolution is the special case where
# $\alpha_{ij}$ is folded into the kernel: $z = \mathrm{conv}(x, \tilde k) + b$ with $\tilde k_{ji} = \alpha_{ij}k_{ji}$.
# That identity gives us an independent oracle: torch's `conv2d` with the mixed kernel. The softmax over each
# column is computed like any softmax: subtract the column's largest logit before `exp` (a logit of a few
# hundred overflows otherwise); `mixing_weights` reuses topic 01's stable `softmax` on $c^\top$.

# %%
rng = np.random.default_rng(0)
x, k = rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(2, 3, 3, 3))
c, b = rng.normal(size=(3, 2)), rng.normal(size=2)
z, cache = ac.alphaconv_forward(x, k, c, b)
alpha = ac.mixing_weights(c)
print("alpha (columns sum to 1):\n", alpha, "\ncolumn sums:", alpha.sum(axis=0))

tx, tk, tc, tb = (torch.tensor(a, requires_grad=True) for a in (x, k, c, b))
t_alpha = torch.softmax(tc, dim=0)
tz = torch.nn.functional.conv2d(tx, tk * t_alpha.T[:, :, None, None], tb)
print("max |z - torch| =", np.abs(z - tz.detach().numpy()).max())
assert np.allclose(z, tz.detach().numpy(), atol=1e-12)

# %% [markdown]
# ## 2. Gradients
#
# Let $\delta_j = \partial J/\partial z_j$ (a map, like $z_j$). Since $z_j$ depends on $\alpha_{ij}$ only through the
# term $\alpha_{ij}y_{ij}$,
#
# $$\frac{\partial J}{\partial \alpha_{ij}} = \sum_{u,v}\big(\delta_j \circ (x_i * k_{ji})\big)_{uv}
# \qquad(\text{summed over the examples of the batch as well}).$$
#
# For one output map drop the index $j$. The softmax Jacobian is
# $\partial\alpha_m/\partial c_i = \alpha_m(\mathbb 1[m=i]-\alpha_i)$, so by the chain rule
#
# $$\frac{\partial J}{\partial c_i}=\sum_m \frac{\partial J}{\partial \alpha_m}\alpha_m(\mathbb 1[m=i]-\alpha_i)
# =\alpha_i\Big(\frac{\partial J}{\partial\alpha_i}-\sum_m\frac{\partial J}{\partial\alpha_m}\alpha_m\Big).$$
#
# This is a *vector–Jacobian product*: never build the $C_{in}\times C_{in}$ Jacobian, just subtract the
# $\alpha$-weighted mean of the upstream gradient and multiply by $\alpha$ (`softmax_jvp`). The other gradients
# are those of a convolution with the mixed kernel $\tilde k_{ji}=\alpha_{ij}k_{ji}$:
# $\partial J/\partial k_{ji} = \alpha_{ij}\sum_n x_{n,i} * \delta_{n,j}$,
# $\partial J/\partial x_{n,i} = \sum_j \alpha_{ij}\, \delta_{n,j} \star_{\text{full}} k_{ji}$,
# $\partial J/\partial b_j = \sum_{n,u,v}\delta_{n,j,u,v}$.

# %%
dz = rng.normal(size=z.shape)
dx, dk, dc, db = ac.alphaconv_backward(dz, cache)
tz.backward(torch.tensor(dz))
for name, mine, t in (("dx", dx, tx), ("dk", dk, tk), ("dc", dc, tc), ("db", db, tb)):
    print(f"{name}: relative error vs torch autograd = {rel_error(mine, t.grad.numpy()):.1e}")
    assert rel_error(mine, t.grad.numpy()) < 1e-12

# the slide's formula, written out literally for output map j = 0
y = ac.pair_correlations(x, k)  # (N, C_in, C_out, Ho, Wo)
dalpha0 = np.array([np.sum(dz[:, 0] * y[:, i, 0]) for i in range(3)])
a0 = alpha[:, 0]
print("slide formula dJ/dc_i:", a0 * (dalpha0 - np.sum(dalpha0 * a0)), " torch:", tc.grad.numpy()[:, 0])

# and finite differences on the logits
rep = check_gradient(lambda v: ac.alphaconv_forward(x, k, v, b)[0], c, dc, dz, name="c")
print(rep)
assert rep.ok

# %% [markdown]
# ## 3. The L1 penalty of the slides has a zero gradient
#
# To make $\alpha$ sparse the classic slides add $\Omega(\alpha)=\lambda\sum_{ij}|\alpha_{ij}|$ and derive
#
# $$\frac{\partial\Omega}{\partial c_i} = \lambda\Big(|\alpha_i| - \alpha_i\sum_k|\alpha_k|\Big).$$
#
# The derivation is right, but look at what it says. Every $\alpha_k\ge 0$, so $|\alpha_k|=\alpha_k$ and
# $\sum_k|\alpha_k| = 1$: the bracket is $\alpha_i - \alpha_i\cdot 1 = 0$. The penalty is the **constant**
# $\lambda N_{out}$ on the simplex, so it cannot change the training at all. Numbers:

# %%
for lam in (0.1, 1.0, 10.0):
    c_rand = 3 * rng.normal(size=(4, 3))
    value, dpen = ac.l1_alpha_penalty(c_rand, lam)
    tcc = torch.tensor(c_rand, requires_grad=True)
    (lam * torch.softmax(tcc, dim=0).abs().sum()).backward()
    print(
        f"lambda = {lam:5}: penalty = {value:.6f} (= lambda * C_out = {lam * 3}), "
        f"max |dOmega/dc| = {np.abs(dpen).max():.1e}, torch: {tcc.grad.abs().max().item():.1e}"
    )

# %% [markdown]
# **Why the constant matters, and when the penalty does act.** The gradient vanishes because the penalty
# weighs every entry of a column equally: $\sum_i |\alpha_{ij}| = 1$ whatever $c$ is. Give the connections
# different weights, $\Omega = \lambda\sum_{ij} w_{ij}|\alpha_{ij}|$ (`l1_alpha_penalty(c, lam, weights=w)`), and
# $\partial\Omega/\partial c_{ij} = \lambda\,\alpha_{ij}\big(w_{ij} - \sum_k w_{kj}\alpha_{kj}\big)$: a connection
# whose weight is above the column's $\alpha$-weighted average is pushed down, the others up. Such a penalty
# *re-ranks* the inputs; it does not make the column sparser by itself. Checked against torch:

# %%
w_pen = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 0.0], [3.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
c_rand = rng.normal(size=(4, 3))
value, dpen = ac.l1_alpha_penalty(c_rand, 0.5, weights=w_pen)
tcc = torch.tensor(c_rand, requires_grad=True)
(0.5 * (torch.tensor(w_pen) * torch.softmax(tcc, dim=0).abs()).sum()).backward()
a_rand = ac.mixing_weights(c_rand)
formula = 0.5 * a_rand * (w_pen - np.sum(w_pen * a_rand, axis=0))
print(
    f"weighted penalty: dc vs torch {rel_error(dpen, tcc.grad.numpy()):.1e}, vs the formula {rel_error(dpen, formula):.1e}"
)
print("column 1 (all weights 1) has a zero gradient:", np.abs(dpen[:, 1]).max())
assert rel_error(dpen, tcc.grad.numpy()) < 1e-12 and rel_error(dpen, formula) < 1e-12
assert np.abs(dpen[:, 1]).max() < 1e-15 and np.abs(dpen[:, [0, 2]]).max() > 0.01

# %% [markdown]
# ## 4. Penalties that do sparsify
#
# A penalty sparsifies a point of the simplex when it is **smallest at the vertices** (one-hot columns):
#
# * **Entropy** $\Omega=\lambda\sum_j H(\alpha_{:j})$, $H(a)=-\sum_i a_i\log a_i$: zero at a vertex, $\log N_{in}$ at
#   the centre. $\partial\Omega/\partial\alpha_{ij}=-\lambda(\log\alpha_{ij}+1)$, then `softmax_jvp`.
# * **$L_p$ with $0<p<1$**: $\Omega=\lambda\sum_{ij}\alpha_{ij}^p$ is concave, so its minimum over the simplex is at
#   a vertex (value $\lambda N_{out}$) and its maximum at the centre. $\partial\Omega/\partial\alpha=\lambda p\,\alpha^{p-1}$.
#   ($p=1$ is L1: constant. $p>1$ would push towards the *uniform* point.)
# * **Temperature**: $\alpha=\mathrm{softmax}(c/T)$. Lowering $T$ sharpens every column without any penalty;
#   annealing $T\to$ small turns the soft choice into a hard one. The chain rule adds a factor $1/T$ to $\partial J/\partial c$.
#
# Check all three against torch:

# %%
c_rand = rng.normal(size=(4, 3))
tcc = torch.tensor(c_rand, requires_grad=True)
a = torch.softmax(tcc / 0.7, dim=0)
for name, mine, t_value in (
    ("entropy", ac.entropy_penalty(c_rand, 0.5, temperature=0.7), -0.5 * (a * torch.log(a)).sum()),
    ("Lp p=0.5", ac.lp_penalty(c_rand, 0.5, p=0.5, temperature=0.7), 0.5 * (a**0.5).sum()),
):
    tcc.grad = None
    t_value.backward(retain_graph=True)
    print(
        f"{name:9s} value {mine[0]:.6f} vs torch {t_value.item():.6f}; "
        f"gradient relative error {rel_error(mine[1], tcc.grad.numpy()):.1e}"
    )
    assert rel_error(mine[1], tcc.grad.numpy()) < 1e-12

# %% [markdown]
# ## 5. Training with each penalty
#
# A small task: 4 input maps, one output map; the target is map 1 correlated with a fixed kernel plus a weaker
# contribution of map 3. Gradient descent on $\tfrac12$ MSE $+\ \Omega$. With no penalty the layer keeps a blend
# (most weight on map 1, some on map 3). With the slides' L1 penalty the trajectory is **identical**
# to no penalty: the penalty's gradient is zero up to rounding ($\sim10^{-17}$, from $\sum_i\alpha_i$ not being
# exactly 1 in floating point), which the training steps amplify a little (the largest difference is printed
# below), far below anything visible. Entropy and $L_p$ drive $\alpha$ to (almost) one-hot.

# %%
import matplotlib.pyplot as plt
from deepkit.viz.alphaconv import PENALTIES, explorer, train

runs = {name: train(name, lam=0.3) for name in PENALTIES}
fig, axes = plt.subplots(1, 4, figsize=(13, 3), sharey=True)
for ax, (name, run) in zip(axes, runs.items()):
    ax.plot(run["alpha"])
    ax.set_title(name)
    ax.set_xlabel("step")
axes[0].set_ylabel("alpha_i")
axes[0].legend([f"alpha_{i}" for i in range(4)], fontsize=8)
plt.show()
for name, run in runs.items():
    print(f"{name:12s} final alpha = {np.round(run['alpha'][-1], 3)}")
gap = np.abs(runs["none"]["alpha"] - runs["L1 (slides)"]["alpha"]).max()
print(f"largest difference between the L1 run and the run without penalty: {gap:.1e}")
assert gap < 1e-4  # the penalty's gradient is ~1e-17 (rounding of sum(alpha) = 1); training drifts it to ~1e-6
assert runs["entropy"]["alpha"][-1].max() > 0.95

# %% [markdown]
# ## 6. Play
#
# Choose the penalty, its strength and the temperature; the left panel is the run without a penalty, the middle
# one with it. Try the L1 penalty at any $\lambda$: nothing moves. Try a low temperature with no penalty.

# %%
explorer()

# %% [markdown]
# ## Common mistakes
#
# * Taking the softmax over the wrong axis: $\alpha$ normalises over the **inputs** $i$ for each output $j$.
# * Forgetting the $1/T$ factor in $\partial J/\partial c$ when a temperature is used.
# * Building the full softmax Jacobian: correct but $O(C_{in}^2)$ per column; the vector–Jacobian product is $O(C_{in})$.
# * Believing an L1 penalty sparsifies softmax outputs: it is constant on the simplex. Use entropy, $L_p$ ($p<1$),
#   or a temperature.
