"""Blackboard Learn (Original course view, Grade Center).

Download (Grade Center > column menu > Assignment File Download): ``gradebook_<course>_<assignment>_<time>.zip``
of loose files. Per attempt, a receipt ``<Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>.txt``
(``Name: First Last (username)``, ``Assignment:``, ``Date Submitted:``, ``Current Grade:``, ``Submission
Field:`` (text the student typed), ``Comments:``, and under ``Files:`` a pair ``Original filename: <as
uploaded>`` / ``Filename: <as stored in the zip>`` per file) and, per uploaded file,
``<Assignment>_<username>_attempt_<time>_<file name>``. The stored name is not always the uploaded one
(Blackboard changes some characters): the receipt's pairs give each file its uploaded name back. The word
``attempt`` follows the user interface's language (``poging`` in Dutch, as the names parsed by the
BBFilenameInZipParser of public course tools show), so any one word before the time is taken. Receipts may carry
a BOM and Windows line ends; a username may be an email address. The assignment part is the column name with
spaces dropped or encoded (``Assignment 1`` often becomes ``Assignment201``) and may contain ``_``, as may a
username: the username is the one the attempt's .txt names in parentheses. The attempt time (server time, the
policy's timezone) orders attempts: the newest attempt is kept whole, the others are listed. The username is the
key. Blackboard documents no file-name grammar; sources: the steps and receipts in vangef/BBGradebookOrganiser
(docs/instructions.md) and the ``.txt`` metadata and "mangled" names handled by
jeroendoggen/blackboard-analysis-tools.

Roster: the Grade Center download (Work Offline > Download, comma or tab (``.xls``), the tab form is UTF-16):
``Last Name, First Name, Username, Student ID, Last Access, Availability, <column> [Total Pts: N ...] |<id>``.
Import (Work Offline > Upload; Blackboard Help "Uploading or Downloading Grade Center Items for Working
Offline"): students are matched by ``Username`` (name columns are not processed); a column by the ``|<id>`` at
the end of its header (a header without one creates a new text column worth 0 points); comma-delimited fields
quoted. Written as UTF-8 without a BOM (a BOM before the first quoted field is not documented as accepted).
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

# "attempt" is translated with the user interface (e.g. "poging"): any one word right before the time
_ATTEMPT = re.compile(
    r"^(?P<prefix>.+?)_(?P<word>[^\W\d_]+)_(?P<ts>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)(?:(?P<txt>\.txt)|_(?P<file>.+))$"
)
_NAME_LINE = re.compile(r"^\s*Name:\s*(?P<name>.*?)\s*\((?P<user>[^()\s]+)\)\s*$", re.MULTILINE)
_ASSIGNMENT_LINE = re.compile(r"^\s*Assignment:\s*(?P<title>.+?)\s*$", re.MULTILINE)
_DATE_LINE = re.compile(r"^\s*Date Submitted:\s*(?P<date>.+?)\s*$", re.MULTILINE)
_FILE_LINES = re.compile(r"^\s*Original filename:\s*(?P<orig>.+?)\s*\n\s*Filename:\s*(?P<stored>.+?)\s*$", re.MULTILINE)
_TEXT = re.compile(r"^\s*Submission Field:\s*\n(?P<text>.*?)\n\s*Comments:", re.MULTILINE | re.DOTALL)
_NO_TEXT = "There is no student submission text data for this assignment."
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
            if not i.get("user") and not d["txt"] and "no .txt" not in " ".join(up.notes):
                up.notes.append("no .txt for this attempt: username taken from the file name")
            if i.get("assignment"):
                up.meta["assignment_title"] = i["assignment"]  # the Grade Center column's name
            if d["txt"]:
                if i.get("date") and parse_time(i["date"], tz) is None:
                    up.notes.append("Date Submitted not readable; the attempt time of the file name is used")
                if i.get("text"):
                    up.notes.append("text typed in the Submission Field (in the .txt receipt), not graded")
                continue
            original = i.get("files", {}).get(e.name)  # Blackboard may store a file under another name
            if original and original != d["file"]:
                up.notes.append(f"{shown(d['file'])} is {shown(original)} as uploaded (the receipt says)")
            for node in e.nodes:
                up.nodes.append(node.renamed(original or d["file"]))
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
    text = data.decode("utf-8-sig", errors="replace").replace("\r\n", "\n")  # a BOM and CRLF on some servers
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
    # "Files:" lists each upload as "Original filename: <as uploaded>" then "Filename: <as stored in the zip>"
    out["files"] = {m["stored"]: m["orig"] for m in _FILE_LINES.finditer(text)}
    m = _TEXT.search(text)
    if m and m["text"].strip() and m["text"].strip() != _NO_TEXT:
        out["text"] = True
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
