"""Measure deepkit.gradcheck on correct and on known-wrong gradients over many seeds.

Correct gradients come from torch autograd (float64), an oracle independent of the course's own code; the
wrong ones are those gradients broken the classic ways (missing bias gradient, transposed weight gradient,
off-by-one mean, wrong sign). For each layer and seed we record ``check_gradient``'s norm-ratio error.

    python -m bench.gradcheck_thresholds [--seeds 1000] [--out docs/gradcheck.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "reference"))
from deepkit.gradcheck import DEFAULT_TOL, check_gradient  # noqa: E402

torch.set_default_dtype(torch.float64)
F = torch.nn.functional


def _t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _layers(rng: np.random.Generator):
    """Yield (layer, wrt, fn(arrays)->ndarray, arrays, dout): one differentiable input per check."""
    N, D, M = 4, 5, 5  # square weights, so a transposed weight gradient has the right shape
    x, w, b = rng.normal(size=(N, D)), rng.normal(size=(D, M)), rng.normal(size=M)
    yield "affine", "b", lambda a: a["x"] @ a["w"] + a["b"], dict(x=x, w=w, b=b), rng.normal(size=(N, M))
    yield "affine", "w", lambda a: a["x"] @ a["w"] + a["b"], dict(x=x, w=w, b=b), rng.normal(size=(N, M))
    yield "relu", "x", lambda a: torch.relu(a["x"]), dict(x=rng.normal(size=(N, D))), rng.normal(size=(N, D))
    yield "sigmoid", "x", lambda a: torch.sigmoid(a["x"]), dict(x=2 * rng.normal(size=(N, D))), rng.normal(size=(N, D))
    yield "tanh", "x", lambda a: torch.tanh(a["x"]), dict(x=2 * rng.normal(size=(N, D))), rng.normal(size=(N, D))
    y = torch.as_tensor(rng.integers(0, M, size=N))
    yield (
        "softmax_ce",
        "scores",
        lambda a: F.cross_entropy(a["scores"], y),
        dict(scores=3 * rng.normal(size=(N, M))),
        np.array(1.0),
    )
    g, be = 1 + 0.1 * rng.normal(size=D), rng.normal(size=D)
    yield (
        "batchnorm",
        "x",
        lambda a: F.batch_norm(a["x"], None, None, a["g"], a["be"], training=True, eps=1e-5),
        dict(x=rng.normal(size=(8, D)), g=g, be=be),
        rng.normal(size=(8, D)),
    )
    yield (
        "layernorm",
        "x",
        lambda a: F.layer_norm(a["x"], (D,), a["g"], a["be"], eps=1e-5),
        dict(x=rng.normal(size=(N, D)), g=g, be=be),
        rng.normal(size=(N, D)),
    )
    yield ("mean_square", "x", lambda a: (a["x"] ** 2).mean(dim=0), dict(x=rng.normal(size=(N, D))), rng.normal(size=D))


def _torch_grad(fn, arrays, dout, wrt):
    ts = {k: _t(v) for k, v in arrays.items()}
    out = fn(ts)
    out.backward(torch.as_tensor(dout))
    return ts[wrt].grad.numpy()


WRONG = {
    # name: (layer, wrt, how the correct gradient g is broken)
    "missing bias gradient": ("affine", "b", lambda g, a: np.zeros_like(g)),
    "transposed weight gradient": ("affine", "w", lambda g, a: g.T.copy()),
    "off-by-one mean (N-1)": ("mean_square", "x", lambda g, a: g * a["x"].shape[0] / (a["x"].shape[0] - 1)),
    "wrong sign": ("sigmoid", "x", lambda g, a: -g),
    "softmax gradient not averaged": ("softmax_ce", "scores", lambda g, a: g * a["scores"].shape[0]),
    "BN backward without the mean term": ("batchnorm", "x", None),  # filled in below
}


def _bn_no_mean_term(arrays, dout):
    """BN backward that forgets d(mean)/dx: the classic incomplete derivation."""
    x, g = arrays["x"], arrays["g"]
    mu, var = x.mean(0), x.var(0)
    xhat = (x - mu) / np.sqrt(var + 1e-5)
    dxhat = dout * g
    n = x.shape[0]
    return (dxhat - xhat * (dxhat * xhat).sum(0) / n) / np.sqrt(var + 1e-5)


def measure(seeds: int) -> dict:
    correct: dict[str, list[float]] = {}
    wrong: dict[str, list[float]] = {k: [] for k in WRONG}
    for s in range(seeds):
        rng = np.random.default_rng(s)
        for layer, wrt, fn, arrays, dout in _layers(rng):
            g = _torch_grad(fn, arrays, dout, wrt)

            def f(v, fn=fn, arrays=arrays, wrt=wrt):
                ts = {k: torch.as_tensor(v if k == wrt else a) for k, a in arrays.items()}
                with torch.no_grad():
                    return fn(ts).numpy()

            rep = check_gradient(f, arrays[wrt], g, dout, name=wrt)
            correct.setdefault(f"{layer} d{wrt}", []).append(rep.rel_error)
            for name, (wl, ww, breaker) in WRONG.items():
                if (wl, ww) != (layer, wrt):
                    continue
                bad = _bn_no_mean_term(arrays, dout) if breaker is None else breaker(g, arrays)
                wrong[name].append(check_gradient(f, arrays[wrt], bad, dout, name=wrt).rel_error)
    return {"correct": correct, "wrong": wrong}


def report(res: dict, seeds: int, seconds: float, tol: float = DEFAULT_TOL) -> str:
    lines = [
        "# Gradient-check thresholds (measured)",
        "",
        f"`python -m bench.gradcheck_thresholds --seeds {seeds}` ({seconds:.0f} s). Each row: "
        f"`check_gradient` (centred differences, h = 1e-6, norm-ratio error, kink-aware) against torch "
        f"autograd float64 gradients over {seeds} seeds. Tolerance in use: `DEFAULT_TOL = {tol:.0e}`.",
        "",
        "| correct gradient | max error | median error | false failures |",
        "|---|---|---|---|",
    ]
    for k, v in res["correct"].items():
        v = np.array(v)
        lines.append(f"| {k} | {v.max():.1e} | {np.median(v):.1e} | {(v > tol).sum()}/{len(v)} |")
    lines += ["", "| known-wrong gradient | min error | caught |", "|---|---|---|"]
    for k, v in res["wrong"].items():
        v = np.array(v)
        lines.append(f"| {k} | {v.min():.1e} | {(v > tol).sum()}/{len(v)} |")
    worst_ok = max(max(v) for v in res["correct"].values())
    best_bad = min(min(v) for v in res["wrong"].values())
    lines += [
        "",
        f"Largest error of a correct gradient: {worst_ok:.1e}; smallest error of a wrong one: "
        f"{best_bad:.1e}. The tolerance {tol:.0e} sits {np.log10(tol / worst_ok):.1f} decades above the "
        f"first and {np.log10(best_bad / tol):.1f} decades below the second.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--out", default=None, help="write the Markdown report here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    res = measure(args.seeds)
    text = report(res, args.seeds, time.perf_counter() - t0)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
