# %% [markdown]
# # Exercise 09: training practice (the capstone)
# You now own a whole deep-learning library: layers, losses, initialisation, batch normalization, dropout and
# optimizers. This exercise trains with it, the way a practitioner does: preprocess the data with **training**
# statistics, write the training loop (`Solver`), and run the *babysitting checklist* before spending compute:
#
# 1. the initial loss is about $\log C$ (and regularization makes it larger);
# 2. the model can overfit a tiny subset (loss $\to 0$, training accuracy 100%);
# 3. a learning-rate range test on a log grid; then a coarse-to-fine random search;
# 4. while training: the loss curve, the train/validation gap and the update/weight ratio (about $10^{-3}$).
#
# You implement functions in `lib/deepkit/models.py` (preprocessing, PCA and whitening) and `lib/deepkit/solver.py` (the Solver's
# `_next_batch`, `step` and `check_accuracy`, and the helpers). The models (`MLP`, `SmallCNN`) are given: they are
# built from the functions you wrote in exercises 01-08.
#
# **Targets** (digits, 1,797 8x8 images, 70/15/15 split): an MLP with $\ge 95\%$ and a small CNN with $\ge 95\%$
# test accuracy, trained with your library; the reference library reaches 96.3% (MLP) and 97.8% (CNN) with the
# settings below. The hidden checks train with your `Solver` on fixed seeds and compare the loss history with
# the reference, step by step (the tolerance is $10^{-7}$ relative: the same batches and the same updates).

# %%
# Setup (run me first): import YOUR deepkit from the nearest lib/ folder and reload it when you edit it.
# %load_ext autoreload
# %autoreload 2
import sys
from pathlib import Path

import numpy as np

_here = Path.cwd().resolve()
_name = "reference" if _here.parent.name == "solutions" else "lib"  # an instructor's source notebook: the reference
LIB = next(p / _name for p in (_here, *_here.parents) if (p / _name / "deepkit" / "__init__.py").is_file())
sys.path.insert(0, str(LIB))
from deepkit.gradcheck import check_gradient, rel_error
from deepkit.testing import assert_close


def hidden_check(part: str) -> None:
    """Marks where the autograder's hidden checks for `part` run: on your lib/, in a sandbox, not here."""


print("using deepkit from", LIB)

# %% nbgrader={"grade": false, "grade_id": "setup_imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math
import time

import matplotlib.pyplot as plt

import deepkit as dk
from deepkit.models import MLP, SmallCNN, apply_preprocess, fit_preprocess, preprocess_split
from deepkit.solver import (
    Solver,
    grid_points,
    initial_loss_check,
    lr_range_test,
    overfit_small_subset,
    random_search,
    refine_space,
    sample_hyperparams,
    update_weight_ratio,
)

split = dk.data.load_digits(seed=0)
print("train", split.X_train.shape, "val", split.X_val.shape, "test", split.X_test.shape)

# %% [markdown]
# ## 1. Preprocessing with training statistics  (2 points)
# Implement `fit_preprocess`, `apply_preprocess` and `preprocess_split` in `lib/deepkit/models.py`.
#
# * `mode="feature"`: one mean and one standard deviation per input feature (per pixel), over the examples:
#   `X_train.mean(axis=0)`, `X_train.std(axis=0)`.
# * `mode="channel"`: for images (N, C, H, W), one number per channel over examples **and** pixels:
#   axes `(0, 2, 3)`, shapes `(C,)` (what `torchvision.transforms.Normalize` expects).
# * Standard deviations below `STD_FLOOR` become 1 (the digits have always-blank border pixels: centre them, do not
#   divide by zero); `scale=False` gives std = 1 (centring only).
# * `preprocess_split` fits on `X_train` **only** and applies the same statistics to every split. Fitting on the
#   validation or test data (or on everything) *leaks* them into training: the validation score becomes an
#   optimistic estimate.

# %% nbgrader={"grade": true, "grade_id": "preprocess", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
X = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 6.0], [4.0, 1.0, 1.0]])
stats = fit_preprocess(X)
assert_close(stats["mean"], [2.0, 1.0, 3.0], "mean", hint="one mean per feature: X.mean(axis=0)")
assert_close(
    stats["std"],
    [1.6329931619, 1.0, 2.1602468995],
    "std",
    hint="the population std X.std(axis=0) (ddof = 0); a constant column (std 0) gets 1",
)
assert_close(apply_preprocess(np.array([[1.0, 1.0, 3.0]]), stats), [[-0.6123724357, 0.0, 0.0]], "(x - mean) / std")
assert_close(fit_preprocess(X, scale=False)["std"], [1.0, 1.0, 1.0], "std with scale=False")

images = np.arange(16.0).reshape(2, 2, 2, 2)
st = fit_preprocess(images, mode="channel")
assert_close(st["mean"], [5.5, 9.5], "per-channel mean", hint="one number per channel, over axes (0, 2, 3)")
assert_close(st["std"], [4.1533119315, 4.1533119315], "per-channel std")

data = {"X_train": X, "y_train": np.array([0, 1, 0]), "X_val": X + 10.0, "y_val": np.array([1, 1, 0])}
new, stats = preprocess_split(data)
assert_close(stats["mean"], [2.0, 1.0, 3.0], "the statistics of preprocess_split", hint="fit on X_train ONLY")
assert_close(new["X_val"], apply_preprocess(X + 10.0, stats), "X_val", hint="apply the TRAINING statistics")
assert np.array_equal(new["y_val"], data["y_val"]), "labels are copied unchanged"
print("preprocessing OK")
### BEGIN HIDDEN TESTS
hidden_check("preprocess")
### END HIDDEN TESTS

# %% [markdown]
# ## 1b. PCA and whitening  (2 points)
# Implement `fit_whitening`, `pca_whiten` and `zca_whiten` in `lib/deepkit/models.py` (docstrings there). Derive
# first, on paper: if $\Sigma = \frac1N X_c^\top X_c = U\Lambda U^\top$, what is the covariance of $X_c U$, of
# $X_c U \Lambda^{-1/2}$ and of $X_c U \Lambda^{-1/2} U^\top$? The tests below check exactly those three numbers.
# Conventions the checks hold you to: the population covariance (divide by $N$), eigenvalues in **decreasing**
# order (`np.linalg.eigh` returns them increasing), $\epsilon$ **inside** the square root, and the training
# statistics for every split. An eigenvector's sign is yours to choose: the checks accept $u$ and $-u$.

# %% nbgrader={"grade": true, "grade_id": "whitening", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from deepkit.models import fit_whitening, pca_whiten, zca_whiten

Xw = np.array([[2.0, 1.0], [4.0, 3.0], [6.0, 2.0], [8.0, 6.0]])
stw = fit_whitening(Xw)
assert_close(stw["mean"], [5.0, 3.0], "mean")
assert_close(
    stw["eigvals"],
    [7.8294552737, 0.6705447263],
    "eigvals",
    hint="the covariance of the CENTRED data divided by N (not N - 1), eigenvalues in decreasing order",
)
rotated = pca_whiten(Xw, stw, whiten=False)
assert_close(
    rotated.T @ rotated / 4,
    np.diag(stw["eigvals"]),
    "covariance of the rotated data",
    atol=1e-10,
    hint="rotated = (X - mean) @ eigvecs: its covariance is diag(eigvals)",
)
white = pca_whiten(Xw, stw, eps=0.0)
assert_close(
    white.T @ white / 4,
    np.eye(2),
    "covariance of the PCA-whitened data",
    atol=1e-10,
    hint="divide each rotated feature by sqrt(eigval + eps), its standard deviation",
)
assert_close(
    np.abs(pca_whiten(Xw, stw, k=1, eps=0.1)[:, 0]),
    [1.2750156452, 0.2761668135, 0.0529091955, 1.4982732632],
    "|first whitened component| with eps = 0.1",
    hint="k = 1 keeps the top component; eps goes inside the root",
)
zca = zca_whiten(Xw, stw, eps=0.0)
assert_close(
    zca.T @ zca / 4,
    np.eye(2),
    "covariance of the ZCA-whitened data",
    atol=1e-10,
    hint="ZCA = PCA whitening followed by the rotation back, @ eigvecs.T",
)
assert_close(zca_whiten(np.array([[5.0, 3.0]]), stw), [[0.0, 0.0]], "ZCA of the training mean", atol=1e-12)
print("whitening OK")
### BEGIN HIDDEN TESTS
hidden_check("whitening")
### END HIDDEN TESTS

# %% nbgrader={"grade": false, "grade_id": "prep_data", "locked": true, "schema_version": 3, "solution": false, "task": false}
data, stats = preprocess_split(split)  # (N, 64) for the MLP
images, _ = preprocess_split(dk.data.load_digits(images=True, seed=0), mode="channel")  # for the CNN
print(
    "train mean/std after:",
    data["X_train"].mean().round(6),
    data["X_train"].std().round(3),
    "| val mean:",
    data["X_val"].mean().round(3),
    "(not exactly 0: validation is centred with TRAIN stats)",
)

# %% [markdown]
# ## 2. The update/weight ratio  (1 point)
# Implement `update_weight_ratio(w_old, w_new)` in `lib/deepkit/solver.py`: $\|w_{new} - w_{old}\| / \|w_{old}\|$
# (Frobenius norms). The update includes the learning rate (for SGD it is $-\text{lr}\,\nabla w$), so do not use the
# raw gradient, and do not invert the ratio. A healthy value is around $10^{-3}$ per step: $10^{-5}$ means the
# layer barely learns, $10^{-1}$ that it is thrown around. Return `inf` when `w_old` is zero but the update is not
# (a zero-initialised bias), and 0 when both are zero.

# %% nbgrader={"grade": true, "grade_id": "update_weight_ratio", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
assert_close(
    update_weight_ratio(np.array([[3.0, 4.0]]), np.array([[3.0, 4.5]])),
    0.1,
    "ratio",
    hint="||w_new - w_old|| / ||w_old|| = 0.5 / 5, not inverted",
)
w, dw = np.array([[1.0, -2.0], [2.0, 0.0]]), np.array([[0.5, 0.5], [-1.0, 2.0]])
assert_close(
    update_weight_ratio(w, w - 1e-3 * dw),
    1e-3 * np.linalg.norm(dw) / 3.0,
    "ratio of an SGD step",
    hint="the update includes the learning rate: lr * ||dw|| / ||w||",
)
assert update_weight_ratio(np.zeros(3), np.zeros(3)) == 0.0, "zero weights, no update: 0 (not 0 / 0 = nan)"
assert update_weight_ratio(np.zeros(3), np.ones(3)) == math.inf, "zero weights with an update: inf"
print("ratio OK")
### BEGIN HIDDEN TESTS
hidden_check("update_weight_ratio")
### END HIDDEN TESTS

# %% [markdown]
# ## 3. The Solver's step  (3 points)
# Implement `Solver._next_batch` and `Solver.step` (read the docstrings in `solver.py`; `__init__`, `train`,
# `run` and `_end_epoch` are given):
#
# * `_next_batch`: at the start of every epoch draw a **new** shuffled pass with
#   `deepkit.data.minibatches(X_train, y_train, batch_size, self.rng)`; return the next batch. Never re-create the
#   rng, never iterate in a fixed order: the network would see the same batches every epoch.
# * `step`: one batch, the loss and gradients **in train mode**, one update of every parameter with its own optimizer
#   state (`self.step_fn(w, dw, state, **self.optim_config)`, a pure rule from exercise 07), the loss and the ratios
#   appended to `history`, then at each epoch's end the learning-rate decay and `self._end_epoch()`.
#
# The test trains on 40 digits for two epochs with plain SGD and compares every loss with the reference.

# %% nbgrader={"grade": true, "grade_id": "solver_step", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
small = {
    "X_train": split.X_train[:40],
    "y_train": split.y_train[:40],
    "X_val": split.X_val[:20],
    "y_val": split.y_val[:20],
}
s = Solver(MLP(64, (16,), 10, seed=0), small, "sgd", {"lr": 0.5}, lr_decay=0.5, batch_size=16, num_epochs=2, seed=0)
s.train()
assert_close(
    s.history["loss"],
    [2.2951140996, 2.2517479991, 2.2554695362, 2.1451615798, 2.0837678706, 2.0671386211],
    "loss history",
    hint="a NEW permutation every epoch from self.rng (never re-seeded), train mode, every parameter updated",
)
assert_close(s.history["lr"], [0.25, 0.125], "lr per epoch", hint="lr *= lr_decay at every epoch's end")
assert set(s.history["ratios"]) == {"W1", "W2"} and len(s.history["ratios"]["W1"]) == 6, "one ratio per step"
assert_close(
    s.history["ratios"]["W1"][:3],
    [0.0105171663, 0.0107921769, 0.0118101833],
    "ratios of W1",
    hint="||w_new - w_old|| / ||w_old||: the actual update (with the learning rate), not the gradient",
)
again = Solver(
    MLP(64, (16,), 10, seed=0), small, "sgd", {"lr": 0.5}, lr_decay=0.5, batch_size=16, num_epochs=2, seed=0
).train()
assert again.history["loss"] == s.history["loss"], "the same seed must give the same run"
print("Solver.step OK")
### BEGIN HIDDEN TESTS
hidden_check("solver_step")
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Accuracy in evaluation mode  (1 point)
# Implement `Solver.check_accuracy(X, y, batch_size)`: switch the model to **eval** mode (`model.eval()`: no dropout,
# batchnorm's running statistics), compute the scores in batches, compare the arg-max with `y`, and restore the
# model's previous mode. Measuring accuracy in train mode with dropout on reports a noisy, too-low number.

# %% nbgrader={"grade": true, "grade_id": "check_accuracy", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
model = MLP(64, (50,), 10, dropout=0.9, seed=0)
s = Solver(model, data, "adam", {"lr": 1e-2}, batch_size=100, num_epochs=1, seed=0).train()
model.train()
acc = s.check_accuracy(data["X_val"], data["y_val"], batch_size=7)
assert model.mode == "train", "restore the previous mode"
expected = np.mean(np.argmax(model.eval().loss(data["X_val"]), axis=1) == data["y_val"])
assert acc == expected, (acc, expected)
print(f"val accuracy after one epoch with 90% dropout: {acc:.3f}")
### BEGIN HIDDEN TESTS
hidden_check("check_accuracy")
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Babysitting 1: the initial loss  (1 point)
# With small random weights all $C$ scores are about equal, every class gets probability $\approx 1/C$, and the
# softmax loss is $-\log(1/C) = \log C$ ($\log 10 \approx 2.303$). A very different initial loss means a bug or a bad
# initialisation (e.g. a large output layer). Adding the L2 penalty must make it **larger**.
# Implement `initial_loss_check(model, X, y)`: both losses in eval mode, the first with `model.reg` set to 0, and
# restore the model's `reg` and mode.

# %% nbgrader={"grade": true, "grade_id": "initial_loss_check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
model = MLP(64, (100,), 10, reg=0.1, seed=0)
res = initial_loss_check(model, split.X_train[:200], split.y_train[:200])
print(res)
assert_close(res["expected"], math.log(10), "expected", hint="log C with C = the number of score columns")
assert_close(
    res["loss_no_reg"], 2.3070393753, "loss_no_reg", atol=1e-8, hint="set model.reg = 0 for this one, in eval mode"
)
assert_close(res["loss_reg"], 12.2316229988, "loss_reg", atol=1e-8, hint="the model's own reg: the penalty adds to it")
assert model.reg == 0.1 and model.mode == "train", "restore the model's reg and its mode"
### BEGIN HIDDEN TESTS
hidden_check("initial_loss_check")
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Babysitting 2: overfit a tiny subset  (1 point)
# Implement `overfit_small_subset`: a Solver on the first `num_examples` training examples (used as their own
# validation set, `num_train_samples=None`), trained to the end. Without regularization a working model must reach
# 100% training accuracy and a loss near 0. If it cannot, do not train on everything yet: something is broken.

# %% nbgrader={"grade": true, "grade_id": "overfit_small_subset", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
s = overfit_small_subset(
    MLP(64, (100,), 10, seed=0), data, num_examples=30, num_epochs=40, batch_size=10, optim_config={"lr": 1e-2}
)
print("final loss", round(s.history["loss"][-1], 5), "train acc", s.history["train_acc"][-1])
assert s.history["train_acc"][-1] == 1.0 and s.history["loss"][-1] < 0.02
### BEGIN HIDDEN TESTS
hidden_check("overfit_small_subset")
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Babysitting 3: learning-rate range test  (2 points)
# Implement `lr_range_test`: `num` learning rates **equally spaced in log10** from `lr_min` to `lr_max`
# (`np.logspace`), a short run of `num_iters` steps from a fresh model for each, and the loss on the whole
# training set (eval mode) after it; a run that blows up scores `inf`. Learning rates act multiplicatively, so a
# linear grid would spend almost all its points in the last decade.

# %% nbgrader={"grade": true, "grade_id": "lr_range_test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
lrs, losses = lr_range_test(
    lambda: MLP(64, (50,), 10, seed=0),
    data,
    lr_min=1e-4,
    lr_max=10.0,
    num=11,
    num_iters=20,
    batch_size=50,
    optimizer="sgd",
)
assert_close(lrs, 10.0 ** np.arange(-4, 1.01, 0.5), "lrs", hint="np.logspace: equal steps in log10, both ends")
assert abs(losses[0] - math.log(10)) < 0.1, "lr = 1e-4: the loss barely moves"
assert losses.min() < 0.7
fig, ax = plt.subplots(figsize=(5, 3))
ax.semilogx(lrs, np.minimum(losses, 10), "o-")
ax.set(xlabel="learning rate", ylabel="training loss after 20 steps")
plt.show()
print("best lr", lrs[np.argmin(losses)])
### BEGIN HIDDEN TESTS
hidden_check("lr_range_test")
### END HIDDEN TESTS

# %% [markdown]
# ## 8. Random search: log-uniform sampling  (2 points)
# Implement `sample_hyperparams(space, rng)`: `space` maps a name to `(low, high, kind)`; kind `"log"` samples
# **log-uniformly** (`10 ** rng.uniform(log10(low), log10(high))`: each decade equally likely), `"linear"` uniformly,
# `"int"` an integer with both ends included. Draw in the order of the dict. The hidden check is statistical.

# %% nbgrader={"grade": true, "grade_id": "sample_hyperparams", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
space = {"lr": (1e-5, 1e-1, "log"), "dropout": (0.0, 0.5, "linear"), "hidden": (20, 200, "int")}
rng = np.random.default_rng(0)
draws = [sample_hyperparams(space, rng) for _ in range(4000)]
lr = np.array([d["lr"] for d in draws])
per_decade = np.histogram(np.log10(lr), bins=4, range=(-5, -1))[0]
print("samples per decade:", per_decade)
assert lr.min() >= 1e-5 and lr.max() <= 1e-1
assert np.all(np.abs(per_decade - 1000) < 170), "log-uniform: about 1000 per decade"
hidden = np.array([d["hidden"] for d in draws])
assert hidden.dtype.kind == "i" and hidden.min() == 20 and hidden.max() == 200
### BEGIN HIDDEN TESTS
hidden_check("sample_hyperparams")
### END HIDDEN TESTS

# %% [markdown]
# ## 9. Random search and coarse-to-fine  (1 + 1 points)
# Implement `random_search(evaluate, space, num_trials, rng)` (sample, score with `evaluate(**params)`, return the
# trials sorted best first) and `refine_space(trials, space, top_k)` (the new bounds are the min and max of the
# top-k trials' values). Random search beats grid search when some hyper-parameters matter much more than others
# (Bergstra & Bengio, 2012): 9 grid points try only 3 distinct learning rates, 9 random points try 9.

# %% nbgrader={"grade": true, "grade_id": "random_search", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
score = lambda lr, reg: -((math.log10(lr) + 3) ** 2) - 0.1 * (math.log10(reg) + 2) ** 2
space = {"lr": (1e-6, 1e0, "log"), "reg": (1e-5, 1e1, "log")}
trials = random_search(score, space, 30, np.random.default_rng(1))
scores = [t["score"] for t in trials]
assert len(trials) == 30 and scores == sorted(scores, reverse=True)
assert all(np.isclose(t["score"], score(**t["params"])) for t in trials)
print("best of 30:", trials[0])
### BEGIN HIDDEN TESTS
hidden_check("random_search")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "refine_space", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
trials = [
    {"params": {"lr": 1e-3, "reg": 1e-2}, "score": 0.9},
    {"params": {"lr": 1e-1, "reg": 1.0}, "score": 0.2},
    {"params": {"lr": 3e-3, "reg": 1e-4}, "score": 0.8},
    {"params": {"lr": 2e-4, "reg": 1e-3}, "score": 0.7},
]
new = refine_space(trials, {"lr": (1e-6, 1.0, "log"), "reg": (1e-5, 10.0, "log")}, top_k=3)
assert new == {"lr": (2e-4, 3e-3, "log"), "reg": (1e-4, 1e-2, "log")}, new
### BEGIN HIDDEN TESTS
hidden_check("refine_space")
### END HIDDEN TESTS

# %% [markdown]
# Coarse-to-fine on the digits: a coarse search over wide ranges with a few short runs, then a finer one inside the best region (each trial trains for 2 epochs on 600 examples).

# %% nbgrader={"grade": false, "grade_id": "search_demo", "locked": true, "schema_version": 3, "solution": false, "task": false}
sub = {
    "X_train": data["X_train"][:600],
    "y_train": data["y_train"][:600],
    "X_val": data["X_val"],
    "y_val": data["y_val"],
}


def val_accuracy(lr, reg):
    s = Solver(
        MLP(64, (50,), 10, reg=reg, seed=0), sub, "adam", {"lr": lr}, batch_size=50, num_epochs=2, seed=0
    ).train()
    return s.best_val_acc


coarse_space = {"lr": (1e-5, 1.0, "log"), "reg": (1e-5, 1.0, "log")}
coarse = random_search(val_accuracy, coarse_space, 10, np.random.default_rng(0))
fine_space = refine_space(coarse, coarse_space, top_k=3)
fine = random_search(val_accuracy, fine_space, 6, np.random.default_rng(1))
grid = [dict(p, score=val_accuracy(**p)) for p in grid_points(coarse_space, 3)]
fig, ax = plt.subplots(figsize=(6, 3.6))
for trials, style, label in ((coarse, "o", "coarse random"), (fine, "^", "fine random")):
    ax.scatter(
        [t["params"]["lr"] for t in trials],
        [t["params"]["reg"] for t in trials],
        c=[t["score"] for t in trials],
        vmin=0,
        vmax=1,
        marker=style,
        label=label,
        edgecolors="k",
    )
sc = ax.scatter(
    [g["lr"] for g in grid],
    [g["reg"] for g in grid],
    c=[g["score"] for g in grid],
    vmin=0,
    vmax=1,
    marker="s",
    label="grid 3x3",
    edgecolors="k",
)
ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="L2 strength")
fig.colorbar(sc, label="val accuracy")
ax.legend(fontsize=7)
plt.show()
print("fine space:", {k: (f"{lo:.2g}", f"{hi:.2g}") for k, (lo, hi, _) in fine_space.items()})
print(
    f"best coarse {coarse[0]['score']:.3f}, best fine {fine[0]['score']:.3f}, "
    f"best grid {max(g['score'] for g in grid):.3f} (3 distinct learning rates only)"
)

# %% [markdown]
# ## 10. Capstone: an MLP and a small CNN on the digits  (3 points)
# Train with your library and the dashboard (loss, accuracy, update/weight ratios with the $10^{-3}$ line, and
# the hidden activations' std; the Stop button ends training after the current chunk). Targets: **MLP
# $\ge 95\%$, CNN $\ge 95\%$ test accuracy**. The hidden check trains an MLP with your `Solver` and Adam from fixed
# weights and compares the loss history with the reference (and requires $\ge 90\%$ validation accuracy after six
# short epochs on 600 examples).

# %% nbgrader={"grade": false, "grade_id": "capstone_train", "locked": true, "schema_version": 3, "solution": false, "task": false}
from IPython.display import display

from deepkit.viz.training import explorer

t0 = time.perf_counter()
mlp = MLP(64, (100,), 10, seed=0)
mlp_solver = Solver(mlp, data, "adam", {"lr": 1e-3}, batch_size=50, num_epochs=10, seed=0)
dash = explorer(mlp_solver, every=52)  # a redraw every two epochs
display(dash)
dash.run()
mlp_time = time.perf_counter() - t0

t0 = time.perf_counter()
cnn = SmallCNN(filters=8, seed=0)
cnn_solver = Solver(cnn, images, "adam", {"lr": 5e-3}, batch_size=50, num_epochs=8, seed=0).train()
cnn_time = time.perf_counter() - t0
mlp_acc = mlp_solver.check_accuracy(data["X_test"], data["y_test"])
cnn_acc = cnn_solver.check_accuracy(images["X_test"], images["y_test"])
print(
    f"deepkit MLP test accuracy {mlp_acc:.3f} ({mlp_time:.1f} s with the dashboard's redraws), "
    f"CNN {cnn_acc:.3f} ({cnn_time:.1f} s)"
)

# %% nbgrader={"grade": true, "grade_id": "capstone", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
assert mlp_acc >= 0.95, f"MLP test accuracy {mlp_acc:.3f} < 0.95"
assert cnn_acc >= 0.95, f"CNN test accuracy {cnn_acc:.3f} < 0.95"
gap = mlp_solver.history["train_acc"][-1] - mlp_solver.history["val_acc"][-1]
print(f"MLP train - val gap at the end: {gap:.3f}")
### BEGIN HIDDEN TESTS
hidden_check("capstone")
### END HIDDEN TESTS

# %% [markdown]
# The same two models in PyTorch: the same initial weights (copied from fresh deepkit models made with the same
# seeds), the same mini-batches (the Solver's permutations), the same optimizer, float64 like deepkit, and the
# epoch with the best validation accuracy kept, as the Solver does. Test accuracy and time.

# %% nbgrader={"grade": false, "grade_id": "torch_compare", "locked": true, "schema_version": 3, "solution": false, "task": false}
import copy

import torch
from torch import nn

torch.set_num_threads(1)  # a fair comparison with single-threaded NumPy on small batches
torch.set_default_dtype(torch.float64)


def torch_copy(model):
    """A torch module holding the current weights of a deepkit MLP (64-100-10) or SmallCNN."""
    p = {k: torch.tensor(v) for k, v in model.params.items()}
    if isinstance(model, MLP):
        net = nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 10))
        layers = ((net[0], p["W1"].T, p["b1"]), (net[2], p["W2"].T, p["b2"]))  # deepkit: x @ W; torch: x @ weight.T
    else:
        net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(128, 10))
        layers = ((net[0], p["W1"], p["b1"]), (net[4], p["W2"].T, p["b2"]))
    with torch.no_grad():
        for layer, w, b in layers:
            layer.weight.copy_(w)
            layer.bias.copy_(b)
    return net


def torch_train(net, d, lr, epochs, seed=0):
    X, y, Xv = torch.tensor(d["X_train"]), torch.tensor(d["y_train"]), torch.tensor(d["X_val"])
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    rng, best = np.random.default_rng(seed), (-1.0, None)
    for _ in range(epochs):
        perm = rng.permutation(len(y))
        for s in range(0, len(y), 50):
            opt.zero_grad()
            nn.functional.cross_entropy(net(X[perm[s : s + 50]]), y[perm[s : s + 50]]).backward()
            opt.step()
        with torch.no_grad():
            acc = float((net(Xv).argmax(1).numpy() == d["y_val"]).mean())
        if acc > best[0]:
            best = (acc, copy.deepcopy(net.state_dict()))
    net.load_state_dict(best[1])
    return net


def torch_acc(net, X, y):
    with torch.no_grad():
        return float((net(torch.tensor(X)).argmax(1).numpy() == y).mean())


rows = []
for name, fresh, d, lr, epochs, ours in (
    ("MLP", MLP(64, (100,), 10, seed=0), data, 1e-3, 10, (mlp_acc, mlp_time)),
    ("CNN", SmallCNN(filters=8, seed=0), images, 5e-3, 8, (cnn_acc, cnn_time)),
):
    t0 = time.perf_counter()
    net = torch_train(torch_copy(fresh), d, lr, epochs)
    rows.append((name, ours[0], ours[1], torch_acc(net, d["X_test"], d["y_test"]), time.perf_counter() - t0))
print(f"{'model':6} {'deepkit acc':>11} {'time':>7} {'torch acc':>10} {'time':>7}")
for name, a, t, ta, tt in rows:
    print(f"{name:6} {a:11.3f} {t:6.1f}s {ta:10.3f} {tt:6.1f}s")
print("(with your library correct, the two accuracies are equal: the same run, computed twice)")

# %% [markdown]
# ## 11. Reading the curves (manually graded)
# Look at the dashboard above. (a) What does the gap between training and validation accuracy tell you, and what
# would you change if it were 15 points? (b) The update/weight ratio of the output layer is larger than that of the
# first layer: is that a problem? (c) Describe what the loss curve looks like with a learning rate 100x too large,
# 100x too small, and with a bad initialisation (all weights 1e-6).

# %% [markdown] nbgrader={"grade": true, "grade_id": "reading_curves", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader; the release shows "YOUR ANSWER HERE".) (a) The gap measures overfitting: how much
# better the model fits the examples it trains on than unseen ones. Here (MLP, Adam $10^{-3}$, 10 epochs, seed 0) the
# last epoch has training accuracy 0.980 and validation 0.944: a gap of about 3.6 points with both high, healthy;
# nothing to change (the validation accuracy was still rising). With a 15-point gap the model overfits: more
# regularization (L2, dropout), early stopping on the validation accuracy (the Solver keeps the best epoch), more data
# or augmentation (shifting the digits by a pixel), a smaller model; then check that the *validation* accuracy goes
# up, not only that the gap closes. (b) No. The ratio $\|\Delta W\|/\|W\|$ is relative to the weights' size: the
# output layer starts 10x smaller (`output_scale` 0.1) and Adam's steps are about `lr` per coordinate whatever the
# weight's size, so the small matrix moves more relative to itself (median ratio over the first 50 steps: $W_2 \approx
# 3\cdot10^{-2}$, $W_1 \approx 4\cdot10^{-3}$; over the last 100 steps $2.3\cdot10^{-3}$ and $1.1\cdot10^{-3}$, as
# $W_2$ grows). It would be a problem only if a layer stayed far from about $10^{-3}$ for long: near $10^{-1}$ (each
# step rewrites a tenth of the layer; noisy, unstable loss) or below $10^{-5}$ (the layer does not learn). (c)
# Learning rate 100x too large (Adam 0.1): the loss jumps up in the first steps, far above $\log 10$ (to about 20
# here), then spikes and noise; it may stall on a high plateau or become NaN. 100x too small ($10^{-5}$): an almost
# straight, slow decline from 2.30 (still 2.18 after 10 epochs, validation accuracy 23%). All weights $10^{-6}$: the
# scores are about 0, so the loss starts at $\log 10 \approx 2.303$ and stays flat while the tiny weights pass almost
# no signal and almost no gradient (each layer's gradient is proportional to the other layer's weights); with random
# tiny weights it then drops suddenly once they have grown (Adam's normalized steps shorten that plateau, SGD's can
# last long); if every weight is literally the same $10^{-6}$, all hidden units stay identical (topic 03) and the loss
# stalls high (about 1.9 after 10 epochs, validation accuracy 20%). *Grading:* 1 point per part: (a) overfitting and
# at least two remedies; (b) "not a problem" with the reason (relative to the weights' size, Adam's size-independent
# steps) and when it would be one; (c) the three curve shapes (half a point for two).

# %% [markdown]
# ## 12. Transfer: a shifted test set (1 point, graded by hand)
# Your training digits come from scanner A; the test digits come from scanner B, which adds the same offset
# $+0.2$ to every pixel (pixels lie in $[0, 1]$; the offset comes before any preprocessing). You standardise per
# pixel with the training statistics, as in part 1.
# (a) Write a standardised test pixel $\tilde x'_j$ of scanner B with the clean one $\tilde x_j$. With your `stats`
# from part 1 (two lines of NumPy), which pixel moves most, by how many standard units, and why is it a pixel near
# the border? What happens to a pixel that is blank in every training image?
# (b) Fitting any statistics on scanner B's images is ruled out. Instead, centre every image on its own: subtract
# from each image the mean of its 64 pixels (training, validation and test images alike), then standardise per
# pixel with statistics fitted on the training images centred that way. Show that this removes scanner B's
# offset exactly, whatever its size. Would it also remove a contrast gain (every pixel times 1.3), or an offset
# added to the border pixels only? What would you add to remove the gain too, and which layer of topic 04
# normalizes every example in this way?
# (c) What does per-image centring throw away about a digit? Estimate from the training set whether that could
# cost accuracy here (one number per class is enough).

# %% [markdown] nbgrader={"grade": true, "grade_id": "shift_question", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false}
# (Model answer for the grader.) (a) $\tilde x'_j = (x_j + 0.2 - \mu_j)/\sigma_j = \tilde x_j + 0.2/\sigma_j$: every
# pixel moves by $0.2/\sigma_j$ standard units, most where the training std is smallest. On the digits (split seed 0)
# that is pixel 56 (bottom-left corner): $\sigma \approx 0.0018$, a shift of about 114 standard units (median over
# pixels 0.7); the next are border pixels 24 and 31 (about 80). Border pixels are almost always blank, so their std
# is tiny and a small offset becomes an input the network never saw, multiplied by first-layer weights that were
# never constrained there. A pixel blank in every training image has std 0, floored to 1 by `fit_preprocess`: it
# only moves by 0.2. (b) Per-image centring: $(x + c\mathbf 1) - \overline{(x + c\mathbf 1)}\,\mathbf 1 =
# x - \bar x\,\mathbf 1$, for any $c$ (checked: differences of $10^{-16}$), and the per-pixel step after it sees the
# same numbers, so the offset is gone without using any test statistics. A gain $1.3x$ gives $1.3(x - \bar x)$:
# not removed (dividing each centred image by its own std would remove it too, for a gain $> 0$). A border-only
# offset $c\,b$ ($b$ = indicator of the $k$ border pixels) leaves $c(b - \tfrac{k}{64}\mathbf 1)$: only its mean is
# removed. Per-example mean and std over the features is layer normalization (topic 04), which is invariant to
# adding a constant to, or multiplying by $a > 0$, all the features of one example. (c) It throws away the
# image's mean brightness (how much ink the digit has). On the training digits the class means of the mean pixel
# are 0.30 to 0.32 with a spread of about 0.03 within each class: almost no class information, so the cost is small
# here (unlike for data where overall brightness matters).
