"""Weight penalties and the max-norm constraint (topic 05).

Every penalty returns ``(value, grad)``: the scalar added to the loss and its gradient with respect to ``w``
(same shape as ``w``), so a training step is ``loss += value; dw += grad``.

Conventions (the same as PyTorch's ``weight_decay`` and scikit-learn's ``ElasticNet``):

* L1:          ``lam * sum|w|``                                   grad ``lam * sign(w)`` (0 at w == 0)
* L2:          ``lam / 2 * sum w**2``                              grad ``lam * w``  (weight decay ``lam``)
* elastic net: ``lam * (r * sum|w| + (1 - r) / 2 * sum w**2)``     grad ``lam * (r * sign(w) + (1 - r) * w)``
* Lp (p > 0):  ``lam * sum|w|**p``                                 grad ``lam * p * |w|**(p - 1) * sign(w)``
  (the source notes' form, without a 1/p: p = 1 is L1, p = 2 is twice ``l2_penalty``'s value)

Compute in float64 (NumPy's default): the grader compares to 1e-9 relative.
"""

from __future__ import annotations

import numpy as np

from deepkit.validate import as_float_array, check_int, check_positive, check_prob


def l1_penalty(w: np.ndarray, lam: float) -> tuple[float, np.ndarray]:
    """L1 penalty ``lam * sum(|w|)`` and its (sub)gradient ``lam * sign(w)``.

    w: array of any shape; lam >= 0. Returns (value: float, grad: array of w's shape). At ``w == 0`` use the
    subgradient 0 (what ``np.sign`` and torch's ``abs`` backward give).
    """
    w = as_float_array(w, "w")
    lam = check_positive(lam, "lam", allow_zero=True)
    raise NotImplementedError("Exercise 05_regularization: implement l1_penalty in lib/deepkit/regularizers.py")


def l2_penalty(w: np.ndarray, lam: float) -> tuple[float, np.ndarray]:
    """L2 penalty ``lam / 2 * sum(w**2)`` and its gradient ``lam * w`` (weight decay with coefficient lam).

    w: array of any shape; lam >= 0. Returns (value: float, grad: array of w's shape).
    """
    w = as_float_array(w, "w")
    lam = check_positive(lam, "lam", allow_zero=True)
    raise NotImplementedError("Exercise 05_regularization: implement l2_penalty in lib/deepkit/regularizers.py")


def elastic_net_penalty(w: np.ndarray, lam: float, l1_ratio: float) -> tuple[float, np.ndarray]:
    """Elastic net ``lam * (l1_ratio * sum|w| + (1 - l1_ratio) / 2 * sum w**2)`` and its gradient.

    w: any shape; lam >= 0; l1_ratio in [0, 1] (1 = pure L1, 0 = pure L2 with the 1/2 of ``l2_penalty``).
    Returns (value: float, grad: array of w's shape) = the l1_ratio-weighted sum of the two penalties.
    """
    w = as_float_array(w, "w")
    lam = check_positive(lam, "lam", allow_zero=True)
    l1_ratio = check_prob(l1_ratio, "l1_ratio")
    raise NotImplementedError("Exercise 05_regularization: implement elastic_net_penalty in lib/deepkit/regularizers.py")


def lp_penalty(w: np.ndarray, lam: float, p: float) -> tuple[float, np.ndarray]:
    """Lp penalty ``lam * sum(|w| ** p)`` and its (sub)gradient ``lam * p * |w| ** (p - 1) * sign(w)``.

    w: array of any shape; lam >= 0; p > 0. p > 1: smooth and convex, the gradient vanishes at 0 (weights shrink
    but do not reach 0: weight decay); p < 1: not convex, the gradient grows without bound as w -> 0 (small
    weights are pushed to exactly 0: sparsity). At ``w == 0`` use the gradient 0 for every p (for p < 1 the
    derivative is infinite there; 0 keeps a weight that is exactly 0 at 0, like L1's subgradient).
    Returns (value: float, grad: array of w's shape).
    """
    w = as_float_array(w, "w")
    lam = check_positive(lam, "lam", allow_zero=True)
    p = check_positive(p, "p")
    raise NotImplementedError("Exercise 05_regularization: implement lp_penalty in lib/deepkit/regularizers.py")


def max_norm_project(w: np.ndarray, c: float, axis: int = 0) -> np.ndarray:
    """Project ``w`` onto ``{||w_j||_2 <= c}``: every slice along ``axis`` whose norm exceeds c is rescaled to c.

    w: 2-D weights, e.g. (D, M) of an affine layer ``x @ w`` where column j holds neuron j's incoming weights:
    then ``axis=0`` (the norm is taken over the D inputs). c > 0. Returns a NEW array of w's shape; slices
    already inside the ball are unchanged. Used after each update: ``w = max_norm_project(w - lr * dw, c)``.
    """
    w = as_float_array(w, "w", ndim=2, shape_doc="(D, M)")
    c = check_positive(c, "c")
    axis = check_int(axis, "axis")
    if axis not in (0, 1, -1, -2):
        raise ValueError(f"axis must be 0 or 1 for a 2-D w, got {axis}")
    raise NotImplementedError("Exercise 05_regularization: implement max_norm_project in lib/deepkit/regularizers.py")
