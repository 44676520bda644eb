# %% [markdown]
# # 08 · Convolution and architectures
#
# Convolution layers share one small filter over every position of an image. This lecture works out the
# arithmetic (output size, padding, stride, receptive field), implements convolution and pooling with
# **im2col** and checks them against PyTorch, then walks through the variants and architectures built from them:
# tiled, dilated and transposed convolution, 1x1 convolutions, Network in Network and its global average
# pooling, the Inception module, AlexNet's biases of 1, and residual blocks, ending with the *degradation problem*
# that residual connections solve, trained and measured.
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
# ## 1. Output size
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
    # an exact division: the same size as torch; otherwise ours refuses where torch floors
    assert ours == torch_size if exact.is_integer() else (isinstance(ours, str) and torch_size == int(exact))
    assert conv.conv_output_size(n, f, p, s, strict=False) == torch_size


# %% [markdown]
# The famous AlexNet case: a 224x224 input with 11x11 filters at stride 4 and no padding gives 54.25, not 55;
# the paper's "224" only works as 227 (or with 2 pixels of padding, which floors to 55).
#
# ## 2. Receptive field
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
# ## 3. Convolution as one matrix product (im2col)
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
assert np.allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
for name, mine, t in (("dx", dx, tx), ("dw", dw, tw), ("db", db, tb)):
    print(f"{name}: relative error vs torch autograd {rel_error(mine, t.grad.numpy()):.1e}")
    assert rel_error(mine, t.grad.numpy()) < 1e-12
report = check_gradient(lambda v: conv.conv2d_forward(x, v, b, **cfg)[0], w, dw, dout, name="w")
print(report)
assert report.ok

cols = conv.im2col(x, 3, 3, 2, 1)
r = rng.normal(size=cols.shape)
lhs, rhs = np.sum(cols * r), np.sum(x * conv.col2im(r, x.shape, 3, 3, 2, 1))
print("adjoint identity <im2col(x), r> = <x, col2im(r)>:", lhs, "=", rhs)
assert np.isclose(lhs, rhs, rtol=1e-12)


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
# ## 4. Pooling
#
# Max pooling keeps the largest value of each window; average pooling keeps the mean (its gradient is spread
# evenly, $1/k^2$ to each input). Neither has parameters. With overlapping windows (stride < size) an element can
# receive gradient from several windows: the contributions add. The default stride is the window size
# (non-overlapping windows).
#
# **Max pooling's gradient and ties.** $\text{out} = \max_i x_i$ is differentiable where one element is strictly
# the largest: $\partial\,\text{out}/\partial x_i = 1$ for it and 0 for the others, so the whole upstream gradient
# goes to that one element. Where several elements tie for the maximum (common after a ReLU, which outputs many
# exact zeros, or on quantised images) the max has a kink, and any convex combination of the tied elements' unit
# vectors is a valid subgradient. Libraries pick one: PyTorch sends the **whole** gradient to the **first**
# maximum in row-major order within the window (its kernel keeps the first maximum it meets); deepkit does the same,
# so the two agree exactly. (Splitting it evenly among the ties is another subgradient, but not PyTorch's: the
# exercise asks for PyTorch's rule.)

# %%
x = rng.normal(size=(2, 3, 7, 8))
x_int = rng.integers(-2, 3, size=(2, 3, 7, 8)).astype(float)  # small integers: many tied maxima
for name, fwd, bwd, tfn in (
    ("max", pool.maxpool_forward, pool.maxpool_backward, F.max_pool2d),
    ("avg", pool.avgpool_forward, pool.avgpool_backward, F.avg_pool2d),
):
    for size, stride in ((2, 2), (3, 1), (3, 3)):
        for data_kind, xx in (("real", x), ("integers", x_int)):
            out, cache = fwd(xx, size, stride)
            tx = torch.tensor(xx, requires_grad=True)
            tout = tfn(tx, size, stride)
            g = rng.normal(size=out.shape)
            tout.backward(torch.tensor(g))
            err_f, err_b = np.abs(out - tout.detach().numpy()).max(), rel_error(bwd(g, cache), tx.grad.numpy())
            print(
                f"{name}pool {size}/{stride} on {data_kind:8s}: forward diff {err_f:.0e}, backward rel. error {err_b:.0e}"
            )
            assert err_f < 1e-12 and err_b < 1e-12
windows = np.stack(pool.window_offsets(x_int, 3, 1), axis=-1)
tied = (windows == windows.max(-1, keepdims=True)).sum(-1)
print(f"3x3 windows of the integer input with a tied maximum: {np.mean(tied > 1):.0%} (up to {tied.max()} ties)")
x_tie = np.array([[[[1.0, 3.0], [3.0, 0.0]]]])  # the maximum 3 twice: at (0, 1) and (1, 0)
_, cache = pool.maxpool_forward(x_tie, 2)
tx = torch.tensor(x_tie, requires_grad=True)
F.max_pool2d(tx, 2).backward(torch.ones(1, 1, 1, 1))
print(
    "a 2x2 window [[1, 3], [3, 0]], upstream gradient 1: deepkit",
    pool.maxpool_backward(np.ones((1, 1, 1, 1)), cache).ravel(),
    "torch",
    tx.grad.numpy().ravel(),
)
assert np.array_equal(pool.maxpool_backward(np.ones((1, 1, 1, 1)), cache).ravel(), [0, 1, 0, 0])
assert np.array_equal(tx.grad.numpy().ravel(), [0, 1, 0, 0])


# %% [markdown]
# ## 5. Tiled convolution
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
plain = conv.conv2d_forward(x, w1, np.zeros(1))[0]
print(f"tile size 2 with identical filters vs a convolution: max |difference| {np.abs(same - plain).max():.0e}")
assert np.allclose(same, plain, rtol=1e-12, atol=1e-12)
w_tiles = rng.normal(size=(2, 2, 1, 1, 3, 3))
tiled = tiled_conv(x, w_tiles, np.zeros(1))
assert np.isclose(tiled[0, 0, 1, 2], np.sum(x[0, 0, 1:4, 2:5] * w_tiles[1, 0, 0, 0]))  # position (1, 2): filter (1, 0)
out_positions = 6 * 6
print(
    f"parameters for 3x3, 16 -> 32 channels: conv {3 * 3 * 16 * 32}, tiled t=2 {4 * 3 * 3 * 16 * 32}, "
    f"locally connected {out_positions * 3 * 3 * 16 * 32} (on a 6x6 output)"
)

# %% [markdown]
# ## 6. Dilated convolution
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
assert np.allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
assert rel_error(dx, tx.grad.numpy()) < 1e-12 and rel_error(dw, tw.grad.numpy()) < 1e-12
for L_ in range(1, 6):
    r_dil = conv.receptive_field([3] * L_, dilations=[2**l for l in range(L_)])
    print(
        f"L={L_}: dilations {[2**l for l in range(L_)]} -> receptive field {r_dil} (plain: {conv.receptive_field([3] * L_)})"
    )
    assert r_dil == 2 ** (L_ + 1) - 1

# %% [markdown]
# ## 7. Transposed convolution
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
t_up = F.conv_transpose2d(torch.tensor(g), torch.tensor(w), stride=2).numpy()
print(f"transposed conv vs the gradient of conv: {np.abs(up - dx).max():.0e}; vs torch: {np.abs(up - t_up).max():.0e}")
assert np.allclose(up, dx, rtol=1e-12, atol=1e-12) and np.allclose(up, t_up, rtol=1e-12, atol=1e-12)
ones, _ = conv.conv_transpose2d_forward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), np.zeros(1), stride=2)
print("constant input, 3x3 kernel, stride 2 -> checkerboard of overlaps:\n", ones[0, 0].astype(int))
assert set(np.unique(ones[0, 0, 1:-1, 1:-1])) == {1, 2, 4}  # uneven overlaps: 1, 2 or 4 copies

# %% [markdown]
# ## 8. 1x1 convolutions, Network in Network and Inception
#
# A $1\times1$ convolution is an affine map **across channels** applied at every pixel: `einsum('nchw,fc->nfhw')`.
# Network in Network (Lin et al., 2013) stacks them after a normal convolution ("mlpconv"): a small MLP slides
# over the image. GoogLeNet's **Inception** module runs $1\times1$, $3\times3$, $5\times5$ convolutions and a pooling
# branch in parallel and concatenates them; $1\times1$ "bottleneck" convolutions first reduce the channels, which
# cuts the cost of the big filters several-fold. Numbers for Inception (3a) on a 28x28x192 input:

# %%
x = rng.normal(size=(2, 6, 5, 5))
w = rng.normal(size=(4, 6, 1, 1))
one_by_one = conv.conv2d_forward(x, w, np.zeros(4))[0]
mixing = np.einsum("nchw,fc->nfhw", x, w[:, :, 0, 0])
t_one = F.conv2d(torch.tensor(x), torch.tensor(w)).numpy()
print(
    f"1x1 conv vs per-pixel channel mixing: {np.abs(one_by_one - mixing).max():.0e}; vs torch {np.abs(one_by_one - t_one).max():.0e}"
)
assert np.allclose(one_by_one, mixing, rtol=1e-12, atol=1e-12) and np.allclose(
    one_by_one, t_one, rtol=1e-12, atol=1e-12
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


inception = {}
for reduce in (False, True):
    m = Inception(192, 64, 96, 128, 16, 32, 32, reduce=reduce)
    y = m(torch.zeros(1, 192, 28, 28))
    inception[reduce] = (sum(p.numel() for p in m.parameters()), macs(m))
    print(
        f"{'with' if reduce else 'without'} 1x1 reductions: output {tuple(y.shape[1:])}, "
        f"{inception[reduce][0]:,} parameters, {inception[reduce][1] / 1e6:.0f} M multiply-adds"
    )
    assert tuple(y.shape[1:]) == (64 + 128 + 32 + 32, 28, 28)
# the weights by hand: 1x1: 192*64; 3x3 branch: (192*96 + 96*128*9 or 192*128*9); 5x5: (192*16 + 16*32*25 or 192*32*25)
by_hand = {
    False: 192 * 64 + 192 * 128 * 9 + 192 * 32 * 25 + 192 * 32,
    True: 192 * 64 + 192 * 96 + 96 * 128 * 9 + 192 * 16 + 16 * 32 * 25 + 192 * 32,
}
for reduce, weights in by_hand.items():
    assert inception[reduce][1] == weights * 28 * 28  # multiply-adds = weights x positions
print(f"the reductions cut the multiply-adds {inception[False][1] / inception[True][1]:.1f}-fold")

# %% [markdown]
# **Global average pooling (NiN).** AlexNet ends with three fully connected layers on its last $6\times6\times256$
# feature maps; Network in Network replaces them by making the last mlpconv layer produce **one feature map per
# class** and averaging each map over all positions: $s_k = \frac{1}{HW}\sum_{i,j} a_{k,i,j}$, fed straight into
# the softmax. It is average pooling with the window as large as the map (`avgpool_forward(a, pool=H)`, torch's
# `adaptive_avg_pool2d(a, 1)`), its gradient puts $\partial L/\partial s_k \,/\, HW$ on every position of map $k$, and
# it has **no parameters**: it cannot overfit, and it forces each map to act as a confidence map for its class.
# Because it sums over positions it is also invariant to where in the map an object sits (for a shift that
# stays inside the map, exactly). The numbers:

# %%
a = rng.normal(size=(4, 10, 6, 6))  # the last layer's 10 maps (one per class) on 6x6 positions
gap, gap_cache = pool.avgpool_forward(a, 6)
ta = torch.tensor(a, requires_grad=True)
t_gap = F.adaptive_avg_pool2d(ta, 1)
g_gap = rng.normal(size=gap.shape)
t_gap.backward(torch.tensor(g_gap))
d_gap = pool.avgpool_backward(g_gap, gap_cache)
print(
    f"GAP = avgpool with pool = 6: vs mean over (H, W) {np.abs(gap[:, :, 0, 0] - a.mean(axis=(2, 3))).max():.0e}, "
    f"vs torch {np.abs(gap - t_gap.detach().numpy()).max():.0e}; gradient vs torch {rel_error(d_gap, ta.grad.numpy()):.0e}"
)
assert np.allclose(gap[:, :, 0, 0], a.mean(axis=(2, 3)), rtol=1e-12) and np.allclose(
    gap, t_gap.detach().numpy(), rtol=1e-12
)
assert (
    np.allclose(d_gap, np.broadcast_to(g_gap / 36, a.shape), rtol=1e-12) and rel_error(d_gap, ta.grad.numpy()) < 1e-12
)
shifted = np.roll(a, (1, 2), axis=(2, 3))  # the same maps, moved (circularly) by one row and two columns
W_fc = rng.normal(size=(10 * 36, 10)) / 19  # a fully connected head on the flattened maps instead
print(
    f"after the shift: GAP changes by {np.abs(pool.avgpool_forward(shifted, 6)[0] - gap).max():.0e}, a fully "
    f"connected head by {np.abs(shifted.reshape(4, -1) @ W_fc - a.reshape(4, -1) @ W_fc).max():.2f}"
)
assert np.allclose(pool.avgpool_forward(shifted, 6)[0], gap, rtol=1e-12)
alexnet_head = 6 * 6 * 256 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
print(f"AlexNet's three fully connected layers: {alexnet_head:,} parameters (of its ~61 M); a GAP head: 0")
assert alexnet_head == 58_631_144

# %% [markdown]
# **AlexNet's biases of 1.** Krizhevsky et al. initialised the weights from $\mathcal N(0, 0.01^2)$ and "the neuron
# biases in the second, fourth, and fifth convolutional layers, as well as in the fully connected hidden layers,
# with the constant 1. This initialization accelerates the early stages of learning by providing the ReLUs with
# positive inputs." Why it helps, in numbers: with small weights the pre-activations $z = Wx + b$ are small; with
# $b = 0$ about half of them are negative, so half the ReLUs pass no gradient and the signal shrinks layer by
# layer; with $b = 1$ nearly every $z$ is positive, every ReLU passes its gradient, and the first steps are
# larger. A 4-hidden-layer ReLU MLP of width 128 on the standardised digits, weights $\mathcal N(0, 0.07^2)$ (small,
# as in AlexNet: Kaiming's scale here would be $\sqrt{2/128} = 0.125$), the same seed, SGD with momentum:

# %%
from deepkit.data import load_digits

digits = load_digits()
X_dg = torch.tensor((digits.X_train - digits.X_train.mean(0)) / (digits.X_train.std(0) + 1e-8), dtype=torch.float32)
y_dg = torch.tensor(digits.y_train)


def small_init_mlp(bias, std=0.07, width=128, depth=4):
    torch.manual_seed(0)
    dims = [64] + [width] * depth
    layers = []
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        lin = torch.nn.Linear(d_in, d_out)
        torch.nn.init.normal_(lin.weight, 0.0, std)
        torch.nn.init.constant_(lin.bias, bias)
        layers += [lin, torch.nn.ReLU()]
    head = torch.nn.Linear(width, 10)
    torch.nn.init.normal_(head.weight, 0.0, std)
    torch.nn.init.zeros_(head.bias)
    return torch.nn.Sequential(*layers, head).float()  # float32: these runs are about speed, not digits


bias_runs = {}
for bias in (0.0, 1.0):
    net = small_init_mlp(bias)
    with torch.no_grad():
        h, active = X_dg, []
        for m in net:
            h = m(h)
            if isinstance(m, torch.nn.ReLU):
                active.append(float((h > 0).float().mean()))
    F.cross_entropy(net(X_dg), y_dg).backward()
    grad_first = net[0].weight.grad.norm().item()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    gen, curve = torch.Generator().manual_seed(0), []
    for step in range(150):
        idx = torch.randint(0, len(y_dg), (64,), generator=gen)
        loss = F.cross_entropy(net(X_dg[idx]), y_dg[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
    bias_runs[bias] = (active, grad_first, np.mean(curve[40:60]), np.mean(curve[-20:]))
    print(
        f"bias {bias:.0f}: active ReLUs per layer {np.round(active, 2)}, |dL/dW1| at init {grad_first:.2e}, "
        f"loss around step 50 {bias_runs[bias][2]:.2f}, around step 150 {bias_runs[bias][3]:.3f}"
    )
assert all(0.4 < f < 0.6 for f in bias_runs[0.0][0]) and min(bias_runs[1.0][0]) > 0.75
assert bias_runs[1.0][1] > 3 * bias_runs[0.0][1] and bias_runs[1.0][2] < bias_runs[0.0][2] - 1.0

# %% [markdown]
# With biases of 1, 80-100% of the ReLUs are on at the start (the net begins almost linear), the first layer's
# gradient is several times larger, and the loss drops much sooner; later the difference fades. The trick
# repairs a too-small initialisation; with the Kaiming scale of lecture 03 (and batch norm) it is not needed, and
# later networks (VGG, ResNet) initialise biases to 0.

# %% [markdown]
# ## 9. Residual blocks and the degradation problem
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
worst_param = max(rel_error(grads[k], tp[k].grad.numpy()) for k in params)
print(
    "forward diff",
    np.abs(out - tout.detach().numpy()).max(),
    "| dx error",
    f"{rel_error(dx, tx.grad.numpy()):.0e}",
    "| worst parameter error",
    f"{worst_param:.0e}",
)
assert np.allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
assert rel_error(dx, tx.grad.numpy()) < 1e-12 and worst_param < 1e-12

# %% [markdown]
# Now the degradation experiment, at laptop scale: fully connected nets of width 32 on the standardised digits,
# 4 and 20 hidden layers, **plain vs residual** (blocks of two layers with an identity skip). Degradation is a
# claim about nets that *can* pass their signal, so both get what lecture 03 and 04 prescribe: Kaiming
# initialisation and batch norm after every hidden linear layer. (Without them, a deep plain net fails for the
# simpler reason of lecture 03: its signal vanishes and its loss stays at $\log 10$; that is not degradation.)
# The same seed, optimiser (SGD + momentum) and 200 steps for all four; we report the **training** loss (eval mode,
# the whole training set), so overfitting plays no part.

# %%
Xtr = torch.tensor(digits.X_train, dtype=torch.float32)
Xtr = (Xtr - Xtr.mean(0)) / (Xtr.std(0) + 1e-8)
ytr = torch.tensor(digits.y_train)


class MLP(torch.nn.Module):
    """Linear -> BN -> ReLU layers (Kaiming init); residual: h <- relu(h + BN(W2 relu(BN(W1 h)))) per two layers."""

    def __init__(self, depth, width=32, residual=False):
        super().__init__()
        self.inp, self.out = torch.nn.Linear(64, width), torch.nn.Linear(width, 10)
        self.hidden = torch.nn.ModuleList(torch.nn.Linear(width, width) for _ in range(depth))
        self.norms = torch.nn.ModuleList(torch.nn.BatchNorm1d(width) for _ in range(depth))
        self.residual = residual
        for lin in (self.inp, *self.hidden):
            torch.nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            torch.nn.init.zeros_(lin.bias)

    def forward(self, x, record=None):
        h = torch.relu(self.inp(x))
        for i in range(0, len(self.hidden), 2):
            a = torch.relu(self.norms[i](self.hidden[i](h)))
            z = self.norms[i + 1](self.hidden[i + 1](a))
            h = torch.relu(z + h) if self.residual else torch.relu(z)
            if record is not None:
                record.append(float(h.detach().std()))
        return self.out(h)


curves, signal = {}, {}
t0 = time.perf_counter()
for depth in (4, 20):
    for residual in (False, True):
        torch.manual_seed(1)
        net = MLP(depth, residual=residual).float()
        stds = []
        F.cross_entropy(net(Xtr, record=stds), ytr).backward()
        signal[(depth, residual)] = (stds[-1], net.inp.weight.grad.norm().item())
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        gen, losses = torch.Generator().manual_seed(1), []
        for step in range(200):
            idx = torch.randint(0, len(ytr), (64,), generator=gen)
            loss = F.cross_entropy(net(Xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        net.eval()
        with torch.no_grad():
            final = F.cross_entropy(net(Xtr), ytr).item()
        curves[(depth, residual)] = (np.convolve(losses, np.ones(20) / 20, mode="valid"), final)
print(f"trained 4 nets in {time.perf_counter() - t0:.1f} s")
fig, ax = plt.subplots(figsize=(7, 3))
for (depth, residual), (curve, final) in curves.items():
    std_last, grad_first = signal[(depth, residual)]
    label = f"{depth} layers, {'residual' if residual else 'plain'}: final train loss {final:.3f}"
    ax.semilogy(curve, label=label, ls="-" if residual else "--")
    print(f"{label}   (at init: last hidden std {std_last:.2f}, |dL/dW_first| {grad_first:.2f})")
ax.set_xlabel("step")
ax.set_ylabel("training loss (moving average)")
ax.legend(fontsize=8)
plt.show()
# the deep plain net's signal does not vanish at init (BN + Kaiming) ...
assert signal[(20, False)][0] > 0.3 and signal[(20, False)][1] > 0.1 * signal[(4, False)][1]
# ... yet it trains far worse than the shallow plain net, while the equally deep residual net does not
assert curves[(20, False)][1] > 5 * curves[(4, False)][1]
assert curves[(20, True)][1] < curves[(4, False)][1] + 0.05 and curves[(20, True)][1] < curves[(20, False)][1] / 5

# %% [markdown]
# At initialisation the 20-layer plain net passes its signal fine: its last hidden layer has the same spread as
# the shallow net's, and its first-layer gradient is larger, not smaller. It is trainable in the sense of lecture
# 03. Yet after the same 200 steps its
# training loss is an order of magnitude above the 4-layer net's, although it could represent everything the
# shallow net does (set the extra layers to the identity). That is the degradation problem (He et al. saw it with
# batch norm at 20 vs 56 layers on CIFAR-10): the optimiser does not find such solutions. The residual net, whose
# blocks only add a correction to an identity path, trains as well as the shallow one.
#
# ## 10. A small CNN on digits, with our own layers
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
# ## 11. Play
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
# * Routing the max-pool gradient to every element of the window, to every tied maximum, or splitting it among
#   the ties: PyTorch (and the exercise) give all of it to the first maximum, row-major (section 4).
# * Sizes that do not divide: check $(N-F+2P)/S$ before building a net, or the last rows are silently dropped.
# * Residual blocks whose skip changes the channel count without a projection.
