"""``submit`` (student side): pack the exercise notebook and ``lib/deepkit/*.py`` into the zip to upload."""

from __future__ import annotations

import zipfile
from pathlib import Path

from autograder.course import Course


def submit(course: Course, assignment: str, out: Path | None = None) -> Path:
    """Pack ``exercises/<a>/<a>.ipynb`` and ``lib/deepkit/*.py`` into ``<a>-submission.zip`` for upload.

    No time stamp is added: lateness is judged by the LMS's submission time, never by the student's clock."""
    nb = course.path(course.find(assignment).exercise_notebook)
    if not nb.is_file():
        raise SystemExit(f"{nb} not found: submit from the course folder you worked in")
    lib = course.stub_lib / "deepkit"
    out = Path(out) if out else course.root / f"{assignment}-submission.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(nb, f"{assignment}.ipynb")
        for p in sorted(lib.glob("*.py")):
            if p.is_file() and not p.is_symlink():
                z.write(p, f"lib/deepkit/{p.name}")
    return out
