"""Explorer for topic 08: what padding, stride and dilation do to a convolution's output and receptive field.

Left: the (padded) input grid; the receptive field of the selected output unit is highlighted (dilated taps
in dark, the span they cover in light). Middle: the output grid with the selected unit. Right: how the
receptive field grows with depth for a stack of such layers.
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import FuncFormatter

from deepkit.conv import receptive_field
from deepkit.viz.base import Explorer, int_slider


def _size(n, f, p, s, d):
    span = n + 2 * p - d * (f - 1) - 1
    return span, (span // s + 1 if span >= 0 else 0)


def _setup(fig) -> dict:
    """The three panels and their artists, built once (``_update`` changes their data)."""
    ax_in, ax_out, ax_rf = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.25, 1, 1.1]})
    im_in = ax_in.imshow(np.zeros((2, 2)), cmap="Blues", vmin=0, vmax=3.2)
    im_out = ax_out.imshow(np.zeros((2, 2)), cmap="Blues", vmin=0, vmax=1.3)
    none = ax_out.text(0.5, 0.5, "no output", ha="center", va="center", transform=ax_out.transAxes)
    for ax in (ax_in, ax_out):
        ax.set_xticks([])
        ax.set_yticks([])
    depth = np.arange(1, 9)
    lines = [ax_rf.plot(depth, depth, "o-", ms=3, label=" ")[0] for _ in range(2)]
    lines += ax_rf.plot(depth, depth, "k--", lw=1, label="1 + L(K - 1)")
    ax_rf.set_yscale("log")
    ax_rf.minorticks_off()
    ax_rf.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # plain text: mathtext is slow
    ax_rf.set_xlabel("layers L")
    ax_rf.set_title("receptive field", fontsize=10)
    legend = ax_rf.legend(fontsize=7)
    titles = [ax.set_title(" ", fontsize=10) for ax in (ax_in, ax_out)]
    return dict(
        axes=(ax_in, ax_out, ax_rf),
        im_in=im_in,
        im_out=im_out,
        none=none,
        lines=lines,
        legend=legend,
        titles=titles,
        depth=depth,
    )


def _show(ax, im, img) -> None:
    im.set_data(img)
    h, w = img.shape
    im.set_extent((-0.5, w - 0.5, h - 0.5, -0.5))
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)


def _update(st, n, f, pad, stride, dilation, unit):
    ax_in, ax_out, ax_rf = st["axes"]
    span, out = _size(n, f, pad, stride, dilation)
    total = n + 2 * pad
    grid = np.zeros((total, total))
    grid[pad : pad + n, pad : pad + n] = 1.0  # real input pixels
    note = ""
    if out <= 0:
        note = f"the dilated filter ({dilation * (f - 1) + 1} px) does not fit the padded input ({total} px)"
    else:
        u = min(unit, out - 1)
        r0 = c0 = u * stride  # top-left of the unit's field (on the diagonal)
        ext = dilation * (f - 1) + 1
        grid[r0 : r0 + ext, c0 : c0 + ext] += 0.8
        taps = r0 + dilation * np.arange(f)
        grid[np.ix_(taps, c0 + dilation * np.arange(f))] = 3.0
        if span % stride:
            unused = total - ((out - 1) * stride + ext)
            note = (
                f"(N - F + 2P)/S = {span}/{stride} is not an integer: the last {unused} row(s)/column(s) "
                f"are never used (PyTorch floors to {out})"
            )
        ogrid = np.zeros((out, out))
        ogrid[u, u] = 1.0
        _show(ax_out, st["im_out"], ogrid)
        st["titles"][1].set_text(f"output {out} x {out}, unit ({u}, {u})")
    st["im_out"].set_visible(out > 0)
    st["none"].set_visible(out <= 0)
    if out <= 0:
        st["titles"][1].set_text("")
    _show(ax_in, st["im_in"], grid)
    st["titles"][0].set_text(f"input {n} + 2 x {pad} padding")
    depth = st["depth"]
    curves = [[receptive_field([f] * L, [stride] * L, [dil] * L) for L in depth] for dil in (1, dilation)]
    curves.append(1 + depth * (f - 1))
    labels = [f"stride {stride}, no dilation", f"stride {stride}, dilation {dilation}", "1 + L(K - 1)"]
    for line, rf, text, label in zip(st["lines"], curves, st["legend"].get_texts(), labels):
        line.set_ydata(rf)
        text.set_text(label)
    lo, hi = min(min(c) for c in curves), max(max(c) for c in curves)
    ax_rf.set_ylim(lo / 1.25, hi * 1.25)
    formula = (
        f"(N - F_eff + 2P)/S + 1 = ({n} - {dilation * (f - 1) + 1} + 2*{pad})/{stride} + 1 = {span / stride + 1:.2f}"
    )
    return f"output size {formula}" + (f" · {note}" if note else "")


def explorer() -> Explorer:
    """Sliders for input size, filter size, padding, stride, dilation and the output unit to highlight."""
    controls = {
        "n": int_slider(9, 3, 16, "input N"),
        "f": int_slider(3, 1, 7, "filter F"),
        "pad": int_slider(1, 0, 3, "padding P"),
        "stride": int_slider(2, 1, 4, "stride S"),
        "dilation": int_slider(1, 1, 3, "dilation D"),
        "unit": int_slider(1, 0, 15, "output unit"),
    }
    return Explorer(controls, setup=_setup, update=_update, figsize=(11, 3.4), title="Convolution arithmetic")
