"""Canvas.

Download ("Download Submissions" on the assignment page, a zip of loose files). Canvas's ContentZipper
(lib/content_zipper.rb in instructure/canvas-lms: ``get_filename``, ``add_upload_submission``) names every attached
file ``[<name>_][LATE_]<user id>_<attachment id>_<file name as uploaded>``: the name is the student's sortable name
("Smith, John") lower-cased, with ``_<digits>_`` runs joined and every non-word character removed (``smithjohn``;
``O'Brien-Lee, Zoë`` -> ``obrienleezoë``: letters of every script are kept); ``LATE`` (in capitals) is Canvas's
own late mark; the user id is the Canvas user id (unique per student: the key); the attachment id increases with
every upload; the file name is the uploaded one with ``\\ / : * ? " < > |`` replaced by ``_`` (it may have no
extension). With anonymous grading the name is absent and the id is ``anon_<anonymous id>`` (a short code of
letters and digits), which is then the key. Online-text and URL submissions are ``<name>_[LATE_]<id>_text.html`` /
``_link.html``. For a group assignment the one submission is named after the group and one member's user id. The
download holds only each student's current submission; a file uploaded again under the same name is renamed by
Canvas ``name-1.ext`` (``-2``, ...) and has a larger attachment id: the newest attachment of a name replaces the
older one whole.

Roster: the gradebook export (Grades > Export > CSV, lib/gradebook_exporter.rb): ``Student`` (or ``LastName,
FirstName`` when the course shows split names), ``ID``, ``SIS User ID`` (optional), ``SIS Login ID``,
``Integration ID`` / ``Root Account`` (optional), ``Section``, custom columns, then ``<assignment> (<id>)``...;
a muted / "Manual Posting" row and a "Points Possible" row come before the students, the Test Student last; the
separator is the user's choice (``;`` in decimal-comma locales) and a BOM is optional. Canvas gives no
submission times in either file: pass ``--times`` (``id,submitted_at``, e.g. from the Submissions API) for
penalties by the hour; otherwise the late mark counts as ``flagged_days`` of the policy.

Gradebook import (Grades > Import, lib/gradebook_importer.rb): the header's first cell must contain ``Student`` and
its second ``ID``; ``SIS User ID``, ``SIS Login ID`` next, and the student columns end with ``Section``; students
are matched by ``ID`` (Canvas user id), an assignment column by the id in parentheses in its header
(``01 softmax (4567)``; a header without an id creates a new assignment); the "Points Possible" row sets an
assignment's points, so it must carry Canvas's own value; a blank cell changes nothing. Feedback in bulk:
"Re-Upload Submissions" on the assignment page takes a zip of files named like the download
(``<name>_<user id>_<attachment id>_<file>``) and attaches each file as a comment to that student's submission
(the attachment must be one of the submission's).
"""

from __future__ import annotations

import csv
import re
from datetime import tzinfo
from pathlib import Path, PurePosixPath

from autograder.lms.base import Adapter, Entry, Upload, column, read_table, shown
from autograder.students import Student

_ID = r"(?P<uid>\d+|anon_[A-Za-z0-9]+)"  # Canvas user id, or anon_<anonymous id> with anonymous grading
_TAIL = r"_(?:(?P<att>\d+)_(?P<file>.+)|(?P<kind>text|link)\.html)$"
_NAMELESS = re.compile(rf"^_?(?:(?P<late>LATE)_)?{_ID}{_TAIL}", re.IGNORECASE)  # "_": a name of no word characters
_NAMED = re.compile(rf"^(?P<name>.*?[^\d_].*?)_(?:(?P<late>LATE)_)?{_ID}{_TAIL}", re.IGNORECASE)
_COUNTER = re.compile(r"^(?P<stem>.+?)-(?P<n>\d+)(?P<ext>(?:\.[A-Za-z0-9]+)*)$")  # Canvas's "name-1.ext"
_MUTED = re.compile(r"^\s*(Muted|Manual Posting.*)?\s*$", re.IGNORECASE)  # GradebookImporter's non-student row
_TITLE_ID = re.compile(r"^(?P<title>.*?)\s*\((?P<id>\d+)\)\s*$")


def parse(name: str) -> dict | None:
    """The parts of a Canvas download file name, or None."""
    m = _NAMELESS.match(name) or _NAMED.match(name)
    if not m:
        return None
    d = m.groupdict()
    d["late"] = bool(d.get("late"))
    d["name"] = d.get("name") or ""
    return d


def logical_name(file: str) -> tuple[str, int]:
    """``01_softmax-1.ipynb`` -> (``01_softmax.ipynb``, 1): the file name before Canvas's re-upload counter."""
    m = _COUNTER.match(file)
    return (m["stem"] + m["ext"], int(m["n"])) if m else (file, 0)


class Canvas(Adapter):
    name = "canvas"
    title = "Canvas"
    convention = "<name>_[LATE_]<user id>_<attachment id>_<file>"

    def claims(self, entry: Entry) -> bool:
        return not entry.is_dir and parse(entry.name) is not None

    def uploads(self, entries: list[Entry], tz: tzinfo) -> tuple[list[Upload], list[str]]:
        by_user: dict[str, list[tuple[dict, Entry]]] = {}
        skipped = []
        for e in entries:
            d = parse(e.name) if not e.is_dir else None
            if d is None:
                skipped.append(f"{shown(e.name)}: not a Canvas submission file ({self.convention})")
                continue
            by_user.setdefault(d["uid"], []).append((d, e))
        out = []
        for uid, files in sorted(by_user.items()):
            files.sort(key=lambda de: -int(de[0]["att"] or 0))  # newest attachment first
            kept, notes, latest = [], [], {}
            for d, e in files:
                if d["att"] is None:  # text/link submission: nothing to grade, but it is the student's
                    notes.append(f"a {d['kind']} entry (online text/URL), not graded")
                    continue
                base, _ = logical_name(d["file"])
                if base in latest:
                    notes.append(
                        f"{shown(d['file'])} (attachment {d['att']}) replaced by "
                        f"{shown(latest[base]['file'])} (attachment {latest[base]['att']})"
                    )
                    continue
                latest[base] = d
                kept.append((d, e))
            nodes = []
            for rank, (d, e) in enumerate(kept):
                for node in e.nodes:
                    nodes.append(node.renamed(d["file"], rank))
            if uid.startswith("anon_"):
                notes.append(
                    "anonymous grading: Canvas names no user id, and its import takes no grades while the assignment"
                    " is anonymous; download again after grades are posted to key this student by user id"
                )
            atts = [int(d["att"]) for d, _ in kept]
            first = files[0][0]
            label = ("attachment " if len(atts) == 1 else "attachments ") + ", ".join(map(str, atts))
            if len(files) > len(kept):
                label += f" (newest of {len(files)} files)"
            out.append(
                Upload(
                    uid,
                    nodes,
                    order=(max(atts, default=0),),
                    label=label if atts else "no file",
                    name=first["name"],
                    late_flag=any(d["late"] for d, _ in files),
                    notes=notes,
                    meta={"attachments": {d["file"]: int(d["att"]) for d, _ in kept}, "file_name": first["name"]},
                )
            )
        return out, skipped

    def read_roster(self, path: Path, tz: tzinfo) -> dict[str, Student]:
        out = {}
        for row in read_table(path):
            uid = column(row, "ID")
            name = column(row, "Student")
            if not name and (column(row, "LastName") or column(row, "FirstName")):
                name = ", ".join(x for x in (column(row, "LastName"), column(row, "FirstName")) if x)
            if not uid.isdigit() or "points possible" in name.lower():
                continue  # the Points Possible and muted / Manual Posting rows have no user id
            out[uid] = Student(
                "canvas",
                uid,
                name=name,
                sis_id=column(row, "SIS User ID"),
                login=column(row, "SIS Login ID"),
                extra={"section": column(row, "Section")},
            )
        return out


# ---------------------------------------------------------------------------------------- gradebook import
STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def roster_columns(roster: Path | None) -> list[str]:
    """The assignment column headers of a Canvas gradebook export (``Title (id)``)."""
    rows = read_table(roster) if roster is not None and Path(roster).is_file() else []
    return [h for h in (rows[0].keys() if rows else []) if _TITLE_ID.match(h)]


def roster_points(roster: Path | None) -> dict[str, str]:
    """The "Points Possible" row of a Canvas gradebook export: assignment header -> points, as Canvas wrote them."""
    rows = read_table(roster) if roster is not None and Path(roster).is_file() else []
    for row in rows:
        if any("points possible" in v.lower() for v in list(row.values())[:2]):
            return {h: v for h, v in row.items() if _TITLE_ID.match(h) and v}
    return {}


def write_gradebook(path: Path, columns: list[str], points: list[str], rows: list[dict]) -> Path:
    """A Canvas gradebook import file. ``rows``: {"student": Student, "grades": [str per column ('' = blank)]}.

    UTF-8 with a BOM, as Canvas's own export writes when "include a byte-order mark" is set for Excel: Excel then
    shows non-ASCII names right, and the importer still finds "Student" (it tests ``row[0].include?``)."""
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(STUDENT_COLUMNS + columns)
        w.writerow(["    Points Possible", "", "", "", ""] + points)
        for r in rows:
            s = r["student"]
            w.writerow([r["name"], s.lms_id, s.sis_id, s.login, s.extra.get("section", "")] + r["grades"])
    return path


def read_gradebook(path: Path) -> dict[str, dict[str, str]]:
    """What Canvas's importer reads from a gradebook CSV: Canvas user id -> {assignment header: grade} with blank
    cells left out (they change nothing). Follows GradebookImporter: the header must start with Student and ID and
    its student columns must end with Section; a "Points Possible" row is not a student."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    if not (len(head) > 3 and "Student" in head[0] and "ID" in head[1]):
        raise ValueError("not a Canvas gradebook: the header must start with Student, ID")
    n = head.index("Section") + 1 if "Section" in head else 0
    if n == 0:
        raise ValueError("not a Canvas gradebook: no Section column")
    out = {}
    for r in rows[1:]:
        if r and "Points Possible" in r[0] or all(_MUTED.match(c) for c in r):
            continue  # the Points Possible row, and the muted / Manual Posting row
        out[r[1]] = {head[i]: r[i].strip() for i in range(n, len(head)) if i < len(r) and r[i].strip() not in ("", "-")}
    return out


def title_and_id(header: str) -> tuple[str, str | None]:
    m = _TITLE_ID.match(header)
    return (m["title"], m["id"]) if m else (header, None)


# ------------------------------------------------------------------------------------------ feedback bundle
def feedback_name(student: Student, attachment: int | None, assignment: str) -> str:
    """The file name Canvas's Re-Upload Submissions attaches to the right submission (user id and one of the
    submission's attachment ids as the first two all-digit ``_`` fields), or a per-student name by user id."""
    stem = re.sub(r"[^A-Za-z]", "", student.extra.get("file_name", "")) or "student"
    if attachment is not None:
        return f"{stem}_{student.lms_id}_{attachment}_feedback-{assignment.replace('_', '-')}.html"
    return f"{student.lms_id}-{assignment}-feedback.html"


def reupload_ids(name: str) -> tuple[str | None, str | None]:
    """What Canvas's Re-Upload Submissions reads from a file name: (user id, attachment id)."""
    digits = [p for p in PurePosixPath(name).name.split("_") if p.isdigit()][:2]
    return (digits + [None, None])[0], (digits + [None, None])[1]
