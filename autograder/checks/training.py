"""Hidden checks for topic 09 (training capstone: preprocessing, PCA / whitening, Solver, babysitting helpers).

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
from autograder.spec import Misconception, Part

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


def _whitening_inputs(rng):
    """Correlated features with well separated variances (distinct eigenvalues), far from the origin (so a
    covariance without centring is visibly wrong), a validation set, and an eps large enough to matter."""
    d = int(rng.integers(3, 6))
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    scales = np.sort(rng.uniform(0.3, 3.0, size=d))[::-1] * (1.6 ** -np.arange(d))
    mixing = q * scales
    loc = rng.normal(size=d) * 3 + 2
    return {
        "X_train": rng.normal(size=(int(rng.integers(40, 80)), d)) @ mixing.T + loc,
        "X_val": rng.normal(size=(int(rng.integers(10, 20)), d)) @ mixing.T + loc + 0.5,
        "eps": float(rng.uniform(0.02, 0.2)),
        "k": int(rng.integers(1, d)),
    }


SIGN_FREE = ("eigvecs", "pca_train", "pca_val", "rotated_train", "rotated_val")  # one column per eigenvector


def compare_whitening(student, reference, inp):
    """Every output with allclose (rtol 1e-7); the columns that belong to one eigenvector each may have either
    sign (-u is an eigenvector as good as u): each is compared after taking the sign that matches best."""
    for key, ref in reference.items():
        ref = np.asarray(ref, dtype=np.float64)
        got, why = student_array(student, key, ref.shape)
        if got is None:
            return 0.0, why
        if key in SIGN_FREE:
            signs = np.sign(np.sum(got * ref, axis=0))
            got = got * np.where(signs == 0, 1.0, signs)
        if not np.allclose(got, ref, rtol=1e-7, atol=1e-9):
            err = float(np.linalg.norm(got - ref) / max(np.linalg.norm(got) + np.linalg.norm(ref), 1e-300))
            sign_note = " (compared up to the sign of each eigenvector)" if key in SIGN_FREE else ""
            return 0.0, f"{key}: values differ: relative error {err:.1e} (tolerance rtol 1e-07){sign_note}"
    return 1.0, "ok"


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
    # the batch has no example of the last class: C is the number of score columns (4), not max(y) + 1 or the
    # number of distinct labels (3)
    inp["y_train"] = inp["y_train"] % (inp["W"].shape[1] - 1)
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


# --------------------------------------------------------------------------------------------- known mistakes
# Wrong implementations written against the reference (trusted code; the grader names them, see spec.Misconception).
def _inverted_ratio(w_old, w_new):
    with np.errstate(all="ignore"):
        return float(np.linalg.norm(w_old) / np.linalg.norm(np.asarray(w_new) - w_old))


def _leaky_preprocess_split(data, mode="feature", scale=True):
    from deepkit import models

    data = models.as_data(data)
    every = np.concatenate([data[k] for k in ("X_train", "X_val", "X_test") if k in data])
    stats = models.fit_preprocess(every, mode, scale)  # fitted on every split: a leak
    return {k: (models.apply_preprocess(v, stats) if k.startswith("X") else v) for k, v in data.items()}, stats


def _unbiased_std_fit(X_train, mode="feature", scale=True):
    from deepkit import models

    stats = models.fit_preprocess(X_train, mode, scale)
    if scale:
        n = len(X_train) if mode == "feature" else X_train.shape[0] * X_train.shape[2] * X_train.shape[3]
        stats["std"] = np.where(stats["std"] == 1.0, 1.0, stats["std"] * math.sqrt(n / (n - 1)))  # ddof = 1
    return stats


def _initial_loss_classes_from_labels(model, X, y):
    from deepkit import solver

    return {**solver.initial_loss_check(model, X, y), "expected": math.log(int(np.max(y)) + 1)}


def _eps_added_std_fit(X_train, mode="feature", scale=True):
    """The common (X - mean) / (std + 1e-8): every std shifted by 1e-8 instead of the floor on tiny ones."""
    from deepkit import models

    stats = models.fit_preprocess(X_train, mode, scale)
    if scale:
        axes = 0 if mode == "feature" else (0, 2, 3)
        stats["std"] = np.asarray(X_train, dtype=np.float64).std(axis=axes) + 1e-8
    return stats


def _fit_whitening_with(centre=True, ddof=0, descending=True):
    def fit(X_train):
        X = np.asarray(X_train, dtype=np.float64)
        mean = X.mean(axis=0)
        Xc = X - mean if centre else X
        lam, U = np.linalg.eigh(Xc.T @ Xc / (len(X) - ddof))
        order = np.argsort(lam)[::-1] if descending else np.arange(len(lam))
        return {"mean": mean, "eigvals": np.maximum(lam[order], 0.0), "eigvecs": U[:, order]}

    return fit


def _pca_divide_by_eigvals(X, stats, k=None, eps=1e-5, whiten=True):
    from deepkit import models

    rotated = models.pca_whiten(X, stats, k, eps, whiten=False)
    lam = stats["eigvals"][: rotated.shape[1]]
    return rotated / (lam + eps) if whiten else rotated  # variance, not standard deviation


def _pca_eps_outside(X, stats, k=None, eps=1e-5, whiten=True):
    from deepkit import models

    rotated = models.pca_whiten(X, stats, k, eps, whiten=False)
    return rotated / (np.sqrt(stats["eigvals"][: rotated.shape[1]]) + eps) if whiten else rotated


def _zca_eps_outside(X, stats, eps=1e-5):
    U = stats["eigvecs"]
    return (X - stats["mean"]) @ (U / (np.sqrt(stats["eigvals"]) + eps)) @ U.T


def _zca_not_rotated_back(X, stats, eps=1e-5):
    from deepkit import models

    return models.pca_whiten(X, stats, eps=eps)  # PCA whitening: the rotation back by U.T is missing


def _zca_own_statistics(X, stats, eps=1e-5):
    from deepkit import models

    return models.zca_whiten(X, models.fit_whitening(X), eps)  # refits on whatever it is given


def _solver_with(**methods):
    """A factory for a Solver subclass with some methods replaced (the probes call ``dk.solver.Solver(...)``)."""

    def make(*args, **kwargs):
        from deepkit import solver

        return type("WrongSolver", (solver.Solver,), methods)(*args, **kwargs)

    return make


def _next_batch_in_order(self):
    if self.iteration % self.iters_per_epoch == 0 or self._batches is None:
        X, y = self.data["X_train"], self.data["y_train"]
        self._batches = iter(
            [(X[s : s + self.batch_size], y[s : s + self.batch_size]) for s in range(0, len(y), self.batch_size)]
        )
    return next(self._batches)


def _next_batch_reseeded(self):
    from deepkit import solver

    if self.iteration % self.iters_per_epoch == 0:
        self.rng = np.random.default_rng(self.seed)  # the same order every epoch
    return solver.Solver._next_batch(self)


def _end_epoch_without_decay(self):
    from deepkit import solver

    self.optim_config["lr"] /= self.lr_decay  # undo the decay step() applied
    solver.Solver._end_epoch(self)


def _end_epoch_before_decay(self):
    """_end_epoch() called before the decay: history["lr"] records the rate the epoch used, not the next one."""
    from deepkit import solver

    self.optim_config["lr"] /= self.lr_decay
    solver.Solver._end_epoch(self)
    self.optim_config["lr"] *= self.lr_decay


def _step_with_gradient_ratio(self):
    """Solver.step recording ||dw|| / ||w|| (the raw gradient, no learning rate) as the ratio."""
    X, y = self._next_batch()
    self.model.train()
    loss, grads = self.model.loss(X, y)
    self.history["loss"].append(float(loss))
    for name, w in self.model.params.items():
        w_new, self.optim_states[name] = self.step_fn(w, grads[name], self.optim_states[name], **self.optim_config)
        if name in self.history["ratios"]:
            self.history["ratios"][name].append(float(np.linalg.norm(grads[name]) / np.linalg.norm(w)))
        self.model.params[name] = w_new
    self.iteration += 1
    if self.iteration % self.iters_per_epoch == 0:
        self.optim_config["lr"] *= self.lr_decay
        self._end_epoch()
    return float(loss)


def _accuracy_in_train_mode(self, X, y, batch_size=500):
    return float(np.mean(np.argmax(self.model.loss(np.asarray(X, dtype=np.float64)), axis=1) == np.asarray(y)))


def _accuracy_mode_not_restored(self, X, y, batch_size=500):
    from deepkit import solver

    acc = solver.Solver.check_accuracy(self, X, y, batch_size)
    self.model.eval()  # left in eval mode: the next training steps run without dropout
    return acc


def _initial_loss_keeping_reg(model, X, y):
    previous = getattr(model, "mode", "train")
    model.eval()
    loss, _ = model.loss(X, y)  # reg is not set to 0: both numbers include the penalty
    model.train() if previous == "train" else model.eval()
    return {"loss_no_reg": float(loss), "loss_reg": float(loss), "expected": math.log(model.loss(X[:1]).shape[1])}


def _overfit_validating_elsewhere(
    model, data, num_examples=50, num_epochs=30, batch_size=25, optimizer="adam", optim_config=None, seed=0
):
    from deepkit import models, solver

    data = models.as_data(data)
    small = {**data, "X_train": data["X_train"][:num_examples], "y_train": data["y_train"][:num_examples]}
    return solver.Solver(
        model,
        small,
        optimizer=optimizer,
        optim_config=optim_config or {"lr": 1e-2},
        batch_size=batch_size,
        num_epochs=num_epochs,
        seed=seed,
        num_train_samples=None,
    ).train()


def _linspace_range_test(make_model, data, lr_min=1e-5, lr_max=1.0, num=11, **kw):
    from deepkit import solver

    _, losses = solver.lr_range_test(make_model, data, lr_min, lr_max, num, **kw)
    return np.linspace(lr_min, lr_max, num), losses


def _worst_first(student, inp) -> bool:
    """Trials sorted by score, but lowest first."""
    score = np.asarray(student.get("score", []), dtype=np.float64)
    return score.size > 1 and bool(np.all(np.diff(score) >= 0)) and score[-1] > score[0]


def _refine_worst(trials, space, top_k=3):
    from deepkit import solver

    flipped = [{**t, "score": -t["score"]} for t in trials]  # sorted the wrong way: the k WORST trials
    return solver.refine_space(flipped, space, top_k)


def _linear_log_samples(student, inp) -> bool:
    """Samples of the log-scaled 'lr' uniform on [low, high] itself instead of in log10."""
    lr = np.asarray(student.get("lr", []), dtype=np.float64)
    lo, hi, _ = SPACE["lr"]
    return lr.size > 100 and not _uniform_ok(lr, lo, hi, "lr") and bool(_uniform_ok(np.log10(lr), -5, -1, "lr"))


def _int_high_excluded(student, inp) -> bool:
    """'int' values that never reach the upper end (rng.integers(low, high) excludes high)."""
    h = np.asarray(student.get("h", []), dtype=np.float64)
    lo, hi, _ = SPACE["h"]
    return h.size > 100 and h.min() == lo and h.max() == hi - 1


def _mistake(says: str, section: int, replace: dict | None = None, detect=None) -> Misconception:
    return Misconception(says, f"lecture 09, section {section}", replace or {}, detect)


# sections of lectures/09_training.py
SEC_PREP, SEC_LOOP, SEC_BABYSIT, SEC_LR, SEC_SEARCH, SEC_MONITOR = 1, 2, 3, 4, 5, 6

PARTS = (
    Part(
        "preprocess",
        2,
        "preprocess",
        _preprocess_inputs,
        rtol=1e-9,
        atol=1e-12,
        description="per-feature / per-channel centring and scaling with training statistics only",
        misconceptions=(
            _mistake(
                "the statistics match those of train + validation + test together: fit on X_train only (a leak)",
                SEC_PREP,
                {"models.preprocess_split": _leaky_preprocess_split},
            ),
            _mistake(
                "the std matches the unbiased one (N - 1): use the population std, X.std(axis) (ddof = 0)",
                SEC_PREP,
                {"models.fit_preprocess": _unbiased_std_fit},
            ),
            _mistake(
                "the std matches std + 1e-8: keep the std exact and replace only the entries below STD_FLOOR "
                "(constant features) by 1, as the docstring says",
                SEC_PREP,
                {"models.fit_preprocess": _eps_added_std_fit},
            ),
        ),
    ),
    Part(
        "whitening",
        2,
        "whitening",
        _whitening_inputs,
        compare=compare_whitening,
        description="PCA and ZCA whitening with the training covariance (eigenvectors up to sign)",
        misconceptions=(
            _mistake(
                "the covariance matches X.T X / N of the UNcentred data: subtract the mean first",
                SEC_PREP,
                {"models.fit_whitening": _fit_whitening_with(centre=False)},
            ),
            _mistake(
                "the covariance matches the unbiased one (divided by N - 1): use Xc.T Xc / N",
                SEC_PREP,
                {"models.fit_whitening": _fit_whitening_with(ddof=1)},
            ),
            _mistake(
                "the eigenvalues are in np.linalg.eigh's ascending order: sort them (and their vectors) decreasing",
                SEC_PREP,
                {"models.fit_whitening": _fit_whitening_with(descending=False)},
            ),
            _mistake(
                "PCA whitening divides by the eigenvalues: divide by their square roots, sqrt(lam + eps)",
                SEC_PREP,
                {"models.pca_whiten": _pca_divide_by_eigvals},
            ),
            _mistake(
                "eps is added outside the square root, sqrt(lam) + eps: whitening uses sqrt(lam + eps)",
                SEC_PREP,
                {"models.pca_whiten": _pca_eps_outside, "models.zca_whiten": _zca_eps_outside},
            ),
            _mistake(
                "ZCA matches PCA whitening: rotate back with U.T after scaling",
                SEC_PREP,
                {"models.zca_whiten": _zca_not_rotated_back},
            ),
            _mistake(
                "ZCA refits the statistics on the data it is given: use the training statistics for every split",
                SEC_PREP,
                {"models.zca_whiten": _zca_own_statistics},
            ),
        ),
    ),
    Part(
        "update_weight_ratio",
        1,
        "update_weight_ratio",
        _ratio_inputs,
        rtol=1e-9,
        atol=1e-14,
        description="||w_new - w_old|| / ||w_old||",
        misconceptions=(
            _mistake(
                "the ratio is inverted, ||w_old|| / ||w_new - w_old||",
                SEC_MONITOR,
                {"solver.update_weight_ratio": _inverted_ratio},
            ),
        ),
    ),
    Part(
        "solver_step",
        3,
        "solver_step",
        _solver_inputs,
        rtol=1e-7,
        atol=1e-10,
        description="Solver: shuffled batches per epoch, updates, lr decay, loss and ratio history",
        misconceptions=(
            _mistake(
                "the loss history matches batches taken in a fixed order: draw a new permutation every epoch",
                SEC_LOOP,
                {"solver.Solver": _solver_with(_next_batch=_next_batch_in_order)},
            ),
            _mistake(
                "the loss history matches a generator re-seeded every epoch (the same order each time)",
                SEC_LOOP,
                {"solver.Solver": _solver_with(_next_batch=_next_batch_reseeded)},
            ),
            _mistake(
                "the learning rate is never decayed: multiply optim_config['lr'] by lr_decay at each epoch's end",
                SEC_LOOP,
                {"solver.Solver": _solver_with(_end_epoch=_end_epoch_without_decay)},
            ),
            _mistake(
                "history['lr'] holds each epoch's rate before its decay: multiply optim_config['lr'] by lr_decay "
                "first, then call self._end_epoch() (it records the rate the next epoch will use)",
                SEC_LOOP,
                {"solver.Solver": _solver_with(_end_epoch=_end_epoch_before_decay)},
            ),
            _mistake(
                "the ratios match ||dw|| / ||w|| (the raw gradient): use the actual update, ||w_new - w_old||",
                SEC_MONITOR,
                {"solver.Solver": _solver_with(step=_step_with_gradient_ratio)},
            ),
        ),
    ),
    Part(
        "check_accuracy",
        1,
        "check_accuracy",
        _solver_inputs,
        rtol=1e-12,
        atol=1e-12,
        description="accuracy in eval mode, in batches, mode restored",
        misconceptions=(
            _mistake(
                "the accuracy is measured in TRAIN mode: call model.eval() first (no dropout, running statistics)",
                SEC_LOOP,
                {"solver.Solver": _solver_with(check_accuracy=_accuracy_in_train_mode)},
            ),
            _mistake(
                "the model is left in eval mode: restore the mode it had before",
                SEC_LOOP,
                {"solver.Solver": _solver_with(check_accuracy=_accuracy_mode_not_restored)},
            ),
        ),
    ),
    Part(
        "initial_loss_check",
        1,
        "initial_loss_check",
        _initial_loss_inputs,
        rtol=1e-9,
        atol=1e-12,
        description="initial loss with and without regularization, vs log C",
        misconceptions=(
            _mistake(
                "both losses include the penalty: set model.reg = 0 for the first one (and restore it)",
                SEC_BABYSIT,
                {"solver.initial_loss_check": _initial_loss_keeping_reg},
            ),
            _mistake(
                "expected is log of the number of classes seen in y: C is the number of score columns (a batch "
                "need not hold every class)",
                SEC_BABYSIT,
                {"solver.initial_loss_check": _initial_loss_classes_from_labels},
            ),
        ),
    ),
    Part(
        "overfit_small_subset",
        1,
        "overfit_small_subset",
        _overfit_inputs,
        rtol=1e-7,
        atol=1e-10,
        description="training on a tiny subset (history compared)",
        misconceptions=(
            _mistake(
                "the validation accuracies are on the real validation set: the tiny subset is its own validation set",
                SEC_BABYSIT,
                {"solver.overfit_small_subset": _overfit_validating_elsewhere},
            ),
        ),
    ),
    Part(
        "lr_range_test",
        2,
        "lr_range_test",
        _range_inputs,
        rtol=1e-7,
        atol=1e-10,
        description="log-spaced learning rates and the loss after a short run at each",
        misconceptions=(
            _mistake(
                "the learning rates are linearly spaced: use np.logspace (equal steps in log10)",
                SEC_LR,
                {"solver.lr_range_test": _linspace_range_test},
            ),
        ),
    ),
    Part(
        "sample_hyperparams",
        2,
        "sample_hyperparams",
        _sample_inputs,
        compare=compare_sample,
        description="log-uniform / uniform / integer sampling (statistical)",
        misconceptions=(
            _mistake(
                "the log-scaled values are uniform on [low, high], not on [log10 low, log10 high]",
                SEC_SEARCH,
                detect=_linear_log_samples,
            ),
            _mistake(
                "'int' values never reach the upper end: rng.integers(low, high + 1) includes high",
                SEC_SEARCH,
                detect=_int_high_excluded,
            ),
        ),
    ),
    Part(
        "random_search",
        1,
        "random_search",
        _search_inputs,
        seeds=2,
        compare=compare_search,
        description="random search: sampled trials, scores, best first",
        misconceptions=(
            _mistake("the trials come worst first: sort by score, highest first", SEC_SEARCH, detect=_worst_first),
        ),
    ),
    Part(
        "refine_space",
        1,
        "refine_space",
        _refine_inputs,
        rtol=1e-12,
        atol=1e-15,
        description="coarse-to-fine: bounds of the top-k trials",
        misconceptions=(
            _mistake(
                "the new bounds come from the k WORST trials: keep the top_k highest scores",
                SEC_SEARCH,
                {"solver.refine_space": _refine_worst},
            ),
        ),
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
