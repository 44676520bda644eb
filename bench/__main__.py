"""``make bench`` / ``python -m bench``: the course's numbers in one run.

    python -m bench                     # layers vs torch, notebooks, grading throughput, widget latency
    python -m bench --no-notebooks      # notebook times read from the notebook tests' record instead
    python -m bench --quick             # smoke run: few repeats, small shapes, no notebooks, one topic graded
    python -m bench --grading-topics 01,09 --students 6    # grading throughput of some topics only
    python -m bench --threads default   # both libraries at their default thread counts

(a) the reference deepkit (reference) vs torch CPU, float64, forward + backward of every layer (median of
repeats, both timed in the same run); (b) notebook execution times; (c) grading throughput per topic: plain serial
nbgrader vs ours on a local Dask cluster of 1 and 2 worker processes, measured side by side now
(bench/grading.py, also behind `python -m autograder bench`): submissions per minute, CPU seconds per submission,
projections for 300 and 10,000 submissions and the goal of issue 17; (d) widget latency: CPU per redraw
(bench/widgets.py, measured now) and the browser's input-to-image latency recorded by tests/test_browser.py.
Results go to bench/results/README.md (Markdown tables) and bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
RESULTS = Path(__file__).resolve().parent / "results"


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per case (default 15, quick 3)")
    ap.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds per case: quick cases are repeated more, up to 20 x repeats (default 0.5, quick 0)",
    )
    ap.add_argument("--quick", action="store_true", help="few repeats, a subset of shapes, no notebooks")
    ap.add_argument(
        "--notebooks",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="execute every lecture and solution notebook (default: on, off with --quick)",
    )
    ap.add_argument(
        "--threads",
        choices=("1", "default"),
        default="1",
        help="1: NumPy/BLAS and torch single-threaded (default); default: both untouched",
    )
    ap.add_argument(
        "--grading",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure grading throughput (plain nbgrader vs ours with 1 and 2 workers; default: on)",
    )
    ap.add_argument("--grading-topics", help="comma-separated topics to grade (default: all; quick: 01)")
    ap.add_argument("--students", type=int, help="submissions per topic in the grading run (default 4, quick 2)")
    ap.add_argument(
        "--run-notebook",
        action="store_true",
        help="grading: ours executes every notebook in its sandbox (default: the default grading path, which reads it)",
    )
    ap.add_argument(
        "--widgets",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure CPU per widget redraw (default: on, off with --quick)",
    )
    ap.add_argument("--out-dir", type=Path, default=RESULTS, help="where README.md and latest.json go")
    args = ap.parse_args(argv)
    if args.students is None:
        args.students = 2 if args.quick else 4
    if args.students < 2:
        ap.error("--students must be at least 2 (the plain nbgrader rate is the difference of 1 and N)")
    if args.widgets is None:
        args.widgets = not args.quick
    if args.repeats is None:
        args.repeats = 3 if args.quick else 15
    if args.budget is None:
        args.budget = 0.0 if args.quick else 0.5
    if args.notebooks is None:
        args.notebooks = not args.quick
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.threads == "1":
        if "numpy" in sys.modules:  # too late for the environment variables: limit the loaded BLAS instead
            from threadpoolctl import threadpool_limits

            threadpool_limits(1)
        for var in THREAD_VARS:
            os.environ[var] = "1"
    # Imported only now: NumPy's BLAS reads the thread variables when it loads.
    import torch

    from bench import layers, report

    if args.threads == "1":
        torch.set_num_threads(1)
    meta = report.machine(args.threads, torch.get_num_threads())
    more = f" or more (fast cases: up to {args.budget:g} s each)" if args.budget > 0 else ""
    print(
        f"deepkit (NumPy) vs torch {torch.__version__} on CPU, float64, forward + backward, median of "
        f"{args.repeats}{more}\nthreads: {meta['threads']}",
        flush=True,
    )
    print(report.LAYER_HEADER, flush=True)
    results = layers.run(
        args.repeats, quick=args.quick, budget_s=args.budget, progress=lambda r: print(report.layer_line(r), flush=True)
    )
    goal = layers.layer_goal(results)
    print(report.summary_text(report.summary(results)))
    print(f"goal: {goal['goal']}: {'met' if goal['met'] else 'NOT met'} (worst bounded ratio {goal['worst_ratio']})")
    for miss in goal["misses"]:
        print(f"  over its bound: {miss}")

    from bench import notebooks

    if args.notebooks:
        print("\nnotebook run times (fresh kernel each, measured now):", flush=True)
        nb_rows = notebooks.measure(progress=lambda row: print(report.notebook_line(row), flush=True))
        nb_source = "measured in this run (tools.run_notebooks.execute, one fresh kernel per notebook)"
    else:
        nb_rows = notebooks.from_tests()
        nb_source = (
            f"read from {notebooks.results_file('notebook_times.json').relative_to(layers.ROOT)}"
            " (written by the notebook tests)"
            if nb_rows is not None
            else "not measured (run without --no-notebooks, or the notebook tests)"
        )
        print(f"\nnotebook run times: {nb_source}")
        for row in nb_rows or []:
            print(report.notebook_line(row))
    grading = None
    if args.grading:
        from bench import grading as grading_bench
        from course.topics import TOPICS, find

        default = "01" if args.quick else ",".join(t.folder for t in TOPICS)
        topics = [find(k.strip()).folder for k in (args.grading_topics or default).split(",") if k.strip()]
        print()
        grading = grading_bench.run(topics, args.students, notebook=True if args.run_notebook else None)

    from bench import widgets

    widget_cpu = None
    if args.widgets:
        print("\nwidget redraw, CPU ms (bench.widgets, measured now):", flush=True)
        widget_cpu = widgets.measure()
        for line in report.widget_cpu_lines(widget_cpu):
            print(line, flush=True)
    browser, browser_source = report.browser_latency()
    print(f"\nwidget latency in the browser ({browser_source}):")
    for line in report.browser_lines(browser):
        print(line)

    out = report.write(
        args.out_dir,
        meta,
        args.repeats,
        results,
        goal,
        nb_rows,
        nb_source,
        grading,
        {"cpu": widget_cpu, "browser": browser, "browser_source": browser_source},
    )
    print(f"\nwritten {out[0]} and {out[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
