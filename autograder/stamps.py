"""Which submissions need grading: those whose grading stamp changed since they were last graded.

A stamp is a digest of everything a submission's grade depends on: its submitted files, the topic's checks,
probes, source notebook and reference modules, the grading code, the case set (public, or the hidden cases of
this term's secret), the limits and whether the notebook runs. ``python -m autograder autograde --all`` (and
``make grade``) regrades a submission only when its stamp differs from the one recorded next to its results
(``autograded/<student>/<assignment>/grading-stamp``); ``--force`` or naming one ``--student`` regrades anyway.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from autograder.course import Course, Limits

# grading modules whose code does not change a score (a change to them needs no regrade)
NOT_SCORING = {"__main__.py", "canary.py", "cli.py", "edition.py", "export.py", "feedback.py", "stamps.py"}
STAMP_FILE = "grading-stamp"


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def grading_code(course: Course) -> list[Path]:
    """The grading code every score depends on (not the checks and probes: those count per topic)."""
    base = Path(__file__).resolve().parent
    return [p for p in sorted(base.glob("*.py")) if p.name not in NOT_SCORING] + sorted((base / "sandbox").glob("*.py"))


def stamp(course: Course, student: str, assignment: str, limits: Limits, notebook: bool) -> str:
    """The digest of everything the grade of ``student``'s ``assignment`` depends on."""
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        h.update(f"{label}\0{len(data)}\0".encode())
        h.update(data)

    submitted = course.submitted / student / assignment
    for p in _files(submitted):
        add(f"submitted/{p.relative_to(submitted).as_posix()}", p.read_bytes())
    checks = course.topic(assignment)
    topic = checks.topic
    for rel in (topic.checks, topic.probes, topic.source_notebook, topic.exercise_notebook):
        if course.path(rel).is_file():
            add(str(rel), course.path(rel).read_bytes())
    for m in course.student_modules:  # a missing module of another topic is graded with its stub
        for lib in (course.ref_lib, course.stub_lib):
            if (lib / "deepkit" / f"{m}.py").is_file():
                add(f"{lib.name}/{m}", (lib / "deepkit" / f"{m}.py").read_bytes())
    for p in grading_code(course):
        add(f"autograder/{p.name}", p.read_bytes())
    add("cases", repr(course.case_set().key).encode())
    add("limits", json.dumps(asdict(limits), sort_keys=True).encode())
    add("notebook", b"1" if notebook else b"0")
    return h.hexdigest()


def recorded(course: Course, student: str, assignment: str) -> str | None:
    p = course.autograded / student / assignment / STAMP_FILE
    return p.read_text().strip() if p.is_file() else None


def record(course: Course, student: str, assignment: str, value: str) -> None:
    dest = course.autograded / student / assignment
    dest.mkdir(parents=True, exist_ok=True)
    (dest / STAMP_FILE).write_text(value + "\n")
