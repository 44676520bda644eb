"""Hidden checks for topic 09 (training capstone: preprocessing, Solver, babysitting helpers).

The Solver parts train the probe's own tiny model with the probe's own momentum step (see
autograder/probes/training.py), on a fixed seed, and compare the whole loss history, the update/weight ratios, the
per-epoch accuracies and learning rates with the reference (rtol 1e-7): a solver that does not reshuffle every
epoch, re-creates its rng, forgets the learning-rate decay, measures accuracy in train mode or computes the
ratio from the gradient instead of the update gives a different history. ``capstone`` runs the student's whole
library (MLP -> layers, losses, Adam) from trusted initial weights on a digits subset and also requires the
stated validation accuracy. The random-search parts are statistical (log-uniform sampling, 6-sigma bounds).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from autograder.compare import student_array
from autograder.spec import Part

SIGMAS = 6.0
CAPSTONE_MIN_VAL_ACC = 0.90

# trusted copies of the probe's search space and score (probes/training.py)
SPACE = {"lr": (1e-5, 1e-1, "log"), "reg": (1e-4, 1.0, "log"), "p": (0.1, 0.5, "linear"), "h": (10, 20, "int")}


def search_score(lr, reg, p, h):
    return -((math.log10(lr) + 3.0) ** 2) - 0.5 * (math.log10(reg) + 2.0) ** 2 - (p - 0.3) ** 2 - 0.01 * h


# ---------------------------------------------------------------------------------------------- inputs
def _preprocess_inputs(rng):
    def images(n):
        base = rng.normal(size=(n, 3, 4, 4)) * rng.uniform(0.5, 3.0, size=(1, 3, 4, 4))
        x = base + np.array([0.5, -2.0, 4.0]).reshape(1, 3, 1, 1) + rng.normal(size=(1, 3, 4, 4))
        x[:, 0, 0, 0] = 0.25  # a constant pixel: centred, never divided by ~0
        return x

    out = {}
    for split, n in (("train", 40), ("val", 15), ("test", 12)):
        # validation/test examples are shifted: statistics fitted on them (a leak) are visibly different
        out[f"X_{split}"] = images(n) + (0.0 if split == "train" else 1.5)
        out[f"y_{split}"] = rng.integers(0, 4, size=n)
    return out


def _ratio_inputs(rng):
    k = 5
    w_old = rng.normal(size=(k, 6, 4)) * rng.uniform(0.1, 3.0, size=(k, 1, 1))
    lr = 10.0 ** rng.uniform(-4, -1, size=(k, 1, 1))
    return {"w_old": w_old, "w_new": w_old - lr * rng.normal(size=w_old.shape)}


def _problem(rng, n_train=83, n_val=31, d=5, c=4):
    """A learnable 4-class problem for the probe's model (X @ W + X^2 @ V + b)."""
    centres = rng.normal(scale=1.5, size=(c, d))
    y_tr, y_va = rng.integers(0, c, size=n_train), rng.integers(0, c, size=n_val)
    return {
        "X_train": centres[y_tr] + rng.normal(size=(n_train, d)),
        "y_train": y_tr,
        "X_val": centres[y_va] + rng.normal(size=(n_val, d)),
        "y_val": y_va,
        "W": rng.normal(scale=0.01, size=(d, c)),
        "V": rng.normal(scale=0.01, size=(d, c)),
        "b": np.zeros(c),
    }


def _solver_inputs(rng):
    inp = _problem(rng)
    inp.update(
        lr=float(10 ** rng.uniform(-2.3, -1.3)),
        lr_decay=float(rng.uniform(0.5, 0.9)),
        batch_size=int(rng.choice([10, 16, 25])),
        num_epochs=3,
        seed=int(rng.integers(2**31)),
        num_train_samples=int(rng.integers(30, 60)),
    )
    return inp


def _initial_loss_inputs(rng):
    inp = _problem(rng)
    inp["reg"] = float(rng.uniform(1.0, 50.0))
    return inp


def _overfit_inputs(rng):
    inp = _problem(rng)
    inp.update(
        num_examples=int(rng.integers(12, 20)), num_epochs=15, batch_size=5, lr=0.1, seed=int(rng.integers(2**31))
    )
    return inp


def _range_inputs(rng):
    inp = _problem(rng, n_train=60)
    inp.update(
        lr_min=float(10 ** rng.uniform(-5, -4)),
        lr_max=float(10 ** rng.uniform(-0.5, 0)),
        num=int(rng.integers(6, 10)),
        num_iters=int(rng.integers(5, 12)),
        batch_size=20,
        seed=int(rng.integers(2**31)),
    )
    return inp


def _sample_inputs(rng):
    return {"seed": int(rng.integers(2**31)), "n": 4000}


def _search_inputs(rng):
    return {"seed": int(rng.integers(2**31)), "num_trials": 600}


def _refine_inputs(rng):
    n = 12
    return {
        "lr": 10 ** rng.uniform(-5, -1, size=n),
        "reg": 10 ** rng.uniform(-4, 0, size=n),
        "p": rng.uniform(0.1, 0.5, size=n),
        "h": rng.integers(10, 21, size=n).astype(np.float64),
        "score": rng.permutation(n).astype(np.float64),
        "top_k": int(rng.integers(2, 6)),
    }


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data / 16.0, d.target.astype(np.int64)


def _capstone_inputs(rng):
    X, y = _digits()
    idx = rng.permutation(len(y))
    tr, va = idx[:600], idx[600:800]
    mean, std = X[tr].mean(axis=0), X[tr].std(axis=0)
    std = np.where(std < 1e-8, 1.0, std)
    X = (X - mean) / std
    h = 48
    return {
        "X_train": X[tr],
        "y_train": y[tr],
        "X_val": X[va],
        "y_val": y[va],
        "W1": rng.normal(size=(64, h)) * np.sqrt(2.0 / 64),
        "b1": np.zeros(h),
        "W2": rng.normal(size=(h, 10)) * 0.1 * np.sqrt(2.0 / h),
        "b2": np.zeros(10),
        "lr": 1e-2,
        "batch_size": 50,
        "num_epochs": 6,
        "seed": int(rng.integers(2**31)),
    }


# --------------------------------------------------------------------------------------------- compares
def compare_capstone(student, reference, inp):
    ref_loss = np.asarray(reference["loss"])
    loss, why = student_array(student, "loss", ref_loss.shape)
    if loss is None:
        return 0.0, why
    bad = np.flatnonzero(~np.isclose(loss, ref_loss, rtol=1e-6, atol=1e-8))
    if bad.size:
        return 0.0, (
            f"loss history differs from the reference from step {int(bad[0])} on (same data, weights, "
            f"seed and Adam settings): check the Solver and the library functions it uses"
        )
    acc, why = student_array(student, "final_val_acc", ())
    if acc is None:
        return 0.0, why
    if acc < CAPSTONE_MIN_VAL_ACC or abs(acc - float(reference["final_val_acc"])) > 1e-9:
        return 0.0, (
            f"final validation accuracy {acc:.3f}: expected the reference's, which is at least "
            f"{CAPSTONE_MIN_VAL_ACC:.2f}"
        )
    return 1.0, "ok"


def _uniform_ok(values: np.ndarray, lo: float, hi: float, what: str) -> str:
    """Mean and std of values ~ U(lo, hi) within SIGMAS standard errors."""
    n = len(values)
    width = hi - lo
    mean_se = width / math.sqrt(12 * n)
    var = width**2 / 12
    std_se = math.sqrt((width**4 / 80 - var**2) / n) / (2 * math.sqrt(var))  # delta method for the std
    if abs(values.mean() - (lo + hi) / 2) > SIGMAS * mean_se or abs(values.std() - math.sqrt(var)) > SIGMAS * std_se:
        return (
            f"{what}: the samples are not uniform on [{lo:.3g}, {hi:.3g}] (mean {values.mean():.3g}, "
            f"std {values.std():.3g}; expected {(lo + hi) / 2:.3g} and {math.sqrt(var):.3g})"
        )
    return ""


def _space_samples_ok(student: dict, n: int) -> str:
    for name, (lo, hi, kind) in SPACE.items():
        vals, why = student_array(student, name, (n,))
        if vals is None:
            return why
        if vals.min() < lo * (1 - 1e-12) or vals.max() > hi * (1 + 1e-12):
            return f"{name}: values outside [{lo}, {hi}]"
        if kind == "log":
            why = _uniform_ok(
                np.log10(vals),
                math.log10(lo),
                math.log10(hi),
                f"{name} (log-scaled: log10 of the samples must be uniform)",
            )
        elif kind == "linear":
            why = _uniform_ok(vals, lo, hi, name)
        else:
            if np.any(vals != np.round(vals)):
                return f"{name}: 'int' values must be integers"
            counts = np.array([(vals == v).sum() for v in range(int(lo), int(hi) + 1)])
            p = 1.0 / len(counts)
            if np.any(np.abs(counts / n - p) > SIGMAS * math.sqrt(p * (1 - p) / n)):
                why = f"{name}: the integers {int(lo)}..{int(hi)} (both ends included) must be equally likely"
        if why:
            return why
    return ""


def compare_sample(student, reference, inp):
    why = _space_samples_ok(student, int(inp["n"]))
    return (0.0, why) if why else (1.0, "ok")


def compare_search(student, reference, inp):
    n = int(inp["num_trials"])
    why = _space_samples_ok(student, n)
    if why:
        return 0.0, why
    score, why = student_array(student, "score", (n,))
    if score is None:
        return 0.0, why
    expected = np.array([search_score(*(student[k][i] for k in ("lr", "reg", "p", "h"))) for i in range(n)])
    if not np.allclose(score, expected, rtol=1e-9, atol=1e-12):
        return 0.0, "each trial's score must be evaluate(**its params)"
    if np.any(np.diff(score) > 0):
        return 0.0, "trials must be sorted best (highest score) first"
    return 1.0, "ok"


PARTS = (
    Part(
        "preprocess",
        2,
        "preprocess",
        _preprocess_inputs,
        rtol=1e-9,
        atol=1e-12,
        description="per-feature / per-channel centring and scaling with training statistics only",
    ),
    Part(
        "update_weight_ratio",
        1,
        "update_weight_ratio",
        _ratio_inputs,
        rtol=1e-9,
        atol=1e-14,
        description="||w_new - w_old|| / ||w_old||",
    ),
    Part(
        "solver_step",
        3,
        "solver_step",
        _solver_inputs,
        rtol=1e-7,
        atol=1e-10,
        description="Solver: shuffled batches per epoch, updates, lr decay, loss and ratio history",
    ),
    Part(
        "check_accuracy",
        1,
        "check_accuracy",
        _solver_inputs,
        rtol=1e-12,
        atol=1e-12,
        description="accuracy in eval mode, in batches, mode restored",
    ),
    Part(
        "initial_loss_check",
        1,
        "initial_loss_check",
        _initial_loss_inputs,
        rtol=1e-9,
        atol=1e-12,
        description="initial loss with and without regularization, vs log C",
    ),
    Part(
        "overfit_small_subset",
        1,
        "overfit_small_subset",
        _overfit_inputs,
        rtol=1e-7,
        atol=1e-10,
        description="training on a tiny subset (history compared)",
    ),
    Part(
        "lr_range_test",
        2,
        "lr_range_test",
        _range_inputs,
        rtol=1e-7,
        atol=1e-10,
        description="log-spaced learning rates and the loss after a short run at each",
    ),
    Part(
        "sample_hyperparams",
        2,
        "sample_hyperparams",
        _sample_inputs,
        compare=compare_sample,
        description="log-uniform / uniform / integer sampling (statistical)",
    ),
    Part(
        "random_search",
        1,
        "random_search",
        _search_inputs,
        seeds=2,
        compare=compare_search,
        description="random search: sampled trials, scores, best first",
    ),
    Part(
        "refine_space",
        1,
        "refine_space",
        _refine_inputs,
        rtol=1e-12,
        atol=1e-15,
        description="coarse-to-fine: bounds of the top-k trials",
    ),
    Part(
        "capstone",
        3,
        "capstone",
        _capstone_inputs,
        seeds=2,
        compare=compare_capstone,
        timeout=60.0,
        description="MLP + Solver + Adam on digits: reference loss history and >= 90% validation accuracy",
    ),
)
