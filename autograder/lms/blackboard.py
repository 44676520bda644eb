"""Blackboard Learn (Original course view, Grade Center).

Download (Grade Center > column menu > Assignment File Download): ``gradebook_<course>_<assignment>_<time>.zip``
of loose files. Per attempt, ``<Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>.txt`` (who and when:
``Name: First Last (username)``, ``Date Submitted: ...``, the list of files) and, per uploaded file,
``<Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<original file name>``. The assignment part is the column
name with spaces dropped or encoded (``Assignment 1`` often becomes ``Assignment201``) and may contain ``_``, as
may a username: the username is the one the attempt's .txt names in parentheses. The attempt time (server time,
the policy's timezone) orders attempts: the newest attempt is kept whole. The username is the key.

Roster: the Grade Center download (Work Offline > Download, comma or tab, the tab form is UTF-16):
``Last Name, First Name, Username, Student ID, Last Access, Availability, <column> [Total Pts: N ...] |<id>``.
Import (Work Offline > Upload): students are matched by ``Username``; a column by the ``|<id>`` at the end of its
header (a header without one creates a new text column); every field quoted.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import datetime, tzinfo
from pathlib import Path

from autograder.lms.base import Adapter, Entry, Upload, column, read_table, shown
from autograder.policy import parse_time
from autograder.students import Student

_ATTEMPT = re.compile(
    r"^(?P<prefix>.+?)_attempt_(?P<ts>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)(?:(?P<txt>\.txt)|_(?P<file>.+))$", re.IGNORECASE
)
_NAME_LINE = re.compile(r"^\s*Name:\s*(?P<name>.*?)\s*\((?P<user>[^()\s]+)\)\s*$", re.MULTILINE)
_ASSIGNMENT_LINE = re.compile(r"^\s*Assignment:\s*(?P<title>.+?)\s*$", re.MULTILINE)
_DATE_LINE = re.compile(r"^\s*Date Submitted:\s*(?P<date>.+?)\s*$", re.MULTILINE)
_COLUMN_ID = re.compile(r"\|\s*(?P<id>\d+)\s*$")


def parse(name: str) -> dict | None:
    m = _ATTEMPT.match(name)
    return m.groupdict() if m else None


class Blackboard(Adapter):
    name = "blackboard"
    title = "Blackboard"
    convention = "<Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>[_<file>|.txt]"

    def claims(self, entry: Entry) -> bool:
        return not entry.is_dir and parse(entry.name) is not None

    def uploads(self, entries: list[Entry], tz: tzinfo) -> tuple[list[Upload], list[str]]:
        parsed, skipped, info = [], [], {}
        for e in entries:
            d = parse(e.name) if not e.is_dir else None
            if d is None:
                skipped.append(f"{shown(e.name)}: not a Blackboard attempt file ({self.convention})")
                continue
            parsed.append((d, e))
            if d["txt"]:
                info[(d["prefix"], d["ts"])] = _read_info(e)
        # the assignment part: known from the .txt files (prefix = "<assignment>_<username>")
        asg = Counter(
            p[: -len(i["user"]) - 1] for (p, _), i in info.items() if i.get("user") and p.endswith("_" + i["user"])
        )
        common = asg.most_common(1)[0][0] if asg else None
        uploads: dict[tuple[str, str], Upload] = {}
        for d, e in parsed:
            i = info.get((d["prefix"], d["ts"]), {})
            user = i.get("user") if i.get("user") and d["prefix"].endswith("_" + i["user"]) else None
            if user is None and common and d["prefix"].startswith(common + "_"):
                user = d["prefix"][len(common) + 1 :]
            if user is None:
                user = d["prefix"].rsplit("_", 1)[-1]
            ts = datetime.strptime(d["ts"], "%Y-%m-%d-%H-%M-%S").replace(tzinfo=tz)
            up = uploads.setdefault(
                (user, d["ts"]),
                Upload(
                    user,
                    [],
                    order=(ts,),
                    label=f"attempt {ts:%Y-%m-%d %H:%M:%S}",
                    name=i.get("name", ""),
                    submitted_at=ts,
                ),
            )
            if not i and not d["txt"] and "no .txt" not in " ".join(up.notes):
                up.notes.append("no .txt for this attempt: username taken from the file name")
            if i.get("assignment"):
                up.meta["assignment_title"] = i["assignment"]  # the Grade Center column's name
            if d["txt"]:
                if i.get("date") and parse_time(i["date"], tz) is None:
                    up.notes.append("Date Submitted not readable; the attempt time of the file name is used")
                continue
            for node in e.nodes:
                up.nodes.append(node.renamed(d["file"]))
        return [uploads[k] for k in sorted(uploads)], skipped

    def pick(self, uploads: list[Upload]) -> tuple[Upload, list[str]]:
        kept, notes = super().pick(uploads)
        if len(uploads) > 1:
            kept.label += f" (newest of {len(uploads)} attempts)"
        return kept, notes

    def read_roster(self, path: Path, tz: tzinfo) -> dict[str, Student]:
        out = {}
        for row in read_table(path):
            user = column(row, "Username")
            if not user:
                continue
            first, last = column(row, "First Name"), column(row, "Last Name")
            out[user] = Student(
                "blackboard", user, name=f"{first} {last}".strip(), sis_id=column(row, "Student ID"), extra={}
            )
        return out


def _read_info(e: Entry) -> dict:
    """Name, username and date from an attempt's .txt (small; a bad one yields nothing)."""
    from autograder.intake.archive import Budget, OverBudget, Unreadable

    try:
        data = e.nodes[0].read(64 * 1024, Budget())
    except (Unreadable, OverBudget, IndexError):
        return {}
    if data is None:
        return {}
    text = data.decode("utf-8", errors="replace")
    out = {}
    m = _NAME_LINE.search(text)
    if m:
        out.update(name=m["name"], user=m["user"])
    m = _DATE_LINE.search(text)
    if m:
        out["date"] = m["date"]
    m = _ASSIGNMENT_LINE.search(text)
    if m:
        out["assignment"] = m["title"]
    return out


# ---------------------------------------------------------------------------------------- gradebook import
STUDENT_COLUMNS = ["Last Name", "First Name", "Username", "Student ID"]


def roster_columns(roster: Path | None) -> list[str]:
    """Grade Center column headers that carry a column id (``... |12345``)."""
    if roster is None or not Path(roster).is_file():
        return []
    rows = read_table(roster)
    return [h for h in (rows[0].keys() if rows else []) if _COLUMN_ID.search(h)]


def write_gradebook(path: Path, columns: list[str], rows: list[dict]) -> Path:
    """A Grade Center upload file: every field quoted, one row per username."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerow(STUDENT_COLUMNS + columns)
        for r in rows:
            s = r["student"]
            first, _, last = r["name"].partition(" ")
            w.writerow([last, first, s.lms_id, s.sis_id] + r["grades"])
    return path


def read_gradebook(path: Path) -> dict[str, dict[str, str]]:
    """What the Grade Center upload reads: username -> {column header: grade}, blank cells left out."""
    rows = read_table(path)
    if rows and "Username" not in rows[0]:
        raise ValueError("not a Grade Center file: no Username column")
    skip = set(STUDENT_COLUMNS) | {"Last Access", "Availability"}
    return {r["Username"]: {k: v for k, v in r.items() if k not in skip and v != ""} for r in rows}


def column_id(header: str) -> str | None:
    m = _COLUMN_ID.search(header)
    return m["id"] if m else None


def feedback_name(student: Student, assignment: str) -> str:
    return f"{student.lms_id}_{assignment}_feedback.html"
