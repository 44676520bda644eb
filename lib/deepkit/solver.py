"""Training loop (Solver) and the babysitting checklist as code (topic 09, the capstone).

The Solver trains any model with a ``params`` dict and ``loss(X, y=None)`` (see ``deepkit.models``) with a
pure update rule of ``deepkit.optim`` (``OPTIMIZERS[name]`` or your own ``step(w, dw, state, **hyper)``).

Determinism contract (the hidden checks compare your loss history with the reference's, step by step):

* ``self.rng = np.random.default_rng(seed)``; each epoch's mini-batches come from
  ``deepkit.data.minibatches(X_train, y_train, batch_size, self.rng)`` (a fresh permutation every epoch,
  drawn when the epoch starts, in ``_next_batch``).
* One ``step()`` = one mini-batch: forward/backward in train mode, then every parameter is updated, in the order
  of ``model.params``, with its own optimizer state dict.
* At the end of every epoch the learning rate is multiplied by ``lr_decay`` (``optim_config["lr"]``).
* Accuracies are measured in EVAL mode (no dropout, running batchnorm statistics) and deterministically: the
  training accuracy on the first ``num_train_samples`` training examples, the validation accuracy on all of it.

Monitoring: ``history["ratios"][name]`` is the update/weight ratio ``||w_new - w_old|| / ||w_old||`` of every
weight matrix (params with 2 or more dimensions) at every step; around 1e-3 is healthy (Karpathy's rule of
thumb): much smaller -> learning rate too low, much larger (1e-1) -> too high.

Babysitting helpers: ``initial_loss_check`` (loss ~ log C at init, and higher with regularization),
``overfit_small_subset`` (a tiny subset must reach ~100% training accuracy), ``lr_range_test`` (short runs over
a log-spaced grid of learning rates), ``sample_hyperparams`` / ``random_search`` / ``refine_space``
(coarse-to-fine random search with log-uniform sampling) and ``grid_points`` (grid search, for comparison).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from deepkit.data import minibatches
from deepkit.models import as_data
from deepkit.optim import OPTIMIZERS
from deepkit.validate import as_float_array, check_int, check_positive, check_rng

SPACE_KINDS = ("log", "linear", "int")


def update_weight_ratio(w_old: np.ndarray, w_new: np.ndarray) -> float:
    """The size of one update relative to the weights: ``||w_new - w_old|| / ||w_old||`` (Frobenius norms).

    w_old: the weights before the step, w_new: after it (same shape). The update ``w_new - w_old`` already
    includes the learning rate (for SGD it is ``-lr * dw``): do NOT use the raw gradient. Returns a float
    (``inf`` if w_old is all zeros and the update is not; 0 if both are zero).
    """
    w_old = as_float_array(w_old, "w_old")
    w_new = as_float_array(w_new, "w_new")
    if w_new.shape != w_old.shape:
        raise ValueError(f"w_new must have the shape of w_old {w_old.shape}, got {w_new.shape}")
    raise NotImplementedError("Exercise 09_training: implement update_weight_ratio in lib/deepkit/solver.py")


def _set_mode(model: Any, mode: str) -> None:
    """Call ``model.train()`` or ``model.eval()`` when the model has them (given)."""
    fn = getattr(model, mode, None)
    if callable(fn):
        fn()


def _get_mode(model: Any) -> str:
    return getattr(model, "mode", "train")


class Solver:
    """Mini-batch training of ``model`` on ``data``.

    model: has ``params`` (dict name -> array) and ``loss(X, y=None)`` (scores, or (loss, grads)); optional
        ``train()`` / ``eval()`` mode switches.
    data: dict or ``deepkit.data.Split`` with X_train, y_train, X_val, y_val.
    optimizer: a name in ``deepkit.optim.OPTIMIZERS`` ("sgd", "sgd_momentum", "adam", ...) or a step function
        ``step(w, dw, state, **optim_config) -> (w_new, state_new)``.
    optim_config: keyword hyper-parameters for the step (must include "lr"; copied, never modified in place).
    lr_decay: the learning rate is multiplied by it after every epoch. batch_size, num_epochs: ints >= 1.
    seed: seeds ``self.rng`` (the mini-batch order). num_train_samples: how many training examples (the first
    ones) the per-epoch training accuracy uses (None = all). print_every: print the loss every that many
    iterations (0 = silent). callback: called as ``callback(solver)`` after every epoch.
    early_stopping: patience in epochs on the validation accuracy (None = off); training stops when the
    validation accuracy has not improved for that many epochs.

    After training ``model.params`` are the parameters of the epoch with the best validation accuracy.
    history: "loss" (per step), "train_acc", "val_acc", "lr" (per epoch), "ratios" (name -> per step).
    """

    def __init__(
        self,
        model: Any,
        data: Any,
        optimizer: str | Callable = "adam",
        optim_config: dict | None = None,
        lr_decay: float = 1.0,
        batch_size: int = 100,
        num_epochs: int = 10,
        seed: int = 0,
        num_train_samples: int | None = 1000,
        print_every: int = 0,
        callback: Callable[[Solver], None] | None = None,
        early_stopping: int | None = None,
    ) -> None:
        if not isinstance(getattr(model, "params", None), dict) or not callable(getattr(model, "loss", None)):
            raise TypeError("model must have a params dict and a loss(X, y=None) method (see deepkit.models)")
        self.model = model
        self.data = as_data(data)
        if isinstance(optimizer, str):
            if optimizer not in OPTIMIZERS:
                raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)} or a step function, got {optimizer!r}")
            self.step_fn = OPTIMIZERS[optimizer]
        elif callable(optimizer):
            self.step_fn = optimizer
        else:
            raise TypeError(f"optimizer must be a name or a step function, got {type(optimizer).__name__}")
        self.optim_config = dict(optim_config or {})
        if "lr" not in self.optim_config:
            raise ValueError("optim_config must give the learning rate, e.g. {'lr': 1e-3}")
        check_positive(self.optim_config["lr"], "optim_config['lr']")
        self.lr_decay = check_positive(lr_decay, "lr_decay")
        self.batch_size = check_int(batch_size, "batch_size", 1)
        self.num_epochs = check_int(num_epochs, "num_epochs", 1)
        self.num_train_samples = (
            None if num_train_samples is None else check_int(num_train_samples, "num_train_samples", 1)
        )
        self.print_every = check_int(print_every, "print_every", 0)
        self.callback = callback
        self.early_stopping = None if early_stopping is None else check_int(early_stopping, "early_stopping", 1)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.optim_states: dict[str, dict] = {name: {} for name in model.params}
        self.iters_per_epoch = math.ceil(len(self.data["y_train"]) / self.batch_size)
        self.num_iterations = self.iters_per_epoch * self.num_epochs
        self.iteration = 0
        self.epoch = 0
        self.stopped = False
        self._batches: Iterator | None = None
        self.best_val_acc = -1.0
        self.best_params = copy.deepcopy(model.params)
        self._bad_epochs = 0
        self.history: dict[str, Any] = {
            "loss": [],
            "train_acc": [],
            "val_acc": [],
            "lr": [],
            "ratios": {name: [] for name, w in model.params.items() if np.ndim(w) >= 2},
        }

    # ------------------------------------------------------------------------------------- given plumbing
    @property
    def done(self) -> bool:
        """True when all epochs ran or training was stopped (early stopping or ``stop()``)."""
        return self.stopped or self.iteration >= self.num_iterations

    def stop(self) -> None:
        """Stop training after the current step (the dashboard's Stop button calls this)."""
        self.stopped = True

    def _end_epoch(self) -> None:
        """Record accuracies, keep the best parameters, early stopping, printing and the callback (given)."""
        self.epoch += 1
        n = self.num_train_samples
        train_acc = self.check_accuracy(self.data["X_train"][:n], self.data["y_train"][:n])
        val_acc = self.check_accuracy(self.data["X_val"], self.data["y_val"])
        self.history["train_acc"].append(train_acc)
        self.history["val_acc"].append(val_acc)
        self.history["lr"].append(float(self.optim_config["lr"]))
        if val_acc > self.best_val_acc:
            self.best_val_acc, self._bad_epochs = val_acc, 0
            self.best_params = copy.deepcopy(self.model.params)
        else:
            self._bad_epochs += 1
            if self.early_stopping is not None and self._bad_epochs >= self.early_stopping:
                self.stopped = True
        if self.print_every:
            print(f"(epoch {self.epoch} / {self.num_epochs}) train acc {train_acc:.3f}; val acc {val_acc:.3f}")
        if self.callback is not None:
            self.callback(self)

    def restore_best(self) -> None:
        """Put the parameters of the best epoch (validation accuracy) back into the model; nothing happens
        before the first epoch has ended (there is no best epoch yet)."""
        if self.history["val_acc"]:
            self.model.params.update(copy.deepcopy(self.best_params))

    def train(self) -> Solver:
        """Run ``step()`` until done, then restore the best parameters. Returns self."""
        while not self.done:
            self.step()
        self.restore_best()
        return self

    def run(self, chunk: int = 10) -> Iterator[int]:
        """Generator API for dashboards: train ``chunk`` steps at a time, yielding the iteration count after
        each chunk, until done (``stop()`` between chunks ends it). Restores the best parameters at the end,
        also when the caller closes the generator early."""
        chunk = check_int(chunk, "chunk", 1)
        try:
            while not self.done:
                for _ in range(chunk):
                    if self.done:
                        break
                    self.step()
                yield self.iteration
        finally:
            self.restore_best()

    # ------------------------------------------------------------------------------------- student parts
    def _next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The next mini-batch (X_batch, y_batch).

        At the start of every epoch (``self.iteration`` a multiple of ``iters_per_epoch``) start a NEW shuffled
        pass ``self._batches = minibatches(X_train, y_train, batch_size, self.rng)`` (``deepkit.data``), then
        return ``next(self._batches)``. Never re-create ``self.rng`` (same order every epoch) and never skip the
        shuffle: both change what the network sees and the hidden checks compare your loss history.
        """
        raise NotImplementedError("Exercise 09_training: implement _next_batch in lib/deepkit/solver.py")

    def step(self) -> float:
        """One iteration: a mini-batch (``self._next_batch()``), the model's loss and gradients in TRAIN mode,
        one update of every parameter (in ``model.params`` order, each with ``self.optim_states[name]``, via
        ``self.step_fn(w, dw, state, **self.optim_config)``), and the bookkeeping:

        * append the loss (a float) to ``history["loss"]``;
        * for every weight in ``history["ratios"]`` append ``update_weight_ratio(w_old, w_new)``;
        * ``self.iteration += 1``; print when ``print_every`` divides it;
        * at the end of an epoch (iteration a multiple of ``iters_per_epoch``): multiply
          ``optim_config["lr"]`` by ``lr_decay``, then call ``self._end_epoch()``.

        Returns the mini-batch loss.
        """
        if self.done:
            raise RuntimeError("training is finished (all epochs ran or stop() was called)")
        raise NotImplementedError("Exercise 09_training: implement step in lib/deepkit/solver.py")

    def check_accuracy(self, X: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
        """Fraction of examples whose highest score is the true label, measured in EVAL mode.

        X: (N, ...) examples, y: (N,) labels. Scores are computed in batches of ``batch_size`` with
        ``model.loss(X_batch)``; the model's previous mode (``model.mode``) is restored afterwards.
        Returns a float in [0, 1].
        """
        X = as_float_array(X, "X")
        y = np.asarray(y)
        if len(X) != len(y) or len(y) == 0:
            raise ValueError(f"X and y must be non-empty and of the same length, got {len(X)} and {len(y)}")
        batch_size = check_int(batch_size, "batch_size", 1)
        raise NotImplementedError("Exercise 09_training: implement check_accuracy in lib/deepkit/solver.py")


# ------------------------------------------------------------------------------------------ babysitting
def initial_loss_check(model: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The first sanity check, before any training: the loss at initialisation.

    With small random weights every class gets about the same score, so the softmax loss is about
    ``log(C)`` (C = number of classes, 2.303 for 10). Adding regularization must INCREASE it.
    model: with ``params``, ``loss`` and a ``reg`` attribute; X, y: a batch of examples and labels.
    Computes, in EVAL mode (no dropout noise), the loss with ``model.reg`` temporarily set to 0 and the loss
    with the model's own ``reg``; restores the model's reg and mode.
    Returns {"loss_no_reg", "loss_reg", "expected"} with expected = log(C), C = the number of score columns.
    """
    if not hasattr(model, "reg"):
        raise TypeError("model must have a reg attribute (the L2 strength) for initial_loss_check")
    X = as_float_array(X, "X")
    raise NotImplementedError("Exercise 09_training: implement initial_loss_check in lib/deepkit/solver.py")


def overfit_small_subset(
    model: Any,
    data: Any,
    num_examples: int = 50,
    num_epochs: int = 30,
    batch_size: int = 25,
    optimizer: str | Callable = "adam",
    optim_config: dict | None = None,
    seed: int = 0,
) -> Solver:
    """Train ``model`` (no regularization, please) on the first ``num_examples`` training examples only, with
    the same examples as "validation" set, and return the finished Solver.

    A model that cannot drive the loss to ~0 and the training accuracy to 1.0 on a few dozen examples has a
    bug (or far too little capacity / a wrong learning rate): fix that before training on everything.
    """
    data = as_data(data)
    num_examples = check_int(num_examples, "num_examples", 1)
    raise NotImplementedError("Exercise 09_training: implement overfit_small_subset in lib/deepkit/solver.py")


def lr_range_test(
    make_model: Callable[[], Any],
    data: Any,
    lr_min: float = 1e-5,
    lr_max: float = 1.0,
    num: int = 11,
    num_iters: int = 30,
    batch_size: int = 50,
    optimizer: str | Callable = "sgd",
    optim_config: dict | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Learning-rate range test: a short run per learning rate on a LOG-spaced grid.

    lrs = ``num`` values from lr_min to lr_max equally spaced in log10 (``np.logspace``), both ends included.
    For each lr: a fresh model ``make_model()``, a Solver(optimizer, {**optim_config, "lr": lr}, batch_size,
    seed) run for ``num_iters`` steps, then the loss on the whole training set in EVAL mode (the model's loss
    with y). A run that blows up (non-finite numbers, ValueError/FloatingPointError from a layer) scores inf.
    Returns (lrs, losses), both of shape (num,). Too small an lr barely moves the loss; too large an lr makes
    it explode; pick a value somewhat below the one with the lowest loss.
    """
    lr_min = check_positive(lr_min, "lr_min")
    lr_max = check_positive(lr_max, "lr_max")
    if lr_max <= lr_min:
        raise ValueError(f"lr_max must be > lr_min, got lr_min={lr_min}, lr_max={lr_max}")
    num = check_int(num, "num", 2)
    num_iters = check_int(num_iters, "num_iters", 1)
    data = as_data(data)
    raise NotImplementedError("Exercise 09_training: implement lr_range_test in lib/deepkit/solver.py")


def _check_space(space: Any) -> dict[str, tuple]:
    if not isinstance(space, dict) or not space:
        raise TypeError(
            "space must be a non-empty dict name -> (low, high, kind), kind in "
            f"{SPACE_KINDS}, e.g. {{'lr': (1e-4, 1e-1, 'log')}}"
        )
    out = {}
    for name, spec in space.items():
        if not (isinstance(spec, (tuple, list)) and len(spec) == 3 and spec[2] in SPACE_KINDS):
            raise ValueError(f"space[{name!r}] must be (low, high, kind) with kind in {SPACE_KINDS}, got {spec!r}")
        lo, hi, kind = float(spec[0]), float(spec[1]), spec[2]
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            raise ValueError(f"space[{name!r}] needs finite low <= high, got ({lo}, {hi})")
        if kind == "log" and lo <= 0:
            raise ValueError(f"space[{name!r}] is log-scaled: low must be > 0, got {lo}")
        out[name] = (lo, hi, kind)
    return out


def sample_hyperparams(space: dict, rng: np.random.Generator) -> dict[str, float | int]:
    """One random configuration from ``space`` (name -> (low, high, kind)), drawn in the order of the dict.

    kind "log": LOG-UNIFORM, ``10 ** rng.uniform(log10(low), log10(high))`` (each decade equally likely:
    learning rates and regularization strengths act multiplicatively); "linear": ``rng.uniform(low, high)``;
    "int": ``int(rng.integers(low, high + 1))`` (both ends included). Returns name -> value.
    """
    space = _check_space(space)
    rng = check_rng(rng)
    raise NotImplementedError("Exercise 09_training: implement sample_hyperparams in lib/deepkit/solver.py")


def random_search(evaluate: Callable[..., float], space: dict, num_trials: int, rng: np.random.Generator) -> list[dict]:
    """Random search: ``num_trials`` configurations from ``sample_hyperparams(space, rng)``, each scored by
    ``evaluate(**params)`` (higher is better, e.g. the validation accuracy).

    Returns the trials as a list of {"params": dict, "score": float}, sorted best first (ties keep the order in
    which they were drawn).
    """
    space = _check_space(space)
    num_trials = check_int(num_trials, "num_trials", 1)
    rng = check_rng(rng)
    raise NotImplementedError("Exercise 09_training: implement random_search in lib/deepkit/solver.py")


def refine_space(trials: list[dict], space: dict, top_k: int = 3) -> dict[str, tuple]:
    """Coarse-to-fine: the new search space spanned by the ``top_k`` best trials.

    trials: as returned by ``random_search`` (any order); space: the space they were drawn from.
    For each name: (min, max) of the values of the top_k highest-scoring trials, with the same kind.
    Returns the new space dict (search it again with more trials, then refine again).
    """
    space = _check_space(space)
    top_k = check_int(top_k, "top_k", 1)
    if not trials:
        raise ValueError("trials must not be empty")
    raise NotImplementedError("Exercise 09_training: implement refine_space in lib/deepkit/solver.py")


def grid_points(space: dict, per_axis: int) -> list[dict[str, float | int]]:
    """Grid search's configurations (given, for the grid-vs-random comparison): ``per_axis`` values per name,
    log-spaced for "log", linear otherwise (rounded for "int"), all combinations (per_axis ** len(space))."""
    space = _check_space(space)
    per_axis = check_int(per_axis, "per_axis", 1)
    axes = []
    for lo, hi, kind in space.values():
        vals = np.logspace(np.log10(lo), np.log10(hi), per_axis) if kind == "log" else np.linspace(lo, hi, per_axis)
        axes.append([int(round(v)) for v in vals] if kind == "int" else [float(v) for v in vals])
    mesh = np.meshgrid(*[np.arange(per_axis)] * len(axes), indexing="ij")
    idx = np.stack([m.ravel() for m in mesh], axis=1)
    return [{name: axes[j][i] for j, (name, i) in enumerate(zip(space, row))} for row in idx]
