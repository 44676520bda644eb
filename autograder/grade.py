"""Autograding one submission: stage -> library sandbox (-> notebook sandbox when asked) (``grade_one``), then
the trusted gradebook write (``record``). A batch of them is ``autograder.batch.grade_batch``.

Each submission ends with ``autograded/<student>/<a>/autograder.json`` (scores and reasons for every grade cell)
and the notebook the formgrader shows, built on the trusted side (``autograder.nbrun.graded_notebook``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import nbformat

from autograder.course import Course, Limits
from autograder.intake import Intake, stage
from autograder.libgrade import LibResult, grade_library
from autograder.nbrun import NbResult, graded_notebook, needs_run, release_notebook, run_notebook
from autograder.sandbox import jail
from autograder.sanitize import one_line

NOT_RUN = "not executed: the answers are read from the notebook, the library parts are graded in the sandbox"


@dataclass
class CellScore:
    name: str
    points: float | None  # None: waits for manual grading
    max_points: float
    reason: str
    kind: str  # "library", "manual", "notebook"
    answer: str | None = None  # manual cells: digest of the staged answer (autograder.answers)
    graded_answer: str | None = None  # manual cells: digest of the answer the manual grade applies to
    regrade: dict | None = None  # manual cells: the answer changed after it was graded (old grade, comment)


@dataclass
class Outcome:
    student: str
    assignment: str
    cells: dict[str, CellScore] = field(default_factory=dict)
    notebook_status: str = ""
    notebook_reason: str = ""
    intake: dict = field(default_factory=dict)
    seconds: float = 0.0
    lib_seconds: float = 0.0
    nb_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    graded_at: str = ""

    @property
    def auto_total(self) -> float:
        return float(sum(c.points or 0.0 for c in self.cells.values()))

    @property
    def max_total(self) -> float:
        return float(sum(c.max_points for c in self.cells.values()))

    def summary(self) -> str:
        lost = [
            f"{c.name} {c.points:g}/{c.max_points:g}: {c.reason}"
            for c in self.cells.values()
            if c.points is not None and c.points < c.max_points
        ]
        pending = [c.name for c in self.cells.values() if c.points is None]
        parts = [f"{self.auto_total:g}/{self.max_total:g}"]
        if lost:
            parts.append("lost: " + "; ".join(lost))
        if pending:
            parts.append("manual grading pending: " + ", ".join(pending))
        if self.notebook_status not in ("ok", ""):
            parts.append("notebook: " + self.notebook_reason)
        ignored = self.intake.get("ignored") or []
        if ignored:
            parts.append(
                f"not graded ({len(ignored)}): " + ", ".join(ignored[:5]) + (" ..." if len(ignored) > 5 else "")
            )
        parts += self.notes
        return " | ".join(parts)

    def to_json(self) -> dict:
        d = asdict(self)
        d.update(total=self.auto_total, max=self.max_total, reason=self.summary())
        return d


# ------------------------------------------------------------------------------------------- one submission
def grade_one(
    course: Course, student: str, assignment: str, limits: Limits, slot: int = 0, notebook: bool = False
) -> tuple[Outcome, Intake, LibResult, NbResult | None]:
    """Stage and sandbox-grade one submission (no gradebook writes; safe to call from worker threads).

    ``notebook``: also execute the notebook in the sandbox (outputs for the formgrader). Without it the
    notebook is only read (the answers), unless the assignment has autograded cells only a run can score
    (``nbrun.needs_run``). Its sandboxes run under uids leased for this call (``jail.lease_uids``): unique on this
    machine, across threads and grading processes. ``slot`` is no longer used (kept for callers)."""
    t0 = time.monotonic()
    topic = course.topic(assignment)
    base = course.staging / assignment / student
    logs = base / "logs"
    intake = stage(course, topic, assignment, course.submitted / student / assignment, base / "sub")
    logs.mkdir(parents=True, exist_ok=True)
    with jail.lease_uids(2) as (lib_uid, nb_uid):
        lib = grade_library(
            course,
            topic,
            base / "sub",
            base / "run",
            limits,
            uid=lib_uid,
            log=logs / "library.log",
            missing=intake.missing,
        )
        nbres = None
        if notebook or needs_run(course, assignment):
            nbres = run_notebook(course, assignment, base / "sub", limits, uid=nb_uid, log=logs / "notebook.log")
            (logs / "nbgrader.log").write_text(nbres.log_tail or "")
    out = Outcome(
        student,
        assignment,
        intake={
            "taken": intake.taken,
            "ignored": intake.ignored,
            "missing": intake.missing,
            "notes": intake.notes,
            "notebook": intake.notebook_reason or "ok",
        },
        lib_seconds=lib.seconds,
        nb_seconds=nbres.seconds if nbres else 0.0,
        notes=list(lib.notes),
    )
    if not intake.notebook:
        out.notebook_status, out.notebook_reason = "missing", intake.notebook_reason
    elif nbres is None:
        out.notebook_status, out.notebook_reason = "skipped", NOT_RUN
    else:
        out.notebook_status, out.notebook_reason = nbres.status, nbres.reason
    for p in lib.parts.values():
        out.cells[p.name] = CellScore(p.name, p.points, p.max_points, p.reason, "library")
    out.seconds = time.monotonic() - t0
    out.graded_at = datetime.now(UTC).isoformat(timespec="seconds")
    return out, intake, lib, nbres


# ------------------------------------------------------------------------------------ trusted gradebook side
def _staged_notebook(course: Course, student: str, assignment: str) -> nbformat.NotebookNode | None:
    p = course.staging / assignment / student / "sub" / f"{assignment}.ipynb"
    try:
        return nbformat.read(str(p), as_version=4)
    except Exception:  # noqa: BLE001
        return None


def ensure_assignment(course: Course, assignment: str) -> None:
    """Make sure the real gradebook knows the assignment as it is now (``make clean`` removes the gradebook;
    an edited source notebook adds or changes grade cells): regenerate when the source notebook changed."""
    import hashlib
    import sys as _sys

    from nbgrader.api import Gradebook, MissingEntry

    from autograder.nbrun import generate_gradebook

    course.work.mkdir(parents=True, exist_ok=True)
    src = course.path(course.find(assignment).source_notebook)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    stamp = course.staging / "_templates" / f"{assignment}.gradebook-stamp"
    known = True
    try:
        with Gradebook(course.db_url) as gb:
            gb.find_assignment(assignment)
    except MissingEntry:
        known = False
    if known and stamp.is_file() and stamp.read_text() == f"{course.gradebook}:{digest}":
        return
    try:
        generate_gradebook(course, assignment, course.db_url)
    except Exception as exc:  # noqa: BLE001 - e.g. a notebook removed that has submissions: keep the old one
        if not known:
            raise
        print(
            f"warning: could not update {assignment} in the gradebook ({exc}); grading against the stored version",
            file=_sys.stderr,
        )
        return
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(f"{course.gradebook}:{digest}")


def record(course: Course, out: Outcome, intake: Intake, nbres: NbResult | None) -> Outcome:
    """Write the outcome into nbgrader's gradebook; manual scores and comments are never touched.

    Library parts: auto_score = sandbox score. Manually graded cells: 0 if unanswered or deleted, else left
    for the grader. Other autograded cells (not sandboxed parts): nbgrader's rule on the run notebook.
    """
    import warnings

    from nbgrader.api import Gradebook
    from nbgrader.utils import determine_grade, parse_utc

    with warnings.catch_warnings():  # nbgrader's own SQLAlchemy autoflush warnings
        warnings.simplefilter("ignore")
        return _record(course, out, intake, nbres, Gradebook, determine_grade, parse_utc)


def _record(course, out, intake, nbres, Gradebook, determine_grade, parse_utc) -> Outcome:

    student, assignment = out.student, out.assignment
    staged = _staged_notebook(course, student, assignment) if intake.notebook else None
    ran = nbres.notebook if nbres and nbres.status in ("ok", "errors") else None
    staged_cells, ran_cells = _by_grade_id(staged), _by_grade_id(ran)
    previous = (load_outcome(course, student, assignment) or {}).get("cells", {})
    saved: dict[str, str] = {}  # grade_id -> the trusted source of a locked cell, as the gradebook stores it
    with Gradebook(course.db_url) as gb:
        gb.update_or_create_student(student)
        kwargs = {}
        if intake.timestamp:
            try:
                kwargs["timestamp"] = parse_utc(intake.timestamp)
            except Exception:  # noqa: BLE001 - an unparseable LMS time
                pass
        sub = gb.update_or_create_submission(assignment, student, **kwargs)
        for snb in sub.notebooks:
            source = {c.name: c for c in snb.notebook.source_cells}
            saved.update({c.name: c.source for c in snb.notebook.source_cells if c.locked})
            for grade in snb.grades:
                name, cell = grade.name, grade.cell
                maxp = float(cell.max_score)
                if name in out.cells:  # a sandboxed library part
                    cs = out.cells[name]
                    grade.auto_score = cs.points
                    grade.needs_manual_grade = False
                    continue
                mine = staged_cells.get(name)
                if cell.cell_type == "markdown" or name in {c.name for c in snb.notebook.solution_cells}:
                    src = source.get(name)
                    if mine is None:
                        cs = CellScore(name, 0.0, maxp, "the answer cell is missing from the notebook", "manual")
                    elif src is not None and mine.source.strip() == src.source.strip():
                        cs = CellScore(name, 0.0, maxp, "no response", "manual")
                    else:
                        cs = CellScore(name, None, maxp, "waits for manual grading", "manual")
                    _review_answer(cs, previous.get(name), mine, grade, snb)
                    grade.auto_score = cs.points
                    grade.needs_manual_grade = cs.points is None and (grade.manual_score is None or bool(cs.regrade))
                else:
                    rc = ran_cells.get(name)
                    if rc is None:
                        cs = CellScore(
                            name, 0.0, maxp, nbres.reason if nbres else "the notebook did not run", "notebook"
                        )
                    else:
                        auto, _ = determine_grade(rc)
                        auto = 0.0 if auto is None else float(min(max(auto, 0.0), maxp))
                        cs = CellScore(
                            name,
                            auto,
                            maxp,
                            "cell ran without errors"
                            if auto == maxp
                            else "the cell raised an error or printed to stderr",
                            "notebook",
                        )
                    grade.auto_score = cs.points
                    grade.needs_manual_grade = False
                if grade.manual_score is not None and not cs.regrade:
                    cs.reason += f" (manual score {grade.manual_score:g} given by the grader stands)"
                out.cells[name] = cs
            for comment in snb.comments:
                if comment.name in out.cells and out.cells[comment.name].kind == "library":
                    comment.auto_comment = out.cells[comment.name].reason
        gb.db.commit()
    view = graded_notebook(
        release_notebook(course, assignment),
        saved,
        staged,
        nbres.notebook if nbres is not None else None,
        lines={
            n: f"sandboxed check of your lib: {c.points:g}/{c.max_points:g} - {c.reason}"
            for n, c in out.cells.items()
            if c.kind == "library"
        },
        note=_view_note(out, intake, nbres),
    )
    write_outputs(course, out, view)
    return out


def _review_answer(cs: CellScore, previous: dict | None, mine, grade, snb) -> None:
    """Flag a written answer that changed after it was graded by hand (``autograder.answers``)."""
    from autograder import answers

    if mine is None:
        return
    cs.answer = answers.digest(mine.source)
    comment = next((c.manual_comment for c in snb.comments if c.name == cs.name), None)
    r = answers.review(previous, cs.answer, grade.manual_score, cs.max_points, grade.needs_manual_grade, comment)
    cs.graded_answer, cs.regrade = r.graded_answer, r.regrade
    if r.regrade:
        cs.points, cs.reason = None, answers.reason(r.regrade)


def _by_grade_id(nb) -> dict:
    """grade_id -> the first cell carrying it."""
    out = {}
    for c in nb.cells if nb is not None else []:
        gid = c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if isinstance(gid, str):
            out.setdefault(gid, c)
    return out


def _view_note(out: Outcome, intake: Intake, nbres: NbResult | None) -> str:
    """The grader's line at the top of the formgrader's notebook: where its content comes from."""
    head = f"graded {out.graded_at}: each library part's score is the sandboxed check of the student's lib/deepkit"
    if not intake.notebook:
        return f"{head}. No notebook: {intake.notebook_reason}; the course's cells are shown."
    if nbres is None:
        return f"{head}. The notebook was not executed: answers as submitted, no outputs."
    return f"{head}. The notebook was executed in the sandbox ({nbres.status}: {one_line(nbres.reason, 200)})."


def write_outputs(course: Course, out: Outcome, view: nbformat.NotebookNode | None = None) -> None:
    """``autograder.json`` and, when given, ``view``: the notebook the formgrader shows (built by ``record``
    on the trusted side; never the sandbox's own output). Both replace the previous files atomically."""
    dest = course.autograded / out.student / out.assignment
    dest.mkdir(parents=True, exist_ok=True)
    if view is not None:
        tmp = dest / f".{out.assignment}.ipynb.tmp"
        nbformat.write(view, str(tmp))
        os.replace(tmp, dest / f"{out.assignment}.ipynb")
    tmp = dest / ".autograder.json.tmp"
    tmp.write_text(json.dumps(out.to_json(), indent=1))
    os.replace(tmp, dest / "autograder.json")


def load_outcome(course: Course, student: str, assignment: str) -> dict | None:
    p = course.autograded / student / assignment / "autograder.json"
    return json.loads(p.read_text()) if p.is_file() else None
