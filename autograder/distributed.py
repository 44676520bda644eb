"""Grading on Dask workers: a local cluster sized by ``--jobs``, or any Dask scheduler (``--scheduler ADDRESS``).

The coordinator (``autograder.batch.grade_batch``, the trusted side that owns the gradebook) ships each submission
to a worker; the worker runs ``grade.grade_one`` (staging, library sandbox, notebook sandbox) in its own scratch
folder and sends back ONE JSON text; the coordinator validates it (``decode_result``), mirrors the graded staging
copy into its own ``staging/`` and is the only process that writes the gradebook (``grade.record``). The same code
path serves a laptop (``LocalCluster`` of worker processes) and a cluster of machines (docs/SCALING.md).

What travels (both directions are plain data; nothing a student's code produced is ever unpickled):

* coordinator -> worker, a *job* (dict): the course root (the same path on every machine), student, assignment,
  the submitted folder as entries (relative path, kind, bytes; files over ``SHIP_FILE_MAX`` or past
  ``SHIP_TOTAL_MAX`` travel as their size only and arrive as sparse placeholders, which the intake never reads),
  the limits, the notebook flag, the digest of the grading inputs, which cases (``case_config``: the term
  secret itself travels only when the coordinator was given one explicitly, as a benchmark is; otherwise each
  machine reads its own configuration) and the worker's hard deadline.
* worker -> coordinator, a JSON text (``RESULT_VERSION``): the outcome's library cells, notebook status, timings
  and notes; the intake summary ``record`` needs; the notebook result (status, reason, log tail and the
  autograded notebook as nbformat JSON, untrusted data as today); the graded staging copy (``sub/`` and
  ``logs/``, base64, capped); the worker's identity (host, pid, uid slot); or an error. Inside the worker the
  sandbox spoke only npz (``allow_pickle=False``) and JSON frames; the worker is trusted code.

Failures: a worker that dies is noticed by the scheduler, which requeues its submissions (up to Dask's
``distributed.scheduler.allowed-failures``; then the submission gets 0 with an internal-error reason). A worker
whose grading of one submission overruns the hard deadline (every sandbox has its own wall clock, so this means a
wedged worker) exits, its nanny starts a fresh process and the scheduler requeues the submission. Results are
collected once per submission and released at once, so a later worker death cannot make Dask recompute (and the
coordinator record) a submission twice. A worker grading with different inputs (course tree, hidden cases, code)
or no worker at all for ``no_worker_timeout`` seconds is an infrastructure failure: ``InfrastructureError``.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import json
import math
import os
import shutil
import socket
import stat
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path, PurePosixPath

from autograder.course import Course, Limits
from autograder.errors import InfrastructureError
from autograder.grade import CellScore, Outcome, grade_one
from autograder.intake import Intake
from autograder.nbrun import NbResult

RESULT_VERSION = 1
SHIP_FILE_MAX = 32 * 1024**2  # above the intake's largest file (a 20 MB notebook); bigger ones travel as a size
SHIP_TOTAL_MAX = 64 * 1024**2  # bytes of one submission shipped to a worker
RETURN_FILE_MAX = SHIP_FILE_MAX  # the largest file of the graded staging copy sent back
DEADLINE_SLACK = 180.0  # seconds beyond the sandboxes' own wall clocks (staging, a cold worker's templates)
WORKER_TIMEOUT_EXIT = 75  # exit status of a worker that gave up on a wedged grading
NB_STATUSES = {"ok", "errors", "timeout", "crashed", "missing"}
TEXT_MAX = 4000  # longest reason / note kept from a result


class ResultError(ValueError):
    """A worker's result does not have the agreed shape (a version skew or a bug: never trusted)."""


# ---------------------------------------------------------------------------------- the grading inputs' digest
def package_files(folder: Path) -> list[Path]:
    """The ``.py`` files of a package and of its sub-packages: folders without ``__init__.py`` (the work folders
    ``autograder/submitted``, ``staging``...) are not code and are skipped."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        d = Path(dirpath)
        if not (d / "__init__.py").is_file():
            dirnames[:] = []
            continue
        dirnames[:] = sorted(n for n in dirnames if n != "__pycache__")
        out += [d / f for f in sorted(filenames) if f.endswith(".py")]
    return out


def grading_files(course: Course, assignment: str) -> list[Path]:
    """Every file whose content decides a score: the grading code, the topic's checks and probes, the reference,
    the given lib and release stubs, the topic registry and the assignment's source notebook."""
    entry = course.find(assignment)
    files = [course.path(p) for p in (entry.source_notebook, entry.checks, entry.probes)]
    files.append(course.root / "course" / "topics.py")
    for folder in (course.root / "autograder", course.ref_lib / "deepkit", course.stub_lib / "deepkit"):
        files += package_files(folder)
    return sorted(set(files))


def digest(course: Course, assignment: str) -> str:
    """sha256 of the grading inputs of one assignment: the files above and the inputs of the cases it grades on
    (``libgrade.reference_cases``: so a different term secret or seed on a worker shows up too). Equal digests:
    a worker grades as the coordinator."""
    import numpy as np

    from autograder.libgrade import reference_cases

    h = hashlib.sha256()
    for p in grading_files(course, assignment):
        h.update(p.relative_to(course.root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    for part, cases in sorted(reference_cases(course, course.topic(assignment)).items()):
        h.update(part.encode())
        for case, _ in cases:
            for k in sorted(case):
                v = np.asarray(case[k])
                h.update(f"{k}:{v.dtype.str}:{v.shape}".encode())
                h.update(v.tobytes() if v.dtype != object else repr(case[k]).encode())
    return h.hexdigest()


# ------------------------------------------------------------------------------- a submission folder as data
def pack(folder: Path) -> list[dict]:
    """The submitted folder as entries {path, kind: dir|file|sparse|link, data|size|target}; never follows a
    symlink. Files bigger than ``SHIP_FILE_MAX`` (or past ``SHIP_TOTAL_MAX`` in all) travel as their size."""
    entries: list[dict] = []
    if not folder.is_dir() or folder.is_symlink():
        return entries
    budget = SHIP_TOTAL_MAX
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        d = Path(dirpath)
        for name in sorted(dirnames):
            p = d / name
            rel = p.relative_to(folder).as_posix()
            if p.is_symlink():
                entries.append({"path": rel, "kind": "link", "target": os.readlink(p)})
            else:
                entries.append({"path": rel, "kind": "dir", "mode": stat.S_IMODE(os.lstat(p).st_mode)})
        dirnames[:] = sorted(n for n in dirnames if not (d / n).is_symlink())
        for name in sorted(filenames):
            p = d / name
            rel = p.relative_to(folder).as_posix()
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                entries.append({"path": rel, "kind": "link", "target": os.readlink(p)})
            elif stat.S_ISREG(st.st_mode):
                if st.st_size > SHIP_FILE_MAX or st.st_size > budget:
                    entries.append({"path": rel, "kind": "sparse", "size": st.st_size})
                    continue
                try:
                    fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                    with os.fdopen(fd, "rb") as f:
                        data = f.read(SHIP_FILE_MAX + 1)
                except OSError:  # replaced or removed since it was listed: the intake will not find it either
                    continue
                budget -= len(data)
                entries.append({"path": rel, "kind": "file", "data": data, "mode": stat.S_IMODE(st.st_mode)})
            # fifos, sockets, devices: collect never makes them and the intake takes none
    return entries


def _safe_rel(rel: str, roots: tuple[str, ...] | None = None) -> PurePosixPath:
    p = PurePosixPath(rel)
    if p.is_absolute() or not p.parts or any(part in ("", ".", "..") for part in p.parts):
        raise ResultError(f"unsafe path {rel!r}")
    if roots is not None and p.parts[0] not in roots:
        raise ResultError(f"path {rel!r} outside {roots}")
    return p


def unpack(entries: list[dict], dest: Path) -> None:
    """Recreate a packed folder under ``dest`` (emptied first), with the permission bits it had."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    modes = []
    for e in entries:
        p = dest / _safe_rel(e["path"])
        p.parent.mkdir(parents=True, exist_ok=True)
        if e["kind"] == "dir":
            p.mkdir(exist_ok=True)
        elif e["kind"] == "link":
            os.symlink(e["target"], p)  # the intake refuses symlinks and says so: keep them for its notes
        elif e["kind"] == "file":
            p.write_bytes(e["data"])
        elif e["kind"] == "sparse":
            with open(p, "wb") as f:
                f.truncate(int(e["size"]))
        if "mode" in e:  # always readable and removable by the worker itself
            modes.append((p, (e["mode"] & 0o777) | (0o700 if e["kind"] == "dir" else 0o600)))
    for p, mode in reversed(modes):
        p.chmod(mode)


def _same_files(entries: list[dict], dest: Path) -> bool:
    """Whether ``dest`` already holds every packed file with the same bytes."""
    try:
        return all((dest / e["path"]).read_bytes() == e["data"] for e in entries if e["kind"] == "file")
    except OSError:
        return False


def _install_template(course: Course, rel: str, entries: list[dict]) -> None:
    """Put the coordinator's notebook template at ``staging/<rel>`` unless it is there already; swapped in whole,
    so a sandbox still reading the old one (another batch on a shared worker) keeps a complete copy."""
    dest = course.staging / _safe_rel(rel)
    if _same_files(entries, dest):
        return
    fresh = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}")
    unpack(entries, fresh)
    old = dest.with_name(f".{dest.name}.old.{uuid.uuid4().hex}")
    if dest.exists():
        dest.rename(old)
    fresh.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------------------------- worker side
_WORKER_LOCK = threading.Lock()
_WORKER_COURSES: dict[tuple, Course] = {}
_WORKER_DIGESTS: dict[tuple, str] = {}


def _scratch() -> Path:
    """This worker process's scratch folder: inside the Dask worker's local directory (removed with it)."""
    try:
        from distributed import get_worker

        base = Path(get_worker().local_directory)
    except (ImportError, ValueError):  # called outside a Dask worker (tests, a debugging session)
        base = Path(tempfile.gettempdir()) / f"autograder-worker-{os.getpid()}"
    return base / "autograder-work"


def case_config(course: Course) -> dict:
    """Which cases the coordinator grades on, as a job carries it: ``cases`` and an explicit ``secret`` (a
    benchmark's or a test's own). ``secret`` None: each machine reads the term secret from its own configuration
    (it never travels); the digest check refuses a worker whose cases differ."""
    return {"cases": course.cases, "secret": course.secret}


def worker_course(root: str, cases: str = "hidden", secret: str | None = None) -> Course:
    """The course tree at ``root`` on ``cases`` (``case_config``) with this worker's scratch work folder (one per
    process and case set, kept warm)."""
    key = (root, cases, secret)
    with _WORKER_LOCK:
        if key not in _WORKER_COURSES:
            if not (Path(root) / "course" / "topics.py").is_file():
                raise InfrastructureError(f"{socket.gethostname()}: no course tree at {root}")
            _WORKER_COURSES[key] = Course(root=Path(root), work=_scratch(), cases=cases, secret=secret)
        return _WORKER_COURSES[key]


def worker_digest(course: Course, assignment: str) -> str:
    """The digest as this worker process loaded the course (computed once per process and assignment)."""
    key = (str(course.root), course.cases, course.secret, assignment)
    with _WORKER_LOCK:
        if key not in _WORKER_DIGESTS:
            _WORKER_DIGESTS[key] = digest(course, assignment)
        return _WORKER_DIGESTS[key]


def _identity(slot: int | None = None) -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "slot": slot}


def prepare_worker(
    root: str,
    assignments: list[str],
    cell_timeout: float,
    notebook: bool,
    templates: dict[str, list[dict]],
    cases: dict | None = None,
) -> str:
    """Warm one worker: digests, reference outputs, the coordinator's notebook templates (``templates``: folder
    relative to ``staging/`` -> packed entries), the notebook fork server. JSON {host, pid, digests}."""
    from autograder import nbrun
    from autograder.libgrade import reference_cases

    course = worker_course(root, **(cases or {}))
    with _WORKER_LOCK:
        for rel, entries in templates.items():
            _install_template(course, rel, entries)
    digests = {}
    for a in assignments:
        digests[a] = worker_digest(course, a)
        reference_cases(course, course.topic(a))
        if notebook:
            nbrun.template(course, a, cell_timeout)  # the installed one, unless it is stale: then built here
    if notebook and hasattr(nbrun, "_zygote"):  # the notebook fork server, started once per process
        nbrun._zygote()
    return json.dumps({**_identity(), "digests": digests})


@contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    """Inside a Dask worker: exit the process if the body overruns ``seconds`` (the nanny restarts it and the
    scheduler requeues the submission). Elsewhere: nothing."""
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        yield
        return

    def give_up() -> None:
        print(
            f"autograder worker {os.getpid()}: a grading overran its {seconds:.0f} s deadline; "
            "exiting so that the scheduler requeues it",
            file=sys.stderr,
            flush=True,
        )
        os._exit(WORKER_TIMEOUT_EXIT)

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _staged_files(base: Path) -> list[dict]:
    """The graded staging copy (``sub/``, ``logs/``) as [{path, data (base64)}]: regular files only."""
    out, budget = [], SHIP_TOTAL_MAX
    for top in ("sub", "logs"):
        root = base / top
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("*")):
            st = os.lstat(p)
            if not stat.S_ISREG(st.st_mode) or st.st_size > min(RETURN_FILE_MAX, budget):
                continue
            data = p.read_bytes()
            budget -= len(data)
            out.append({"path": p.relative_to(base).as_posix(), "data": base64.b64encode(data).decode()})
    return out


def encode_result(job: dict, out: Outcome, intake: Intake, nbres: NbResult | None, base: Path, slot: int) -> dict:
    """The JSON-able result of one graded submission (see the module docstring)."""
    import nbformat

    nb = None
    if nbres is not None:
        nb = {f.name: getattr(nbres, f.name) for f in fields(NbResult) if f.name != "notebook"}
        nb["notebook"] = nbformat.writes(nbres.notebook) if nbres.notebook is not None else None
    return {
        "version": RESULT_VERSION,
        "student": job["student"],
        "assignment": job["assignment"],
        "digest": job["digest"],
        "worker": _identity(slot),
        "outcome": asdict(out),
        "intake": asdict(intake),
        "notebook": nb,
        "staged": _staged_files(base),
    }


def grade_job(job: dict) -> str:
    """Run on a worker: unpack, ``grade_one`` under a machine-unique uid slot, answer with one JSON text.

    Errors of this submission's grading come back as ``{"error": {"kind": "grading"}}`` (the submission gets 0
    with the reason); a worker that cannot grade as the coordinator does says ``"kind": "infrastructure"``."""
    student, assignment = job["student"], job["assignment"]
    head = {"version": RESULT_VERSION, "student": student, "assignment": assignment, "worker": _identity()}
    try:
        course = worker_course(job["root"], **job.get("cases", {}))
        mine = worker_digest(course, assignment)
    except Exception as exc:  # noqa: BLE001 - the worker cannot load the course: infrastructure
        return json.dumps({**head, "error": {"kind": "infrastructure", "message": f"{type(exc).__name__}: {exc}"}})
    if mine != job["digest"]:
        message = (
            f"worker {head['worker']['host']} (pid {os.getpid()}) grades {assignment} with different inputs "
            f"than the coordinator (course tree, code, reference or hidden cases at {job['root']}): update it "
            "and restart the workers"
        )
        return json.dumps({**head, "error": {"kind": "infrastructure", "message": message}})
    try:
        _safe_rel(f"{student}/{assignment}")
    except ResultError as exc:
        return json.dumps({**head, "error": {"kind": "grading", "message": f"ResultError: {exc}"}})
    src = course.submitted / student / assignment
    base = course.staging / assignment / student
    try:
        unpack(job["files"], src)
        # grade_one leases its sandbox uids itself (jail.lease_uids: unique across processes on this machine)
        out, intake, _lib, nbres = grade_one(course, student, assignment, Limits(**job["limits"]), 0, job["notebook"])
        return json.dumps(encode_result(job, out, intake, nbres, base, 0))
    except InfrastructureError as exc:
        return json.dumps({**head, "error": {"kind": "infrastructure", "message": str(exc)}})
    except Exception as exc:  # noqa: BLE001 - the batch continues; the submission gets the reason
        return json.dumps({**head, "error": {"kind": "grading", "message": f"{type(exc).__name__}: {exc}"}})
    finally:  # nothing of it stays on the worker (run/ holds the hidden inputs)
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


def run_task(task: Callable[[dict], str], job: dict) -> str:
    """What a worker executes: ``task(job)`` (``grade_job``) under the job's hard deadline."""
    with _watchdog(job["deadline"]):
        return task(job)


# ---------------------------------------------------------------------------------- coordinator: validation
def _text(v, cap: int = TEXT_MAX) -> str:
    if not isinstance(v, str):
        raise ResultError(f"expected text, got {type(v).__name__}")
    return v[:cap]


def _texts(v) -> list[str]:
    if not isinstance(v, list):
        raise ResultError(f"expected a list, got {type(v).__name__}")
    return [_text(x) for x in v[:1000]]


def _reasons(v) -> dict[str, str]:
    if not isinstance(v, dict):
        raise ResultError(f"expected a mapping, got {type(v).__name__}")
    return {_text(k, 200): _text(r) for k, r in list(v.items())[:1000]}


def _seconds(v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise ResultError(f"bad duration {v!r}")
    return float(v)


def _reject_constant(name: str):
    raise ResultError(f"non-finite number {name} in a result")


def _scalar(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v[:TEXT_MAX] if isinstance(v, str) else v
    raise ResultError(f"unexpected value of type {type(v).__name__}")


def _plain(v, depth: int = 0):
    """Plain JSON data of bounded size: text capped, at most 1000 items per level, 4 levels (fields another
    engineer adds to ``Outcome`` or ``Intake`` travel without a change here)."""
    if isinstance(v, (list, dict)):
        if depth >= 4:
            raise ResultError("a result nested too deeply")
        if isinstance(v, list):
            return [_plain(x, depth + 1) for x in v[:1000]]
        return {_text(k, 200): _plain(x, depth + 1) for k, x in list(v.items())[:1000]}
    return _scalar(v)


def _extra(cls, d: dict, done: set[str]) -> dict:
    """The fields of dataclass ``cls`` not validated one by one, as plain data (absent ones keep their default)."""
    return {f.name: _plain(d[f.name]) for f in fields(cls) if f.name not in done and f.name in d}


@dataclass
class Graded:
    """One submission back from a worker, validated; nothing is written to the gradebook yet."""

    student: str
    assignment: str
    outcome: Outcome | None = None
    intake: Intake | None = None
    nbres: NbResult | None = None
    worker: dict = field(default_factory=dict)
    error: str = ""  # this submission's grading failed: it gets 0 with this reason
    infrastructure: bool = False  # ... because the machinery failed (only with grade(raise_infrastructure=False))


def decode_result(course: Course, job: dict, text: str) -> Graded:
    """Parse and validate a worker's JSON against the coordinator's own topic definition. Raises
    ``InfrastructureError`` for a worker that cannot grade like the coordinator, ``ResultError`` for a result
    of the wrong shape."""
    import nbformat

    if not isinstance(text, str):
        raise ResultError(f"a result must be JSON text, got {type(text).__name__}")
    try:
        d = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ResultError(f"not JSON: {exc}") from None
    if not isinstance(d, dict) or d.get("version") != RESULT_VERSION:
        raise ResultError(f"result version {d.get('version') if isinstance(d, dict) else None!r}")
    student, assignment = job["student"], job["assignment"]
    if d.get("student") != student or d.get("assignment") != assignment:
        raise ResultError(f"result for {d.get('student')}/{d.get('assignment')}, expected {student}/{assignment}")
    worker = {k: _scalar(v) for k, v in dict(d.get("worker") or {}).items()}
    if "error" in d:
        err = d["error"] if isinstance(d["error"], dict) else {}
        message = _text(err.get("message", "unknown error"))
        if err.get("kind") == "infrastructure":
            raise InfrastructureError(f"{student}/{assignment}: {message}")
        return Graded(student, assignment, worker=worker, error=message)
    if d.get("digest") != job["digest"]:
        raise ResultError("the result was graded for other grading inputs")

    parts = {p.name: p for p in course.topic(assignment).parts}
    o = d.get("outcome")
    if not isinstance(o, dict) or not isinstance(o.get("cells"), dict):
        raise ResultError("no outcome")
    if set(o["cells"]) != set(parts):
        raise ResultError(f"cells {sorted(o['cells'])} are not the parts {sorted(parts)}")
    cells = {}
    for name, c in o["cells"].items():
        if not isinstance(c, dict) or c.get("kind") != "library" or c.get("name") != name:
            raise ResultError(f"cell {name}: not a library part")
        maxp = float(parts[name].points)
        if c.get("max_points") != maxp:
            raise ResultError(f"cell {name}: max_points {c.get('max_points')!r}, the part is worth {maxp:g}")
        pts = c.get("points")
        if isinstance(pts, bool) or not isinstance(pts, (int, float)) or not 0 <= pts <= maxp:
            raise ResultError(f"cell {name}: points {pts!r} outside [0, {maxp:g}]")
        cells[name] = CellScore(name, float(pts), maxp, _text(c.get("reason")), "library")
    status = o.get("notebook_status")
    if status not in NB_STATUSES | {"skipped", ""}:
        raise ResultError(f"notebook status {status!r}")
    summary = _plain(o.get("intake"))
    if not isinstance(summary, dict):
        raise ResultError("no intake summary")
    summary.update({k: _texts(summary.get(k, [])) for k in ("taken", "ignored", "notes")})
    summary["missing"] = _reasons(summary.get("missing", {}))
    known = {
        "student": student,
        "assignment": assignment,
        "cells": cells,
        "notebook_status": status,
        "notebook_reason": _text(o.get("notebook_reason")),
        "intake": summary,
        "seconds": _seconds(o.get("seconds")),
        "lib_seconds": _seconds(o.get("lib_seconds")),
        "nb_seconds": _seconds(o.get("nb_seconds")),
        "notes": _texts(o.get("notes")),
        "graded_at": _text(o.get("graded_at"), 64),
    }
    outcome = Outcome(**known, **_extra(Outcome, o, set(known)))

    i = d.get("intake")
    if not isinstance(i, dict) or not isinstance(i.get("notebook"), bool):
        raise ResultError("no intake")
    ts = i.get("timestamp")
    known = {
        "notebook": i["notebook"],
        "notebook_reason": _text(i.get("notebook_reason")),
        "taken": _texts(i.get("taken")),
        "missing": _reasons(i.get("missing")),
        "ignored": _texts(i.get("ignored")),
        "notes": _texts(i.get("notes")),
        "timestamp": None if ts is None else _text(ts, 64),
    }
    intake = Intake(**known, **_extra(Intake, i, set(known)))

    nbres = None
    n = d.get("notebook")
    if n is not None:
        if not isinstance(n, dict) or n.get("status") not in NB_STATUSES:
            raise ResultError("bad notebook result")
        text_nb = n.get("notebook")
        try:  # the autograded notebook is untrusted data, parsed here as it was before
            notebook = nbformat.reads(text_nb, as_version=4) if isinstance(text_nb, str) else None
        except Exception:  # noqa: BLE001
            notebook = None
        known = {
            "status": n["status"],
            "reason": _text(n.get("reason")),
            "notebook": notebook,
            "seconds": _seconds(n.get("seconds", 0.0)),
        }
        nbres = NbResult(**known, **_extra(NbResult, n, set(known)))

    staged = d.get("staged")
    if not isinstance(staged, list):
        raise ResultError("no staged files")
    files = []
    for e in staged:
        if not isinstance(e, dict):
            raise ResultError("bad staged entry")
        rel = _safe_rel(_text(e.get("path"), 1000), roots=("sub", "logs"))
        try:
            files.append((rel, base64.b64decode(_text(e.get("data"), 2 * SHIP_TOTAL_MAX), validate=True)))
        except ValueError as exc:
            raise ResultError(f"staged {rel}: {exc}") from None
    _mirror_staging(course, student, assignment, files)
    return Graded(student, assignment, outcome, intake, nbres, worker)


def _mirror_staging(course: Course, student: str, assignment: str, files: list[tuple[PurePosixPath, bytes]]) -> None:
    """Replace the coordinator's ``staging/<a>/<s>/`` by the graded copy: what the sandbox saw and its logs
    (``grade.record`` reads the staged notebook there; the instructor can inspect it)."""
    base = course.staging / assignment / student
    if base.exists():
        shutil.rmtree(base)
    for rel, data in files:
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


# ------------------------------------------------------------------------------------- coordinator: cluster
def lib_wall(course: Course, assignment: str, limits: Limits) -> float:
    topic = course.topic(assignment)
    return limits.lib_wall or (sum(min(p.timeout, limits.part_timeout or p.timeout) for p in topic.parts) + 15)


class GradingCluster:
    """A Dask client for grading: ``scheduler`` (an address such as ``tcp://host:8786``, or the path of a
    scheduler file) or a ``LocalCluster`` of ``jobs`` single-threaded worker processes.

    ``grade(course, pairs, limits)`` yields validated ``Graded`` results as they complete and writes nothing but
    the coordinator's staging mirror: ``autograder.batch.grade_batch`` records them; a canary can call it on its
    own course to grade through exactly the workers and sandbox configuration of the batch.

    ``task``: the function the workers run (default ``grade_job``; tests wrap it); ``deadline``: a fixed hard
    deadline per submission in seconds (default: the sandboxes' wall clocks + ``DEADLINE_SLACK``).
    """

    def __init__(
        self,
        scheduler: str | None = None,
        jobs: int | None = None,
        task: Callable[[dict], str] = grade_job,
        deadline: float | None = None,
        no_worker_timeout: float = 600.0,
    ) -> None:
        import dask
        from distributed import Client, LocalCluster

        self.task, self.deadline, self.no_worker_timeout = task, deadline, no_worker_timeout
        self.cluster = None
        if scheduler:
            self.where = f"Dask scheduler {scheduler}"
            try:
                if Path(scheduler).is_file():
                    self.client = Client(scheduler_file=scheduler, timeout=60)
                else:
                    self.client = Client(scheduler, timeout=60)
            except (OSError, TimeoutError) as exc:
                raise InfrastructureError(f"cannot reach the {self.where}: {exc}") from None
        else:
            self.jobs = max(1, jobs or os.cpu_count() or 1)
            with dask.config.set({"distributed.scheduler.allowed-failures": 3}):
                self.cluster = LocalCluster(
                    n_workers=self.jobs,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=":0",  # no fixed port (its HTTP server starts anyway)
                    memory_limit=0,  # sandboxes have their own limits; no spilling or pausing
                )
            self.client = Client(self.cluster)
            self.where = f"local cluster of {self.jobs} worker process(es)"

    # -- lifecycle
    def scale(self, jobs: int) -> None:
        """A local cluster only: grow or shrink to ``jobs`` worker processes (and wait for them)."""
        if self.cluster is None:
            raise ValueError(f"cannot scale the {self.where} from here")
        self.cluster.scale(jobs)
        self.jobs = jobs
        self.client.wait_for_workers(jobs, timeout=self.no_worker_timeout)
        self.where = f"local cluster of {jobs} worker process(es)"

    def close(self) -> None:
        import logging

        self.client.close()
        if self.cluster is not None:
            nanny = logging.getLogger("distributed.nanny")
            level = nanny.level
            nanny.setLevel(logging.ERROR)  # a worker slow to exit on a busy machine is killed: nothing to report
            try:
                self.cluster.close()
            finally:
                nanny.setLevel(level)

    def __enter__(self) -> GradingCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- workers
    def workers(self) -> dict[str, int]:
        """Worker address -> threads."""
        return dict(self.client.nthreads())

    def worker_pids(self) -> dict[str, int]:
        return self.client.run(os.getpid)

    def wait_for_workers(self, n: int = 1, timeout: float | None = None) -> None:
        try:
            self.client.wait_for_workers(n, timeout=timeout or self.no_worker_timeout)
        except TimeoutError:
            raise InfrastructureError(f"{self.where}: no worker came up within {timeout} s") from None

    def warm(self, course: Course, assignments: list[str], limits: Limits, notebook: bool = True) -> list[dict]:
        """Prepare every current worker (digests, reference outputs, the coordinator's notebook templates, the
        notebook fork server) and check that it grades with the coordinator's inputs; a worker that does not is an
        ``InfrastructureError`` before any grading. A worker that joins later prepares on its first submission."""
        from distributed import wait

        from autograder.nbrun import needs_run, template

        mine = {a: digest(course, a) for a in assignments}
        templates = {}
        for a in assignments:  # built once here (trusted), shipped to every worker that executes notebooks
            if notebook or needs_run(course, a):
                tpl = template(course, a, limits.cell_timeout)
                templates[tpl.relative_to(course.staging).as_posix()] = pack(tpl)
        self.wait_for_workers(1)
        futs = [
            self.client.submit(
                prepare_worker,
                str(course.root),
                list(assignments),
                limits.cell_timeout,
                notebook,
                templates,
                case_config(course),
                workers=[addr],
                allow_other_workers=False,
                pure=False,
                key=f"warm-{uuid.uuid4().hex}",
            )
            for addr in self.workers()
        ]
        try:
            wait(futs, timeout=600)
        except TimeoutError:  # a worker that is still preparing gets checked on its first submission
            pass
        done = [f for f in futs if f.done()]
        infos = []
        for fut in done:
            if fut.status != "finished":
                raise InfrastructureError(f"{self.where}: a worker failed to prepare: {fut.exception()!r}")
            info = json.loads(fut.result())
            bad = [a for a in assignments if info.get("digests", {}).get(a) != mine[a]]
            if bad:
                raise InfrastructureError(
                    f"worker {info.get('host')} (pid {info.get('pid')}) has other grading inputs for "
                    f"{', '.join(bad)} than the coordinator (course tree, code, reference or hidden cases at "
                    f"{course.root}): update it and restart the workers"
                )
            infos.append(info)
        for fut in futs:
            fut.release()
        return infos

    # -- grading
    def _job(self, course: Course, student: str, assignment: str, limits: Limits, notebook: bool, dig: str) -> dict:
        deadline = self.deadline or (
            lib_wall(course, assignment, limits) + (limits.nb_wall if notebook else 0.0) + DEADLINE_SLACK
        )
        return {
            "root": str(course.root),
            "student": student,
            "assignment": assignment,
            "files": pack(course.submitted / student / assignment),
            "limits": asdict(limits),
            "notebook": notebook,
            "digest": dig,
            "cases": case_config(course),
            "deadline": deadline,
        }

    def _window(self) -> int:
        """Submissions in flight: twice the worker threads (the rest stay packed only when their turn comes)."""
        return max(2, 2 * sum(self.workers().values()))

    def grade(
        self,
        course: Course,
        pairs: list[tuple[str, str]],
        limits: Limits,
        notebook: bool = True,
        raise_infrastructure: bool = True,
    ) -> Iterator[Graded]:
        """Grade (student, assignment) pairs on the workers; yield each validated result once, as it completes.
        A worker's infrastructure failure raises ``InfrastructureError`` (the batch stops), or, with
        ``raise_infrastructure=False`` (the canary, which reports every failure it meets), comes back as that
        submission's ``Graded.error`` with ``Graded.infrastructure`` set."""
        from distributed import KilledWorker, wait

        digests = {a: digest(course, a) for a in sorted({a for _, a in pairs})}
        todo = deque(dict.fromkeys(pairs))
        running: dict = {}
        idle_since = None
        try:
            while todo or running:
                while todo and len(running) < self._window():
                    s, a = todo.popleft()
                    job = self._job(course, s, a, limits, notebook, digests[a])
                    fut = self.client.submit(run_task, self.task, job, pure=False, key=f"grade-{a}-{uuid.uuid4().hex}")
                    running[fut] = job
                try:
                    done = wait(list(running), timeout=5, return_when="FIRST_COMPLETED").done
                except TimeoutError:
                    done = set()
                if not done:
                    if self.workers():
                        idle_since = None
                    elif idle_since is None:
                        idle_since = time.monotonic()
                    elif time.monotonic() - idle_since > self.no_worker_timeout:
                        raise InfrastructureError(f"{self.where}: no worker for {self.no_worker_timeout:.0f} s")
                    continue
                for fut in done:
                    job = running.pop(fut)
                    status = fut.status
                    exc = fut.exception() if status == "error" else None
                    text = fut.result() if status == "finished" else None
                    fut.release()  # no later worker death can make Dask recompute it
                    if isinstance(exc, KilledWorker):
                        yield Graded(
                            job["student"],
                            job["assignment"],
                            error="KilledWorker: every worker that graded it died",
                        )
                    elif text is None:
                        raise InfrastructureError(
                            f"{self.where}: grading {job['student']}/{job['assignment']} failed outside the "
                            f"grader ({status}: {exc!r}); can the workers import autograder (PYTHONPATH)?"
                        )
                    else:
                        try:
                            graded = decode_result(course, job, text)
                        except InfrastructureError as err:
                            if raise_infrastructure:
                                raise
                            graded = Graded(job["student"], job["assignment"], error=str(err), infrastructure=True)
                        except ResultError as err:
                            raise InfrastructureError(
                                f"{self.where}: malformed result for {job['student']}/{job['assignment']}: {err}"
                            ) from None
                        yield graded
        finally:
            if running:
                self.client.cancel(list(running))


# ------------------------------------------------------------------- one local cluster per process, reused
_LOCAL: dict[int, GradingCluster] = {}


def local_cluster(jobs: int) -> GradingCluster:
    """This process's local cluster of ``jobs`` workers, started on first use and kept warm for later batches
    (closed at exit; a different size replaces it)."""
    if jobs not in _LOCAL:
        for old in list(_LOCAL):
            _LOCAL.pop(old).close()
        _LOCAL[jobs] = GradingCluster(jobs=jobs)
    return _LOCAL[jobs]


@atexit.register
def _close_local() -> None:
    for jobs in list(_LOCAL):
        try:
            _LOCAL.pop(jobs).close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


# ------------------------------------------------------------------------ clusters that outlive one batch
def slurm_cluster(course: Course):
    """dask-jobqueue's ``SLURMCluster`` from the Dask config (``jobqueue.slurm``: queue, account, cores, memory,
    walltime, ...; docs/cluster/jobqueue.yaml), with what a grading worker needs added: this virtualenv's python
    unless the config names one, ``cd`` into the course tree with it on PYTHONPATH, and one single-threaded worker
    process per core (each grades one submission at a time in its own sandboxes)."""
    import shlex

    import dask
    from dask_jobqueue import SLURMCluster

    cfg = dask.config.get("jobqueue.slurm", default={}) or {}
    if not cfg.get("cores"):
        raise InfrastructureError(
            "jobqueue.slurm.cores is not configured: copy docs/cluster/jobqueue.yaml to ~/.config/dask/ and edit it"
        )
    root = shlex.quote(str(course.root))
    kwargs = {
        "python": cfg.get("python") or sys.executable,
        "job_script_prologue": [*(cfg.get("job-script-prologue") or []), f"cd {root}", f"export PYTHONPATH={root}"],
    }
    if not cfg.get("processes"):
        kwargs["processes"] = cfg["cores"]
    return SLURMCluster(**kwargs)


def serve_cluster(
    course: Course, kind: str, workers: int | None, scheduler_file: Path | None, print_job_script: bool = False
) -> int:
    """``python -m autograder cluster local|slurm``: start a cluster, write its scheduler file, wait for Ctrl-C
    (or SIGTERM). Workers stay warm across batches: ``autograde --scheduler <scheduler file>`` uses them."""
    import signal

    from distributed import Client, LocalCluster

    scheduler_file = scheduler_file or course.work / "dask-scheduler.json"
    if kind == "slurm":
        cluster = slurm_cluster(course)
        if print_job_script:
            print(cluster.job_script())
            cluster.close()
            return 0
        cluster.scale(jobs=workers or 1)
    else:
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # no fixed port (its HTTP server starts anyway)
            memory_limit=0,
        )

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    client = Client(cluster)
    try:
        scheduler_file.parent.mkdir(parents=True, exist_ok=True)
        client.write_scheduler_file(str(scheduler_file))
        print(f"Dask scheduler at {cluster.scheduler_address} ({kind}); scheduler file {scheduler_file}", flush=True)
        print(f"grade with: python -m autograder autograde --all --scheduler {scheduler_file}", flush=True)
        print("Ctrl-C stops the cluster", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        scheduler_file.unlink(missing_ok=True)
        client.close()
        cluster.close()
    return 0
