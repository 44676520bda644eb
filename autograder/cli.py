"""``python -m autograder <command>``: the course's grading commands (instructors: autograder/README.md).

Instructor: release, collect, autograde, cluster, feedback, export, similarity, term-secret, bench. Student /
self-learner: check, submit (``autograder/student_cli.py``: the only commands, and the only command module, of a
student edition).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from autograder.cases import MissingTermSecret
from autograder.course import Course, Limits
from autograder.errors import InfrastructureError
from autograder.student_cli import add_student_commands, limits_from, timeouts


def _pairs(course: Course, a) -> list[tuple[str, str]]:
    from autograder.intake import submissions

    asg = course.assignment(a.assignment) if a.assignment else None
    if not (a.all or a.student or asg):
        raise SystemExit("say which submissions: --all, --student S and/or --assignment A")
    pairs = submissions(course, asg, a.student)
    known = set(course.assignments())
    return [p for p in pairs if p[1] in known]


def cmd_release(course: Course, a) -> int:
    """Build the student edition (autograder/edition.py): the topics given, or those already released in it plus
    ``--assignment``; commit it in its own git repository, write its zip, push it with ``--publish``."""
    from autograder.edition import EditionError, build, publish, released_in

    out = Path(a.student_edition).expanduser()
    if a.topics:
        numbers = [n for n in a.topics.replace(",", " ").split() if n]
    elif a.assignment:
        numbers = [*released_in(out), *(course.assignment(n) for n in a.assignment)]
    else:
        numbers = course.assignments()
    try:
        build(course.root, out, numbers, lectures=not a.no_lectures)
        if a.publish:
            publish(out)
    except EditionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _policy(course: Course, a):
    from autograder.policy import default_path, load_policy

    path = Path(a.policy) if getattr(a, "policy", None) else default_path(course.work)
    if getattr(a, "policy", None) and not path.is_file():
        raise SystemExit(f"{path}: no such policy file")
    return load_policy(path, course.assignments())


def cmd_collect(course: Course, a) -> int:
    """Collect an LMS download by LMS id; print and write the intake table; non-zero on any skipped entry or
    ambiguity unless --proceed."""
    from autograder.intake import Budget
    from autograder.intake.collect import collect

    asg = course.assignment(a.assignment)
    budget = Budget(max_bytes=int(a.max_mb * 1024**2), max_files=a.max_files)
    res = collect(
        course,
        Path(a.source),
        asg,
        lms_name=a.lms,
        roster=Path(a.roster) if a.roster else None,
        times=Path(a.times) if a.times else None,
        policy=_policy(course, a),
        budget=budget,
    )
    print(res.message)
    print(res.table())
    flagged = sum(r.status == "flagged" for r in res.rows)
    print(
        f"collected {len(res.collected)} student(s) of {asg} into {course.submitted}"
        f" ({flagged} flagged, {len(res.problems)} skipped or ambiguous); table: {res.table_path}"
    )
    if res.problems and not a.proceed:
        print("not everything was collected cleanly (see SKIPPED / AMBIGUOUS): fix it, or rerun with --proceed")
        return 1
    return 0 if res.collected else 1


def _sandbox_ready(limits: Limits) -> bool:
    """Grading needs the full isolation unless told otherwise (--no-isolation); say which one we have."""
    from autograder.sandbox import jail

    if limits.isolation == "none":
        print(
            "WARNING: --no-isolation: student code runs WITHOUT network/file isolation (resource limits only).\n"
            "It can read and write whatever this user can, including the gradebook and other submissions.",
            file=sys.stderr,
        )
        return True
    status = jail.isolation_status()
    print(status.describe(), file=sys.stderr)
    return status.available


def cmd_autograde(course: Course, a) -> int:
    """Grade submissions on the hidden cases, after the canary: those not yet graded as they are now (all of them
    with ``--force``, and always the one named by ``--student`` + ``--assignment``). Exit status 2 on an
    infrastructure failure (nothing graded after it), 1 if a submission's own grading failed (it got 0 with a
    reason), else 0."""
    from autograder import stamps
    from autograder.batch import grade_batch
    from autograder.canary import check_gradebook, verify_on

    pairs = _pairs(course, a)
    if not pairs:
        print(f"nothing to grade: no submissions under {course.submitted} (python -m autograder collect ...)")
        return 0
    limits = limits_from(a)
    if not _sandbox_ready(limits):
        print("refusing to grade without isolation (pass --no-isolation to run anyway)", file=sys.stderr)
        return 2
    jobs = a.jobs or os.cpu_count() or 1
    notebook = a.run_notebook  # executed only when asked (the notebook is read, not run, by default)
    t0 = time.monotonic()
    stats: dict = {}
    try:
        course.case_set()  # the hidden cases need the term secret: fail now, not per submission
        check_gradebook(course)  # every grade is written there: fail now, not per submission
        wanted = {p: stamps.stamp(course, *p, limits, notebook) for p in pairs}
        single = bool(a.student and a.assignment)
        todo = [p for p in pairs if a.force or single or stamps.recorded(course, *p) != wanted[p]]
        if not todo:
            print(f"all {len(pairs)} submission(s) are graded as they are now (--force regrades them)")
            return 0
        if len(todo) < len(pairs):
            print(f"{len(pairs) - len(todo)} submission(s) already graded as they are now; grading {len(todo)}")
        outs = grade_batch(
            course,
            todo,
            limits,
            jobs=jobs,
            notebook=notebook,
            scheduler=a.scheduler,
            stats=stats,
            preflight=lambda cluster: verify_on(cluster, course, sorted({asg for _, asg in todo}), limits, notebook),
        )
    except MissingTermSecret as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except InfrastructureError as exc:
        print(f"error: grading stopped, the grading machinery failed (not a submission): {exc}", file=sys.stderr)
        return 2
    failed = []
    for o in outs:
        print(f"{o.assignment} {o.student}: {o.summary()}")
        if any(n.startswith("grading failed") for n in o.notes):
            failed.append(f"{o.student}/{o.assignment}")
        else:
            stamps.record(course, o.student, o.assignment, wanted[(o.student, o.assignment)])
    where = f"the Dask scheduler {a.scheduler}" if a.scheduler else "a local cluster"
    print(
        f"graded {len(outs)} submission(s) in {time.monotonic() - t0:.1f} s on {where} "
        f"({stats.get('workers', '?')} worker thread(s))"
    )
    if failed:
        print(
            f"error: grading itself failed for {len(failed)} submission(s) (they got 0 with an 'internal grading "
            f"error' reason; fix the cause and regrade them): {', '.join(failed)}",
            file=sys.stderr,
        )
        return 1
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
    from autograder.feedback import write_bundles, write_feedback

    pairs = _pairs(course, a)
    policy = _policy(course, a)
    written = write_feedback(course, pairs, policy)
    print(f"wrote {len(written)} feedback page(s) under {course.feedback}")
    if a.bundle:
        for path, steps in write_bundles(course, pairs, policy, Path(a.out) if a.out else course.exports):
            print(f"{path}: {steps}")
    return 0


def cmd_export(course: Course, a) -> int:
    from autograder.export import export

    pairs = (
        _pairs(course, a)
        if (a.all or a.student or a.assignment)
        else _pairs(course, argparse.Namespace(all=True, student=None, assignment=None))
    )
    out = Path(a.out) if a.out else course.exports
    roster = Path(a.roster) if a.roster else None
    for path in export(course, pairs, a.format, out, _policy(course, a), roster):
        print(f"wrote {path}")
    return 0


def cmd_similarity(course: Course, a) -> int:
    from autograder.similarity import report

    asg = course.assignment(a.assignment)
    out = Path(a.out) if a.out else course.exports / f"similarity-{asg}.html"
    res = report(course, asg, out, threshold=a.threshold, top=a.top, with_reference=not a.no_reference)
    print(res.summary())
    print(f"wrote {out} (it flags pairs for a human to look at; it never changes a grade)")
    return 0


def cmd_term_secret(course: Course, a) -> int:
    """Say where the term secret comes from (never print it); ``--init`` writes a new random one."""
    import hashlib

    from autograder.cases import init_secret_file, term_secret

    if a.init:
        try:
            path = init_secret_file()
        except FileExistsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"wrote a new term secret to {path} (keep it for the whole term; never commit or publish it)")
        return 0
    try:
        secret = term_secret(course.root)
    except MissingTermSecret as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"term secret found (fingerprint {hashlib.sha256(secret.encode()).hexdigest()[:12]})")
    return 0


def cmd_bench(course: Course, a) -> int:
    """The grading half of ``make bench`` (``bench/grading.py``, the one measurement), for some topics."""
    from autograder.course import REPO

    if a.students < 2:
        print(
            "error: --students must be at least 2 (the plain nbgrader rate is the difference of 1 and N)",
            file=sys.stderr,
        )
        return 2
    if str(REPO) not in sys.path:  # bench/ sits next to autograder/ in the instructor's repository
        sys.path.insert(0, str(REPO))
    from bench import grading

    if a.assignment in (None, "all"):
        assignments = course.assignments()
    else:
        assignments = [course.assignment(x) for x in a.assignment.split(",")]
    return grading.main(assignments, a.students, notebook=True if a.run_notebook else None)


def build_parser() -> argparse.ArgumentParser:
    """The command line: the student commands (``student_cli``) and the instructor's."""
    p = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.split("\n\n")[0])
    p.add_argument("--work", help="folder of submitted/, autograded/, gradebook.db (default: autograder/)")
    p.add_argument("--root", help="the course folder (default: this one)")
    sub = p.add_subparsers(dest="cmd", required=True)

    def select(sp, default_all=False):
        sp.add_argument("--all", action="store_true", help="every submission")
        sp.add_argument("--student", help="one student id")
        sp.add_argument("--assignment", help="NN or NN_name")

    add_student_commands(sub, instructor=True)
    sp = sub.add_parser("release", help="build the student edition (a git repository and a zip) of released topics")
    sp.add_argument("--student-edition", required=True, metavar="DIR", help="the edition's folder (outside the repo)")
    sp.add_argument("--assignment", action="append", help="add topic NN to the topics DIR already releases")
    sp.add_argument("--topics", help="exactly these topics (e.g. 01,04); default: every topic")
    sp.add_argument("--no-lectures", action="store_true", help="leave the executed lectures out (quick)")
    sp.add_argument("--publish", action="store_true", help="push the edition to its git remote (nbgitpuller)")
    sp.set_defaults(fn=cmd_release)
    sp = sub.add_parser("collect", help="take in an LMS download (or a folder) by LMS id; print the intake table")
    sp.add_argument("source", help="the LMS's bulk download (zip) or a folder")
    sp.add_argument("--assignment", required=True)
    sp.add_argument("--lms", choices=["canvas", "moodle", "blackboard", "folder"], help="default: detected")
    sp.add_argument(
        "--roster",
        help="the LMS's own export: Canvas gradebook CSV, Moodle grading worksheet, "
        "Blackboard Grade Center download (names, emails, SIS ids; Moodle: submission times)",
    )
    sp.add_argument("--times", help="CSV of LMS submission times (id,submitted_at), e.g. from the Canvas API")
    sp.add_argument(
        "--policy", help="course policy file (due dates, extensions, penalties); default <work>/policy.toml"
    )
    sp.add_argument("--proceed", action="store_true", help="exit 0 even if entries were skipped or ambiguous")
    sp.add_argument("--max-mb", type=float, default=128, help="bytes one submission may expand to (default 128 MiB)")
    sp.add_argument("--max-files", type=int, default=5000, help="files one submission may hold (default 5000)")
    sp.set_defaults(fn=cmd_collect)
    sp = sub.add_parser("autograde", help="grade submissions on the hidden cases (sandboxed, in parallel)")
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
    sp.add_argument(
        "--run-notebook",
        action="store_true",
        help="also execute each notebook in the sandbox (outputs for the formgrader; not needed for the scores)",
    )
    sp.add_argument("--library-only", action="store_true", help="the default: the notebook is read, not executed")
    sp.add_argument(
        "--no-isolation",
        action="store_true",
        help="UNSAFE: grade even where namespaces are unavailable (resource limits only, no file/network isolation)",
    )
    sp.add_argument("--force", action="store_true", help="regrade submissions already graded as they are now")
    sp.set_defaults(fn=cmd_autograde)
    sp = sub.add_parser("cluster", help="start a Dask cluster for autograde --scheduler (local or SLURM)")
    sp.add_argument("kind", choices=("local", "slurm"))
    sp.add_argument("--workers", type=int, help="local: worker processes (default: cores); slurm: jobs (default 1)")
    sp.add_argument(
        "--scheduler-file", help="where to write the scheduler's address (default <work>/dask-scheduler.json)"
    )
    sp.add_argument("--print-job-script", action="store_true", help="slurm: print the job script and exit")
    sp.set_defaults(fn=cmd_cluster)
    sp = sub.add_parser("feedback", help="write feedback/<student>/<assignment>/feedback.html (and LMS bundles)")
    select(sp)
    sp.add_argument(
        "--bundle",
        action="store_true",
        help="also the LMS's bulk upload: Moodle feedback zip, Canvas re-upload zip, per-student files named by LMS id",
    )
    sp.add_argument("--out", help="folder for the bundles (default autograder/exports)")
    sp.add_argument("--policy", help="course policy file (default <work>/policy.toml)")
    sp.set_defaults(fn=cmd_feedback)
    sp = sub.add_parser("export", help="grades as the LMS imports them; reasons in a separate file")
    select(sp)
    sp.add_argument("--format", choices=["canvas", "moodle", "blackboard", "csv"], default="csv")
    sp.add_argument(
        "--roster",
        help="the LMS export to match (Canvas gradebook, Moodle worksheet, Grade Center): "
        "its assignment columns and rows are reused; default: the roster given to collect",
    )
    sp.add_argument("--out", help="output folder (default autograder/exports)")
    sp.add_argument("--policy", help="course policy file (default <work>/policy.toml)")
    sp.set_defaults(fn=cmd_export)
    sp = sub.add_parser("similarity", help="pairwise similarity of the students' code (flags, never grades)")
    sp.add_argument("--assignment", required=True)
    sp.add_argument("--threshold", type=float, default=0.6, help="flag pairs at or above this similarity (0-1)")
    sp.add_argument("--top", type=int, default=20, help="pairs shown side by side in the report")
    sp.add_argument("--no-reference", action="store_true", help="do not compare with the reference solution")
    sp.add_argument("--out", help="HTML report (default autograder/exports/similarity-<assignment>.html)")
    sp.set_defaults(fn=cmd_similarity)
    sp = sub.add_parser("term-secret", help="check the term secret (the seed of the hidden cases); --init makes one")
    sp.add_argument("--init", action="store_true", help="write a new random secret to ~/.config/deepkit/term-secret")
    sp.set_defaults(fn=cmd_term_secret)
    sp = sub.add_parser(
        "bench",
        help="submissions per minute per topic, plain serial nbgrader vs ours with 1 and 2 local workers "
        "(the grading table of make bench)",
    )
    sp.add_argument("--students", type=int, default=10, help="submissions per topic, at least 2 (default 10)")
    sp.add_argument("--assignment", default="all", help="NN, a comma-separated list, or all (default)")
    sp.add_argument("--run-notebook", action="store_true", help="ours executes every notebook in its sandbox")
    sp.set_defaults(fn=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    root = Path(a.root) if a.root else Course().root
    course = Course(root=root, work=Path(a.work) if getattr(a, "work", None) else None)
    return int(a.fn(course, a) or 0)
