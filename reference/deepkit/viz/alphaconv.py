"""Explorer for topic 06: how the mixing weights alpha of an alpha-conv evolve under different penalties.

The task (``make_task``): 4 input maps, one output map; the target is map 1 correlated with a fixed kernel plus
a weaker contribution of map 3, so a good layer puts most of alpha on map 1. ``train`` runs plain gradient
descent on 0.5 * mean squared error + a penalty on alpha and records alpha after every step.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from matplotlib.ticker import FuncFormatter
from threadpoolctl import threadpool_limits

from deepkit import alphaconv as ac
from deepkit.viz.base import Explorer, dropdown, log_slider, slider

PENALTIES = {
    "none": None,
    "L1 (slides)": ac.l1_alpha_penalty,
    "entropy": ac.entropy_penalty,
    "Lp, p = 0.5": ac.lp_penalty,
}


@lru_cache(maxsize=4)
def make_task(seed: int = 0, n: int = 16, size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """x (n, 4, size, size) and target t (n, 1, size - 2, size - 2) built from maps 1 and 3."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4, size, size))
    k_true = np.zeros((1, 4, 3, 3))
    k_true[0, 1] = rng.normal(size=(3, 3))
    k_true[0, 3] = 0.3 * rng.normal(size=(3, 3))
    return x, ac.pair_correlations(x, k_true).sum(axis=1)


@lru_cache(maxsize=256)
def train(
    penalty: str = "none",
    lam: float = 0.05,
    temperature: float = 1.0,
    steps: int = 80,
    lr: float = 0.075,
    seed: int = 0,
) -> dict:
    """Gradient descent on the task. Returns {"alpha": (steps + 1, 4) history, "loss": (steps + 1,)}.

    Results are cached (treat them as read-only): moving a slider back is instant."""
    x, t = make_task(seed)
    rng = np.random.default_rng(seed + 1)
    k = 0.1 * rng.normal(size=(1, 4, 3, 3))
    c = np.zeros((4, 1))
    b = np.zeros(1)
    pen = PENALTIES[penalty]
    alphas, losses = [], []
    for _ in range(steps + 1):
        z, cache = ac.alphaconv_forward(x, k, c, b, temperature)
        diff = z - t
        loss = 0.5 * np.mean(diff**2)
        alphas.append(cache[2][:, 0].copy())
        _, dk, dc, db = ac.alphaconv_backward(diff / diff.size, cache)
        if pen is not None:
            value, dpen = pen(c, lam, temperature=temperature)
            loss += value
            dc = dc + dpen
        losses.append(loss)
        k -= lr * 20 * dk
        c -= lr * 20 * dc
        b -= lr * db
    return {"alpha": np.array(alphas), "loss": np.array(losses)}


def _unpenalized(temperature: float) -> dict:
    """The run without a penalty (lambda plays no role there: one cached run per temperature)."""
    return _train("none", 0.0, temperature)


def _train(penalty: str, lam: float, temperature: float) -> dict:
    with threadpool_limits(1, user_api="blas"):  # tiny einsums: BLAS threads on a busy machine only spin
        return train(penalty, lam, temperature)


def _setup(fig) -> dict:
    """Three panels with their lines, built once; ``_update`` changes the data."""
    axes = fig.subplots(1, 3)
    alpha = [[ax.plot([0, 1], [0, 0], label=f"alpha_{i}")[0] for i in range(4)] for ax in axes[:2]]
    for ax in axes[:2]:
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
    axes[0].legend(fontsize=8, loc="center right")
    objective = [axes[2].plot([0, 1], [1, 1])[0] for _ in range(2)]
    axes[2].set_yscale("log")
    axes[2].minorticks_off()
    axes[2].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # plain text: mathtext is slow
    axes[2].set_title("objective")
    titles = [ax.set_title(" ") for ax in axes[:2]]
    return dict(axes=axes, alpha=alpha, objective=objective, titles=titles, legend=None, penalty=None)


def _update(st: dict, penalty: str, lam: float, temperature: float) -> str:
    runs = {"none": _unpenalized(temperature), penalty: _train(penalty, lam, temperature)}
    axes = st["axes"]
    for k, (lines, title) in enumerate(zip(st["alpha"], st["titles"])):
        shown = k < len(runs)
        name, run = list(runs.items())[min(k, len(runs) - 1)]
        for i, line in enumerate(lines):
            line.set_visible(shown)
            line.set_data(np.arange(len(run["alpha"])), run["alpha"][:, i])
        title.set_text(f"penalty: {name}" if shown else "")
    for k, line in enumerate(st["objective"]):
        line.set_visible(k < len(runs))
        run = list(runs.values())[min(k, len(runs) - 1)]
        line.set_data(np.arange(len(run["loss"])), run["loss"])
    if penalty != st["penalty"]:  # a new legend only when the penalty's name changes
        if st["legend"] is not None:
            st["legend"].remove()
        st["legend"] = axes[2].legend(st["objective"][: len(runs)], list(runs), fontsize=8)
        st["penalty"] = penalty
    steps = len(runs["none"]["loss"]) - 1
    for ax in axes:
        ax.set_xlim(-0.05 * steps, 1.05 * steps)
    losses = np.concatenate([run["loss"] for run in runs.values()])
    lo, hi = float(losses[losses > 0].min()), float(losses.max())
    m = (hi / lo) ** 0.05 if hi > lo else 2.0
    axes[2].set_ylim(lo / m, hi * m)
    same = np.abs(runs["none"]["alpha"] - runs[penalty]["alpha"]).max() < 1e-4
    final = runs[penalty]["alpha"][-1]
    return f"final alpha with {penalty}: [{', '.join(f'{a:.2f}' for a in final)}]" + (
        "  (the same as without a penalty, up to rounding)" if same and penalty != "none" else ""
    )


def explorer() -> Explorer:
    """Penalty, its strength and the softmax temperature -> alpha trajectories with and without it.

    Every penalty is trained up front at the initial lambda and temperature (~0.3 s), so switching the
    penalty there only redraws; any other setting trains once (~0.1 s per run) and is cached."""
    lam, temperature = 0.3, 1.0
    _unpenalized(temperature)
    for name in PENALTIES:
        if name != "none":
            _train(name, lam, temperature)
    controls = {
        "penalty": dropdown(list(PENALTIES), "entropy", "penalty"),
        "lam": log_slider(lam, 1e-3, 1.0, "lambda"),
        "temperature": slider(temperature, 0.2, 3.0, 0.1, "temperature"),
    }
    return Explorer(
        controls, setup=_setup, update=_update, figsize=(11, 3.2), title="Alpha-conv: which penalty sparsifies alpha?"
    )
