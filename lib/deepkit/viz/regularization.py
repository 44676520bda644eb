"""Explorers and experiments of topic 05 (regularization).

* ``explorer()``: the regularization playground, a tiny MLP in NumPy trained with L2 and dropout, its 2-D decision
  boundary under an L2 and a dropout slider; plus the "L2 on weights / L2 on embeddings / dropout" comparison tables.
* ``masks_explorer()``: what dropout, DropConnect, SpatialDropout and DropBlock actually drop. Four sample masks
  (dark = dropped) and the target drop rate ``1 - keep_prob`` next to the rate measured on a large sample
  (N=32 x C=16 maps of 16 x 16) and, for DropBlock, the exact expectation ``mean(1 - (1 - gamma)**k(i, j))``.

The training loop is assembled from the reference deepkit: ``layers`` and ``losses`` (topic 01), ``optim.adam_step``
(topic 07), and this topic's ``regularizers.l2_penalty`` and ``dropout.dropout_forward/backward``, so the
lecture's pictures come from the same code the exercises ask for. Everything is full-batch, seeded and small:
one 2-D model trains in ~0.1 s, the whole table grid in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import ipywidgets as W
import numpy as np
from threadpoolctl import threadpool_limits

from deepkit import data, layers, losses, optim
from deepkit import dropout as D
from deepkit.dropout import dropout_backward, dropout_forward
from deepkit.regularizers import l2_penalty, lp_penalty
from deepkit.viz.base import Explorer, dropdown, int_slider, slider

L2_GRID = (0.0, 1e-3, 1e-2, 3e-2, 1e-1)
DROP_GRID = (0.0, 0.3, 0.5)


# ------------------------------------------------------------------------------------------- tiny MLP
@dataclass
class MLP:
    """Weights Ws[i] (fan_in, fan_out) and biases bs[i]; layer 0 is linear (an embedding) if linear_first.

    Built from deepkit's layers (topic 01: affine, ReLU, softmax) and this topic's dropout.
    """

    Ws: list
    bs: list
    linear_first: bool = False

    def forward(self, X: np.ndarray, p_drop: float = 0.0, mode: str = "eval", rng: np.random.Generator | None = None):
        """Scores (N, K) and the caches for ``backward``. Dropout after every hidden layer in train mode."""
        rng = np.random.default_rng(0) if rng is None else rng
        h, caches = X, []
        last = len(self.Ws) - 1
        for i, (Wm, b) in enumerate(zip(self.Ws, self.bs)):
            h, a_cache = layers.affine_forward(h, Wm, b)
            if i == last:
                caches.append((a_cache, None, None))
                return h, caches
            r_cache = None
            if not (i == 0 and self.linear_first):
                h, r_cache = layers.relu_forward(h)
            h, d_cache = dropout_forward(h, p_drop, mode, rng)
            caches.append((a_cache, r_cache, d_cache))
        raise AssertionError("unreachable")

    def backward(self, dscores: np.ndarray, caches: list) -> tuple[list, list]:
        """Gradients (dWs, dbs) of the scores' upstream gradient ``dscores`` (N, K)."""
        dWs, dbs = [None] * len(self.Ws), [None] * len(self.Ws)
        dh = dscores
        for i in reversed(range(len(self.Ws))):
            a_cache, r_cache, d_cache = caches[i]
            if d_cache is not None:
                dh = dropout_backward(dh, d_cache)
            if r_cache is not None:
                dh = layers.relu_backward(dh, r_cache)
            dh, dWs[i], dbs[i] = layers.affine_backward(dh, a_cache)
        return dWs, dbs

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return losses.softmax(self.forward(X)[0])

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.forward(X)[0].argmax(axis=1) == y))


def train_mlp(
    X: np.ndarray,
    y: np.ndarray,
    hidden=(32, 32),
    lam_w: float = 0.0,
    lam_in: float = 0.0,
    p_drop: float = 0.0,
    steps: int = 300,
    lr: float = 0.01,
    seed: int = 0,
    linear_first: bool = False,
    bias_first: bool = True,
) -> MLP:
    """Full-batch Adam on mean cross-entropy + l2_penalty(first layer, lam_in) + l2_penalty(others, lam_w).

    X: (N, D) floats; y: (N,) int labels. hidden: widths of the hidden layers. The first layer is the
    "input/embedding" layer (its own penalty lam_in); with ``linear_first`` it has no ReLU (averaged word
    embeddings of a bag-of-words input), and ``bias_first=False`` drops its bias. Biases are not penalised.
    Returns the trained MLP.
    """
    with threadpool_limits(limits=1, user_api="blas"):  # tiny matrices: threads only add overhead
        return _train(X, y, hidden, lam_w, lam_in, p_drop, steps, lr, seed, linear_first, bias_first)


def _train(X, y, hidden, lam_w, lam_in, p_drop, steps, lr, seed, linear_first, bias_first) -> MLP:
    rng = np.random.default_rng(seed)
    k = int(y.max()) + 1
    sizes = (X.shape[1], *hidden, k)
    net = MLP(
        [rng.normal(size=(a, b)) * np.sqrt(2.0 / a) for a, b in zip(sizes[:-1], sizes[1:])],
        [np.zeros(b) for b in sizes[1:]],
        linear_first,
    )
    w_states, b_states = [{} for _ in net.Ws], [{} for _ in net.bs]
    for _ in range(steps):
        scores, caches = net.forward(X, p_drop, "train", rng)
        dWs, dbs = net.backward(losses.softmax_loss(scores, y)[1], caches)
        for i in range(len(net.Ws)):
            dw = dWs[i] + l2_penalty(net.Ws[i], lam_in if i == 0 else lam_w)[1]
            net.Ws[i], w_states[i] = optim.adam_step(net.Ws[i], dw, w_states[i], lr=lr)
            if i > 0 or bias_first:
                net.bs[i], b_states[i] = optim.adam_step(net.bs[i], dbs[i], b_states[i], lr=lr)
    return net


# -------------------------------------------------------------------------------------------- 2-D widget
@lru_cache(maxsize=1)
def moons_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The playground's data: 50 noisy training moons and 1,000 test moons (X_train, y_train, X_test, y_test)."""
    Xtr, ytr = data.make_moons(n=50, noise=0.3, seed=1)
    Xte, yte = data.make_moons(n=1000, noise=0.3, seed=2)
    return Xtr, ytr, Xte, yte


@cache
def trained_model(lam: float, p_drop: float) -> MLP:
    """The 2-D model for one (L2, dropout) setting, trained once and cached (0.1-0.4 s)."""
    Xtr, ytr, _, _ = moons_data()
    return train_mlp(Xtr, ytr, hidden=(64, 64), lam_w=lam, lam_in=lam, p_drop=p_drop, steps=500, lr=0.02)


GRID_EXTENT = (-1.6, 2.6, -1.4, 1.9)  # x0, x1, y0, y1


@cache
def boundary_probs(lam: float, p_drop: float, n: int = 80) -> np.ndarray:
    """P(class 1) of the cached model on an n x n grid over GRID_EXTENT (cached too)."""
    x0, x1, y0, y1 = GRID_EXTENT
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    with threadpool_limits(limits=1, user_api="blas"):
        return trained_model(lam, p_drop).predict_proba(np.c_[gx.ravel(), gy.ravel()])[:, 1].reshape(n, n)


@cache
def boundary_line(lam: float, p_drop: float) -> tuple[np.ndarray, ...]:
    """The 0.5 level line(s) of ``boundary_probs`` as (k, 2) vertex arrays (contourpy, cached)."""
    import contourpy

    prob = boundary_probs(lam, p_drop)
    x0, x1, y0, y1 = GRID_EXTENT
    gen = contourpy.contour_generator(np.linspace(x0, x1, prob.shape[1]), np.linspace(y0, y1, prob.shape[0]), prob)
    return tuple(gen.lines(0.5))


def _boundary_setup(fig) -> dict:
    """The playground's axes and artists, built once (``_boundary_update`` changes their data)."""
    from matplotlib.collections import LineCollection

    ax = fig.subplots()
    image = ax.imshow(
        np.zeros((2, 2)),
        origin="lower",
        extent=GRID_EXTENT,
        cmap="RdBu_r",
        vmin=0,
        vmax=1,
        alpha=0.75,
        aspect="auto",
        interpolation="bilinear",
    )
    line = ax.add_collection(LineCollection([], colors="k", linewidths=1.5))
    points = ax.scatter(*moons_data()[0].T, c=moons_data()[1], cmap="RdBu_r", vmin=0, vmax=1, edgecolors="k", s=18)
    points.set_linewidths(0.6)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_xlim(GRID_EXTENT[:2]), ax.set_ylim(GRID_EXTENT[2:])
    return dict(image=image, line=line, points=points, title=ax.set_title(" ", fontsize=10))


def _boundary_update(st: dict, lam: float = 0.0, p_drop: float = 0.0, show_test: bool = False) -> str:
    Xtr, ytr, Xte, yte = moons_data()
    lam, p_drop = float(lam), float(p_drop)
    net = trained_model(lam, p_drop)
    st["image"].set_data(boundary_probs(lam, p_drop))
    st["line"].set_segments(boundary_line(lam, p_drop))
    X, y = (Xte[:300], yte[:300]) if show_test else (Xtr, ytr)
    st["points"].set_offsets(X)
    st["points"].set_array(y.astype(float))
    w_norm = np.sqrt(sum(float(np.sum(Wm * Wm)) for Wm in net.Ws))
    st["title"].set_text(
        f"L2 {lam:g}, dropout {p_drop:g}: train acc {net.accuracy(Xtr, ytr):.2f}, test acc {net.accuracy(Xte, yte):.3f}"
    )
    return f"||W|| = {w_norm:.1f} (L2 shrinks the weights: a smoother boundary)"


def render_boundary(fig, lam: float = 0.0, p_drop: float = 0.0, show_test: bool = False) -> str:
    """The playground's picture drawn into ``fig`` from scratch (for scripts; the widget updates its artists)."""
    return _boundary_update(_boundary_setup(fig), lam, p_drop, show_test)


def explorer(lam: float = 0.0, p_drop: float = 0.0, precompute: bool = True) -> Explorer:
    """Decision boundary of a 2-64-64-2 ReLU MLP on 50 noisy moons; sliders: L2 strength, dropout rate.

    Each setting is trained once and cached; with ``precompute`` the whole grid (15 models, a few seconds)
    is trained up front so that every redraw is only a plot (< 150 ms). Without it, the first visit of a
    setting also trains it (0.1-0.4 s).
    """
    if precompute:
        for lam_ in L2_GRID:
            for p_ in DROP_GRID:
                boundary_line(lam_, p_)
    controls = {
        "lam": W.SelectionSlider(
            options=L2_GRID,
            value=lam,
            description="L2 (weight decay)",
            continuous_update=False,
            style={"description_width": "initial"},
        ),
        "p_drop": W.SelectionSlider(
            options=DROP_GRID,
            value=p_drop,
            description="dropout rate",
            continuous_update=False,
            style={"description_width": "initial"},
        ),
        "show_test": W.Checkbox(value=False, description="show test points"),
    }
    return Explorer(
        controls, setup=_boundary_setup, update=_boundary_update, figsize=(5.6, 3.8), title="Regularization playground"
    )


# ------------------------------------------------------------------------------------ comparison tables
@dataclass
class TextTask:
    """A synthetic bag-of-words classification task (a stand-in for the slides' text experiments).

    X*: (N, V) word frequencies (each row sums to 1: averaging one-hot words, so ``X @ E`` is the mean word
    embedding of a document); y*: (N,) labels in [0, K).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def text_task(
    n_train: int = 300,
    n_test: int = 3000,
    vocab: int = 400,
    classes: int = 4,
    length: int = 25,
    keywords: int = 20,
    signal: float = 0.2,
    seed: int = 0,
) -> TextTask:
    """Documents of ``length`` words: with probability ``signal`` a word is one of its class's ``keywords``
    (shared with a second, confusable class for half of them), otherwise a Zipf-distributed background word.
    Few training documents and many words: an unregularized model memorises rare words and overfits."""
    rng = np.random.default_rng(seed)
    background = 1.0 / np.arange(1, vocab + 1)
    background /= background.sum()
    perm = rng.permutation(vocab)
    kw = [perm[c * keywords // 2 : c * keywords // 2 + keywords] for c in range(classes)]  # half overlap

    def sample(n):
        y = rng.integers(0, classes, size=n)
        X = np.zeros((n, vocab))
        for i, c in enumerate(y):
            is_kw = rng.random(length) < signal
            words = np.where(is_kw, rng.choice(kw[c], size=length), rng.choice(vocab, size=length, p=background))
            np.add.at(X[i], words, 1.0 / length)
        return X, y

    Xtr, ytr = sample(n_train)
    Xte, yte = sample(n_test)
    return TextTask(Xtr, ytr, Xte, yte)


def text_accuracy(
    task: TextTask,
    lam_w: float = 0.0,
    lam_embed: float = 0.0,
    p_drop: float = 0.0,
    seeds: tuple = (0, 1),
    steps: int = 150,
) -> float:
    """Test accuracy (%) of embedding(16, linear) -> ReLU(32) -> softmax, averaged over ``seeds``."""
    accs = [
        train_mlp(
            task.X_train,
            task.y_train,
            hidden=(16, 32),
            lam_w=lam_w,
            lam_in=lam_embed,
            p_drop=p_drop,
            steps=steps,
            lr=0.02,
            seed=s,
            linear_first=True,
            bias_first=False,
        ).accuracy(task.X_test, task.y_test)
        for s in seeds
    ]
    return 100.0 * float(np.mean(accs))


def comparison_tables(
    task: TextTask | None = None,
    lam_ws=(0.0, 1e-3, 1e-2, 3e-2),
    lam_embeds=(0.0, 1e-3, 1e-2, 3e-2),
    drops=(0.0, 0.3, 0.6, 0.8),
    seeds: tuple = (0,),
) -> dict:
    """The slides' grids at small scale. Returns {"weights_x_embed": (rows lam_embed, cols lam_w) array,
    "dropout_x_weights": (rows p, cols lam_w), "dropout_x_embed": (rows p, cols lam_embed)} of test accuracies
    (each the mean over ``seeds``; the defaults train 34 distinct settings once, ~10 s of CPU)."""
    task = text_task() if task is None else task
    done: dict = {}  # the grids share cells (e.g. p = 0): train each setting once

    def acc(lw, le, p=0.0):
        if (lw, le, p) not in done:
            done[lw, le, p] = text_accuracy(task, lw, le, p, seeds=seeds)
        return done[lw, le, p]

    we = np.array([[acc(lw, le) for lw in lam_ws] for le in lam_embeds])
    dw = np.array([[acc(lw, 0.0, p) for lw in lam_ws[1:]] for p in drops])
    de = np.array([[acc(0.0, le, p) for le in lam_embeds[1:]] for p in drops])
    return {
        "weights_x_embed": we,
        "dropout_x_weights": dw,
        "dropout_x_embed": de,
        "lam_ws": lam_ws,
        "lam_embeds": lam_embeds,
        "drops": drops,
    }


def incremental_penalty(
    switch_steps=(0, 50, 100, None),
    lam: float = 1e-2,
    p: float = 2.0,
    steps: int = 200,
    every: int = 5,
    task: TextTask | None = None,
    seed: int = 0,
) -> dict:
    """The source notes' "incrementally penalizing" experiment on the text task: the model of the tables
    (embedding 16, linear -> ReLU 32 -> softmax; full-batch Adam, lr 0.02) trained for ``steps`` steps, with the
    penalty ``regularizers.lp_penalty(W, lam, p)`` on every weight matrix switched on at step ``s`` for each ``s``
    of ``switch_steps`` (None: never). One network is trained up to the earliest switch and copied at each
    switch, so the runs share their history before it.

    Returns {"steps": (K,) checkpoints, s: {"train": (K,), "test": (K,) accuracies in %, "W": final weights}}.
    """
    import copy

    task = text_task() if task is None else task
    X, y = task.X_train, task.y_train
    rng = np.random.default_rng(seed)
    sizes = (X.shape[1], 16, 32, int(y.max()) + 1)
    net = MLP(
        [rng.normal(size=(a, b)) * np.sqrt(2.0 / a) for a, b in zip(sizes[:-1], sizes[1:])],
        [np.zeros(b) for b in sizes[1:]],
        linear_first=True,
    )
    state = [{} for _ in range(2 * len(net.Ws))]
    checkpoints = np.arange(0, steps + 1, every)
    runs: dict = {}

    def step(net, state, penalized):
        scores, caches = net.forward(X, 0.0, "train", rng)
        dWs, dbs = net.backward(losses.softmax_loss(scores, y)[1], caches)
        for i in range(len(net.Ws)):
            dw = dWs[i] + (lp_penalty(net.Ws[i], lam, p)[1] if penalized else 0.0)
            net.Ws[i], state[2 * i] = optim.adam_step(net.Ws[i], dw, state[2 * i], lr=0.02)
            if i > 0:  # the embedding has no bias
                net.bs[i], state[2 * i + 1] = optim.adam_step(net.bs[i], dbs[i], state[2 * i + 1], lr=0.02)

    def run(net, state, start, switch):
        train, test = [], []
        for t in range(start, steps + 1):
            if t % every == 0:
                train.append(100 * net.accuracy(X, y))
                test.append(100 * net.accuracy(task.X_test, task.y_test))
            if t < steps:
                step(net, state, switch is not None and t >= switch)
        return {"train": np.array(train), "test": np.array(test), "W": [w.copy() for w in net.Ws]}

    with threadpool_limits(limits=1, user_api="blas"):
        shared = {"train": [], "test": []}
        order = sorted(switch_steps, key=lambda s: steps + 1 if s is None else s)
        t = 0
        for switch in order:
            end = steps if switch is None else switch
            while t < end:  # the common history up to this switch (unpenalized)
                if t % every == 0:
                    shared["train"].append(100 * net.accuracy(X, y))
                    shared["test"].append(100 * net.accuracy(task.X_test, task.y_test))
                step(net, state, False)
                t += 1
            rest = run(copy.deepcopy(net), copy.deepcopy(state), t, switch)
            runs[switch] = {
                "train": np.r_[shared["train"], rest["train"]],
                "test": np.r_[shared["test"], rest["test"]],
                "W": rest["W"],
            }
    return {"steps": checkpoints, **runs}


def markdown_tables(t: dict) -> str:
    """The three grids of ``comparison_tables`` as Markdown (test accuracy %, best cell in bold)."""

    def table(arr, rows, cols, rname, cname):
        best = arr.max()
        head = f"| {rname} \\ {cname} | " + " | ".join(f"{c:g}" for c in cols) + " |"
        sep = "|" + "---|" * (len(cols) + 1)
        body = [
            "| " + f"{r:g} | " + " | ".join((f"**{v:.1f}**" if v == best else f"{v:.1f}") for v in row) + " |"
            for r, row in zip(rows, arr)
        ]
        return "\n".join([head, sep, *body])

    return "\n\n".join(
        [
            "**L2 on embeddings (rows) x L2 on weights (columns)**\n\n"
            + table(t["weights_x_embed"], t["lam_embeds"], t["lam_ws"], "λ_embed", "λ_w"),
            "**Dropout rate (rows) x L2 on weights (columns)**\n\n"
            + table(t["dropout_x_weights"], t["drops"], t["lam_ws"][1:], "p", "λ_w"),
            "**Dropout rate (rows) x L2 on embeddings (columns)**\n\n"
            + table(t["dropout_x_embed"], t["drops"], t["lam_embeds"][1:], "p", "λ_embed"),
        ]
    )


# ------------------------------------------------------------------------------------------- mask viewer
KINDS = ("dropout", "DropConnect", "SpatialDropout", "DropBlock")
SIZE = 16  # feature maps / weight matrices are SIZE x SIZE
SAMPLE = (32, 16)  # (N, C) for the measured rate


def sample_masks(kind: str, keep_prob: float, block_size: int, seed: int = 0) -> np.ndarray:
    """Keep masks (1 keep, 0 drop) of shape (N, C, SIZE, SIZE) for ``kind`` at ``keep_prob``.

    For DropConnect a "map" is a SIZE x SIZE weight matrix (its mask is read off the layer's output on an
    identity input); the other kinds mask an all-ones activation tensor and read the mask from the output.
    """
    rng = np.random.default_rng(seed)
    p = 1.0 - keep_prob
    n, c = SAMPLE
    ones = np.ones((n, c, SIZE, SIZE))
    if kind == "dropout":
        out = D.dropout_forward(ones, p, "train", rng)[0]
    elif kind == "SpatialDropout":
        out = D.spatial_dropout_forward(ones, p, "train", rng)[0]
    elif kind == "DropBlock":
        return D.dropblock_mask(ones.shape, keep_prob, block_size, rng)
    elif kind == "DropConnect":  # n * c weight matrices side by side: one (SIZE, SIZE * n * c) layer
        out = D.dropconnect_forward(
            np.eye(SIZE), np.ones((SIZE, SIZE * n * c)), np.zeros(SIZE * n * c), p, "train", rng
        )[0]
        out = out.reshape(SIZE, n, c, SIZE).transpose(1, 2, 0, 3)
    else:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return (out != 0).astype(np.float64)


def _montage(maps: np.ndarray, cols: int = 4) -> np.ndarray:
    """(k, S, S) maps -> one image with a 1-pixel mid-grey gap between them."""
    k, s = maps.shape[0], maps.shape[1]
    rows = -(-k // cols)
    img = np.full((rows * (s + 1) - 1, cols * (s + 1) - 1), 0.5)
    for i in range(k):
        r, c = divmod(i, cols)
        img[r * (s + 1) : r * (s + 1) + s, c * (s + 1) : c * (s + 1) + s] = maps[i]
    return img


@lru_cache(maxsize=32)
def _cached_masks(kind: str, keep_prob: float, block_size: int, seed: int) -> np.ndarray:
    """sample_masks, cached (read-only): moving a control back to a value redraws without resampling."""
    masks = sample_masks(kind, keep_prob, block_size, seed)
    masks.flags.writeable = False
    return masks


def _masks_setup(fig) -> dict:
    """The mask montage and the rate bars, built once (``_masks_update`` changes their data)."""
    ax_img, ax_bar = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    image = ax_img.imshow(_montage(np.zeros((8, SIZE, SIZE))), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax_img.set_axis_off()
    bars = ax_bar.bar([0, 1, 2], [0.0, 0.0, 0.0], color=["0.6", "tab:orange", "tab:blue"])
    values = [ax_bar.text(i, 0.0, "", ha="center", va="bottom", fontsize=8) for i in range(3)]
    ax_bar.set_xlim(-0.6, 2.6)
    ax_bar.set_xticks([0, 1, 2])
    ax_bar.set_title(f"drop rate over {SAMPLE[0]} x {SAMPLE[1]} maps", fontsize=9)
    ax_bar.tick_params(labelsize=8)
    return dict(image=image, title=ax_img.set_title(" ", fontsize=9), ax_bar=ax_bar, bars=bars, values=values)


def _masks_update(st: dict, kind: str = "DropBlock", keep_prob: float = 0.8, block_size: int = 5, seed: int = 0) -> str:
    masks = _cached_masks(kind, float(keep_prob), int(block_size), int(seed))
    st["image"].set_data(_montage(masks[0, :8]))
    what = "8 weight matrices (16 x 16)" if kind == "DropConnect" else "8 channels of one sample (16 x 16)"
    st["title"].set_text(f"{kind}: {what}, black = dropped")
    target = 1.0 - keep_prob
    measured = float(1.0 - masks.mean())
    names, vals = ["target", "measured"], [target, measured]
    if kind == "DropBlock":
        names.insert(1, "exact")
        vals.insert(1, D.expected_dropblock_rate(keep_prob, block_size, SIZE))
    colors = ["0.6", "tab:orange", "tab:blue"] if kind == "DropBlock" else ["0.6", "tab:blue"]
    for i, (bar, text) in enumerate(zip(st["bars"], st["values"])):
        shown = i < len(vals)
        bar.set_visible(shown)
        text.set_visible(shown)
        if shown:
            bar.set_height(vals[i])
            bar.set_color(colors[i])
            text.set_position((i, vals[i]))
            text.set_text(f"{vals[i]:.3f}")
    st["ax_bar"].set_xticks(range(len(vals)), names)
    st["ax_bar"].set_xlim(-0.6, len(vals) - 0.4)
    st["ax_bar"].set_ylim(0, max(0.05, 1.2 * max(vals)))
    note = f"{kind}: measured drop rate {measured:.3f} vs target 1 - keep_prob = {target:.3f}"
    if kind == "DropBlock":
        note += (
            f"; gamma = {D.dropblock_gamma(keep_prob, block_size, SIZE):.4f}, exact expectation "
            f"{vals[1]:.3f} (overlapping blocks drop fewer units than gamma's derivation assumes)"
        )
    if kind == "SpatialDropout":
        draws = SAMPLE[0] * SAMPLE[1]
        note += f" (only {draws} independent channel draws: expect +-{2 * np.sqrt(target * keep_prob / draws):.3f})"
    return note


def render_masks(fig, kind: str = "DropBlock", keep_prob: float = 0.8, block_size: int = 5, seed: int = 0) -> str:
    """The mask viewer's picture drawn into ``fig`` from scratch (for scripts; the widget updates its artists)."""
    return _masks_update(_masks_setup(fig), kind, keep_prob, block_size, seed)


def masks_explorer(kind: str = "DropBlock", keep_prob: float = 0.8, block_size: int = 5) -> Explorer:
    """Mask viewer: kind, keep_prob and block_size (DropBlock) sliders, a seed to resample."""
    controls = {
        "kind": dropdown(KINDS, kind, "layer"),
        "keep_prob": slider(keep_prob, 0.5, 1.0, 0.05, "keep_prob", ".2f"),
        "block_size": int_slider(block_size, 1, SIZE, "block_size"),
        "seed": W.IntText(value=0, description="seed", layout=W.Layout(width="140px")),
    }
    return Explorer(controls, setup=_masks_setup, update=_masks_update, figsize=(8, 3.0), title="What gets dropped")
