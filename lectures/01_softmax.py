# %% [markdown]
# # Lecture 01: linear scores, softmax, cross-entropy, backpropagation and gradient checking
#
# A classifier maps an input $x$ to one **score** per class, turns the scores into **probabilities** with the
# softmax, and is trained by minimising the **cross-entropy** between those probabilities and the true label.
# Training needs the gradient of that loss with respect to every parameter: **backpropagation** computes it
# by the chain rule, one layer at a time, and **gradient checking** tells us whether our code got it right.
#
# Every formula below is checked three ways: the derived formula (NumPy, the course's `deepkit` reference
# code), PyTorch autograd in float64, and centred finite differences.

# %%
import _course  # puts the reference deepkit (reference/) on the path; inline figures; float64 printing
import numpy as np

# %%
import time

import matplotlib.pyplot as plt
import torch

from deepkit import layers, losses, nets
from deepkit.data import load_digits, minibatches
from deepkit.gradcheck import check_gradient, numerical_gradient, rel_error

torch.set_default_dtype(torch.float64)
T0 = time.perf_counter()

# %% [markdown]
# ## 1. A linear classifier produces scores
#
# Stack $N$ examples as rows of $X \in \mathbb{R}^{N\times D}$. A linear classifier has one weight column per
# class, $W \in \mathbb{R}^{D\times C}$, and a bias $b \in \mathbb{R}^{C}$:
#
# $$ S = XW + b, \qquad s_{ij} = x_i \cdot w_{:j} + b_j . $$
#
# The score $s_{ij}$ is large when example $i$ looks like the **template** $w_{:j}$ (a large dot product).
# The predicted class is $\arg\max_j s_{ij}$. For the 8x8 digits, $D = 64$ and $C = 10$.

# %%
data = load_digits()
X, y = data.X_train, data.y_train
N, D = X.shape
C = data.num_classes
rng = np.random.default_rng(0)
W, b = 0.01 * rng.standard_normal((D, C)), np.zeros(C)
S = losses.linear_scores(X, W, b)
print(f"X {X.shape}, W {W.shape}, b {b.shape} -> scores {S.shape}")
print("scores of the first example:", S[0].round(4))
assert np.allclose(S, X @ W + b)

# %% [markdown]
# ## 2. Softmax: from scores to probabilities
#
# $$ p_{ij} = \mathrm{softmax}(s_i)_j = \frac{e^{s_{ij}}}{\sum_{k=1}^{C} e^{s_{ik}}} . $$
#
# Every $p_{ij} > 0$ and each row sums to 1. The exponential makes larger scores win more than
# proportionally; "soft" because it is a smooth version of the one-hot $\arg\max$.
#
# **Invariance to a constant shift.** For any constant $c$ added to a whole row,
# $$ \frac{e^{s_{ij}+c}}{\sum_k e^{s_{ik}+c}} = \frac{e^{c}\,e^{s_{ij}}}{e^{c}\sum_k e^{s_{ik}}} = p_{ij}. $$
# So only the **differences** between scores matter. We use this for numerical stability: with
# $c = -\max_k s_{ik}$ the largest exponent is $e^0 = 1$ and nothing overflows.
#
# **Why it matters.** float64 overflows at $e^{709.78}$. Scores in the hundreds are not exotic (large inputs,
# an exploding network, a too-high learning rate). Without the shift: $\infty/\infty = \mathrm{NaN}$.

# %%
z = np.array([1000.0, 1001.0, 1002.0])
print("largest float64:", np.finfo(np.float64).max, " log of it:", np.log(np.finfo(np.float64).max))

with np.errstate(over="ignore", invalid="ignore"):  # silence the warnings to show the numbers
    naive = np.exp(z) / np.exp(z).sum()
    print("exp([700, 709, 710]) :", np.exp(np.array([700.0, 709.0, 710.0])))
print("naive softmax(z)     :", naive)
stable = losses.softmax(z)
print("max-shifted softmax  :", stable)
print("softmax([0, 1, 2])   :", losses.softmax(z - 1000))
print("torch.softmax        :", torch.softmax(torch.tensor(z), 0).numpy())
assert np.all(np.isnan(naive))
assert np.allclose(stable, losses.softmax(z - 1000), rtol=1e-15)
assert rel_error(stable, torch.softmax(torch.tensor(z), 0).numpy()) < 1e-15

# %% [markdown]
# The opposite problem is **underflow**: $e^{-1000}$ is rounded to 0, so `log(softmax(z))` gives
# $-\infty$ for a class whose probability is tiny but not zero. The fix is to never form that probability:
#
# $$ \log p_j = s_j - \log\sum_k e^{s_k} = (s_j - m) - \log\sum_k e^{s_k - m}, \qquad m = \max_k s_k , $$
#
# the **log-sum-exp trick**. This is `log_softmax`, and it is what the loss should be built on.

# %%
z = np.array([0.0, 0.0, -1000.0])
with np.errstate(divide="ignore"):
    via_softmax = np.log(losses.softmax(z))
print("log(softmax(z)) :", via_softmax)
print("log_softmax(z)  :", losses.log_softmax(z))
print("torch           :", torch.log_softmax(torch.tensor(z), 0).numpy())
assert np.isneginf(via_softmax[2])
assert np.allclose(losses.log_softmax(z), torch.log_softmax(torch.tensor(z), 0).numpy(), rtol=1e-15)

# %% [markdown]
# ## 3. Cross-entropy
#
# For a true distribution $P$ and a predicted one $Q$ over the classes, the cross-entropy is
# $$ H(P, Q) = -\sum_j P_j \log Q_j = H(P) + D_{\mathrm{KL}}(P\,\|\,Q) \ \ge H(P). $$
# With a one-hot label ($P_y = 1$) the entropy $H(P)$ is 0 and only one term survives:
# $$ L_i = -\log p_{i, y_i}, \qquad L = \frac1N \sum_{i=1}^{N} L_i . $$
#
# Interpretations: (a) the **negative log-likelihood** of the labels under the model, so minimising $L$ is
# maximum likelihood; (b) the **surprise** of seeing the true class, in nats: $p_y = 1$ costs 0,
# $p_y = 0.5$ costs $\log 2 = 0.69$, $p_y \to 0$ costs $\to \infty$; (c) $H(P)$ does not depend on the model, so
# minimising $H(P, Q)$ minimises $D_{\mathrm{KL}}(P\|Q) \ge 0$, which is 0 only when $Q = P$. The
# Kullback-Leibler **divergence** measures how far $Q$ is from $P$, but it is not a distance (a metric): it is
# not symmetric, $D_{\mathrm{KL}}(P\|Q) \ne D_{\mathrm{KL}}(Q\|P)$ in general, and it can break the triangle
# inequality. The cell below shows both with numbers.
#
# **Sanity check: the initial loss is $\log C$.** With tiny random weights all scores are $\approx 0$, the
# softmax is uniform, $p_y = 1/C$ and $L = \log C$: 2.303 for 10 classes. A first loss far from this means
# a bug (e.g. 0.1 would mean the model already "knows" the labels: a leak; 40 means huge initial scores).

# %%
probs = losses.softmax(S)
L_ce = losses.cross_entropy(probs, y)
L_torch = torch.nn.functional.cross_entropy(torch.tensor(S), torch.tensor(y)).item()
print(f"initial loss {L_ce:.5f}, torch {L_torch:.5f}, log C = {np.log(C):.5f}")
assert abs(L_ce - L_torch) < 1e-12
assert abs(L_ce - np.log(C)) < 0.01

for p_y in (1.0, 0.9, 0.5, 0.1, 1e-3):
    print(f"p_y = {p_y:<6} -> loss {np.log(1 / p_y):.3f}")


def kl(P, Q):
    """D_KL(P || Q) = sum_j P_j log(P_j / Q_j) in nats (terms with P_j = 0 are 0)."""
    P, Q = np.asarray(P, dtype=float), np.asarray(Q, dtype=float)
    return float(np.sum(np.where(P > 0, P * np.log(np.where(P > 0, P, 1.0) / Q), 0.0)))


P, Q, R = np.array([0.5, 0.5]), np.array([0.9, 0.1]), np.array([0.99, 0.01])
H_PQ = -np.sum(P * np.log(Q))
print(f"H(P, Q) = {H_PQ:.4f} = H(P) + KL(P||Q) = {-np.sum(P * np.log(P)):.4f} + {kl(P, Q):.4f}")
print(f"KL(P||Q) = {kl(P, Q):.4f} but KL(Q||P) = {kl(Q, P):.4f}: not symmetric")
print(f"KL(P||R) = {kl(P, R):.4f} > KL(P||Q) + KL(Q||R) = {kl(P, Q) + kl(Q, R):.4f}: no triangle inequality")
t_kl = torch.nn.functional.kl_div(torch.log(torch.tensor(Q)), torch.tensor(P), reduction="sum").item()
assert abs(H_PQ - (-np.sum(P * np.log(P)) + kl(P, Q))) < 1e-15 and abs(kl(P, Q) - t_kl) < 1e-15
assert abs(kl(P, Q) - kl(Q, P)) > 0.05 and kl(P, R) > kl(P, Q) + kl(Q, R)

# %% [markdown]
# ## 4. The gradient of softmax + cross-entropy is $p - y$
#
# For one example with scores $s$ and label $y$, substitute the softmax into the loss:
# $$ L = -\log \frac{e^{s_y}}{\sum_k e^{s_k}} = -s_y + \log \sum_k e^{s_k}. $$
# Differentiate with respect to $s_j$: the first term gives $-[j = y]$, the second
# $\frac{e^{s_j}}{\sum_k e^{s_k}} = p_j$. Hence
# $$ \frac{\partial L}{\partial s_j} = p_j - [j = y], \qquad
#    \frac{\partial L}{\partial S} = \frac{1}{N}\,(P - Y_{\text{onehot}}) \ \text{ for the mean over } N . $$
#
# The gradient pushes the true class's score up (its entry $p_y - 1 < 0$) and every other score down in
# proportion to its probability; each row sums to 0 (a constant shift of the scores does not change the loss).
# Going through the softmax's Jacobian $\partial p_i / \partial s_j = p_i([i=j] - p_j)$ gives the same result,
# with more work; we check both.

# %%
rng = np.random.default_rng(1)
s, yy = 3 * rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
loss, dscores = losses.softmax_loss(s, yy)

ts = torch.tensor(s, requires_grad=True)
tloss = torch.nn.functional.cross_entropy(ts, torch.tensor(yy))
tloss.backward()
numeric = numerical_gradient(lambda v: losses.softmax_loss(v, yy)[0], s.copy())

print(f"loss: deepkit {loss:.12f}  torch {tloss.item():.12f}")
print(f"rel. error (p - y)/N vs torch autograd      : {rel_error(dscores, ts.grad.numpy()):.2e}")
print(f"rel. error (p - y)/N vs finite differences  : {rel_error(dscores, numeric):.2e}")
print("row sums of dscores:", dscores.sum(axis=1))
assert rel_error(dscores, ts.grad.numpy()) < 1e-12 and rel_error(dscores, numeric) < 1e-8
assert np.allclose(dscores.sum(axis=1), 0)

# the softmax Jacobian of one row: diag(p) - p p^T, vs torch.autograd.functional.jacobian
p = losses.softmax(s[0])
J = np.diag(p) - np.outer(p, p)
J_torch = torch.autograd.functional.jacobian(lambda v: torch.softmax(v, 0), torch.tensor(s[0])).numpy()
print(f"softmax Jacobian vs torch: {rel_error(J, J_torch):.2e}")
# chain rule through the Jacobian: dL/ds = J^T dL/dp with dL/dp = -onehot/p
g_p = np.zeros(4)
g_p[yy[0]] = -1 / p[yy[0]]
print(f"J^T (-onehot / p) vs p - onehot: {rel_error(J.T @ g_p, dscores[0] * 5):.2e}")
assert rel_error(J, J_torch) < 1e-14 and rel_error(J.T @ g_p, dscores[0] * 5) < 1e-14

# %% [markdown]
# ## 5. Label smoothing
#
# With one-hot targets the loss $-\log p_y$ reaches 0 only as $p_y \to 1$, i.e. as the true score runs away
# from the others: on data it can fit, plain cross-entropy keeps pushing the logits apart forever, and the
# network becomes over-confident. **Label smoothing** (Szegedy et al., 2016) trains against a softened target
# that keeps $\varepsilon$ of the mass spread uniformly over all $C$ classes:
# $$ q_j = (1 - \varepsilon)\,[j = y] + \frac{\varepsilon}{C}, \qquad
#    L = -\sum_j q_j \log p_j = H(q, p). $$
# (This is PyTorch's `F.cross_entropy(..., label_smoothing=eps)`; some papers put $\varepsilon/(C-1)$ on each wrong
# class instead, a different target.)
#
# **The gradient.** Substitute $\log p_j = s_j - \log\sum_k e^{s_k}$:
# $$ L = -\sum_j q_j s_j + \Bigl(\sum_j q_j\Bigr) \log\sum_k e^{s_k}
#      = -\sum_j q_j s_j + \log\sum_k e^{s_k}, $$
# because the target sums to 1: $(1-\varepsilon) + C\cdot\varepsilon/C = 1$. Differentiating as in section 4,
# $$ \frac{\partial L}{\partial s_j} = p_j - q_j
#    = p_j - \Bigl((1-\varepsilon)\,[j = y] + \frac{\varepsilon}{C}\Bigr), $$
# and $(P - Q)/N$ for the mean over a batch: section 4's $p - y$ with the smoothed target in place of the
# one-hot one. At $\varepsilon = 0$ it is exactly section 4; at $\varepsilon = 1$ the target is uniform. Every
# row of the gradient still sums to 0, so the gradient no longer vanishes only at $p = $ one-hot but at
# $p = q$: the true class is pushed up only until $p_y = 1 - \varepsilon + \varepsilon/C$.
#
# `deepkit.losses.smoothed_softmax_loss` implements it; checked against torch autograd (float64) and finite
# differences, for several $\varepsilon$ including both ends:

# %%
rng = np.random.default_rng(5)
s_ls, y_ls = 3 * rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
for eps in (0.0, 0.1, 0.4, 1.0):
    loss_ls, d_ls = losses.smoothed_softmax_loss(s_ls, y_ls, eps)
    ts = torch.tensor(s_ls, requires_grad=True)
    t_ls = torch.nn.functional.cross_entropy(ts, torch.tensor(y_ls), label_smoothing=eps)
    t_ls.backward()
    q = (1 - eps) * np.eye(5)[y_ls] + eps / 5
    derived = (losses.softmax(s_ls) - q) / len(y_ls)  # (p - q) / N, from the formula above
    fd = numerical_gradient(lambda v: losses.smoothed_softmax_loss(v, y_ls, eps)[0], s_ls.copy())
    print(
        f"eps {eps:3.1f}: loss {loss_ls:.12f} (torch {t_ls.item():.12f}); rel. error of dscores vs (p - q)/N "
        f"{rel_error(d_ls, derived):.0e}, vs torch {rel_error(d_ls, ts.grad.numpy()):.0e}, vs finite differences "
        f"{rel_error(d_ls, fd):.0e}"
    )
    assert abs(loss_ls - t_ls.item()) < 1e-12 and rel_error(d_ls, ts.grad.numpy()) < 1e-12
    assert rel_error(d_ls, derived) < 1e-14 and rel_error(d_ls, fd) < 1e-8
    assert np.allclose(d_ls.sum(axis=1), 0.0, atol=1e-16)
assert losses.smoothed_softmax_loss(s_ls, y_ls, 0.0)[0] == losses.softmax_loss(s_ls, y_ls)[0]

# %% [markdown]
# What it changes: follow one example's loss as its true score $s_y$ grows (the other scores fixed at 0). The
# plain loss decreases for ever; the smoothed loss turns up again, so gradient descent stops pushing at a finite
# score (the explorer in section 9 has an $\varepsilon$ slider to move this curve).

# %%
gaps = np.linspace(-2.0, 14.0, 321)
curves = {}
for eps in (0.0, 0.1, 0.3):
    curves[eps] = np.array(
        [losses.smoothed_softmax_loss(np.array([[g, 0.0, 0.0, 0.0, 0.0]]), np.array([0]), eps)[0] for g in gaps]
    )
fig, ax = plt.subplots(figsize=(6, 3))
for eps, c in curves.items():
    ax.plot(gaps, c, label=f"eps = {eps}")
ax.set_xlabel("true-class score s_y (4 other classes at 0)")
ax.set_ylabel("loss")
ax.legend(fontsize=8)
plt.show()
for eps, c in curves.items():
    print(f"eps = {eps}: loss smallest at s_y = {gaps[np.argmin(c)]:.2f} on this grid (grid end {gaps[-1]:.0f})")
assert np.all(np.diff(curves[0.0]) < 0)  # plain cross-entropy: always better to push further
assert gaps[np.argmin(curves[0.1])] < gaps[-1] and gaps[np.argmin(curves[0.3])] < gaps[np.argmin(curves[0.1])]

# %% [markdown]
# ## 6. Backpropagation through a two-layer net
#
# The net $\ \text{scores} = \mathrm{relu}(XW_1 + b_1)\,W_2 + b_2\ $ as a **computational graph**, forward
# (left to right) and backward (right to left). Shapes: $X$ $(N,D)$, $W_1$ $(D,H)$, $W_2$ $(H,C)$.
#
# ```
# X ──┐
# W1 ─┼─ affine ──> Z1 (N,H) ── relu ──> A1 (N,H) ──┐
# b1 ─┘                                              ├─ affine ──> S (N,C) ── softmax+CE ──> L
#                                          W2, b2 ───┘                                  + 0.5 reg (|W1|² + |W2|²)
# ```
#
# Each node only needs its **local** derivative and the upstream gradient $\partial L/\partial(\text{output})$
# (we write `dZ` for $\partial L/\partial Z$). Walking backwards:
#
# | step | forward | backward (gradient arriving from the right) |
# |---|---|---|
# | loss | $L = \mathrm{CE}(\mathrm{softmax}(S), y)$ | $dS = (P - Y)/N$ |
# | affine 2 | $S = A_1W_2 + b_2$ | $dA_1 = dS\,W_2^\top,\ \ dW_2 = A_1^\top dS,\ \ db_2 = \sum_i dS_{i,:}$ |
# | ReLU | $A_1 = \max(0, Z_1)$ | $dZ_1 = dA_1 \odot [Z_1 > 0]$ |
# | affine 1 | $Z_1 = XW_1 + b_1$ | $dW_1 = X^\top dZ_1,\ \ db_1 = \sum_i dZ_{1,i,:}$ |
# | L2 penalty | $+\tfrac{\lambda}{2}(\lVert W_1\rVert^2 + \lVert W_2\rVert^2)$ | $dW_1 \mathrel{+}= \lambda W_1,\ \ dW_2 \mathrel{+}= \lambda W_2$ |
#
# The affine rules follow from $S_{ij} = \sum_h A_{ih} W_{hj} + b_j$: $\partial L/\partial W_{hj} =
# \sum_i A_{ih}\, dS_{ij}$, i.e. $A^\top dS$; a quick check is that each gradient must have its variable's
# shape, which fixes where the transposes go. The bias is added to every row, so its gradient **sums** over
# the rows. `deepkit.nets.two_layer_loss` is exactly this chain of `affine_forward`, `relu_forward`,
# `softmax_loss` and their backward functions; below we recompute it step by step and compare every
# intermediate gradient with PyTorch (`retain_grad` keeps the gradients of intermediate tensors).

# %%
rng = np.random.default_rng(2)
Nn, Dn, Hn, Cn, reg = 6, 5, 7, 4, 0.1
params = nets.init_two_layer(Dn, Hn, Cn, rng, scale=0.7)
Xs, ys = rng.standard_normal((Nn, Dn)), rng.integers(0, Cn, Nn)

# forward, keeping every cache
Z1, c1 = layers.affine_forward(Xs, params["W1"], params["b1"])
A1, cr = layers.relu_forward(Z1)
Sn, c2 = layers.affine_forward(A1, params["W2"], params["b2"])
data_loss, dS = losses.softmax_loss(Sn, ys)
# backward, in reverse order
dA1, dW2, db2 = layers.affine_backward(dS, c2)
dZ1 = layers.relu_backward(dA1, cr)
dX, dW1, db1 = layers.affine_backward(dZ1, c1)
dW1, dW2 = dW1 + reg * params["W1"], dW2 + reg * params["W2"]

# the same graph in torch, float64
tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
tZ1 = torch.tensor(Xs) @ tp["W1"] + tp["b1"]
tA1 = torch.relu(tZ1)
tS = tA1 @ tp["W2"] + tp["b2"]
for t_ in (tZ1, tA1, tS):
    t_.retain_grad()
tL = torch.nn.functional.cross_entropy(tS, torch.tensor(ys)) + 0.5 * reg * (
    (tp["W1"] ** 2).sum() + (tp["W2"] ** 2).sum()
)
tL.backward()

loss_net, grads = nets.two_layer_loss(params, Xs, ys, reg=reg)
print(
    f"loss: step by step {data_loss + 0.5 * reg * (np.sum(params['W1'] ** 2) + np.sum(params['W2'] ** 2)):.12f}"
    f"  two_layer_loss {loss_net:.12f}  torch {tL.item():.12f}"
)
rows = [
    ("dS", dS, tS.grad),
    ("dA1", dA1, tA1.grad),
    ("dZ1", dZ1, tZ1.grad),
    ("dW2", dW2, tp["W2"].grad),
    ("db2", db2, tp["b2"].grad),
    ("dW1", dW1, tp["W1"].grad),
    ("db1", db1, tp["b1"].grad),
]
for name, mine, ref in rows:
    err = rel_error(mine, ref.numpy())
    print(f"{name:>4} {str(mine.shape):>8}: rel. error vs torch {err:.1e}")
    assert err < 1e-12
for k in params:
    assert rel_error(grads[k], tp[k].grad.numpy()) < 1e-12
assert abs(loss_net - tL.item()) < 1e-12

# %% [markdown]
# And against finite differences (no torch involved), for every parameter of the net:

# %%
for k in params:
    rep = check_gradient(
        lambda v, k=k: nets.two_layer_loss({**params, k: v}, Xs, ys, reg=reg)[0], params[k].copy(), grads[k], name=k
    )
    print(rep)
    assert rep.ok

# %% [markdown]
# ## 7. Gradient checking
#
# **Centred differences.** $\dfrac{f(x+h) - f(x-h)}{2h} = f'(x) + \dfrac{h^2}{6}f'''(x) + \dots$ has error
# $O(h^2)$, while the one-sided $\dfrac{f(x+h) - f(x)}{h}$ has error $O(h)$. But $h$ cannot be tiny: the
# subtraction cancels digits, a round-off error of about $\varepsilon\,|f|/h$ with $\varepsilon \approx 10^{-16}$.
# The total error $\approx \tfrac{h^2}{6}|f^{\prime\prime\prime}| + \varepsilon|f|/h$ is smallest near
# $h \sim \varepsilon^{1/3} \approx 10^{-5}$ when $f$ and $f^{\prime\prime\prime}$ are of order 1; in
# practice any $h$ from $10^{-4}$ to $10^{-6}$ works for centred differences in float64 (the plot shows the
# truncation regime on the right and the round-off regime on the left). One element at a
# time costs two function evaluations per parameter, so check on **small** nets and few examples.

# %%
rng = np.random.default_rng(3)
s0, y0 = rng.standard_normal((3, 4)), rng.integers(0, 4, 3)
exact = losses.softmax_loss(s0, y0)[1][0, 1]
f = lambda v: losses.softmax_loss(v, y0)[0]
hs = np.logspace(-12, -1, 23)
centred, forward = [], []
for h in hs:
    plus, minus = s0.copy(), s0.copy()
    plus[0, 1] += h
    minus[0, 1] -= h
    centred.append(abs((f(plus) - f(minus)) / (2 * h) - exact))
    forward.append(abs((f(plus) - f(s0)) / h - exact))
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.loglog(hs, np.maximum(forward, 1e-18), "o-", label="one-sided (f(x+h) - f(x)) / h")
ax.loglog(hs, np.maximum(centred, 1e-18), "s-", label="centred (f(x+h) - f(x-h)) / 2h")
ax.set_xlabel("step h")
ax.set_ylabel("absolute error of dL/ds")
ax.legend(fontsize=8)
plt.show()
best = hs[int(np.argmin(centred))]
print(f"best centred step {best:.0e}: error {min(centred):.1e}; best one-sided error {min(forward):.1e}")
assert min(centred) < 1e-9 and min(centred) < min(forward)

# %% [markdown]
# **Which error measure?** Compare the analytic gradient $a$ with the numerical $n$ by the norm ratio
# $$ \mathrm{err} = \frac{\lVert a - n\rVert}{\lVert a\rVert + \lVert n\rVert} . $$
# An absolute difference depends on the gradient's scale (a loss times 1000 gives 1000 times the error); an
# element-wise relative error $|a_i - n_i| / (|a_i| + |n_i|)$ explodes where both are nearly 0 (dead ReLUs,
# saturated units), flagging correct code. The norm ratio is scale-free and dominated by the big entries. In
# float64 with $h = 10^{-6}$ a correct gradient gives about $10^{-8}$ or less; a wrong one gives
# $10^{-2}$ to $1$. Typical bugs are caught at once:

# %%
x_a, w_a, b_a = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)
dout = rng.standard_normal((4, 5))
dx_a, dw_a, db_a = layers.affine_backward(dout, layers.affine_forward(x_a, w_a, b_a)[1])
fw = lambda v: layers.affine_forward(x_a, v, b_a)[0]
fb = lambda v: layers.affine_forward(x_a, w_a, v)[0]
cases = {
    "correct dw": check_gradient(fw, w_a, dw_a, dout, name="w"),
    "dw from dout.T @ x, reshaped": check_gradient(fw, w_a, (dout.T @ x_a).reshape(w_a.shape), dout, name="w"),
    "db = mean instead of sum": check_gradient(fb, b_a, dout.mean(axis=0), dout, name="b"),
    "correct db": check_gradient(fb, b_a, db_a, dout, name="b"),
}
for name, rep in cases.items():
    print(f"{name:<30} relative error {rep.rel_error:.1e}  {'OK' if rep.ok else 'FAILED'}")
assert cases["correct dw"].ok and cases["correct db"].ok
assert not cases["dw from dout.T @ x, reshaped"].ok and not cases["db = mean instead of sum"].ok

# %% [markdown]
# **Kinks.** ReLU is not differentiable at 0. If an input lies within $h$ of 0, the centred difference
# straddles the kink and returns a value between the two slopes (0.65 below), while the analytic
# gradient says 0 or 1: a false alarm on correct code. In a big net this happens more often than one expects.
# Remedies: use fewer examples, check that both one-sided differences agree (that is what `check_gradient`
# does with `kink_aware=True`: such elements are reported and left out), or nudge inputs away from 0.

# %%
xk = np.array([[-1.0, 3e-7, 0.5]])  # the middle entry is within h = 1e-6 of the kink
doutk = np.ones_like(xk)
dxk = layers.relu_backward(doutk, layers.relu_forward(xk)[1])
fr = lambda v: layers.relu_forward(v)[0]
numk = numerical_gradient(lambda v: np.sum(fr(v)), xk.copy())
print("analytic:", dxk, " numeric:", numk)
naive = check_gradient(fr, xk, dxk, doutk, kink_aware=False)
aware = check_gradient(fr, xk, dxk, doutk)
print("without kink handling:", naive)
print("kink-aware           :", aware)
assert not naive.ok and aware.ok and aware.skipped_kinks == 1

# %% [markdown]
# ## 8. Train the two-layer net on the digits
#
# Plain minibatch SGD with the gradients from `two_layer_loss`: $\theta \leftarrow \theta - \eta\,
# \partial L/\partial\theta$. The first loss is $\approx \log 10$; the net should reach about 95% validation
# accuracy in about a second.

# %%
rng = np.random.default_rng(0)
params = nets.init_two_layer(64, 64, 10, rng, scale=0.05)
losses_seen, accs = [], []
t0 = time.perf_counter()
for epoch in range(20):
    for xb, yb in minibatches(data.X_train, data.y_train, 64, rng):
        loss, grads = nets.two_layer_loss(params, xb, yb, reg=1e-4)
        losses_seen.append(loss)
        for k in params:
            params[k] -= 0.5 * grads[k]
    accs.append(np.mean(nets.two_layer_loss(params, data.X_val).argmax(axis=1) == data.y_val))
test_acc = np.mean(nets.two_layer_loss(params, data.X_test).argmax(axis=1) == data.y_test)
print(f"first loss {losses_seen[0]:.3f} (log 10 = {np.log(10):.3f}); trained in {time.perf_counter() - t0:.1f} s")
print(f"validation accuracy after 20 epochs {accs[-1]:.3f}, test accuracy {test_acc:.3f}")
fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3))
a1.plot(losses_seen, lw=0.8)
a1.set_xlabel("iteration")
a1.set_ylabel("minibatch loss")
a1.axhline(np.log(10), color="k", ls="--", lw=0.8)
a2.plot(range(1, 21), accs, "o-")
a2.set_xlabel("epoch")
a2.set_ylabel("validation accuracy")
plt.show()
assert abs(losses_seen[0] - np.log(10)) < 0.1 and accs[-1] > 0.9

# %% [markdown]
# ### The same in PyTorch
#
# `nn.Linear(D, H)` stores its weight as $(H, D)$ and computes $xW^\top + b$; `F.cross_entropy` takes
# **scores** (logits) and applies `log_softmax` itself (never feed it probabilities); `loss.backward()` runs
# the chain of section 6, and `torch.optim.SGD(..., weight_decay=reg)` adds $\lambda W$ to the gradient
# (note: to the biases as well, unlike our penalty). We copy our trained weights in and get the same scores.

# %%
model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
with torch.no_grad():
    model[0].weight.copy_(torch.tensor(params["W1"].T))
    model[0].bias.copy_(torch.tensor(params["b1"]))
    model[2].weight.copy_(torch.tensor(params["W2"].T))
    model[2].bias.copy_(torch.tensor(params["b2"]))
model.eval()
with torch.no_grad():
    t_scores = model(torch.tensor(data.X_val)).numpy()
print(f"max |deepkit scores - torch scores| = {np.abs(t_scores - nets.two_layer_loss(params, data.X_val)).max():.1e}")
assert np.allclose(t_scores, nets.two_layer_loss(params, data.X_val), atol=1e-12)

# one torch training step for comparison
model.train()
opt = torch.optim.SGD(model.parameters(), lr=0.5)
xb, yb = torch.tensor(data.X_train[:64]), torch.tensor(data.y_train[:64])
loss_t = torch.nn.functional.cross_entropy(model(xb), yb)
opt.zero_grad()
loss_t.backward()
opt.step()
print(
    f"torch minibatch loss before the step: {loss_t.item():.4f}  "
    f"(deepkit: {nets.two_layer_loss(params, data.X_train[:64], data.y_train[:64])[0]:.4f})"
)

# %% [markdown]
# ## 9. Explore
#
# Move the true class's score and watch its probability and loss; the loss curve is $\log(1 + \sum_{k\ne y}
# e^{s_k - s_y})$, close to linear when the true score is far below the others and close to 0 far above.
# The **temperature** $T$ divides the scores: $T \to 0$ approaches the hard $\arg\max$, large $T$ approaches
# the uniform distribution (loss $\to \log C$). The **shift** adds the same constant to all scores: the
# probabilities do not move, but past about 709 a naive `exp` would overflow. **Label smoothing** $\varepsilon$
# (section 5) replaces $-\log p_y$ by $-\sum_j q_j \log p_j$: watch the curve's right end turn up, and where its
# minimum moves as $\varepsilon$ grows.

# %%
from deepkit.viz.softmax import explorer

explorer()

# %% [markdown]
# ## 10. Common mistakes
#
# * **Softmax without the max-shift**: fine on small tests, NaN as soon as a score exceeds ~709.
# * **`log(softmax(z))`** instead of `log_softmax`: $-\infty$ once a probability underflows.
# * **Feeding probabilities to `torch.nn.functional.cross_entropy`**: it expects scores (logits) and
#   applies the softmax again.
# * **Summing instead of averaging the loss over $N$** (or averaging the loss but not dividing `dscores`
#   by $N$): the loss and the gradient disagree by a factor $N$, and the learning rate silently depends on
#   the batch size.
# * **Wrong sign of the gradient**: $(y - p)$ instead of $(p - y)$ makes gradient descent climb the loss.
# * **Transposes**: `dW = X.T @ dout` has $W$'s shape $(D, M)$; `dout.T @ X` is $(M, D)$ and reshaping it to
#   $(D, M)$ silently scrambles the entries. Let the shapes guide you.
# * **Forgetting the bias gradient** or using the mean instead of the sum over the rows.
# * **Regularisation conventions**: with $\tfrac{\lambda}{2}\lVert W\rVert^2$ the gradient is $\lambda W$;
#   with $\lambda\lVert W\rVert^2$ it is $2\lambda W$. Pick one, write it down, and gradient-check it.
# * **Gradient-checking a big net on many examples**: slow, and kinks give false alarms; use a tiny net.
# * **Label smoothing conventions**: $\varepsilon/C$ on every class (PyTorch, this course) versus $\varepsilon/(C-1)$
#   on the wrong classes only; and smoothing the loss's target but not the gradient's ($p - y$ instead of
#   $p - q$). Check against `F.cross_entropy(..., label_smoothing=eps)`.

# %%
print(f"lecture ran in {time.perf_counter() - T0:.1f} s")
