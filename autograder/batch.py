"""Grading a batch of submissions: parallel sandboxed grading, serial gradebook writes (the trusted side).

``grade_batch`` prepares each assignment once (gradebook entry, notebook template, reference outputs), grades
(student, assignment) pairs with ``jobs`` parallel workers (``grade.grade_one``), and records each result in the
gradebook as it arrives. A submission whose grading fails still gets 0 with a reason; the batch goes on.
"""

from __future__ import annotations

import queue
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed

from autograder.course import Course, Limits
from autograder.errors import InfrastructureError
from autograder.grade import CellScore, Outcome, ensure_assignment, grade_one, record, write_outputs
from autograder.libgrade import reference_cases
from autograder.nbrun import needs_run, template


def grade_batch(
    course: Course,
    pairs: list[tuple[str, str]],
    limits: Limits,
    jobs: int = 1,
    notebook: bool = False,
    progress: bool = True,
) -> list[Outcome]:
    """Grade (student, assignment) pairs with ``jobs`` parallel workers; gradebook writes stay serial here.
    ``notebook``: also execute each notebook in the sandbox (``grade.grade_one``)."""
    from tqdm import tqdm

    if progress:
        print("preparing: gradebook entries, notebook templates, reference outputs ...", file=sys.stderr)
    for a in sorted({a for _, a in pairs}):
        ensure_assignment(course, a)
        if notebook or needs_run(course, a):
            template(course, a, limits.cell_timeout)
        reference_cases(course, course.topic(a))
    slots: queue.Queue = queue.Queue()
    for i in range(max(1, jobs)):
        slots.put(i)

    def work(pair):
        slot = slots.get()
        try:
            return grade_one(course, pair[0], pair[1], limits, slot, notebook)
        finally:
            slots.put(slot)

    outcomes = []
    bar = tqdm(total=len(pairs), file=sys.stderr, disable=not progress, unit="submission")
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futs = {pool.submit(work, p): p for p in pairs}
        for fut in as_completed(futs):
            student, assignment = futs[fut]
            try:
                out, intake, lib, nbres = fut.result()
                record(course, out, intake, nbres)
            except InfrastructureError:  # the machinery broke, not this submission: stop the batch loudly
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            except Exception as exc:  # noqa: BLE001 - the batch continues; the submission still gets a reason
                out = Outcome(student, assignment, notes=[f"grading failed: {type(exc).__name__}: {exc}"])
                try:
                    topic = course.topic(assignment)
                    for p in topic.parts:
                        out.cells[p.name] = CellScore(
                            p.name, 0.0, float(p.points), f"internal grading error ({type(exc).__name__})", "library"
                        )
                    write_outputs(course, out)
                except Exception:  # noqa: BLE001
                    pass
            outcomes.append(out)
            bar.set_postfix_str(f"{student}: {out.auto_total:g}/{out.max_total:g}", refresh=False)
            bar.update()
    bar.close()
    return sorted(outcomes, key=lambda o: (o.assignment, o.student))
