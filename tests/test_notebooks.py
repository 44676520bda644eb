"""Every notebook runs headless (nbclient, a fresh python3 kernel whose cwd is the notebook's folder).

* START_HERE, lectures and solution (nbgrader source) notebooks must run to the end with no error and nothing
  written to stderr (any stderr in a graded cell scores 0; warnings in lectures are noise). A lecture that
  tests/test_browser.py runs in the same session (Run All Cells in chromium, the same rules) is not run twice.
* Release notebooks (exercises/) run against the committed stub lib/deepkit: they must stop at the first
  ``NotImplementedError`` raised by a stub ("Exercise NN_x: implement f in lib/deepkit/m.py"; usually this
  topic's, but a later topic may first reach an earlier topic's stub) with no other exception before it.

Notebooks come from the course registry, so a new topic is tested as soon as its notebooks exist. The selected
notebooks run two at a time (one kernel per core: each is single-threaded most of its time), so a recorded run
time is that of a notebook sharing the machine with another; they are collected by tests/conftest.py (table at
the end of the session, build/results/notebook_times.json).
The same runner is a command: ``python -m tools.run_notebooks [notebook ...]``.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import pytest

from tools.run_notebooks import all_notebooks, execute, is_release, problems

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = all_notebooks(ROOT)
PASSING = [p for p in NOTEBOOKS if not is_release(p)]
RELEASE = [p for p in NOTEBOOKS if is_release(p)]


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _selected_paths(session, module_name: str, test_name: str) -> list[Path]:
    """The ``path`` parameters of the selected items of ``module_name::test_name`` in this session."""
    return [
        item.callspec.params["path"]
        for item in session.items
        if item.module.__name__ == module_name
        and item.originalname == test_name
        and hasattr(item, "callspec")
        and "path" in item.callspec.params
    ]


def _run_in_browser(session) -> set[Path]:
    """Lectures that tests/test_browser.py runs (Run All Cells, no error or stderr output allowed) in this
    session: running them headless too would only repeat it."""
    return set(_selected_paths(session, "tests.test_browser", "test_lecture_runs_and_every_control_redraws"))


@pytest.fixture(scope="module")
def runs(request) -> dict[Path, Future]:
    """Every notebook this session selected from this module (but the lectures the browser runs), submitted at
    once to a pool of two processes (in registry order); each test waits for its own."""
    browser = _run_in_browser(request.session)
    wanted = [
        p
        for name in ("test_notebook_runs_clean", "test_release_notebook_stops_at_first_stub")
        for p in _selected_paths(request.session, request.module.__name__, name)
        if p not in browser
    ]
    workers = max(1, min(2, os.cpu_count() or 1, len(wanted)))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield {path: pool.submit(execute, path) for path in dict.fromkeys(wanted)}


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", PASSING, ids=_id)
def test_notebook_runs_clean(path, runs, record_notebook_time, request):
    if path in _run_in_browser(request.session):
        pytest.skip("run in this session by tests/test_browser.py (Run All Cells in chromium, same rules)")
    run = runs[path].result()
    record_notebook_time(_id(path), run.seconds, "error" if run.errors else "ok")
    assert not run.stopped and problems(run) == [], f"{_id(path)}:\n" + "\n".join(problems(run))


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", RELEASE, ids=_id)
def test_release_notebook_stops_at_first_stub(path, runs, record_notebook_time):
    run = runs[path].result()
    record_notebook_time(_id(path), run.seconds, f"stopped: {run.errors[0][1]}" if run.errors else "ran through")
    assert problems(run) == [], f"{_id(path)}:\n" + "\n".join(problems(run))
    assert run.stopped and run.errors[0][1] == "NotImplementedError"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_toy_topic_source_passes_and_release_stops_at_stub(tmp_path):
    """The two rules above on a throw-away course (independent of the real topics' progress), including
    that a release notebook failing with another exception is reported."""
    from tests.test_build import make_toy_course

    root = make_toy_course(tmp_path)
    source = execute(root / "solutions" / "99_toy" / "99_toy.ipynb")
    assert not source.stopped and source.errors == [] and source.stderr == []
    release_path = root / "exercises" / "99_toy" / "99_toy.ipynb"
    release = execute(release_path)
    assert release.stopped
    assert release.errors == [(3, "NotImplementedError", "Exercise 99_toy: implement double in lib/deepkit/toy.py")]
    assert problems(release) == []
    # a release notebook that breaks before the stub (here: a typo in the setup cell) is caught
    release_path.write_text(release_path.read_text().replace("import numpy as np", "import numpy as npp"))
    broken = execute(release_path)
    assert broken.errors[0][1] == "NameError" and problems(broken)
