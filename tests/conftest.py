"""Shared pytest setup: headless plotting, and the notebook run-time table (printed at the end of the session
and written to build/results/notebook_times.json; to bench/results/ only with UPDATE_RESULTS=1)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import matplotlib
import pytest

from bench import results_dir
from course.topics import START_HERE, load

ROOT = Path(__file__).resolve().parent.parent

# The term secret of the test runs (autograder/cases.py): grading draws the hidden cases from it. A real term's
# secret lives in the instructor's configuration; tests that need its absence remove this variable.
os.environ.setdefault("DEEPKIT_TERM_SECRET", "pytest-term-secret-for-hidden-cases")

# Headless: tests that plot in this process use Agg (no display needed). Set on matplotlib, not through the
# environment, so Jupyter servers and kernels started by tests keep their own (inline) backend; the notebook
# kernels of tests/test_notebooks.py get the inline backend from tools/run_notebooks.py, as in Jupyter.
matplotlib.use("Agg")

# notebook (path relative to the repository) -> {"seconds": float, "outcome": str}
NOTEBOOK_TIMES: dict[str, dict] = {}


@pytest.fixture(scope="session")
def record_notebook_time():
    """``record_notebook_time(notebook, seconds, outcome)``: used by tests/test_notebooks.py per notebook."""

    def record(notebook: str, seconds: float, outcome: str) -> None:
        NOTEBOOK_TIMES[notebook] = {"seconds": round(seconds, 2), "outcome": outcome}

    return record


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not NOTEBOOK_TIMES:
        return
    tr = terminalreporter
    tr.section("notebook run times")
    width = max(len(k) for k in NOTEBOOK_TIMES)
    for name, rec in sorted(NOTEBOOK_TIMES.items(), key=lambda kv: -kv[1]["seconds"]):
        tr.write_line(f"{name:<{width}}  {rec['seconds']:7.2f} s  {rec['outcome']}")
    tr.write_line(f"{'total':<{width}}  {sum(r['seconds'] for r in NOTEBOOK_TIMES.values()):7.2f} s")
    # Merge with earlier runs so running one file does not erase the other notebooks' numbers.
    times_json = results_dir() / "notebook_times.json"
    data = {"machine": {}, "notebooks": {}}
    if times_json.is_file():
        try:
            data = json.loads(times_json.read_text())
        except ValueError:
            pass
    data["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    data.setdefault("notebooks", {}).update(NOTEBOOK_TIMES)
    known = {str(START_HERE)} | {
        str(p) for t in load(ROOT) for p in (t.lecture, t.source_notebook, t.exercise_notebook)
    }
    data["notebooks"] = {k: data["notebooks"][k] for k in sorted(data["notebooks"]) if k in known}
    times_json.parent.mkdir(parents=True, exist_ok=True)
    times_json.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    tr.write_line(f"written to {times_json.relative_to(ROOT)}")
