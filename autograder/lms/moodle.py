"""Moodle (mod_assign).

Download ("Download all submissions", ``assign::download_submissions`` in mod/assign/locallib.php): the prefix
is ``str_replace('_', ' ', <group name>-<full name>)`` (the group part only in group mode; "Participant" instead
of the name with blind marking) + ``_<participant id>``; with "Download submissions in folders" on (the default
since Moodle 3.1) every file is ``<prefix>_assignsubmission_file_`` + its path in the submission (starting with
``/``, sub-folders kept), i.e. a folder ``<Full Name>_<participant id>_assignsubmission_file_/`` (the trailing
``_`` may be absent); online text is ``<prefix>_assignsubmission_onlinetext_/onlinetext.html``; with folders
off, loose files ``<prefix>_assignsubmission_file_<file name>`` (paths lost). Moodle replaces ``_`` in the name
by a space, so the first ``_`` ends the name. The participant id is
``assign_user_mapping.id``: unique per student AND assignment (the same person has another id in the next
assignment), never shared by two students: the key. The download holds only each student's latest submission
and no times: the grading worksheet (Grading action > Download grading worksheet) is the roster, with
``Identifier`` ("Participant 1234"), ``Full name``, ``Email address``, ``Status`` and ``Last modified
(submission)`` (the submission time, in the downloading user's timezone, e.g. "Monday, 20 November 2023, 10:15
PM").

Grades go back through the same worksheet (Grading action > Upload grading worksheet): Moodle reads
``Identifier``, ``Grade`` and ``Last modified (grade)`` (required), skips blank grades and rows whose grade was
changed in Moodle after that time, and takes ``Feedback comments`` when the comments plugin is on. Feedback files
go in bulk as a zip of the download's folders (Grading action > Upload multiple feedback files in a zip): Moodle
reads the participant id from the second ``_`` field of a folder name.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime, tzinfo
from pathlib import Path

from autograder.lms.base import Adapter, Entry, Upload, column, read_table, shown
from autograder.policy import parse_time
from autograder.safetext import cell
from autograder.students import Student

_FOLDER = re.compile(r"^(?P<name>[^_]*)_(?P<pid>\d+)_(?P<plugin>assign(?:submission|feedback)_[a-z]+)_?(?P<file>.*)$")
WORKSHEET_COLUMNS = [
    "Identifier",
    "Full name",
    "Email address",
    "Status",
    "Grade",
    "Maximum Grade",
    "Grade can be changed",
    "Last modified (submission)",
    "Last modified (grade)",
    "Feedback comments",
]
MOODLE_TIME = "%A, %d %B %Y, %I:%M %p"
# Moodle's CSV reader (csv_import_reader::load_csv_content, lib/csvlib.class.php) drops a UTF-8 BOM; with one, Excel
# shows the names in the worksheet right.
ENCODING = "utf-8-sig"  # Moodle's strftimedatetime, as its worksheet writes and re-reads it


def parse(name: str) -> dict | None:
    m = _FOLDER.match(name)
    return m.groupdict() if m else None


class Moodle(Adapter):
    name = "moodle"
    title = "Moodle"
    convention = "<Full Name>_<participant id>_assignsubmission_file[/<files>]"

    def claims(self, entry: Entry) -> bool:
        return parse(entry.name) is not None

    def uploads(self, entries: list[Entry], tz: tzinfo) -> tuple[list[Upload], list[str]]:
        by_pid: dict[str, Upload] = {}
        skipped = []
        for e in entries:
            d = parse(e.name)
            if d is None:
                skipped.append(f"{shown(e.name)}: not a Moodle submission ({self.convention})")
                continue
            up = by_pid.setdefault(
                d["pid"],
                Upload(d["pid"], [], label="latest submission (Moodle keeps one)", name=d["name"].strip()),
            )
            up.meta.setdefault("prefix", f"{d['name']}_{d['pid']}")
            if d["plugin"] != "assignsubmission_file":
                up.notes.append(f"{d['plugin'].split('_', 1)[1]} submission part, not graded")
                continue
            for node in e.nodes:
                up.nodes.append(node if e.is_dir else node.renamed(d["file"] or node.path))
        return [by_pid[k] for k in sorted(by_pid, key=int)], skipped

    def read_roster(self, path: Path, tz: tzinfo) -> dict[str, Student]:
        out = {}
        for row in read_table(path):
            ident = column(row, "Identifier")
            m = re.search(r"(\d+)\s*$", ident)
            if not m:
                continue
            extra = {"status": column(row, "Status")}
            t = parse_time(column(row, "Last modified (submission)"), tz)
            if t is not None:
                extra["submitted_at"] = t.isoformat()
            out[m.group(1)] = Student(
                "moodle",
                m.group(1),
                name=column(row, "Full name"),
                email=column(row, "Email address"),
                sis_id=column(row, "ID number"),
                extra=extra,
            )
        return out


# ---------------------------------------------------------------------------------------- grading worksheet
def moodle_time(t: datetime) -> str:
    return t.strftime(MOODLE_TIME)


def write_worksheet(path: Path, rows: list[dict], roster: Path | None, now: datetime) -> Path:
    """A grading worksheet Moodle's "Upload grading worksheet" imports. ``rows``: {"student", "grade" ('' =
    pending: Moodle skips it), "max", "comment"}. With the downloaded worksheet as ``roster`` its columns and
    every row are kept (other students unchanged: blank grade)."""
    given = read_table(roster) if roster is not None and Path(roster).is_file() else []
    head = list(given[0].keys()) if given else list(WORKSHEET_COLUMNS)
    for needed in ("Identifier", "Grade", "Last modified (grade)", "Feedback comments"):
        if needed not in head:
            head.append(needed)
    by_pid = {r["student"].lms_id: r for r in rows}
    out_rows = []
    for g in given:
        m = re.search(r"(\d+)\s*$", column(g, "Identifier"))
        r = by_pid.pop(m.group(1), None) if m else None
        out_rows.append(_fill(dict(g), r, now))
    for r in by_pid.values():  # graded students the worksheet does not list (or no worksheet given)
        s = r["student"]
        base = {
            "Identifier": f"Participant {s.lms_id}",
            "Full name": s.name,
            "Email address": s.email,
            "Status": "",
            "Maximum Grade": f"{r['max']:g}",
            "Grade can be changed": "Yes",
            "Last modified (submission)": s.extra.get("submitted_at_moodle", "-"),
        }
        out_rows.append(_fill(base, r, now))
    with open(path, "w", newline="", encoding=ENCODING) as f:
        w = csv.DictWriter(f, head, extrasaction="ignore")
        w.writeheader()
        w.writerows(out_rows)
    return path


_AS_IS = {"Identifier", "Grade", "Maximum Grade", "Grade can be changed", "Last modified (submission)",
          "Last modified (grade)"}  # fmt: skip


def _fill(row: dict, r: dict | None, now: datetime) -> dict:
    for k, v in row.items():  # names, statuses, online text: display data from profiles, cleaned
        if k not in _AS_IS:
            row[k] = cell(v)
    if r is None:
        row["Grade"] = ""  # Moodle skips a blank grade: nothing changes for this student
        return row
    row["Grade"] = r["grade"]
    row["Last modified (grade)"] = moodle_time(now)
    row["Feedback comments"] = r.get("comment", "")
    return row


def read_worksheet(path: Path) -> dict[str, str]:
    """What Moodle's worksheet import reads: participant id -> grade, for rows it would apply (a grade present;
    Identifier, Grade and Last modified (grade) columns required, as in assignfeedback_offline)."""
    rows = read_table(path)
    if rows and not all(k in rows[0] for k in ("Identifier", "Grade", "Last modified (grade)")):
        raise ValueError("not a Moodle grading worksheet: Identifier, Grade and Last modified (grade) are required")
    out = {}
    for r in rows:
        pid = r["Identifier"][len("Participant ") :] if r["Identifier"].startswith("Participant ") else ""
        if pid.isdigit() and r["Grade"] != "" and parse_time(r["Last modified (grade)"]) is not None:
            out[pid] = r["Grade"]
    return out


# ------------------------------------------------------------------------------------------ feedback bundle
def feedback_folder(student: Student) -> str:
    """The folder name Moodle's feedback-zip import maps to the participant (``<name>_<pid>_assignsubmission_
    file``): the name may not contain ``_`` or path characters."""
    name = re.sub(r"[_/\\:*?\"<>|\x00-\x1f]+", " ", student.name or "Participant").strip() or "Participant"
    return f"{name}_{student.lms_id}_assignsubmission_file"


def feedback_participant(path: str) -> str | None:
    """The participant id Moodle's importer reads from a path in the zip (assignfeedback_file_zip_importer)."""
    for part in path.split("/"):
        info = part.split("_", 4)
        if len(info) >= 4 and info[1].isdigit():
            return info[1]
    return None
