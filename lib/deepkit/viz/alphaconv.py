"""Explorer for topic 06: how the mixing weights alpha of an alpha-conv evolve under different penalties.

The task (``make_task``): 4 input maps, one output map; the target is map 1 correlated with a fixed kernel plus
a weaker contribution of map 3, so a good layer puts most of alpha on map 1. ``train`` runs plain gradient
descent on 0.5 * mean squared error + a penalty on alpha and records alpha after every step.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import threadpool_limits

from deepkit import alphaconv as ac
from deepkit.viz.base import BlitExplorer, dropdown, log_slider, slider

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


@lru_cache(maxsize=4)
def _patches(seed: int = 0) -> np.ndarray:
    """The task's input as im2col patches (n * Ho * Wo, C_in, 9): every correlation is then a matrix product."""
    x, _ = make_task(seed)
    windows = sliding_window_view(x, (3, 3), axis=(2, 3))  # (n, C_in, Ho, Wo, 3, 3)
    return np.ascontiguousarray(windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, x.shape[1], 9))


def layer_grads(
    k: np.ndarray, c: np.ndarray, b: np.ndarray, temperature: float, seed: int = 0
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """0.5 * mean squared error of the alpha-conv (one output map) on the task, and its gradients.

    The same layer as ``alphaconv_forward`` / ``alphaconv_backward`` (tests check it), written for this fixed
    input: the patches are extracted once, there is no dx (the input is data), and the mixing weights come from
    ``deepkit.alphaconv`` (``mixing_weights``, ``softmax_jvp``). Returns (loss, alpha (C_in,), dk, dc, db).
    """
    patches, (_, t) = _patches(seed), make_task(seed)
    alpha = ac.mixing_weights(c, temperature)  # (C_in, 1)
    y = np.einsum("rip,ip->ri", patches, k[0].reshape(k.shape[1], -1))  # (R, C_in): every x_i * k_i
    diff = y @ alpha[:, 0] + b[0] - t.ravel()  # z - t, in the order of the patches (n, Ho, Wo)
    g = diff / diff.size  # d loss / d z
    dalpha = (g @ y)[:, None]
    dk = (alpha[:, 0, None] * np.einsum("r,rip->ip", g, patches)).reshape(k.shape)
    dc = ac.softmax_jvp(alpha, dalpha) / temperature
    return 0.5 * float(np.mean(diff**2)), alpha[:, 0], dk, dc, np.array([g.sum()])


@lru_cache(maxsize=256)
def train(
    penalty: str = "none",
    lam: float = 0.05,
    temperature: float = 1.0,
    steps: int = 80,
    lr: float = 0.03,
    seed: int = 0,
) -> dict:
    """Gradient descent on the task. Returns {"alpha": (steps + 1, 4) history, "loss": (steps + 1,)}.

    Results are cached (treat them as read-only): moving a slider back is instant."""
    rng = np.random.default_rng(seed + 1)
    k = 0.1 * rng.normal(size=(1, 4, 3, 3))
    c = np.zeros((4, 1))
    b = np.zeros(1)
    pen = PENALTIES[penalty]
    alphas, losses = [], []
    for _ in range(steps + 1):
        loss, alpha, dk, dc, db = layer_grads(k, c, b, temperature, seed)
        alphas.append(alpha)
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


OBJECTIVE_LIMITS = (5e-4, 20.0)  # fixed: every setting's objective lies inside (so the frame never changes)


def _setup(fig) -> dict:
    """Three panels and their lines, built once; ``_update`` changes the data. The frame (axes, ticks, titles)
    depends only on the penalty's name: BlitExplorer saves it per penalty and redraws just the lines."""
    axes = fig.subplots(1, 3, gridspec_kw=dict(left=0.05, right=0.99, bottom=0.14, top=0.88, wspace=0.22))
    alpha = [[ax.plot([0, 1], [0, 0], color=f"C{i}")[0] for i in range(4)] for ax in axes[:2]]
    for ax in axes[:2]:
        ax.set_ylim(-0.02, 1.02)
        ax.set_yticks([0, 0.5, 1])
        ax.xaxis.set_major_locator(MaxNLocator(3))
    axes[1].set_yticklabels([])
    axes[0].set_xlabel("step", fontsize=9)
    objective = [axes[2].plot([0, 1], [1, 1], color=color)[0] for color in ("0.5", "tab:purple")]
    axes[2].set_yscale("log")
    axes[2].minorticks_off()
    axes[2].set_ylim(*OBJECTIVE_LIMITS)
    axes[2].yaxis.set_major_locator(LogLocator(numticks=4))
    axes[2].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # plain text: mathtext is slow
    axes[2].xaxis.set_major_locator(MaxNLocator(3))
    titles = [ax.set_title(" ", fontsize=9) for ax in axes]
    return dict(axes=axes, alpha=alpha, objective=objective, titles=titles, dynamic=[*sum(alpha, []), *objective])


def _update(st: dict, penalty: str, lam: float, temperature: float) -> str:
    runs = {"none": _unpenalized(temperature), penalty: _train(penalty, lam, temperature)}
    for lines, title, name in zip(st["alpha"], st["titles"], ("none", penalty)):
        run = runs[name]
        for i, line in enumerate(lines):
            line.set_data(np.arange(len(run["alpha"])), run["alpha"][:, i])
        title.set_text(f"alpha, penalty: {name}")
    for line, name in zip(st["objective"], ("none", penalty)):
        line.set_data(np.arange(len(runs[name]["loss"])), runs[name]["loss"])
    st["titles"][2].set_text(f"objective: none (grey), {penalty} (purple)")
    steps = len(runs["none"]["loss"]) - 1
    for ax in st["axes"]:
        ax.set_xlim(-0.05 * steps, 1.05 * steps)
    st["frame"] = (penalty, steps)
    same = np.abs(runs["none"]["alpha"] - runs[penalty]["alpha"]).max() < 1e-4
    final = runs[penalty]["alpha"][-1]
    return f"final alpha with {penalty}: [{', '.join(f'{a:.2f}' for a in final)}]" + (
        "  (the same as without a penalty, up to rounding)" if same and penalty != "none" else ""
    )


def explorer() -> BlitExplorer:
    """Penalty, its strength and the softmax temperature -> alpha trajectories with and without it.

    Every penalty is trained up front at the initial lambda and temperature (~0.1 s), so switching the
    penalty there only redraws; any other setting trains once (~20 ms per run) and is cached."""
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
    title = (
        "Alpha-conv: which penalty sparsifies alpha? (alpha_0 blue, alpha_1 orange, alpha_2 green, alpha_3 red; "
        "the target uses map 1, and a little of map 3)"
    )
    return BlitExplorer(controls, setup=_setup, update=_update, figsize=(11, 3.2), title=title)
