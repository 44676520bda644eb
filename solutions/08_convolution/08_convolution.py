# %% [markdown]
# # Exercise 08 · Convolution, pooling and a small CNN
#
# Implement the functions named in each part in **`lib/deepkit/conv.py`**, **`lib/deepkit/pool.py`** and
# **`lib/deepkit/blocks.py`** (layouts as in PyTorch: x `(N, C, H, W)`, w `(F, C, kh, kw)`). Everything must be
# vectorized: no Python loop over examples or output positions (loops over the few kernel offsets are fine).
# Run the setup cell, then each test cell after implementing its function. Points are in each cell.

# %%
# Setup (run me first): import YOUR deepkit from the nearest lib/ folder and reload it when you edit it.
# %load_ext autoreload
# %autoreload 2
import sys
from pathlib import Path

import numpy as np

_here = Path.cwd().resolve()
_name = "reference" if _here.parent.name == "solutions" else "lib"  # an instructor's source notebook: the reference
LIB = next(p / _name for p in (_here, *_here.parents) if (p / _name / "deepkit" / "__init__.py").is_file())
sys.path.insert(0, str(LIB))
from deepkit.gradcheck import check_gradient, rel_error
from deepkit.testing import assert_close


def hidden_check(part: str) -> None:
    """Marks where the autograder's hidden checks for `part` run: on your lib/, in a sandbox, not here."""


print("using deepkit from", LIB)

# %% [markdown]
# ## Part 1 · `conv_output_size(n, f, pad, stride, dilation, strict=True)` (1 point)
# Return $(n + 2P - D(f-1) - 1)/S + 1$. With `strict=True` raise `ValueError` when the division is not exact;
# with `strict=False` floor like PyTorch. Raise `ValueError` when the dilated filter does not fit at all.

# %% nbgrader={"grade": true, "grade_id": "conv_output_size", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Visible tests for conv_output_size (1 point)
from deepkit.conv import conv_output_size

for args, expected in ((dict(n=32, f=5, pad=2), 32), (dict(n=7, f=3, stride=2), 3), (dict(n=10, f=3, dilation=2), 6)):
    assert conv_output_size(**args) == expected, (
        f"conv_output_size({args}) = {conv_output_size(**args)}, expected {expected}"
    )
assert conv_output_size(7, 3, stride=3, strict=False) == 2, "strict=False floors (7 - 3) / 3 + 1 like PyTorch"
for bad, why in (
    (dict(n=7, f=3, stride=3), "(7 - 3) / 3 is not an integer"),
    (dict(n=2, f=5), "a 5-tap filter does not fit in 2"),
):
    try:
        conv_output_size(**bad)
        raise AssertionError(f"conv_output_size({bad}) should raise ValueError: {why}")
    except ValueError:
        pass
### BEGIN HIDDEN TESTS
hidden_check("conv_output_size")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2 · `receptive_field(kernels, strides=None, dilations=None)` (1 point)
# $r = 1 + \sum_l D_l (K_l-1)\prod_{m<l}S_m$ for a stack of layers (one entry per layer).

# %% nbgrader={"grade": true, "grade_id": "receptive_field", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Visible tests for receptive_field (1 point)
from deepkit.conv import receptive_field

assert receptive_field([3, 3, 3]) == 7, "three 3x3 layers: 1 + 3 * 2"
assert receptive_field([3, 3, 3], dilations=[1, 2, 4]) == 15, "a dilated 3-tap filter reaches d * 2 pixels further"
assert receptive_field([3, 2, 3], strides=[1, 2, 1]) == 1 + 2 + 1 + 2 * 2, (
    "a layer's reach is multiplied by the product of the strides of the layers BEFORE it"
)
### BEGIN HIDDEN TESTS
hidden_check("receptive_field")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3 · `im2col` and `col2im` (1 point)
# `im2col(x, kh, kw, stride, pad, dilation)` returns `(N*Ho*Wo, C*kh*kw)`: row `(n*Ho + i)*Wo + j` is the receptive
# field of output position `(i, j)` of example `n`, flattened in `(C, kh, kw)` order. `col2im` is its adjoint: it
# **adds** rows back onto their fields (you need it for the backward pass; it is tested there).

# %% nbgrader={"grade": true, "grade_id": "im2col", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Visible tests for im2col (1 point)
from deepkit.conv import col2im, im2col

x = np.arange(2 * 4 * 4, dtype=float).reshape(1, 2, 4, 4)
cols = im2col(x, 2, 2, stride=2)
assert_close(cols[0], [0, 1, 4, 5, 16, 17, 20, 21], "row 0 of im2col", hint="flatten each field in (C, kh, kw) order")
assert_close(cols[3], [10, 11, 14, 15, 26, 27, 30, 31], "row 3 of im2col", hint="rows run over (n, i, j), j fastest")
r = np.random.default_rng(0).normal(size=im2col(x, 3, 3, 1, 1).shape)
assert np.isclose(np.sum(im2col(x, 3, 3, 1, 1) * r), np.sum(x * col2im(r, x.shape, 3, 3, 1, 1)))  # adjoint
### BEGIN HIDDEN TESTS
hidden_check("im2col")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4 · `conv2d_forward(x, w, b, stride=1, pad=0, dilation=1)` (2 points)
# Return `(out, cache)`, out `(N, F, Ho, Wo)`. Use `im2col` and one matrix product.

# %% nbgrader={"grade": true, "grade_id": "conv2d_forward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Visible tests for conv2d_forward (2 points)
from deepkit.conv import conv2d_forward

x = np.arange(16, dtype=float).reshape(1, 1, 4, 4)
w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
out, _ = conv2d_forward(x, w, np.array([0.5]))
assert_close(out, np.full((1, 1, 3, 3), -5 + 0.5), "out", hint="cross-correlation (no kernel flip), plus the bias")
out, _ = conv2d_forward(x, np.ones((2, 1, 3, 3)), np.zeros(2), stride=2, pad=1)
assert_close(
    out[0, 0], [[10, 24], [51, 90]], "out with stride 2, pad 1", hint="zero padding, windows start every 2 pixels"
)
out, _ = conv2d_forward(x, np.ones((1, 1, 2, 2)), np.zeros(1), stride=2)
assert_close(out[0, 0], [[10, 18], [42, 50]], "out with stride = kernel = 2 (non-overlapping patches)")
### BEGIN HIDDEN TESTS
hidden_check("conv2d_forward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 5 · `conv2d_backward(dout, cache)` (3 points)
# Return `(dx, dw, db)`: $dW=D^\top\text{cols}$, $db=\sum D$, $dx=\text{col2im}(D\,W_{mat})$.

# %% nbgrader={"grade": true, "grade_id": "conv2d_backward", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Visible tests for conv2d_backward (3 points): gradient checks with stride and padding
from deepkit.conv import conv2d_backward

rng = np.random.default_rng(8)
x, w, b = rng.normal(size=(2, 2, 5, 6)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
out, cache = conv2d_forward(x, w, b, stride=2, pad=1)
dout = rng.normal(size=out.shape)
grads = dict(zip(("x", "w", "b"), conv2d_backward(dout, cache)))
args = dict(x=x, w=w, b=b)
for name, g in grads.items():
    report = check_gradient(
        lambda v: conv2d_forward(**{**args, name: v}, stride=2, pad=1)[0], args[name], g, dout, name=name
    )
    print(report)
    assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("conv2d_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 6 · Dilated convolution (1 point)
# If your `im2col`/`col2im` honour `dilation`, this already works: taps `D` pixels apart.

# %% nbgrader={"grade": true, "grade_id": "dilated_conv", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Visible tests for the dilated convolution (1 point)
x = np.arange(25, dtype=float).reshape(1, 1, 5, 5)
w = np.zeros((1, 1, 3, 3))
w[0, 0, 0, 0] = 1
w[0, 0, 2, 2] = 1
out, cache = conv2d_forward(x, w, np.zeros(1), dilation=2)
assert out.shape == (1, 1, 1, 1) and out[0, 0, 0, 0] == 0 + 24
dout = np.ones_like(out)
dx, dw, db = conv2d_backward(dout, cache)
assert dx[0, 0, 0, 0] == 1 and dx[0, 0, 4, 4] == 1 and dx.sum() == 2
### BEGIN HIDDEN TESTS
hidden_check("dilated_conv")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 7 · Pooling: `maxpool_forward/backward` (1 + 2 points) and `avgpool_forward/backward` (1 point)
# Windows of size `pool` moving by `stride` (default: `pool`, non-overlapping). Max-pool backward: each upstream
# gradient goes to the maximum of its window; when several elements **tie** for the maximum, all of it goes to the
# **first** of them in row-major order within the window (PyTorch's rule; not split, not copied to each tie);
# overlapping windows add up. The hidden checks use inputs with many exact ties.

# %% nbgrader={"grade": true, "grade_id": "maxpool_forward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Visible tests for maxpool_forward (1 point)
from deepkit.pool import maxpool_forward, maxpool_backward, avgpool_forward, avgpool_backward

x = np.array([[[[1.0, 2, 5, 0], [3, 4, 1, 1], [0, 0, 2, 2], [7, 0, 2, 2]]]])
out, cache = maxpool_forward(x, 2)
assert_close(out, [[[[4, 5], [7, 2]]]], "out", hint="the stride defaults to the pool size: non-overlapping windows")
assert_close(maxpool_forward(x, 2, 1)[0][0, 0], [[4, 5, 5], [4, 4, 2], [7, 2, 2]], "out with stride 1")
### BEGIN HIDDEN TESTS
hidden_check("maxpool_forward")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "maxpool_backward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Visible tests for maxpool_backward (2 points)
dx = maxpool_backward(np.array([[[[10.0, 20], [30, 40]]]]), cache)
assert_close(
    dx,
    [[[[0, 0, 20, 0], [0, 10, 0, 0], [0, 0, 40, 0], [30, 0, 0, 0]]]],
    "dx",
    hint="the bottom-right window [[2, 2], [2, 2]] ties four times: its whole gradient (40) goes to the FIRST "
    "maximum in row-major order, as PyTorch does; not split, not copied to every tie",
)
x = np.random.default_rng(2).normal(size=(2, 2, 5, 5))
out, c = maxpool_forward(x, 3, 1)  # overlapping windows
g = np.random.default_rng(3).normal(size=out.shape)
report = check_gradient(lambda v: maxpool_forward(v, 3, 1)[0], x, maxpool_backward(g, c), g)
print(report)
assert report.ok, "overlapping windows: the gradients of all windows that share a maximum add up"
### BEGIN HIDDEN TESTS
hidden_check("maxpool_backward")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "avgpool", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Visible tests for avgpool (1 point)
x = np.arange(16, dtype=float).reshape(1, 1, 4, 4)
out, c = avgpool_forward(x, 2)
assert_close(out, [[[[2.5, 4.5], [10.5, 12.5]]]], "out")
assert_close(avgpool_backward(np.ones((1, 1, 2, 2)), c), np.full((1, 1, 4, 4), 0.25), "dx", hint="dout / (pool * pool)")
### BEGIN HIDDEN TESTS
hidden_check("avgpool")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 8 · `conv_transpose2d_forward/backward(x, w, b, stride, pad)` (2 points)
# w has PyTorch's ConvTranspose2d layout `(C_in, C_out, kh, kw)`; output size $(H-1)S-2P+k$. Hint: the forward is
# `col2im` of the rows of x times `w.reshape(C_in, -1)`; the backward uses `im2col` of dout.

# %% nbgrader={"grade": true, "grade_id": "conv_transpose2d", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Visible tests for the transposed convolution (2 points)
from deepkit.conv import conv_transpose2d_backward, conv_transpose2d_forward

out, cache = conv_transpose2d_forward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), np.zeros(1), stride=2)
assert_close(
    out[0, 0],
    [[1, 1, 2, 1, 1], [1, 1, 2, 1, 1], [2, 2, 4, 2, 2], [1, 1, 2, 1, 1], [1, 1, 2, 1, 1]],
    "out",
    hint="each input pixel scatters a copy of the kernel onto a (H - 1) * stride - 2 pad + k grid; overlaps add",
)
rng = np.random.default_rng(4)
x, w, b = rng.normal(size=(2, 3, 3, 3)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=2)
out, cache = conv_transpose2d_forward(x, w, b, stride=2, pad=1)
dout = rng.normal(size=out.shape)
dx, dw, db = conv_transpose2d_backward(dout, cache)
for name, arg, grad in (("x", x, dx), ("w", w, dw)):
    f = (
        (lambda v: conv_transpose2d_forward(v, w, b, 2, 1)[0])
        if name == "x"
        else (lambda v: conv_transpose2d_forward(x, v, b, 2, 1)[0])
    )
    report = check_gradient(f, arg, grad, dout, name=name)
    print(report)
    assert report.ok
### BEGIN HIDDEN TESTS
hidden_check("conv_transpose2d")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 9 · `residual_block_forward/backward(x, params)` (1 + 2 points)
# out = relu(conv3x3(relu(conv3x3(x, W1) + b1), W2) + b2 + skip(x)) with padding 1; skip is the identity, or a
# 1x1 convolution `(Ws, bs)` when the channel count changes. Build it from your `conv2d_*` and deepkit's
# `relu_forward/backward`.

# %% nbgrader={"grade": true, "grade_id": "residual_block_forward", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Visible tests for residual_block_forward (1 point)
from deepkit.blocks import init_residual_block, residual_block_backward, residual_block_forward

rng = np.random.default_rng(5)
params = {k: np.zeros_like(v) for k, v in init_residual_block(3, 3, rng).items()}
x = rng.normal(size=(1, 3, 4, 4))
assert_close(
    residual_block_forward(x, params)[0],
    np.maximum(x, 0),
    "out with all weights 0",
    hint="F(x) = 0, so out = relu(0 + x): the skip is added BEFORE the last ReLU",
)
### BEGIN HIDDEN TESTS
hidden_check("residual_block_forward")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "residual_block_backward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Visible tests for residual_block_backward (2 points)
for c_in, c_out in ((2, 2), (2, 3)):
    params = init_residual_block(c_in, c_out, rng, scale=0.5)
    x = rng.normal(size=(2, c_in, 4, 4))
    out, cache = residual_block_forward(x, params)
    dout = rng.normal(size=out.shape)
    dx, grads = residual_block_backward(dout, cache)
    report = check_gradient(lambda v: residual_block_forward(v, params)[0], x, dx, dout, name="x")
    assert report.ok, f"{report} (did you add the skip path's gradient to dx?)"
    for k in params:
        rep = check_gradient(
            lambda v: residual_block_forward(x, {**params, k: v})[0], params[k], grads[k], dout, name=k
        )
        assert rep.ok, rep
### BEGIN HIDDEN TESTS
hidden_check("residual_block_backward")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 10 · `small_cnn_loss(params, X, y=None, reg=0.0)` (2 points)
# conv3x3 (pad 1) → ReLU → 2x2 max-pool → affine → softmax loss, plus $\tfrac12\,\text{reg}(\|W_1\|^2+\|W_2\|^2)$.
# Return the scores when `y` is None, else `(loss, grads)`.

# %% nbgrader={"grade": true, "grade_id": "small_cnn_loss", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Visible tests for small_cnn_loss (2 points)
from deepkit.blocks import init_small_cnn, small_cnn_loss

params = init_small_cnn((1, 8, 8), 4, 10, rng=np.random.default_rng(0))
X, y = np.random.default_rng(1).normal(size=(3, 1, 8, 8)), np.array([1, 5, 9])
assert small_cnn_loss(params, X).shape == (3, 10)
loss, grads = small_cnn_loss(params, X, y, reg=0.1)
for k in params:
    rep = check_gradient(
        lambda v: np.array(small_cnn_loss({**params, k: v}, X, y, reg=0.1)[0]), params[k], grads[k], name=k
    )
    assert rep.ok, rep
### BEGIN HIDDEN TESTS
hidden_check("small_cnn_loss")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 11 · Train it on digits (2 points)
# Ten epochs of minibatch SGD (learning rate 0.2) with your layers. The hidden check trains the same way on a different
# shuffling and expects at least 85% validation accuracy (the reference reaches 90–95% depending on the initialisation).

# %% nbgrader={"grade": true, "grade_id": "cnn_digits", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Visible test: your CNN learns the digits (2 points)
import time
from deepkit.data import load_digits

split = load_digits(images=True)
params = init_small_cnn((1, 8, 8), 8, 10, rng=np.random.default_rng(0))
rng_train = np.random.default_rng(1)
t0 = time.perf_counter()
for epoch in range(10):
    order = rng_train.permutation(len(split.y_train))
    for s in range(0, len(order), 32):
        idx = order[s : s + 32]
        loss, grads = small_cnn_loss(params, split.X_train[idx], split.y_train[idx], reg=1e-4)
        for k in params:
            params[k] -= 0.2 * grads[k]
val_acc = np.mean(small_cnn_loss(params, split.X_val).argmax(1) == split.y_val)
print(f"trained in {time.perf_counter() - t0:.1f} s; validation accuracy {val_acc:.1%}")
assert val_acc >= 0.85
### BEGIN HIDDEN TESTS
hidden_check("cnn_digits")
### END HIDDEN TESTS

# %% [markdown]
# **Question (1 point, graded by hand): a bottleneck block.** ResNet-50 replaces the basic block (two 3x3
# convolutions, 256 → 256 → 256 channels) by a *bottleneck*: a 1x1 convolution 256 → 64, a 3x3 convolution 64 → 64,
# and a 1x1 convolution 64 → 256. On a 56x56 feature map (stride 1, "same" padding, ignore biases): (a) how many
# weights and how many multiply-adds does each block cost, and by what factor is the bottleneck cheaper? (b) What
# is the receptive field of one output unit of each block (in pixels of its input)? (c) Why can the 1x1 layers be
# so cheap without losing what the 3x3 layer sees?

# %% [markdown] nbgrader={"grade": true, "grade_id": "bottleneck_answer", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader; the release shows "YOUR ANSWER HERE".) (a) Basic block: $2 \times
# 3\cdot3\cdot256\cdot256 = 1{,}179{,}648 \approx 1.18$M weights; every weight is used once per output pixel, $56^2 =
# 3136$ times, so $3.70 \cdot 10^9$ multiply-adds. Bottleneck: $256\cdot64 + 3\cdot3\cdot64\cdot64 + 64\cdot256 =
# 16{,}384 + 36{,}864 + 16{,}384 = 69{,}632$ weights, $2.18 \cdot 10^8$ multiply-adds. Cheaper by
# $1{,}179{,}648/69{,}632 \approx 16.9$ in both (the map size is the same everywhere). (b) Basic block: two stacked
# $3\times3$ convolutions, $1 + 2 \cdot 2 = 5$, a $5\times5$ receptive field; bottleneck: the $1\times1$ layers add
# $K - 1 = 0$, so $3\times3$. (c) A $1\times1$ convolution only mixes channels at each pixel (a linear map applied per
# pixel, $C_{in}C_{out}$ weights against $9\,C_{in}C_{out}$ for a $3\times3$); it does not touch spatial information.
# It projects the 256 channels onto 64, the $3\times3$ does all the spatial work in that smaller space, and the last
# $1\times1$ expands back. The 256 channels are strongly correlated (roughly low-rank), so little is lost, and the
# identity shortcut carries the full 256-channel input past the branch anyway: the branch only adds a correction. (The
# saving buys depth: ResNet-50 stacks more of these blocks.) *Grading:* full marks: the counts (about 1.18M vs 69.6k
# weights, 3.7G vs 0.22G multiply-adds, about 17x), receptive fields 5 and 3, and the channel-mixing / low-rank
# argument. Half: the numbers right with (b) or (c) missing or wrong.
