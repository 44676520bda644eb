"""2-D convolution (cross-correlation, as in every deep-learning library), vectorized with im2col.

Shapes: x (N, C, H, W) inputs; w (F, C, kh, kw) filters; b (F,) biases; out (N, F, Ho, Wo) with
``Ho = (H + 2 pad - dilation (kh - 1) - 1) // stride + 1`` (the same for W).
im2col turns every receptive field into a row, so the convolution becomes one matrix product; col2im is its
adjoint (it adds rows back into the image) and gives the input gradient. A transposed convolution is exactly
that adjoint used as a forward layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from deepkit.validate import as_float_array, check_int


class ConvCache(NamedTuple):
    """What ``conv2d_backward`` needs from ``conv2d_forward`` (any tuple your backward understands will do)."""

    x_shape: tuple  # (N, C, H, W)
    cols: np.ndarray  # im2col(x): (N * Ho * Wo, C * kh * kw)
    w: np.ndarray  # (F, C, kh, kw)
    stride: int
    pad: int
    dilation: int


class TransposedConvCache(NamedTuple):
    """What ``conv_transpose2d_backward`` needs from ``conv_transpose2d_forward``."""

    x: np.ndarray  # (N, C_in, H, W)
    w: np.ndarray  # (C_in, C_out, kh, kw)
    stride: int
    pad: int


def conv_output_size(n: int, f: int, pad: int = 0, stride: int = 1, dilation: int = 1, strict: bool = True) -> int:
    """Output length ``(n + 2 pad - d (f - 1) - 1) / stride + 1`` of a convolution along one axis.

    With ``strict`` a division that is not exact raises ValueError (the last input rows would be silently
    ignored); with strict=False the result is floored, as PyTorch does. Raises if the output would be empty.
    """
    n, f = check_int(n, "n", 1), check_int(f, "f", 1)
    pad, stride, dilation = check_int(pad, "pad", 0), check_int(stride, "stride", 1), check_int(dilation, "dilation", 1)
    raise NotImplementedError("Exercise 08_convolution: implement conv_output_size in lib/deepkit/conv.py")


def receptive_field(
    kernels: Sequence[int], strides: Sequence[int] | None = None, dilations: Sequence[int] | None = None
) -> int:
    """Receptive field (in input pixels, along one axis) of a unit after a stack of conv/pool layers.

    ``r = 1 + sum_l d_l (k_l - 1) prod_{m < l} s_m``; with stride 1 and no dilation this is 1 + L (k - 1).
    kernels, strides, dilations: one entry per layer (strides and dilations default to 1).
    """
    L = len(kernels)
    strides = [1] * L if strides is None else list(strides)
    dilations = [1] * L if dilations is None else list(dilations)
    if len(strides) != L or len(dilations) != L:
        raise ValueError(
            f"strides and dilations must have one entry per layer ({L}), got {len(strides)} and {len(dilations)}"
        )
    raise NotImplementedError("Exercise 08_convolution: implement receptive_field in lib/deepkit/conv.py")


def _windows(x: np.ndarray, kh: int, kw: int, stride: int, pad: int, dilation: int) -> np.ndarray:
    """A (N, Ho', Wo', C, kh, kw) strided VIEW of every receptive field of the padded x, taken from a channels-last
    copy of x (one copy of x, not of the fields): rows of im2col are then contiguous runs of this view."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    channels_last = np.ascontiguousarray(xp.transpose(0, 2, 3, 1))  # (N, Hp, Wp, C)
    eh, ew = dilation * (kh - 1) + 1, dilation * (kw - 1) + 1
    win = sliding_window_view(channels_last, (eh, ew), axis=(1, 2))  # (N, Hp - eh + 1, Wp - ew + 1, C, eh, ew)
    return win[:, ::stride, ::stride, :, ::dilation, ::dilation]


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, pad: int = 0, dilation: int = 1) -> np.ndarray:
    """Every receptive field as a row: returns cols (N * Ho * Wo, C * kh * kw).

    Row ``(n * Ho + i) * Wo + j`` holds x[n, :, rows, cols] of output position (i, j) flattened in (C, kh, kw)
    order, so ``cols @ w.reshape(F, -1).T`` is the convolution.
    """
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C, H, W)")
    N, C, H, W = x.shape
    Ho = conv_output_size(H, kh, pad, stride, dilation, strict=False)
    Wo = conv_output_size(W, kw, pad, stride, dilation, strict=False)
    raise NotImplementedError("Exercise 08_convolution: implement im2col in lib/deepkit/conv.py")


def col2im(
    cols: np.ndarray, x_shape: tuple, kh: int, kw: int, stride: int = 1, pad: int = 0, dilation: int = 1
) -> np.ndarray:
    """The adjoint of im2col: add every row back onto its receptive field. Returns an array of x_shape.

    cols: (N * Ho * Wo, C * kh * kw). Overlapping fields are summed (that is what makes it the gradient).
    """
    N, C, H, W = x_shape
    Ho = conv_output_size(H, kh, pad, stride, dilation, strict=False)
    Wo = conv_output_size(W, kw, pad, stride, dilation, strict=False)
    cols = as_float_array(cols, "cols", ndim=2, shape_doc="(N * Ho * Wo, C * kh * kw)")
    if cols.shape != (N * Ho * Wo, C * kh * kw):
        raise ValueError(f"cols must have shape (N*Ho*Wo, C*kh*kw) = {(N * Ho * Wo, C * kh * kw)}, got {cols.shape}")
    raise NotImplementedError("Exercise 08_convolution: implement col2im in lib/deepkit/conv.py")


def _check_conv_args(x, w, b, stride, pad, dilation, w_doc="(F, C, kh, kw)", channel_axis=1):
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C, H, W)")
    w = as_float_array(w, "w", ndim=4, shape_doc=w_doc)
    b = as_float_array(b, "b", ndim=1)
    if w.shape[channel_axis] != x.shape[1]:
        raise ValueError(f"w must have shape {w_doc} with C = {x.shape[1]} input channels (x's axis 1), got {w.shape}")
    out_ch = w.shape[1 - channel_axis]
    if b.shape != (out_ch,):
        raise ValueError(f"b must have shape ({out_ch},), one bias per output channel, got {b.shape}")
    check_int(stride, "stride", 1), check_int(pad, "pad", 0), check_int(dilation, "dilation", 1)
    return x, w, b


def conv2d_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0, dilation: int = 1
) -> tuple[np.ndarray, tuple]:
    """out[n, f] = sum_c x[n, c] (correlated with) w[f, c] + b[f], with zero padding, stride and dilation.

    x: (N, C, H, W); w: (F, C, kh, kw); b: (F,). Returns out (N, F, Ho, Wo) and a cache.
    Output sizes are floored like PyTorch (use ``conv_output_size(strict=True)`` to insist on exact tiling).
    """
    x, w, b = _check_conv_args(x, w, b, stride, pad, dilation)
    raise NotImplementedError("Exercise 08_convolution: implement conv2d_forward in lib/deepkit/conv.py")


def conv2d_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of conv2d. dout: (N, F, Ho, Wo). Returns dx (N, C, H, W), dw (F, C, kh, kw), db (F,).

    With D = dout as rows (N Ho Wo, F): dw = D^T cols, db = column sums of D, dx = col2im(D w_mat).
    """
    dout = as_float_array(dout, "dout", ndim=4, shape_doc="(N, F, Ho, Wo)")
    raise NotImplementedError("Exercise 08_convolution: implement conv2d_backward in lib/deepkit/conv.py")


def conv_transpose2d_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0
) -> tuple[np.ndarray, tuple]:
    """Transposed convolution ("deconvolution"): the input-gradient of conv2d used as a layer.

    x: (N, C_in, H, W); w: (C_in, C_out, kh, kw) (PyTorch's layout for ConvTranspose2d); b: (C_out,).
    Returns out (N, C_out, Ho, Wo) with ``Ho = (H - 1) stride - 2 pad + kh`` and a cache. Each input pixel
    scatters a copy of its kernel, scaled by its value, onto the output; overlaps add up.
    """
    x, w, b = _check_conv_args(x, w, b, stride, pad, 1, w_doc="(C_in, C_out, kh, kw)", channel_axis=0)
    raise NotImplementedError("Exercise 08_convolution: implement conv_transpose2d_forward in lib/deepkit/conv.py")


def conv_transpose2d_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the transposed convolution: its input-gradient is an ordinary convolution (im2col of
    dout). dout: (N, C_out, Ho, Wo). Returns dx (N, C_in, H, W), dw (C_in, C_out, kh, kw), db (C_out,)."""
    dout = as_float_array(dout, "dout", ndim=4, shape_doc="(N, C_out, Ho, Wo)")
    raise NotImplementedError("Exercise 08_convolution: implement conv_transpose2d_backward in lib/deepkit/conv.py")
