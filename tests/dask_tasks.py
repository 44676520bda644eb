"""Worker-side helpers of tests/test_distributed.py. Dask worker processes import this module to run
``tracked_grade_job``, so it imports nothing from the test modules themselves."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from autograder.distributed import grade_job

MARKERS = "AUTOGRADER_TEST_DASK_MARKERS"  # folder where every grading attempt leaves <student>.<pid>.<id>


def attempts(folder: Path, student: str) -> list[int]:
    """Worker pids of every attempt at grading ``student``, oldest first."""
    files = sorted(folder.glob(f"{student}.*"), key=lambda p: p.stat().st_mtime_ns)
    return [int(p.name.split(".")[-2]) for p in files]


def tracked_grade_job(job: dict) -> str:
    """``grade_job`` that first records the attempt; a student named ``hang*`` wedges its first attempt (the
    watchdog must end that worker)."""
    folder = Path(os.environ[MARKERS])
    (folder / f"{job['student']}.{os.getpid()}.{uuid.uuid4().hex}").touch()
    if job["student"].startswith("hang") and len(attempts(folder, job["student"])) == 1:
        time.sleep(3600)
    return grade_job(job)


def unreachable_interpreter_grade_job(python: str, job: dict) -> str:
    """``grade_job`` in a worker whose sandbox is told to exec ``python`` through its unresolved symlinked path,
    which does not exist inside the sandbox (only real paths are bound): the bug tests/test_canary.py re-creates."""
    from autograder.sandbox import jail

    jail.interpreter = lambda: python
    jail.real_folder = lambda path: path
    return grade_job(job)
