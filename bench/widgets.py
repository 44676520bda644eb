"""``python -m bench.widgets``: CPU time per redraw of every lecture explorer, control by control.

Each explorer of the registry (``course/topics.py``: ``deepkit.viz.<slug>.<function>()``) is built once; then
every control is moved through a few values across its range and back again (as a student does: the way back
revisits cached settings), and the process CPU time (``time.process_time``, which a busy shared machine does
not inflate the way wall time is) of each redraw is recorded: setting ``widget.value`` runs the whole redraw,
render + PNG encoding.

    python -m bench.widgets                  # table: explorer, control, redraws, median / p90 / max CPU ms
    python -m bench.widgets softmax regularization.masks_explorer   # only these explorers
    python -m bench.widgets --points 8       # more values per control

``measure()`` returns {explorer: {control: {"n", "median_ms", "p90_ms", "max_ms"}}} for reuse.
The goal: a median <= 80 ms CPU for every control of every explorer (~150 ms slider-to-image in a browser).
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from pathlib import Path

from course.topics import TOPICS

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "reference") not in sys.path:
    sys.path.insert(0, str(ROOT / "reference"))

#: explorer name ("slug" or "slug.function") -> (module under deepkit.viz, factory function), from the registry
EXPLORERS = {(t.slug if fn == "explorer" else f"{t.slug}.{fn}"): (t.slug, fn) for t in TOPICS for fn in t.explorers}
GOAL_MS = 80.0


def _options(w) -> list:
    opts = list(getattr(w, "options", ()))
    return [o[1] if isinstance(o, tuple) and len(o) == 2 else o for o in opts]


def control_values(w, points: int = 6) -> list:
    """Up to ``points`` values across the control's range (its current value excluded, order: low to high)."""
    import ipywidgets as W
    import numpy as np

    cur = w.value
    if isinstance(w, W.SelectMultiple):
        opts = _options(w)
        subsets = [tuple(o for o in opts if o != drop) for drop in opts[: points - 1]] + [tuple(opts[:1])]
        vals = subsets
    elif isinstance(w, W.Checkbox):
        vals = [not cur]
    elif hasattr(w, "options"):  # Dropdown, SelectionSlider
        opts = _options(w)
        idx = np.unique(np.linspace(0, len(opts) - 1, min(points + 1, len(opts))).round().astype(int))
        vals = [opts[i] for i in idx]
    elif isinstance(w, W.FloatLogSlider):
        exps = np.linspace(w.min, w.max, points + 1)
        vals = [float(w.base ** (w.min + round((e - w.min) / w.step) * w.step)) for e in exps]
    elif isinstance(w, (W.IntSlider, W.FloatSlider)):
        xs = np.linspace(w.min, w.max, points + 1)
        vals = [w.min + round((x - w.min) / w.step) * w.step for x in xs]
        vals = [int(v) if isinstance(w, W.IntSlider) else float(v) for v in vals]
    elif isinstance(w, (W.IntText, W.BoundedIntText)):
        vals = [cur + k for k in range(1, points + 1)]
    else:
        raise TypeError(f"no value plan for a {type(w).__name__}")
    out = []
    for v in vals:
        if v != cur and v not in out:
            out.append(v)
    return out[:points]


def _stats(ms: list[float]) -> dict:
    s = sorted(ms)
    p90 = s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))] if s else float("nan")
    return {
        "n": len(s),
        "median_ms": round(statistics.median(s), 1) if s else float("nan"),
        "p90_ms": round(p90, 1),
        "max_ms": round(s[-1], 1) if s else float("nan"),
    }


def measure_explorer(name: str, points: int = 6, progress=None) -> dict:
    """{control: stats} for one explorer of EXPLORERS (moving each control forward through its values, then
    back to where it started; the other controls stay at their defaults)."""
    module, factory = EXPLORERS[name]
    made = getattr(importlib.import_module(f"deepkit.viz.{module}"), factory)()
    ex = getattr(made, "explorer", made)  # the training dashboard wraps its Explorer
    out = {}
    for cname, w in ex.controls.items():
        start = w.value
        forward = control_values(w, points)
        plan = forward + forward[-2::-1] + [start]
        ms = []
        for v in plan:
            n = ex.redraws
            c0 = time.process_time()
            w.value = v
            dt = (time.process_time() - c0) * 1e3
            if ex.redraws == n + 1:
                ms.append(dt)
        out[cname] = _stats(ms)
        if progress:
            progress(name, cname, out[cname])
    return out


def measure(names=None, points: int = 6, progress=None) -> dict:
    """{explorer: {control: {"n", "median_ms", "p90_ms", "max_ms"}}} for the given explorers (default: all)."""
    import matplotlib

    matplotlib.use("Agg")
    return {name: measure_explorer(name, points, progress) for name in (names or EXPLORERS)}


HEADER = f"{'explorer':<12} {'control':<12} {'n':>3} {'median':>7} {'p90':>7} {'max':>7}  (CPU ms per redraw)"


def line(name: str, control: str, s: dict) -> str:
    flag = "" if s["median_ms"] <= GOAL_MS else f"  > {GOAL_MS:g}"
    return f"{name:<12} {control:<12} {s['n']:>3} {s['median_ms']:>7.1f} {s['p90_ms']:>7.1f} {s['max_ms']:>7.1f}{flag}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.widgets", description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help=f"explorers to measure (default all: {', '.join(EXPLORERS)})")
    ap.add_argument("--points", type=int, default=6, help="values per control (default 6)")
    args = ap.parse_args(argv)
    bad = [n for n in args.names if n not in EXPLORERS]
    if bad:
        ap.error(f"unknown explorer(s) {bad}; choose from {list(EXPLORERS)}")
    print(HEADER, flush=True)
    res = measure(args.names or None, args.points, progress=lambda n, c, s: print(line(n, c, s), flush=True))
    worst = max((s["median_ms"], n, c) for n, cs in res.items() for c, s in cs.items())
    print(
        f"worst median: {worst[0]:.1f} ms ({worst[1]}.{worst[2]}); goal <= {GOAL_MS:g} ms: "
        f"{'met' if worst[0] <= GOAL_MS else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
