"""The student commands, ``check`` and ``submit``: all of ``python -m autograder`` a student edition has.

The repository's command line (``autograder/cli.py``) adds the instructor's commands to these. A student edition
ships this module and what it imports, not ``cli.py`` (``autograder/edition.py``: ``STUDENT_AUTOGRADER``); its
``autograder/__main__.py`` calls ``main`` here.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from autograder.course import Course, Limits
from autograder.errors import InfrastructureError


def limits_from(a) -> Limits:
    """The sandbox limits the command line asks for (the defaults of ``Limits`` otherwise)."""
    lim = Limits()
    if getattr(a, "no_isolation", False):
        lim.isolation = "none"
    if getattr(a, "cell_timeout", None):
        lim.cell_timeout = a.cell_timeout
    if getattr(a, "notebook_timeout", None):
        lim.nb_wall = a.notebook_timeout
    if getattr(a, "library_timeout", None):
        lim.lib_wall = a.library_timeout
    return lim


def cmd_check(course: Course, a) -> int:
    """Run the public cases on YOUR lib/deepkit (sandboxed when the OS allows) and print a per-part report."""
    from autograder.grade import grade_one
    from autograder.sandbox import jail

    limits = limits_from(a)
    status = jail.isolation_status() if limits.isolation != "none" else None
    if status is not None and not status.available:
        limits.isolation = "none"  # your own code on your own machine: the limits still apply

    asg = course.assignment(a.assignment)
    with tempfile.TemporaryDirectory(prefix="deepkit-check-") as tmp:
        work = Course(root=course.root, work=Path(tmp), cases="public")
        src = work.submitted / "me" / asg
        (src / "lib" / "deepkit").mkdir(parents=True)
        for p in sorted((course.stub_lib / "deepkit").glob("*.py")):
            if p.is_file() and not p.is_symlink():
                shutil.copyfile(p, src / "lib" / "deepkit" / p.name)
        nb = course.path(course.find(asg).exercise_notebook)
        if nb.is_file():
            shutil.copyfile(nb, src / f"{asg}.ipynb")
        try:
            out, intake, lib, nbres = grade_one(work, "me", asg, limits, notebook=getattr(a, "notebook", False))
        except InfrastructureError as exc:  # the machinery, not the learner's code
            print(f"error: {exc} (this is not about your code: the check itself could not run)", file=sys.stderr)
            return 2
    print(f"{asg}: the public cases of every graded part, on lib/deepkit ({course.stub_lib / 'deepkit'})")
    if status is not None:
        print("  " + status.describe())
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
    from autograder.intake.submit import submit

    asg = course.assignment(a.assignment)
    out = submit(course, asg, Path(a.out) if a.out else None)
    print(f"wrote {out}: upload this file (it holds {asg}.ipynb and your lib/deepkit/*.py)")
    return 0


def timeouts(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--cell-timeout", type=float, help="seconds per notebook cell (default 120)")
    sp.add_argument("--notebook-timeout", type=float, help="seconds for a whole notebook run (default 600)")
    sp.add_argument(
        "--library-timeout",
        type=float,
        help="wall-clock backstop of the library sandbox (parts are limited in CPU time; default: generous)",
    )


def add_student_commands(sub, instructor: bool = False) -> None:
    """``check`` and ``submit`` on the subparsers ``sub``; ``instructor``: with ``check --notebook`` (the notebook
    run needs the instructor's source notebook, its gradebook template)."""
    sp = sub.add_parser("check", help="run the public cases of every graded part on your own lib/deepkit")
    sp.add_argument("assignment", help="NN")
    if instructor:
        sp.add_argument("--notebook", action="store_true", help="also run the exercise notebook like the grader")
    timeouts(sp)
    sp.set_defaults(fn=cmd_check)
    sp = sub.add_parser("submit", help="pack exercises/NN_x/NN_x.ipynb + lib/deepkit/*.py into a zip")
    sp.add_argument("assignment", help="NN")
    sp.add_argument("--out")
    sp.set_defaults(fn=cmd_submit)


def build_parser() -> argparse.ArgumentParser:
    """The student edition's command line: ``check`` and ``submit``."""
    p = argparse.ArgumentParser(prog="python -m autograder", description="Check and hand in your work.")
    p.add_argument("--root", help="the course folder (default: this one)")
    add_student_commands(p.add_subparsers(dest="cmd", required=True))
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    course = Course(root=Path(a.root)) if a.root else Course()
    return int(a.fn(course, a) or 0)
