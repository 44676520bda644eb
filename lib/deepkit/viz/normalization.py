"""Batch norm explorer: a deep tanh MLP on the digits trained with plain SGD, without normalization, with
batch normalization or with layer normalization, for several batch sizes.

Each setting (normalization, batch size) is trained once, lazily, the first time it is shown, and cached, so
moving the step or layer controls only redraws. Panels: the histogram of every hidden layer's tanh outputs at
the chosen step (the chosen layer highlighted, its step-0 histogram in grey), the training loss of all three
settings at this batch size, and the validation accuracy in train mode (batch statistics) vs eval mode (running
statistics): the train/eval discrepancy that small batches cause for batch norm and that layer norm avoids.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from deepkit import data
from deepkit.activations import tanh_backward, tanh_forward
from deepkit.layers import affine_backward, affine_forward
from deepkit.losses import softmax_loss
from deepkit.norm import batchnorm_backward_alt, batchnorm_forward, layernorm_backward, layernorm_forward
from deepkit.validate import check_int, check_positive
from deepkit.viz.base import BlitExplorer, dropdown, int_slider

NORMS = {"none": "no normalization", "batch": "batch norm", "layer": "layer norm"}
BATCH_SIZES = (2, 4, 16, 64)
BINS = np.linspace(-1.0, 1.0, 41)
PERCENTILES = (2.5, 25, 50, 75, 97.5)
_COLORS = {"none": "tab:gray", "batch": "tab:blue", "layer": "tab:orange"}


@dataclass
class Run:
    """What one training run recorded. L hidden layers, K checkpoints (every ``every`` steps, step 0 included).

    losses: (steps,) mini-batch loss per SGD step; ckpt: (K,) steps of the checkpoints;
    hist: (K, L, len(BINS) - 1) histogram counts of the tanh outputs of each hidden layer on a fixed probe
    batch; pct: (K, L, 5) their PERCENTILES; acc_train / acc_eval: (K,) validation accuracy with the network
    in train mode (batch statistics over validation batches of the training batch size) and in eval mode.
    """

    norm: str
    batch_size: int
    losses: np.ndarray
    ckpt: np.ndarray
    hist: np.ndarray
    pct: np.ndarray
    acc_train: np.ndarray
    acc_eval: np.ndarray


class _Net:
    """affine -> [norm] -> tanh, ``depth`` times, then an affine classifier (all from deepkit)."""

    def __init__(self, dims: list[int], norm: str, init_std: float, rng: np.random.Generator) -> None:
        self.norm = norm
        self.w = [rng.normal(0.0, init_std, size=(a, b)) for a, b in zip(dims[:-1], dims[1:])]
        self.b = [np.zeros(b) for b in dims[1:]]
        self.gamma = [np.ones(b) for b in dims[1:-1]]
        self.beta = [np.zeros(b) for b in dims[1:-1]]
        self.bn = [{"mode": "train", "momentum": 0.1} for _ in dims[1:-1]]

    def forward(self, x: np.ndarray, mode: str = "train", update: bool = True):
        """Scores (N, classes), caches for backward, and the hidden activations (list of (N, width))."""
        caches, acts, h = [], [], x
        for i in range(len(self.gamma)):
            z, c_aff = affine_forward(h, self.w[i], self.b[i])
            c_norm = None
            if self.norm == "batch":
                p = self.bn[i] if update else dict(self.bn[i])  # a copy keeps the running stats unchanged
                p["mode"] = mode
                z, c_norm = batchnorm_forward(z, self.gamma[i], self.beta[i], p)
            elif self.norm == "layer":
                z, c_norm = layernorm_forward(z, self.gamma[i], self.beta[i])
            h, c_act = tanh_forward(z)
            caches.append((c_aff, c_norm, c_act))
            acts.append(h)
        scores, c_out = affine_forward(h, self.w[-1], self.b[-1])
        return scores, caches + [c_out], acts

    def sgd_step(self, x: np.ndarray, y: np.ndarray, lr: float) -> float:
        scores, caches, _ = self.forward(x)
        loss, d = softmax_loss(scores, y)
        d, dw, db = affine_backward(d, caches[-1])
        self.w[-1] -= lr * dw
        self.b[-1] -= lr * db
        backward = {"batch": batchnorm_backward_alt, "layer": layernorm_backward}.get(self.norm)
        for i in reversed(range(len(self.gamma))):
            c_aff, c_norm, c_act = caches[i]
            d = tanh_backward(d, c_act)
            if backward is not None:
                d, dg, dbeta = backward(d, c_norm)
                self.gamma[i] -= lr * dg
                self.beta[i] -= lr * dbeta
            d, dw, db = affine_backward(d, c_aff)
            self.w[i] -= lr * dw
            self.b[i] -= lr * db
        return loss

    def accuracy(self, x: np.ndarray, y: np.ndarray, mode: str, batch_size: int) -> float:
        """Accuracy; in train mode the examples go through in batches of ``batch_size`` (batch statistics)."""
        if mode == "eval" or self.norm != "batch":
            return float(np.mean(self.forward(x, "eval", update=False)[0].argmax(1) == y))
        n = len(y) - len(y) % batch_size
        hits = [
            self.forward(x[s : s + batch_size], "train", update=False)[0].argmax(1) == y[s : s + batch_size]
            for s in range(0, n, batch_size)
        ]
        return float(np.mean(np.concatenate(hits)))


@lru_cache(maxsize=4)
def _digits(seed: int) -> data.Split:
    return data.load_digits(seed=seed)


def train_run(
    norm: str,
    batch_size: int,
    steps: int = 60,
    every: int = 10,
    depth: int = 6,
    width: int = 48,
    lr: float = 0.2,
    init_std: float = 0.05,
    seed: int = 0,
) -> Run:
    """Train the deep MLP for ``steps`` SGD steps on mini-batches of ``batch_size`` digits and record a Run.

    norm: "none", "batch" or "layer"; init_std: weight scale (deliberately small, so without normalization the
    signal shrinks layer after layer). Results are cached per argument tuple (treat the Run as read-only).
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {sorted(NORMS)}, got {norm!r}")
    return _train(
        norm,
        check_int(batch_size, "batch_size", minimum=2),
        check_int(steps, "steps", minimum=1),
        check_int(every, "every", minimum=1),
        check_int(depth, "depth", minimum=1),
        check_int(width, "width", minimum=1),
        check_positive(lr, "lr"),
        check_positive(init_std, "init_std"),
        check_int(seed, "seed", minimum=0),
    )


@lru_cache(maxsize=64)
def _train(
    norm: str, batch_size: int, steps: int, every: int, depth: int, width: int, lr: float, init_std: float, seed: int
) -> Run:
    split = _digits(seed)
    rng = np.random.default_rng(seed)
    net = _Net([split.X_train.shape[1]] + [width] * depth + [split.num_classes], norm, init_std, rng)
    probe = split.X_train[:200]
    x_val, y_val = split.X_val[:64], split.y_val[:64]
    losses, ckpt, hist, pct, acc_t, acc_e = [], [], [], [], [], []

    def record(step: int) -> None:
        acts = net.forward(probe, "train", update=False)[2]
        ckpt.append(step)
        hist.append([np.histogram(a, BINS)[0] for a in acts])
        pct.append([np.percentile(a, PERCENTILES) for a in acts])
        acc_t.append(net.accuracy(x_val, y_val, "train", batch_size))
        acc_e.append(net.accuracy(x_val, y_val, "eval", batch_size))

    record(0)
    order = np.concatenate(
        [rng.permutation(len(split.y_train)) for _ in range(steps * batch_size // len(split.y_train) + 1)]
    )
    for step in range(steps):
        idx = order[step * batch_size : (step + 1) * batch_size]
        losses.append(net.sgd_step(split.X_train[idx], split.y_train[idx], lr))
        if (step + 1) % every == 0:
            record(step + 1)
    return Run(
        norm,
        batch_size,
        np.array(losses),
        np.array(ckpt),
        np.array(hist, dtype=float),
        np.array(pct),
        np.array(acc_t),
        np.array(acc_e),
    )


def explorer(steps: int = 60, depth: int = 6, precompute: bool = True) -> BlitExplorer:
    """Explorer over (normalization, batch size, layer, step); runs are trained once and cached.

    precompute: train every setting up front (~2 s in all, less for runs already cached), so that every
    redraw is only a plot; with False a setting is trained on first use (0.1-0.5 s for a new batch size).
    """

    def run(norm: str, batch_size: int) -> Run:
        return train_run(norm, batch_size, steps=steps, depth=depth)

    if precompute:
        for norm in NORMS:
            for bs in BATCH_SIZES:
                run(norm, bs)

    def setup(fig: Figure) -> dict:
        """The three panels and their artists, built once; ``update`` changes their data."""
        fig.set_layout_engine("none")  # fixed margins: constrained layout would double the redraw time
        ax1, ax2, ax3 = fig.subplots(1, 3, gridspec_kw=dict(left=0.04, right=0.995, bottom=0.15, top=0.9, wspace=0.18))
        flat = np.zeros(len(BINS) - 1)
        step0 = ax1.stairs(flat + 1, BINS, baseline=1, fill=True, color="0.85")  # the chosen layer at step 0
        ridges = [ax1.stairs(flat + i + 1, BINS, baseline=i + 1) for i in range(depth)]
        ax1.set(xlim=(-1, 1), ylim=(0.9, depth + 1), xticks=[-1, 0, 1], yticks=[])  # layers: named in the title
        # no legend and few labels: every text artist is redrawn each time, and text is most of a redraw
        losses = {other: ax2.plot([0], [0], color=_COLORS[other])[0] for other in NORMS}
        (acc_train,) = ax3.plot([0], [0], "-")
        (acc_eval,) = ax3.plot([0], [0], "--", color="k")
        marks = [ax.axvline(0, color="tab:red", lw=0.8, ls=":") for ax in (ax2, ax3)]
        ax3.set(ylim=(0, 1.02), yticks=[0, 0.5, 1])
        ax3.set_title("val. accuracy: train mode (solid), eval (dashed)", fontsize=9)
        for ax in (ax2, ax3):
            ax.xaxis.set_major_locator(MaxNLocator(3))  # few tick labels: text dominates a redraw
            ax.set_xlim(-0.02 * steps, steps * 1.02 + 1)
        ax2.set_xlabel("SGD step", fontsize=9)
        ax2.yaxis.set_major_locator(MaxNLocator(3))
        titles = [ax.set_title(" ", fontsize=9) for ax in (ax1, ax2)]
        spines = [spine for ax in (ax1, ax2, ax3) for spine in ax.spines.values()]  # over the lines, as in a full draw
        dynamic = [step0, *ridges, *losses.values(), acc_train, acc_eval, *marks, *spines, titles[0]]
        return dict(
            axes=(ax1, ax2, ax3),
            step0=step0,
            ridges=ridges,
            losses=losses,
            acc=(acc_train, acc_eval),
            marks=marks,
            titles=titles,
            dynamic=dynamic,  # redrawn on the saved frame (BlitExplorer); the frame changes with the batch size
        )

    def update(st: dict, norm: str, batch_size: int, layer: int, step: int) -> str:
        r = run(norm, batch_size)
        k = int(np.argmin(np.abs(r.ckpt - step)))
        color = _COLORS[norm]
        for i, ridge in enumerate(st["ridges"]):  # ridge plot: one histogram per layer, layer 1 at the bottom
            h = r.hist[k, i] / max(r.hist[k, i].max(), 1.0) * 0.9
            ridge.set_data(h + i + 1, BINS, baseline=i + 1)
            ridge.set_color(color if i == layer - 1 else "0.35")
            ridge.set_linewidth(1.6 if i == layer - 1 else 0.7)
        h0 = r.hist[0, layer - 1] / max(r.hist[0, layer - 1].max(), 1.0) * 0.9
        st["step0"].set_data(h0 + layer, BINS, baseline=layer)
        st["titles"][0].set_text(f"tanh outputs, layer 1 (bottom) to {depth}, step {r.ckpt[k]}; grey: step 0")
        lo, hi = np.inf, -np.inf
        for other, line in st["losses"].items():
            o = run(other, batch_size)
            line.set_data(np.arange(1, len(o.losses) + 1), o.losses)
            line.set_linewidth(1.4 if other == norm else 0.7)
            line.set_alpha(1.0 if other == norm else 0.6)
            lo, hi = min(lo, float(np.min(o.losses))), max(hi, float(np.max(o.losses)))
        pad = 0.05 * (hi - lo) or 0.1
        st["axes"][1].set_ylim(lo - pad, hi + pad)
        st["titles"][1].set_text(f"loss, batch {batch_size}: none grey, BN blue, LN orange")
        st["frame"] = batch_size  # the loss axis' limits and title: everything else of the frame is fixed
        acc_train, acc_eval = st["acc"]
        acc_train.set_data(r.ckpt, r.acc_train)
        acc_train.set_color(color)
        acc_eval.set_data(r.ckpt, r.acc_eval)
        for mark in st["marks"]:
            mark.set_xdata([r.ckpt[k], r.ckpt[k]])
        lo, hi = r.pct[k, layer - 1, 1], r.pct[k, layer - 1, 3]
        gap = r.acc_train[k] - r.acc_eval[k]
        return (
            f"{NORMS[norm]}, batch {batch_size}, step {r.ckpt[k]}: layer {layer} middle half in "
            f"[{lo:.3f}, {hi:.3f}]; val accuracy train mode {r.acc_train[k]:.2f} vs eval mode "
            f"{r.acc_eval[k]:.2f} (gap {gap:+.2f})"
        )

    controls = {
        "norm": dropdown([(v, k) for k, v in NORMS.items()], "batch", "normalization"),
        "batch_size": dropdown(list(BATCH_SIZES), 16, "batch size"),
        "layer": int_slider(depth, 1, depth, "layer"),
        "step": int_slider(steps, 0, steps, "step", step=10),
    }
    return BlitExplorer(
        controls,
        setup=setup,
        update=update,
        figsize=(12, 3.2),
        title="A 6-layer tanh MLP on digits: no normalization, batch norm, layer norm",
    )
