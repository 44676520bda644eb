"""Hidden checks for topic 04: batch normalization (train, running statistics + eval, two backward passes),
spatial batch normalization, layer normalization and folding BN into the preceding affine layer."""

from autograder.spec import Misconception, Part


def _stats(rng, d):
    """Non-trivial BN hyper-parameters and running statistics so conventions (momentum, unbiased) show."""
    return {
        "eps": float(rng.choice([1e-5, 1e-3])),
        "momentum": float(rng.uniform(0.05, 0.3)),
        "running_mean": rng.normal(size=d),
        "running_var": rng.uniform(0.5, 2.0, size=d),
    }


def _bn(rng, backward=False):
    n, d = int(rng.integers(3, 9)), int(rng.integers(2, 7))
    inp = {
        "x": rng.normal(rng.normal(size=d), rng.uniform(0.5, 3.0, size=d), size=(n, d)),
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
    n, d = int(rng.integers(2, 7)), int(rng.integers(3, 9))
    inp = {
        "x": rng.normal(rng.normal(size=(n, 1)), rng.uniform(0.5, 3.0, size=(n, 1)), size=(n, d)),
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
# Wrong implementations written against the reference (trusted code; the grader names them, see spec.Misconception).
def _no_mean_term(dout, cache):
    """batchnorm_backward that forgets the path through the batch mean (the mean depends on every x)."""
    from deepkit import norm

    dx, dgamma, dbeta = norm.batchnorm_backward(dout, cache)
    return dx + cache["gamma"] * cache["inv_std"] * dbeta / len(dout), dgamma, dbeta


NO_MEAN_TERM = Misconception(
    "dx matches batch norm backward without the path through the batch mean (mu depends on every x_i, so "
    "dx needs the - sum(dout)/m term)",
    "lecture 04, section 3",
    {"norm.batchnorm_backward": _no_mean_term},
)

_GRADS = ("dx", "dgamma", "dbeta")

PARTS = (
    Part(
        "bn_forward",
        2,
        "bn_forward",
        _bn,
        seeds=4,
        description="batch norm forward, train mode: batch mean and biased batch variance",
    ),
    Part(
        "bn_running_eval",
        2,
        "bn_running_eval",
        _bn_running,
        seeds=4,
        description="running mean/variance (momentum on the new value, unbiased variance) and eval mode",
    ),
    Part(
        "bn_backward",
        2,
        "bn_backward",
        lambda rng: _bn(rng, True),
        seeds=4,
        grads=_GRADS,
        grad_tol=1e-7,
        description="batch norm backward through the computation graph",
        misconceptions=(NO_MEAN_TERM,),
    ),
    Part(
        "bn_backward_alt",
        2,
        "bn_backward_alt",
        lambda rng: _bn(rng, True),
        seeds=4,
        grads=_GRADS,
        grad_tol=1e-7,
        description="batch norm backward, closed form",
    ),
    Part(
        "spatial_bn_forward",
        1,
        "spatial_bn_forward",
        _spatial,
        seeds=3,
        description="spatial batch norm forward: statistics per channel over N, H, W",
    ),
    Part(
        "spatial_bn_backward",
        1,
        "spatial_bn_backward",
        lambda rng: _spatial(rng, True),
        seeds=3,
        grads=_GRADS,
        grad_tol=1e-7,
        description="spatial batch norm backward",
    ),
    Part(
        "ln_forward",
        1,
        "ln_forward",
        _ln,
        seeds=3,
        description="layer norm forward: statistics per example over its features",
    ),
    Part(
        "ln_backward",
        2,
        "ln_backward",
        lambda rng: _ln(rng, True),
        seeds=4,
        grads=_GRADS,
        grad_tol=1e-7,
        description="layer norm backward",
    ),
    Part(
        "bn_fold",
        1,
        "bn_fold",
        _fold,
        seeds=3,
        description="folding an eval-mode batch norm into the preceding affine layer",
    ),
)
