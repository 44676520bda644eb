"""Run time of every lecture and solution notebook, measured as CI runs them (tools/run_notebooks.execute: a
fresh kernel per notebook, cwd = the notebook's folder, kernel start-up included), one after the other.

Without measuring, ``from_tests()`` reads notebook_times.json, written by tests/conftest.py whenever
tests/test_notebooks.py runs (build/results/, or bench/results/ with UPDATE_RESULTS=1).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from bench import results_file
from tools.run_notebooks import ROOT, execute, problems


def targets(root: Path = ROOT) -> list[Path]:
    """Lectures and solution (nbgrader source) notebooks, in topic order."""
    from course.topics import load

    topics = load(root)
    return [root / t.lecture for t in topics] + [root / t.source_notebook for t in topics]


def measure(paths: list[Path] | None = None, progress: Callable[[dict], None] | None = None) -> list[dict]:
    """Execute each notebook; rows {"notebook", "seconds", "outcome"} (outcome "ok" or the first problem)."""
    rows = []
    for path in targets() if paths is None else paths:
        run = execute(path)
        bad = problems(run)
        row = {"notebook": run.name, "seconds": round(run.seconds, 2), "outcome": bad[0] if bad else "ok"}
        rows.append(row)
        if progress:
            progress(row)
    return rows


def from_tests() -> list[dict] | None:
    """The times recorded by the notebook tests, or None when they have not run yet."""
    times_json = results_file("notebook_times.json")
    if not times_json.is_file():
        return None
    try:
        data = json.loads(times_json.read_text())
    except ValueError:
        return None
    return [
        {"notebook": k, "seconds": v["seconds"], "outcome": v["outcome"]}
        for k, v in sorted(data.get("notebooks", {}).items())
        if k.startswith(("lectures/", "solutions/"))
    ]
