"""Grading throughput per topic, measured side by side in one run: plain serial ``nbgrader autograde`` vs this
autograder (staging, the sandboxed library checks and the notebook run in the sandbox; ``grade_batch`` on a local
Dask cluster) with 1 and with 2 worker processes, on the same fixture class (N copies of a correct submission
built at run time by ``autograder.bench``).

Each configuration is split into a one-off start-up and a steady rate, because a class is graded in one batch:

* plain: one ``nbgrader autograde`` of 1 submission and one of N; rate = (N - 1) / (t_N - t_1), start-up = the
  rest of t_1 (nbgrader's imports, the gradebook);
* ours: start-up = starting the cluster + preparing the workers (reference outputs, notebook templates, the
  notebook fork server) + the gradebook entry; rate = N / the time of the batch itself, gradebook writes included.

projected minutes for n submissions = (start-up + n / rate) / 60. The coordinator writes the gradebook serially,
so its recording rate (``records_per_minute``) bounds what more machines can add (docs/SCALING.md).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

METHOD = (
    "N copies of a correct submission per topic; plain = serial `nbgrader autograde` (notebook only, no isolation), "
    "rate from runs of 1 and N submissions; ours = `grade_batch` (staging, library sandbox, notebook sandbox, "
    "gradebook writes) on a local Dask cluster of 1, then 2 single-threaded worker processes, rate = N / the "
    "batch's time; start-up = nbgrader's own (plain) or starting the cluster and preparing its workers (ours); "
    "projected time for n = start-up + n / rate"
)
WORKERS = (1, 2)
PROJECT = (300, 10_000)


def _fixture(root: Path, assignment: str, students: int) -> tuple[list[str], Callable[[Path, list[str]], float]]:
    """The fixture class under ``root/class`` (its student names) and plain nbgrader's wall-clock timer, both from
    ``autograder.bench`` (the per-submission measurement: its ``build``, ``fixture_class`` and
    ``plain_nbgrader``)."""
    from autograder import bench as per_submission

    klass = root / "class"
    built = per_submission.build(root, [assignment])
    names = per_submission.fixture_class(built, klass, assignment, students)
    return names, lambda where, some: per_submission.plain_nbgrader(where, klass, assignment, some)[0]


def _plain(root: Path, names: list[str], plain_nbgrader: Callable[[Path, list[str]], float]) -> dict:
    one, everyone = root / "plain-1", root / "plain-n"
    for d in (one, everyone):
        d.mkdir()
        (d / "class").symlink_to(root / "class")
    t1 = plain_nbgrader(one, names[:1])
    tn = plain_nbgrader(everyone, names)
    per = (tn - t1) / (len(names) - 1) if len(names) > 1 and tn > t1 else tn / len(names)
    return {"startup_s": max(0.0, t1 - per), "s_per_submission": per, "t1_s": t1, "tN_s": tn}


def _ours(root: Path, assignment: str, names: list[str], workers, notebook: bool) -> dict[str, dict]:
    """One local cluster, grown from the smallest worker count to the largest: a fresh course work folder (own
    gradebook) per count, the same fixture class."""
    from autograder.batch import grade_batch
    from autograder.bench import BENCH_SECRET
    from autograder.course import Course, Limits
    from autograder.distributed import GradingCluster
    from autograder.intake.collect import collect

    limits, out = Limits(), {}
    t0 = time.monotonic()
    with GradingCluster(jobs=min(workers)) as cluster:
        started = time.monotonic() - t0
        for w in sorted(workers):
            course = Course(work=root / f"ours-{w}", secret=BENCH_SECRET)  # a benchmark, not a term
            collect(course, root / "class", assignment)
            t0 = time.monotonic()
            cluster.scale(w)
            cluster.warm(course, [assignment], limits, notebook)
            ready = time.monotonic() - t0
            stats: dict = {}
            t1 = time.monotonic()
            outs = grade_batch(
                course, [(s, assignment) for s in names], limits, notebook=notebook, progress=False,
                cluster=cluster, stats=stats,
            )  # fmt: skip
            wall = time.monotonic() - t1
            lib = lambda o, key: sum(getattr(c, key) or 0 for c in o.cells.values() if c.kind == "library")
            full = sum(lib(o, "points") == lib(o, "max_points") for o in outs)
            out[str(w)] = {
                # a cluster of w started cold: starting it, preparing its workers, the gradebook entry
                "startup_s": started + ready + wall - stats["grade_s"],
                "s_per_submission": stats["grade_s"] / len(names),
                "record_s_per_submission": stats["record_s"] / len(names),
                "full_marks": f"{full}/{len(names)}",
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
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        root = Path(tmp)
        names, plain_nbgrader = _fixture(root, assignment, students)
        plain = _finish(_plain(root, names, plain_nbgrader))
        ours = {w: _finish(m) for w, m in _ours(root, assignment, names, workers, notebook).items()}
    row = {"assignment": assignment, "students": students, "notebook": notebook, "plain_nbgrader": plain, "ours": ours}
    row["speedup_vs_plain"] = {w: round(plain["s_per_submission"] / o["s_per_submission"], 2) for w, o in ours.items()}
    return row


def measure(
    assignments: list[str],
    students: int,
    workers=WORKERS,
    notebook: bool | None = None,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """{"rows": [measure_topic per assignment], "records_per_minute", "cores", "method"}."""
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
        "cores": os.cpu_count(),
        "load_avg_1min": [round(x, 1) for x in load],  # before the first topic and after each: a shared machine
        "records_per_minute": round(60.0 / (sorted(rec)[len(rec) // 2]), 1) if rec else None,
        "method": METHOD,
    }


def _fmt_minutes(m: float) -> str:
    return f"{m:.1f} min" if m < 90 else f"{m / 60:.1f} h"


HEADER = (
    f"{'topic':<20} {'plain/min':>9} {'1 worker/min':>12} {'2 workers/min':>13} {'x plain':>8} "
    f"{'300 subs':>9} {'10,000 subs':>11} {'full marks':>10}"
)


def line(row: dict) -> str:
    """One console line: rates, the best speed-up over plain nbgrader, projections with the most workers."""
    ours = row["ours"]
    most = max(ours, key=int)
    plain = row["plain_nbgrader"]
    rate = lambda w: f"{ours[w]['per_minute']:.1f}" if w in ours else "-"
    proj = ours[most]["projected_minutes"]
    return (
        f"{row['assignment']:<20} {plain['per_minute'] if plain else float('nan'):>9.1f} {rate('1'):>12} "
        f"{rate('2'):>13} {row.get('speedup_vs_plain', {}).get(most, float('nan')):>8.2f} "
        f"{_fmt_minutes(proj['300']):>9} {_fmt_minutes(proj['10000']):>11} {ours[most]['full_marks']:>10}"
    )


def markdown(data: dict) -> list[str]:
    lines = [
        f"Measured in this run on {data['cores']} cores (1-minute load average before and after each topic: "
        f"{', '.join(f'{x:g}' for x in data.get('load_avg_1min', []))}): {data['method']}.",
        "",
        "| topic | N | plain nbgrader /min | ours 1 worker /min | ours 2 workers /min | x plain (1 / 2 workers) "
        "| start-up s (plain / 1 / 2) | 300 subs (plain / 1 / 2 workers) | 10,000 subs (plain / 1 / 2 workers) "
        "| full marks |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in data["rows"]:
        cfgs = [r["plain_nbgrader"]] + [r["ours"].get(str(w)) for w in data["workers"]]
        rate = [f"{c['per_minute']:.1f}" if c else "-" for c in cfgs]
        sp = r.get("speedup_vs_plain", {})
        speed = " / ".join(f"{sp[str(w)]:.2f}" if str(w) in sp else "-" for w in data["workers"])
        start = " / ".join(f"{c['startup_s']:.0f}" if c else "-" for c in cfgs)
        proj = {
            n: " / ".join(_fmt_minutes(c["projected_minutes"][n]) if c else "-" for c in cfgs) for n in ("300", "10000")
        }
        marks = " / ".join(r["ours"][str(w)]["full_marks"] for w in data["workers"] if str(w) in r["ours"])
        lines.append(
            f"| {r['assignment']} | {r['students']} | {' | '.join(rate)} | {speed} | {start} | {proj['300']} "
            f"| {proj['10000']} | {marks} |"
        )
    if data.get("records_per_minute"):
        lines += [
            "",
            f"The coordinator recorded {data['records_per_minute']:g} submissions per minute into the gradebook "
            "(median over the runs above): the ceiling of a batch spread over more machines. Below it, k machines "
            "like this one grade about k times the 2-worker rate (docs/SCALING.md).",
        ]
    return lines
