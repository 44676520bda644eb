"""Explorer for topic 08: what padding, stride and dilation do to a convolution's output and receptive field.

Left: the (padded) input grid; the receptive field of the selected output unit is highlighted (dilated taps
in dark, the span they cover in light). Middle: the output grid with the selected unit. Right: how the
receptive field grows with depth for a stack of such layers.
"""
from __future__ import annotations

import numpy as np

from deepkit.conv import receptive_field
from deepkit.viz.base import Explorer, int_slider


def _size(n, f, p, s, d):
    span = n + 2 * p - d * (f - 1) - 1
    return span, (span // s + 1 if span >= 0 else 0)


def _render(fig, n, f, pad, stride, dilation, unit):
    ax_in, ax_out, ax_rf = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.25, 1, 1.1]})
    span, out = _size(n, f, pad, stride, dilation)
    total = n + 2 * pad
    grid = np.zeros((total, total))
    grid[pad:pad + n, pad:pad + n] = 1.0                      # real input pixels
    note = ""
    if out <= 0:
        note = f"the dilated filter ({dilation * (f - 1) + 1} px) does not fit the padded input ({total} px)"
    else:
        u = min(unit, out - 1)
        r0 = c0 = u * stride                                  # top-left of the unit's field (on the diagonal)
        ext = dilation * (f - 1) + 1
        grid[r0:r0 + ext, c0:c0 + ext] += 0.8
        taps = r0 + dilation * np.arange(f)
        grid[np.ix_(taps, c0 + dilation * np.arange(f))] = 3.0
        if span % stride:
            unused = total - ((out - 1) * stride + ext)
            note = (f"(N - F + 2P)/S = {span}/{stride} is not an integer: the last {unused} row(s)/column(s) "
                    f"are never used (PyTorch floors to {out})")
        ogrid = np.zeros((out, out))
        ogrid[u, u] = 1.0
        ax_out.imshow(ogrid, cmap="Blues", vmin=0, vmax=1.3)
        ax_out.set_title(f"output {out} x {out}, unit ({u}, {u})", fontsize=10)
    if out <= 0:
        ax_out.text(0.5, 0.5, "no output", ha="center", va="center", transform=ax_out.transAxes)
    ax_in.imshow(grid, cmap="Blues", vmin=0, vmax=3.2)
    ax_in.set_title(f"input {n} + 2 x {pad} padding", fontsize=10)
    for ax in (ax_in, ax_out):
        ax.set_xticks([])
        ax.set_yticks([])
    depth = np.arange(1, 9)
    for dil, lbl in ((1, "no dilation"), (dilation, f"dilation {dilation}")):
        rf = [receptive_field([f] * L, [stride] * L, [dil] * L) for L in depth]
        ax_rf.plot(depth, rf, "o-", ms=3, label=f"stride {stride}, {lbl}")
    ax_rf.plot(depth, 1 + depth * (f - 1), "k--", lw=1, label="1 + L(K - 1)")
    ax_rf.set_yscale("log")
    ax_rf.minorticks_off()
    ax_rf.set_xlabel("layers L")
    ax_rf.set_title("receptive field", fontsize=10)
    ax_rf.legend(fontsize=7)
    formula = f"(N - F_eff + 2P)/S + 1 = ({n} - {dilation * (f - 1) + 1} + 2*{pad})/{stride} + 1 = {span / stride + 1:.2f}"
    return f"output size {formula}" + (f" · {note}" if note else "")


def explorer() -> Explorer:
    """Sliders for input size, filter size, padding, stride, dilation and the output unit to highlight."""
    controls = {"n": int_slider(9, 3, 16, "input N"), "f": int_slider(3, 1, 7, "filter F"),
                "pad": int_slider(1, 0, 3, "padding P"), "stride": int_slider(2, 1, 4, "stride S"),
                "dilation": int_slider(1, 1, 3, "dilation D"), "unit": int_slider(1, 0, 15, "output unit")}
    return Explorer(controls, _render, figsize=(11, 3.4), title="Convolution arithmetic")
