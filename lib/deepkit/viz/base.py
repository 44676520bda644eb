"""The one widget pattern every explorer uses: controls -> render(fig, **values) -> PNG image.

Rendering goes through a fresh ``matplotlib.figure.Figure`` on the Agg canvas (no pyplot state, no flicker of
an Output widget); the PNG bytes land in an ``ipywidgets.Image``. Each redraw is counted and timed, so tests
and the browser check can tell that a control changed the plot and how long it took.
"""
from __future__ import annotations

import io
import time
from typing import Callable

import ipywidgets as W
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

RenderFn = Callable[..., None]


def slider(value: float, lo: float, hi: float, step: float, description: str, fmt: str = ".3g") -> W.FloatSlider:
    """A float slider that redraws when released (not on every pixel of a drag)."""
    return W.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                         readout_format=fmt, continuous_update=False, style={"description_width": "initial"})


def log_slider(value: float, lo: float, hi: float, description: str) -> W.FloatLogSlider:
    """A log-scale slider between ``lo`` and ``hi`` (powers of ten at 0.1-decade steps)."""
    import math
    return W.FloatLogSlider(value=value, base=10, min=math.log10(lo), max=math.log10(hi), step=0.1,
                            description=description, continuous_update=False,
                            style={"description_width": "initial"})


def int_slider(value: int, lo: int, hi: int, description: str, step: int = 1) -> W.IntSlider:
    return W.IntSlider(value=value, min=lo, max=hi, step=step, description=description,
                       continuous_update=False, style={"description_width": "initial"})


def dropdown(options, value, description: str) -> W.Dropdown:
    return W.Dropdown(options=options, value=value, description=description,
                      style={"description_width": "initial"})


class Explorer:
    """A row of controls above a figure that ``render(fig, **values)`` redraws whenever a control changes.

    controls: name -> ipywidget with a ``value``; render draws into the given Figure (make axes with
    ``fig.subplots``) and may return a short status string shown under the plot.
    Attributes for tests: ``redraws`` (count), ``last_ms`` (render time), ``image.value`` (PNG bytes).
    """

    def __init__(self, controls: dict, render: RenderFn, figsize: tuple = (10, 3.6), dpi: int = 72,
                 title: str = "") -> None:
        self.controls = dict(controls)
        self.render = render
        self.figsize, self.dpi = figsize, dpi
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%"))
        self.image.add_class("deepkit-plot")
        self.status = W.HTML()
        self.status.add_class("deepkit-status")
        self.redraws = 0
        self.last_ms = 0.0
        for w in self.controls.values():
            w.observe(self._changed, names="value")
        head = [W.HTML(f"<b>{title}</b>")] if title else []
        box = W.Box(list(self.controls.values()),
                    layout=W.Layout(display="flex", flex_flow="row wrap", grid_gap="4px 16px"))
        self.widget = W.VBox(head + [box, self.image, self.status])
        self.widget.add_class("deepkit-explorer")
        self.update()

    def values(self) -> dict:
        return {name: w.value for name, w in self.controls.items()}

    def draw(self, **overrides) -> Figure:
        """Render with the current control values (or overrides) and return the Figure (for scripts/tests)."""
        fig = Figure(figsize=self.figsize, dpi=self.dpi)  # no layout engine: it would triple the draw time
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.88, wspace=0.3, hspace=0.45)
        FigureCanvasAgg(fig)
        self._note = self.render(fig, **{**self.values(), **overrides})
        return fig

    def update(self) -> None:
        t0 = time.perf_counter()
        fig = self.draw()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=self.dpi)
        self.image.value = buf.getvalue()
        self.last_ms = (time.perf_counter() - t0) * 1e3
        self.redraws += 1
        note = f"{self._note} &nbsp;·&nbsp; " if self._note else ""
        self.status.value = f"<small>{note}redraw {self.redraws} in {self.last_ms:.0f} ms</small>"

    def _changed(self, _change) -> None:
        self.update()

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)
