"""Hidden checks for topic 04: batch normalization (train, running statistics + eval, two backward passes),
spatial batch normalization, layer normalization and folding BN into the preceding affine layer.

The generators include the edges the docstrings define: batches of 2, a constant column (zero variance: only
eps keeps the division finite), one example and a constant row for layer norm; the probes add eval mode for
every forward and backward, one example in eval mode, and momentum 0 and 1.
"""

import numpy as np

from autograder.spec import Misconception, Part


def _stats(rng, d):
    """Non-trivial BN hyper-parameters and running statistics so conventions (momentum, unbiased) show."""
    return {
        "eps": float(rng.choice([1e-5, 1e-3])),
        "momentum": float(rng.uniform(0.05, 0.3)),
        "running_mean": rng.normal(size=d),
        "running_var": rng.uniform(0.5, 2.0, size=d),
    }


def _constant_slice(rng, x: np.ndarray, axis: int) -> np.ndarray:
    """On about half of the cases, one column (axis 1) or row (axis 0) of x made constant: zero variance (never
    the only row: a case must still tell the statistics' axis apart)."""
    if rng.random() < 0.5 and x.shape[0] > 1:
        k = int(rng.integers(x.shape[axis]))
        index = (slice(None), k) if axis == 1 else (k, slice(None))
        x[index] = float(rng.normal())
    return x


def _bn(rng, backward=False):
    n, d = int(rng.integers(2, 9)), int(rng.integers(2, 7))
    inp = {
        "x": _constant_slice(rng, rng.normal(rng.normal(size=d), rng.uniform(0.5, 3.0, size=d), size=(n, d)), 1),
        "gamma": rng.normal(size=d),
        "beta": rng.normal(size=d),
        **_stats(rng, d),
    }
    if backward:
        inp["dout"] = rng.normal(size=(n, d))
    return inp


def _bn_running(rng):
    n, d, k = int(rng.integers(3, 8)), int(rng.integers(2, 6)), int(rng.integers(2, 5))
    loc, scale = rng.normal(size=d), rng.uniform(0.5, 3.0, size=d)
    return {
        "batches": rng.normal(loc, scale, size=(k, n, d)),
        "x": rng.normal(loc, scale, size=(n, d)),
        "gamma": rng.normal(size=d),
        "beta": rng.normal(size=d),
        **_stats(rng, d),
    }


def _spatial(rng, backward=False):
    n, c, h, w = (int(v) for v in rng.integers(2, 5, size=4))
    inp = {
        "x": rng.normal(rng.normal(size=(1, c, 1, 1)), 2.0, size=(n, c, h, w)),
        "gamma": rng.normal(size=c),
        "beta": rng.normal(size=c),
        **_stats(rng, c),
    }
    if backward:
        inp["dout"] = rng.normal(size=(n, c, h, w))
    return inp


def _ln(rng, backward=False):
    n, d = int(rng.integers(1, 7)), int(rng.integers(3, 9))
    inp = {
        "x": _constant_slice(
            rng, rng.normal(rng.normal(size=(n, 1)), rng.uniform(0.5, 3.0, size=(n, 1)), size=(n, d)), 0
        ),
        "gamma": rng.normal(size=d),
        "beta": rng.normal(size=d),
        "eps": float(rng.choice([1e-5, 1e-3])),
    }
    if backward:
        inp["dout"] = rng.normal(size=(n, d))
    return inp


def _fold(rng):
    d, m = int(rng.integers(2, 7)), int(rng.integers(2, 6))
    return {
        "w": rng.normal(size=(d, m)),
        "b": rng.normal(size=m),
        "gamma": rng.normal(size=m),
        "beta": rng.normal(size=m),
        "running_mean": rng.normal(size=m),
        "running_var": rng.uniform(0.2, 3.0, size=m),
        "eps": float(rng.choice([1e-5, 1e-3])),
    }


# --------------------------------------------------------------------------------------- known mistakes
# Wrong implementations written against the reference (trusted code, never shipped; see spec.Misconception).
# Each wraps the reference and changes only the mistake; the reference's cache is {"mode", "x", "mu",
# "inv_std", "gamma"} (spatial BN: x as an (N, C, H * W) view, and "shape"); layer norm's the same with
# (N, 1) statistics.


def _xc(cache):
    """The centred input x - mu of a batch norm cache (2-D)."""
    return cache["x"] - cache["mu"]


def _bn_eps(bn_param):
    return float(bn_param.get("eps", 1e-5))


def _renormalized(x, gamma, beta, bn_param, inv_std_of):
    """Train-mode batch norm whose 1/std is ``inv_std_of(xc, eps)`` (running statistics as the reference)."""
    from deepkit import norm

    out, cache = norm.batchnorm_forward(x, gamma, beta, bn_param)
    if cache["mode"] == "train":
        inv_std = inv_std_of(_xc(cache), _bn_eps(bn_param))
        out, cache = _xc(cache) * gamma * inv_std + beta, {**cache, "inv_std": inv_std}
    return out, cache


def _unbiased_normalization(x, gamma, beta, bn_param):
    return _renormalized(x, gamma, beta, bn_param, lambda xc, eps: 1 / np.sqrt(xc.var(axis=0, ddof=1) + eps))


def _eps_outside_sqrt(x, gamma, beta, bn_param):
    return _renormalized(x, gamma, beta, bn_param, lambda xc, eps: 1 / (np.sqrt(xc.var(axis=0)) + eps))


def _running(update):
    """A batchnorm_forward whose train-mode running statistics are ``update(old, batch, momentum, n, is_var)``."""

    def forward(x, gamma, beta, bn_param):
        from deepkit import norm

        old = (np.array(bn_param["running_mean"]), np.array(bn_param["running_var"]))
        out, cache = norm.batchnorm_forward(x, gamma, beta, bn_param)
        if cache["mode"] == "train":
            m, n = bn_param["momentum"], len(x)
            bn_param["running_mean"] = update(old[0], x.mean(axis=0), m, n, False)
            bn_param["running_var"] = update(old[1], x.var(axis=0), m, n, True)
        return out, cache

    return forward


def _eval_uses_batch_statistics(x, gamma, beta, bn_param):
    from deepkit import norm

    if bn_param.get("mode") != "eval":
        return norm.batchnorm_forward(x, gamma, beta, bn_param)
    mu = x.mean(axis=0)
    inv_std = 1 / np.sqrt(x.var(axis=0) + _bn_eps(bn_param))
    return (x - mu) * gamma * inv_std + beta, {"mode": "eval", "x": x, "mu": mu, "inv_std": inv_std, "gamma": gamma}


def _eval_updates_statistics(x, gamma, beta, bn_param):
    from deepkit import norm

    out, cache = norm.batchnorm_forward(x, gamma, beta, bn_param)
    if cache["mode"] == "eval":  # the update written outside the ``if train`` branch
        m, n = float(bn_param.get("momentum", 0.1)), len(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            unbiased = x.var(axis=0) * n / (n - 1)
        bn_param["running_mean"] = (1 - m) * bn_param["running_mean"] + m * x.mean(axis=0)
        bn_param["running_var"] = (1 - m) * bn_param["running_var"] + m * unbiased
    return out, cache


def _momentum_zero_is_missing(x, gamma, beta, bn_param):
    """``momentum = bn_param.get("momentum") or 0.1``: a momentum of 0 silently becomes the default."""
    from deepkit import norm

    tmp = {**bn_param, "momentum": bn_param.get("momentum") or 0.1}
    out, cache = norm.batchnorm_forward(x, gamma, beta, tmp)
    bn_param["running_mean"], bn_param["running_var"] = tmp["running_mean"], tmp["running_var"]
    return out, cache


def _train_mode_formula(dout, cache):
    """The train-mode closed form, applied whatever the mode."""
    xhat, scale, n = _xc(cache) * cache["inv_std"], cache["gamma"] * cache["inv_std"], len(dout)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return scale / n * (n * dout - dbeta - xhat * dgamma), dgamma, dbeta


def _eval_backward_as_train(backward):
    def wrong(dout, cache):
        from deepkit import norm

        if cache["mode"] == "eval":
            return _train_mode_formula(dout, cache)
        return getattr(norm, backward)(dout, cache)

    return wrong


def _train_only(change):
    """A batch norm backward that is right in eval mode and changed by ``change(dout, cache, grads)`` in train."""

    def wrong(dout, cache):
        from deepkit import norm

        grads = norm.batchnorm_backward(dout, cache)
        return grads if cache["mode"] == "eval" else change(dout, cache, grads)

    return wrong


def _no_mean_term(dout, cache, grads):
    dx, dgamma, dbeta = grads
    return dx + cache["gamma"] * cache["inv_std"] * dbeta / len(dout), dgamma, dbeta


def _no_variance_path(dout, cache, grads):
    _, dgamma, dbeta = grads
    return cache["gamma"] * cache["inv_std"] * (dout - dbeta / len(dout)), dgamma, dbeta


def _closed_form_without_one_over_n(dout, cache, grads):
    dx, dgamma, dbeta = grads
    return dx * len(dout), dgamma, dbeta


def _dgamma_not_summed(dout, cache, grads):
    dx, _, dbeta = grads
    return dx, dout * _xc(cache) * cache["inv_std"], dbeta


def _spatial_without_moving_channels(x, gamma, beta, bn_param):
    """(N, C, H, W) reshaped straight to (-1, C): each "channel" column mixes channels and positions."""
    from deepkit import norm

    out, cache = norm.batchnorm_forward(x.reshape(-1, x.shape[1]), gamma, beta, bn_param)
    return out.reshape(x.shape), cache


def _spatial_per_position(x, gamma, beta, bn_param):
    """Statistics per (channel, position) over the batch only: fully connected BN of x.reshape(N, -1)."""
    from deepkit import norm

    n, c, h, w = x.shape
    p = {**bn_param, "running_mean": np.repeat(bn_param["running_mean"], h * w)}
    p["running_var"] = np.repeat(bn_param["running_var"], h * w)
    out, cache = norm.batchnorm_forward(x.reshape(n, -1), np.repeat(gamma, h * w), np.repeat(beta, h * w), p)
    return out.reshape(x.shape), cache


def _spatial_eval_backward_as_train(dout, cache):
    from deepkit import norm

    if cache["mode"] != "eval":
        return norm.spatial_batchnorm_backward(dout, cache)
    n, c, h, w = cache["shape"]
    flat = {**cache, "x": cache["x"].transpose(0, 2, 1).reshape(-1, c)}
    dx, dgamma, dbeta = _train_mode_formula(dout.transpose(0, 2, 3, 1).reshape(-1, c), flat)
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta


def _ln_over_the_batch(x, gamma, beta, ln_param=None):
    """Statistics per feature over the batch (batch norm without running statistics)."""
    eps = float((ln_param or {}).get("eps", 1e-5))
    xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)
    return gamma * xhat + beta, None


def _ln_xhat(cache):
    return (cache["x"] - cache["mu"]) * cache["inv_std"]


def _ln_gamma_outside_the_sums(dout, cache):
    """Batch norm's closed form turned sideways with gamma factored out of the row sums (only right when gamma
    is the same for every feature)."""
    xhat, inv_std, gamma = _ln_xhat(cache), cache["inv_std"], cache["gamma"]
    d = dout.shape[1]
    inner = d * dout - dout.sum(axis=1, keepdims=True) - xhat * (dout * xhat).sum(axis=1, keepdims=True)
    return gamma * inv_std / d * inner, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def _ln_dgamma_over_features(dout, cache):
    from deepkit import norm

    dx, _, dbeta = norm.layernorm_backward(dout, cache)
    return dx, (dout * _ln_xhat(cache)).sum(axis=1), dbeta


def _fold_ignores_mean(w, b, gamma, beta, rm, rv, eps=1e-5):
    scale = gamma / np.sqrt(rv + eps)
    return w * scale, b * scale + beta


def _fold_bias_not_scaled(w, b, gamma, beta, rm, rv, eps=1e-5):
    scale = gamma / np.sqrt(rv + eps)
    return w * scale, b - rm * scale + beta


def _fold_divides_by_variance(w, b, gamma, beta, rm, rv, eps=1e-5):
    scale = gamma / (rv + eps)
    return w * scale, (b - rm) * scale + beta


BN_FORWARD = "lecture 04, section 2"
BN_GRAPH = "lecture 04, section 3"
BN_CLOSED_FORM = "lecture 04, section 4"
BN_RUNNING = "lecture 04, section 6"
BN_FOLD = "lecture 04, section 7"
BN_SPATIAL = "lecture 04, section 8"
LN = "lecture 04, section 10"

UNBIASED_NORMALIZATION = Misconception(
    "out matches batch norm normalized with the UNBIASED batch variance (the normalization divides by N; only "
    "the running variance uses N / (N - 1))",
    BN_FORWARD,
    {"norm.batchnorm_forward": _unbiased_normalization},
)
EPS_OUTSIDE_SQRT = Misconception(
    "out matches (x - mu) / (sqrt(var) + eps): eps belongs inside the square root, sqrt(var + eps)",
    BN_FORWARD,
    {"norm.batchnorm_forward": _eps_outside_sqrt},
)
BIASED_RUNNING_VAR = Misconception(
    "the running variance matches an average of BIASED batch variances (update it with N / (N - 1) * var)",
    BN_RUNNING,
    {"norm.batchnorm_forward": _running(lambda old, batch, m, n, is_var: (1 - m) * old + m * batch)},
)
FLIPPED_MOMENTUM = Misconception(
    "the running statistics match momentum weighting the OLD value (Keras' convention); here momentum weights "
    "the new batch statistic: running = (1 - momentum) * running + momentum * batch",
    BN_RUNNING,
    {
        "norm.batchnorm_forward": _running(
            lambda old, batch, m, n, is_var: m * old + (1 - m) * (batch * n / (n - 1) if is_var else batch)
        )
    },
)
EVAL_USES_BATCH_STATISTICS = Misconception(
    "the eval-mode output matches normalization with the BATCH's mean and variance; eval mode uses the running "
    "statistics (one example must be classifiable on its own)",
    BN_RUNNING,
    {"norm.batchnorm_forward": _eval_uses_batch_statistics},
)
EVAL_UPDATES_STATISTICS = Misconception(
    "eval mode changed the running statistics: update them in train mode only",
    BN_RUNNING,
    {"norm.batchnorm_forward": _eval_updates_statistics},
)
MOMENTUM_ZERO_IS_MISSING = Misconception(
    "with momentum 0 the running statistics moved as if momentum were 0.1: a momentum of 0 is a valid value "
    "(the statistics stay), not a missing one (`bn_param.get('momentum') or 0.1` replaces it)",
    BN_RUNNING,
    {"norm.batchnorm_forward": _momentum_zero_is_missing},
)
NO_MEAN_TERM = Misconception(
    "dx matches batch norm backward without the path through the batch mean (mu depends on every x_i, so "
    "dx needs the - sum(dout)/m term)",
    BN_GRAPH,
    {"norm.batchnorm_backward": _train_only(_no_mean_term)},
)
NO_VARIANCE_PATH = Misconception(
    "dx matches batch norm backward without the path through the batch variance (var depends on every x_i: "
    "the - xhat * sum(dout * xhat) / m term)",
    BN_GRAPH,
    {"norm.batchnorm_backward": _train_only(_no_variance_path)},
)
EVAL_BACKWARD_AS_TRAIN = Misconception(
    "the eval-mode dx matches the TRAIN-mode formula; in eval mode the statistics are constants, so "
    "dx = dout * gamma / sqrt(running_var + eps)",
    BN_RUNNING,
    {"norm.batchnorm_backward": _eval_backward_as_train("batchnorm_backward")},
)
EVAL_BACKWARD_AS_TRAIN_ALT = Misconception(
    EVAL_BACKWARD_AS_TRAIN.says,
    BN_RUNNING,
    {"norm.batchnorm_backward_alt": _eval_backward_as_train("batchnorm_backward_alt")},
)
CLOSED_FORM_WITHOUT_PROJECTION = Misconception(
    "dx matches the closed form without the - xhat * dgamma term (the variance depends on every x_i too)",
    BN_CLOSED_FORM,
    {"norm.batchnorm_backward_alt": _train_only(_no_variance_path)},
)
CLOSED_FORM_WITHOUT_ONE_OVER_N = Misconception(
    "dx is N times too large: the closed form has gamma / (N sqrt(var + eps)) in front",
    BN_CLOSED_FORM,
    {"norm.batchnorm_backward_alt": _train_only(_closed_form_without_one_over_n)},
)
DGAMMA_NOT_SUMMED = Misconception(
    "dgamma is dout * xhat per example: gamma is shared by the whole batch, so sum over the N rows (shape (D,))",
    BN_CLOSED_FORM,
    {"norm.batchnorm_backward_alt": lambda dout, cache: _dgamma_not_summed(dout, cache, _bn_alt(dout, cache))},
)
SPATIAL_WITHOUT_MOVING_CHANNELS = Misconception(
    "out matches (N, C, H, W) reshaped straight to (-1, C): move the channel axis last first (transpose), or "
    "take the statistics over axes (0, 2, 3)",
    BN_SPATIAL,
    {"norm.spatial_batchnorm_forward": _spatial_without_moving_channels},
)
SPATIAL_PER_POSITION = Misconception(
    "out matches statistics per channel AND position over the batch only: a convolution's channel is "
    "normalized over N, H and W together (one mean and variance per channel)",
    BN_SPATIAL,
    {"norm.spatial_batchnorm_forward": _spatial_per_position},
)
SPATIAL_EVAL_BACKWARD_AS_TRAIN = Misconception(
    EVAL_BACKWARD_AS_TRAIN.says, BN_SPATIAL, {"norm.spatial_batchnorm_backward": _spatial_eval_backward_as_train}
)
LN_OVER_THE_BATCH = Misconception(
    "out matches statistics over the BATCH axis: layer norm normalizes each row over its own D features",
    LN,
    {"norm.layernorm_forward": _ln_over_the_batch},
)
LN_GAMMA_OUTSIDE_THE_SUMS = Misconception(
    "dx matches batch norm's closed form turned sideways with gamma taken out of the row sums; gamma varies "
    "along a row, so the sums run over dxhat = dout * gamma",
    LN,
    {"norm.layernorm_backward": _ln_gamma_outside_the_sums},
)
LN_DGAMMA_OVER_FEATURES = Misconception(
    "dgamma is summed over the features of each row; gamma has one entry per feature, shared by the batch: "
    "sum over the N rows",
    LN,
    {"norm.layernorm_backward": _ln_dgamma_over_features},
)
FOLD_IGNORES_MEAN = Misconception(
    "b_folded ignores the running mean: b' = (b - running_mean) * s + beta",
    BN_FOLD,
    {"norm.fold_batchnorm": _fold_ignores_mean},
)
FOLD_BIAS_NOT_SCALED = Misconception(
    "b_folded adds b unscaled: the bias passes through the batch norm too, b' = (b - running_mean) * s + beta",
    BN_FOLD,
    {"norm.fold_batchnorm": _fold_bias_not_scaled},
)
FOLD_DIVIDES_BY_VARIANCE = Misconception(
    "the folded scale divides by the variance: s = gamma / sqrt(running_var + eps), a standard deviation",
    BN_FOLD,
    {"norm.fold_batchnorm": _fold_divides_by_variance},
)


def _bn_alt(dout, cache):
    from deepkit import norm

    return norm.batchnorm_backward_alt(dout, cache)


_GRADS = ("dx", "dgamma", "dbeta", "dx_eval", "dgamma_eval", "dbeta_eval")

PARTS = (
    Part(
        "bn_forward",
        2,
        "bn_forward",
        _bn,
        seeds=4,
        description="batch norm forward, train mode: batch mean and biased batch variance",
        misconceptions=(UNBIASED_NORMALIZATION, EPS_OUTSIDE_SQRT),
    ),
    Part(
        "bn_running_eval",
        2,
        "bn_running_eval",
        _bn_running,
        seeds=4,
        description="running mean/variance (momentum on the new value, unbiased variance; momentum 0 and 1) and "
        "eval mode (also one example)",
        misconceptions=(
            BIASED_RUNNING_VAR,
            FLIPPED_MOMENTUM,
            EVAL_USES_BATCH_STATISTICS,
            EVAL_UPDATES_STATISTICS,
            MOMENTUM_ZERO_IS_MISSING,
        ),
    ),
    Part(
        "bn_backward",
        2,
        "bn_backward",
        lambda rng: _bn(rng, True),
        seeds=4,
        grads=_GRADS,
        grad_tol=1e-7,
        description="batch norm backward through the computation graph (train and eval mode)",
        misconceptions=(NO_MEAN_TERM, NO_VARIANCE_PATH, EVAL_BACKWARD_AS_TRAIN),
    ),
    Part(
        "bn_backward_alt",
        2,
        "bn_backward_alt",
        lambda rng: _bn(rng, True),
        seeds=4,
        grads=_GRADS,
        grad_tol=1e-7,
        description="batch norm backward, closed form (train and eval mode)",
        misconceptions=(
            CLOSED_FORM_WITHOUT_PROJECTION,
            CLOSED_FORM_WITHOUT_ONE_OVER_N,
            DGAMMA_NOT_SUMMED,
            EVAL_BACKWARD_AS_TRAIN_ALT,
        ),
    ),
    Part(
        "spatial_bn_forward",
        1,
        "spatial_bn_forward",
        _spatial,
        seeds=3,
        description="spatial batch norm forward: statistics per channel over N, H, W (train and eval)",
        misconceptions=(SPATIAL_WITHOUT_MOVING_CHANNELS, SPATIAL_PER_POSITION),
    ),
    Part(
        "spatial_bn_backward",
        1,
        "spatial_bn_backward",
        lambda rng: _spatial(rng, True),
        seeds=3,
        grads=_GRADS,
        grad_tol=1e-7,
        description="spatial batch norm backward (train and eval mode)",
        misconceptions=(SPATIAL_EVAL_BACKWARD_AS_TRAIN,),
    ),
    Part(
        "ln_forward",
        1,
        "ln_forward",
        _ln,
        seeds=3,
        description="layer norm forward: statistics per example over its features",
        misconceptions=(LN_OVER_THE_BATCH,),
    ),
    Part(
        "ln_backward",
        2,
        "ln_backward",
        lambda rng: _ln(rng, True),
        seeds=4,
        grads=("dx", "dgamma", "dbeta"),
        grad_tol=1e-7,
        description="layer norm backward",
        misconceptions=(LN_GAMMA_OUTSIDE_THE_SUMS, LN_DGAMMA_OVER_FEATURES),
    ),
    Part(
        "bn_fold",
        1,
        "bn_fold",
        _fold,
        seeds=3,
        description="folding an eval-mode batch norm into the preceding affine layer",
        misconceptions=(FOLD_IGNORES_MEAN, FOLD_BIAS_NOT_SCALED, FOLD_DIVIDES_BY_VARIANCE),
    ),
)
