"""``python -m autograder <command>``: the course's grading CLI (see autograder/README.md).

Instructor: release, collect, autograde, cluster, feedback, export, bench. Student / self-learner: check, submit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.course import Course, Limits


def _limits(a) -> Limits:
    lim = Limits()
    if getattr(a, "cell_timeout", None):
        lim.cell_timeout = a.cell_timeout
    if getattr(a, "notebook_timeout", None):
        lim.nb_wall = a.notebook_timeout
    if getattr(a, "library_timeout", None):
        lim.lib_wall = a.library_timeout
    return lim


def _pairs(course: Course, a) -> list[tuple[str, str]]:
    from autograder.intake import submissions

    asg = course.assignment(a.assignment) if a.assignment else None
    if not (a.all or a.student or asg):
        raise SystemExit("say which submissions: --all, --student S and/or --assignment A")
    pairs = submissions(course, asg, a.student)
    known = set(course.assignments())
    return [p for p in pairs if p[1] in known]


def cmd_release(course: Course, a) -> int:
    """Regenerate lib/ stubs and exercises/ (tools.build runs nbgrader generate_assignment)."""
    return subprocess.call([sys.executable, "-m", "tools.build"], cwd=course.root)


def cmd_collect(course: Course, a) -> int:
    from autograder.intake import collect

    asg = course.assignment(a.assignment)
    got, notes = collect(course, Path(a.source), asg)
    for n in notes:
        print("note:", n)
    print(f"collected {len(got)} submission(s) of {asg} into {course.submitted}: {', '.join(got)}")
    return 0 if got else 1


def cmd_autograde(course: Course, a) -> int:
    from autograder.batch import grade_batch
    from autograder.errors import InfrastructureError

    pairs = _pairs(course, a)
    if not pairs:
        print(f"nothing to grade: no submissions under {course.submitted} (python -m autograder collect ...)")
        return 0
    jobs = a.jobs or os.cpu_count() or 1
    t0 = time.monotonic()
    stats: dict = {}
    try:
        outs = grade_batch(
            course, pairs, _limits(a), jobs=jobs, notebook=not a.library_only, scheduler=a.scheduler, stats=stats
        )
    except InfrastructureError as exc:
        print(f"error: grading stopped, the grading machinery failed (not a submission): {exc}", file=sys.stderr)
        return 2
    for o in outs:
        print(f"{o.assignment} {o.student}: {o.summary()}")
    where = f"the Dask scheduler {a.scheduler}" if a.scheduler else "a local cluster"
    print(
        f"graded {len(outs)} submission(s) in {time.monotonic() - t0:.1f} s on {where} "
        f"({stats.get('workers', '?')} worker thread(s))"
    )
    return 0


def cmd_cluster(course: Course, a) -> int:
    """Start a Dask cluster for grading and keep it running: its scheduler file is what --scheduler takes."""
    from autograder.distributed import serve_cluster

    return serve_cluster(
        course,
        a.kind,
        a.workers,
        Path(a.scheduler_file) if a.scheduler_file else None,
        print_job_script=a.print_job_script,
    )


def cmd_feedback(course: Course, a) -> int:
    from autograder.feedback import write_feedback

    written = write_feedback(course, _pairs(course, a))
    print(f"wrote {len(written)} feedback page(s) under {course.feedback}")
    return 0


def cmd_export(course: Course, a) -> int:
    from autograder.export import export_csv

    pairs = (
        _pairs(course, a)
        if (a.all or a.student or a.assignment)
        else _pairs(course, argparse.Namespace(all=True, student=None, assignment=None))
    )
    out = Path(a.out) if a.out else course.exports / "grades.csv"
    export_csv(course, pairs, out)
    print(f"wrote {out}")
    return 0


def cmd_check(course: Course, a) -> int:
    """Run the hidden checks on YOUR lib/deepkit (sandboxed when the OS allows) and print a per-part report."""
    from autograder.grade import grade_one

    asg = course.assignment(a.assignment)
    with tempfile.TemporaryDirectory(prefix="deepkit-check-") as tmp:
        work = Course(root=course.root, work=Path(tmp))
        src = work.submitted / "me" / asg
        (src / "lib" / "deepkit").mkdir(parents=True)
        for p in sorted((course.stub_lib / "deepkit").glob("*.py")):
            if p.is_file() and not p.is_symlink():
                shutil.copyfile(p, src / "lib" / "deepkit" / p.name)
        nb = course.path(course.find(asg).exercise_notebook)
        if nb.is_file():
            shutil.copyfile(nb, src / f"{asg}.ipynb")
        out, intake, lib, nbres = grade_one(work, "me", asg, _limits(a), notebook=a.notebook)
    print(f"{asg}: hidden checks of lib/deepkit ({course.stub_lib / 'deepkit'})")
    width = max(len(n) for n in out.cells)
    for c in out.cells.values():
        mark = "ok " if c.points >= c.max_points else "-- "
        print(f"  {mark}{c.name:<{width}}  {c.points:g}/{c.max_points:g}  {c.reason}")
    for n in lib.notes:
        print("  note:", n)
    if nbres is not None:
        print(f"  notebook: {nbres.status}: {nbres.reason}")
    total, maximum = out.auto_total, out.max_total
    print(f"total {total:g}/{maximum:g} (library parts; written answers are graded by hand)")
    return 0 if total >= maximum else 1


def cmd_submit(course: Course, a) -> int:
    from autograder.intake import submit

    asg = course.assignment(a.assignment)
    out = submit(course, asg, Path(a.out) if a.out else None)
    print(f"wrote {out}: upload this file (it holds {asg}.ipynb and your lib/deepkit/*.py)")
    return 0


def cmd_bench(course: Course, a) -> int:
    from autograder.bench import main as bench_main

    return bench_main(a)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.split("\n\n")[0])
    p.add_argument("--work", help="folder for submitted/, autograded/, feedback/, gradebook.db (default: autograder/)")
    p.add_argument("--root", help="the course folder (default: this repository)")
    sub = p.add_subparsers(dest="cmd", required=True)

    def select(sp, default_all=False):
        sp.add_argument("--all", action="store_true", help="every submission")
        sp.add_argument("--student", help="one student id")
        sp.add_argument("--assignment", help="NN or NN_name")

    def timeouts(sp):
        sp.add_argument("--cell-timeout", type=float, help="seconds per notebook cell (default 120)")
        sp.add_argument("--notebook-timeout", type=float, help="seconds for a whole notebook run (default 600)")
        sp.add_argument(
            "--library-timeout",
            type=float,
            help="seconds for the library sandbox (default: sum of the parts' limits + 15)",
        )

    sp = sub.add_parser("release", help="regenerate lib/ stubs and exercises/ (python -m tools.build)")
    sp.set_defaults(fn=cmd_release)
    sp = sub.add_parser("collect", help="copy submissions in from a folder of student folders or an LMS zip")
    sp.add_argument("source")
    sp.add_argument("--assignment", required=True)
    sp.set_defaults(fn=cmd_collect)
    sp = sub.add_parser("autograde", help="grade submissions (sandboxed, in parallel) into the gradebook")
    select(sp)
    timeouts(sp)
    sp.add_argument(
        "--jobs", type=int, help="worker processes of the local cluster (default: the core count; not with --scheduler)"
    )
    sp.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on the workers of this Dask scheduler (tcp://host:8786, or a scheduler file; docs/SCALING.md)",
    )
    sp.add_argument("--library-only", action="store_true", help="skip the notebook run")
    sp.set_defaults(fn=cmd_autograde)
    sp = sub.add_parser("cluster", help="start a Dask cluster for autograde --scheduler (local or SLURM)")
    sp.add_argument("kind", choices=("local", "slurm"))
    sp.add_argument("--workers", type=int, help="local: worker processes (default: cores); slurm: jobs (default 1)")
    sp.add_argument(
        "--scheduler-file", help="where to write the scheduler's address (default <work>/dask-scheduler.json)"
    )
    sp.add_argument("--print-job-script", action="store_true", help="slurm: print the job script and exit")
    sp.set_defaults(fn=cmd_cluster)
    sp = sub.add_parser("feedback", help="write feedback/<student>/<assignment>/feedback.html")
    select(sp)
    sp.set_defaults(fn=cmd_feedback)
    sp = sub.add_parser("export", help="CSV of per-part scores, total and reason")
    select(sp)
    sp.add_argument("--out", help="CSV path (default autograder/exports/grades.csv)")
    sp.set_defaults(fn=cmd_export)
    sp = sub.add_parser("check", help="run the hidden checks on your own lib/deepkit")
    sp.add_argument("assignment", help="NN")
    sp.add_argument("--notebook", action="store_true", help="also run the exercise notebook like the grader")
    timeouts(sp)
    sp.set_defaults(fn=cmd_check)
    sp = sub.add_parser("submit", help="pack exercises/NN_x/NN_x.ipynb + lib/deepkit/*.py into a zip")
    sp.add_argument("assignment", help="NN")
    sp.add_argument("--out")
    sp.set_defaults(fn=cmd_submit)
    sp = sub.add_parser("bench", help="seconds per submission and speed-up over serial nbgrader autograde")
    sp.add_argument("--students", type=int, default=6)
    sp.add_argument("--assignment", default="01")
    sp.add_argument("--jobs", type=int)
    sp.set_defaults(fn=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    root = Path(a.root) if a.root else Course().root
    course = Course(root=root, work=Path(a.work) if a.work else None)
    return int(a.fn(course, a) or 0)
