"""The canary: before a batch or a single regrade writes any grade, prove that grading works right now.

For every assignment of the batch, two known submissions go through exactly the path and configuration the batch
uses: the batch's own Dask workers, once they are prepared (``batch.grade_batch``'s ``preflight``), running
``grade.grade_one`` (the whitelist intake, the library sandbox, the notebook sandbox when the batch runs
notebooks, the same limits and isolation, uids leased the same way, the same case set, the same interpreter), with
a work folder beside the real one:

* the reference implementation (every module a student writes) with the release notebook must score full marks
  on every library part, and its notebook must run clean;
* the release stubs must score zero on every library part.

Anything else is the grading machinery's fault (a sandbox that cannot start, an interpreter the sandbox cannot
find, a limit too small for the reference, a broken template), so ``verify_on`` raises ``InfrastructureError``
naming the cause and the command stops before writing a grade. ``check_gradebook`` opens the gradebook
(nbgrader's database), which every later write needs.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from autograder.course import Course, Limits
from autograder.errors import InfrastructureError

REFERENCE, STUBS = "canary-reference", "canary-stubs"


def canary_course(course: Course) -> Course:
    """A course on the same tree and cases whose work folder sits beside the real one's submissions (under
    ``staging/``, which nothing else lists): the canary never touches the real gradebook or submissions."""
    return Course(
        root=course.root,
        work=course.staging / "_canary",
        topics=course.topics,
        cases=course.cases,
        secret=course.secret,
    )


def _submission(course: Course, assignment: str, dest: Path, reference: bool) -> None:
    """The release notebook and lib/deepkit: the stubs, or (``reference``) every student module from the reference."""
    if dest.exists():
        shutil.rmtree(dest)
    lib = dest / "lib" / "deepkit"
    lib.mkdir(parents=True)
    shutil.copyfile(course.path(course.find(assignment).exercise_notebook), dest / f"{assignment}.ipynb")
    for p in sorted((course.stub_lib / "deepkit").glob("*.py")):
        shutil.copyfile(p, lib / p.name)
    if reference:
        for m in course.student_modules:
            shutil.copyfile(course.ref_lib / "deepkit" / f"{m}.py", lib / f"{m}.py")


def _problems(outcome, nbres, want_full: bool, notebook: bool) -> list[str]:
    """What is wrong with a canary outcome ([] when the reference got everything / the stubs got nothing)."""
    found = []
    for cell in outcome.cells.values():
        if cell.kind != "library":
            continue
        if want_full and cell.points != cell.max_points:
            found.append(f"part {cell.name} scored {cell.points:g}/{cell.max_points:g}: {cell.reason}")
        if not want_full and cell.points != 0:
            found.append(f"part {cell.name} scored {cell.points:g}/{cell.max_points:g} for a stub: {cell.reason}")
    if notebook and nbres is not None:
        expected = "ok" if want_full else "errors"
        if nbres.status != expected:
            tail = " | ".join(ln.strip() for ln in (nbres.log_tail or "").splitlines()[-3:] if ln.strip())
            found.append(
                f"the notebook run ended {nbres.status!r} (expected {expected!r}): {nbres.reason}"
                + (f" [log: {tail[-400:]}]" if tail else "")
            )
    return found


def check_gradebook(course: Course) -> None:
    """Open nbgrader's database the way every grade write will (raises InfrastructureError if it cannot)."""
    import warnings

    from nbgrader.api import Gradebook

    try:
        course.work.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Gradebook(course.db_url) as gb:
                gb.assignments  # noqa: B018 - a query: the schema must be readable
    except Exception as exc:  # noqa: BLE001 - any failure here is the machinery's
        raise InfrastructureError(
            f"nbgrader could not open its database {course.gradebook}: {type(exc).__name__}: {str(exc)[:300]}"
        ) from exc


def verify_on(
    cluster, course: Course, assignments: list[str], limits: Limits, notebook: bool = True, log=print
) -> None:
    """Grade the reference and the stubs of every assignment on ``cluster`` (a ``distributed.GradingCluster``,
    warmed for the batch: the workers and sandboxes that will grade it); raise InfrastructureError unless the
    reference gets full marks and the stubs zero. ``log`` gets one line."""
    check_gradebook(course)
    canary = canary_course(course)
    work = [(student, a) for a in assignments for student in (REFERENCE, STUBS)]
    for student, a in work:
        _submission(course, a, canary.submitted / student / a, reference=student == REFERENCE)
    who = {REFERENCE: "the reference implementation", STUBS: "the release stubs"}
    t0 = time.monotonic()
    failures = []
    for g in cluster.grade(canary, work, limits, notebook, raise_infrastructure=False):
        problems = [g.error] if g.error else _problems(g.outcome, g.nbres, g.student == REFERENCE, notebook)
        if problems:
            failures.append(f"{g.assignment}, {who[g.student]}: " + "; ".join(problems[:4]))
    if failures:
        raise InfrastructureError(
            "canary failed: under this sandbox configuration the grader does not reproduce known scores, so it "
            "would misgrade students; nothing was graded.\n  " + "\n  ".join(failures)
        )
    log(
        f"canary ok: the reference scores full marks and the stubs zero on {', '.join(assignments)} "
        f"({'library + notebook' if notebook else 'library only'}, {time.monotonic() - t0:.0f} s)"
    )
