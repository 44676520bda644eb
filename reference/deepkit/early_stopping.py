"""Early stopping on a validation curve (topic 05).

Typical use::

    stopper = EarlyStopping(patience=5, min_delta=1e-3, mode="min")
    for epoch in range(max_epochs):
        train_one_epoch(params)
        if stopper.step(val_loss(params), params):
            break
    params = stopper.best_params        # roll back to the best epoch
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from deepkit.validate import check_int, check_positive


class EarlyStopping:
    """Stop when the validation metric has not improved for ``patience`` consecutive epochs.

    patience: int >= 1; min_delta >= 0: an epoch improves only if it beats the best so far by MORE than
    min_delta (``metric < best - min_delta`` for mode "min", ``metric > best + min_delta`` for "max").
    The first call always improves (best starts at +inf for "min", -inf for "max").

    Attributes after each ``step``: ``epoch`` (index of the call just made, from 0), ``best`` (best metric),
    ``best_epoch`` (its epoch index, -1 before any step), ``best_params`` (a deep copy of the params passed
    at the best epoch, or None), ``num_bad_epochs`` (consecutive epochs without improvement), ``stopped``.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, mode: str = "min") -> None:
        self.patience = check_int(patience, "patience", 1)
        self.min_delta = check_positive(min_delta, "min_delta", allow_zero=True)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' (loss) or 'max' (accuracy), got {mode!r}")
        self.mode = mode
        self.best = np.inf if mode == "min" else -np.inf
        self.best_epoch = -1
        self.best_params: Any = None
        self.num_bad_epochs = 0
        self.epoch = -1
        self.stopped = False

    def step(self, val_metric: float, params: Any = None) -> bool:
        """Record one epoch's validation metric (and optionally the params to keep if it is the best).

        Returns True when training should stop: on the ``patience``-th consecutive epoch without improvement
        (with patience=2 and metrics 1.0, 1.0, 1.0 the third call returns True; the second returns False).
        """
        if isinstance(val_metric, bool) or not isinstance(val_metric, (int, float, np.integer, np.floating)):
            raise TypeError(f"val_metric must be a real number, got {type(val_metric).__name__}")
        val_metric = float(val_metric)
        if np.isnan(val_metric):
            raise ValueError("val_metric is NaN (did training diverge?)")
        ### BEGIN SOLUTION
        self.epoch += 1
        if self.mode == "min":
            improved = val_metric < self.best - self.min_delta
        else:
            improved = val_metric > self.best + self.min_delta
        if improved:
            self.best = val_metric
            self.best_epoch = self.epoch
            self.best_params = copy.deepcopy(params)
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        self.stopped = self.num_bad_epochs >= self.patience
        return self.stopped
        ### END SOLUTION
