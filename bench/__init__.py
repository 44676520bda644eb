"""Benchmarks: reference deepkit vs torch, notebook run times, grading throughput, widget latency.

Measurements made as a side effect of the tests (notebook run times, browser widget latencies) go to
``build/results/`` so that ``make test`` never rewrites a tracked file; ``make bench`` (or ``UPDATE_RESULTS=1``)
writes them to ``bench/results/``, which is committed.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMITTED_RESULTS = ROOT / "bench" / "results"


def results_dir() -> Path:
    """Where measurements are written: bench/results when asked (UPDATE_RESULTS=1), else build/results."""
    return COMMITTED_RESULTS if os.environ.get("UPDATE_RESULTS") else ROOT / "build" / "results"


def results_file(name: str) -> Path:
    """The newer copy of a results file to read: build/results (a test run's) or bench/results (``make bench``,
    ``make widget-latency``), by modification time; bench/results when neither exists."""
    copies = [p for p in (ROOT / "build" / "results" / name, COMMITTED_RESULTS / name) if p.is_file()]
    return max(copies, key=lambda p: p.stat().st_mtime, default=COMMITTED_RESULTS / name)
