"""Grading a batch of submissions: sandboxed grading on Dask workers, serial gradebook writes here (trusted side).

``grade_batch`` makes sure the gradebook knows each assignment, sends every (student, assignment) pair to the
workers of a ``distributed.GradingCluster`` (a local cluster of ``jobs`` worker processes, or the Dask scheduler
at ``scheduler``), and records each validated result in the gradebook as it arrives, once per submission. A
submission whose grading fails still gets 0 with a reason and the batch goes on; a failure of the machinery
itself (``errors.InfrastructureError``) stops the batch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from autograder.course import Course, Limits
from autograder.distributed import GradingCluster, local_cluster
from autograder.errors import InfrastructureError
from autograder.grade import CellScore, Outcome, ensure_assignment, record, write_outputs
from autograder.intake.stage import lms_time


def failed_outcome(course: Course, student: str, assignment: str, reason: str) -> Outcome:
    """0 on every library part with ``reason`` (written to autograder.json; the gradebook is left as it was)."""
    out = Outcome(student, assignment, notes=[f"grading failed: {reason}"])
    try:
        for p in course.topic(assignment).parts:
            out.cells[p.name] = CellScore(
                p.name, 0.0, float(p.points), f"internal grading error ({reason.split(':')[0]})", "library"
            )
        write_outputs(course, out, None)
    except Exception:  # noqa: BLE001
        pass
    return out


def grade_batch(
    course: Course,
    pairs: list[tuple[str, str]],
    limits: Limits,
    jobs: int = 1,
    notebook: bool = False,
    progress: bool = True,
    scheduler: str | None = None,
    cluster: GradingCluster | None = None,
    stats: dict | None = None,
    preflight: Callable[[GradingCluster], None] | None = None,
) -> list[Outcome]:
    """Grade (student, assignment) pairs on Dask workers; every gradebook write happens here, serially.

    ``cluster``: a ``GradingCluster`` to use (and leave open); otherwise ``scheduler`` (address or scheduler file)
    or this process's local cluster of ``jobs`` worker processes.
    ``preflight(cluster)``: called once the workers are prepared and before any submission is graded, e.g. a
    canary grading known submissions through ``cluster.grade`` (exactly these workers and sandboxes, nothing
    recorded); whatever it raises stops the batch before a grade is written.
    ``stats``: filled with {"workers", "warm_s", "grade_s", "record_s", "recorded"} when given.
    """
    from tqdm import tqdm

    pairs = list(dict.fromkeys(pairs))  # each submission once
    assignments = sorted({a for _, a in pairs})
    if progress:
        print("preparing: gradebook entries, worker templates and reference outputs ...", file=sys.stderr)
    for a in assignments:
        ensure_assignment(course, a)
    own = GradingCluster(scheduler=scheduler) if cluster is None and scheduler else None
    cluster = cluster or own or local_cluster(max(1, jobs))
    t0 = time.monotonic()
    outcomes, record_s = [], 0.0
    try:
        cluster.warm(course, assignments, limits, notebook)
        if preflight is not None:
            preflight(cluster)
        t1 = time.monotonic()
        if progress:
            print(f"grading {len(pairs)} submission(s) on the {cluster.where}", file=sys.stderr)
        bar = tqdm(total=len(pairs), file=sys.stderr, disable=not progress, unit="submission")
        for g in cluster.grade(course, pairs, limits, notebook):
            r0 = time.monotonic()
            if g.error:
                out = failed_outcome(course, g.student, g.assignment, g.error)
            else:
                try:
                    # the submission time is the coordinator's record of the LMS's (a worker has no such record)
                    g.intake.timestamp = lms_time(course, g.assignment, course.submitted / g.student / g.assignment)
                    out = record(course, g.outcome, g.intake, g.nbres)
                except InfrastructureError:  # the machinery broke (e.g. the gradebook), not this submission
                    raise
                except Exception as exc:  # noqa: BLE001 - the batch continues; the submission still gets a reason
                    out = failed_outcome(course, g.student, g.assignment, f"{type(exc).__name__}: {exc}")
            record_s += time.monotonic() - r0
            outcomes.append(out)
            bar.set_postfix_str(f"{g.student}: {out.auto_total:g}/{out.max_total:g}", refresh=False)
            bar.update()
        bar.close()
        if stats is not None:
            stats.update(
                workers=sum(cluster.workers().values()),
                warm_s=t1 - t0,
                grade_s=time.monotonic() - t1,
                record_s=record_s,
                recorded=len(outcomes),
            )
    finally:
        if own is not None:
            own.close()
    return sorted(outcomes, key=lambda o: (o.assignment, o.student))
