"""Grades out: files each LMS imports as they are, one row per student and one column per assignment, and the
reasons in a separate file.

``python -m autograder export --format canvas|moodle|blackboard|csv``:

- ``canvas``: ``canvas-gradebook.csv`` for Grades > Import (students by Canvas user id, assignment columns with
  the Canvas assignment id from the roster's header when it matches, a "Points Possible" row);
- ``moodle``: per assignment ``moodle-<assignment>-worksheet.csv`` for "Upload grading worksheet" (Moodle's own
  worksheet with Grade, Last modified (grade) and Feedback comments filled; participant ids are per assignment),
  and ``moodle-gradebook.csv`` (one row per email, one column per assignment) for the course gradebook's CSV
  import when the worksheets gave emails;
- ``blackboard``: ``blackboard-grade-center.csv`` for Work Offline > Upload (by username, columns with their
  Grade Center id from the roster when they match);
- ``csv``: ``grades.csv`` (grader id, LMS, LMS id, name, email, SIS id, one column per assignment).

Every format also writes ``reasons.csv``: per student and assignment the status, the final score, the RAW score,
the late penalty, the submission time from the LMS, the parts lost or pending with their reasons. A grade cell is
blank (never 0) while a written answer waits for manual grading or re-grading, and when nothing was submitted: an
LMS leaves a blank cell unchanged. Scores carry the late penalty of the policy (``autograder/policy.py``).
"""

from __future__ import annotations

import csv
import re
import sys
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from autograder.course import Course
from autograder.feedback import gradebook_view
from autograder.grade import load_outcome
from autograder.intake.collect import load_record, roster_copy
from autograder.policy import Lateness, Policy, assess, parse_time
from autograder.safetext import cell, clean
from autograder.students import Registry, Student

FORMATS = ("canvas", "moodle", "blackboard", "csv")


@dataclass
class Grade:
    """One student's result in one assignment, as exported."""

    sid: str
    assignment: str
    student: Student
    graded: bool = False  # an outcome exists
    raw: float = 0.0  # sum of the scores (manual grades included), before any penalty
    max: float = 0.0
    pending: list[str] = field(default_factory=list)  # cells waiting for (re-)grading by hand
    lost: list[str] = field(default_factory=list)  # "part s/m: reason" for every part below full marks
    lateness: Lateness | None = None

    @property
    def status(self) -> str:
        if not self.graded:
            return "not graded"
        return "pending manual grading" if self.pending else "graded"

    @property
    def final(self) -> float | None:
        """The score the LMS gets (penalty applied), or None: blank in the export."""
        if not self.graded or self.pending:
            return None
        return self.lateness.apply(self.raw) if self.lateness else round(self.raw, 2)

    def comment(self) -> str:
        """One line for the LMS's feedback-comment column."""
        bits = []
        if self.pending:
            bits.append(f"written answer(s) pending: {', '.join(self.pending)}")
        elif self.graded:
            bits.append(f"raw {num(self.raw)}/{num(self.max)}")
        if self.lateness and self.lateness.late:
            bits.append(f"late {self.lateness.days:g} day(s): -{self.lateness.percent:g}%")
        if self.final is not None and self.lateness and self.lateness.late:
            bits.append(f"score {num(self.final)}/{num(self.max)}")
        return "; ".join(bits)


def num(x: float | None) -> str:
    """A grade as an LMS reads it: at most two decimals, no exponent ('' for None)."""
    if x is None:
        return ""
    return f"{round(float(x), 2):.2f}".rstrip("0").rstrip(".")


def grade_of(course: Course, sid: str, assignment: str, student: Student, policy: Policy, record: dict) -> Grade:
    g = Grade(sid, assignment, student)
    res = load_outcome(course, sid, assignment)
    meta = record.get("students", {}).get(sid, {})
    submitted = parse_time(meta.get("submitted_at"))
    g.lateness = assess(policy, assignment, student.lms_id, submitted, meta.get("late_flag"))
    if res is None:
        return g
    g.graded = True
    gbv = gradebook_view(course, sid, assignment)
    for name, c in res["cells"].items():
        score = gbv[name]["score"] if name in gbv else c["points"]
        g.max += c["max_points"]
        if score is None or c.get("regrade"):
            g.pending.append(name)
            continue
        g.raw += float(score)
        if score < c["max_points"]:
            g.lost.append(f"{name} {num(score)}/{num(c['max_points'])}: {c['reason']}")
    return g


# ------------------------------------------------------------------------------------------------ export
def collect_grades(course: Course, pairs: list[tuple[str, str]], policy: Policy) -> tuple[list[str], dict]:
    """(assignments in course order, {sid: {assignment: Grade}})."""
    registry = Registry(course)
    order = {a: i for i, a in enumerate(course.assignments())}
    assignments = sorted({a for _, a in pairs}, key=order.get)
    records = {a: load_record(course, a) for a in assignments}
    grades: dict[str, dict[str, Grade]] = {}
    for sid, a in sorted(pairs):
        grades.setdefault(sid, {})[a] = grade_of(course, sid, a, registry.student(sid), policy, records[a])
    return assignments, grades


def export(
    course: Course, pairs: list[tuple[str, str]], fmt: str, out: Path, policy: Policy, roster: Path | None = None
) -> list[Path]:
    """Write the grade file(s) of ``fmt`` and ``reasons.csv`` into the folder ``out``; returns the paths."""
    if fmt not in FORMATS:
        raise SystemExit(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    assignments, grades = collect_grades(course, pairs, policy)
    written = [write_reasons(out / "reasons.csv", assignments, grades)]
    if fmt == "csv":
        written.append(_csv(out / "grades.csv", assignments, grades))
    elif fmt == "canvas":
        written.append(_canvas(course, out / "canvas-gradebook.csv", assignments, grades, roster, policy))
    elif fmt == "blackboard":
        written.append(_blackboard(course, out / "blackboard-grade-center.csv", assignments, grades, roster, policy))
    else:
        written += _moodle(course, out, assignments, grades, roster)
    return written


def write_reasons(path: Path, assignments: list[str], grades: dict) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            ["id", "lms", "lms_id", "name", "assignment", "status", "score", "raw", "max", "late_days",
             "penalty_percent", "submitted_at", "pending", "parts lost", "late"]
        )  # fmt: skip
        for sid, per in grades.items():
            for a in assignments:
                g = per.get(a)
                if g is None:
                    continue
                late = g.lateness
                w.writerow(
                    [sid, g.student.lms, g.student.lms_id, cell(g.student.name), a, g.status, num(g.final),
                     num(g.raw) if g.graded else "", num(g.max) if g.graded else "",
                     f"{late.days:g}" if late and late.late else "0", f"{late.percent:g}" if late else "0",
                     late.submitted_at.isoformat() if late and late.submitted_at else "",
                     " ".join(g.pending), cell("; ".join(g.lost), 2000), cell(late.summary() if late else "")]
                )  # fmt: skip
    return path


def _shown(s: Student) -> Student:
    """The student as written into a file: identity unchanged, display data cleaned (names come from profiles)."""
    extra = dict(s.extra, section=cell(s.extra.get("section", "")))
    return replace(s, name=cell(s.name), email=cell(s.email), sis_id=clean(s.sis_id), login=clean(s.login), extra=extra)


def _rows(grades: dict, assignments: list[str], lms: str | None) -> list[dict]:
    rows = []
    for per in grades.values():
        s = next(iter(per.values())).student
        if lms is not None and s.lms != lms:
            continue
        rows.append(
            {
                "student": _shown(s),
                "name": cell(s.name),
                "email": cell(s.email),
                "grades": [num(per[a].final) if a in per else "" for a in assignments],
                "per": per,
            }
        )
    return rows


def _csv(path: Path, assignments: list[str], grades: dict) -> Path:
    from autograder.lms.folder import write_gradebook

    return write_gradebook(path, assignments, _rows(grades, assignments, None))


def _roster(course: Course, lms: str, roster: Path | None, assignment: str | None = None) -> Path | None:
    """The roster given now, or the copy collect kept (``<work>/collected/roster-<lms>[-<assignment>].csv``)."""
    if roster is not None:
        return roster
    kept = roster_copy(course, lms, assignment or "")
    return kept if kept.is_file() else None


def _norm(s: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", s.lower()).split())


def match_column(assignment: str, titles: dict[str, str], known: tuple[str, ...] = ()) -> str | None:
    """The roster column (header -> title) that is this assignment: its title, normalised, is one of ``known``
    (the policy's ``column``, the assignment's name in the LMS download) or the assignment id, or starts with its
    number and slug ("01 softmax", "01_softmax: Softmax"); None unless exactly one matches."""
    number, _, slug = assignment.partition("_")
    for want in ({_norm(k) for k in known if k}, {_norm(assignment), _norm(f"{number} {slug}")}):
        hits = [h for h, t in titles.items() if _norm(t) in want or any(_norm(t).startswith(x + " ") for x in want)]
        if len(hits) == 1:
            return hits[0]
    return None


def _known_titles(course: Course, assignment: str, policy: Policy) -> tuple[str, ...]:
    return (policy.columns.get(assignment, ""), load_record(course, assignment).get("lms_assignment", ""))


def _canvas(course: Course, path: Path, assignments: list[str], grades: dict, roster: Path | None, policy) -> Path:
    from autograder.lms import canvas

    given = _roster(course, "canvas", roster)
    known = {h: canvas.title_and_id(h)[0] for h in canvas.roster_columns(given)}
    columns = [match_column(a, known, _known_titles(course, a, policy)) or a for a in assignments]
    rows = _rows(grades, assignments, "canvas")
    ours = [max((r["per"][a].max for r in rows if a in r["per"]), default=0.0) for a in assignments]
    theirs = canvas.roster_points(given)
    # The importer sets an assignment's points from this row: an existing column keeps Canvas's own value (the
    # scores are in the autograder's points: a mismatch is said, never silently rescaled); a new one gets ours.
    points = [theirs.get(c, num(p)) for c, p in zip(columns, ours)]
    for c, p in zip(columns, ours):
        if c in theirs and _points(theirs[c]) not in (None, round(p, 2)):
            print(f"warning: {c} is worth {theirs[c]} points in Canvas, {num(p)} here: scores are out of {num(p)}",
                  file=sys.stderr)  # fmt: skip
    return canvas.write_gradebook(path, columns, points, rows)


def _points(text: str) -> float | None:
    """Canvas's formatted number ("14.00", "14,00", "1,234.50") as a float, or None."""
    parts = re.split(r"[.,]", text.strip())
    try:
        return round(float("".join(parts[:-1]) + "." + parts[-1]) if len(parts) > 1 else float(parts[0]), 2)
    except ValueError:
        return None


def _blackboard(course: Course, path: Path, assignments: list[str], grades: dict, roster: Path | None, policy) -> Path:
    from autograder.lms import blackboard

    known = {
        h: h.split("[", 1)[0].split("|", 1)[0] for h in blackboard.roster_columns(_roster(course, "blackboard", roster))
    }
    columns = [match_column(a, known, _known_titles(course, a, policy)) or a for a in assignments]
    return blackboard.write_gradebook(path, columns, _rows(grades, assignments, "blackboard"))


def _moodle(course: Course, out: Path, assignments: list[str], grades: dict, roster: Path | None) -> list[Path]:
    from autograder.lms import moodle

    now = datetime.now(UTC)
    written = []
    rows = _rows(grades, assignments, "moodle")
    for a in assignments:
        mine = []
        for r in rows:
            g = r["per"].get(a)
            if g is not None:
                mine.append(
                    {"student": r["student"], "grade": num(g.final), "max": g.max, "comment": cell(g.comment())}
                )
        if mine:
            given = roster if roster is not None and len(assignments) == 1 else _roster(course, "moodle", None, a)
            written.append(moodle.write_worksheet(out / f"moodle-{a}-worksheet.csv", mine, given, now))
    # the course gradebook (Grades > Import > CSV file, map "Email address" to the user's email)
    by_email: dict[str, dict[str, str]] = {}
    for r in rows:
        email = r["student"].email
        if not email:
            continue
        entry = by_email.setdefault(email, {"Email address": cell(email), "Full name": r["name"]})
        for a, g in r["per"].items():
            if g.final is not None:
                entry[a] = num(g.final)
    if by_email:
        path = out / "moodle-gradebook.csv"
        with open(path, "w", newline="", encoding=moodle.ENCODING) as f:
            w = csv.DictWriter(f, ["Email address", "Full name", *assignments])
            w.writeheader()
            w.writerows(by_email[e] for e in sorted(by_email))
        written.append(path)
    return written
