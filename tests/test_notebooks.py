"""Every notebook runs headless (nbclient, a fresh python3 kernel whose cwd is the notebook's folder).

* START_HERE, lectures and solution (nbgrader source) notebooks must run to the end with no error and nothing
  written to stderr (any stderr in a graded cell scores 0; warnings in lectures are noise).
* Release notebooks (exercises/) run against the committed stub lib/deepkit: they must stop at the first
  ``NotImplementedError`` raised by a stub ("Exercise NN_x: implement ...") and fail with no other exception
  before it.

Notebooks are discovered from the tree, so a new topic is tested as soon as its notebooks exist. Run times are
collected by tests/conftest.py (table at the end of the session, bench/results/notebook_times.json).
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
STUB_MESSAGE = re.compile(r"^Exercise \d\d_\w+: implement \w+ in lib/deepkit/[\w/]+\.py$")
CELL_TIMEOUT = 120  # seconds per cell, as nbgrader's autograde (autograder/nbgrader_config.py)


def _notebooks(pattern: str) -> list[Path]:
    return sorted(p for p in ROOT.glob(pattern) if ".ipynb_checkpoints" not in p.parts)


PASSING = ([ROOT / "START_HERE.ipynb"] if (ROOT / "START_HERE.ipynb").is_file() else []) \
    + _notebooks("lectures/*.ipynb") + _notebooks("solutions/[0-9][0-9]_*/*.ipynb")
RELEASE = _notebooks("exercises/[0-9][0-9]_*/*.ipynb")


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def execute(path: Path) -> tuple[nbformat.NotebookNode, BaseException | None, float]:
    """Run ``path`` top to bottom in a new kernel (cwd = its folder); return the executed notebook, the error
    that stopped it (or None) and the wall time."""
    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = exc
    return nb, error, time.perf_counter() - start


def _stderr_outputs(nb) -> list[str]:
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                found.append(f"cell {i}: {out.get('text', '')[:500]}")
    return found


def _error_outputs(nb) -> list[tuple[int, str, str]]:
    return [(i, out["ename"], out["evalue"]) for i, cell in enumerate(nb.cells)
            for out in cell.get("outputs", []) if out.get("output_type") == "error"]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", PASSING, ids=_id)
def test_notebook_runs_clean(path, record_notebook_time):
    nb, error, seconds = execute(path)
    record_notebook_time(_id(path), seconds, "error" if error else "ok")
    assert error is None, f"{_id(path)} failed:\n{error}"
    assert _error_outputs(nb) == []
    assert _stderr_outputs(nb) == [], f"{_id(path)} wrote to stderr"


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", RELEASE, ids=_id)
def test_release_notebook_stops_at_first_stub(path, record_notebook_time):
    nb, error, seconds = execute(path)
    errors = _error_outputs(nb)
    record_notebook_time(_id(path), seconds, f"stopped: {errors[0][1]}" if errors else "ran through")
    assert error is not None and errors, \
        f"{_id(path)} ran to the end against the stubs: its visible tests do not exercise lib/deepkit"
    cell, ename, evalue = errors[0]
    assert ename == "NotImplementedError", f"cell {cell} raised {ename}: {evalue} (expected the stub's error)"
    # usually this topic's stub; a later topic may first reach an earlier topic's stub (e.g. layers in 09)
    assert STUB_MESSAGE.match(evalue), f"cell {cell}: {evalue!r} is not a stub's message"
    assert _stderr_outputs(nb) == [], f"{_id(path)} wrote to stderr before its first exercise"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_toy_topic_source_passes_and_release_stops_at_stub(tmp_path):
    """The two checks above on a throw-away course (independent of the real topics' progress)."""
    from tests.test_build import make_toy_course

    root = make_toy_course(tmp_path)
    nb, error, _ = execute(root / "solutions" / "99_toy" / "99_toy.ipynb")
    assert error is None and _error_outputs(nb) == [] and _stderr_outputs(nb) == []
    nb, error, _ = execute(root / "exercises" / "99_toy" / "99_toy.ipynb")
    assert error is not None
    assert _error_outputs(nb) == [(3, "NotImplementedError",
                                   "Exercise 99_toy: implement double in lib/deepkit/toy.py")]
    assert STUB_MESSAGE.match(_error_outputs(nb)[0][2])
