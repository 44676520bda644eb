"""Probes for topic 09 (training capstone): numpy + stdlib only.

Most parts train a tiny probe-local model (``ProbeModel``) with a probe-local optimizer step, so the Solver's
logic is graded on its own, whatever the state of the student's earlier topics. Its train mode adds a fixed
bias towards class 0 to the scores (a stand-in for dropout noise), so an accuracy measured in train mode, or a
loss computed in the wrong mode, differs from the reference. Only the ``capstone`` part runs the student's
whole library (models.MLP -> layers, losses, optim.adam_step) from trusted initial weights.
"""

import math

import numpy as np

TRAIN_BIAS = 3.0


class ProbeModel:
    """scores = X @ W + (X * X) @ V + b (+ TRAIN_BIAS on class 0 in train mode); softmax loss + 0.5 reg ||W||^2."""

    def __init__(self, W, V, b, reg=0.0):
        self.params = {
            "W": np.array(W, dtype=np.float64),
            "V": np.array(V, dtype=np.float64),
            "b": np.array(b, dtype=np.float64),
        }
        self.reg = float(reg)
        self.mode = "train"

    def train(self):
        self.mode = "train"
        return self

    def eval(self):
        self.mode = "eval"
        return self

    def loss(self, X, y=None):
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        p = self.params
        scores = X @ p["W"] + (X * X) @ p["V"] + p["b"]
        if self.mode == "train":
            scores = scores.copy()
            scores[:, 0] += TRAIN_BIAS
        if y is None:
            return scores
        y = np.asarray(y, dtype=np.int64)
        n = len(y)
        shifted = scores - scores.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -logp[np.arange(n), y].mean() + 0.5 * self.reg * np.sum(p["W"] ** 2)
        ds = np.exp(logp)
        ds[np.arange(n), y] -= 1.0
        ds /= n
        grads = {"W": X.T @ ds + self.reg * p["W"], "V": (X * X).T @ ds, "b": ds.sum(axis=0)}
        return float(loss), grads


def momentum_step(w, dw, state, lr=0.1, momentum=0.9):
    """torch-style heavy ball, local to the probe (the Solver must call it with its per-parameter state)."""
    v = momentum * state.get("v", np.zeros_like(w)) + dw
    return w - lr * v, {"v": v}


def _model(inp):
    return ProbeModel(inp["W"], inp["V"], inp["b"], float(inp.get("reg", 0.0)))


def _data(inp):
    return {"X_train": inp["X_train"], "y_train": inp["y_train"], "X_val": inp["X_val"], "y_val": inp["y_val"]}


def _arr(v):
    return np.asarray(v, dtype=np.float64)


def _pair(result, name, what):
    """A two-element result, or a TypeError that says what the function must return."""
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        got = f"{type(result).__name__} of length {len(result)}" if isinstance(result, (tuple, list)) else None
        raise TypeError(f"{name} must return {what}, got {got or type(result).__name__}")
    return result


# ------------------------------------------------------------------------------------------ preprocess
def preprocess(dk, inp):
    m = dk.models
    data = {k: inp[k] for k in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")}
    flat = {k: (v.reshape(len(v), -1) if k.startswith("X") else v) for k, v in data.items()}
    out = {}
    for mode, d in (("feature", flat), ("channel", data)):
        for scale in (True, False):
            new, stats = _pair(m.preprocess_split(d, mode=mode, scale=scale), "preprocess_split", "(data, stats)")
            tag = f"{mode}_{'scaled' if scale else 'centred'}"
            out[f"{tag}_mean"] = _arr(stats["mean"])
            out[f"{tag}_std"] = _arr(stats["std"])
            for split in ("train", "val", "test"):
                out[f"{tag}_X_{split}"] = _arr(new[f"X_{split}"])
    stats = m.fit_preprocess(data["X_val"], mode="channel")
    out["apply_val_stats"] = _arr(m.apply_preprocess(data["X_test"], stats))
    return out


def whitening(dk, inp):
    """PCA / whitening statistics from the training set, applied to the training and validation sets."""
    m = dk.models
    eps, k = float(inp["eps"]), int(inp["k"])
    stats = m.fit_whitening(inp["X_train"])
    if not isinstance(stats, dict):
        raise TypeError(
            f"fit_whitening must return a dict with 'mean', 'eigvals', 'eigvecs', got {type(stats).__name__}"
        )
    out = {"mean": _arr(stats["mean"]), "eigvals": _arr(stats["eigvals"]), "eigvecs": _arr(stats["eigvecs"])}
    for split in ("train", "val"):
        X = inp[f"X_{split}"]
        out[f"pca_{split}"] = _arr(m.pca_whiten(X, stats, k=k, eps=eps))
        out[f"rotated_{split}"] = _arr(m.pca_whiten(X, stats, whiten=False))
        out[f"zca_{split}"] = _arr(m.zca_whiten(X, stats, eps=eps))
    return out


# --------------------------------------------------------------------------------------------- solver
def update_weight_ratio(dk, inp):
    f = dk.solver.update_weight_ratio
    ratios = [f(inp["w_old"][k], inp["w_new"][k]) for k in range(len(inp["w_old"]))]
    zero = np.zeros_like(inp["w_old"][0])  # edges: zero weights (a bias at init) with and without an update
    edges = [f(zero, zero) == 0.0, math.isinf(f(zero, inp["w_new"][0]))]
    return {"ratio": _arr(ratios), "zero_weight_edges": _arr(edges)}


def _run_solver(dk, inp, **extra):
    model = _model(inp)
    solver = dk.solver.Solver(
        model,
        _data(inp),
        optimizer=momentum_step,
        optim_config={"lr": float(inp["lr"]), "momentum": 0.9},
        lr_decay=float(inp["lr_decay"]),
        batch_size=int(inp["batch_size"]),
        num_epochs=int(inp["num_epochs"]),
        seed=int(inp["seed"]),
        num_train_samples=int(inp["num_train_samples"]),
        **extra,
    )
    return model, solver


def solver_step(dk, inp):
    model, solver = _run_solver(dk, inp)
    solver.train()
    h = solver.history
    # accuracies are graded by check_accuracy, not here: this part is the step logic alone
    return {
        "loss": _arr(h["loss"]),
        "ratio_W": _arr(h["ratios"]["W"]),
        "ratio_V": _arr(h["ratios"]["V"]),
        "lr": _arr(h["lr"]),
        "iteration": _arr(solver.iteration),
    }


def check_accuracy(dk, inp):
    model, solver = _run_solver(dk, inp)
    acc = solver.check_accuracy(inp["X_val"], inp["y_val"], batch_size=7)
    mode_after = model.mode == "train"
    model.eval()
    acc2 = solver.check_accuracy(inp["X_train"], inp["y_train"])
    model.train()
    X, y = inp["X_train"], inp["y_train"]
    per_class = [solver.check_accuracy(X[y == c], y[y == c]) for c in np.unique(y)]  # train-mode noise shows here
    return {
        "acc": _arr(acc),
        "acc_train": _arr(acc2),
        "acc_per_class": _arr(per_class),
        "restored_train": _arr(mode_after),
        "restored_eval": _arr(model.mode == "train"),
    }


def initial_loss_check(dk, inp):
    model = _model(inp)
    res = dk.solver.initial_loss_check(model, inp["X_train"], inp["y_train"])
    return {
        "loss_no_reg": _arr(res["loss_no_reg"]),
        "loss_reg": _arr(res["loss_reg"]),
        "expected": _arr(res["expected"]),
        "reg_after": _arr(model.reg),
        "mode_after_train": _arr(model.mode == "train"),
    }


def overfit_small_subset(dk, inp):
    model = _model(inp)
    solver = dk.solver.overfit_small_subset(
        model,
        _data(inp),
        num_examples=int(inp["num_examples"]),
        num_epochs=int(inp["num_epochs"]),
        batch_size=int(inp["batch_size"]),
        optimizer=momentum_step,
        optim_config={"lr": float(inp["lr"]), "momentum": 0.9},
        seed=int(inp["seed"]),
    )
    h = solver.history
    return {"loss": _arr(h["loss"]), "train_acc": _arr(h["train_acc"]), "val_acc": _arr(h["val_acc"])}


def lr_range_test(dk, inp):
    lrs, losses = _pair(
        dk.solver.lr_range_test(
            lambda: _model(inp),
            _data(inp),
            lr_min=float(inp["lr_min"]),
            lr_max=float(inp["lr_max"]),
            num=int(inp["num"]),
            num_iters=int(inp["num_iters"]),
            batch_size=int(inp["batch_size"]),
            optimizer=momentum_step,
            optim_config={"momentum": 0.9},
            seed=int(inp["seed"]),
        ),
        "lr_range_test",
        "(lrs, losses)",
    )
    return {"lrs": _arr(lrs), "losses": _arr(losses)}


# ------------------------------------------------------------------------------------------ search
SPACE = {"lr": (1e-5, 1e-1, "log"), "reg": (1e-4, 1.0, "log"), "p": (0.1, 0.5, "linear"), "h": (10, 20, "int")}


def sample_hyperparams(dk, inp):
    rng = np.random.default_rng(int(inp["seed"]))
    draws = [dk.solver.sample_hyperparams(SPACE, rng) for _ in range(int(inp["n"]))]
    return {name: _arr([d[name] for d in draws]) for name in SPACE}


def search_score(lr, reg, p, h):
    """The probe's stand-in for 'train and return the validation accuracy' (peak at lr=1e-3, reg=1e-2)."""
    return -((math.log10(lr) + 3.0) ** 2) - 0.5 * (math.log10(reg) + 2.0) ** 2 - (p - 0.3) ** 2 - 0.01 * h


def random_search(dk, inp):
    trials = dk.solver.random_search(
        search_score, SPACE, int(inp["num_trials"]), np.random.default_rng(int(inp["seed"]))
    )
    out = {name: _arr([t["params"][name] for t in trials]) for name in SPACE}
    out["score"] = _arr([t["score"] for t in trials])
    return out


def refine_space(dk, inp):
    trials = [
        {
            "params": {name: (int(inp[name][i]) if SPACE[name][2] == "int" else float(inp[name][i])) for name in SPACE},
            "score": float(inp["score"][i]),
        }
        for i in range(len(inp["score"]))
    ]
    new = dk.solver.refine_space(trials, SPACE, top_k=int(inp["top_k"]))
    return {name: _arr(new[name][:2]) for name in SPACE}


# ------------------------------------------------------------------------------------------ capstone
def capstone(dk, inp):
    model = dk.models.MLP(input_dim=inp["X_train"].shape[1], hidden_dims=(inp["W1"].shape[1],), num_classes=10, seed=0)
    for key in ("W1", "b1", "W2", "b2"):
        model.params[key] = inp[key].copy()
    solver = dk.solver.Solver(
        model,
        _data(inp),
        optimizer="adam",
        optim_config={"lr": float(inp["lr"])},
        batch_size=int(inp["batch_size"]),
        num_epochs=int(inp["num_epochs"]),
        seed=int(inp["seed"]),
        lr_decay=0.9,
    )
    solver.train()
    return {
        "loss": _arr(solver.history["loss"]),
        "val_acc": _arr(solver.history["val_acc"]),
        "final_val_acc": _arr(solver.check_accuracy(inp["X_val"], inp["y_val"])),
    }
