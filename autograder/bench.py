"""Grading throughput: this autograder against plain serial ``nbgrader autograde``, per topic, in one run.

    python -m autograder bench                        # every topic, 10 submissions each -> bench/results/grading.json
    python -m autograder bench --assignment 04 --students 20 --jobs 2
    python -m autograder bench --run-notebook         # also ours with each notebook executed in the sandbox

For each topic the same fixture class (N copies of a correct submission: the release notebook + the reference
library, built at run time) is graded side by side:

* plain: one serial ``nbgrader autograde <a>`` over the class (what a course without this autograder runs:
  every notebook executed, no isolation, no library checks); its wall time includes nbgrader's start (about
  2 s once per command);
* ours: ``batch.grade_batch`` with ``--jobs`` workers, full sandboxing (each submission's library in its own
  sandbox), the default notebook handling (read, not executed; the formgrader's notebook built on the trusted
  side) and the gradebook writes. Measured in steady state: the one-time preparation of a topic (gradebook entry,
  reference outputs, one warm-up submission) is reported apart as ``ours_prepare_s``.

``run()`` returns the table as a dict (``markdown()`` formats it; ``make bench`` prints it); ``main`` (the CLI)
also writes it to bench/results/grading.json. The machine is shared: compare the ratio of the two columns of one run.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from autograder.course import REPO, Course, Limits

GOAL_PER_MINUTE = 60.0  # issue 17.1: submissions per minute on 2 cores, every topic
GOAL_SPEEDUP = 2.0  # ... and at least twice plain serial nbgrader on the same fixtures
BENCH_SECRET = "benchmark-run-not-a-term-secret"  # hidden cases of a made-up term (autograder/cases.py)


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its waited-for children (sandboxes, nbgrader, kernels)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def build(root: Path, assignments: list[str]) -> Path:
    """Release stubs and notebooks of ``assignments`` built from this repository into ``root/built``."""
    from tools.build import build_exercises, build_lib

    built = root / "built"
    build_lib(REPO, built)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_exercises(REPO, built, only=assignments)
    return built


def fixture_class(built: Path, dest: Path, assignment: str, students: int) -> list[str]:
    """``students`` copies of a correct submission under ``dest/<student>/<assignment>/``: the release notebook
    and the complete reference library (later topics use earlier modules); their names."""
    course = Course()
    names = [f"s{i:03d}" for i in range(students)]
    for s in names:
        d = dest / s / assignment
        d.mkdir(parents=True)
        shutil.copy(built / course.find(assignment).exercise_notebook, d)
        shutil.copytree(built / "lib", d / "lib", ignore=shutil.ignore_patterns("__pycache__"))  # given modules too
        for m in course.student_modules:
            shutil.copy(course.ref_lib / "deepkit" / f"{m}.py", d / "lib" / "deepkit")
    return names


def plain_nbgrader(root: Path, klass: Path, assignment: str, names: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one serial ``nbgrader autograde <a>`` over the class (no sandbox, no library
    checks); the CPU includes its kernels."""
    from autograder.nbrun import generate_gradebook, nbgrader_config_text

    course = root / "plain" / assignment
    (course / "source" / assignment).mkdir(parents=True)
    shutil.copy(REPO / Course().find(assignment).source_notebook, course / "source" / assignment)
    generate_gradebook(Course(), assignment, f"sqlite:///{course / 'gradebook.db'}")
    (course / "nbgrader_config.py").write_text(
        nbgrader_config_text(str(course), f"sqlite:///{course / 'gradebook.db'}", 120)
    )
    shutil.copytree(klass / names[0] / assignment / "lib", course / "lib")  # found upward by the notebook
    for s in names:
        d = course / "submitted" / s / assignment
        d.mkdir(parents=True)
        shutil.copy(klass / s / assignment / f"{assignment}.ipynb", d)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    t0, c0 = time.monotonic(), cpu_seconds()
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", assignment],
        cwd=course,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.monotonic() - t0, cpu_seconds() - c0


def ours(
    root: Path, klass: Path, assignment: str, names: list[str], jobs: int, notebook: bool = False
) -> tuple[float, float, float, int]:
    """(wall and CPU seconds for the class in steady state, one-time preparation seconds, submissions with full
    marks). The CPU counts this process's threads and the sandboxes (waited-for children)."""
    from autograder.batch import grade_batch
    from autograder.intake.collect import collect

    # a benchmark, not a term: its own secret
    course = Course(work=root / f"ours-{assignment}-{'run' if notebook else 'read'}", secret=BENCH_SECRET)
    collect(course, klass, assignment)
    t0 = time.monotonic()  # gradebook entry, templates, reference outputs, the sandboxes' first start
    grade_batch(course, [(names[0], assignment)], Limits(), jobs=1, notebook=notebook, progress=False)
    prepare = time.monotonic() - t0
    t0, c0 = time.monotonic(), cpu_seconds()
    outs = grade_batch(course, [(s, assignment) for s in names], Limits(), jobs=jobs, notebook=notebook, progress=False)
    wall, cpu = time.monotonic() - t0, cpu_seconds() - c0
    full = sum(
        all(c.points == c.max_points for c in o.cells.values() if c.kind == "library") and bool(o.cells) for o in outs
    )
    return wall, cpu, prepare, full


def run(
    assignments: list[str] | None = None,
    students: int = 10,
    jobs: int = 2,
    plain: bool = True,
    run_notebook: bool = False,
    progress=print,
) -> dict:
    """Measure every topic of ``assignments`` (default: all) side by side; returns the table as a dict:
    ``{"topics": [row per topic], "goal": {...}, "machine": {...}, ...}`` (rates in submissions per minute)."""
    assignments = assignments or Course().assignments()
    cores = min(jobs, os.cpu_count() or 1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        root = Path(tmp)
        built = build(root, assignments)
        for a in assignments:
            names = fixture_class(built, root / "class" / a, a, students)
            row = {"assignment": a, "students": students}
            if plain:
                secs, cpu = plain_nbgrader(root, root / "class" / a, a, names)
                row.update(
                    plain_nbgrader_s=round(secs, 2),
                    plain_per_minute=round(60 * students / secs, 1),
                    plain_cpu_s_per_submission=round(cpu / students, 2),
                )
            wall, cpu, prepare, full = ours(root, root / "class" / a, a, names, jobs)
            row.update(
                ours_s=round(wall, 2),
                ours_per_minute=round(60 * students / wall, 1),
                ours_cpu_s_per_submission=round(cpu / students, 2),
                ours_per_minute_on_free_cores=round(60 * cores * students / cpu, 1),
                ours_prepare_s=round(prepare, 2),
                full_marks=f"{full}/{students}",
                load_average=round(os.getloadavg()[0], 1),
            )
            if plain:
                row["speedup_vs_plain"] = round(row["plain_nbgrader_s"] / wall, 2)
                row["cpu_ratio_plain_to_ours"] = round(row["plain_cpu_s_per_submission"] * students / cpu, 2)
            if run_notebook:
                wall_run, cpu_run, _, _ = ours(root, root / "class" / a, a, names, jobs, notebook=True)
                row.update(
                    ours_run_notebook_s=round(wall_run, 2),
                    ours_run_notebook_per_minute=round(60 * students / wall_run, 1),
                    ours_run_notebook_cpu_s_per_submission=round(cpu_run / students, 2),
                )
            rows.append(row)
            progress(table_line(row))
    worst_rate = min(r["ours_per_minute"] for r in rows)
    worst_capacity = min(r["ours_per_minute_on_free_cores"] for r in rows)
    speedups = [r["speedup_vs_plain"] for r in rows if "speedup_vs_plain" in r]
    return {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "jobs": jobs,
        "students": students,
        "topics": rows,
        "goal": {
            "per_minute": GOAL_PER_MINUTE,
            "speedup_vs_plain": GOAL_SPEEDUP,
            "worst_per_minute": worst_rate,
            "worst_per_minute_on_free_cores": worst_capacity,
            "worst_speedup_vs_plain": min(speedups) if speedups else None,
            "met": worst_rate >= GOAL_PER_MINUTE and all(s >= GOAL_SPEEDUP for s in speedups) and bool(speedups),
            "met_on_free_cores": worst_capacity >= GOAL_PER_MINUTE,
        },
        "note": "ours = sandboxed library checks of every submission (full isolation) + the notebook read, not "
        "executed (the formgrader's notebook built on the trusted side) + gradebook writes, with `jobs` "
        "workers, steady state; plain = one serial `nbgrader autograde` over the same class (every notebook "
        "executed, no isolation, no library checks). Same machine, same run; the machine is shared, so compare "
        "ratios. per_minute = wall clock of this run (other jobs on the machine slow both columns: see "
        "load_average); per_minute_on_free_cores = 60 x cores / (CPU seconds per submission: this process's "
        "threads + the sandboxes), the rate with the cores to ourselves.",
    }


TABLE_HEADER = (
    f"{'assignment':<20} {'n':>3} {'plain/min':>9} {'ours/min':>9} {'x plain':>7} {'cpu s':>6} "
    f"{'free/min':>8} {'prep s':>6} {'full':>7} {'load':>5}"
)


def table_line(row: dict) -> str:
    return (
        f"{row['assignment']:<20} {row['students']:>3} {row.get('plain_per_minute', float('nan')):>9.1f} "
        f"{row['ours_per_minute']:>9.1f} {row.get('speedup_vs_plain', float('nan')):>7.2f} "
        f"{row['ours_cpu_s_per_submission']:>6.2f} {row['ours_per_minute_on_free_cores']:>8.1f} "
        f"{row['ours_prepare_s']:>6.1f} {row['full_marks']:>7} {row['load_average']:>5.1f}"
        + (
            f"   with the notebook run: {row['ours_run_notebook_per_minute']:.1f}/min"
            if "ours_run_notebook_s" in row
            else ""
        )
    )


def markdown(res: dict) -> str:
    """The table of ``run()``'s result in Markdown (for bench/results/README.md)."""
    lines = [
        f"{res['students']} identical correct submissions per topic, {res['cores']} cores, ours with "
        f"{res['jobs']} jobs; submissions per minute (higher is better).",
        "",
        "| topic | plain nbgrader /min | ours /min | ours / plain | ours CPU s/submission | ours /min on free "
        "cores | one-time preparation s | full marks | load average |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["topics"]:
        lines.append(
            f"| {r['assignment']} | {r.get('plain_per_minute', '')} | {r['ours_per_minute']} | "
            f"{r.get('speedup_vs_plain', '')} | {r['ours_cpu_s_per_submission']} | "
            f"{r['ours_per_minute_on_free_cores']} | {r['ours_prepare_s']} | {r['full_marks']} | "
            f"{r['load_average']} |"
        )
    g = res["goal"]
    lines += [
        "",
        f"Goal (>= {g['per_minute']:g}/min for every topic and >= {g['speedup_vs_plain']:g}x plain nbgrader): "
        f"{'met' if g['met'] else 'NOT met'} on the wall clock of this run (worst {g['worst_per_minute']}/min, "
        f"{g['worst_speedup_vs_plain']}x); {'met' if g['met_on_free_cores'] else 'NOT met'} on free cores (worst "
        f"{g['worst_per_minute_on_free_cores']}/min). " + res["note"],
    ]
    return "\n".join(lines) + "\n"


def main(a) -> int:
    course = Course()
    if a.assignment in (None, "all"):
        assignments = course.assignments()
    else:
        assignments = [course.assignment(x) for x in a.assignment.split(",")]
    jobs = a.jobs or os.cpu_count() or 1
    print(TABLE_HEADER, flush=True)
    res = run(
        assignments,
        a.students,
        jobs,
        plain=not a.no_plain,
        run_notebook=a.run_notebook,
        progress=lambda line: print(line, flush=True),
    )
    print(markdown(res).splitlines()[-1])
    partial = len(assignments) < len(course.assignments()) or a.no_plain or a.students < 5
    out = REPO / ("build" if partial else "bench") / "results" / "grading.json"  # a partial run keeps the table
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"written {out.relative_to(REPO)}")
    return 0
