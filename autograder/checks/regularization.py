"""Hidden checks for topic 05 (regularization and the dropout family).

Deterministic parts (penalties, max-norm, DropBlock's gamma, the keep_prob schedule, early stopping) are
compared with the reference. Random layers cannot be compared element by element (a student may draw the
mask differently), so their ``compare`` functions check what must hold for ANY correct implementation:

* the mask recovered from the outputs takes exactly the allowed values (0 or the inverted scale),
* it has the right structure (one value per channel for SpatialDropout; a union of whole block_size squares
  inside the map for DropBlock; one mask for the whole mini-batch for DropConnect) and no pattern repeated along
  the examples or the channels/features (a smaller mask broadcast),
* the measured drop rate is within 6 standard deviations of the exact expected rate (sample sizes chosen so
  that the wrong variants -- keep/drop swapped, wrong gamma -- are more than 10 sigma away), and
* every backward equals dout times the mask of the student's OWN forward,
* the deterministic edges the docstrings define (eval mode, forward and backward; a drop probability of exactly
  0 and 1, keep_prob 1 and 0) match the reference exactly.

Known mistakes of the random layers are recognised by ``detect`` functions on the student's outputs (a random
draw cannot be replayed); those of the deterministic parts by running the wrong function. tests/topics/
test_regularization.py runs the reference through these compares over 1000 seeds (no flakes) and checks that
each wrong variant is caught and named, and that the reference is never mistaken for one.
"""

from __future__ import annotations

import numpy as np

from autograder.compare import student_array
from autograder.spec import Misconception, Part

SIGMAS = 6.0


# --------------------------------------------------------------------------------------------- helpers
def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.allclose(a, b, rtol=1e-7, atol=1e-10))


def _rate_ok(dropped: np.ndarray, expected: float, sigma: float, what: str) -> tuple[bool, str]:
    rate = float(dropped.mean())
    if abs(rate - expected) > SIGMAS * sigma:
        return False, (
            f"{what}: measured drop rate {rate:.4f}, outside the band {expected:.4f} +- {SIGMAS * sigma:.4f} "
            f"({SIGMAS:.0f} standard deviations; is p_drop the probability of DROPPING?)"
        )
    return True, ""


def _shared_along(dropped: np.ndarray, axes: dict[int, str], what: str, draws: str) -> str:
    """'' unless the drop pattern is the same along one of ``axes`` (axis -> its name): a mask drawn with a
    smaller shape and broadcast. For independent draws all equal along an axis of size >= 8 never happens."""
    for axis, name in axes.items():
        if dropped.shape[axis] > 1 and np.array_equal(
            dropped, np.broadcast_to(dropped.take([0], axis=axis), dropped.shape)
        ):
            return f"{what}: every {name} has the same drop pattern (a mask drawn once and broadcast): {draws}"
    return ""


def _inverted_mask(out: np.ndarray, x: np.ndarray, p_drop: float, what: str) -> tuple[np.ndarray | None, str]:
    """Boolean 'dropped' array from out / x, requiring every ratio to be 0 or 1 / (1 - p_drop)."""
    ratio = out / x
    scale = 1.0 / (1.0 - p_drop)
    dropped = np.abs(ratio) < 1e-9
    kept = np.abs(ratio - scale) < 1e-6 * scale
    if not np.all(dropped | kept):
        bad = ratio[~(dropped | kept)][0]
        return None, (
            f"{what}: every output must be 0 or x / (1 - p_drop) = {scale:.4g} * x (inverted "
            f"dropout); found out / x = {bad:.4g}"
        )
    return dropped, ""


def _eval_identity(student: dict, x: np.ndarray, what: str) -> str:
    ev, why = student_array(student, "out_eval", x.shape)
    if ev is None:
        return why
    if not _close(ev, x):
        return f"{what}: in mode 'eval' the output must equal the input (inverted dropout needs no test-time scaling)"
    return ""


EDGE_WHY = {
    "out_p0": "with p_drop = 0 nothing is dropped: out must equal x",
    "out_p1": "with p_drop = 1 every unit is dropped: out must be all zeros (no division by 1 - p_drop = 0)",
    "dx_p1": "after a forward with p_drop = 1 (keep_prob 0) the backward must give dx = 0",
    "dx_eval": "in mode 'eval' the backward must pass dout through unchanged",
    "mask_keep_prob_1": "with keep_prob = 1 the mask must keep everything (all ones)",
    "mask_keep_prob_0_block_1": "with keep_prob = 0 and block_size 1 (gamma = 1) the mask must drop everything",
    "out_keep_prob_1": "with keep_prob = 1 DropBlock is the identity",
    "out_nothing_kept": "when nothing is kept the output is all zeros (no division by count_ones(M) = 0)",
}


def _edges(student: dict, reference: dict, keys: tuple[str, ...], why: dict | None = None) -> str:
    """The deterministic edge outputs ``keys`` compared with the reference; '' or the first reason."""
    why = {**EDGE_WHY, **(why or {})}
    for key in keys:
        ref = np.asarray(reference[key], dtype=np.float64)
        got, reason = student_array(student, key, ref.shape)
        if got is None:
            return reason
        if not np.allclose(got, ref, rtol=1e-7, atol=1e-10):
            return f"{key}: {why[key]}"
    return ""


def _p_drop(rng: np.random.Generator) -> float:
    """A drop probability away from 0.5, so that swapping keep and drop moves the rate by >= 0.3."""
    p = float(rng.uniform(0.15, 0.35))
    return p if rng.random() < 0.5 else 1.0 - p


def _nonzero(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


# ---------------------------------------------------------------------------------------- penalties
def _penalty_inputs(rng):
    w = rng.normal(size=(5, 7))
    w[rng.random(w.shape) < 0.15] = 0.0  # weights exactly at the kink of |w|: the subgradient there is 0
    w[0, 0] = 0.0
    return {
        "w": w,
        "lam": float(rng.uniform(0.01, 1.0)),
        "l1_ratio": float(rng.uniform(0.1, 0.9)),
        "p_small": float(rng.choice([0.3, 0.5, 0.8])),
        "p_large": float(rng.choice([1.5, 3.0, 4.0])),
    }


def _maxnorm_inputs(rng):
    w = rng.normal(size=(6, 9)) * rng.uniform(0.2, 3.0, size=(1, 9))
    c = float(np.median(np.linalg.norm(w, axis=0)))
    return {"w": w, "c": c}


# ------------------------------------------------------------------------------------------ dropout
def _dropout_inputs(rng):
    shape = (100, 200)
    return {
        "x": _nonzero(rng, shape),
        "p_drop": _p_drop(rng),
        "dout": rng.normal(size=shape),
        "seed": int(rng.integers(2**31)),
    }


def compare_dropout_forward(student, reference, inp):
    x, p = inp["x"], float(inp["p_drop"])
    why = _eval_identity(student, x, "dropout")
    if why:
        return 0.0, why
    out, why = student_array(student, "out", x.shape)
    if out is None:
        return 0.0, why
    dropped, why = _inverted_mask(out, x, p, "dropout")
    if dropped is None:
        return 0.0, why
    ok, why = _rate_ok(dropped, p, np.sqrt(p * (1 - p) / x.size), "dropout")
    if not ok:
        return 0.0, why
    why = _shared_along(
        dropped, {0: "example (row)", 1: "feature (column)"}, "dropout", "draw one Bernoulli per element"
    )
    if why:
        return 0.0, why
    why = _edges(student, reference, ("out_p0", "out_p1"))
    return (0.0, why) if why else (1.0, "ok")


def compare_scaled_backward(student, reference, inp):
    """dx == dout * out / x (the student's own forward mask); also dx == dout in eval mode when probed."""
    x, dout = inp["x"], inp["dout"]
    out, why = student_array(student, "out", x.shape)
    if out is None:
        return 0.0, why
    dx, why = student_array(student, "dx", x.shape)
    if dx is None:
        return 0.0, why
    if not _close(dx, dout * (out / x)):
        return 0.0, "dx must be dout times the same (scaled) mask the forward applied"
    why = _edges(student, reference, ("dx_eval", "dx_p1"))
    return (0.0, why) if why else (1.0, "ok")


# -------------------------------------------------------------------------------------- DropConnect
def _dropconnect_inputs(rng, d=50, m=400):
    perm = rng.permutation(d)
    x = np.zeros((d, d))
    x[np.arange(d), perm] = _nonzero(rng, d)  # one nonzero per row: out reveals the effective weights
    return {
        "x": x,
        "w": _nonzero(rng, (d, m)),
        "b": rng.normal(size=m),
        "p_drop": _p_drop(rng),
        "dout": rng.normal(size=(d, m)),
        "seed": int(rng.integers(2**31)),
    }


def _effective_weights(out: np.ndarray, inp: dict) -> np.ndarray:
    x = inp["x"]
    cols = np.argmax(np.abs(x), axis=1)
    w_eff = np.empty_like(inp["w"])
    w_eff[cols] = (out - inp["b"]) / x[np.arange(len(cols)), cols][:, None]
    return w_eff


def compare_dropconnect_forward(student, reference, inp):
    x, w, b, p = inp["x"], inp["w"], inp["b"], float(inp["p_drop"])
    shape = (x.shape[0], w.shape[1])
    ev, why = student_array(student, "out_eval", shape)
    if ev is None:
        return 0.0, why
    if not _close(ev, x @ w + b):
        return 0.0, "DropConnect in mode 'eval' must be the plain affine x @ w + b"
    out, why = student_array(student, "out", shape)
    if out is None:
        return 0.0, why
    dropped, why = _inverted_mask(_effective_weights(out, inp), w, p, "DropConnect weights")
    if dropped is None:
        return 0.0, why + " (and the bias is never dropped)"
    ok, why = _rate_ok(dropped, p, np.sqrt(p * (1 - p) / w.size), "DropConnect")
    if not ok:
        return 0.0, why
    repeated, why = student_array(student, "out_repeated", (8, w.shape[1]))
    if repeated is None:
        return 0.0, why
    if not _close(repeated, np.broadcast_to(repeated[:1], repeated.shape)):
        return 0.0, (
            "DropConnect draws ONE weight mask for the whole mini-batch: the same example repeated 8 times must "
            "give 8 equal rows (found a mask per example)"
        )
    why = _edges(
        student,
        reference,
        ("out_p0", "out_p1"),
        {
            "out_p0": "with p_drop = 0 DropConnect is the plain affine x @ w + b",
            "out_p1": "with p_drop = 1 every weight is dropped: out = b (no division by 1 - p_drop = 0)",
        },
    )
    return (0.0, why) if why else (1.0, "ok")


def compare_dropconnect_backward(student, reference, inp):
    x, w, dout = inp["x"], inp["w"], inp["dout"]
    out, why = student_array(student, "out", dout.shape)
    if out is None:
        return 0.0, why
    w_eff = _effective_weights(out, inp)
    expected = {"dx": dout @ w_eff.T, "dw": (x.T @ dout) * (w_eff / w), "db": dout.sum(axis=0)}
    for key, exp in expected.items():
        got, why = student_array(student, key, exp.shape)
        if got is None:
            return 0.0, why
        if not _close(got, exp):
            return 0.0, f"{key} does not match the gradient through the forward's masked weights"
    keys = tuple(f"{g}{tag}" for tag in ("_eval", "_p1") for g in ("dx", "dw", "db"))
    why = _edges(
        student,
        reference,
        keys,
        {k: "in mode 'eval' the gradients are the plain affine layer's (w unmasked)" for k in keys[:3]}
        | {
            k: "after a forward with p_drop = 1 (every weight dropped) dx and dw are 0, db = sum(dout)"
            for k in keys[3:]
        },
    )
    return (0.0, why) if why else (1.0, "ok")


# ---------------------------------------------------------------------------------- SpatialDropout
def _spatial_inputs(rng):
    shape = (200, 20, 3, 3)
    return {
        "x": _nonzero(rng, shape),
        "p_drop": _p_drop(rng),
        "dout": rng.normal(size=shape),
        "seed": int(rng.integers(2**31)),
    }


def compare_spatial_forward(student, reference, inp):
    x, p = inp["x"], float(inp["p_drop"])
    why = _eval_identity(student, x, "SpatialDropout")
    if why:
        return 0.0, why
    out, why = student_array(student, "out", x.shape)
    if out is None:
        return 0.0, why
    dropped, why = _inverted_mask(out, x, p, "SpatialDropout")
    if dropped is None:
        return 0.0, why
    per_channel = dropped.reshape(x.shape[0], x.shape[1], -1)
    if np.any(per_channel.min(axis=2) != per_channel.max(axis=2)):
        return 0.0, "SpatialDropout must keep or drop a whole (H, W) feature map at once (found a mixed channel)"
    why = _shared_along(
        per_channel[:, :, 0],
        {0: "example", 1: "channel"},
        "SpatialDropout",
        "draw one Bernoulli per (example, channel), mask shape (N, C, 1, 1)",
    )
    if why:
        return 0.0, why
    ok, why = _rate_ok(
        per_channel[:, :, 0],
        p,
        np.sqrt(p * (1 - p) / per_channel[:, :, 0].size),
        "SpatialDropout (fraction of channels)",
    )
    if not ok:
        return 0.0, why
    why = _edges(student, reference, ("out_p0", "out_p1"))
    return (0.0, why) if why else (1.0, "ok")


# --------------------------------------------------------------------------------------- DropBlock
def gamma_formula(keep_prob: float, block_size: int, h: int, w: int) -> float:
    """Trusted copy of the paper's seed rate for an (h, w) map."""
    return (1.0 - keep_prob) / block_size**2 * (h * w) / ((h - block_size + 1) * (w - block_size + 1))


def dropblock_pixel_probs(keep_prob: float, block_size: int, h: int, w: int) -> np.ndarray:
    """Exact P(pixel dropped) = 1 - (1 - gamma)**k(i, j), k = number of block positions covering (i, j)."""
    gamma = min(gamma_formula(keep_prob, block_size, h, w), 1.0)

    def cover(n):
        i = np.arange(n)
        return np.minimum(i, n - block_size) - np.maximum(0, i - block_size + 1) + 1

    return 1.0 - (1.0 - gamma) ** np.outer(cover(h), cover(w))


def _covered(dropped: np.ndarray, bs: int) -> np.ndarray:
    """The pixels of ``dropped`` (..., H, W) that lie in some bs x bs square made only of dropped pixels."""
    h, w = dropped.shape[-2:]
    hv, wv = h - bs + 1, w - bs + 1
    full = np.ones(dropped.shape[:-2] + (hv, wv), dtype=bool)
    for di in range(bs):
        for dj in range(bs):
            full &= dropped[..., di : di + hv, dj : dj + wv]
    covered = np.zeros_like(dropped)
    for di in range(bs):
        for dj in range(bs):
            covered[..., di : di + hv, dj : dj + wv] |= full
    return covered


def blocks_only(dropped: np.ndarray, bs: int) -> bool:
    """True iff the dropped set of every map is a union of bs x bs squares lying inside the map
    (morphological opening with a bs x bs square leaves it unchanged)."""
    return bool(np.array_equal(_covered(dropped, bs), dropped))


def check_dropblock_dropped(dropped: np.ndarray, keep_prob: float, bs: int, what: str) -> tuple[float, str]:
    """Structure and rate of a DropBlock drop pattern (N, C, H, W) of booleans."""
    n, c, h, w = dropped.shape
    why = _shared_along(dropped, {0: "example", 1: "channel"}, what, "draw an independent mask for every (N, C) map")
    if why:
        return 0.0, why
    if not blocks_only(dropped, bs):
        return 0.0, (
            f"{what}: the dropped units are not a union of whole {bs}x{bs} blocks inside the map "
            f"(block_size ignored, or blocks clipped at the border?)"
        )
    probs = dropblock_pixel_probs(keep_prob, bs, h, w)
    sigma = np.sqrt(np.mean(probs * (1 - probs)) / (n * c))  # upper bound: pixels of one map correlated
    ok, why = _rate_ok(dropped, float(probs.mean()), float(sigma), what)
    return (1.0, "ok") if ok else (0.0, why + " -- check gamma")


def _dropblock_inputs(rng):
    # 8000 maps of 7x7 with blocks of 3 or 4: the correct rate and the rate of the classic wrong gamma
    # (without the feat_size**2 / (feat_size - block_size + 1)**2 factor) are > 15 sigma apart
    bs = int(rng.integers(3, 5))
    return {
        "shape": np.array([125, 64, 7, 7]),
        "keep_prob": float(rng.uniform(0.75, 0.85)),
        "block_size": bs,
        "seed": int(rng.integers(2**31)),
    }


def compare_dropblock_mask(student, reference, inp):
    shape = tuple(int(s) for s in inp["shape"])
    mask, why = student_array(student, "mask", shape)
    if mask is None:
        return 0.0, why
    if not np.all((mask == 0) | (mask == 1)):
        return 0.0, "the mask must hold only 0 (drop) and 1 (keep)"
    frac, why = check_dropblock_dropped(mask == 0, float(inp["keep_prob"]), int(inp["block_size"]), "DropBlock mask")
    if frac < 1.0:
        return frac, why
    why = _edges(student, reference, ("mask_keep_prob_1", "mask_keep_prob_0_block_1"))
    return (0.0, why) if why else (1.0, "ok")


def _dropblock_layer_inputs(rng):
    shape = (30, 32, 7, 7)
    return {
        "x": _nonzero(rng, shape),
        "keep_prob": float(rng.uniform(0.75, 0.85)),
        "block_size": int(rng.integers(3, 5)),
        "dout": rng.normal(size=shape),
        "seed": int(rng.integers(2**31)),
    }


def compare_dropblock_forward(student, reference, inp):
    x = inp["x"]
    why = _eval_identity(student, x, "DropBlock")
    if why:
        return 0.0, why
    out, why = student_array(student, "out", x.shape)
    if out is None:
        return 0.0, why
    ratio = out / x
    dropped = np.abs(ratio) < 1e-9
    kept = int((~dropped).sum())
    if kept == 0:
        return 0.0, "DropBlock dropped everything"
    scale = x.size / kept
    if not np.allclose(ratio[~dropped], scale, rtol=1e-7):
        return 0.0, (
            "kept units must be scaled by count(mask) / count_ones(mask) = "
            f"{scale:.4g}, the measured keep fraction's inverse (not 1 / keep_prob)"
        )
    frac, why = check_dropblock_dropped(dropped, float(inp["keep_prob"]), int(inp["block_size"]), "DropBlock")
    if frac < 1.0:
        return frac, why
    why = _edges(student, reference, ("out_keep_prob_1", "out_nothing_kept"))
    return (0.0, why) if why else (1.0, "ok")


# ------------------------------------------------------------------------------------ deterministic
def _gamma_inputs(rng):
    k = 6
    feat = rng.integers(5, 30, size=k)
    bs = np.array([int(rng.integers(1, f + 1)) for f in feat])
    return {"keep_prob": rng.uniform(0.5, 1.0, size=k), "block_size": bs, "feat_size": feat}


def _schedule_inputs(rng):
    total = int(rng.integers(5, 200))
    steps = np.r_[0, 1, rng.integers(0, total, size=5), total // 2, total, total + 7]
    return {"steps": steps, "total_steps": total, "target": float(rng.uniform(0.5, 0.95))}


def _early_inputs(rng):
    """Metrics on a grid of 1/8 and min_delta a multiple of 1/16: ties with the best happen, and so do improvements
    of exactly min_delta (not an improvement), with every sum and difference exact in float64, so that each way
    of writing the rule (metric < best - min_delta, best - metric > min_delta, metric + min_delta < best) gives
    the same answer. (On a 0.1 grid, 1.9 < 2.0 - 0.1 is False while 2.0 - 1.9 > 0.1 is True.)"""
    walk = np.round(8 * (np.cumsum(rng.normal(-0.04, 0.12, size=34)) + 2.0)) / 8  # rounded: ties happen
    walk = np.r_[walk, np.full(6, walk.max())]  # a flat, worse tail: every sequence ends in a stop
    min_delta = float(rng.choice([0.0, 0.0625, 0.125]))
    walk[1] = walk[0] - min_delta  # better than the best (epoch 0) by exactly min_delta: NOT an improvement
    mode = "min" if rng.random() < 0.5 else "max"
    return {
        "metrics": walk if mode == "min" else -walk,
        "patience": int(rng.integers(1, 5)),
        "min_delta": min_delta,
        "mode": mode,
    }


def compare_early_stopping(student, reference, inp):
    """Compare the per-epoch records up to and including the reference's first stop (what happens after a
    stop is not specified)."""
    stops = np.flatnonzero(np.asarray(reference["stop"]) > 0)
    end = int(stops[0]) + 1 if stops.size else len(reference["stop"])
    n = len(reference["stop"])
    for key, what in (
        ("stop", "the stop flag"),
        ("best_epoch", "best_epoch"),
        ("best", "best"),
        ("best_params_epoch", "best_params (a copy of the params of the best epoch)"),
    ):
        got, why = student_array(student, key, (n,))
        if got is None:
            return 0.0, why
        bad = np.flatnonzero(~np.isclose(got[:end], np.asarray(reference[key])[:end], rtol=1e-12, atol=1e-12))
        if bad.size:
            return 0.0, (
                f"{what} differs at epoch {int(bad[0])} (patience {int(inp['patience'])}, min_delta "
                f"{float(inp['min_delta'])}, mode {inp['mode']!r})"
            )
    return 1.0, "ok"


# --------------------------------------------------------------------------------------- known mistakes
# Deterministic parts: wrong functions run on the reference (trusted code, see spec.Misconception). Random layers:
# ``detect(student_outputs, inputs)``, written so that the reference's outputs never match (tests check it on
# every hidden case).
PENALTIES, MAX_NORM, DROPOUT, DROPCONNECT, SPATIAL, DROPBLOCK, EARLY, LP = (
    f"lecture 05, section {k}" for k in (1, 2, 3, 4, 5, 6, 7, 11)
)


def _l1_without_lambda(w, lam):
    return float(lam * np.abs(w).sum()), np.sign(w)


def _l1_sign_at_zero(w, lam):
    return float(lam * np.abs(w).sum()), lam * np.where(w >= 0, 1.0, -1.0)


def _l2_twice(w, lam):
    return float(0.5 * lam * np.sum(w * w)), 2 * lam * w


def _elastic_without_half(w, lam, r):
    return float(lam * (r * np.abs(w).sum() + (1 - r) * np.sum(w * w))), lam * (r * np.sign(w) + 2 * (1 - r) * w)


def _lp_without_p(w, lam, p):
    a = np.abs(w)
    with np.errstate(divide="ignore", invalid="ignore"):
        grad = np.where(a > 0, lam * a ** (p - 1.0) * np.sign(w), 0.0)
    return float(lam * np.sum(a**p)), grad


def _lp_not_finite_at_zero(student, inp):
    """A NaN or infinite gradient where w is exactly 0 (0 ** (p - 1) with p < 1, times sign(0) = 0)."""
    grad = np.asarray(student.get("grad_small", np.zeros(1)), dtype=np.float64)
    return grad.shape == np.shape(inp["w"]) and not np.all(np.isfinite(grad[np.asarray(inp["w"]) == 0]))


def _max_norm_rescales_all(w, c, axis=0):
    return c * w / np.linalg.norm(w, axis=axis, keepdims=True)


def _max_norm_other_axis(w, c, axis=0):
    norms = np.linalg.norm(w, axis=1 - (axis % 2), keepdims=True)
    return w * np.minimum(1.0, c / norms)


def _max_norm_in_place(w, c, axis=0):
    from deepkit import regularizers

    w[...] = regularizers.max_norm_project(w, c, axis)
    return w


def _ratios(student: dict, key: str, x: np.ndarray) -> np.ndarray | None:
    out = student.get(key)
    if out is None or np.shape(out) != x.shape:
        return None
    return np.asarray(out, dtype=np.float64) / x


def _not_inverted(student, inp):
    """The kept values are x itself (out / x is 0 or 1), not x / (1 - p_drop)."""
    r = _ratios(student, "out", inp["x"])
    return r is not None and bool(np.all(np.isclose(r, 0) | np.isclose(r, 1))) and np.isclose(r, 1).any()


def _keep_and_drop_swapped(student, inp):
    """The measured drop rate is 1 - p_drop (more than 10 sigma away from p_drop on these inputs)."""
    r = _ratios(student, "out", inp["x"])
    if r is None:
        return False
    p, rate = float(inp["p_drop"]), float(np.mean(np.isclose(r, 0)))
    return abs(rate - (1 - p)) < SIGMAS * np.sqrt(p * (1 - p) / r.size)


def _scales_at_test_time(student, inp):
    """Classic dropout: the eval output is (1 - p_drop) * x (and training does not scale)."""
    r = _ratios(student, "out_eval", inp["x"])
    return r is not None and bool(np.allclose(r, 1 - float(inp["p_drop"])))


def _backward_without_scale(student, inp):
    """dx = dout * (mask != 0): the backward drops the 1 / (1 - p_drop) of the forward."""
    r, dx = _ratios(student, "out", inp["x"]), student.get("dx")
    if r is None or np.shape(dx) != inp["x"].shape:
        return False
    return bool(np.allclose(dx, inp["dout"] * (~np.isclose(r, 0))))


def _dropconnect_masks_outputs(student, inp):
    """Whole outputs are zeroed (bias included): dropout on the layer's output, the slides' r * f(...)."""
    out = student.get("out")
    if out is None or np.ndim(out) != 2:
        return False
    return float(np.mean(np.asarray(out) == 0)) > 0.5 * float(inp["p_drop"])


def _dropconnect_not_inverted(student, inp):
    """The effective weights are 0 or w (no 1 / (1 - p_drop))."""
    out = student.get("out")
    if out is None or np.shape(out) != (inp["x"].shape[0], inp["w"].shape[1]):
        return False
    r = _effective_weights(np.asarray(out, dtype=np.float64), inp) / inp["w"]
    return bool(np.all(np.isclose(r, 0) | np.isclose(r, 1)))


def _dw_unmasked(student, inp):
    """dw = x.T @ dout, without the forward's mask."""
    dw = student.get("dw")
    return dw is not None and np.shape(dw) == inp["w"].shape and bool(np.allclose(dw, inp["x"].T @ inp["dout"]))


def _spatial_per_pixel(student, inp):
    """Pixels of one channel are dropped independently (plain dropout): the maps are not kept or dropped whole."""
    r = _ratios(student, "out", inp["x"])
    if r is None:
        return False
    dropped = np.isclose(r, 0).reshape(r.shape[0], r.shape[1], -1)
    mixed = np.mean(dropped.min(axis=2) != dropped.max(axis=2))
    return bool(mixed > 0.5)  # independent pixels: almost every 3 x 3 map is mixed


def _blocks_clipped(student, inp):
    """Whole blocks only if they may stick out of the map (the map framed by bs - 1 dropped pixels): seeds placed
    anywhere and their blocks cut at the border."""
    mask = student.get("mask")
    bs = int(inp["block_size"])
    if mask is None or np.ndim(mask) != 4:
        return False
    dropped = np.asarray(mask) == 0
    framed = np.pad(dropped, [(0, 0), (0, 0), (bs - 1, bs - 1), (bs - 1, bs - 1)], constant_values=True)
    inside = _covered(framed, bs)[..., bs - 1 : 1 - bs, bs - 1 : 1 - bs]
    return not blocks_only(dropped, bs) and bool(np.array_equal(inside, dropped))


def _keep_prob_scaling(student, inp):
    """Kept units scaled by 1 / keep_prob instead of count(M) / count_ones(M)."""
    r = _ratios(student, "out", inp["x"])
    if r is None:
        return False
    kept = r[~np.isclose(r, 0)]
    return kept.size > 0 and bool(np.allclose(kept, 1 / float(inp["keep_prob"])))


def _gamma_without_feature_factor(kp, bs, f):
    return (1 - kp) / bs**2


def _schedule_without_clamp(step, total_steps, target):
    return 1 - (1 - target) * step / total_steps


def _early_stopping(cls_body):
    """A wrong EarlyStopping: the reference's class with ``step`` replaced by ``cls_body(reference_step)``."""

    def make(*args, **kwargs):
        from deepkit import early_stopping

        class Wrong(early_stopping.EarlyStopping):
            step = cls_body(early_stopping.EarlyStopping.step)

        return Wrong(*args, **kwargs)

    return make


def _off_by_one(step):
    def wrong(self, val_metric, params=None):
        step(self, val_metric, params)
        self.stopped = self.num_bad_epochs > self.patience
        return self.stopped

    return wrong


def _keeps_a_reference(step):
    def wrong(self, val_metric, params=None):
        stop = step(self, val_metric, params)
        if self.best_epoch == self.epoch:
            self.best_params = params
        return stop

    return wrong


L1_WITHOUT_LAMBDA = Misconception(
    "grad matches sign(w): the penalty is lam * sum|w|, so its gradient is lam * sign(w)",
    PENALTIES,
    {"regularizers.l1_penalty": _l1_without_lambda},
)
L1_SIGN_AT_ZERO = Misconception(
    "grad is +-lam where w is exactly 0: use the subgradient 0 there (np.sign(0) = 0), or a weight at 0 is pushed "
    "off it",
    PENALTIES,
    {"regularizers.l1_penalty": _l1_sign_at_zero},
)
L2_TWICE = Misconception(
    "grad is 2 * lam * w: with the 1/2 in lam / 2 * sum w**2 the gradient is lam * w (weight decay lam)",
    PENALTIES,
    {"regularizers.l2_penalty": _l2_twice},
)
ELASTIC_WITHOUT_HALF = Misconception(
    "the L2 part misses its 1/2: elastic net is lam * (r * sum|w| + (1 - r) / 2 * sum w**2)",
    PENALTIES,
    {"regularizers.elastic_net_penalty": _elastic_without_half},
)
LP_WITHOUT_P = Misconception(
    "grad misses the factor p: d|w|^p / dw = p |w|^(p-1) sign(w)", LP, {"regularizers.lp_penalty": _lp_without_p}
)
LP_NOT_FINITE_AT_ZERO = Misconception(
    "grad is NaN or infinite where w is exactly 0: |w|^(p-1) is infinite there for p < 1; the docstring's "
    "subgradient is 0",
    LP,
    detect=_lp_not_finite_at_zero,
)
MAX_NORM_RESCALES_ALL = Misconception(
    "every column is rescaled to norm c: max-norm only touches the columns whose norm EXCEEDS c",
    MAX_NORM,
    {"regularizers.max_norm_project": _max_norm_rescales_all},
)
MAX_NORM_OTHER_AXIS = Misconception(
    "the norms are taken along the other axis: with axis=0 each column (one neuron's incoming weights) is a slice",
    MAX_NORM,
    {"regularizers.max_norm_project": _max_norm_other_axis},
)
MAX_NORM_IN_PLACE = Misconception(
    "the input w was modified: return a new array", MAX_NORM, {"regularizers.max_norm_project": _max_norm_in_place}
)
NOT_INVERTED = Misconception(
    "kept units are not scaled: inverted dropout multiplies them by 1 / (1 - p_drop) during training",
    DROPOUT,
    detect=_not_inverted,
)
KEEP_AND_DROP_SWAPPED = Misconception(
    "the measured drop rate is 1 - p_drop: p_drop is the probability of DROPPING (keep with 1 - p_drop)",
    DROPOUT,
    detect=_keep_and_drop_swapped,
)
SCALES_AT_TEST_TIME = Misconception(
    "the eval output is (1 - p_drop) * x: that is classic dropout; inverted dropout scales in training and eval "
    "is the identity",
    DROPOUT,
    detect=_scales_at_test_time,
)
BACKWARD_WITHOUT_SCALE = Misconception(
    "dx is dout times the 0/1 mask: the forward multiplied by 1 / (1 - p_drop), so the backward must too",
    DROPOUT,
    detect=_backward_without_scale,
)
DROPCONNECT_MASKS_OUTPUTS = Misconception(
    "whole outputs are zeroed (bias included): that is a mask on the layer's output (the slides' r * f(...)); "
    "DropConnect masks the weights, R (.) W, and never the bias",
    DROPCONNECT,
    detect=_dropconnect_masks_outputs,
)
DROPCONNECT_NOT_INVERTED = Misconception(
    "the kept weights are not scaled: use w * R / (1 - p_drop)", DROPCONNECT, detect=_dropconnect_not_inverted
)
DW_UNMASKED = Misconception(
    "dw = x.T @ dout is not masked: a dropped weight did not act, so its gradient is 0 (times R / (1 - p_drop))",
    DROPCONNECT,
    detect=_dw_unmasked,
)
SPATIAL_PER_PIXEL = Misconception(
    "pixels of a channel are dropped independently: SpatialDropout keeps or drops a whole (H, W) map",
    SPATIAL,
    detect=_spatial_per_pixel,
)
BLOCKS_CLIPPED = Misconception(
    "blocks are cut at the border (seeds anywhere): seeds go only where a whole block_size x block_size block fits",
    DROPBLOCK,
    detect=_blocks_clipped,
)
KEEP_PROB_SCALING = Misconception(
    "kept units are scaled by 1 / keep_prob: DropBlock normalizes by count(M) / count_ones(M), the measured keep "
    "fraction",
    DROPBLOCK,
    detect=_keep_prob_scaling,
)
GAMMA_WITHOUT_FEATURE_FACTOR = Misconception(
    "gamma misses the factor feat_size**2 / (feat_size - block_size + 1)**2 (seeds only fit at the valid places)",
    DROPBLOCK,
    {"dropout.dropblock_gamma": _gamma_without_feature_factor},
)
SCHEDULE_WITHOUT_CLAMP = Misconception(
    "keep_prob keeps falling after total_steps: the schedule stays at the target afterwards",
    DROPBLOCK,
    {"dropout.keep_prob_schedule": _schedule_without_clamp},
)


def _ties_improve(_step):
    def wrong(self, val_metric, params=None):
        import copy

        self.epoch += 1
        value = float(val_metric)
        if self.mode == "min":
            improved = value <= self.best - self.min_delta
        else:
            improved = value >= self.best + self.min_delta
        if improved:
            self.best, self.best_epoch, self.best_params = value, self.epoch, copy.deepcopy(params)
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        self.stopped = self.num_bad_epochs >= self.patience
        return self.stopped

    return wrong


TIES_IMPROVE = Misconception(
    "an epoch better than the best by exactly min_delta (with min_delta 0: equal to the best) counted as an "
    "improvement: it must beat the best by MORE than min_delta (metric < best - min_delta)",
    EARLY,
    {"early_stopping.EarlyStopping": _early_stopping(_ties_improve)},
)
OFF_BY_ONE = Misconception(
    "training stops one epoch late: stop when num_bad_epochs reaches patience (>=)",
    EARLY,
    {"early_stopping.EarlyStopping": _early_stopping(_off_by_one)},
)
KEEPS_A_REFERENCE = Misconception(
    "best_params follows the later in-place updates: store a deep copy (copy.deepcopy) of the best params",
    EARLY,
    {"early_stopping.EarlyStopping": _early_stopping(_keeps_a_reference)},
)

PARTS = (
    Part(
        "l1_penalty",
        1,
        "l1_penalty",
        _penalty_inputs,
        grads=("grad",),
        grad_tol=1e-9,
        description="L1 penalty value and subgradient (0 at w = 0)",
        misconceptions=(L1_WITHOUT_LAMBDA, L1_SIGN_AT_ZERO),
    ),
    Part(
        "l2_penalty",
        1,
        "l2_penalty",
        _penalty_inputs,
        grads=("grad",),
        grad_tol=1e-9,
        description="L2 penalty lam/2 ||w||^2 and gradient lam w",
        misconceptions=(L2_TWICE,),
    ),
    Part(
        "elastic_net_penalty",
        1,
        "elastic_net_penalty",
        _penalty_inputs,
        grads=("grad",),
        grad_tol=1e-9,
        description="elastic net value and gradient",
        misconceptions=(ELASTIC_WITHOUT_HALF,),
    ),
    Part(
        "lp_penalty",
        1,
        "lp_penalty",
        _penalty_inputs,
        grads=("grad_small", "grad_large"),
        grad_tol=1e-9,
        rtol=1e-9,
        description="Lp penalty lam sum|w|^p for p < 1 and p > 1, subgradient 0 at w = 0",
        misconceptions=(LP_WITHOUT_P, LP_NOT_FINITE_AT_ZERO),
    ),
    Part(
        "max_norm_project",
        2,
        "max_norm_project",
        _maxnorm_inputs,
        description="max-norm projection along axis 0 and 1, input left unchanged",
        misconceptions=(MAX_NORM_RESCALES_ALL, MAX_NORM_OTHER_AXIS, MAX_NORM_IN_PLACE),
    ),
    Part(
        "dropout_forward",
        2,
        "dropout_forward",
        _dropout_inputs,
        compare=compare_dropout_forward,
        description="inverted dropout: values, drop rate, eval identity, p_drop 0 and 1",
        misconceptions=(SCALES_AT_TEST_TIME, NOT_INVERTED, KEEP_AND_DROP_SWAPPED),  # first match names it
    ),
    Part(
        "dropout_backward",
        1,
        "dropout_backward",
        _dropout_inputs,
        compare=compare_scaled_backward,
        description="dropout backward through the forward's own mask (eval, p_drop 1)",
        misconceptions=(BACKWARD_WITHOUT_SCALE,),
    ),
    Part(
        "dropconnect_forward",
        2,
        "dropconnect_forward",
        _dropconnect_inputs,
        compare=compare_dropconnect_forward,
        description="DropConnect: masked weights, rate, eval affine, p_drop 0 and 1",
        misconceptions=(DROPCONNECT_MASKS_OUTPUTS, DROPCONNECT_NOT_INVERTED),
    ),
    Part(
        "dropconnect_backward",
        2,
        "dropconnect_backward",
        lambda r: _dropconnect_inputs(r, 30, 20),
        compare=compare_dropconnect_backward,
        description="DropConnect dx, dw, db (train, eval, p_drop 1)",
        misconceptions=(DW_UNMASKED,),
    ),
    Part(
        "spatial_dropout_forward",
        2,
        "spatial_dropout_forward",
        _spatial_inputs,
        compare=compare_spatial_forward,
        description="SpatialDropout: whole channels, rate, eval, p_drop 0 and 1",
        misconceptions=(SPATIAL_PER_PIXEL,),
    ),
    Part(
        "spatial_dropout_backward",
        1,
        "spatial_dropout_backward",
        _spatial_inputs,
        compare=compare_scaled_backward,
        description="SpatialDropout backward (eval, p_drop 1)",
    ),
    Part(
        "dropblock_gamma",
        1,
        "dropblock_gamma",
        _gamma_inputs,
        rtol=1e-9,
        atol=1e-12,
        description="DropBlock seed rate gamma",
        misconceptions=(GAMMA_WITHOUT_FEATURE_FACTOR,),
    ),
    Part(
        "dropblock_mask",
        3,
        "dropblock_mask",
        _dropblock_inputs,
        compare=compare_dropblock_mask,
        description="DropBlock mask: whole blocks inside the map, exact expected drop rate, keep_prob 1 and 0",
        misconceptions=(BLOCKS_CLIPPED,),
    ),
    Part(
        "dropblock_forward",
        1,
        "dropblock_forward",
        _dropblock_layer_inputs,
        compare=compare_dropblock_forward,
        description="DropBlock layer: count normalisation, eval, keep_prob 1, nothing kept",
        misconceptions=(KEEP_PROB_SCALING,),
    ),
    Part(
        "dropblock_backward",
        1,
        "dropblock_backward",
        _dropblock_layer_inputs,
        compare=compare_scaled_backward,
        description="DropBlock backward (eval, nothing kept)",
    ),
    Part(
        "keep_prob_schedule",
        1,
        "keep_prob_schedule",
        _schedule_inputs,
        rtol=1e-12,
        atol=1e-12,
        description="linear keep_prob schedule from 1 to the target",
        misconceptions=(SCHEDULE_WITHOUT_CLAMP,),
    ),
    Part(
        "early_stopping",
        2,
        "early_stopping",
        _early_inputs,
        seeds=6,
        compare=compare_early_stopping,
        description="EarlyStopping.step: patience, min_delta, mode, best epoch and params",
        misconceptions=(TIES_IMPROVE, OFF_BY_ONE, KEEPS_A_REFERENCE),
    ),
)
