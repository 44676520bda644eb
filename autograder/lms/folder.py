"""A plain folder (or zip) with one entry per student, named by the student's id: ``<id>/`` (any layout inside),
``<id>.zip``, ``<id>_<anything>.zip`` or ``<id>[_<anything>].ipynb``. For an instructor's own collection or an
LMS this module does not know. There is no LMS metadata: no submission time (give ``--times``), no attempt
order (two entries for one id are an ambiguity), and the roster is any CSV with ``id`` and ``name`` columns
(optionally ``email``, ``sis_id``).
"""

from __future__ import annotations

import csv
import re
from datetime import tzinfo
from pathlib import Path

from autograder.intake.archive import QUIET
from autograder.lms.base import Adapter, Entry, Upload, column, read_table, shown
from autograder.students import Student

_FILE = re.compile(r"^(?P<id>[^_]+?)(?:_.*)?\.(?:zip|ipynb)$", re.IGNORECASE)


def entry_id(entry: Entry) -> str | None:
    name = entry.name
    if not name or not name.isprintable() or name.startswith((".", "=", "+", "-", "@")):
        return None  # hidden, unprintable, or a spreadsheet formula once exported
    if entry.is_dir:
        return name
    m = _FILE.match(name)
    return m["id"] if m else None


class Folder(Adapter):
    name = "folder"
    title = "a folder of student folders"
    convention = "<id>/, <id>.zip, <id>_*.zip or <id>[_*].ipynb"
    ordered = False

    def claims(self, entry: Entry) -> bool:
        return entry_id(entry) is not None

    def uploads(self, entries: list[Entry], tz: tzinfo) -> tuple[list[Upload], list[str]]:
        out, skipped = [], []
        for e in entries:
            if e.name in QUIET or e.name.startswith("._"):
                continue
            sid = entry_id(e)
            if sid is None:
                why = "not a folder, zip or notebook named by a student id (printable, not starting with . = + - @)"
                skipped.append(f"{shown(e.name)}: {why}, skipped")
                continue
            if not e.nodes:
                skipped.append(f"{shown(e.name)}: empty (or a symlink), skipped")
                continue
            links = [n for n in e.nodes if n.kind == "symlink"]
            if not e.is_dir and links:
                skipped.append(f"{shown(e.name)}: a symlink, skipped")
                continue
            out.append(Upload(sid, e.nodes, order=(e.name,), label=shown(e.name) + ("/" if e.is_dir else "")))
        return out, skipped

    def read_roster(self, path: Path, tz: tzinfo) -> dict[str, Student]:
        out = {}
        for row in read_table(path):
            sid = column(row, "id", "student", "username")
            if sid:
                out[sid] = Student(
                    "folder",
                    sid,
                    name=column(row, "name", "full name"),
                    email=column(row, "email", "email address"),
                    sis_id=column(row, "sis_id", "student id"),
                )
        return out


def write_gradebook(path: Path, assignments: list[str], rows: list[dict]) -> Path:
    """The generic export: one row per student, one column per assignment (blank: pending or not submitted)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "lms", "lms_id", "name", "email", "sis_id", *assignments])
        for r in rows:
            s = r["student"]
            w.writerow([s.id, s.lms, s.lms_id, r["name"], r["email"], s.sis_id, *r["grades"]])
    return path


def read_gradebook(path: Path) -> dict[str, dict[str, str]]:
    rows = read_table(path)
    skip = {"id", "lms", "lms_id", "name", "email", "sis_id"}
    return {r["lms_id"]: {k: v for k, v in r.items() if k not in skip and v != ""} for r in rows}
