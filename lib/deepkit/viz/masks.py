"""Mask viewer (topic 05): what dropout, DropConnect, SpatialDropout and DropBlock actually drop.

Four sample masks (dark = dropped) and, on the right, the target drop rate ``1 - keep_prob`` next to the rate
measured on a large sample (N=32 x C=16 maps of 16 x 16) and, for DropBlock, the exact expectation
``mean(1 - (1 - gamma)**k(i, j))`` that overlapping blocks give.
"""
from __future__ import annotations

from functools import lru_cache

import ipywidgets as W
import numpy as np

from deepkit import dropout as D
from deepkit.viz.base import Explorer, dropdown, int_slider, slider

KINDS = ("dropout", "DropConnect", "SpatialDropout", "DropBlock")
SIZE = 16           # feature maps / weight matrices are SIZE x SIZE
SAMPLE = (32, 16)   # (N, C) for the measured rate


def sample_masks(kind: str, keep_prob: float, block_size: int, seed: int = 0) -> np.ndarray:
    """Keep masks (1 keep, 0 drop) of shape (N, C, SIZE, SIZE) for ``kind`` at ``keep_prob``.

    For DropConnect a "map" is a SIZE x SIZE weight matrix (its mask is read off the layer's output on an
    identity input); the other kinds mask an all-ones activation tensor and read the mask from the output.
    """
    rng = np.random.default_rng(seed)
    p = 1.0 - keep_prob
    n, c = SAMPLE
    ones = np.ones((n, c, SIZE, SIZE))
    if kind == "dropout":
        out = D.dropout_forward(ones, p, "train", rng)[0]
    elif kind == "SpatialDropout":
        out = D.spatial_dropout_forward(ones, p, "train", rng)[0]
    elif kind == "DropBlock":
        return D.dropblock_mask(ones.shape, keep_prob, block_size, rng)
    elif kind == "DropConnect":      # n * c weight matrices side by side: one (SIZE, SIZE * n * c) layer
        out = D.dropconnect_forward(np.eye(SIZE), np.ones((SIZE, SIZE * n * c)), np.zeros(SIZE * n * c), p,
                                    "train", rng)[0]
        out = out.reshape(SIZE, n, c, SIZE).transpose(1, 2, 0, 3)
    else:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return (out != 0).astype(np.float64)


def _montage(maps: np.ndarray, cols: int = 4) -> np.ndarray:
    """(k, S, S) maps -> one image with a 1-pixel mid-grey gap between them."""
    k, s = maps.shape[0], maps.shape[1]
    rows = -(-k // cols)
    img = np.full((rows * (s + 1) - 1, cols * (s + 1) - 1), 0.5)
    for i in range(k):
        r, c = divmod(i, cols)
        img[r * (s + 1): r * (s + 1) + s, c * (s + 1): c * (s + 1) + s] = maps[i]
    return img


@lru_cache(maxsize=32)
def _cached_masks(kind: str, keep_prob: float, block_size: int, seed: int) -> np.ndarray:
    """sample_masks, cached (read-only): moving a control back to a value redraws without resampling."""
    masks = sample_masks(kind, keep_prob, block_size, seed)
    masks.flags.writeable = False
    return masks


def render(fig, kind: str = "DropBlock", keep_prob: float = 0.8, block_size: int = 5, seed: int = 0) -> str:
    masks = _cached_masks(kind, float(keep_prob), int(block_size), int(seed))
    ax_img, ax_bar = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    ax_img.imshow(_montage(masks[0, :8]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax_img.set_axis_off()
    what = "8 weight matrices (16 x 16)" if kind == "DropConnect" else "8 channels of one sample (16 x 16)"
    ax_img.set_title(f"{kind}: {what}, black = dropped", fontsize=9)
    target = 1.0 - keep_prob
    measured = float(1.0 - masks.mean())
    names, vals = ["target", "measured"], [target, measured]
    if kind == "DropBlock":
        names.insert(1, "exact")
        vals.insert(1, D.expected_dropblock_rate(keep_prob, block_size, SIZE))
    ax_bar.bar(names, vals, color=["0.6", "tab:orange", "tab:blue"][:len(vals)])
    ax_bar.set_ylim(0, max(0.05, 1.2 * max(vals)))
    ax_bar.set_title(f"drop rate over {SAMPLE[0]} x {SAMPLE[1]} maps", fontsize=9)
    ax_bar.tick_params(labelsize=8)
    for i, v in enumerate(vals):
        ax_bar.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
    note = f"{kind}: measured drop rate {measured:.3f} vs target 1 - keep_prob = {target:.3f}"
    if kind == "DropBlock":
        note += (f"; gamma = {D.dropblock_gamma(keep_prob, block_size, SIZE):.4f}, exact expectation "
                 f"{vals[1]:.3f} (overlapping blocks drop fewer units than gamma's derivation assumes)")
    if kind == "SpatialDropout":
        note += f" (only {SAMPLE[0] * SAMPLE[1]} independent channel draws: expect +-{2 * np.sqrt(target * keep_prob / (SAMPLE[0] * SAMPLE[1])):.3f})"
    return note


def explorer(kind: str = "DropBlock", keep_prob: float = 0.8, block_size: int = 5) -> Explorer:
    """Mask viewer: kind, keep_prob and block_size (DropBlock) sliders, a seed to resample."""
    controls = {
        "kind": dropdown(KINDS, kind, "layer"),
        "keep_prob": slider(keep_prob, 0.5, 1.0, 0.05, "keep_prob", ".2f"),
        "block_size": int_slider(block_size, 1, SIZE, "block_size"),
        "seed": W.IntText(value=0, description="seed", layout=W.Layout(width="140px")),
    }
    return Explorer(controls, render, figsize=(8, 3.0), title="What gets dropped")
