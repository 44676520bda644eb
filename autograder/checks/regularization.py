"""Hidden checks for topic 05 (regularization and the dropout family).

Deterministic parts (penalties, max-norm, DropBlock's gamma, the keep_prob schedule, early stopping) are
compared with the reference. Random layers cannot be compared element by element (a student may draw the
mask differently), so their ``compare`` functions check what must hold for ANY correct implementation:

* the mask recovered from the outputs takes exactly the allowed values (0 or the inverted scale),
* it has the right structure (one value per channel for SpatialDropout; a union of whole block_size squares
  inside the map for DropBlock),
* the measured drop rate is within 6 standard deviations of the exact expected rate (sample sizes chosen so
  that the wrong variants -- keep/drop swapped, wrong gamma -- are more than 10 sigma away), and
* every backward equals dout times the mask of the student's OWN forward.

tests/topics/test_regularization.py runs the reference through these compares over 1000 seeds (no flakes) and
checks that each wrong variant is caught.
"""

from __future__ import annotations

import numpy as np

from autograder.compare import student_array
from autograder.spec import Part

SIGMAS = 6.0


# --------------------------------------------------------------------------------------------- helpers
def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.allclose(a, b, rtol=1e-7, atol=1e-10))


def _rate_ok(dropped: np.ndarray, expected: float, sigma: float, what: str) -> tuple[bool, str]:
    rate = float(dropped.mean())
    if abs(rate - expected) > SIGMAS * sigma:
        return False, (
            f"{what}: measured drop rate {rate:.4f} is more than {SIGMAS:.0f} standard deviations "
            f"from the expected {expected:.4f} (is p_drop the probability of DROPPING?)"
        )
    return True, ""


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


def _p_drop(rng: np.random.Generator) -> float:
    """A drop probability away from 0.5, so that swapping keep and drop moves the rate by >= 0.3."""
    p = float(rng.uniform(0.15, 0.35))
    return p if rng.random() < 0.5 else 1.0 - p


def _nonzero(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


# ---------------------------------------------------------------------------------------- penalties
def _penalty_inputs(rng):
    return {
        "w": rng.normal(size=(5, 7)),
        "lam": float(rng.uniform(0.01, 1.0)),
        "l1_ratio": float(rng.uniform(0.1, 0.9)),
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
    return (1.0, "ok") if ok else (0.0, why)


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
    if "dx_eval" in reference:
        dxe, why = student_array(student, "dx_eval", x.shape)
        if dxe is None:
            return 0.0, why
        if not _close(dxe, dout):
            return 0.0, "in mode 'eval' the backward must pass dout through unchanged"
    return 1.0, "ok"


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
    return (1.0, "ok") if ok else (0.0, why)


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
    return 1.0, "ok"


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
    ok, why = _rate_ok(
        per_channel[:, :, 0],
        p,
        np.sqrt(p * (1 - p) / per_channel[:, :, 0].size),
        "SpatialDropout (fraction of channels)",
    )
    return (1.0, "ok") if ok else (0.0, why)


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


def blocks_only(dropped: np.ndarray, bs: int) -> bool:
    """True iff the dropped set of every map is a union of bs x bs squares lying inside the map
    (morphological opening with a bs x bs square leaves it unchanged)."""
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
    return bool(np.array_equal(covered, dropped))


def check_dropblock_dropped(dropped: np.ndarray, keep_prob: float, bs: int, what: str) -> tuple[float, str]:
    """Structure and rate of a DropBlock drop pattern (N, C, H, W) of booleans."""
    n, c, h, w = dropped.shape
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
    return check_dropblock_dropped(mask == 0, float(inp["keep_prob"]), int(inp["block_size"]), "DropBlock mask")


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
    return check_dropblock_dropped(dropped, float(inp["keep_prob"]), int(inp["block_size"]), "DropBlock")


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
    walk = np.round(np.cumsum(rng.normal(-0.04, 0.12, size=34)) + 2.0, 1)  # rounded: ties happen
    walk = np.r_[walk, np.full(6, walk.max())]  # a flat, worse tail: every sequence ends in a stop
    mode = "min" if rng.random() < 0.5 else "max"
    return {
        "metrics": walk if mode == "min" else -walk,
        "patience": int(rng.integers(1, 5)),
        "min_delta": float(rng.choice([0.0, 0.05, 0.1])),
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


PARTS = (
    Part(
        "l1_penalty",
        1,
        "l1_penalty",
        _penalty_inputs,
        grads=("grad",),
        grad_tol=1e-9,
        description="L1 penalty value and subgradient",
    ),
    Part(
        "l2_penalty",
        1,
        "l2_penalty",
        _penalty_inputs,
        grads=("grad",),
        grad_tol=1e-9,
        description="L2 penalty lam/2 ||w||^2 and gradient lam w",
    ),
    Part(
        "elastic_net_penalty",
        1,
        "elastic_net_penalty",
        _penalty_inputs,
        grads=("grad",),
        grad_tol=1e-9,
        description="elastic net value and gradient",
    ),
    Part(
        "max_norm_project",
        2,
        "max_norm_project",
        _maxnorm_inputs,
        description="max-norm projection along axis 0 and 1, input left unchanged",
    ),
    Part(
        "dropout_forward",
        2,
        "dropout_forward",
        _dropout_inputs,
        compare=compare_dropout_forward,
        description="inverted dropout: values, drop rate, eval identity",
    ),
    Part(
        "dropout_backward",
        1,
        "dropout_backward",
        _dropout_inputs,
        compare=compare_scaled_backward,
        description="dropout backward through the forward's own mask",
    ),
    Part(
        "dropconnect_forward",
        2,
        "dropconnect_forward",
        _dropconnect_inputs,
        compare=compare_dropconnect_forward,
        description="DropConnect: masked weights, rate, eval affine",
    ),
    Part(
        "dropconnect_backward",
        2,
        "dropconnect_backward",
        lambda r: _dropconnect_inputs(r, 30, 20),
        compare=compare_dropconnect_backward,
        description="DropConnect dx, dw, db",
    ),
    Part(
        "spatial_dropout_forward",
        2,
        "spatial_dropout_forward",
        _spatial_inputs,
        compare=compare_spatial_forward,
        description="SpatialDropout: whole channels, rate, eval",
    ),
    Part(
        "spatial_dropout_backward",
        1,
        "spatial_dropout_backward",
        _spatial_inputs,
        compare=compare_scaled_backward,
        description="SpatialDropout backward",
    ),
    Part(
        "dropblock_gamma",
        1,
        "dropblock_gamma",
        _gamma_inputs,
        rtol=1e-9,
        atol=1e-12,
        description="DropBlock seed rate gamma",
    ),
    Part(
        "dropblock_mask",
        3,
        "dropblock_mask",
        _dropblock_inputs,
        compare=compare_dropblock_mask,
        description="DropBlock mask: whole blocks inside the map, exact expected drop rate",
    ),
    Part(
        "dropblock_forward",
        1,
        "dropblock_forward",
        _dropblock_layer_inputs,
        compare=compare_dropblock_forward,
        description="DropBlock layer: count normalisation, eval",
    ),
    Part(
        "dropblock_backward",
        1,
        "dropblock_backward",
        _dropblock_layer_inputs,
        compare=compare_scaled_backward,
        description="DropBlock backward",
    ),
    Part(
        "keep_prob_schedule",
        1,
        "keep_prob_schedule",
        _schedule_inputs,
        rtol=1e-12,
        atol=1e-12,
        description="linear keep_prob schedule from 1 to the target",
    ),
    Part(
        "early_stopping",
        2,
        "early_stopping",
        _early_inputs,
        seeds=6,
        compare=compare_early_stopping,
        description="EarlyStopping.step: patience, min_delta, mode, best epoch and params",
    ),
)
