"""Grading throughput: plain serial ``nbgrader autograde`` vs this autograder (sandboxed, parallel) on the
same fixture class (N copies of a correct submission built from the reference at run time).

    python -m autograder bench --students 6 --jobs 2     # writes bench/results/grading.json
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from autograder.course import REPO, Course, Limits

BENCH_SECRET = "benchmark-run-not-a-term-secret"  # hidden cases of a made-up term (autograder/cases.py)


def _fixture(root: Path, assignment: str, students: int) -> tuple[Path, list[str]]:
    """Release stubs + notebook built into ``root/built``; student folders under ``root/class``."""
    from tools.build import build_exercises, build_lib

    built = root / "built"
    build_lib(REPO, built)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_exercises(REPO, built, only=[assignment])
    topic = Course().topic(assignment)
    names = [f"s{i:03d}" for i in range(students)]
    for s in names:
        d = root / "class" / s / assignment
        (d / "lib" / "deepkit").mkdir(parents=True)
        shutil.copy(built / Course().find(assignment).exercise_notebook, d)
        for p in (built / "lib" / "deepkit").glob("*.py"):
            shutil.copy(p, d / "lib" / "deepkit")
        for m in topic.modules:
            shutil.copy(Course().ref_lib / "deepkit" / f"{m}.py", d / "lib" / "deepkit")
    return built, names


def plain_nbgrader(root: Path, assignment: str, names: list[str]) -> float:
    """Seconds for one serial ``nbgrader autograde <a>`` over the class (no sandbox, no library checks)."""
    from autograder.nbrun import generate_gradebook, nbgrader_config_text

    course = root / "plain"
    (course / "source" / assignment).mkdir(parents=True)
    shutil.copy(REPO / Course().find(assignment).source_notebook, course / "source" / assignment)
    generate_gradebook(Course(), assignment, f"sqlite:///{course / 'gradebook.db'}")
    (course / "nbgrader_config.py").write_text(
        nbgrader_config_text(str(course), f"sqlite:///{course / 'gradebook.db'}", 120)
    )
    shutil.copytree(root / "class" / names[0] / assignment / "lib", course / "lib")  # found upward by the notebook
    for s in names:
        d = course / "submitted" / s / assignment
        d.mkdir(parents=True)
        shutil.copy(root / "class" / s / assignment / f"{assignment}.ipynb", d)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", assignment],
        cwd=course,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.monotonic() - t0


def ours(root: Path, assignment: str, names: list[str], jobs: int, tag: str) -> tuple[float, float]:
    from autograder.batch import grade_batch
    from autograder.intake import collect

    course = Course(work=root / f"ours-{tag}", secret=BENCH_SECRET)  # a benchmark, not a term: its own secret
    collect(course, root / "class", assignment)
    grade_batch(course, [(names[0], assignment)], Limits(), jobs=1, progress=False)  # templates, references
    t0 = time.monotonic()
    outs = grade_batch(course, [(s, assignment) for s in names], Limits(), jobs=jobs, progress=True)
    wall = time.monotonic() - t0
    full = sum(o.auto_total >= sum(c.max_points for c in o.cells.values() if c.kind == "library") for o in outs)
    return wall, full


def main(a) -> int:
    assignment = Course().assignment(a.assignment)
    jobs = a.jobs or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        root = Path(tmp)
        _, names = _fixture(root, assignment, a.students)
        plain = plain_nbgrader(root, assignment, names)
        serial, _ = ours(root, assignment, names, 1, "serial")
        par, full = ours(root, assignment, names, jobs, "parallel")
    res = {
        "assignment": assignment,
        "students": len(names),
        "cores": os.cpu_count(),
        "jobs": jobs,
        "machine": platform.platform(),
        "python": platform.python_version(),
        "plain_nbgrader_serial_s": round(plain, 2),
        "ours_serial_s": round(serial, 2),
        f"ours_jobs{jobs}_s": round(par, 2),
        "plain_s_per_submission": round(plain / len(names), 2),
        "ours_serial_s_per_submission": round(serial / len(names), 2),
        "ours_parallel_s_per_submission": round(par / len(names), 2),
        "speedup_vs_plain_nbgrader": round(plain / par, 2),
        "speedup_parallel_vs_ours_serial": round(serial / par, 2),
        "full_marks": f"{full}/{len(names)}",
        "note": "ours = sandboxed library checks + the notebook run by nbgrader inside the sandbox; plain = one "
        "`nbgrader autograde` over the class (notebook only, no isolation). The machine is shared, so "
        "the numbers are noisy.",
    }
    out = REPO / "bench" / "results" / "grading.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))
    return 0
