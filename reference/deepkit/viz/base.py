"""The one widget pattern every explorer uses: controls -> render(fig, **values) -> PNG image.

Rendering goes through a ``matplotlib.figure.Figure`` on the Agg canvas (no pyplot state, no flicker of
an Output widget); the PNG bytes land in an ``ipywidgets.Image``. Each redraw is counted and timed, so tests
and the browser check can tell that a control changed the plot and how long it took.

Speed (the goal: < 150 ms from slider to image in a browser, i.e. well under 100 ms of CPU per redraw): one
Figure and its Agg renderer live as long as the explorer, so matplotlib's text-metrics cache (keyed by the
renderer) stays warm; titles are placed at a fixed height (automatic title placement measures every tick
label of the axes on each draw); the PNG is encoded by PIL at compression level 1 straight from the canvas
buffer. Two ways to draw:

* ``render(fig, **values) -> status``: the figure is cleared and drawn from scratch on every change (simple);
* ``setup(fig) -> state`` once, then ``update(state, **values) -> status`` on every change: the axes, their
  ticks and static artists are built once and only the data of the artists changes (``set_data``,
  ``set_ydata``, ``set_text``, ``set_xlim``, ...), which saves the creation of axes and ticks, the bulk of a
  from-scratch redraw.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import ipywidgets as W
import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

RenderFn = Callable[..., None]


def slider(value: float, lo: float, hi: float, step: float, description: str, fmt: str = ".3g") -> W.FloatSlider:
    """A float slider that redraws when released (not on every pixel of a drag)."""
    return W.FloatSlider(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        readout_format=fmt,
        continuous_update=False,
        style={"description_width": "initial"},
    )


def log_slider(value: float, lo: float, hi: float, description: str) -> W.FloatLogSlider:
    """A log-scale slider between ``lo`` and ``hi`` (powers of ten at 0.1-decade steps)."""
    import math

    return W.FloatLogSlider(
        value=value,
        base=10,
        min=math.log10(lo),
        max=math.log10(hi),
        step=0.1,
        description=description,
        continuous_update=False,
        style={"description_width": "initial"},
    )


def int_slider(value: int, lo: int, hi: int, description: str, step: int = 1) -> W.IntSlider:
    return W.IntSlider(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=False,
        style={"description_width": "initial"},
    )


def dropdown(options, value, description: str) -> W.Dropdown:
    return W.Dropdown(options=options, value=value, description=description, style={"description_width": "initial"})


#: rcParams for every explorer drawing: a fixed title height (no per-draw measuring of tick labels), and
#: unhinted glyphs (hinting each glyph is ~20% of a draw; at 72 dpi the text looks the same)
RC = {"axes.titley": 1.0, "text.hinting": "no_hinting"}


def png_bytes(fig: Figure, compress_level: int = 1, draw: bool = True) -> bytes:
    """Draw ``fig`` on its Agg canvas and encode it as an RGB PNG (fast zlib level; the plots are small).
    ``draw=False`` encodes the canvas as it is (after a blitted partial redraw)."""
    from PIL import Image

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    if draw:
        with mpl.rc_context(RC):
            canvas.draw()
    img = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="png", compress_level=compress_level)
    return buf.getvalue()


def freeze_label_positions(fig: Figure) -> None:
    """Pin every x-axis label, and every empty y-axis label, where the last draw put it.

    matplotlib places axis labels on each draw by measuring all tick labels of the axes and of its siblings
    (~20% of a draw). A persistent figure keeps its size and tick-label fonts, so x labels can stay where
    they are; a non-empty y label stays automatic (the width of its tick labels changes with the data).
    """
    for ax in fig.axes:
        x, y_px = ax.xaxis.label.get_position()  # x in axes coordinates, y in pixels
        ax.xaxis.set_label_coords(x, ax.transAxes.inverted().transform((0.0, y_px))[1])
        if not ax.yaxis.label.get_text():
            x_px, y = ax.yaxis.label.get_position()
            ax.yaxis.set_label_coords(ax.transAxes.inverted().transform((x_px, 0.0))[0], y)


class Explorer:
    """A row of controls above a figure that is redrawn whenever a control changes.

    controls: name -> ipywidget with a ``value``. Either ``render(fig, **values)`` draws into a cleared Figure
    (make axes with ``fig.subplots``), or ``setup(fig) -> state`` builds the axes and artists once and
    ``update(state, **values)`` changes them (pass ``render=None``); both may return a short status string
    shown under the plot.
    Attributes for tests: ``redraws`` (count), ``last_ms`` (redraw time), ``image.value`` (PNG bytes).
    """

    def __init__(
        self,
        controls: dict,
        render: RenderFn | None = None,
        figsize: tuple = (10, 3.6),
        dpi: int = 72,
        title: str = "",
        *,
        setup: Callable[[Figure], object] | None = None,
        update: Callable[..., str | None] | None = None,
    ) -> None:
        if (render is None) == (setup is None or update is None):
            raise TypeError("Explorer needs either render, or both setup and update")
        self.controls = dict(controls)
        self.render = render
        self._setup, self._update = setup, update
        self.figsize, self.dpi = figsize, dpi
        self.image = W.Image(
            format="png", layout=W.Layout(max_width="100%", align_self="flex-start")
        )  # never stretched
        self.image.add_class("deepkit-plot")
        self.status = W.HTML()
        self.status.add_class("deepkit-status")
        self.redraws = 0
        self.last_ms = 0.0
        self._fig: Figure | None = None  # the persistent figure of the widget (built on the first redraw)
        self._state = None
        for w in self.controls.values():
            w.observe(self._changed, names="value")
        head = [W.HTML(f"<b>{title}</b>")] if title else []
        box = W.Box(
            list(self.controls.values()), layout=W.Layout(display="flex", flex_flow="row wrap", grid_gap="4px 16px")
        )
        self.widget = W.VBox(head + [box, self.image, self.status])
        self.widget.add_class("deepkit-explorer")
        self.update()

    def values(self) -> dict:
        return {name: w.value for name, w in self.controls.items()}

    def _new_figure(self, canvas: FigureCanvasAgg | None = None) -> Figure:
        fig = Figure(figsize=self.figsize, dpi=self.dpi)  # no layout engine: it would triple the draw time
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.88, wspace=0.3, hspace=0.45)
        if canvas is None:
            FigureCanvasAgg(fig)
        else:  # Figure.clear() would first clear every axes, which costs as much as building them
            canvas.figure = fig
            fig.set_canvas(canvas)
        return fig

    def _draw_into(self, fig: Figure, state, values: dict):
        """Draw ``values`` into ``fig`` (``state`` from setup, or None for a render explorer); the status."""
        with mpl.rc_context(RC):
            if self.render is not None:
                return self.render(fig, **values)
            return self._update(state, **values)

    def draw(self, **overrides) -> Figure:
        """Render with the current control values (or overrides) into a new Figure and return it (for scripts
        and tests; the widget itself redraws one persistent figure)."""
        fig = self._new_figure()
        with mpl.rc_context(RC):
            state = None if self.render is not None else self._setup(fig)
        self._note = self._draw_into(fig, state, {**self.values(), **overrides})
        return fig

    def update(self) -> None:
        t0 = time.perf_counter()
        if self._fig is None:
            self._fig = self._new_figure()
            if self.render is None:
                with mpl.rc_context(RC):
                    self._state = self._setup(self._fig)
        elif self.render is not None:  # a fresh figure on the same canvas (its renderer and text cache)
            self._fig = self._new_figure(canvas=self._fig.canvas)
        self._note = self._draw_into(self._fig, self._state, self.values())
        self.image.value = png_bytes(self._fig)
        if self.render is None and self.redraws == 0:  # the figure persists: labels can stay where they are
            freeze_label_positions(self._fig)
        self.last_ms = (time.perf_counter() - t0) * 1e3
        self.redraws += 1
        note = f"{self._note} &nbsp;·&nbsp; " if self._note else ""
        self.status.value = f"<small>{note}redraw {self.redraws} in {self.last_ms:.0f} ms</small>"

    def _changed(self, _change) -> None:
        self.update()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


class BlitExplorer(Explorer):
    """An ``Explorer`` that redraws only what moves (Agg blitting): for pictures whose frame (axes, ticks,
    contours, legend) stays put while a few lines change, e.g. optimizer paths on a fixed surface.

    ``setup(fig)`` returns a state dict holding ``"dynamic"``: the artists that change on every update (lines,
    markers). ``update(state, **values)`` changes them and sets ``state["frame"]`` to a hashable description of
    everything else it changed (the surface, the axis limits, the legend...). A frame seen recently has its
    background saved (the full figure drawn without the dynamic artists): it is restored and only the dynamic
    artists are drawn on it; a new frame is drawn in full and saved (the last ``keep`` frames are kept, so going
    back to an earlier setting is cheap too). ``draw()`` (scripts, tests) still draws everything at once.
    """

    def __init__(self, controls: dict, *, setup, update, keep: int = 12, **kw) -> None:
        self._backgrounds: dict = {}  # frame -> saved canvas region, oldest first
        self._keep = keep
        super().__init__(controls, setup=setup, update=update, **kw)

    def update(self) -> None:
        t0 = time.perf_counter()
        if self._fig is None:
            self._fig = self._new_figure()
            with mpl.rc_context(RC):
                self._state = self._setup(self._fig)
            for artist in self._state["dynamic"]:
                artist.set_animated(True)  # left out of canvas.draw(): drawn by hand on the background
        canvas = self._fig.canvas
        with mpl.rc_context(RC):
            self._note = self._update(self._state, **self.values())
            frame = self._state.get("frame")
            background = self._backgrounds.get(frame) if frame is not None else None
            if background is None:
                canvas.draw()
                if self.redraws == 0:
                    freeze_label_positions(self._fig)
                if frame is not None:
                    self._backgrounds[frame] = canvas.copy_from_bbox(self._fig.bbox)
                    if len(self._backgrounds) > self._keep:
                        del self._backgrounds[next(iter(self._backgrounds))]
            else:
                canvas.restore_region(background)
            renderer = canvas.get_renderer()
            for artist in self._state["dynamic"]:
                if artist.get_visible():
                    artist.draw(renderer)
        self.image.value = png_bytes(self._fig, draw=False)
        self.last_ms = (time.perf_counter() - t0) * 1e3
        self.redraws += 1
        note = f"{self._note} &nbsp;·&nbsp; " if self._note else ""
        self.status.value = f"<small>{note}redraw {self.redraws} in {self.last_ms:.0f} ms</small>"
