"""Notebooks are reviewed as text: every lecture, START_HERE and every nbgrader source notebook has a jupytext
twin (``py:percent``, configured in jupytext.toml) whose cells are exactly the notebook's cells, so a change to a
notebook reads as a normal diff and can be made in any editor (``make notebooks`` syncs the pair).

Release notebooks (exercises/) have no twin: they are generated, and what a student saves stays a notebook.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

from course.topics import START_HERE, TOPICS
from tools import nbtools

ROOT = Path(__file__).resolve().parent.parent
PAIRED = [ROOT / START_HERE] + [ROOT / t.lecture for t in TOPICS] + [ROOT / t.source_notebook for t in TOPICS]


def _cells(nb) -> list[tuple[str, str, dict]]:
    """What the text twin must carry: cell type, source and the nbgrader metadata of each cell."""
    return [(c.cell_type, c.source, dict(c.metadata.get("nbgrader", {}))) for c in nb.cells]


@pytest.mark.parametrize("path", PAIRED, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_and_text_twin_hold_the_same_cells(path):
    twin = path.with_suffix(".py")
    assert twin.is_file(), f"{twin.relative_to(ROOT)} is missing: run make notebooks"
    notebook = nbformat.read(str(path), as_version=4)
    text = jupytext.read(twin)
    assert _cells(text) == _cells(notebook), (
        f"{path.relative_to(ROOT)} and its twin differ: run make notebooks (the newer file wins)"
    )


def test_the_check_can_fail(tmp_path):
    """An edit made only in the twin is a difference."""
    path = ROOT / TOPICS[0].lecture
    notebook = nbformat.read(str(path), as_version=4)
    edited = jupytext.reads(path.with_suffix(".py").read_text(encoding="utf-8"), fmt="py:percent")
    edited.cells[-1].source += "\n# an edit that was never synced"
    assert _cells(edited) != _cells(notebook)


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.folder)
def test_source_notebook_starts_with_the_setup_cell(topic):
    """The first code cell of every source notebook is ``nbtools.SETUP_CELL`` (one definition of it)."""
    nb = nbformat.read(str(ROOT / topic.source_notebook), as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.source == nbtools.SETUP_CELL


def test_release_notebooks_are_not_paired():
    assert not list((ROOT / "exercises").rglob("*.py"))
    found = jupytext.config.find_jupytext_configuration_file(str(ROOT / TOPICS[0].exercise_notebook.parent))
    assert Path(found) == ROOT / "exercises" / "jupytext.toml"
    assert jupytext.config.load_jupytext_configuration_file(found).formats in ("ipynb", ["ipynb"])


SECTION = re.compile(r"^#{2} (\d+)\. ", re.M)


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.folder)
def test_lecture_sections_are_markdown_headings_numbered_without_gaps(topic):
    """A "## N." heading lives in a markdown cell (a heading left as a comment in a code cell, after a lost
    ``# %% [markdown]`` marker, disappears from the rendered lecture), and the sections run 1, 2, 3, ... so that
    "section K" pointers (tests/test_misconceptions.py) and the lecture's own cross-references find them."""
    nb = nbformat.read(str(ROOT / topic.lecture), as_version=4)
    in_code = [
        (i, h) for i, c in enumerate(nb.cells) if c.cell_type == "code" for h in re.findall(r"^# ## .*", c.source, re.M)
    ]
    assert not in_code, f"{topic.lecture}: section headings inside code cells (cell, line): {in_code}"
    numbers = [int(n) for c in nb.cells if c.cell_type == "markdown" for n in SECTION.findall(c.source)]
    assert numbers == list(range(1, len(numbers) + 1)), f"{topic.lecture}: sections numbered {numbers}"
