"""Authoring helpers for the course notebooks (lectures and nbgrader source notebooks).

Write a notebook as a Python list of cells and save it; never edit notebook JSON by hand::

    from tools import nbtools as nb
    cells = [nb.md("# Softmax"), nb.code(nb.SETUP_CELL), nb.graded(src, "softmax", 2)]
    nb.write("solutions/01_softmax/01_softmax.ipynb", cells)
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

# First code cell of every source/exercise notebook: the student's own lib/ (the nearest one upward).
SETUP_CELL = '''\
# Setup (run me first): import YOUR deepkit from the nearest lib/ folder and reload it when you edit it.
%load_ext autoreload
%autoreload 2
import sys
from pathlib import Path

import numpy as np

_here = Path.cwd().resolve()
_name = "reference" if _here.parent.name == "solutions" else "lib"  # an instructor's source notebook: the reference
LIB = next(p / _name for p in (_here, *_here.parents) if (p / _name / "deepkit" / "__init__.py").is_file())
sys.path.insert(0, str(LIB))
from deepkit.gradcheck import check_gradient, rel_error
from deepkit.testing import assert_close


def hidden_check(part: str) -> None:
    """Marks where the autograder's hidden checks for `part` run: on your lib/, in a sandbox, not here."""


print("using deepkit from", LIB)'''

# First code cell of every lecture: the reference deepkit (lectures never depend on a student's progress).
LECTURE_SETUP = """\
import _course  # puts the reference deepkit (reference/) on the path; inline figures; float64 printing
import numpy as np"""

_KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _src(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def md(text: str) -> nbformat.NotebookNode:
    """A markdown cell (text is dedented)."""
    return new_markdown_cell(_src(text))


def code(text: str) -> nbformat.NotebookNode:
    """A plain code cell (text is dedented)."""
    return new_code_cell(_src(text))


def _nbgrader(
    cell, *, grade: bool, solution: bool, locked: bool, grade_id: str, points: float | None = None, task: bool = False
):
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": task,
    }
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    return cell


def graded(text: str, grade_id: str, points: float) -> nbformat.NotebookNode:
    """An autograded, locked test cell worth ``points``; put hidden parts between
    ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``. ``grade_id`` must match the autograder part."""
    return _nbgrader(
        new_code_cell(_src(text)), grade=True, solution=False, locked=True, grade_id=grade_id, points=points
    )


def locked(text: str, grade_id: str) -> nbformat.NotebookNode:
    """A read-only code cell (setup, demos) that students cannot edit in the nbgrader extension."""
    return _nbgrader(new_code_cell(_src(text)), grade=False, solution=False, locked=True, grade_id=grade_id)


def solution(text: str, grade_id: str) -> nbformat.NotebookNode:
    """A code cell the student writes in the notebook; mark the answer with BEGIN/END SOLUTION."""
    return _nbgrader(new_code_cell(_src(text)), grade=False, solution=True, locked=False, grade_id=grade_id)


def answer_md(grade_id: str, points: float, prompt: str = "YOUR ANSWER HERE") -> nbformat.NotebookNode:
    """A manually graded free-response markdown cell worth ``points``."""
    return _nbgrader(
        new_markdown_cell(prompt), grade=True, solution=True, locked=False, grade_id=grade_id, points=points
    )


def write(path: str | Path, cells: list) -> Path:
    """Save cells as an output-free notebook with the python3 kernel."""
    nb = new_notebook(cells=cells, metadata={"kernelspec": _KERNEL, "language_info": {"name": "python"}})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    return path
