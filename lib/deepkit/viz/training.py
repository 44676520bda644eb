"""Live training dashboard for a ``deepkit.solver.Solver`` (topic 09).

Four panels redrawn every ``every`` iterations: the mini-batch loss (and its running mean), training and
validation accuracy per epoch, the update/weight ratio of every weight matrix on a log scale with the healthy
1e-3 line, and the standard deviation of every hidden layer's activations (vanishing or exploding activations
show up here first). Above them: a progress bar and a Stop button.

Two ways to drive it:

* ``dash.run()`` trains in chunks of ``every`` steps in the current cell (``Solver.run``'s generator API),
  redrawing after each chunk and checking the Stop button's ``value`` between chunks. Simple, and what a
  headless notebook run uses; in a live notebook the button's click only reaches the kernel after the cell ends.
* ``dash.start()`` schedules the same loop as an asyncio task on the kernel's event loop and returns at once:
  between chunks the task yields (``await asyncio.sleep(0)``), so the kernel handles widget messages and the
  Stop button stops training while it runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

from deepkit.viz.base import BlitExplorer

_SCI = FuncFormatter(lambda v, _: f"{v:.0e}")
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


class Dashboard:
    """Progress bar + Stop button + an Explorer figure following ``solver``'s history.

    solver: a ``deepkit.solver.Solver`` (not yet trained, or partly trained); every: iterations per redraw.
    Attributes for tests: ``explorer`` (redraws, last_ms, image), ``progress`` (IntProgress), ``stop_button``
    (ToggleButton: value True means stop), ``act_std`` (layer -> list of stds at each redraw).
    """

    def __init__(self, solver: Any, every: int = 10, figsize: tuple = (9, 4.6), title: str = "training") -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.solver, self.every = solver, int(every)
        self.act_iters: list[int] = []
        self.act_std: dict[int, list[float]] = {}
        self.progress = W.IntProgress(
            value=solver.iteration,
            min=0,
            max=solver.num_iterations,
            description="iteration",
            style={"description_width": "initial"},
        )
        self.stop_button = W.ToggleButton(
            value=False,
            description="Stop",
            icon="stop",
            button_style="danger",
            tooltip="stop training after the current chunk",
        )
        self.stop_button.add_class("deepkit-stop")
        smooth = W.IntSlider(
            value=20,
            min=1,
            max=100,
            description="loss smoothing",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        # blitted: moving the smoothing slider redraws the smoothed loss alone on the saved frame; a chunk of
        # training (new data everywhere) is a new frame, drawn in full; only the latest frame is worth keeping
        self.explorer = BlitExplorer(
            {"smooth": smooth}, setup=self._setup, update=self._update, keep=1, figsize=figsize, title=title
        )
        self.widget = W.VBox([W.HBox([self.progress, self.stop_button]), self.explorer.widget])
        self.task: asyncio.Task | None = None

    # ------------------------------------------------------------------------------------------ driving
    def _record(self) -> None:
        stds = getattr(self.solver.model, "act_std", None) or []
        self.act_iters.append(self.solver.iteration)
        for i, s in enumerate(stds, start=1):
            self.act_std.setdefault(i, []).append(float(s))

    def _after_chunk(self, iteration: int) -> bool:
        """Record statistics, move the bar, redraw; returns True when the Stop button is down."""
        self._record()
        self.progress.value = min(iteration, self.progress.max)
        self.explorer.update()
        if self.stop_button.value:
            self.solver.stop()
            return True
        return False

    def run(self) -> Any:
        """Train to the end (or until Stop) in this cell, redrawing every ``every`` iterations. Returns the solver."""
        chunks = self.solver.run(self.every)
        for it in chunks:
            if self._after_chunk(it):
                break
        chunks.close()  # restores the best epoch's parameters
        self._finish()
        return self.solver

    async def _run_async(self) -> Any:
        chunks = self.solver.run(self.every)
        for it in chunks:
            if self._after_chunk(it):
                break
            await asyncio.sleep(0)  # let the kernel process widget messages (the Stop button)
        chunks.close()
        self._finish()
        return self.solver

    def start(self) -> asyncio.Task:
        """Train in the background on the running event loop (a live Jupyter kernel); returns the task."""
        self.task = asyncio.get_event_loop().create_task(self._run_async())
        return self.task

    def _finish(self) -> None:
        self.stop_button.disabled = True
        s = self.solver
        self.explorer.status.value = (
            f"<small>stopped at iteration {s.iteration} / {s.num_iterations}; best "
            f"val acc {max(s.history['val_acc'], default=float('nan')):.3f}</small>"
        )

    # ----------------------------------------------------------------------------------------- drawing
    # The four axes, their titles, ticks and lines are built once (``_setup``); a redraw only hands the lines their
    # new data and rescales the axes (``_update``), which is most of a from-scratch redraw saved.
    def _setup(self, fig) -> dict:
        ax = fig.subplots(2, 2)
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.07, top=0.93, wspace=0.2, hspace=0.35)
        titles = (
            "mini-batch loss / iteration",
            "accuracy / epoch: train (blue), validation (red)",  # no legend: 10 ms saved
            "update / weight ratio per layer / iteration (1e-3 dashed)",
            "hidden activation std / iteration (colour of W_i)",
        )
        for a, title in zip(ax.ravel(), titles):
            a.set_title(title, fontsize=9)
            a.tick_params(labelsize=7)
            a.xaxis.set_major_locator(MaxNLocator(4, integer=True))  # few ticks: tick creation dominates
        (raw,) = ax[0, 0].plot([], [], lw=0.6, color="#999999")
        (smooth,) = ax[0, 0].plot([], [], color="k", lw=1.2)
        (train,) = ax[0, 1].plot([], [], "o-", ms=3, color=COLORS[0])
        (val,) = ax[0, 1].plot([], [], "s-", ms=3, color=COLORS[1])
        r = ax[1, 0]
        ratios = {
            name: r.plot([], [], lw=0.8, color=COLORS[j % len(COLORS)], label=name)[0]
            for j, name in enumerate(self.solver.history["ratios"])
        }
        r.axhline(1e-3, color="k", ls="--", lw=0.8)
        r.set_yscale("log")
        r.set_ylim(1e-5, 1e-1)
        r.yaxis.set_major_locator(LogLocator(numticks=4))
        r.yaxis.set_minor_locator(NullLocator())
        r.yaxis.set_major_formatter(_SCI)  # plain "1e-03" labels: mathtext would double the draw time
        if ratios:
            r.legend(fontsize=7, loc="upper right", ncol=2)
        for a in (ax[0, 0], ax[0, 1], ax[1, 1]):
            a.yaxis.set_major_locator(MaxNLocator(4))
        state = {"axes": ax, "raw": raw, "smooth": smooth, "train": train, "val": val, "ratios": ratios, "act": {}}
        state["dynamic"] = [smooth]  # what the slider changes; inside the raw loss's range, so the axes stay put
        return state

    def _update(self, st: dict, smooth: int) -> str:
        h, ax = self.solver.history, st["axes"]
        loss = np.asarray(h["loss"])
        steps = np.arange(loss.size)
        st["raw"].set_data(steps, loss)
        k = max(1, min(int(smooth), loss.size))
        if loss.size:
            st["smooth"].set_data(np.arange(k - 1, loss.size), np.convolve(loss, np.ones(k) / k, mode="valid"))
        epochs = np.arange(1, len(h["train_acc"]) + 1)
        st["train"].set_data(epochs, h["train_acc"])
        st["val"].set_data(epochs, h["val_acc"])
        low, high = np.inf, 0.0
        for name, line in st["ratios"].items():
            r = np.clip(np.asarray(h["ratios"][name]), 1e-8, None)
            line.set_data(np.arange(r.size), r)
            if r.size:
                low, high = min(low, float(r.min())), max(high, float(r.max()))
        for i, stds in self.act_std.items():
            if i not in st["act"]:
                st["act"][i] = ax[1, 1].plot([], [], lw=1, color=COLORS[(i - 1) % len(COLORS)])[0]
            st["act"][i].set_data(self.act_iters[-len(stds) :], stds)
        for a in (ax[0, 0], ax[0, 1], ax[1, 1]):
            if a.lines and any(len(line.get_xdata()) for line in a.lines):
                a.relim()
                a.autoscale_view()
        if np.isfinite(low):
            ax[1, 0].set_xlim(-0.5, max(loss.size, 1))
            ax[1, 0].set_ylim(min(low, 1e-4) / 2, max(high, 1e-2) * 2)
        st["frame"] = (self.solver.iteration, loss.size, epochs.size, len(self.act_iters))  # the data drawn
        last = f"loss {loss[-1]:.3f}" if loss.size else "not started"
        return f"iteration {self.solver.iteration} / {self.solver.num_iterations}, {last}"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def demo_solver() -> Any:
    """A small untrained Solver (a 64-32-10 MLP with Adam on the digits, 2 epochs) for a dashboard to follow."""
    from deepkit.data import load_digits
    from deepkit.models import MLP
    from deepkit.solver import Solver

    return Solver(MLP(64, (32,), 10, seed=0), load_digits(seed=0), "adam", {"lr": 1e-3}, batch_size=50, num_epochs=2)


def explorer(solver: Any = None, every: int = 10, **kw) -> Dashboard:
    """A ``Dashboard`` for ``solver`` (default: ``demo_solver()``); call ``.run()`` or ``.start()``."""
    return Dashboard(demo_solver() if solver is None else solver, every=every, **kw)
