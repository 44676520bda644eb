"""Autograding one submission: stage -> library sandbox -> notebook sandbox (``grade_one``), then the trusted
gradebook write (``record``). A batch of them is ``autograder.batch.grade_batch``.

Each submission ends with ``autograded/<student>/<a>/autograder.json`` (scores and reasons for every grade cell)
and its autograded notebook for the formgrader.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import nbformat

from autograder.course import Course, Limits
from autograder.intake import Intake, stage
from autograder.libgrade import LibResult, grade_library
from autograder.nbrun import NbResult, run_notebook

UID_BASE = 61000


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
    course: Course, student: str, assignment: str, limits: Limits, slot: int = 0, notebook: bool = True
) -> tuple[Outcome, Intake, LibResult, NbResult | None]:
    """Stage and sandbox-grade one submission (no gradebook writes; safe to call from worker threads)."""
    t0 = time.monotonic()
    topic = course.topic(assignment)
    base = course.staging / assignment / student
    logs = base / "logs"
    intake = stage(course, topic, assignment, course.submitted / student / assignment, base / "sub")
    logs.mkdir(parents=True, exist_ok=True)
    lib = grade_library(
        course,
        topic,
        base / "sub",
        base / "run",
        limits,
        uid=UID_BASE + 2 * slot,
        log=logs / "library.log",
        missing=intake.missing,
    )
    nbres = None
    if notebook:
        nbres = run_notebook(
            course, assignment, base / "sub", limits, uid=UID_BASE + 2 * slot + 1, log=logs / "notebook.log"
        )
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
        out.notebook_status, out.notebook_reason = "skipped", "notebook not run (library only)"
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
    by_id = lambda nb: {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells} if nb else {}
    staged_cells, ran_cells = by_id(staged), by_id(ran)
    previous = (load_outcome(course, student, assignment) or {}).get("cells", {})
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
    write_outputs(course, out, nbres)
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


def write_outputs(course: Course, out: Outcome, nbres: NbResult | None) -> None:
    dest = course.autograded / out.student / out.assignment
    dest.mkdir(parents=True, exist_ok=True)
    if nbres is not None and nbres.notebook is not None:
        nb = nbres.notebook
        for c in nb.cells:
            gid = c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid in out.cells and out.cells[gid].kind == "library" and c.get("cell_type") == "code":
                cs = out.cells[gid]
                c.setdefault("outputs", []).append(
                    nbformat.v4.new_output(
                        "stream",
                        name="stdout",
                        text=f"[autograder] sandboxed check of your lib: {cs.points:g}/{cs.max_points:g}"
                        f" - {cs.reason}\n",
                    )
                )
        nbformat.write(nb, str(dest / f"{out.assignment}.ipynb"))
    elif nbres is not None:  # nbgrader could not run it: keep the submitted notebook for manual grading
        staged = _staged_notebook(course, out.student, out.assignment)
        if staged is not None:
            nbformat.write(staged, str(dest / f"{out.assignment}.ipynb"))
    (dest / "autograder.json").write_text(json.dumps(out.to_json(), indent=1))


def load_outcome(course: Course, student: str, assignment: str) -> dict | None:
    p = course.autograded / student / assignment / "autograder.json"
    return json.loads(p.read_text()) if p.is_file() else None
