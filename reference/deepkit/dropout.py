"""The dropout family (topic 05): inverted dropout, DropConnect, SpatialDropout and DropBlock.

All layers are *inverted*: during training the kept values are scaled up (by ``1 / (1 - p_drop)``, or for
DropBlock by ``count(mask) / count_ones(mask)``) so that evaluation is the identity, like ``torch.nn.Dropout``.
``mode`` is ``"train"`` (random masks) or ``"eval"`` (deterministic identity / plain affine), the same
semantics as ``model.train()`` / ``model.eval()``. Randomness comes only from the ``rng`` argument.

Masks hold 1 for a kept unit and 0 for a dropped one. ``p_drop`` is the probability of DROPPING a unit
(PyTorch's ``p``); DropBlock is parametrised, as in its paper, by ``keep_prob = 1 - drop rate``.
"""

from __future__ import annotations

import numpy as np

from deepkit.validate import as_float_array, check_int, check_prob, check_rng

MODES = ("train", "eval")


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
    return mode


# ----------------------------------------------------------------------------------------------- dropout
def dropout_forward(x: np.ndarray, p_drop: float, mode: str, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Inverted dropout.

    x: array of any shape; p_drop in [0, 1]: probability of zeroing each element independently.
    train: ``out = x * m / (1 - p_drop)`` with ``m ~ Bernoulli(1 - p_drop)`` elementwise, drawn any way you
    like from ``rng``; at the edges ``p_drop == 0`` gives ``out = x`` and ``p_drop == 1`` gives all zeros (no
    division by zero). eval: ``out = x`` (no randomness used). Returns (out of x's shape, cache for the
    backward).
    """
    x = as_float_array(x, "x")
    p_drop = check_prob(p_drop, "p_drop")
    _check_mode(mode)
    check_rng(rng)
    ### BEGIN SOLUTION
    if mode == "eval" or p_drop == 0.0:
        return x.copy(), {"scaled_mask": None}
    keep = 1.0 - p_drop
    scaled_mask = (rng.random(x.shape) < keep) / keep if keep > 0 else np.zeros(x.shape)
    return x * scaled_mask, {"scaled_mask": scaled_mask}
    ### END SOLUTION


def dropout_backward(dout: np.ndarray, cache: dict) -> np.ndarray:
    """Backward of ``dropout_forward``: dx = dout * (the same scaled mask), or dout itself in eval mode
    (all zeros after a forward with p_drop == 1).

    dout: upstream gradient, shape of the forward's out. Returns dx of the same shape.
    """
    dout = as_float_array(dout, "dout")
    ### BEGIN SOLUTION
    m = cache["scaled_mask"]
    return dout.copy() if m is None else dout * m
    ### END SOLUTION


# ------------------------------------------------------------------------------------------- DropConnect
def dropconnect_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, p_drop: float, mode: str, rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    """DropConnect affine layer: drop WEIGHTS, not activations (Wan et al., 2013), inverted scaling.

    x: (N, D); w: (D, M); b: (M,). train: one mask ``R ~ Bernoulli(1 - p_drop)`` of w's shape for the whole
    mini-batch (elementwise, ``R (.) W``; there is no mask on the output), ``out = x @ (w * R / (1 - p_drop))
    + b`` (b is never dropped; p_drop == 1 drops every weight: ``out = b``); eval: ``out = x @ w + b`` (the
    mean-field approximation of averaging over masks). Returns (out (N, M), cache).
    """
    x = as_float_array(x, "x", ndim=2, shape_doc="(N, D)")
    w = as_float_array(w, "w", ndim=2, shape_doc="(D, M)")
    b = as_float_array(b, "b", ndim=1, shape_doc="(M,)")
    if w.shape[0] != x.shape[1] or b.shape[0] != w.shape[1]:
        raise ValueError(f"shapes must be x (N, D), w (D, M), b (M,), got x {x.shape}, w {w.shape}, b {b.shape}")
    p_drop = check_prob(p_drop, "p_drop")
    _check_mode(mode)
    check_rng(rng)
    ### BEGIN SOLUTION
    if mode == "eval" or p_drop == 0.0:
        scaled_mask = np.ones_like(w)
    else:
        keep = 1.0 - p_drop
        scaled_mask = (rng.random(w.shape) < keep) / keep if keep > 0 else np.zeros_like(w)
    w_eff = w * scaled_mask
    return x @ w_eff + b, {"x": x, "w_eff": w_eff, "scaled_mask": scaled_mask}
    ### END SOLUTION


def dropconnect_backward(dout: np.ndarray, cache: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of ``dropconnect_forward`` with the forward's mask.

    dout: (N, M). Returns (dx (N, D), dw (D, M), db (M,)): dx = dout @ w_eff.T, dw = (x.T @ dout) * R/(1-p),
    db = sum of dout over the batch, where w_eff is the masked, rescaled weight matrix of the forward (w itself
    in eval mode, so the gradients are the plain affine layer's).
    """
    dout = as_float_array(dout, "dout", ndim=2, shape_doc="(N, M)")
    ### BEGIN SOLUTION
    dx = dout @ cache["w_eff"].T
    dw = (cache["x"].T @ dout) * cache["scaled_mask"]
    return dx, dw, dout.sum(axis=0)
    ### END SOLUTION


# ---------------------------------------------------------------------------------------- SpatialDropout
def spatial_dropout_forward(
    x: np.ndarray, p_drop: float, mode: str, rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    """SpatialDropout (Tompson et al., 2015; ``torch.nn.Dropout2d``): drop WHOLE channels.

    x: (N, C, H, W). train: one Bernoulli(1 - p_drop) draw per (sample, channel), shared by all H*W pixels of
    that feature map, kept maps scaled by 1 / (1 - p_drop) (p_drop == 1: all zeros); eval: identity.
    Returns (out (N, C, H, W), cache).
    """
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C, H, W)")
    p_drop = check_prob(p_drop, "p_drop")
    _check_mode(mode)
    check_rng(rng)
    ### BEGIN SOLUTION
    if mode == "eval" or p_drop == 0.0:
        return x.copy(), {"scaled_mask": None}
    keep = 1.0 - p_drop
    n, c = x.shape[:2]
    scaled_mask = (rng.random((n, c, 1, 1)) < keep) / keep if keep > 0 else np.zeros((n, c, 1, 1))
    return x * scaled_mask, {"scaled_mask": scaled_mask}
    ### END SOLUTION


def spatial_dropout_backward(dout: np.ndarray, cache: dict) -> np.ndarray:
    """Backward of ``spatial_dropout_forward`` (dout itself in eval mode). dout: (N, C, H, W). Returns dx."""
    dout = as_float_array(dout, "dout", ndim=4, shape_doc="(N, C, H, W)")
    ### BEGIN SOLUTION
    m = cache["scaled_mask"]
    return dout.copy() if m is None else dout * m
    ### END SOLUTION


# ----------------------------------------------------------------------------------------------- DropBlock
def _feat_hw(feat_size) -> tuple[int, int]:
    if isinstance(feat_size, (tuple, list)):
        if len(feat_size) != 2:
            raise ValueError(f"feat_size must be an int or a pair (H, W), got {feat_size!r}")
        return check_int(feat_size[0], "feat_size[0]", 1), check_int(feat_size[1], "feat_size[1]", 1)
    s = check_int(feat_size, "feat_size", 1)
    return s, s


def dropblock_gamma(keep_prob: float, block_size: int, feat_size: int | tuple[int, int]) -> float:
    """Seed rate of DropBlock (Ghiasi et al., 2018, eq. 1):

    ``gamma = (1 - keep_prob) / block_size**2 * feat_size**2 / (feat_size - block_size + 1)**2``

    keep_prob in [0, 1]; block_size >= 1 and <= feat_size; feat_size an int (square maps) or (H, W), in
    which case ``feat_size**2`` is H*W and ``(feat_size - block_size + 1)**2`` is (H-bs+1)*(W-bs+1).
    Seeds are only placed where a whole block fits (there are (H-bs+1)(W-bs+1) such places), and each seed
    drops block_size**2 units, so gamma * #places * bs**2 = (1 - keep_prob) * H * W.
    """
    keep_prob = check_prob(keep_prob, "keep_prob")
    block_size = check_int(block_size, "block_size", 1)
    h, w = _feat_hw(feat_size)
    if block_size > min(h, w):
        raise ValueError(f"block_size must be <= the feature size {min(h, w)}, got {block_size}")
    ### BEGIN SOLUTION
    valid = (h - block_size + 1) * (w - block_size + 1)
    return (1.0 - keep_prob) / block_size**2 * (h * w) / valid
    ### END SOLUTION


def dropblock_mask(
    shape: tuple[int, int, int, int], keep_prob: float, block_size: int, rng: np.random.Generator
) -> np.ndarray:
    """A DropBlock mask (1 = keep, 0 = drop) of ``shape`` (N, C, H, W): one independent mask per channel.

    1. Draw seeds ``~ Bernoulli(gamma)`` (``gamma = dropblock_gamma(keep_prob, block_size, (H, W))``, clipped
       to 1) only at the (H - bs + 1) x (W - bs + 1) top-left corners where a block_size x block_size block
       fits entirely inside the map.
    2. Zero the block_size x block_size square starting at every seed (blocks may overlap).
    Returns a float64 array of ``shape`` with values in {0, 1}. block_size = 1 is dropout with rate gamma;
    keep_prob == 1 (gamma 0) keeps everything; with block_size 1, keep_prob == 0 (gamma 1) drops everything.
    """
    if not isinstance(shape, (tuple, list)) or len(shape) != 4:
        raise ValueError(f"shape must be a tuple (N, C, H, W), got {shape!r}")
    n, c, h, w = (check_int(s, f"shape[{i}]", 1) for i, s in enumerate(shape))
    keep_prob = check_prob(keep_prob, "keep_prob")
    block_size = check_int(block_size, "block_size", 1)
    if block_size > min(h, w):
        raise ValueError(f"block_size must be <= min(H, W) = {min(h, w)}, got {block_size}")
    check_rng(rng)
    ### BEGIN SOLUTION
    gamma = min(dropblock_gamma(keep_prob, block_size, (h, w)), 1.0)
    seeds = rng.random((n, c, h - block_size + 1, w - block_size + 1)) < gamma
    dropped = np.zeros((n, c, h, w), dtype=bool)
    for di in range(block_size):  # OR of the seed map shifted by every offset inside a block
        for dj in range(block_size):
            dropped[:, :, di : di + seeds.shape[2], dj : dj + seeds.shape[3]] |= seeds
    return (~dropped).astype(np.float64)
    ### END SOLUTION


def dropblock_forward(
    x: np.ndarray, keep_prob: float, block_size: int, mode: str, rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    """DropBlock layer (Algorithm 1 of the paper).

    x: (N, C, H, W). train: ``M = dropblock_mask(x.shape, keep_prob, block_size, rng)`` and
    ``out = x * M * M.size / M.sum()`` (normalise by the count of kept units over the whole mask; all zeros if
    nothing is kept, e.g. keep_prob == 0 with block_size 1); eval (or keep_prob == 1): identity.
    Returns (out (N, C, H, W), cache).
    """
    x = as_float_array(x, "x", ndim=4, shape_doc="(N, C, H, W)")
    keep_prob = check_prob(keep_prob, "keep_prob")
    block_size = check_int(block_size, "block_size", 1)
    _check_mode(mode)
    check_rng(rng)
    ### BEGIN SOLUTION
    if mode == "eval" or keep_prob == 1.0:
        return x.copy(), {"scaled_mask": None}
    mask = dropblock_mask(x.shape, keep_prob, block_size, rng)
    kept = mask.sum()
    scaled_mask = mask * (mask.size / kept) if kept > 0 else mask
    return x * scaled_mask, {"scaled_mask": scaled_mask}
    ### END SOLUTION


def dropblock_backward(dout: np.ndarray, cache: dict) -> np.ndarray:
    """Backward of ``dropblock_forward`` (the mask and its normalisation are constants; dout itself in eval
    mode). Returns dx."""
    dout = as_float_array(dout, "dout", ndim=4, shape_doc="(N, C, H, W)")
    ### BEGIN SOLUTION
    m = cache["scaled_mask"]
    return dout.copy() if m is None else dout * m
    ### END SOLUTION


def keep_prob_schedule(step: int, total_steps: int, target: float) -> float:
    """Scheduled DropBlock: keep_prob falls linearly from 1.0 at step 0 to ``target`` at ``total_steps``
    and stays at ``target`` afterwards. step >= 0, total_steps >= 1, target in [0, 1]. Returns a float."""
    step = check_int(step, "step", 0)
    total_steps = check_int(total_steps, "total_steps", 1)
    target = check_prob(target, "target")
    ### BEGIN SOLUTION
    frac = min(step / total_steps, 1.0)
    return 1.0 - (1.0 - target) * frac
    ### END SOLUTION


def expected_dropblock_rate(keep_prob: float, block_size: int, feat_size: int | tuple[int, int]) -> float:
    """The exact expected fraction of zeros in ``dropblock_mask`` (given code, used by tests and widgets)."""
    h, w = _feat_hw(feat_size)
    gamma = min(dropblock_gamma(keep_prob, block_size, (h, w)), 1.0)
    return float(np.mean(1.0 - (1.0 - gamma) ** _coverage(h, w, block_size)))


def _coverage(h: int, w: int, block_size: int) -> np.ndarray:
    """k(i, j): how many valid block positions cover pixel (i, j); shape (H, W)."""

    def cover_1d(n: int) -> np.ndarray:
        i = np.arange(n)
        return np.minimum(i, n - block_size) - np.maximum(0, i - block_size + 1) + 1

    return np.outer(cover_1d(h), cover_1d(w)).astype(np.float64)
