"""Topic 08: convolution, pooling, dilated and transposed convolution, residual block and a small CNN,
against torch autograd (float64) and finite differences; the hidden checks on known-wrong versions."""

import types

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.local import grade_module, load_topic
from tests.refs import dk

F = torch.nn.functional
conv, pool, blocks, gc = dk.conv, dk.pool, dk.blocks, dk.gradcheck


def _t(a):
    return torch.tensor(a, requires_grad=True)


@pytest.mark.parametrize(
    "stride,pad,dilation,k", [(1, 0, 1, 3), (2, 1, 1, 3), (1, 2, 2, 3), (3, 1, 1, 2), (2, 0, 2, 2), (1, 0, 1, 1)]
)
def test_conv2d_matches_torch(stride, pad, dilation, k):
    rng = np.random.default_rng(stride * 10 + pad + dilation)
    x, w, b = rng.normal(size=(2, 3, 9, 8)), rng.normal(size=(4, 3, k, k)), rng.normal(size=4)
    out, cache = conv.conv2d_forward(x, w, b, stride, pad, dilation)
    tx, tw, tb = _t(x), _t(w), _t(b)
    tout = F.conv2d(tx, tw, tb, stride=stride, padding=pad, dilation=dilation)
    np.testing.assert_allclose(out, tout.detach().numpy(), atol=1e-12)
    dout = rng.normal(size=out.shape)
    tout.backward(torch.tensor(dout))
    for got, want in zip(conv.conv2d_backward(dout, cache), (tx, tw, tb)):
        assert gc.rel_error(got, want.grad.numpy()) < 1e-12


def test_conv2d_backward_finite_differences():
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    out, cache = conv.conv2d_forward(x, w, b, stride=2, pad=1)
    dout = rng.normal(size=out.shape)
    dx, dw, db = conv.conv2d_backward(dout, cache)
    args = dict(x=x, w=w, b=b)
    for name, g in (("x", dx), ("w", dw), ("b", db)):
        rep = gc.check_gradient(
            lambda v, name=name: conv.conv2d_forward(**{**args, name: v}, stride=2, pad=1)[0],
            args[name],
            g,
            dout,
            name=name,
        )
        assert rep.ok, rep


@settings(max_examples=30, deadline=None)
@given(
    N=st.integers(1, 2),
    C=st.integers(1, 3),
    H=st.integers(3, 9),
    W=st.integers(3, 9),
    k=st.integers(1, 3),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    d=st.integers(1, 2),
)
def test_col2im_is_the_adjoint_of_im2col(N, C, H, W, k, s, p, d):
    if d * (k - 1) + 1 > min(H, W) + 2 * p:
        return
    rng = np.random.default_rng(H * W)
    x = rng.normal(size=(N, C, H, W))
    cols = conv.im2col(x, k, k, s, p, d)
    Ho = conv.conv_output_size(H, k, p, s, d, strict=False)
    Wo = conv.conv_output_size(W, k, p, s, d, strict=False)
    assert cols.shape == (N * Ho * Wo, C * k * k)
    r = rng.normal(size=cols.shape)
    np.testing.assert_allclose(np.sum(cols * r), np.sum(x * conv.col2im(r, x.shape, k, k, s, p, d)), rtol=1e-10)


def test_output_size_rules():
    assert conv.conv_output_size(32, 5, 2, 1) == 32  # "same" padding
    assert conv.conv_output_size(7, 3, 0, 2) == 3
    assert conv.conv_output_size(10, 3, 0, 1, dilation=2) == 6
    with pytest.raises(ValueError, match="not an integer"):
        conv.conv_output_size(7, 3, 0, 3)  # (7 - 3) / 3
    assert conv.conv_output_size(7, 3, 0, 3, strict=False) == 2  # torch floors
    assert F.conv2d(torch.zeros(1, 1, 7, 7), torch.zeros(1, 1, 3, 3), stride=3).shape[-1] == 2
    with pytest.raises(ValueError, match="does not fit"):
        conv.conv_output_size(2, 5)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        conv.conv_output_size(5, 3, stride=0)


def test_receptive_field():
    assert conv.receptive_field([3] * 5) == 11  # 1 + L (k - 1)
    assert conv.receptive_field([3, 3, 3], dilations=[1, 2, 4]) == 15
    assert conv.receptive_field([7, 3, 3], strides=[2, 2, 1]) == 1 + 6 + 2 * 2 + 2 * 4
    # empirical: the gradient of one output unit w.r.t. the input is non-zero on exactly r x r pixels
    layers = [(3, 1, 1), (3, 2, 1), (3, 1, 2)]
    x = torch.zeros(1, 1, 40, 40, dtype=torch.float64, requires_grad=True)
    h = x
    for k, s, d in layers:
        h = F.conv2d(h, torch.ones(1, 1, k, k, dtype=torch.float64), stride=s, dilation=d)
    h[0, 0, h.shape[2] // 2, h.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    r = conv.receptive_field(*zip(*layers))
    assert int(rows.max() - rows.min() + 1) == r


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (3, 0), (2, 0)])
def test_conv_transpose_matches_torch(stride, pad):
    rng = np.random.default_rng(stride + 7 * pad)
    x, w, b = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=2)
    out, cache = conv.conv_transpose2d_forward(x, w, b, stride, pad)
    tx, tw, tb = _t(x), _t(w), _t(b)
    tout = F.conv_transpose2d(tx, tw, tb, stride=stride, padding=pad)
    np.testing.assert_allclose(out, tout.detach().numpy(), atol=1e-12)
    dout = rng.normal(size=out.shape)
    tout.backward(torch.tensor(dout))
    for got, want in zip(conv.conv_transpose2d_backward(dout, cache), (tx, tw, tb)):
        assert gc.rel_error(got, want.grad.numpy()) < 1e-12


def test_transposed_conv_is_the_gradient_of_conv():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 2, 3, 3))  # conv: 2 -> 4 channels
    g = rng.normal(size=(1, 4, 3, 3))
    x = rng.normal(size=(1, 2, 7, 7))
    _, cache = conv.conv2d_forward(x, w, np.zeros(4), stride=2)
    dx, _, _ = conv.conv2d_backward(g, cache)
    up, _ = conv.conv_transpose2d_forward(g, w, np.zeros(2), stride=2)
    np.testing.assert_allclose(up, dx, atol=1e-12)


@pytest.mark.parametrize(
    "kind,pool_size,stride", [("max", 2, 2), ("max", 3, 1), ("max", 3, 2), ("avg", 2, 2), ("avg", 3, 1)]
)
def test_pooling_matches_torch(kind, pool_size, stride):
    rng = np.random.default_rng(pool_size * 3 + stride)
    x = rng.normal(size=(2, 3, 7, 8))
    fwd, bwd = getattr(pool, f"{kind}pool_forward"), getattr(pool, f"{kind}pool_backward")
    tfn = F.max_pool2d if kind == "max" else F.avg_pool2d
    out, cache = fwd(x, pool_size, stride)
    tx = _t(x)
    tout = tfn(tx, pool_size, stride)
    np.testing.assert_allclose(out, tout.detach().numpy(), atol=1e-12)
    dout = rng.normal(size=out.shape)
    tout.backward(torch.tensor(dout))
    assert gc.rel_error(bwd(dout, cache), tx.grad.numpy()) < 1e-12


def test_maxpool_ties_go_to_the_first_maximum_like_torch():
    x = np.zeros((1, 1, 2, 2))
    out, cache = pool.maxpool_forward(x, 2)
    dx = pool.maxpool_backward(np.ones((1, 1, 1, 1)), cache)
    tx = _t(x)
    F.max_pool2d(tx, 2).sum().backward()
    np.testing.assert_array_equal(dx, tx.grad.numpy())
    assert dx.sum() == 1.0


@pytest.mark.parametrize("pool_size, stride", [(2, 2), (3, 1), (3, 2), (2, 1), (3, 3)])
def test_maxpool_ties_on_integer_inputs_match_torch(pool_size, stride):
    """Many windows of small integers hold several equal maxima: torch gives the first (row-major) all of it."""
    rng = np.random.default_rng(pool_size * 10 + stride)
    x = rng.integers(-2, 3, size=(2, 3, 8, 7)).astype(float)
    out, cache = pool.maxpool_forward(x, pool_size, stride)
    dout = rng.normal(size=out.shape)
    tx = _t(x)
    tout = F.max_pool2d(tx, pool_size, stride)
    tout.backward(torch.tensor(dout))
    np.testing.assert_array_equal(out, tout.detach().numpy())
    np.testing.assert_allclose(pool.maxpool_backward(dout, cache), tx.grad.numpy(), rtol=1e-12, atol=1e-14)
    windows = np.stack(pool.window_offsets(x, pool_size, stride), axis=-1)
    assert ((windows == windows.max(-1, keepdims=True)).sum(-1) > 1).mean() > 0.3  # ties are common here


@pytest.mark.parametrize("c_in,c_out", [(3, 3), (2, 4)])
def test_residual_block_matches_torch(c_in, c_out):
    rng = np.random.default_rng(c_in + c_out)
    params = blocks.init_residual_block(c_in, c_out, rng, scale=0.5)
    x = rng.normal(size=(2, c_in, 5, 5))
    out, cache = blocks.residual_block_forward(x, params)
    tp = {k: _t(v) for k, v in params.items()}
    tx = _t(x)
    h = F.relu(F.conv2d(tx, tp["W1"], tp["b1"], padding=1))
    skip = F.conv2d(tx, tp["Ws"], tp["bs"]) if "Ws" in tp else tx
    tout = F.relu(F.conv2d(h, tp["W2"], tp["b2"], padding=1) + skip)
    np.testing.assert_allclose(out, tout.detach().numpy(), atol=1e-12)
    dout = rng.normal(size=out.shape)
    tout.backward(torch.tensor(dout))
    dx, grads = blocks.residual_block_backward(dout, cache)
    assert gc.rel_error(dx, tx.grad.numpy()) < 1e-12
    assert set(grads) == set(params)
    for k, g in grads.items():
        assert gc.rel_error(g, tp[k].grad.numpy()) < 1e-12, k


def test_residual_block_with_zero_weights_is_relu_identity():
    rng = np.random.default_rng(0)
    params = {k: np.zeros_like(v) for k, v in blocks.init_residual_block(3, 3, rng).items()}
    x = rng.normal(size=(1, 3, 4, 4))
    np.testing.assert_array_equal(blocks.residual_block_forward(x, params)[0], np.maximum(x, 0))


def test_small_cnn_matches_torch_and_learns_digits():
    rng = np.random.default_rng(0)
    params = blocks.init_small_cnn(rng=rng)
    X, y = rng.normal(size=(5, 1, 8, 8)), rng.integers(0, 10, size=5)
    loss, grads = blocks.small_cnn_loss(params, X, y, reg=0.1)
    tp = {k: _t(v) for k, v in params.items()}
    h = F.max_pool2d(F.relu(F.conv2d(torch.tensor(X), tp["W1"], tp["b1"], padding=1)), 2)
    tl = F.cross_entropy(h.reshape(5, -1) @ tp["W2"] + tp["b2"], torch.tensor(y)) + 0.05 * (
        tp["W1"].pow(2).sum() + tp["W2"].pow(2).sum()
    )
    tl.backward()
    assert loss == pytest.approx(tl.item(), rel=1e-12)
    for k in params:
        assert gc.rel_error(grads[k], tp[k].grad.numpy()) < 1e-12


def test_bad_inputs_name_the_argument():
    x = np.zeros((1, 3, 5, 5))
    with pytest.raises(ValueError, match=r"w must have shape \(F, C, kh, kw\) with C = 3"):
        conv.conv2d_forward(x, np.zeros((2, 2, 3, 3)), np.zeros(2))
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        conv.conv2d_forward(x, np.zeros((2, 3, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"x must be a 4-D array of shape \(N, C, H, W\)"):
        conv.conv2d_forward(x[0], np.zeros((2, 3, 3, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="pool 6 is larger"):
        pool.maxpool_forward(x, 6)
    with pytest.raises(ValueError, match="1x1 projection"):
        blocks.residual_block_forward(
            x, blocks.init_residual_block(3, 3, np.random.default_rng(0)) | {"W1": np.zeros((4, 3, 3, 3))}
        )


def test_reference_scores_full_marks():
    points = {p.name: p.points for p in load_topic("08").parts}
    assert grade_module("08", dk) == {name: (pts, "all checks passed") for name, pts in points.items()}


def _wrap(module, **overrides):
    ns = types.SimpleNamespace(**{n: getattr(module, n) for n in dir(module) if not n.startswith("__")})
    for k, v in overrides.items():
        setattr(ns, k, v)
    return ns


def _pkg(**modules):
    base = dict(conv=dk.conv, pool=dk.pool, blocks=dk.blocks, layers=dk.layers, losses=dk.losses)
    return types.SimpleNamespace(**{**base, **modules})


def _conv_bwd_no_bias(dout, cache):
    dx, dw, db = conv.conv2d_backward(dout, cache)
    return dx, dw, np.zeros_like(db)


def _conv_flipped(x, w, b, stride=1, pad=0, dilation=1):  # true convolution instead of correlation
    return conv.conv2d_forward(x, w[:, :, ::-1, ::-1].copy(), b, stride, pad, dilation)


def _maxpool_bwd_all(dout, cache):  # gradient to every element of the window
    x_shape, arg, p, s = cache
    share = np.broadcast_to(dout[..., None, None], (*dout.shape, p, p))
    return pool.scatter_windows(share, x_shape, p, s)


def _block_bwd_no_skip(dout, cache):
    dx, grads = blocks.residual_block_backward(dout, cache)
    dsum = dk.layers.relu_backward(dout, cache[4])
    return dx - dsum if cache[3] is None else dx, grads


@pytest.mark.parametrize(
    "pkg,lost",
    [
        (lambda: _pkg(conv=_wrap(conv, conv2d_backward=_conv_bwd_no_bias)), {"conv2d_backward"}),
        (
            lambda: _pkg(conv=_wrap(conv, conv2d_forward=_conv_flipped)),
            {"conv2d_forward", "conv2d_backward", "dilated_conv"},
        ),
        (lambda: _pkg(pool=_wrap(pool, maxpool_backward=_maxpool_bwd_all)), {"maxpool_backward"}),
        (
            lambda: _pkg(conv=_wrap(conv, receptive_field=lambda k, s=None, d=None: 1 + sum(x - 1 for x in k))),
            {"receptive_field"},
        ),
        (lambda: _pkg(blocks=_wrap(blocks, residual_block_backward=_block_bwd_no_skip)), {"residual_block_backward"}),
    ],
)
def test_known_wrong_implementations_lose_their_parts(pkg, lost):
    points = {p.name: p.points for p in load_topic("08").parts}
    for name, (score, reason) in grade_module("08", pkg()).items():
        if name in lost:
            assert score < points[name], f"{name} should fail: {reason}"
        else:
            assert score == points[name], f"{name} should pass: {reason}"


def _im2col_position_major(x, kh, kw, stride=1, pad=0, dilation=1):
    """Rows ordered by output position, then example (the transpose of the documented n-major order)."""
    cols = conv.im2col(x, kh, kw, stride, pad, dilation)
    n = x.shape[0]
    return cols.reshape(n, -1, cols.shape[1]).transpose(1, 0, 2).reshape(cols.shape)


def _size_always_strict(n, f, pad=0, stride=1, dilation=1, strict=True):
    """strict ignored: a size that is not an integer is refused even with strict=False."""
    span = n + 2 * pad - dilation * (f - 1) - 1
    if span < 0 or span % stride:
        raise ValueError("the filter does not tile the input")
    return span // stride + 1


def _block_projection_without_bias(x, params):
    """The 1x1 projection's bias bs left out of the skip (only a block that changes channels has one)."""
    return blocks.residual_block_forward(x, {**params, "bs": np.zeros_like(params["bs"])} if "bs" in params else params)


def _block_identity_skip_forgotten(x, params):
    """The skip added only through a projection: a block that keeps its channels returns relu(F(x)), no + x."""
    if "Ws" in params:
        return blocks.residual_block_forward(x, params)
    h, _ = conv.conv2d_forward(
        np.maximum(conv.conv2d_forward(x, params["W1"], params["b1"], pad=1)[0], 0), params["W2"], params["b2"], pad=1
    )
    return np.maximum(h, 0), None


def _conv_db_batch_mean(dout, cache):
    dx, dw, db = conv.conv2d_backward(dout, cache)
    return dx, dw, db / dout.shape[0]


def _transpose_conv_layout(x, w, b, stride=1, pad=0):
    """w read as (C_out, C_in, kh, kw), conv2d's layout: its numbers regrouped into PyTorch's (C_in, C_out, ...)."""
    c_in, c_out = w.shape[:2]
    swapped = w.reshape(c_out, c_in, *w.shape[2:]).transpose(1, 0, 2, 3)
    return conv.conv_transpose2d_forward(x, np.ascontiguousarray(swapped), b, stride, pad)


@pytest.mark.parametrize(
    "pkg,part",
    [
        (lambda: _pkg(conv=_wrap(conv, im2col=_im2col_position_major)), "im2col"),
        (lambda: _pkg(conv=_wrap(conv, conv2d_backward=_conv_db_batch_mean)), "conv2d_backward"),
        (lambda: _pkg(conv=_wrap(conv, conv_transpose2d_forward=_transpose_conv_layout)), "conv_transpose2d"),
        (lambda: _pkg(conv=_wrap(conv, conv_output_size=_size_always_strict)), "conv_output_size"),
        (
            lambda: _pkg(blocks=_wrap(blocks, residual_block_forward=_block_projection_without_bias)),
            "residual_block_forward",
        ),
        (
            lambda: _pkg(blocks=_wrap(blocks, residual_block_forward=_block_identity_skip_forgotten)),
            "residual_block_forward",
        ),
    ],
    ids=[
        "im2col-position-major",
        "db-batch-mean",
        "transpose-weight-layout",
        "size-ignores-strict-false",
        "projection-without-bias",
        "identity-skip-forgotten",
    ],
)
def test_mistakes_that_a_single_example_or_channel_hides_lose_every_case(pkg, part):
    """Every case has N >= 2 (and C_in, C_out >= 2 for the transposed convolution), is also run with strict=False,
    and has a residual block of each kind, so these lose the whole part on every seed."""
    score, reason = grade_module("08", pkg(), parts=[part])[part]
    assert score == 0, reason


# ---- fairness: correct implementations written differently from the reference keep every point -----------------
def _size_divmod(n, f, pad=0, stride=1, dilation=1, strict=True):
    q, r = divmod(n + 2 * pad - (dilation * (f - 1) + 1), stride)
    if q < 0:
        raise ValueError("the filter does not fit")
    if strict and r:
        raise ValueError("not an integer")
    return q + 1


def _field_top_down(kernels, strides=None, dilations=None):
    """From the top unit down: r_{l-1} = s_l r_l + (d_l (k_l - 1) + 1 - s_l), starting from one pixel."""
    L = len(kernels)
    strides, dilations = strides or [1] * L, dilations or [1] * L
    r = 1
    for k, s, d in reversed(list(zip(kernels, strides, dilations))):
        r = s * r + (d * (k - 1) + 1 - s)
    return r


def _sizes(H, W, k, stride, pad, dilation):
    span = dilation * (k - 1) + 1
    return (H + 2 * pad - span) // stride + 1, (W + 2 * pad - span) // stride + 1


def _im2col_loops(x, kh, kw, stride=1, pad=0, dilation=1):
    N, C, H, W = x.shape
    Ho, Wo = _sizes(H, W, kh, stride, pad, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    rows = []
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                r, c = i * stride, j * stride
                rows.append(
                    xp[
                        n, :, r : r + dilation * (kh - 1) + 1 : dilation, c : c + dilation * (kw - 1) + 1 : dilation
                    ].ravel()
                )
    return np.array(rows)


def _conv_loops(x, w, b, stride=1, pad=0, dilation=1):
    N, C, H, W = x.shape
    F_, _, kh, kw = w.shape
    Ho, Wo = _sizes(H, W, kh, stride, pad, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F_, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            r, c = i * stride, j * stride
            field = xp[:, :, r : r + dilation * (kh - 1) + 1 : dilation, c : c + dilation * (kw - 1) + 1 : dilation]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", field, w) + b
    return out, {"x": x, "w": w, "hp": (stride, pad, dilation)}


def _conv_backward_loops(dout, cache):
    x, w, (stride, pad, dilation) = cache["x"], cache["w"], cache["hp"]
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            r, c = i * stride, j * stride
            sl = (
                slice(None),
                slice(None),
                slice(r, r + dilation * (kh - 1) + 1, dilation),
                slice(c, c + dilation * (kw - 1) + 1, dilation),
            )
            dw += np.einsum("nf,nchw->fchw", dout[:, :, i, j], xp[sl])
            dxp[sl] += np.einsum("nf,fchw->nchw", dout[:, :, i, j], w)
    H, W = x.shape[2:]
    return dxp[:, :, pad : pad + H, pad : pad + W], dw, dout.sum(axis=(0, 2, 3))


def _maxpool_loops(x, pool_size=2, stride=None):
    stride = pool_size if stride is None else stride
    N, C, H, W = x.shape
    Ho, Wo = (H - pool_size) // stride + 1, (W - pool_size) // stride + 1
    out, where = np.zeros((N, C, Ho, Wo)), {}
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    win = x[n, c, i * stride : i * stride + pool_size, j * stride : j * stride + pool_size]
                    a, bb = np.unravel_index(np.argmax(win), win.shape)  # argmax: the first maximum, row-major
                    out[n, c, i, j] = win[a, bb]
                    where[n, c, i, j] = (i * stride + a, j * stride + bb)
    return out, (x.shape, where)


def _maxpool_backward_loops(dout, cache):
    shape, where = cache
    dx = np.zeros(shape)
    for (n, c, i, j), (r, q) in where.items():
        dx[n, c, r, q] += dout[n, c, i, j]
    return dx


def _avgpool_loops(x, pool_size=2, stride=None):
    stride = pool_size if stride is None else stride
    H, W = x.shape[2:]
    Ho, Wo = (H - pool_size) // stride + 1, (W - pool_size) // stride + 1
    out = np.array(
        [
            [
                x[:, :, i * stride : i * stride + pool_size, j * stride : j * stride + pool_size].mean(axis=(2, 3))
                for j in range(Wo)
            ]
            for i in range(Ho)
        ]
    ).transpose(2, 3, 0, 1)
    return out, (x.shape, pool_size, stride)


def _avgpool_backward_loops(dout, cache):
    shape, p, s = cache
    dx = np.zeros(shape)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * s : i * s + p, j * s : j * s + p] += dout[:, :, i, j, None, None] / p**2
    return dx


def _transpose_loops(x, w, b, stride=1, pad=0):
    """Every input pixel scatters a copy of its kernel (scaled by its value) onto the output; then crop pad."""
    N, C_in, H, W = x.shape
    _, C_out, kh, kw = w.shape
    full = np.zeros((N, C_out, (H - 1) * stride + kh, (W - 1) * stride + kw))
    for i in range(H):
        for j in range(W):
            full[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw] += np.einsum(
                "nc,cohw->nohw", x[:, :, i, j], w
            )
    out = full[:, :, pad : full.shape[2] - pad, pad : full.shape[3] - pad]
    return out + b[None, :, None, None], (x, w, stride, pad)


def _transpose_backward_loops(dout, cache):
    x, w, stride, pad = cache
    N, C_in, H, W = x.shape
    kh, kw = w.shape[2:]
    dfull = np.pad(dout, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for i in range(H):
        for j in range(W):
            patch = dfull[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            dx[:, :, i, j] = np.einsum("nohw,cohw->nc", patch, w)
            dw += np.einsum("nc,nohw->cohw", x[:, :, i, j], patch)
    return dx, dw, dout.sum(axis=(0, 2, 3))


def _block_forward_own(x, params):
    """The residual block from the loop convolution, with its own cache (a dict)."""
    h1, c1 = _conv_loops(x, params["W1"], params["b1"], pad=1)
    a1 = np.maximum(h1, 0)
    h2, c2 = _conv_loops(a1, params["W2"], params["b2"], pad=1)
    skip, cs = _conv_loops(x, params["Ws"], params["bs"]) if "Ws" in params else (x, None)
    z = h2 + skip
    return np.maximum(z, 0), {"c1": c1, "h1": h1, "c2": c2, "cs": cs, "z": z}


def _block_backward_own(dout, cache):
    dz = dout * (cache["z"] > 0)
    da1, dW2, db2 = _conv_backward_loops(dz, cache["c2"])
    dx, dW1, db1 = _conv_backward_loops(da1 * (cache["h1"] > 0), cache["c1"])
    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    if cache["cs"] is None:
        return dx + dz, grads
    dxs, grads["Ws"], grads["bs"] = _conv_backward_loops(dz, cache["cs"])
    return dx + dxs, grads


def _small_cnn_einsum(params, X, y=None, reg=0.0):
    """The small CNN with the reference conv and pooling but its own softmax and affine written with einsum."""
    h, c1 = conv.conv2d_forward(X, params["W1"], params["b1"], pad=1)
    a = np.maximum(h, 0)
    p, cp = pool.maxpool_forward(a, 2)
    flat = p.reshape(len(X), -1)
    scores = np.einsum("nd,dk->nk", flat, params["W2"]) + params["b2"]
    if y is None:
        return scores
    z = scores - scores.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -logp[np.arange(n), y].mean() + 0.5 * reg * ((params["W1"] ** 2).sum() + (params["W2"] ** 2).sum())
    ds = np.exp(logp)
    ds[np.arange(n), y] -= 1
    ds /= n
    dflat = ds @ params["W2"].T
    dh = pool.maxpool_backward(dflat.reshape(p.shape), cp) * (h > 0)
    _, dW1, db1 = conv.conv2d_backward(dh, c1)
    return float(loss), {
        "W1": dW1 + reg * params["W1"],
        "b1": db1,
        "W2": flat.T @ ds + reg * params["W2"],
        "b2": ds.sum(axis=0),
    }


def _conv_four_loops(x, w, b, stride=1, pad=0, dilation=1):
    """The CS231n naive convolution: a Python loop over N, F, Ho and Wo, one window product per output."""
    N, C, H, W = x.shape
    F_, _, kh, kw = w.shape
    Ho, Wo = _sizes(H, W, kh, stride, pad, dilation)
    eh, ew = dilation * (kh - 1) + 1, dilation * (kw - 1) + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F_, Ho, Wo))
    for n in range(N):
        for f in range(F_):
            for i in range(Ho):
                for j in range(Wo):
                    win = xp[n, :, i * stride : i * stride + eh : dilation, j * stride : j * stride + ew : dilation]
                    out[n, f, i, j] = np.sum(win * w[f]) + b[f]
    return out, (x, w, b, stride, pad, dilation)


def _conv_backward_four_loops(dout, cache):
    x, w, _, stride, pad, dilation = cache
    N, C, H, W = x.shape
    F_, _, kh, kw = w.shape
    eh, ew = dilation * (kh - 1) + 1, dilation * (kw - 1) + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for n in range(N):
        for f in range(F_):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    sl = (
                        n,
                        slice(None),
                        slice(i * stride, i * stride + eh, dilation),
                        slice(j * stride, j * stride + ew, dilation),
                    )
                    dw[f] += xp[sl] * dout[n, f, i, j]
                    dxp[sl] += w[f] * dout[n, f, i, j]
    return dxp[:, :, pad : pad + H, pad : pad + W], dw, dout.sum(axis=(0, 2, 3))


def _small_cnn_four_loops(params, X, y=None, reg=0.0):
    """The small CNN as a student writes it on top of the naive layers (four-loop conv, loop max-pooling)."""
    layers, losses = dk.layers, dk.losses
    h, c1 = _conv_four_loops(X, params["W1"], params["b1"], pad=1)
    a, cr = layers.relu_forward(h)
    p, cp = _maxpool_loops(a, 2)
    scores, c2 = layers.affine_forward(p, params["W2"], params["b2"])
    if y is None:
        return scores
    loss, ds = losses.softmax_loss(scores, y)
    loss += 0.5 * reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    dp, dW2, db2 = layers.affine_backward(ds, c2)
    _, dW1, db1 = _conv_backward_four_loops(layers.relu_backward(_maxpool_backward_loops(dp, cp), cr), c1)
    return float(loss), {"W1": dW1 + reg * params["W1"], "b1": db1, "W2": dW2 + reg * params["W2"], "b2": db2}


def test_a_four_loop_convolution_fits_the_digits_budget():
    """cnn_digits grades the network, not its speed: the CPU the naive layers need for the part's 380 training
    steps (measured on a few, extrapolated) is at most half the part's CPU limit (room for a slower CPU)."""
    import time

    from autograder.checks.convolution import DIGITS_CPU, _digits

    part = next(p for p in load_topic("08").parts if p.name == "cnn_digits")
    inp = _digits(np.random.default_rng(0))
    steps = int(inp["epochs"]) * -(-len(inp["y_train"]) // 32)
    params = blocks.init_small_cnn((1, 8, 8), 8, 10, rng=np.random.default_rng(0))
    X, y = inp["X_train"][:32], inp["y_train"][:32]
    start = time.process_time()
    for _ in range(3):
        _small_cnn_four_loops(params, X, y, reg=1e-4)
    per_step = (time.process_time() - start) / 3
    assert part.timeout == DIGITS_CPU and steps * per_step <= DIGITS_CPU / 2, (steps, per_step)


ALTERNATIVES = {
    "sizes and fields": dict(conv=dict(conv_output_size=_size_divmod, receptive_field=_field_top_down)),
    "im2col with loops": dict(conv=dict(im2col=_im2col_loops)),
    "conv with loops": dict(conv=dict(conv2d_forward=_conv_loops, conv2d_backward=_conv_backward_loops)),
    "conv with four loops (CS231n naive)": dict(
        conv=dict(conv2d_forward=_conv_four_loops, conv2d_backward=_conv_backward_four_loops)
    ),
    "pooling with loops": dict(
        pool=dict(
            maxpool_forward=_maxpool_loops,
            maxpool_backward=_maxpool_backward_loops,
            avgpool_forward=_avgpool_loops,
            avgpool_backward=_avgpool_backward_loops,
        )
    ),
    "transposed conv as scattered kernels": dict(
        conv=dict(conv_transpose2d_forward=_transpose_loops, conv_transpose2d_backward=_transpose_backward_loops)
    ),
    "residual block on loop convolutions": dict(
        blocks=dict(residual_block_forward=_block_forward_own, residual_block_backward=_block_backward_own)
    ),
    "small CNN with einsum": dict(blocks=dict(small_cnn_loss=_small_cnn_einsum)),
}


@pytest.mark.parametrize("what", list(ALTERNATIVES))
def test_correct_alternatives_keep_every_point(what):
    points = {p.name: p.points for p in load_topic("08").parts}
    modules = {name: _wrap(getattr(dk, name), **fns) for name, fns in ALTERNATIVES[what].items()}
    parts = [n for n in points if n != "cnn_digits" or "blocks" in modules]  # the digits run: only for the CNN
    res = grade_module("08", _pkg(**modules), parts=parts)
    assert {k: v[0] for k, v in res.items()} == {k: points[k] for k in parts}, {
        k: v for k, v in res.items() if v[0] < points[k]
    }


def test_a_wrong_return_structure_is_named():
    res = grade_module(
        "08",
        _pkg(conv=_wrap(conv, conv2d_forward=lambda x, w, b, stride=1, pad=0, dilation=1: x)),
        parts=["conv2d_forward"],
    )
    assert res["conv2d_forward"][0] == 0 and "conv2d_forward must return (out, cache)" in res["conv2d_forward"][1]
    res = grade_module(
        "08", _pkg(pool=_wrap(pool, maxpool_forward=lambda x, p=2, s=None: (x, 1, 2))), parts=["maxpool_forward"]
    )
    assert "maxpool_forward must return (out, cache), got tuple of length 3" in res["maxpool_forward"][1]
