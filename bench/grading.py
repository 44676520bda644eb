"""Grading throughput per topic: plain serial ``nbgrader autograde`` against this autograder on the same fixture
class, side by side in one run. The one grading measurement of the repository, behind both entry points:

    make bench                                            # python -m bench: every topic -> bench/results/
    python -m bench --grading-topics 01 --students 2 --no-widgets --no-notebooks
    python -m autograder bench --assignment 04,01 --students 4   # the same table, printed (build/results/grading.json)
    python -m autograder bench --run-notebook                    # ours with every notebook executed in the sandbox

Fixture: N copies of a correct submission per topic (the release notebook + the reference library, built at run
time). Each configuration is split into a one-off start-up and a steady rate, because a class is graded in one batch:

* plain (``time_plain``): one ``nbgrader autograde`` of 1 submission and one of N (every notebook executed, no
  isolation, no library checks); rate from the difference: (N - 1) / (t_N - t_1), start-up = the rest of t_1
  (nbgrader's imports, the gradebook); CPU per submission from the same difference;
* ours (``time_ours``): ``grade_batch`` on a local Dask cluster of 1, then 2 single-threaded worker processes
  (staging, the library sandbox, the notebook read or with ``notebook`` run in its sandbox, gradebook writes);
  start-up = starting the cluster + preparing the workers (reference outputs, notebook templates, the notebook
  fork server) + the gradebook entry; rate = N / the time of the batch itself; CPU = the batch's CPU / N.

CPU seconds are those of this process and every process under it (``cpu_seconds``: Dask workers, sandboxes,
nbgrader and its kernels): ``per_minute_on_free_cores`` = 60 x min(workers, cores) / CPU per submission is the
rate with the cores to ourselves, since the machine is shared. projected minutes for n submissions =
(start-up + n x seconds per submission) / 60. The coordinator writes the gradebook serially, so its recording
rate (``records_per_minute``) bounds what more machines can add (docs/SCALING.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from bench import ROOT

WORKERS = (1, 2)
PROJECT = (300, 10_000)
GOAL_PER_MINUTE = 60.0  # issue 17.1: submissions per minute on 2 cores (2 workers), every topic
GOAL_SPEEDUP = 2.0  # ... and at least twice plain serial nbgrader on the same fixtures
GOAL_WORKERS = 2
BENCH_SECRET = "benchmark-run-not-a-term-secret"  # hidden cases of a made-up term (autograder/cases.py)


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and every process under it: the live ones (Dask workers, the
    notebook fork server) and those already waited for by one of them (sandboxes, nbgrader, kernels)."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:  # exited between the listing and the reading: its parent counts it once reaped
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def build(root: Path, assignments: list[str]) -> Path:
    """Release stubs and notebooks of ``assignments`` built from this repository into ``root/built``."""
    from tools.build import build_exercises, build_lib

    built = root / "built"
    build_lib(ROOT, built)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_exercises(ROOT, built, only=assignments)
    return built


def fixture_class(built: Path, dest: Path, assignment: str, students: int) -> list[str]:
    """``students`` copies of a correct submission under ``dest/<student>/<assignment>/``: the release notebook
    and the complete reference library (later topics use earlier modules); their names."""
    from autograder.course import Course

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


def _plain_run(where: Path, klass: Path, assignment: str, names: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one serial ``nbgrader autograde <a>`` of ``names`` in a course folder ``where``."""
    from autograder.course import Course
    from autograder.nbrun import generate_gradebook, nbgrader_config_text

    course = where / assignment
    (course / "source" / assignment).mkdir(parents=True)
    shutil.copy(ROOT / Course().find(assignment).source_notebook, course / "source" / assignment)
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


def time_plain(root: Path, klass: Path, assignment: str, names: list[str]) -> dict:
    """Plain serial nbgrader on the fixture class ``klass``: {"startup_s", "s_per_submission",
    "cpu_s_per_submission", "t1_s", "tN_s"} from a run of 1 submission and a run of all of ``names``."""
    t1, c1 = _plain_run(root / "plain-1", klass, assignment, names[:1])
    tn, cn = _plain_run(root / "plain-n", klass, assignment, names)
    n = len(names)
    per = (tn - t1) / (n - 1) if n > 1 and tn > t1 else tn / n
    cpu = (cn - c1) / (n - 1) if n > 1 and cn > c1 else cn / n
    return {
        "startup_s": max(0.0, t1 - per),
        "s_per_submission": per,
        "cpu_s_per_submission": cpu,
        "t1_s": t1,
        "tN_s": tn,
    }


def _full_marks(outcome) -> bool:
    lib = [c for c in outcome.cells.values() if c.kind == "library"]
    return bool(lib) and all(c.points == c.max_points for c in lib)


def time_ours(
    root: Path, klass: Path, assignment: str, names: list[str], workers=WORKERS, notebook: bool = False
) -> dict[str, dict]:
    """This autograder on the fixture class ``klass``, on one local Dask cluster grown from the smallest worker
    count to the largest (a fresh course work folder with its own gradebook per count). Per worker count:
    {"startup_s", "s_per_submission", "cpu_s_per_submission", "record_s_per_submission", "full_marks",
    "notebooks_ran"}."""
    from autograder.batch import grade_batch
    from autograder.course import Course, Limits
    from autograder.distributed import GradingCluster
    from autograder.grade import ensure_assignment
    from autograder.intake.collect import collect

    limits, out, n = Limits(), {}, len(names)
    t0 = time.monotonic()
    with GradingCluster(jobs=min(workers)) as cluster:
        started = time.monotonic() - t0
        for w in sorted(workers):
            course = Course(work=root / f"ours-{w}", secret=BENCH_SECRET)  # a benchmark, not a term
            collect(course, klass, assignment)
            t0 = time.monotonic()
            cluster.scale(w)
            ensure_assignment(course, assignment)
            cluster.warm(course, [assignment], limits, notebook)
            ready = time.monotonic() - t0
            stats: dict = {}
            t1, c1 = time.monotonic(), cpu_seconds()
            outs = grade_batch(
                course, [(s, assignment) for s in names], limits, notebook=notebook, progress=False,
                cluster=cluster, stats=stats,
            )  # fmt: skip
            wall, cpu = time.monotonic() - t1, cpu_seconds() - c1
            out[str(w)] = {
                # a cluster of w started cold: starting it, preparing its workers, the gradebook entry
                "startup_s": started + ready + wall - stats["grade_s"],
                "s_per_submission": stats["grade_s"] / n,
                "cpu_s_per_submission": cpu / n,
                "record_s_per_submission": stats["record_s"] / n,
                "full_marks": f"{sum(map(_full_marks, outs))}/{n}",
                "notebooks_ran": sum(o.notebook_status in ("ok", "errors") for o in outs),
            }
    return out


def _finish(m: dict) -> dict:
    """Rates and projections from the measured start-up and seconds per submission (rounded for the record)."""
    m = {k: round(v, 3) if isinstance(v, float) else v for k, v in m.items()}
    m["per_minute"] = round(60.0 / m["s_per_submission"], 2)
    m["projected_minutes"] = {str(n): round((m["startup_s"] + n * m["s_per_submission"]) / 60, 1) for n in PROJECT}
    return m


def default_notebook() -> bool:
    """Whether ``grade_batch`` executes notebooks by default: the bench measures the default grading path."""
    import inspect

    from autograder.batch import grade_batch

    return bool(inspect.signature(grade_batch).parameters["notebook"].default)


def measure_topic(assignment: str, students: int, workers=WORKERS, notebook: bool | None = None) -> dict:
    """One topic: plain nbgrader and ours with each worker count, on one fixture class of ``students``."""
    notebook = default_notebook() if notebook is None else notebook
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        root = Path(tmp)
        klass = root / "class"
        names = fixture_class(build(root, [assignment]), klass, assignment, students)
        plain = _finish(time_plain(root, klass, assignment, names))
        ours = {w: _finish(m) for w, m in time_ours(root, klass, assignment, names, workers, notebook).items()}
    for w, m in ours.items():
        m["per_minute_on_free_cores"] = round(60.0 * min(int(w), cores) / m["cpu_s_per_submission"], 1)
    row = {"assignment": assignment, "students": students, "notebook": notebook, "plain_nbgrader": plain, "ours": ours}
    row["speedup_vs_plain"] = {w: round(plain["s_per_submission"] / o["s_per_submission"], 2) for w, o in ours.items()}
    return row


def goal(rows: list[dict], workers) -> dict:
    """Issue 17.1 on ``rows``: ours with ``GOAL_WORKERS`` workers (or the most measured) at >= ``GOAL_PER_MINUTE``
    for every topic and >= ``GOAL_SPEEDUP`` x plain nbgrader; also the rate on free cores (from CPU seconds)."""
    w = str(GOAL_WORKERS if GOAL_WORKERS in workers else max(workers))
    rate = min(r["ours"][w]["per_minute"] for r in rows)
    free = min(r["ours"][w]["per_minute_on_free_cores"] for r in rows)
    speedup = min(r["speedup_vs_plain"][w] for r in rows)
    return {
        "workers": int(w),
        "per_minute": GOAL_PER_MINUTE,
        "speedup_vs_plain": GOAL_SPEEDUP,
        "worst_per_minute": rate,
        "worst_per_minute_on_free_cores": free,
        "worst_speedup_vs_plain": speedup,
        "met": rate >= GOAL_PER_MINUTE and speedup >= GOAL_SPEEDUP,
        "met_on_free_cores": free >= GOAL_PER_MINUTE and speedup >= GOAL_SPEEDUP,
    }


def method(notebook: bool) -> str:
    nb = "notebook run in its sandbox" if notebook else "notebook read, not executed"
    return (
        "N copies of a correct submission per topic; plain = serial `nbgrader autograde` (every notebook executed, "
        "no isolation, no library checks), rate from runs of 1 and N submissions; ours = `grade_batch` (staging, "
        f"library sandbox, {nb}, gradebook writes) on a local Dask cluster of 1, then 2 single-threaded worker "
        "processes, rate = N / the batch's time; start-up = nbgrader's own (plain) or starting the cluster and "
        "preparing its workers (ours); projected time for n = start-up + n / rate; CPU s = this process and every "
        "process under it (workers, sandboxes, nbgrader, kernels) per submission; /min on free cores = 60 x "
        "min(workers, cores) / CPU s, the rate with the machine to ourselves"
    )


def measure(
    assignments: list[str],
    students: int,
    workers=WORKERS,
    notebook: bool | None = None,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """{"rows": [measure_topic per assignment], "goal", "records_per_minute", "cores", "method", ...}."""
    notebook = default_notebook() if notebook is None else notebook
    rows, load = [], [os.getloadavg()[0]]
    for a in assignments:
        rows.append(measure_topic(a, students, workers, notebook))
        load.append(os.getloadavg()[0])
        if progress:
            progress(rows[-1])
    rec = [o["record_s_per_submission"] for r in rows for o in r["ours"].values() if o["record_s_per_submission"] > 0]
    return {
        "rows": rows,
        "workers": list(workers),
        "students": students,
        "notebook": notebook,
        "cores": os.cpu_count(),
        "load_avg_1min": [round(x, 1) for x in load],  # before the first topic and after each: a shared machine
        "records_per_minute": round(60.0 / (sorted(rec)[len(rec) // 2]), 1) if rec else None,
        "goal": goal(rows, workers) if rows else None,
        "method": method(notebook),
    }


def _fmt_minutes(m: float) -> str:
    return f"{m:.1f} min" if m < 90 else f"{m / 60:.1f} h"


HEADER = (
    f"{'topic':<20} {'plain/min':>9} {'1 worker/min':>12} {'2 workers/min':>13} {'x plain':>8} "
    f"{'CPU s':>6} {'free/min':>8} {'300 subs':>9} {'10,000 subs':>11} {'full marks':>10}"
)


def line(row: dict) -> str:
    """One console line: rates; with the most workers: speed-up over plain nbgrader, CPU seconds per submission,
    the rate on free cores, projections, full marks."""
    ours = row["ours"]
    most = max(ours, key=int)
    rate = lambda w: f"{ours[w]['per_minute']:.1f}" if w in ours else "-"
    m = ours[most]
    return (
        f"{row['assignment']:<20} {row['plain_nbgrader']['per_minute']:>9.1f} {rate('1'):>12} {rate('2'):>13} "
        f"{row['speedup_vs_plain'][most]:>8.2f} {m['cpu_s_per_submission']:>6.2f} "
        f"{m['per_minute_on_free_cores']:>8.1f} {_fmt_minutes(m['projected_minutes']['300']):>9} "
        f"{_fmt_minutes(m['projected_minutes']['10000']):>11} {m['full_marks']:>10}"
    )


def goal_text(g: dict) -> str:
    return (
        f"Goal (issue 17: >= {g['per_minute']:g}/min for every topic with {g['workers']} workers and >= "
        f"{g['speedup_vs_plain']:g}x plain nbgrader): {'met' if g['met'] else 'NOT met'} on the wall clock of this "
        f"run (worst {g['worst_per_minute']:g}/min, {g['worst_speedup_vs_plain']:g}x plain); "
        f"{'met' if g['met_on_free_cores'] else 'NOT met'} on free cores (worst "
        f"{g['worst_per_minute_on_free_cores']:g}/min)."
    )


def _each(configs: list[dict | None], fmt: Callable[[dict], str]) -> str:
    """``fmt`` of each configuration, " / "-separated; "-" for one not measured."""
    return " / ".join(fmt(c) if c else "-" for c in configs)


def markdown(data: dict) -> list[str]:
    """The table of ``measure()``'s result in Markdown lines (bench/results/README.md)."""
    workers = data["workers"]
    lines = [
        f"Measured in this run on {data['cores']} cores (1-minute load average before and after each topic: "
        f"{', '.join(f'{x:g}' for x in data.get('load_avg_1min', []))}): {data['method']}.",
        "",
        "| topic | N | plain nbgrader /min | ours 1 worker /min | ours 2 workers /min | x plain (1 / 2 workers) "
        "| CPU s per submission (plain / 1 / 2) | ours /min on free cores (1 / 2) | start-up s (plain / 1 / 2) "
        "| 300 subs (plain / 1 / 2 workers) | 10,000 subs (plain / 1 / 2 workers) | full marks |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in data["rows"]:
        ours = [r["ours"].get(str(w)) for w in workers]
        cfgs = [r["plain_nbgrader"], *ours]
        sp = r["speedup_vs_plain"]
        cells = [
            r["assignment"],
            str(r["students"]),
            *(_each([c], lambda c: f"{c['per_minute']:.1f}") for c in cfgs),
            " / ".join(f"{sp[str(w)]:.2f}" if str(w) in sp else "-" for w in workers),
            _each(cfgs, lambda c: f"{c['cpu_s_per_submission']:.2f}"),
            _each(ours, lambda c: f"{c['per_minute_on_free_cores']:.0f}"),
            _each(cfgs, lambda c: f"{c['startup_s']:.0f}"),
            _each(cfgs, lambda c: _fmt_minutes(c["projected_minutes"]["300"])),
            _each(cfgs, lambda c: _fmt_minutes(c["projected_minutes"]["10000"])),
            _each(ours, lambda c: c["full_marks"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if data.get("goal"):
        lines += ["", goal_text(data["goal"])]
    if data.get("records_per_minute"):
        lines += [
            "",
            f"The coordinator recorded {data['records_per_minute']:g} submissions per minute into the gradebook "
            "(median over the runs above): the ceiling of a batch spread over more machines. Below it, k machines "
            "like this one grade about k times the 2-worker rate (docs/SCALING.md).",
        ]
    return lines


def run(assignments: list[str], students: int, workers=WORKERS, notebook: bool | None = None) -> dict:
    """Measure with the table printed as it goes and the goal at the end (both CLIs); returns ``measure()``'s dict."""
    print(
        f"grading throughput, {students} submissions per topic (plain serial nbgrader vs ours on a local Dask "
        "cluster, measured now):",
        flush=True,
    )
    print(HEADER, flush=True)
    data = measure(assignments, students, workers, notebook, progress=lambda row: print(line(row), flush=True))
    if data["goal"]:
        print(goal_text(data["goal"]), flush=True)
    return data


def main(assignments: list[str], students: int, notebook: bool | None = None) -> int:
    """``python -m autograder bench``: ``run()``, then the result to build/results/grading.json (not tracked:
    the committed figures are ``make bench``'s, in bench/results/)."""
    data = run(assignments, students, notebook=notebook)
    out = ROOT / "build" / "results" / "grading.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"written {out.relative_to(ROOT)}")
    return 0
