"""Saturation explorer: how an activation, the weight scale and the depth shape a deep MLP's signals.

A plain MLP (no biases, ``width`` units per layer, a fixed batch of Gaussian inputs) runs forward and backward
with the chosen activation; weights are ``W_l = gain / sqrt(width) * N(0, 1)`` (gain 1 = LeCun normal, gain
sqrt(2) = Kaiming for ReLU) and the inputs are ``input scale * N(0, 1)``. The upstream gradient at the last
layer is a fixed random matrix (the mean over the batch of a random linear loss).

Panels: histograms of the pre-activations z (each layer divided by its own standard deviation, which the label
gives, on [-4.5, 4.5] with the tails in the end bins) and of the activations a for the first, middle and last
layer (each panel scaled so that its tallest bar is 1); the fraction
of saturated units per layer (local slope f'(z) below 5% of the activation's peak slope) and of dead units
(saturated for every input in the batch); log10 of the mean |dL/dz| (the backpropagated gradient at each
layer's pre-activations) and of the mean |dL/dW| per layer.
All random draws are made once, so a redraw only runs the network (~10 ms) and draws what moved: the frame (axes,
titles, the layer axes) depends on the activation and the depth only, and BlitExplorer reuses it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from threadpoolctl import threadpool_limits

from deepkit.viz.base import BlitExplorer, dropdown, int_slider, log_slider

#: a unit is "saturated" where its local slope is below this fraction of the activation's peak slope
SATURATION_LEVEL = 0.05
_COLORS = ("tab:blue", "tab:orange", "tab:red")


def _peak_slope(fwd: Callable, bwd: Callable) -> float:
    grid = np.linspace(-6.0, 6.0, 1201)
    return float(np.max(bwd(np.ones_like(grid), fwd(grid)[1])))


class DeepMLP:
    """A fixed random MLP probe: ``simulate`` runs it with any activation, gain, input scale and depth.

    width: units per layer; batch: number of inputs; max_depth: the most layers ``simulate`` may use;
    activations: name -> (forward, backward) (default ``deepkit.activations.ACTIVATIONS``); seed: the draws.
    """

    def __init__(
        self, width: int = 100, batch: int = 256, max_depth: int = 20, seed: int = 0, activations: dict | None = None
    ) -> None:
        if activations is None:
            from deepkit.activations import ACTIVATIONS as activations
        self.activations = dict(activations)
        rng = np.random.default_rng(seed)
        self.width, self.batch, self.max_depth = width, batch, max_depth
        self.x = rng.standard_normal((batch, width))
        self.W = rng.standard_normal((max_depth, width, width)) / np.sqrt(width)
        self.g = rng.standard_normal((batch, width)) / batch
        self.peak = {name: _peak_slope(*fb) for name, fb in self.activations.items()}

    def simulate(self, activation: str, gain: float = 1.0, input_scale: float = 1.0, depth: int = 10) -> dict:
        """Forward and backward through ``depth`` layers.

        Returns a dict of per-layer lists/arrays: ``z`` and ``a`` (each (batch, width) per layer),
        ``saturated`` (fraction of unit-examples with small slope), ``dead`` (fraction of units saturated for
        the whole batch), ``grad_w`` (mean |dL/dW_l|) and ``grad_z`` (mean |dL/dz_l|), each of length depth.
        """
        if activation not in self.activations:
            raise ValueError(f"activation must be one of {sorted(self.activations)}, got {activation!r}")
        if not 1 <= int(depth) <= self.max_depth:
            raise ValueError(f"depth must be in [1, {self.max_depth}], got {depth}")
        fwd, bwd = self.activations[activation]
        level = SATURATION_LEVEL * self.peak[activation]
        h, zs, acts, caches, inputs = input_scale * self.x, [], [], [], []
        # one BLAS thread: these matrices are small, and threads spinning on a busy machine cost 10x
        with np.errstate(all="ignore"), threadpool_limits(1, user_api="blas"):
            for l in range(int(depth)):
                z = h @ (gain * self.W[l])
                inputs.append(h)
                h, cache = fwd(z)
                zs.append(z), acts.append(h), caches.append(cache)
            slopes = [bwd(np.ones_like(z), c) for z, c in zip(zs, caches)]
            da, grad_w, grad_z = self.g, [0.0] * depth, [0.0] * depth
            for l in reversed(range(int(depth))):
                dz = bwd(da, caches[l])
                grad_z[l] = float(np.mean(np.abs(dz)))
                grad_w[l] = float(np.mean(np.abs(inputs[l].T @ dz)))
                da = dz @ (gain * self.W[l]).T
        flat = [s < level for s in slopes]
        return {
            "z": zs,
            "a": acts,
            "saturated": np.array([f.mean() for f in flat]),
            "dead": np.array([f.all(axis=0).mean() for f in flat]),
            "grad_w": np.array(grad_w),
            "grad_z": np.array(grad_z),
        }


Z_RANGE = 4.5  #: the pre-activation histograms show z / std(z) on [-Z_RANGE, Z_RANGE] (the tails in the end bins)


def _hist_setup(ax, title: str) -> tuple[list, list]:
    """Three empty step histograms and their coloured labels (a legend costs ~15 ms per redraw)."""
    steps = [ax.stairs(np.zeros(1), [0.0, 1.0], color=col) for col in _COLORS]
    labels = [
        ax.text(0.02, 0.97 - 0.09 * i, "", color=col, transform=ax.transAxes, ha="left", va="top", fontsize=7)
        for i, col in enumerate(_COLORS)
    ]
    ax.set_title(title, fontsize=10)
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.set_yticks([])  # the counts' scale says nothing here, and every tick costs redraw time
    ax.set_ylim(0, 1.08)  # each panel's histograms are scaled so that the tallest bar is 1
    ax.tick_params(labelsize=7)
    return steps, labels


def nice_limits(lo: float, hi: float) -> tuple[float, float]:
    """(lo, hi) widened outwards to multiples of a 1-2-5 step (4 to 10 steps across), so that the ticks fall on
    the ends of the axis."""
    span = hi - lo
    if not np.isfinite(span) or span < 1e-12:
        return lo - 0.5, hi + 0.5
    base = 10.0 ** np.floor(np.log10(span / 4))
    step = next(m * base for m in (1, 2, 5, 10) if span / (m * base) <= 10)
    return float(np.floor(lo / step) * step), float(np.ceil(hi / step) * step)


def _hist(parts: tuple, arrays: list, labels: list, lo: float, hi: float) -> None:
    """Histograms (40 bins on [lo, hi], values outside in the end bins) of up to three arrays into
    ``_hist_setup``'s parts, as fractions of each array, all scaled by the tallest bar."""
    steps, texts = parts
    edges = np.linspace(lo, hi, 41)
    fracs = []
    for a in arrays:
        counts, _ = np.histogram(np.clip(a[np.isfinite(a)], lo, hi), bins=edges)
        fracs.append(counts / max(a.size, 1))
    top = max((float(f.max()) for f in fracs), default=0.0) or 1.0
    for k, (st, text) in enumerate(zip(steps, texts)):
        st.set_visible(k < len(arrays))
        text.set_text(labels[k] if k < len(arrays) else "")
        if k < len(arrays):
            st.set_data(fracs[k] / top, edges)


def explorer(
    width: int = 100, batch: int = 256, max_depth: int = 20, seed: int = 0, activations: dict | None = None
) -> BlitExplorer:
    """A BlitExplorer with controls: activation, weight gain, input scale and depth (see the module docstring).

    ``activations`` (name -> (forward, backward)) lets you explore your own implementations.
    """
    net = DeepMLP(width, batch, max_depth, seed, activations)

    def setup(fig: Figure) -> dict:
        """The four panels and their artists, built once; ``update`` changes their data. What changes with the
        gain or the input scale is ``dynamic`` (the data, the labels, the activation axis' and the gradient axis'
        ticks); the rest (axes, titles, the layer axes) is a frame per activation and depth, which BlitExplorer
        draws once and reuses."""
        fig.set_layout_engine("none")  # fixed margins: constrained layout would double the redraw time
        axes = fig.subplots(1, 4, gridspec_kw=dict(left=0.04, right=0.99, bottom=0.16, top=0.88, wspace=0.28))
        hz = _hist_setup(axes[0], "pre-activations z / std(z)")
        axes[0].set_xlim(-1.05 * Z_RANGE, 1.05 * Z_RANGE)
        ha = _hist_setup(axes[1], " ")
        ax = axes[2]
        sat = ax.stairs(np.zeros(1), [0.5, 1.5], fill=True, color="0.7")
        (dead,) = ax.plot([1], [0], "o-", color="tab:red", ms=3)
        ax.set_ylim(0, 1.02)
        ax.set_yticks([0, 0.5, 1])
        ax.set_title("saturated (grey), dead (red)", fontsize=10)
        ax = axes[3]
        (gz,) = ax.plot([1], [0], "o-", ms=3)
        (gw,) = ax.plot([1], [0], "--", color="tab:green")
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.set_title("log10 mean |dL/dz| (o), |dL/dW| (--)", fontsize=10)
        for ax in axes[2:]:
            ax.set_xlabel("layer", fontsize=8)
            ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
            ax.tick_params(labelsize=7)
        dynamic = [*hz[0], *hz[1], *ha[0], *ha[1], axes[1].xaxis, sat, dead, gz, gw, axes[3].yaxis]
        return dict(axes=axes, hz=hz, ha=ha, sat=sat, dead=dead, gz=gz, gw=gw, dynamic=dynamic)

    def update(st: dict, activation: str, gain: float, input_scale: float, depth: int) -> str:
        res = net.simulate(activation, gain, input_scale, depth)
        axes = st["axes"]
        shown = sorted({0, (depth - 1) // 2, depth - 1})
        labels = [f"layer {l + 1}" for l in shown]
        zstd = [float(np.std(res["z"][l])) or 1.0 for l in shown]  # scales differ by decades: show shapes
        _hist(
            st["hz"],
            [res["z"][l] / sd for l, sd in zip(shown, zstd)],
            [f"{lab}: std {sd:.2g}" for lab, sd in zip(labels, zstd)],
            -Z_RANGE,
            Z_RANGE,
        )
        acts = [res["a"][l] for l in shown]
        finite = np.concatenate([a[np.isfinite(a)].ravel() for a in acts])
        a_lo, a_hi = nice_limits(*np.percentile(finite, [0.5, 99.5])) if finite.size else (-1.0, 1.0)
        _hist(st["ha"], acts, [f"std {np.std(a):.2g}" for a in acts], a_lo, a_hi)
        axes[1].set_xlim(a_lo - 0.05 * (a_hi - a_lo), a_hi + 0.05 * (a_hi - a_lo))
        axes[1].title.set_text(f"activations {activation}(z)")
        layers = np.arange(1, depth + 1)
        st["sat"].set_data(res["saturated"], np.arange(depth + 1) + 0.5)
        st["dead"].set_data(layers, res["dead"])
        with np.errstate(divide="ignore"):  # log10 on a linear axis: no slow mathtext tick labels
            lz, lw = np.log10(res["grad_z"]), np.log10(res["grad_w"])
        st["gz"].set_data(layers, lz)
        st["gw"].set_data(layers, lw)
        finite = np.concatenate([lz[np.isfinite(lz)], lw[np.isfinite(lw)]])
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
        pad = 0.05 * (hi - lo) or 0.5
        axes[3].set_ylim(lo - pad, hi + pad)
        for ax in axes[2:]:
            ax.set_xlim(0.5 - 0.02 * depth, depth + 0.5 + 0.02 * depth)
        st["frame"] = (activation, depth)  # all that is drawn outside ``dynamic`` depends on these only
        g = res["grad_z"]
        ratio = f"{g[0] / g[-1]:.2g}" if g[-1] > 0 else "undefined (no gradient reaches the last layer)"
        return (
            f"last layer: {res['saturated'][-1]:.0%} saturated, {res['dead'][-1]:.0%} dead; "
            f"mean |dL/dz| layer 1 / layer {depth} = {ratio}"
        )

    names = list(net.activations)
    controls = {
        "activation": dropdown(names, "tanh" if "tanh" in names else names[0], "activation"),
        "gain": log_slider(1.0, 0.1, 10.0, "weight gain"),
        "input_scale": log_slider(1.0, 0.1, 100.0, "input scale"),
        "depth": int_slider(min(10, max_depth), 1, max_depth, "depth"),
    }
    return BlitExplorer(controls, setup=setup, update=update, figsize=(12, 3.0), title="Saturation in a deep MLP")
