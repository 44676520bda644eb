"""Linear scores, softmax, log-softmax, cross-entropy, the fused softmax + cross-entropy loss and its
label-smoothed variant.

Shapes: N examples, C classes. Scores (logits) are (N, C); labels y are (N,) integers in [0, C). Everything is
computed in float64. Softmax is computed after subtracting each row's maximum, which leaves the result
unchanged (softmax(z + c) = softmax(z) for any constant c per row) but keeps ``exp`` from overflowing.
"""

from __future__ import annotations

import numpy as np

from deepkit.layers import affine_forward
from deepkit.validate import as_float_array, as_labels, check_prob


def linear_scores(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Class scores of a linear classifier, ``X @ W + b`` (given: it is the affine layer without a cache).

    X: (N, D) examples; W: (D, C) one column of weights per class; b: (C,). Returns scores (N, C).
    """
    return affine_forward(X, W, b)[0]


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax ``p_ij = exp(z_ij) / sum_k exp(z_ik)``, stable for large scores.

    z: (N, C) scores (a 1-D array (C,) is treated as one row). Returns probabilities of z's shape; every row
    is positive and sums to 1. Subtract each row's maximum before ``exp`` so z = 1000 does not overflow.
    """
    z = as_float_array(z, "z", ndim=(1, 2), shape_doc="(N, C) or (C,)")
    ### BEGIN SOLUTION
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
    ### END SOLUTION


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise ``log softmax(z) = z - log sum_k exp(z_k)`` without forming the probabilities.

    z: (N, C) or (C,). Returns log-probabilities of z's shape (all <= 0). Use the max-shift inside the
    log-sum-exp: ``logsumexp(z) = m + log sum exp(z - m)`` with m the row maximum, so no exp overflows and no
    tiny probability is rounded to 0 before the log.
    """
    z = as_float_array(z, "z", ndim=(1, 2), shape_doc="(N, C) or (C,)")
    ### BEGIN SOLUTION
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    ### END SOLUTION


def cross_entropy(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy ``-(1/N) sum_i log probs[i, y_i]`` of predicted probabilities and true labels.

    probs: (N, C) rows of probabilities (e.g. from ``softmax``); y: (N,) integer labels in [0, C).
    Returns a Python float. A true-class probability of exactly 0 is clipped to the smallest positive float64
    (loss about 708 instead of infinity).
    """
    probs = as_float_array(probs, "probs", ndim=2, shape_doc="(N, C)")
    if probs.size and (probs.min() < 0 or probs.max() > 1):
        raise ValueError(f"probs must lie in [0, 1], got min {probs.min()} max {probs.max()}")
    y = as_labels(y, "y", probs.shape[0], probs.shape[1])
    ### BEGIN SOLUTION
    p_true = probs[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.maximum(p_true, np.finfo(np.float64).tiny))))
    ### END SOLUTION


def softmax_loss(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax followed by mean cross-entropy, and its gradient with respect to the scores.

    scores: (N, C) logits; y: (N,) integer labels in [0, C).
    Returns (loss, dscores): loss = -(1/N) sum_i log softmax(scores)[i, y_i] (a float) and
    dscores = (softmax(scores) - onehot(y)) / N, shape (N, C). Build the loss on ``log_softmax``.
    """
    scores = as_float_array(scores, "scores", ndim=2, shape_doc="(N, C)")
    y = as_labels(y, "y", scores.shape[0], scores.shape[1])
    ### BEGIN SOLUTION
    N = scores.shape[0]
    logp = log_softmax(scores)
    rows = np.arange(N)
    loss = float(-logp[rows, y].mean())
    dscores = np.exp(logp)
    dscores[rows, y] -= 1.0
    return loss, dscores / N
    ### END SOLUTION


def smoothed_softmax_loss(scores: np.ndarray, y: np.ndarray, eps: float = 0.1) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy against label-smoothed targets, and its gradient with respect to the scores.

    scores: (N, C) logits; y: (N,) integer labels in [0, C); eps in [0, 1]: how much of the target's mass is
    spread uniformly over ALL C classes (the true one included), as in ``torch.nn.functional.cross_entropy(...,
    label_smoothing=eps)``: the target of example i is ``q_i = (1 - eps) * onehot(y_i) + eps / C``.
    Returns (loss, dscores): loss = -(1/N) sum_i sum_j q_ij log softmax(scores)_ij (a float) and dscores, its
    gradient with respect to scores, shape (N, C) (derive it: exercise 01, Part 9). eps = 0 gives
    ``softmax_loss``; eps = 1 the cross-entropy against the uniform distribution. Build the loss on
    ``log_softmax``.
    """
    scores = as_float_array(scores, "scores", ndim=2, shape_doc="(N, C)")
    y = as_labels(y, "y", scores.shape[0], scores.shape[1])
    eps = check_prob(eps, "eps")
    ### BEGIN SOLUTION
    N, C = scores.shape
    logp = log_softmax(scores)
    q = np.full((N, C), eps / C)
    q[np.arange(N), y] += 1.0 - eps
    loss = float(-(q * logp).sum() / N)
    return loss, (np.exp(logp) - q) / N
    ### END SOLUTION
