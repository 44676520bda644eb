"""Initialization explorer (topic 03): pick a scheme, its scale, the activation, depth and width of an MLP on a
digits batch, and see layer by layer the standard deviation of the activations (forward) and of the gradients
(backward), their histograms and the fraction of dead (ReLU) or saturated (tanh, sigmoid) units.

Forward and backward use deepkit's own layers (``deepkit.layers`` affine/relu, ``deepkit.activations`` tanh and
sigmoid) and the reference ``deepkit.init``; ``propagate`` is the testable core, ``explorer`` the widget.

Speed: about 40 tick labels, titles and legend entries made up 80% of a redraw (matplotlib lays out and
rasterises every text on every draw). The axes' limits are therefore rounded to a few fixed values (decades for
the std panel, 1-2-5 steps for the histograms), the static part of the picture (frames, ticks, labels, legend)
is drawn once per set of limits and kept as a figure image (``Backdrop``), and a redraw draws only that image
and the artists that change (lines, bars, histograms, two titles).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator
from threadpoolctl import threadpool_limits

from deepkit import activations, init, layers
from deepkit.viz.base import Explorer, dropdown, int_slider, log_slider

SCHEMES = ("zeros", "constant", "normal", "xavier_uniform", "xavier_normal", "kaiming_normal", "kaiming_uniform")
ACTIVATIONS = {
    "relu": (layers.relu_forward, layers.relu_backward),
    "tanh": (activations.tanh_forward, activations.tanh_backward),
    "sigmoid": (activations.sigmoid_forward, activations.sigmoid_backward),
}
BINS = 41


@lru_cache(maxsize=1)
def _digits(n: int = 256) -> np.ndarray:
    """n digits images (n, 64), standardised per pixel (zero mean, unit variance where the pixel varies)."""
    from deepkit.data import load_digits

    X = load_digits(seed=0).X_train[:n]
    return (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)


def _weights(scheme: str, scale: float, activation: str, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    gain = init.calculate_gain(activation)
    if scheme == "zeros":
        return init.zeros(shape)
    if scheme == "constant":
        return init.constant(shape, scale)
    if scheme == "normal":
        return init.normal(shape, scale, rng)
    if scheme.startswith("xavier"):
        return getattr(init, scheme)(shape, rng, gain=gain)
    return getattr(init, scheme)(shape, rng, nonlinearity=activation)


def propagate(
    scheme: str,
    scale: float = 0.01,
    activation: str = "tanh",
    depth: int = 8,
    width: int = 128,
    seed: int = 0,
    X: np.ndarray | None = None,
) -> dict:
    """Forward a digits batch through ``depth`` hidden layers of ``width`` units (+ a 10-way linear output), then
    backward a unit-variance random upstream gradient.

    scale: std for "normal", value for "constant" (ignored by the other schemes, which use the activation's gain).
    Returns per hidden layer (arrays of length depth): act_std, grad_std (std of dL/dh), frac (dead fraction for
    relu: h == 0; saturated for tanh |h| > 0.99, sigmoid h < 0.01 or > 0.99), plus acts and grads (lists of the
    arrays) for histograms.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
    rng = np.random.default_rng(seed)
    X = _digits() if X is None else X
    fwd, bwd = ACTIVATIONS[activation]
    sizes = [X.shape[1]] + [width] * depth + [10]
    params = [(_weights(scheme, scale, activation, (a, b), rng), np.zeros(b)) for a, b in zip(sizes[:-1], sizes[1:])]
    h, caches, acts = X, [], []
    for W, b in params[:-1]:
        z, c_aff = layers.affine_forward(h, W, b)
        h, c_act = fwd(z)
        caches.append((c_aff, c_act))
        acts.append(h)
    out, c_out = layers.affine_forward(h, *params[-1])
    dh = layers.affine_backward(rng.normal(size=out.shape), c_out)[0]
    grads = [None] * depth
    for i in range(depth - 1, -1, -1):
        grads[i] = dh
        c_aff, c_act = caches[i]
        dh = layers.affine_backward(bwd(dh, c_act), c_aff)[0]
    if activation == "relu":
        frac = [float(np.mean(a == 0)) for a in acts]
    elif activation == "tanh":
        frac = [float(np.mean(np.abs(a) > 0.99)) for a in acts]
    else:
        frac = [float(np.mean((a < 0.01) | (a > 0.99))) for a in acts]
    return {
        "act_std": np.array([a.std() for a in acts]),
        "grad_std": np.array([g.std() for g in grads]),
        "frac": np.array(frac),
        "acts": acts,
        "grads": grads,
    }


_PLAIN = FuncFormatter(lambda v, _: f"{v:.0e}")  # no mathtext: log tick labels render ~10x faster


def _log_y(ax, subs: tuple = (1.0, 3.0)) -> None:
    """Log y axis with few, plain tick labels (the default minor ticks and mathtext dominate the redraw time)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=subs, numticks=6))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(_PLAIN)
    ax.tick_params(labelsize=7)


MAX_DEPTH = 12  # the depth slider's maximum
SHOWN = 5  # histograms drawn per panel (layers spread over the depth)


def _nice_ceil(v: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is >= v: histogram ranges from a few values, so backdrops repeat."""
    k = math.floor(math.log10(v))
    return next(m * 10.0**k for m in (1.0, 2.0, 5.0, 10.0) if m * 10.0**k >= v * (1 - 1e-12))


def _hist_counts(arrays: list, lim: float) -> tuple[list, list, np.ndarray]:
    """(shown layer indices, their normalised counts on BINS - 1 bins over [-lim, lim], the bin edges)."""
    edges = np.linspace(-lim, lim, BINS)
    n = len(arrays)
    shown = sorted(set(np.linspace(0, n - 1, min(n, SHOWN)).round().astype(int)))  # at most 5 layers drawn
    # bins + range (not the edges array): NumPy's uniform-bin path, no sorting; the same bins as ``edges``
    counts = [
        np.histogram(np.clip(arrays[i], -lim, lim), bins=BINS - 1, range=(-lim, lim))[0] / arrays[i].size for i in shown
    ]
    return shown, counts, edges


@lru_cache(maxsize=64)
def _cached(scheme: str, scale: float, activation: str, depth: int, width: int) -> dict:
    """propagate's result plus the histograms the widget shows ("hist_acts", "hist_grads"), per setting."""
    with threadpool_limits(1, user_api="blas"):  # small matrices: BLAS threads on a busy machine cost 10x
        r = propagate(scheme, scale, activation, depth, width)
    lim_a = 1.0 if activation != "relu" else _nice_ceil(max(3 * float(r["act_std"].max()), 1e-6))
    r["hist_acts"] = _hist_counts(r["acts"], lim_a)
    r["hist_grads"] = _hist_counts(r["grads"], _nice_ceil(max(3 * float(r["grad_std"].max()), 1e-12)))
    return r


class Backdrop:
    """The static part of a figure (frames, ticks, labels, legends: whatever is not in ``dynamic``), drawn once
    per key (the axes' limits and labels) and shown as a figure image under the changing artists.

    ``show(key, apply)``: ``apply()`` sets the limits and labels of ``key``; the first time a key is seen the
    figure is drawn with only the static artists and the pixels are kept (at most ``keep`` keys). Afterwards the
    axes are switched off (no frame, ticks or labels to draw) and the image stands in for them.
    """

    def __init__(self, fig, dynamic: list, static_texts: list, keep: int = 24) -> None:
        self.fig, self.dynamic, self.static_texts, self.keep = fig, dynamic, static_texts, keep
        w, h = fig.canvas.get_width_height()
        self.image = fig.figimage(np.zeros((h, w, 4), dtype=np.uint8), xo=0, yo=0, origin="upper", zorder=-10)
        self.pixels: dict = {}

    def _static(self, on: bool) -> None:
        for ax in self.fig.axes:
            ax.set_axis_on() if on else ax.set_axis_off()
        for artist in self.static_texts:
            artist.set_visible(on)
        self.image.set_visible(not on)

    def show(self, key, apply) -> None:
        """Call after the dynamic artists are set (their visibility is kept); ``apply`` sets the static part."""
        apply()
        if key not in self.pixels:
            shown = [a.get_visible() for a in self.dynamic]
            for artist in self.dynamic:
                artist.set_visible(False)
            self._static(True)
            self.fig.canvas.draw()
            if len(self.pixels) >= self.keep:
                self.pixels.pop(next(iter(self.pixels)))
            self.pixels[key] = np.asarray(self.fig.canvas.buffer_rgba()).copy()
            for artist, visible in zip(self.dynamic, shown):
                artist.set_visible(visible)
        self.image.set_data(self.pixels[key])
        self._static(False)


def _hist_setup(ax) -> list:
    """SHOWN empty step histograms on a log y axis (``_hist`` fills them)."""
    edges = np.linspace(-1.0, 1.0, BINS)
    steps = [ax.stairs(np.full(BINS - 1, 1e-5), edges, lw=1.2) for _ in range(SHOWN)]
    _log_y(ax, subs=(1.0,))  # 5 labels, one per decade: each tick label costs redraw time
    ax.set_ylim(1e-4, 1.05)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.tick_params(labelsize=7)
    return steps


def _hist(ax, steps, hist, n, title, xlim=None) -> None:
    """Fill the step histograms of ``_hist_setup`` with ``hist`` (from ``_hist_counts``) of n layers."""
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    shown, counts, edges = hist
    for k, st in enumerate(steps):
        st.set_visible(k < len(shown))
        if k < len(shown):
            st.set_data(np.maximum(counts[k], 1e-5), edges)
            st.set_color(cmap(shown[k] / max(n - 1, 1)))
    ax.title.set_text(f"{title}: layer 1 (dark) .. {n} (yellow)")
    ax.set_xlim(*(xlim or (1.05 * edges[0], 1.05 * edges[-1])))


def setup(fig) -> dict:
    """Axes, lines, bars and histograms, built once; ``update`` changes their data (over a ``Backdrop``)."""
    fig.set_layout_engine("none")  # fixed margins: constrained layout was a third of the redraw time
    fig.subplots_adjust(left=0.06, right=0.96, bottom=0.14, top=0.9, wspace=0.32)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    L = np.arange(1, MAX_DEPTH + 1)
    tw = ax1.twinx()
    bars = tw.bar(L, np.zeros(MAX_DEPTH), color="0.6", alpha=0.35, width=0.6)
    tw.set_ylim(0, 1)
    tw.set_yticks([0, 0.5, 1])
    tw.set_ylabel(" ", fontsize=8)
    tw.tick_params(labelsize=7)
    (act,) = ax1.plot(L, np.ones(MAX_DEPTH), "o-", label="activations (forward)")
    (grad,) = ax1.plot(L, np.ones(MAX_DEPTH), "s-", label="gradients (backward)")
    _log_y(ax1)
    ax1.set_xlabel("hidden layer", fontsize=8)
    ax1.xaxis.set_major_locator(MaxNLocator(6, integer=True))
    ax1.tick_params(labelsize=7)
    ax1.set_title("std per layer", fontsize=9)
    ax1.set_zorder(tw.get_zorder() + 1)
    ax1.patch.set_visible(False)
    ax1.set_xlim(0.5, MAX_DEPTH + 0.5)  # fixed: the layers beyond the depth stay empty
    legend = ax1.legend(fontsize=7, loc="lower left")
    for ax in (ax2, ax3):
        ax.set_title(" ", fontsize=8)
    h2, h3 = _hist_setup(ax2), _hist_setup(ax3)
    dynamic = [act, grad, *bars, *h2, *h3, ax2.title, ax3.title]
    backdrop = Backdrop(fig, dynamic, static_texts=[legend, ax1.title])
    return dict(axes=(ax1, ax2, ax3), tw=tw, bars=bars, act=act, grad=grad, h2=h2, h3=h3, backdrop=backdrop)


def update(st: dict, scheme: str, scale: float, activation: str, depth: int, width: int) -> str:
    """Std per layer (forward and backward) + dead/saturated fraction, and the two sets of histograms."""
    r = _cached(scheme, scale if scheme in ("normal", "constant") else 0.0, activation, depth, width)
    ax1, ax2, ax3 = st["axes"]
    L = np.arange(1, depth + 1)
    floor = 1e-12
    st["act"].set_data(L, np.maximum(r["act_std"], floor))
    st["grad"].set_data(L, np.maximum(r["grad_std"], floor))
    lo, hi = (
        max(min(r["act_std"].min(), r["grad_std"].min()), floor),
        max(r["act_std"].max(), r["grad_std"].max(), floor),
    )
    # whole decades (at least a factor 2 of margin): the backdrop of these limits is drawn once and reused
    y_lim = (10.0 ** math.floor(math.log10(lo / 2)), 10.0 ** math.ceil(math.log10(hi * 2)))
    kind = "dead" if activation == "relu" else "saturated"
    for i, bar in enumerate(st["bars"]):
        bar.set_visible(i < depth)
        bar.set_height(r["frac"][i] if i < depth else 0.0)
    _hist(
        ax2,
        st["h2"],
        r["hist_acts"],
        depth,
        f"activations ({activation})",
        (0.0, 1.0) if activation == "sigmoid" else None,
    )
    _hist(ax3, st["h3"], r["hist_grads"], depth, "gradients dL/dh")
    x_lims = (ax2.get_xlim(), ax3.get_xlim())

    def apply() -> None:
        ax1.set_ylim(*y_lim)
        # 1 and 3 per decade over a short range; over many decades LogLocator would drop every tick with two subs
        ax1.yaxis.set_major_locator(LogLocator(subs=(1.0, 3.0) if y_lim[1] / y_lim[0] < 1e3 else (1.0,), numticks=6))
        st["tw"].yaxis.label.set_text(kind)

    st["backdrop"].show((y_lim, x_lims, kind), apply)
    ratio = r["act_std"][-1] / max(r["act_std"][0], floor)
    return (
        f"last/first layer activation std = {ratio:.3g}; "
        f"{'dead' if activation == 'relu' else 'saturated'} in the last layer: {r['frac'][-1]:.0%}"
    )


def explorer(
    scheme: str = "normal", scale: float = 0.01, activation: str = "tanh", depth: int = 8, width: int = 128
) -> Explorer:
    """The widget: scheme, scale (std of "normal" / value of "constant"), activation, depth, width."""
    controls = {
        "scheme": dropdown(list(SCHEMES), scheme, "init"),
        "scale": log_slider(scale, 1e-3, 10.0, "scale (std / value)"),
        "activation": dropdown(list(ACTIVATIONS), activation, "activation"),
        "depth": int_slider(depth, 2, MAX_DEPTH, "depth"),
        "width": int_slider(width, 32, 256, "width", step=32),
    }
    return Explorer(
        controls,
        setup=setup,
        update=update,
        figsize=(11, 3.4),
        title="Initialization: activations and gradients per layer",
    )
