"""The reference deepkit (reference, NumPy float64) against torch (CPU, float64), layer by layer.

Every case times one forward + backward (or one optimizer step) of the same math in both libraries, on the
same inputs, in the same process: ``ours`` and ``theirs`` are timed alternately, after a warm-up, and each
side reports the median over the repeats. ``ratio = deepkit / torch`` (> 1: the reference is slower).

A case whose deepkit module (or function) is absent, or still a stub, is reported with status "missing"
instead of failing the run. Thread settings are chosen by the caller (see ``bench/__main__.py``): they must
be fixed before NumPy is imported.
"""

from __future__ import annotations

import importlib
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "reference") not in sys.path:
    sys.path.insert(0, str(ROOT / "reference"))

Fn = Callable[[], object]


@dataclass
class Case:
    """One benchmark: ``make(dk_module, rng) -> (ours, theirs)``, two zero-argument closures."""

    layer: str
    shape: str
    module: str
    make: Callable[[object, np.random.Generator], tuple[Fn, Fn]]
    quick: bool = True  # part of the --quick subset


@dataclass
class Result:
    layer: str
    shape: str
    module: str
    status: str  # "ok" or "missing: <why>"
    deepkit_ms: float | None = None  # medians
    torch_ms: float | None = None
    deepkit_min_ms: float | None = None  # best runs
    torch_min_ms: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.deepkit_ms is None or not self.torch_ms:
            return None
        return self.deepkit_ms / self.torch_ms

    @property
    def min_ratio(self) -> float | None:
        if self.deepkit_min_ms is None or not self.torch_min_ms:
            return None
        return self.deepkit_min_ms / self.torch_min_ms

    def as_dict(self) -> dict:
        r, m = self.ratio, self.min_ratio
        return {
            "layer": self.layer,
            "shape": self.shape,
            "module": self.module,
            "status": self.status,
            "deepkit_ms": _round(self.deepkit_ms),
            "torch_ms": _round(self.torch_ms),
            "ratio": None if r is None else round(r, 3),
            "deepkit_min_ms": _round(self.deepkit_min_ms),
            "torch_min_ms": _round(self.torch_min_ms),
            "min_ratio": None if m is None else round(m, 3),
        }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def time_pair(ours: Fn, theirs: Fn, repeats: int, budget_s: float = 0.0) -> tuple[float, float, float, float]:
    """Median and best (minimum) milliseconds of ``ours`` and ``theirs``: (median_ours, median_theirs,
    min_ours, min_theirs), timed alternately after one warm-up call each.

    Alternating spreads the noise of a shared machine evenly over both sides of the ratio. Quick cases are
    repeated more (up to ``budget_s`` seconds for the pair, at most 20 x ``repeats``) so that their medians
    are not at the mercy of a few scheduler hiccups. The minimum is the least disturbed run, which on a busy
    machine is often the better estimate of the cost itself (as the timeit documentation argues).
    """
    t0 = time.perf_counter()
    ours(), theirs()
    first = time.perf_counter() - t0
    if budget_s > 0 and first > 0:
        repeats = max(repeats, min(20 * repeats, int(budget_s / first)))
    a, b = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours()
        t1 = time.perf_counter()
        theirs()
        t2 = time.perf_counter()
        a.append(t1 - t0)
        b.append(t2 - t1)
    return statistics.median(a) * 1e3, statistics.median(b) * 1e3, min(a) * 1e3, min(b) * 1e3


# ------------------------------------------------------------------------------------------------ helpers
def _leaves(*arrays: np.ndarray) -> list[torch.Tensor]:
    return [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]


def _torch_fb(forward: Callable[..., torch.Tensor], arrays: tuple, dout: np.ndarray | None) -> Fn:
    """A closure running ``forward(*leaves)`` and its backward (with upstream ``dout``, or a scalar loss)."""
    leaves = _leaves(*arrays)
    d = None if dout is None else torch.tensor(dout)

    def run():
        for t in leaves:
            t.grad = None
        out = forward(*leaves)
        out.backward(d)

    return run


def _ours_fb(fwd: Callable, bwd: Callable, args: tuple, dout: np.ndarray, **kw) -> Fn:
    def run():
        _, cache = fwd(*args, **kw)
        bwd(dout, cache)

    return run


def _fb_case(
    fwd_name: str,
    bwd_name: str,
    torch_fwd: Callable,
    shapes: Callable[[np.random.Generator], tuple],
    out_shape: Callable[[tuple], tuple],
    **kw,
):
    """make() for the common pattern: deepkit fwd/bwd on arrays vs a torch expression on leaf tensors."""

    def make(mod, rng):
        args = shapes(rng)
        dout = rng.standard_normal(out_shape(args))
        ours = _ours_fb(getattr(mod, fwd_name), getattr(mod, bwd_name), args, dout, **kw)
        return ours, _torch_fb(torch_fwd, args, dout)

    return make


def _normal(*shape):
    return lambda rng: rng.standard_normal(shape)


# ------------------------------------------------------------------------------------------------- layers
def _affine(n, d, m):
    return _fb_case(
        "affine_forward",
        "affine_backward",
        lambda x, w, b: x @ w + b,
        lambda rng: (rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m)),
        lambda a: (n, m),
    )


def _unary(name: str, torch_fn: Callable, n: int, d: int, fwd_kw: dict | None = None):
    """Elementwise activations: deepkit ``name_forward(x, **kw)`` / ``name_backward`` vs ``torch_fn(x)``."""
    return _fb_case(
        f"{name}_forward",
        f"{name}_backward",
        torch_fn,
        lambda rng: (rng.standard_normal((n, d)),),
        lambda a: a[0].shape,
        **(fwd_kw or {}),
    )


def _softmax_loss(n, c):
    def make(mod, rng):
        scores, y = rng.standard_normal((n, c)), rng.integers(0, c, n)
        yt = torch.tensor(y)
        return (lambda: mod.softmax_loss(scores, y)), _torch_fb(lambda s: F.cross_entropy(s, yt), (scores,), None)

    return make


def _prelu(n, d):
    def make(mod, rng):
        x, alpha = rng.standard_normal((n, d)), np.full(d, 0.25)
        dout = rng.standard_normal((n, d))
        return (
            _ours_fb(mod.prelu_forward, mod.prelu_backward, (x, alpha), dout),
            _torch_fb(lambda xt, at: F.prelu(xt, at), (x, alpha), dout),
        )

    return make


def _maxout(n, d, m, k):
    def torch_maxout(x, w, b):
        return ((x @ w.reshape(d, m * k)).reshape(-1, m, k) + b).amax(dim=2)

    return _fb_case(
        "maxout_forward",
        "maxout_backward",
        torch_maxout,
        lambda rng: (rng.standard_normal((n, d)), rng.standard_normal((d, m, k)), rng.standard_normal((m, k))),
        lambda a: (n, m),
    )


def _norm(kind: str, shape: tuple):
    """batchnorm (two backward forms), spatial batchnorm and layernorm in train mode."""
    fwd, bwd = {
        "batchnorm": ("batchnorm_forward", "batchnorm_backward"),
        "batchnorm_alt": ("batchnorm_forward", "batchnorm_backward_alt"),
        "spatial_batchnorm": ("spatial_batchnorm_forward", "spatial_batchnorm_backward"),
        "layernorm": ("layernorm_forward", "layernorm_backward"),
    }[kind]
    feat = shape[-1] if kind == "layernorm" else shape[1]

    def make(mod, rng):
        x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
        gamma, beta = rng.standard_normal(feat), rng.standard_normal(feat)
        if kind == "layernorm":
            ours = _ours_fb(getattr(mod, fwd), getattr(mod, bwd), (x, gamma, beta), dout)
            theirs = _torch_fb(lambda xt, g, b: F.layer_norm(xt, (feat,), g, b), (x, gamma, beta), dout)
            return ours, theirs
        fwd_fn, bwd_fn = getattr(mod, fwd), getattr(mod, bwd)

        def ours():  # a fresh bn_param each call: the running statistics start from the same state
            _, cache = fwd_fn(x, gamma, beta, {"mode": "train"})
            bwd_fn(dout, cache)

        rm, rv = torch.zeros(feat, dtype=torch.float64), torch.ones(feat, dtype=torch.float64)
        theirs = _torch_fb(lambda xt, g, b: F.batch_norm(xt, rm, rv, g, b, training=True), (x, gamma, beta), dout)
        return ours, theirs

    return make


def _dropout(kind: str, shape: tuple, p: float = 0.5):
    fwd, bwd, torch_fn = {
        "dropout": ("dropout_forward", "dropout_backward", F.dropout),
        "spatial_dropout": ("spatial_dropout_forward", "spatial_dropout_backward", F.dropout2d),
    }[kind]

    def make(mod, rng):
        x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
        ours = _ours_fb(getattr(mod, fwd), getattr(mod, bwd), (x, p, "train", rng), dout)
        return ours, _torch_fb(lambda xt: torch_fn(xt, p, training=True), (x,), dout)

    return make


def _alphaconv(n, c_in, c_out, hw, kk):
    def torch_alphaconv(x, k, c, b):  # the same layer: conv with kernels k[j, i] scaled by alpha[i, j]
        alpha = torch.softmax(c, dim=0)
        return F.conv2d(x, k * alpha.T[:, :, None, None], b)

    return _fb_case(
        "alphaconv_forward",
        "alphaconv_backward",
        torch_alphaconv,
        lambda rng: (
            rng.standard_normal((n, c_in, hw, hw)),
            rng.standard_normal((c_out, c_in, kk, kk)),
            rng.standard_normal((c_in, c_out)),
            rng.standard_normal(c_out),
        ),
        lambda a: (n, c_out, hw - kk + 1, hw - kk + 1),
    )


def _conv(n, c, f, hw, kk=3, pad=1, stride=1):
    ho = (hw + 2 * pad - kk) // stride + 1
    return _fb_case(
        "conv2d_forward",
        "conv2d_backward",
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=pad),
        lambda rng: (rng.standard_normal((n, c, hw, hw)), rng.standard_normal((f, c, kk, kk)), rng.standard_normal(f)),
        lambda a: (n, f, ho, ho),
        stride=stride,
        pad=pad,
    )


def _conv_transpose(n, c_in, c_out, hw, kk=4, stride=2, pad=1):
    ho = (hw - 1) * stride - 2 * pad + kk
    return _fb_case(
        "conv_transpose2d_forward",
        "conv_transpose2d_backward",
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=stride, padding=pad),
        lambda rng: (
            rng.standard_normal((n, c_in, hw, hw)),
            rng.standard_normal((c_in, c_out, kk, kk)),
            rng.standard_normal(c_out),
        ),
        lambda a: (n, c_out, ho, ho),
        stride=stride,
        pad=pad,
    )


def _pool(kind: str, shape: tuple, pool: int = 2):
    torch_fn = F.max_pool2d if kind == "maxpool" else F.avg_pool2d
    n, c, h, w = shape
    return _fb_case(
        f"{kind}_forward",
        f"{kind}_backward",
        lambda x: torch_fn(x, pool),
        lambda rng: (rng.standard_normal(shape),),
        lambda a: (n, c, h // pool, w // pool),
        pool=pool,
    )


def _residual(n, c, hw):
    def make(mod, rng):
        x = rng.standard_normal((n, c, hw, hw))
        params = mod.init_residual_block(c, c, rng)
        dout = rng.standard_normal(x.shape)
        names = ("W1", "b1", "W2", "b2")

        def block(xt, W1, b1, W2, b2):
            h = F.relu(F.conv2d(xt, W1, b1, padding=1))
            return F.relu(F.conv2d(h, W2, b2, padding=1) + xt)

        ours = _ours_fb(mod.residual_block_forward, mod.residual_block_backward, (x, params), dout)
        return ours, _torch_fb(block, (x, *(params[k] for k in names)), dout)

    return make


def _optim(rule: str, shape: tuple):
    """One update of a (shape) parameter from a fixed gradient, state carried over (as in training)."""
    torch_opt, kw = {
        "sgd_momentum": (torch.optim.SGD, {"lr": 1e-2, "momentum": 0.9}),
        "rmsprop": (torch.optim.RMSprop, {"lr": 1e-2, "alpha": 0.99}),
        "adam": (torch.optim.Adam, {"lr": 1e-3}),
    }[rule]

    def make(mod, rng):
        w, dw = rng.standard_normal(shape), rng.standard_normal(shape)
        step = getattr(mod, f"{rule}_step")
        state: dict = {}
        step(w, dw, state, **kw)  # fails here (-> "missing") for a stub

        def ours():
            nonlocal state
            _, state = step(w, dw, state, **kw)

        p = torch.tensor(w, requires_grad=True)
        p.grad = torch.tensor(dw)
        opt = torch_opt([p], **kw)
        return ours, opt.step

    return make


CASES: list[Case] = [
    Case("affine", "x 128x784, w 784x100", "layers", _affine(128, 784, 100)),
    Case("relu", "256x1024", "layers", _unary("relu", F.relu, 256, 1024)),
    Case("softmax_loss", "scores 256x10", "losses", _softmax_loss(256, 10)),
    Case("softmax_loss", "scores 1024x1000", "losses", _softmax_loss(1024, 1000), quick=False),
    Case("sigmoid", "256x1024", "activations", _unary("sigmoid", torch.sigmoid, 256, 1024)),
    Case("tanh", "256x1024", "activations", _unary("tanh", torch.tanh, 256, 1024)),
    Case(
        "leaky_relu",
        "256x1024",
        "activations",
        _unary("leaky_relu", lambda x: F.leaky_relu(x, 0.01), 256, 1024, {"slope": 0.01}),
    ),
    Case("prelu", "256x1024", "activations", _prelu(256, 1024)),
    Case("elu", "256x1024", "activations", _unary("elu", F.elu, 256, 1024)),
    Case("selu", "256x1024", "activations", _unary("selu", F.selu, 256, 1024)),
    Case("maxout", "x 128x256, 128 units x 4", "activations", _maxout(128, 256, 128, 4)),
    Case("batchnorm", "256x1024", "norm", _norm("batchnorm", (256, 1024))),
    Case("batchnorm (alt backward)", "256x1024", "norm", _norm("batchnorm_alt", (256, 1024))),
    Case("spatial batchnorm", "32x64x16x16", "norm", _norm("spatial_batchnorm", (32, 64, 16, 16))),
    Case("layernorm", "256x1024", "norm", _norm("layernorm", (256, 1024))),
    Case("dropout", "256x1024, p=0.5", "dropout", _dropout("dropout", (256, 1024))),
    Case("spatial dropout", "32x16x16x16, p=0.5", "dropout", _dropout("spatial_dropout", (32, 16, 16, 16))),
    Case("alpha-conv", "64x4x8x8 -> 8 maps, 3x3", "alphaconv", _alphaconv(64, 4, 8, 8, 3)),
    Case("conv2d (digits)", "64x1x8x8 -> 8, 3x3 pad 1", "conv", _conv(64, 1, 8, 8)),
    Case("conv2d (digits)", "64x8x8x8 -> 8, 3x3 pad 1", "conv", _conv(64, 8, 8, 8)),
    Case("conv2d", "32x16x16x16 -> 16, 3x3 pad 1", "conv", _conv(32, 16, 16, 16), quick=False),
    Case("conv2d (stride 2)", "32x16x16x16 -> 32, 3x3 pad 1", "conv", _conv(32, 16, 32, 16, stride=2), quick=False),
    Case("maxpool", "32x16x16x16, 2x2", "pool", _pool("maxpool", (32, 16, 16, 16))),
    Case("avgpool", "32x16x16x16, 2x2", "pool", _pool("avgpool", (32, 16, 16, 16))),
    Case("conv transpose", "32x16x8x8 -> 8, 4x4 stride 2", "conv", _conv_transpose(32, 16, 8, 8)),
    Case("residual block", "32x16x8x8", "blocks", _residual(32, 16, 8)),
    Case("residual block", "32x16x16x16", "blocks", _residual(32, 16, 16), quick=False),
    Case("sgd_momentum step", "256x512", "optim", _optim("sgd_momentum", (256, 512))),
    Case("rmsprop step", "256x512", "optim", _optim("rmsprop", (256, 512))),
    Case("adam step", "256x512", "optim", _optim("adam", (256, 512))),
]

# Issue 17's bounds on deepkit / torch, by the module a case times; optimizer steps are reported without one.
BOUNDS = {
    **dict.fromkeys(("layers", "losses", "activations", "norm", "dropout"), 2.0),  # dense, activation, norm
    **dict.fromkeys(("conv", "pool", "alphaconv", "blocks"), 3.0),  # convolution and pooling
}


def run_case(case: Case, repeats: int, seed: int = 0, budget_s: float = 0.0) -> Result:
    """Time one case; a missing module/function or a stub gives status "missing: ..." instead of raising."""
    res = Result(case.layer, case.shape, case.module, "ok")
    try:
        mod = importlib.import_module(f"deepkit.{case.module}")
    except ImportError as exc:
        res.status = f"missing: deepkit.{case.module} ({exc})"
        return res
    try:
        ours, theirs = case.make(mod, np.random.default_rng(seed))
        ours()
    except (AttributeError, NotImplementedError) as exc:
        res.status = f"missing: {type(exc).__name__}: {exc}"
        return res
    res.deepkit_ms, res.torch_ms, res.deepkit_min_ms, res.torch_min_ms = time_pair(ours, theirs, repeats, budget_s)
    return res


def run(
    repeats: int, quick: bool = False, budget_s: float = 0.0, progress: Callable[[Result], None] | None = None
) -> list[Result]:
    """Every case (the --quick subset when ``quick``), in order; see ``time_pair`` for repeats/budget_s."""
    results = []
    for case in CASES:
        if quick and not case.quick:
            continue
        r = run_case(case, repeats, budget_s=budget_s)
        results.append(r)
        if progress:
            progress(r)
    return results


def layer_goal(results: list[Result]) -> dict:
    """Whether every timed case is within its module's bound (``BOUNDS``, median ratio); the misses by name."""
    bounded = [r for r in results if r.module in BOUNDS and r.ratio is not None]
    misses = [r for r in bounded if r.ratio > BOUNDS[r.module]]
    return {
        "goal": "dense, activation and normalization layers within 2x of torch, convolution and pooling within 3x "
        "(median ratio; optimizer steps have no bound)",
        "misses": [f"{r.layer} ({r.shape}): {r.ratio:.2f} > {BOUNDS[r.module]:g}" for r in misses],
        "worst_ratio": round(max((r.ratio for r in bounded), default=0.0), 2) or None,
        "met": bool(bounded) and not misses,
    }
