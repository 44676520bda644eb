"""Offline data sets (given code): scikit-learn's bundled digits and generated 2-D problems. Never downloads.

Every function takes an explicit ``rng`` or ``seed`` and returns float64 features and int64 labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepkit.validate import check_int, check_positive, check_prob


@dataclass
class Split:
    """Train/validation/test arrays. X*: (N, D) or (N, 1, 8, 8) floats; y*: (N,) int64 labels."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_val.max(), self.y_test.max())) + 1


def load_digits(images: bool = False, val_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 0) -> Split:
    """The 1,797 8x8 handwritten digits bundled with scikit-learn (no download), pixel values scaled to [0, 1].

    images: False -> X of shape (N, 64); True -> (N, 1, 8, 8) for convolutions.
    The split is stratified-by-shuffle with ``seed``; fractions of the whole set go to validation and test.
    """
    from sklearn.datasets import load_digits as _sk_digits

    check_prob(val_fraction, "val_fraction", high_open=True)
    check_prob(test_fraction, "test_fraction", high_open=True)
    if val_fraction + test_fraction >= 1:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got {val_fraction + test_fraction}")
    d = _sk_digits()
    X = d.data.astype(np.float64) / 16.0
    y = d.target.astype(np.int64)
    if images:
        X = X.reshape(-1, 1, 8, 8)
    idx = np.random.default_rng(seed).permutation(len(y))
    n_val, n_test = int(round(val_fraction * len(y))), int(round(test_fraction * len(y)))
    te, va, tr = idx[:n_test], idx[n_test : n_test + n_val], idx[n_test + n_val :]
    return Split(X[tr], y[tr], X[va], y[va], X[te], y[te])


def make_moons(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles. Returns X (n, 2) and y (n,) in {0, 1}."""
    n = check_int(n, "n", minimum=2)
    check_positive(noise, "noise", allow_zero=True)
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n - n0)
    X = np.concatenate([np.c_[np.cos(t0), np.sin(t0)], np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]])
    X += rng.normal(scale=noise, size=X.shape)
    y = np.r_[np.zeros(n0, np.int64), np.ones(n - n0, np.int64)]
    p = rng.permutation(n)
    return X[p], y[p]


def make_spirals(
    n_per_class: int = 100, classes: int = 3, noise: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """CS231n-style spirals: ``classes`` arms of ``n_per_class`` points. Returns X (n, 2), y (n,)."""
    n_per_class = check_int(n_per_class, "n_per_class", minimum=1)
    classes = check_int(classes, "classes", minimum=2)
    check_positive(noise, "noise", allow_zero=True)
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k in range(classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, n_per_class) + rng.normal(scale=noise, size=n_per_class)
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(n_per_class, k, np.int64))
    X, y = np.concatenate(X), np.concatenate(y)
    p = rng.permutation(len(y))
    return X[p], y[p]


def minibatches(X: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator):
    """Yield shuffled (X_batch, y_batch) pairs covering the data once (the last batch may be smaller)."""
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    idx = rng.permutation(len(y))
    for s in range(0, len(y), batch_size):
        b = idx[s : s + batch_size]
        yield X[b], y[b]
