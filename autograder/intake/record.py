"""The intake record of an assignment (``<work>/collected/<assignment>.json``, written by ``collect``), read side.

Kept apart from ``collect.py`` because staging a submission reads it (the LMS submission time), and staging runs in
a student's ``check`` too: the student edition ships this module, not the LMS adapters behind ``collect``.
"""

from __future__ import annotations

import json
from pathlib import Path

from autograder.course import Course


def record_path(course: Course, assignment: str) -> Path:
    return course.work / "collected" / f"{assignment}.json"


def load_record(course: Course, assignment: str) -> dict:
    """The intake metadata of an assignment: {"lms", "students": {sid: {...}}} ({} parts if never collected)."""
    p = record_path(course, assignment)
    data = json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}
    data.setdefault("students", {})
    return data


def lms_time(course: Course, assignment: str, src: Path) -> str | None:
    """The submission time ``collect`` recorded from the LMS for this student (``src`` = submitted/<id>/<a>)."""
    entry = load_record(course, assignment)["students"].get(src.parent.name) or {}
    return entry.get("submitted_at")
