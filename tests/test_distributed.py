"""Grading on Dask workers (autograder/distributed.py, autograder/batch.py): what travels between coordinator and
worker and how it is checked, uid slots, and on a local cluster of 2 worker processes: a worker killed mid-run
and a wedged worker lose no submission and record none twice; the CLI on a running cluster (``--scheduler``);
the SLURM job script built from docs/cluster/jobqueue.yaml."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import nbformat
import pytest

from autograder import batch
from autograder.course import Course, Limits
from autograder.distributed import (
    SHIP_FILE_MAX,
    GradingCluster,
    InfrastructureError,
    ResultError,
    decode_result,
    digest,
    encode_result,
    grade_job,
    grading_files,
    pack,
    package_files,
    unpack,
)
from autograder.grade import CellScore, Outcome, load_outcome
from autograder.intake import Intake, stage
from autograder.nbrun import NbResult
from tests.dask_tasks import MARKERS, attempts, tracked_grade_job
from tests.refs import REF_LIB, ROOT, STUB_LIB

A01 = "01_softmax"
LIMITS = Limits(part_timeout=5, lib_wall=40, cell_timeout=20, nb_wall=90)


def make_submission(dest: Path, reference: bool = True) -> Path:
    """The release notebook + lib/deepkit (release stubs; topic 01's modules from the reference if asked)."""
    (dest / "lib" / "deepkit").mkdir(parents=True)
    shutil.copy(ROOT / "exercises" / A01 / f"{A01}.ipynb", dest)
    for p in (STUB_LIB / "deepkit").glob("*.py"):
        shutil.copy(p, dest / "lib" / "deepkit")
    if reference:
        for m in Course().find(A01).modules:
            shutil.copy(REF_LIB / "deepkit" / f"{m}.py", dest / "lib" / "deepkit")
    return dest


def library_points(course: Course) -> float:
    return float(sum(p.points for p in course.topic(A01).parts))


# ------------------------------------------------------------------------------ what travels, and its checks
def test_pack_unpack_gives_the_worker_the_same_intake(tmp_path):
    """The worker stages from the shipped copy exactly what the coordinator's folder would give: the same taken,
    ignored and missing files with the same reasons, byte-identical staged files; no symlink is followed."""
    course = Course(root=ROOT, work=tmp_path / "work")
    src = make_submission(tmp_path / "alice" / A01)
    (src / "notes.txt").write_text("my notes")
    (src / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
    (src / "lib" / "numpy.py").write_text("planted = True")
    (src / "lib" / "deepkit" / "losses.py").unlink()
    (src / "lib" / "deepkit" / "losses.py").symlink_to("/etc/passwd")
    (src / "system").symlink_to("/")
    with open(src / "big.bin", "wb") as f:
        f.truncate(SHIP_FILE_MAX + 1)

    entries = pack(src)
    kinds = {e["path"]: e["kind"] for e in entries}
    assert kinds["big.bin"] == "sparse" and kinds["system"] == "link" and kinds["lib/deepkit/losses.py"] == "link"
    assert not any(p.startswith("system/") for p in kinds), "a symlinked folder was followed"
    assert sum(len(e.get("data", b"")) for e in entries) < 2 * 1024**2

    copy = tmp_path / "copy"
    unpack(entries, copy)
    topic = course.topic(A01)
    here = stage(course, topic, A01, src, tmp_path / "staged-here")
    there = stage(course, topic, A01, copy, tmp_path / "staged-there")
    assert asdict(here) == asdict(there)
    assert "losses" in here.missing and any("numpy.py" in i for i in here.ignored)
    files = lambda d: {p.relative_to(d).as_posix(): p.read_bytes() for p in d.rglob("*") if p.is_file()}
    assert files(tmp_path / "staged-here") == files(tmp_path / "staged-there")


def _result(tmp_path: Path, course: Course):
    """A worker's answer for one submission (built without a sandbox) and its job."""
    parts = course.topic(A01).parts
    cells = {p.name: CellScore(p.name, float(p.points), float(p.points), "all cases match", "library") for p in parts}
    summary = {"taken": [f"{A01}.ipynb"], "ignored": [], "missing": {}, "notes": [], "notebook": "ok"}
    out = Outcome("alice", A01, cells=cells, notebook_status="ok", notebook_reason="ran", intake=summary, seconds=3.0)
    intake = Intake(notebook=True, taken=[f"{A01}.ipynb"], timestamp="2026-11-20 10:00:00 UTC")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    nbres = NbResult("ok", "the notebook ran top to bottom", nb, 2.0, "log tail")
    base = tmp_path / "worker-staging"
    for rel, data in {"sub/x.ipynb": b"{}", "logs/library.log": b"ok", "run/inputs.npz": b"hidden"}.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_bytes(data)
    job = {"student": "alice", "assignment": A01, "digest": "d" * 64}
    return job, encode_result(job, out, intake, nbres, base, slot=3), (out, intake, nb)


def test_a_result_is_json_and_round_trips(tmp_path):
    course = Course(root=ROOT, work=tmp_path / "work")
    job, d, (out, intake, nb) = _result(tmp_path, course)
    g = decode_result(course, job, json.dumps(d))
    assert g.outcome.cells == out.cells and g.outcome.auto_total == library_points(course)
    assert g.intake == intake and g.nbres.status == "ok" and g.nbres.notebook == nb
    assert g.worker["slot"] == 3 and g.worker["pid"] == os.getpid()
    mirror = course.staging / A01 / "alice"
    assert (mirror / "sub" / "x.ipynb").read_bytes() == b"{}" and (mirror / "logs" / "library.log").is_file()
    assert not (mirror / "run").exists(), "the hidden inputs never travel back"
    d["outcome"]["intake"]["late"] = {"days": 2}  # a field another engineer adds travels as plain data
    assert decode_result(course, job, json.dumps(d)).outcome.intake["late"] == {"days": 2}
    d["notebook"]["notebook"] = "{not a notebook"  # the autograded notebook is untrusted data: dropped, not fatal
    assert decode_result(course, job, json.dumps(d)).nbres.notebook is None
    with pytest.raises(ResultError):
        decode_result(course, job, {"a": "dict"})  # only JSON text is accepted


def _first(d):
    return next(iter(d["outcome"]["cells"].values()))


FORGERIES = {
    "points above the part's": lambda d: _first(d).update(points=_first(d)["max_points"] + 1),
    "negative points": lambda d: _first(d).update(points=-1.0),
    "NaN points": lambda d: _first(d).update(points=math.nan),
    "inflated part": lambda d: _first(d).update(points=100.0, max_points=100.0),
    "an extra part": lambda d: d["outcome"]["cells"].update(bonus={**_first(d), "name": "bonus"}),
    "a part missing": lambda d: d["outcome"]["cells"].pop(next(iter(d["outcome"]["cells"]))),
    "a manual cell": lambda d: _first(d).update(kind="manual"),
    "another student": lambda d: d.update(student="bob"),
    "another version": lambda d: d.update(version=0),
    "other grading inputs": lambda d: d.update(digest="e" * 64),
    "bad notebook status": lambda d: d["notebook"].update(status="great"),
    "path escaping staging": lambda d: d["staged"].append({"path": "../../evil.py", "data": ""}),
    "absolute path": lambda d: d["staged"].append({"path": "/etc/cron.d/x", "data": ""}),
    "hidden inputs path": lambda d: d["staged"].append({"path": "run/inputs.npz", "data": ""}),
    "a pickle instead of data": lambda d: d.update(outcome="gASVCAAAAAAAAACMBHBvc3SULg=="),
    "deeply nested data": lambda d: d["outcome"]["intake"].update(late=[[[[["deep"]]]]]),
    "intake notebook not a flag": lambda d: d["intake"].update(notebook="yes"),
}


@pytest.mark.parametrize("name", FORGERIES)
def test_a_malformed_result_is_refused_and_writes_nothing(tmp_path, name):
    course = Course(root=ROOT, work=tmp_path / "work")
    job, d, _ = _result(tmp_path, course)
    FORGERIES[name](d)
    with pytest.raises(ResultError):
        decode_result(course, job, json.dumps(d))
    assert not (course.staging / A01 / "alice").exists()


def test_error_results(tmp_path):
    """A grading error is this submission's (0 with the reason); an infrastructure error stops the batch."""
    course = Course(root=ROOT, work=tmp_path / "work")
    job = {"student": "alice", "assignment": A01, "digest": "d" * 64}
    head = {"version": 1, "student": "alice", "assignment": A01, "worker": {"host": "h", "pid": 1}}
    g = decode_result(course, job, json.dumps({**head, "error": {"kind": "grading", "message": "OSError: disk"}}))
    assert g.error == "OSError: disk" and g.outcome is None
    with pytest.raises(InfrastructureError, match="sandbox"):
        decode_result(course, job, json.dumps({**head, "error": {"kind": "infrastructure", "message": "sandbox"}}))


def test_a_worker_with_other_grading_inputs_refuses_to_grade(tmp_path):
    course = Course(root=ROOT, work=tmp_path / "work")
    job = {"root": str(ROOT), "student": "alice", "assignment": A01, "digest": "0" * 64, "deadline": 60.0}
    with pytest.raises(InfrastructureError, match="different inputs"):
        decode_result(course, job, grade_job(job))


def test_the_digest_covers_the_hidden_inputs(monkeypatch):
    import autograder.libgrade

    course = Course()
    before = digest(course, A01)
    assert digest(course, A01) == before
    real = autograder.libgrade.reference_cases

    def other_secret(course, topic):  # the same parts, one input nudged: another term secret on a worker
        cases = {part: list(pairs) for part, pairs in real(course, topic).items()}
        part = next(iter(cases))
        inputs, outputs = cases[part][0]
        key = next(k for k, v in inputs.items() if hasattr(v, "shape") and v.size)
        cases[part][0] = ({**inputs, key: inputs[key] + 1e-9}, outputs)
        return cases

    monkeypatch.setattr(autograder.libgrade, "reference_cases", other_secret)
    assert digest(course, A01) != before


def test_the_digest_reads_code_not_the_work_folders(tmp_path):
    """``autograder/submitted``, ``staging``... sit beside the grading code (the default work folder) and differ
    between coordinator and workers: only package folders count."""
    pkg = tmp_path / "autograder"
    for rel in ("__init__.py", "grade.py", "sandbox/__init__.py", "sandbox/jail.py", "submitted/s/a/lib/x.py"):
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text("")
    got = [p.relative_to(pkg).as_posix() for p in package_files(pkg)]
    assert got == ["__init__.py", "grade.py", "sandbox/__init__.py", "sandbox/jail.py"]
    course = Course()
    files = [p.relative_to(ROOT).as_posix() for p in grading_files(course, A01)]
    entry = course.find(A01)
    assert {str(entry.checks), str(entry.probes), str(entry.source_notebook), "autograder/grade.py"} <= set(files)
    assert not [f for f in files if f.startswith(("autograder/submitted", "autograder/staging"))]


def test_slurm_job_script_from_the_documented_config(tmp_path):
    """``cluster slurm --print-job-script`` with docs/cluster/jobqueue.yaml: the course's python, the course
    tree on PYTHONPATH, one single-threaded worker process per core, a nanny to restart dead workers."""
    shutil.copy(ROOT / "docs" / "cluster" / "jobqueue.yaml", tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "--work", str(tmp_path / "w"), "cluster", "slurm", "--print-job-script"],
        cwd=ROOT,
        env={**os.environ, "DASK_CONFIG": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    script = proc.stdout
    for line in ("#SBATCH -p cpu", "#SBATCH -t 04:00:00", "#SBATCH --cpus-per-task=8", f"cd {ROOT}"):
        assert line in script, script
    assert f"export PYTHONPATH={ROOT}" in script
    worker = next(ln for ln in script.splitlines() if "dask_worker" in ln)
    assert worker.startswith(f"{sys.executable} -m distributed.cli.dask_worker tcp://")
    for flag in ("--nthreads 1", "--nworkers 8", "--nanny"):
        assert flag in worker, worker


# ---------------------------------------------------------------------------------- a local cluster of 2
@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """2 worker processes running ``tests.dask_tasks.tracked_grade_job``; hard deadline 30 s per submission (a
    loaded machine grades a cold worker's first library-only submission of topic 01 in under 10 s)."""
    markers = tmp_path_factory.mktemp("attempts")
    old = os.environ.get(MARKERS)
    os.environ[MARKERS] = str(markers)  # inherited by the worker processes (and the ones nannies restart)
    try:
        with GradingCluster(jobs=2, task=tracked_grade_job, deadline=30) as cluster:
            yield cluster, markers
    finally:
        if old is None:
            os.environ.pop(MARKERS, None)
        else:
            os.environ[MARKERS] = old


@pytest.fixture
def recorded(monkeypatch):
    """Counts gradebook writes (grade.record calls on the coordinator) per (student, assignment)."""
    counts: Counter = Counter()
    real = batch.record

    def counting(course, out, intake, nbres):
        counts[(out.student, out.assignment)] += 1
        return real(course, out, intake, nbres)

    monkeypatch.setattr(batch, "record", counting)
    return counts


def _class(tmp_path: Path, names: list[str]) -> Course:
    course = Course(root=ROOT, work=tmp_path / "work")
    for n in names:
        make_submission(course.submitted / n / A01, reference=not n.startswith("stub"))
    return course


def _check_grades(course: Course, names: list[str], outs, counts: Counter) -> None:
    assert sorted(o.student for o in outs) == sorted(names)
    assert counts == Counter({(n, A01): 1 for n in names}), counts
    for o in outs:
        lib = sum(c.points for c in o.cells.values() if c.kind == "library")
        assert lib == (0.0 if o.student.startswith("stub") else library_points(course)), o.summary()
        assert load_outcome(course, o.student, A01)["total"] == o.auto_total
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        assert sorted(s.student.id for s in gb.find_assignment(A01).submissions) == sorted(names)


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_nothing_and_grades_nothing_twice(tracked, recorded, tmp_path):
    cluster, markers = tracked
    names = [f"kill{i}" for i in range(4)] + ["stub-kill0", "stub-kill1"]
    course = _class(tmp_path, names)
    victim: dict = {}

    def kill_the_first_worker_that_starts():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not victim:
            for n in names:
                pids = attempts(markers, n)
                if pids:
                    victim.update(student=n, pid=pids[0])
                    os.kill(pids[0], signal.SIGKILL)
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_first_worker_that_starts)
    killer.start()
    outs = batch.grade_batch(course, [(n, A01) for n in names], LIMITS, notebook=False, progress=False, cluster=cluster)
    killer.join()
    assert victim, "no grading started"
    _check_grades(course, names, outs, recorded)
    again = attempts(markers, victim["student"])
    assert len(again) >= 2 and again[-1] != victim["pid"], "the killed worker's submission was not requeued"
    cluster.wait_for_workers(2, timeout=120)  # the nanny restarts the killed worker
    assert victim["pid"] not in cluster.worker_pids().values()


@pytest.mark.slow
def test_a_wedged_worker_is_replaced_and_its_submission_requeued(tracked, recorded, tmp_path):
    cluster, markers = tracked
    names = ["hang0", "wedge-ok0", "wedge-ok1"]
    course = _class(tmp_path, names)
    outs = batch.grade_batch(course, [(n, A01) for n in names], LIMITS, notebook=False, progress=False, cluster=cluster)
    _check_grades(course, names, outs, recorded)
    first, *later = attempts(markers, "hang0")
    assert later and later[-1] != first, "the wedged submission was not requeued on a fresh worker"
    assert first not in cluster.worker_pids().values()


# ------------------------------------------------------------------------------ the CLI on a running cluster
@pytest.mark.slow
def test_autograde_on_a_running_cluster_and_a_canary_through_it(tmp_path, monkeypatch):
    """``cluster local`` keeps workers running; ``autograde --scheduler <scheduler file>`` and the tcp address
    grade on them; a ``preflight`` (the canary's hook) grades through the same workers without touching a
    gradebook, and stops the batch when it raises; a worker with other grading inputs stops the batch (exit 2)
    before anything is recorded."""
    from autograder.cli import main

    course = _class(tmp_path, ["ann", "stub-bo"])
    sched = tmp_path / "scheduler.json"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autograder",
            "--work",
            str(course.work),
            "cluster",
            "local",
            "--workers",
            "1",
            "--scheduler-file",
            str(sched),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not sched.is_file() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.2)
        assert sched.is_file(), "the cluster did not come up"
        args = ["--work", str(course.work), "autograde", "--all", "--library-only", "--cell-timeout", "20"]
        assert main([*args, "--scheduler", str(sched)]) == 0
        full = library_points(course)
        assert load_outcome(course, "ann", A01)["total"] == full and load_outcome(course, "stub-bo", A01)["total"] == 0

        canary = _class(tmp_path / "canary", ["reference", "stubs"])
        seen: dict = {}

        def preflight(cluster):  # the hook a canary uses: grade known submissions on the batch's own workers
            seen.update(
                {g.student: g for g in cluster.grade(canary, [("reference", A01), ("stubs", A01)], LIMITS, False)}
            )

        dee = _class(tmp_path / "dee", ["dee"])
        address = json.loads(sched.read_text())["address"]
        outs = batch.grade_batch(dee, [("dee", A01)], LIMITS, notebook=False, scheduler=address, preflight=preflight)
        assert seen["reference"].outcome.auto_total == full and seen["stubs"].outcome.auto_total == 0
        assert not canary.gradebook.exists(), "grading through the cluster writes no gradebook"
        assert [o.student for o in outs] == ["dee"] and outs[0].auto_total == full

        def stop(cluster):
            raise InfrastructureError("the canary failed")

        with pytest.raises(InfrastructureError, match="canary"):
            batch.grade_batch(dee, [("dee", A01)], LIMITS, notebook=False, scheduler=address, preflight=stop)

        other = _class(tmp_path / "other", ["cy"])
        monkeypatch.setattr("autograder.distributed.digest", lambda course, a: "0" * 64)
        assert main(["--work", str(other.work), "autograde", "--all", "--library-only", "--scheduler", str(sched)]) == 2
        assert load_outcome(other, "cy", A01) is None
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert not sched.exists(), "the scheduler file goes with the cluster"
