"""Softmax explorer: scores -> probabilities -> cross-entropy of the true class.

Controls: the true class's score, a temperature T (probabilities are softmax(z / T)), a constant shift c
added to every score (softmax does not change; a naive exp overflows once a score passes ~709), and label
smoothing eps (the target becomes (1 - eps) onehot + eps / C).
Left: the scores; middle: the probabilities with the true class highlighted; right: the loss
-sum_j q_j log p_j (-log p_y when eps = 0) as a function of the true class's score, with log C (the loss of a
uniform guess) for reference. With eps > 0 the curve turns up again: the loss has a finite minimiser.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from deepkit.losses import log_softmax, softmax
from deepkit.viz.base import Explorer, int_slider, log_slider, slider

DEFAULT_SCORES = (1.5, 3.0, -0.5, 0.8, 2.2)
_EXP_MAX = np.log(np.finfo(np.float64).max)  # ~709.78: exp of anything larger is inf


def explorer(scores: tuple | np.ndarray = DEFAULT_SCORES, label: int = 0) -> Explorer:
    """An Explorer over the scores of one example (C,) whose true class is ``label``."""
    base = np.asarray(scores, dtype=np.float64)
    if base.ndim != 1 or base.size < 2:
        raise ValueError(f"scores must be a 1-D array of shape (C,) with C >= 2, got shape {base.shape}")
    C = base.size
    if not 0 <= int(label) < C:
        raise ValueError(f"label must be in [0, {C}), got {label}")
    grid = np.linspace(-6.0, 10.0, 161)

    def setup(fig: Figure) -> dict:
        """Axes, bars, curve, marker and titles, built once; ``update`` only changes their data."""
        fig.set_layout_engine("none")  # fixed margins: constrained layout would double the redraw time
        ax1, ax2, ax3 = fig.subplots(1, 3, gridspec_kw=dict(left=0.05, right=0.99, bottom=0.17, top=0.9, wspace=0.22))
        bars1 = ax1.bar(range(C), base, color="tab:gray")  # without c: a shift of 800 would hide the differences
        bars2 = ax2.bar(range(C), np.full(C, 1.0 / C), color="tab:gray")
        ax2.set_ylim(0, 1)
        for ax in (ax1, ax2):
            ax.set_xticks(range(C))
            ax.set_xlabel("class (red: the true one)", fontsize=9)
        (curve,) = ax3.plot(grid, np.zeros_like(grid), color="tab:blue")
        ax3.axhline(np.log(C), color="k", lw=0.8, ls="--")
        (dot,) = ax3.plot([0.0], [0.0], "o", color="tab:red")
        ax3.set_xlim(grid[0] - 0.8, grid[-1] + 0.8)
        ax3.set_xlabel("score of the true class (before the shift)", fontsize=9)
        ax3.text(
            0.98, 0.95, f"dashed: log C = {np.log(C):.2f}", transform=ax3.transAxes, ha="right", va="top", fontsize=8
        )
        for ax in (ax1, ax2, ax3):
            ax.yaxis.set_major_locator(MaxNLocator(4))  # fewer ticks: tick creation dominates a redraw
        ax3.xaxis.set_major_locator(MaxNLocator(5))
        titles = [ax.set_title("", fontsize=10) for ax in (ax1, ax2, ax3)]
        return dict(axes=(ax1, ax2, ax3), bars=(bars1, bars2), curve=curve, dot=dot, titles=titles)

    def update(st: dict, true_score: float, temperature: float, shift: float, label: int, smoothing: float) -> str:
        z = base.copy()
        z[label] = true_score
        z = z + shift
        p = softmax(z / temperature)
        target = np.full(C, smoothing / C)
        target[label] += 1.0 - smoothing
        loss = -float(log_softmax(z / temperature) @ target)
        ax1, _, ax3 = st["axes"]
        for bars, heights in zip(st["bars"], (z - shift, p)):
            for i, bar in enumerate(bars):
                bar.set_height(heights[i])
                bar.set_color("tab:red" if i == label else "tab:gray")
        lo, hi = min(0.0, float((z - shift).min())), max(0.0, float((z - shift).max()))
        pad = 0.05 * (hi - lo or 1.0)
        ax1.set_ylim(lo - (pad if lo < 0 else 0.0), hi + (pad if hi > 0 else 0.0))
        # loss of the true class as its score moves (other scores fixed, same T and shift)
        zz = np.repeat((base + shift)[None, :], grid.size, axis=0)
        zz[:, label] = grid + shift
        curve = -(log_softmax(zz / temperature) @ target)
        st["curve"].set_ydata(curve)
        st["dot"].set_data([true_score], [loss])
        top = max(float(curve.max()), np.log(C))
        ax3.set_ylim(-0.05 * top, 1.05 * top)
        titles = (
            f"scores z, each plus c = {shift:+.0f}",
            f"softmax(z / T), T = {temperature:.2g}",
            f"loss = {loss:.3f}" + (f" (smoothing {smoothing:.2g})" if smoothing else " = -log p_y"),
        )
        for t, text in zip(st["titles"], titles):
            t.set_text(text)
        overflow = np.max(z / temperature) > _EXP_MAX
        naive = "naive exp(z) overflows to inf -> NaN" if overflow else "naive exp(z) still finite"
        return f"p_y = {p[label]:.4f}; {naive}; the max-shifted softmax is unaffected by c"

    controls = {
        "true_score": slider(float(base[label]), -6.0, 10.0, 0.1, "true-class score"),
        "temperature": log_slider(1.0, 0.1, 10.0, "temperature T"),
        "shift": slider(0.0, -1000.0, 1000.0, 50.0, "shift c", fmt=".0f"),
        "label": int_slider(int(label), 0, C - 1, "true class"),
        "smoothing": slider(0.0, 0.0, 0.5, 0.05, "label smoothing eps", fmt=".2f"),
    }
    return Explorer(controls, setup=setup, update=update, figsize=(11, 3.2), title="Softmax and cross-entropy")
