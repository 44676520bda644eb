"""Optimizer explorer: trajectories of the eight update rules of ``deepkit.optim`` on 2-D test surfaces.

Left: contours of the surface (Beale, saddle, Rosenbrock, ill-conditioned quadratic) with each optimizer's path
from the chosen start point. Right: loss against step. Controls: surface, start point, which optimizers,
number of steps, a learning-rate multiplier (each rule starts from a learning rate tuned per surface, shown in
the legend), momentum, Adam's beta1/beta2, RMSProp/Adadelta's decay rho and gradient noise.

Trajectories come from the reference step functions (``deepkit.optim.run``) and are cached per optimizer and
setting, so a control only recomputes the paths it changes; contour grids are computed once per surface. The
figure is a ``BlitExplorer``: the frame (contours, ticks, legend, the loss axis' decade-rounded limits) is drawn
only when it changes; a hyper-parameter change redraws just the sixteen lines on the saved background.
"""

from __future__ import annotations

import math
import warnings
from functools import cache, lru_cache

import ipywidgets as W
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator, SymmetricalLogLocator

from deepkit import optim, surfaces
from deepkit.viz.base import BlitExplorer, dropdown, int_slider, log_slider, slider

NAMES = tuple(optim.OPTIMIZERS)
LABELS = {
    "sgd": "SGD",
    "sgd_momentum": "Momentum",
    "nesterov": "Nesterov",
    "adagrad": "Adagrad",
    "adadelta": "Adadelta",
    "rmsprop": "RMSProp",
    "adam": "Adam",
    "adamax": "AdaMax",
}
COLORS = dict(zip(NAMES, ("#333333", "#1f77b4", "#17becf", "#2ca02c", "#bcbd22", "#9467bd", "#d62728", "#ff7f0e")))

# Learning rates that give a readable picture on each surface at lr x 1 (found by a small sweep, then halved).
BASE_LR = {
    "beale": dict(
        sgd=1e-2, sgd_momentum=2e-3, nesterov=2e-3, adagrad=1.0, adadelta=5.0, rmsprop=3e-2, adam=0.1, adamax=0.3
    ),
    "saddle": dict(
        sgd=1e-2, sgd_momentum=2e-3, nesterov=2e-3, adagrad=5e-2, adadelta=1.0, rmsprop=5e-3, adam=1e-2, adamax=1e-2
    ),
    "rosenbrock": dict(
        sgd=1e-3, sgd_momentum=1e-3, nesterov=1e-3, adagrad=1.0, adadelta=5.0, rmsprop=3e-2, adam=0.3, adamax=0.3
    ),
    "quadratic": dict(
        sgd=5e-2, sgd_momentum=5e-3, nesterov=5e-3, adagrad=0.5, adadelta=3.0, rmsprop=3e-2, adam=5e-2, adamax=0.1
    ),
}

# Start points per surface: the first is the surface's default.
STARTS = {
    "beale": ((1.0, 1.5), (-2.0, 3.0), (0.5, -2.5)),
    "saddle": ((-1.0, 1e-3), (-1.0, 0.0), (-1.2, 0.3)),
    "rosenbrock": ((-1.5, 2.0), (0.0, -0.5), (1.8, 0.5)),
    "quadratic": ((-3.5, 1.5), (3.0, -1.8), (-3.9, 0.05)),
}


def hyper(name: str, surface: str, lr_scale: float, momentum: float, beta1: float, beta2: float, rho: float) -> dict:
    """The keyword hyper-parameters the explorer passes to ``optim.OPTIMIZERS[name]``."""
    h = {"lr": BASE_LR[surface][name] * lr_scale}
    if name in ("sgd_momentum", "nesterov"):
        h["momentum"] = momentum
    elif name in ("adam", "adamax"):
        h.update(beta1=beta1, beta2=beta2)
    elif name == "rmsprop":
        h["alpha"] = rho
    elif name == "adadelta":
        h["rho"] = rho
    return h


@lru_cache(maxsize=512)
def trajectory(
    name: str, surface: str, start: tuple, steps: int, noise: float, hyper_items: tuple
) -> tuple[np.ndarray, np.ndarray]:
    """(path of shape (steps + 1, 2), loss of shape (steps + 1,)) of one optimizer; NaN after divergence.

    With ``noise`` > 0 every gradient gets N(0, noise^2) added (the same seeded noise for every optimizer).
    """
    s = surfaces.get(surface)
    eps = np.random.default_rng(0).normal(scale=noise, size=(steps + 1, 2)) if noise > 0 else None
    count = iter(range(steps + 1))

    def grad(w):
        g = np.array(s.grad(float(w[0]), float(w[1])))
        return g + eps[next(count)] if eps is not None else g

    path = optim.run(name, grad, np.array(start, dtype=np.float64), steps, **dict(hyper_items))
    return path, s.f(path[:, 0], path[:, 1])


MAX_STEPS = 300  # the steps slider's maximum
_LONGEST: dict = {}  # (name, surface, start, noise, hyper) -> the longest (path, loss) computed so far


def _prefix(name: str, surface: str, start: tuple, steps: int, noise: float, hyper_items: tuple):
    """``trajectory`` up to ``steps``, sliced from a longer run when there is one (a run is the prefix of any
    longer run with the same settings, noise included). When ``steps`` outgrows the cached run, the run is
    extended straight to MAX_STEPS, so moving the steps slider costs one computation, not one per value."""
    key = (name, surface, start, noise, hyper_items)
    have = _LONGEST.get(key)
    if have is None or len(have[0]) <= steps:
        n = steps if have is None else max(steps, MAX_STEPS)
        have = _LONGEST[key] = trajectory(name, surface, start, n, noise, hyper_items)
        if len(_LONGEST) > 2048:
            _LONGEST.pop(next(iter(_LONGEST)))
    return have[0][: steps + 1], have[1][: steps + 1]


@cache
def _grid(surface: str):
    s = surfaces.get(surface)
    X, Y, Z = s.grid(70)
    if s.log_levels:
        levels = np.logspace(np.log10(max(Z.min(), 1e-2)), np.log10(Z.max()), 18)
    else:
        levels = np.linspace(Z.min(), Z.max(), 16)
    return X, Y, Z, levels


def _tick(v: float, _pos) -> str:
    return "0" if v == 0 else f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")


def setup(fig) -> dict:
    """Both panels with one path and one loss curve per optimizer, built once; ``update`` changes the data and,
    when the surface changes, the contours and the loss axis' scale."""
    fig.set_layout_engine("none")  # fixed margins: constrained layout costs ~60 ms per redraw
    ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.11, top=0.93, wspace=0.18)
    (star,) = ax.plot([0], [0], marker="*", ms=12, color="gold", mec="k", zorder=5)
    (start,) = ax.plot([0], [0], "ko", ms=5, zorder=5)
    paths = {n: ax.plot([0], [0], "-", color=COLORS[n], lw=1.4)[0] for n in NAMES}
    curves = {n: ax2.plot([0], [1], color=COLORS[n], lw=1.2)[0] for n in NAMES}
    for a in (ax, ax2):
        a.xaxis.set_major_locator(MaxNLocator(5))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ax2.set_xlabel("step t")
    ax2.set_title("loss vs step", fontsize=10)
    ax.set_title(" ", fontsize=10)
    return dict(
        axes=(ax, ax2),
        star=star,
        start=start,
        paths=paths,
        curves=curves,
        dynamic=[*paths.values(), *curves.values()],  # redrawn on the saved frame (BlitExplorer)
        surface=None,
        contours=None,
        legend=None,
        shown=None,
        frame=None,
    )


def _set_surface(st: dict, surface: str) -> None:
    """Contours, minimum, window and loss scale of a new surface (the only costly part of an update)."""
    ax, ax2 = st["axes"]
    s = surfaces.get(surface)
    if st["contours"] is not None:
        st["contours"].remove()
    X, Y, Z, levels = _grid(surface)
    st["contours"] = ax.contour(X, Y, Z, levels=levels, cmap="viridis", linewidths=0.7, alpha=0.55)
    st["star"].set_visible(s.minimum is not None)
    if s.minimum is not None:
        st["star"].set_data([s.minimum[0]], [s.minimum[1]])
    ax.set_xlim(s.xlim)
    ax.set_ylim(s.ylim)
    if s.minimum is not None:  # few ticks: tick labels are most of the drawing time
        with warnings.catch_warnings():  # the previous surface's curves may still hold values <= 0
            warnings.simplefilter("ignore", UserWarning)
            ax2.set_yscale("log")
        ax2.yaxis.set_major_locator(LogLocator(numticks=5))
        ax2.set_ylabel("f(w_t) − f*")
    else:
        ax2.set_yscale("symlog", linthresh=1e-2)
        ax2.yaxis.set_major_locator(SymmetricalLogLocator(linthresh=1e-2, base=10, subs=[1.0]))
        ax2.set_ylabel("f(w_t)")
    ax2.yaxis.set_minor_locator(NullLocator())
    ax2.yaxis.set_major_formatter(FuncFormatter(_tick))  # plain text: mathtext labels are slow to lay out
    st["surface"] = surface


def _outward(v: float, up: bool, log: bool) -> float:
    """``v`` rounded away from the data to a decade (log axes) or to 0 / +-1e-2 * 10^k (symlog axes), so the
    loss axis' limits change only when a curve crosses a decade: the frame, and its blitted background, stay."""
    if log:
        return 10.0 ** (math.ceil(math.log10(v)) if up else math.floor(math.log10(v)))
    if abs(v) < 1e-2:
        return (1e-2 if up else 0.0) if v >= 0 else (0.0 if up else -1e-2)
    mag = 10.0 ** math.ceil(math.log10(abs(v)))
    return mag if v > 0 else -mag


def update(
    st: dict,
    surface: str = "beale",
    start: int = 0,
    show: tuple = NAMES,
    steps: int = 150,
    lr_scale: float = 1.0,
    momentum: float = 0.9,
    beta1: float = 0.9,
    beta2: float = 0.999,
    rho: float = 0.9,
    noise: float = 0.0,
) -> str:
    """Paths (left) and loss curves (right) for the chosen settings; returns the status line (the learning rate
    and the final loss of every optimizer shown)."""
    ax, ax2 = st["axes"]
    s = surfaces.get(surface)
    if surface != st["surface"]:
        _set_surface(st, surface)
    x0 = STARTS[surface][start]
    st["start"].set_data([x0[0]], [x0[1]])
    final, lo, hi = [], np.inf, -np.inf
    for name in NAMES:
        st["paths"][name].set_visible(name in show)
        st["curves"][name].set_visible(name in show)
    for name in show:
        h = hyper(name, surface, lr_scale, momentum, beta1, beta2, rho)
        path, loss = _prefix(name, surface, tuple(x0), int(steps), float(noise), tuple(sorted(h.items())))
        st["paths"][name].set_data(path[:, 0], path[:, 1])
        ok = np.isfinite(loss)
        st["curves"][name].set_data(np.flatnonzero(ok), loss[ok])
        if ok.any():
            shown = loss[ok][loss[ok] > 0] if s.minimum is not None else loss[ok]
            if shown.size:
                lo, hi = min(lo, float(shown.min())), max(hi, float(shown.max()))
        final.append(f"{LABELS[name]} (lr {h['lr']:.2g}) {loss[ok][-1]:.2g}")
    if tuple(show) != st["shown"]:  # a new legend only when the set of optimizers changes
        if st["legend"] is not None:
            st["legend"].remove()
        st["legend"] = (
            ax.legend(
                [st["paths"][n] for n in show],
                [LABELS[n] for n in show],
                fontsize=7,
                loc="lower left",
                ncol=2,
                framealpha=0.8,
            )
            if show
            else None
        )
        st["shown"] = tuple(show)
    ax.set_title(f"{s.name}: start ({x0[0]:g}, {x0[1]:g})", fontsize=10)
    xmax = 100 * math.ceil(steps / 100)  # 100, 200 or 300: most step counts only redraw the lines
    ax2.set_xlim(-0.05 * xmax, 1.05 * xmax)
    ylim = None
    if np.isfinite(lo):
        log = s.minimum is not None
        lo = max(lo, 1e-12) if log else lo
        ylim = (_outward(lo, False, log), _outward(hi, True, log))
        if ylim[0] == ylim[1]:
            ylim = (ylim[0] / 10, ylim[1] * 10) if log else (ylim[0] - 1e-2, ylim[1] + 1e-2)
        ax2.set_ylim(*ylim)
    st["frame"] = (surface, start, tuple(show), xmax, ylim)
    return "lr and final loss: " + ", ".join(final)


def explorer(surface: str = "beale", steps: int = 150) -> BlitExplorer:
    """The optimizer explorer widget (display it, or call ``.draw(**values)`` in scripts)."""
    controls = {
        "surface": dropdown(
            [
                ("Beale", "beale"),
                ("saddle x²−y²", "saddle"),
                ("Rosenbrock", "rosenbrock"),
                ("quadratic κ=20", "quadratic"),
            ],
            surface,
            "surface",
        ),
        "start": dropdown([("start A", 0), ("start B", 1), ("start C", 2)], 0, "start"),
        "show": W.SelectMultiple(options=[(LABELS[n], n) for n in NAMES], value=NAMES, rows=4, description="show"),
        "steps": int_slider(steps, 10, MAX_STEPS, "steps", step=10),
        "lr_scale": log_slider(1.0, 0.1, 10.0, "lr ×"),
        "momentum": slider(0.9, 0.0, 0.99, 0.01, "momentum"),
        "beta1": slider(0.9, 0.0, 0.99, 0.01, "β1"),
        "beta2": slider(0.999, 0.9, 0.9999, 0.0001, "β2", fmt=".4f"),
        "rho": slider(0.9, 0.5, 0.999, 0.001, "ρ (RMSProp α, Adadelta)"),
        "noise": slider(0.0, 0.0, 2.0, 0.05, "gradient noise σ"),
    }
    ex = BlitExplorer(
        controls, setup=setup, update=update, figsize=(10, 4.2), dpi=72, title="Optimizers on 2-D surfaces"
    )
    warm_up(ex.values())
    return ex


def warm_up(values: dict) -> None:
    """Compute the paths of every surface's first start at the current settings (~0.2 s, once): the first visit
    of a surface then costs a frame, not eight trajectories."""
    v = {k: values[k] for k in ("lr_scale", "momentum", "beta1", "beta2", "rho")}
    for surface in BASE_LR:
        for name in values["show"]:
            h = hyper(name, surface, **v)
            _prefix(
                name,
                surface,
                STARTS[surface][0],
                int(values["steps"]),
                float(values["noise"]),
                tuple(sorted(h.items())),
            )
