# %% [markdown]
# # 08 · Convolution and architectures
#
# Convolution layers share one small filter over every position of an image. This lecture works out the
# arithmetic (output size, padding, stride, receptive field), implements convolution and pooling with
# **im2col** and checks them against PyTorch, then walks through the variants and architectures built from them:
# tiled, dilated and transposed convolution, 1x1 convolutions and Network in Network, the Inception module and
# residual blocks, ending with the *degradation problem* that residual connections solve, trained and measured.
#
# Conventions (as in PyTorch): x `(N, C, H, W)`, filters w `(F, C, kh, kw)`, and "convolution" means
# cross-correlation (no kernel flip): $\;out[n,f,i,j]=\sum_{c,p,q} x[n,c,\,iS+pD-P,\,jS+qD-P]\,w[f,c,p,q]+b_f$.

# %%
import _course  # puts the reference deepkit (reference/) on the path; inline figures; float64 printing
import numpy as np
import time
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from deepkit import blocks, conv, pool
from deepkit.gradcheck import check_gradient, rel_error

torch.set_default_dtype(torch.float64)

# %% [markdown]
# ## 1 · Output size
#
# Along one axis, an input of size $N$, padded by $P$ on each side, scanned by a filter of size $F$ with stride
# $S$ (and dilation $D$, which spreads the $F$ taps over $D(F-1)+1$ pixels) gives
#
# $$N_{out} = \frac{N - D(F-1) - 1 + 2P}{S} + 1 \quad(\;=\tfrac{N-F+2P}{S}+1 \text{ without dilation}).$$
#
# When the division is **not exact**, the filter does not tile the input: the last rows can never be the start
# of a window. Libraries floor the result and silently ignore those rows; our `conv_output_size(strict=True)`
# refuses instead. "Same" padding for stride 1 and odd $F$ is $P=(F-1)/2$.

# %%
for n, f, p, s in [(32, 5, 2, 1), (7, 3, 0, 2), (7, 3, 0, 3), (227, 11, 0, 4), (224, 11, 2, 4)]:
    exact = (n - f + 2 * p) / s + 1
    torch_size = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, f, f), padding=p, stride=s).shape[-1]
    try:
        ours = conv.conv_output_size(n, f, p, s)
    except ValueError as err:
        ours = f"refused: {str(err)[:60]}..."
    print(f"N={n:3d} F={f:2d} P={p} S={s}: (N-F+2P)/S+1 = {exact:7.2f}  torch -> {torch_size:3d}  ours -> {ours}")


# %% [markdown]
# The famous AlexNet case: a 224x224 input with 11x11 filters at stride 4 and no padding gives 54.25, not 55;
# the paper's "224" only works as 227 (or with 2 pixels of padding, which floors to 55).
#
# ## 2 · Receptive field
#
# A unit after $L$ stacked $K\times K$ convolutions with stride 1 sees $1+L(K-1)$ input pixels per axis: each layer
# adds $K-1$. Strides multiply the step of every later layer and dilation $D_l$ multiplies the reach of layer
# $l$'s taps:
#
# $$r_L = 1 + \sum_{l=1}^{L} D_l\,(K_l-1)\prod_{m<l} S_m.$$
#
# We check the formula empirically: the gradient of one output unit with respect to the input is non-zero
# exactly on its receptive field.


# %%
def empirical_rf(kernels, strides, dilations, size=64):
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    h = x
    for k, s, d in zip(kernels, strides, dilations):
        h = F.conv2d(h, torch.ones(1, 1, k, k), stride=s, dilation=d)
    h[0, 0, h.shape[2] // 2, h.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    return int(rows.max() - rows.min() + 1)


stacks = {
    "5 x (3x3)": ([3] * 5, [1] * 5, [1] * 5),
    "3x3 stride 2, 3x3, 3x3": ([3, 3, 3], [2, 1, 1], [1, 1, 1]),
    "dilations 1, 2, 4": ([3, 3, 3], [1, 1, 1], [1, 2, 4]),
    "7x7/2, pool 3x3/2, 3x3": ([7, 3, 3], [2, 2, 1], [1, 1, 1]),
}
for name, (k, s, d) in stacks.items():
    formula, measured = conv.receptive_field(k, s, d), empirical_rf(k, s, d)
    print(f"{name:24s} formula {formula:3d}   measured {measured:3d}")
    assert formula == measured

# %% [markdown]
# ## 3 · Convolution as one matrix product (im2col)
#
# Copy every receptive field into a row of a matrix `cols` of shape $(N\,H_{out}W_{out},\;C\,k_h k_w)$; then the
# convolution is `cols @ w.reshape(F, -1).T`. The backward pass is three lines:
#
# $$dW = D^\top \,\text{cols},\qquad db=\textstyle\sum_{\text{rows}} D,\qquad dx=\text{col2im}(D\,W_{mat}),$$
#
# where $D$ is the upstream gradient as a $(N H_{out}W_{out}, F)$ matrix and **col2im** adds every row back onto
# its receptive field. col2im is the *adjoint* of im2col ($\langle \text{im2col}(x), C\rangle=\langle x,
# \text{col2im}(C)\rangle$), which is exactly why it gives the input gradient. NumPy builds the windows as a
# strided *view* (`sliding_window_view`), so only one copy is made.

# %%
rng = np.random.default_rng(0)
x, w, b = rng.normal(size=(4, 3, 10, 9)), rng.normal(size=(5, 3, 3, 3)), rng.normal(size=5)
cfg = dict(stride=2, pad=1, dilation=1)
out, cache = conv.conv2d_forward(x, w, b, **cfg)
tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
tout = F.conv2d(tx, tw, tb, stride=2, padding=1)
dout = rng.normal(size=out.shape)
tout.backward(torch.tensor(dout))
dx, dw, db = conv.conv2d_backward(dout, cache)
print("forward max |diff| vs torch:", np.abs(out - tout.detach().numpy()).max())
for name, mine, t in (("dx", dx, tx), ("dw", dw, tw), ("db", db, tb)):
    print(f"{name}: relative error vs torch autograd {rel_error(mine, t.grad.numpy()):.1e}")
print(check_gradient(lambda v: conv.conv2d_forward(x, v, b, **cfg)[0], w, dw, dout, name="w"))

cols = conv.im2col(x, 3, 3, 2, 1)
r = rng.normal(size=cols.shape)
print("adjoint identity:", np.sum(cols * r), "=", np.sum(x * conv.col2im(r, x.shape, 3, 3, 2, 1)))


# %% [markdown]
# How fast is it? A naive six-fold loop against im2col against PyTorch, on a digits-sized batch:


# %%
def conv_naive(x, w, b):
    N, C, H, W = x.shape
    Fn, _, kh, kw = w.shape
    out = np.zeros((N, Fn, H - kh + 1, W - kw + 1))
    for n in range(N):
        for f in range(Fn):
            for i in range(out.shape[2]):
                for j in range(out.shape[3]):
                    out[n, f, i, j] = np.sum(x[n, :, i : i + kh, j : j + kw] * w[f]) + b[f]
    return out


xb, wb, bb = rng.normal(size=(32, 1, 8, 8)), rng.normal(size=(8, 1, 3, 3)), np.zeros(8)


def best(fn, reps=5):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


t_naive = best(lambda: conv_naive(xb, wb, bb), 2)
t_im2col = best(lambda: conv.conv2d_forward(xb, wb, bb))
txb, twb = torch.tensor(xb), torch.tensor(wb)
t_torch = best(lambda: F.conv2d(txb, twb))
assert np.allclose(conv_naive(xb, wb, bb), conv.conv2d_forward(xb, wb, bb)[0])
print(f"naive loops {t_naive * 1e3:8.2f} ms | im2col {t_im2col * 1e3:6.2f} ms | torch {t_torch * 1e3:6.2f} ms")
print(f"im2col is {t_naive / t_im2col:.0f}x faster than the loops and {t_im2col / t_torch:.1f}x the time of torch")

# %% [markdown]
# ## 4 · Pooling
#
# Max pooling keeps the largest value of each window (its gradient goes to that one element, the first one on
# ties, as PyTorch does); average pooling keeps the mean (its gradient is spread evenly). Neither has parameters.
# With overlapping windows (stride < size) an element can receive gradient from several windows: the
# contributions add.

# %%
x = rng.normal(size=(2, 3, 7, 8))
for name, fwd, bwd, tfn in (
    ("max", pool.maxpool_forward, pool.maxpool_backward, F.max_pool2d),
    ("avg", pool.avgpool_forward, pool.avgpool_backward, F.avg_pool2d),
):
    for size, stride in ((2, 2), (3, 1)):
        out, cache = fwd(x, size, stride)
        tx = torch.tensor(x, requires_grad=True)
        tout = tfn(tx, size, stride)
        g = rng.normal(size=out.shape)
        tout.backward(torch.tensor(g))
        print(
            f"{name}pool {size}/{stride}: forward diff {np.abs(out - tout.detach().numpy()).max():.0e}, "
            f"backward rel. error {rel_error(bwd(g, cache), tx.grad.numpy()):.0e}"
        )


# %% [markdown]
# ## 5 · Tiled convolution
#
# Full weight sharing (one filter for all positions) and no sharing (a locally connected layer, one filter per
# position) are two ends of a scale. A **tiled** convolution with tile size $t$ uses $t\times t$ different filters
# that repeat every $t$ positions: position $(i,j)$ uses filter $(i \bmod t, j \bmod t)$. It can learn some
# position-dependent features (useful for e.g. pooling over rotations) with $t^2$ times the parameters of a
# convolution instead of $H_{out}W_{out}$ times. A direct implementation: compute all $t^2$ convolutions and
# pick, at each position, the output of its filter.


# %%
def tiled_conv(x, w_tiles, b):
    """w_tiles: (t, t, F, C, kh, kw): filter (a, b) serves the output positions (i, j) with i % t = a, j % t = b."""
    t = w_tiles.shape[0]
    outs = [[conv.conv2d_forward(x, w_tiles[a, c], b)[0] for c in range(t)] for a in range(t)]
    out = np.empty_like(outs[0][0])
    for a in range(t):
        for c in range(t):
            out[:, :, a::t, c::t] = outs[a][c][:, :, a::t, c::t]
    return out


x = rng.normal(size=(1, 1, 8, 8))
w1 = rng.normal(size=(1, 1, 3, 3))
same = tiled_conv(x, np.broadcast_to(w1, (2, 2, 1, 1, 3, 3)), np.zeros(1))
print(
    "tile size 2 with identical filters equals a convolution:",
    np.allclose(same, conv.conv2d_forward(x, w1, np.zeros(1))[0]),
)
out_positions = 6 * 6
print(
    f"parameters for 3x3, 16 -> 32 channels: conv {3 * 3 * 16 * 32}, tiled t=2 {4 * 3 * 3 * 16 * 32}, "
    f"locally connected {out_positions * 3 * 3 * 16 * 32} (on a 6x6 output)"
)

# %% [markdown]
# ## 6 · Dilated convolution
#
# Spreading the taps of a $3\times3$ filter $D$ pixels apart keeps 9 weights but covers $2D+1$ pixels. Stacking
# dilations $1,2,4,\dots,2^{L-1}$ grows the receptive field **exponentially** ($2^{L+1}-1$) with depth while the
# resolution stays the same (no pooling): the trick behind WaveNet and dense-prediction nets. The gradient
# check below uses our conv with `dilation=2` against PyTorch.

# %%
x, w = rng.normal(size=(2, 2, 11, 11)), rng.normal(size=(3, 2, 3, 3))
out, cache = conv.conv2d_forward(x, w, np.zeros(3), dilation=2)
tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
tout = F.conv2d(tx, tw, dilation=2)
g = rng.normal(size=out.shape)
tout.backward(torch.tensor(g))
dx, dw, _ = conv.conv2d_backward(g, cache)
print(
    "dilated: forward diff",
    np.abs(out - tout.detach().numpy()).max(),
    f"dx err {rel_error(dx, tx.grad.numpy()):.0e}, dw err {rel_error(dw, tw.grad.numpy()):.0e}",
)
for L_ in range(1, 6):
    print(
        f"L={L_}: dilations {[2**l for l in range(L_)]} -> receptive field",
        conv.receptive_field([3] * L_, dilations=[2**l for l in range(L_)]),
        f"(plain: {conv.receptive_field([3] * L_)})",
    )

# %% [markdown]
# ## 7 · Transposed convolution
#
# A strided convolution maps a big image to a small one; its **gradient with respect to the input** maps a small
# gradient back to the big image: every small pixel scatters a copy of the filter, scaled by its value, onto the
# big grid. Used as a forward layer this is the *transposed convolution* (often miscalled "deconvolution"):
# learnable upsampling. Its output size is $(H-1)S - 2P + K$. Below: our transposed conv equals the input
# gradient of our conv, and matches `torch.nn.functional.conv_transpose2d`. With $K$ not divisible by $S$ the
# scattered copies overlap unevenly: a constant input gives a **checkerboard**.

# %%
w = rng.normal(size=(4, 2, 3, 3))  # a conv 2 -> 4 channels; transposed: 4 -> 2
g = rng.normal(size=(1, 4, 3, 3))
_, cache = conv.conv2d_forward(rng.normal(size=(1, 2, 7, 7)), w, np.zeros(4), stride=2)
dx, _, _ = conv.conv2d_backward(g, cache)
up, _ = conv.conv_transpose2d_forward(g, w, np.zeros(2), stride=2)
print("transposed conv == gradient of conv:", np.allclose(up, dx))
print("matches torch:", np.allclose(up, F.conv_transpose2d(torch.tensor(g), torch.tensor(w), stride=2).numpy()))
ones, _ = conv.conv_transpose2d_forward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), np.zeros(1), stride=2)
print("constant input, 3x3 kernel, stride 2 -> checkerboard of overlaps:\n", ones[0, 0].astype(int))

# %% [markdown]
# ## 8 · 1x1 convolutions, Network in Network and Inception
#
# A $1\times1$ convolution is an affine map **across channels** applied at every pixel: `einsum('nchw,fc->nfhw')`.
# Network in Network (Lin et al., 2013) stacks them after a normal convolution ("mlpconv"): a small MLP slides
# over the image. GoogLeNet's **Inception** module runs $1\times1$, $3\times3$, $5\times5$ convolutions and a pooling
# branch in parallel and concatenates them; $1\times1$ "bottleneck" convolutions first reduce the channels, which
# cuts the cost of the big filters several-fold. Numbers for Inception (3a) on a 28x28x192 input:

# %%
x = rng.normal(size=(2, 6, 5, 5))
w = rng.normal(size=(4, 6, 1, 1))
print(
    "1x1 conv == per-pixel channel mixing:",
    np.allclose(conv.conv2d_forward(x, w, np.zeros(4))[0], np.einsum("nchw,fc->nfhw", x, w[:, :, 0, 0])),
)


class Inception(torch.nn.Module):
    def __init__(self, c_in, c1, c3r, c3, c5r, c5, cp, reduce=True):
        super().__init__()
        Conv = torch.nn.Conv2d
        self.b1 = Conv(c_in, c1, 1)
        self.b3 = (
            torch.nn.Sequential(Conv(c_in, c3r, 1), torch.nn.ReLU(), Conv(c3r, c3, 3, padding=1))
            if reduce
            else Conv(c_in, c3, 3, padding=1)
        )
        self.b5 = (
            torch.nn.Sequential(Conv(c_in, c5r, 1), torch.nn.ReLU(), Conv(c5r, c5, 5, padding=2))
            if reduce
            else Conv(c_in, c5, 5, padding=2)
        )
        self.bp = torch.nn.Sequential(torch.nn.MaxPool2d(3, 1, padding=1), Conv(c_in, cp, 1))

    def forward(self, x):
        return torch.cat([torch.relu(b(x)) for b in (self.b1, self.b3, self.b5, self.bp)], dim=1)


def macs(module, hw=28):
    total = 0
    for m in module.modules():
        if isinstance(m, torch.nn.Conv2d):
            total += m.weight.numel() * hw * hw
    return total


for reduce in (False, True):
    m = Inception(192, 64, 96, 128, 16, 32, 32, reduce=reduce)
    y = m(torch.zeros(1, 192, 28, 28))
    print(
        f"{'with' if reduce else 'without'} 1x1 reductions: output {tuple(y.shape[1:])}, "
        f"{sum(p.numel() for p in m.parameters()):,} parameters, {macs(m) / 1e6:.0f} M multiply-adds"
    )

# %% [markdown]
# ## 9 · Residual blocks and the degradation problem
#
# Adding layers to a plain network eventually makes it **worse on the training set** (He et al., 2016): not
# overfitting, but optimisation failing. A residual block computes $\text{out}=\text{relu}(F(x)+x)$: it only has to
# learn the residual $F$, and with $F=0$ it is (nearly) the identity, so extra blocks can never hurt much. Its
# gradient has a direct path: $\partial\,\text{out}/\partial x = (\partial F/\partial x + I)$ gated by the ReLU.
#
# Our residual block (two 3x3 convs, identity or 1x1-projection skip) against PyTorch:

# %%
params = blocks.init_residual_block(3, 4, rng, scale=0.5)
x = rng.normal(size=(2, 3, 5, 5))
out, cache = blocks.residual_block_forward(x, params)
tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
tx = torch.tensor(x, requires_grad=True)
h = F.relu(F.conv2d(tx, tp["W1"], tp["b1"], padding=1))
tout = F.relu(F.conv2d(h, tp["W2"], tp["b2"], padding=1) + F.conv2d(tx, tp["Ws"], tp["bs"]))
g = rng.normal(size=out.shape)
tout.backward(torch.tensor(g))
dx, grads = blocks.residual_block_backward(g, cache)
print(
    "forward diff",
    np.abs(out - tout.detach().numpy()).max(),
    "| dx error",
    f"{rel_error(dx, tx.grad.numpy()):.0e}",
    "| worst parameter error",
    f"{max(rel_error(grads[k], tp[k].grad.numpy()) for k in params):.0e}",
)

# %% [markdown]
# Now the degradation experiment, at laptop scale: fully connected nets of width 32 on the 1,797 digits
# (64 pixels), 4 and 24 hidden layers, **plain vs residual** (blocks of two layers with an identity skip), the
# same initialisation (PyTorch's default), optimiser (SGD + momentum) and 300 steps. We report the *training*
# loss, so overfitting plays no part.

# %%
from deepkit.data import load_digits

torch.manual_seed(0)
split = load_digits()
Xtr, ytr = torch.tensor(split.X_train, dtype=torch.float32), torch.tensor(split.y_train)


class MLP(torch.nn.Module):
    def __init__(self, depth, width=32, residual=False):
        super().__init__()
        self.inp, self.out = torch.nn.Linear(64, width), torch.nn.Linear(width, 10)
        self.hidden = torch.nn.ModuleList(torch.nn.Linear(width, width) for _ in range(depth))
        self.residual = residual

    def forward(self, x):
        h = torch.relu(self.inp(x))
        for i in range(0, len(self.hidden), 2):
            z = self.hidden[i + 1](torch.relu(self.hidden[i](h)))
            h = torch.relu(z + h) if self.residual else torch.relu(z)
        return self.out(h)


curves = {}
t0 = time.perf_counter()
for depth in (4, 24):
    for residual in (False, True):
        torch.manual_seed(1)
        net = MLP(depth, residual=residual).float()
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        losses = []
        for step in range(300):
            idx = torch.randint(0, len(ytr), (64,))
            loss = F.cross_entropy(net(Xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        with torch.no_grad():
            final = F.cross_entropy(net(Xtr), ytr).item()
        curves[(depth, residual)] = (np.convolve(losses, np.ones(20) / 20, mode="valid"), final)
print(f"trained 4 nets in {time.perf_counter() - t0:.1f} s")
fig, ax = plt.subplots(figsize=(7, 3))
for (depth, residual), (curve, final) in curves.items():
    label = f"{depth} layers, {'residual' if residual else 'plain'}: final train loss {final:.3f}"
    ax.plot(curve, label=label, ls="-" if residual else "--")
    print(label)
ax.set_xlabel("step")
ax.set_ylabel("training loss (moving average)")
ax.legend(fontsize=8)
plt.show()
assert curves[(24, False)][1] > curves[(4, False)][1] > curves[(24, True)][1] - 0.5

# %% [markdown]
# The deep plain net does not train at all in this budget (its loss stays near $\log 10 = 2.30$), while the
# equally deep residual net trains as well as the shallow ones. That is the degradation problem, and its fix.
#
# ## 10 · A small CNN on digits, with our own layers
#
# conv 3x3 (8 filters, pad 1) → ReLU → 2x2 max-pool → affine → softmax, trained with plain minibatch SGD using
# only `deepkit` (the reference), on the 8x8 digits:

# %%
split = load_digits(images=True)
params = blocks.init_small_cnn((1, 8, 8), 8, 10, rng=np.random.default_rng(0))
rng_train = np.random.default_rng(1)
t0 = time.perf_counter()
for epoch in range(10):
    order = rng_train.permutation(len(split.y_train))
    for s in range(0, len(order), 32):
        idx = order[s : s + 32]
        loss, grads = blocks.small_cnn_loss(params, split.X_train[idx], split.y_train[idx], reg=1e-4)
        for k in params:
            params[k] -= 0.2 * grads[k]
val_acc = np.mean(blocks.small_cnn_loss(params, split.X_val).argmax(1) == split.y_val)
print(f"10 epochs in {time.perf_counter() - t0:.1f} s: last batch loss {loss:.3f}, validation accuracy {val_acc:.1%}")
assert val_acc > 0.85

# %% [markdown]
# ## 11 · Play
#
# Change the input size, filter, padding, stride and dilation: the left panel highlights the receptive field of
# the chosen output unit (dark: the filter's taps; light: the span they cover), the middle one shows the output
# grid, the right one the receptive field of a stack of such layers. Watch the message when $(N-F+2P)/S$ is not
# an integer.

# %%
from deepkit.viz.convolution import explorer

explorer()

# %% [markdown]
# ## Common mistakes
#
# * Flipping the kernel: deep-learning "convolution" is cross-correlation. A flipped kernel learns just as well,
#   but it will not match PyTorch's weights.
# * Forgetting that col2im must **add** overlapping contributions (stride < kernel); assigning instead loses
#   gradient.
# * Routing the max-pool gradient to every element of the window, or to every tied maximum.
# * Sizes that do not divide: check $(N-F+2P)/S$ before building a net, or the last rows are silently dropped.
# * Residual blocks whose skip changes the channel count without a projection.
