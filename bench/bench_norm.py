"""Reference batch norm (deepkit.norm, NumPy float64) vs torch (CPU, float64): forward + backward time.

Prints, per shape, the median over repeats of one train-mode forward + backward, and the ratio
deepkit / torch measured in the same run (ratios > 1 mean the reference is slower).
Run: .venv/bin/python bench/bench_norm.py [--repeats 30]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "solutions" / "lib"))
from deepkit import norm  # noqa: E402

SHAPES = [(256, 1024), (32, 64, 16, 16)]


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def bench(shape: tuple, repeats: int) -> tuple[float, float, float]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    c = shape[1]
    gamma, beta, dout = rng.normal(size=c), rng.normal(size=c), rng.normal(size=shape)
    fwd, bwd = ((norm.batchnorm_forward, norm.batchnorm_backward_alt) if len(shape) == 2 else
                (norm.spatial_batchnorm_forward, norm.spatial_batchnorm_backward))

    def ours():
        _, cache = fwd(x, gamma, beta, {"mode": "train"})
        bwd(dout, cache)

    xt = torch.tensor(x, requires_grad=True)
    gt, bt = torch.tensor(gamma, requires_grad=True), torch.tensor(beta, requires_grad=True)
    rm, rv, dt = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64), torch.tensor(dout)

    def theirs():
        out = F.batch_norm(xt, rm, rv, gt, bt, training=True)
        xt.grad = gt.grad = bt.grad = None
        out.backward(dt)

    a, b = _median_ms(ours, repeats), _median_ms(theirs, repeats)
    return a, b, a / b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"batch norm forward+backward, float64, median of {args.repeats} (torch on 1 thread)")
    print(f"{'shape':>18} {'deepkit ms':>11} {'torch ms':>9} {'ratio':>6}")
    for shape in SHAPES:
        a, b, r = bench(shape, args.repeats)
        print(f"{str(shape):>18} {a:11.2f} {b:9.2f} {r:6.2f}")


if __name__ == "__main__":
    main()
