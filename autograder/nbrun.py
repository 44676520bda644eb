"""The notebook half of grading: the notebook the instructor sees, and (on request) its run in the sandbox.

What the notebook is for. Every autograded code cell of the course is a library part, scored in the library
sandbox (``libgrade``); every other grade cell is a written answer graded by hand. So grading needs the
notebook's TEXT (the answers: ``grade.record``'s no-response rule and the formgrader's view), not its
execution. By default nothing of the notebook runs: the staged notebook is read as data and
``graded_notebook`` builds, on the trusted side, what the formgrader shows: the course's own cells restored
from the release and the gradebook, the student's answers and extra cells made inert (``autograder.sanitize``),
and the grader's ``[autograder]`` line with each library part's score.

``run_notebook`` (``autograde --run-notebook``, ``check --notebook``; automatic for an assignment whose
autograded cells are not all sandboxed library parts, see ``needs_run``) also executes it, for instructors who
want the outputs. Per assignment the trusted parent builds a template (``staging/_templates/<a>/``): a
gradebook made by ``nbgrader generate_assignment`` from the source notebook (it stores the cells after
ClearSolutions, so it holds the locked/test cells with their hidden ``hidden_check`` calls but no solution
code) and a small ``nbgrader_config.py``. Per submission the sandbox gets read-only ``/box/tpl`` (the template)
and ``/box/sub`` (the staged notebook + deepkit); ``sandbox/nb_runner.py`` copies them into its private
``/tmp/course`` and runs ``nbgrader autograde`` there, with the kernel inside the same sandbox. So neither
nbgrader nor the kernel can see the real gradebook, ``solutions/`` or other students. What comes back is
untrusted data: only the outputs of cells whose source is the one expected are taken, cleaned, into the
notebook ``graded_notebook`` builds, and only after the sandbox has ended (its PID namespace is empty: no
process of the submission survives to change anything afterwards).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import sanitize
from autograder.course import Course, Limits
from autograder.libgrade import sandbox_env
from autograder.sandbox import jail

RUNNER = Path(__file__).resolve().parent / "sandbox/nb_runner.py"
_TPL_LOCK = threading.Lock()
_ZYGOTE_LOCK = threading.Lock()
_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_ZYGOTE: list = []  # [Popen] once started; [None] if it cannot start (then every run execs a fresh sandbox)


def _zygote():
    """The process's fork server (autograder/sandbox/zygote.py), started on first use; None if unavailable."""
    import subprocess

    with _ZYGOTE_LOCK:
        if not _ZYGOTE or (_ZYGOTE[0] is not None and _ZYGOTE[0].poll() is not None):
            _ZYGOTE.clear()
            if os.environ.get("AUTOGRADER_NO_ZYGOTE"):
                _ZYGOTE.append(None)
                return None
            root = str(Path(__file__).resolve().parent.parent)
            # one BLAS thread: the zygote imports numpy for the pre-forked kernels, and threads do not survive a fork
            env = dict(os.environ, PYTHONPATH=root, PYTHONDONTWRITEBYTECODE="1", **_ONE_THREAD)
            proc = subprocess.Popen(  # the real interpreter path: the kernels it starts in sandboxes use it
                [jail.interpreter(), "-c", "from autograder.sandbox.zygote import serve; serve()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=root,
                env=env,
                text=True,
                start_new_session=True,
            )
            ready = proc.stdout.readline().strip() == "ready"
            _ZYGOTE.append(proc if ready else None)
        return _ZYGOTE[0]


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux >= 5.3: _await_end polls /proc instead
        return None


def _ended(pid: int, pidfd: int | None, timeout: float) -> bool:
    import select

    if pidfd is not None:
        return bool(select.select([pidfd], [], [], timeout)[0])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except (OSError, IndexError):
            return True
        time.sleep(0.02)
    return False


def _await_end(pid: int, pidfd: int | None, grace: float = 10.0) -> None:
    """Return only when the sandbox's launcher has exited (killing its process group after ``grace``).

    The launcher exits after waiting for the sandbox's PID 1; when PID 1 of a PID namespace exits, the kernel
    kills every other process in it and reaps them all before PID 1's exit is reported (zap_pid_ns_processes).
    So once the launcher has ended, no process of the submission is left (a detached process that kept
    rewriting nbgrader's output, say)."""
    try:
        if not _ended(pid, pidfd, grace):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if not _ended(pid, pidfd, grace):
                raise RuntimeError(f"the notebook sandbox (launcher pid {pid}) did not end after SIGKILL")
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _run_in_zygote(zyg, j: jail.Jail, assignment: str, fifo: Path) -> jail.JailResult | None:
    """Like jail.run, but the sandbox is forked from the pre-loaded zygote; None if the zygote failed.
    Returns only after the sandbox has ended (``_await_end``)."""
    if fifo.exists():
        fifo.unlink()
    os.mkfifo(fifo, 0o600)
    cfg = jail.launcher_config(j)
    sink, flag = [], []
    t0 = time.monotonic()
    reader = threading.Thread(
        target=lambda: jail.read_capped(os.open(fifo, os.O_RDONLY), j.max_result, sink, flag), daemon=True
    )
    reader.start()
    try:
        with _ZYGOTE_LOCK:
            zyg.stdin.write(
                json.dumps({"cfg": cfg, "fifo": str(fifo), "log": str(j.log), "assignment": assignment}) + "\n"
            )
            zyg.stdin.flush()
            pid = json.loads(zyg.stdout.readline())["pid"]
            launcher = _pidfd(pid)  # the launcher is the zygote's child, not ours: watch it through a pidfd
    except (OSError, ValueError, KeyError, TypeError):
        try:  # unblock the reader
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        return None
    reader.join(timeout=j.wall + 10)
    timed_out = reader.is_alive() or time.monotonic() - t0 >= j.wall - 0.5
    while reader.is_alive() or flag:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        reader.join(timeout=5)
        if flag:
            break
    _await_end(pid, launcher)
    fifo.unlink(missing_ok=True)
    tail = ""
    if j.log and j.log.is_file():
        with open(j.log, "rb") as f:
            f.seek(max(0, j.log.stat().st_size - 4000))
            tail = f.read().decode("utf-8", "replace")
    return jail.JailResult(
        jail.parse_frames(sink[0] if sink else b""),
        124 if timed_out else 0,
        timed_out,
        bool(flag),
        time.monotonic() - t0,
        bool(jail.read_log(j.log)[0]),
        tail,
    )


@dataclass
class NbResult:
    """One execution of the notebook in the sandbox. ``notebook`` is nbgrader's output: untrusted data."""

    status: str  # "ok", "errors" (some cells failed), "timeout", "crashed", "missing"
    reason: str
    notebook: nbformat.NotebookNode | None
    seconds: float = 0.0
    log_tail: str = ""


# ------------------------------------------------------------------------------ the notebook the grader sees
_RELEASE_LOCK = threading.Lock()
_RELEASE: dict = {}  # (path, mtime_ns) -> the parsed release notebook


def _release(course: Course, assignment: str) -> nbformat.NotebookNode:
    """The parsed release notebook, shared: never modify it (``release_notebook`` gives a copy)."""
    path = course.path(course.find(assignment).exercise_notebook)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python -m autograder release` (make release)")
    key = (str(path), path.stat().st_mtime_ns)
    with _RELEASE_LOCK:
        if key not in _RELEASE:
            _RELEASE[key] = nbformat.read(str(path), as_version=4)
        return _RELEASE[key]


def release_notebook(course: Course, assignment: str) -> nbformat.NotebookNode:
    """The assignment's release notebook (``exercises/``, generated from ``solutions/``): the course's cells,
    their order and their nbgrader metadata. Parsed once per process; a copy is returned."""
    import copy

    return copy.deepcopy(_release(course, assignment))


def _grading(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell, dict) else None
    return meta if isinstance(meta, dict) else {}


def needs_run(course: Course, assignment: str) -> bool:
    """True when the assignment has an autograded code cell that is not a sandboxed library part: only
    nbgrader's run of the notebook can score it (no topic of the course has one today)."""
    parts = {p.name for p in course.topic(assignment).parts}
    return any(
        c.cell_type == "code"
        and _grading(c).get("grade")
        and not _grading(c).get("solution")
        and _grading(c).get("grade_id") not in parts
        for c in _release(course, assignment).cells
    )


def graded_notebook(
    release: nbformat.NotebookNode,
    saved: dict[str, str],
    submitted: nbformat.NotebookNode | None,
    ran: nbformat.NotebookNode | None = None,
    lines: dict[str, str] | None = None,
    note: str = "",
) -> nbformat.NotebookNode:
    """The notebook the formgrader shows, built on the trusted side from validated data only.

    ``release``: the release notebook (trusted: order, metadata, the course's text); ``saved``: grade_id ->
    source of the locked cells as the gradebook stores them (trusted); ``submitted``: the staged notebook
    (untrusted; None when there is none); ``ran``: nbgrader's output of the sandboxed run (untrusted; None when
    not executed); ``lines``: grade_id -> the grader's result line for that cell; ``note``: a line from the
    grader shown at the top.

    Cells of the submission in their order. A cell carrying a known ``grade_id`` (first occurrence) gets the
    release's metadata and type; a locked one also its trusted source (an edited test cell is restored), an
    answer keeps the student's text. A graded cell the student deleted is put back after the course cell that
    preceded it. A cell identical to a release cell is the course's text and kept as is; every other text
    the student wrote is made inert (``sanitize.inert_markdown``, literal blocks for raw cells) and its
    ``[autograder]`` labels rewritten. Outputs come only from ``ran``, for a code cell whose source there is
    exactly the one expected, cleaned by ``sanitize.clean_outputs``; the grader's line goes first.
    """
    lines = lines or {}
    student = sanitize.neutralise_marker
    course_cells = {}  # grade_id -> release cell
    for c in release.cells:
        gid = _grading(c).get("grade_id")
        if isinstance(gid, str) and gid not in course_cells:
            course_cells[gid] = c
    course_text = {(c.cell_type, c.source) for c in release.cells}
    cells = submitted.get("cells") if submitted is not None and isinstance(submitted.get("cells"), list) else []
    aligned = ran is not None and isinstance(ran.get("cells"), list) and len(ran.cells) == len(cells)

    def trusted_cell(c):  # a course cell: the release's cell with the gradebook's source when locked
        gid = _grading(c).get("grade_id")
        new = nbformat.from_dict({"cell_type": c.cell_type, "metadata": dict(c.metadata), "source": c.source})
        if gid in saved and not _grading(c).get("solution"):
            new.source = saved[gid]
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
        return new

    matched = {}  # index in the submission -> grade_id
    for i, c in enumerate(cells):
        gid = _grading(c).get("grade_id")
        if isinstance(gid, str) and gid in course_cells and gid not in matched.values():
            matched[i] = gid
    # course cells the student deleted go back after the course cell that preceded them
    missing_after: dict[str | None, list] = {}
    previous = None
    for gid, c in course_cells.items():
        if gid in matched.values():
            previous = gid
        else:
            missing_after.setdefault(previous, []).append(c)

    out_cells = [trusted_cell(c) for c in missing_after.get(None, [])]
    for i, c in enumerate(cells):
        if not isinstance(c, dict):
            continue
        source = sanitize.text_of(c.get("source")) or ""
        kind = c.get("cell_type")
        gid = matched.get(i)
        if gid is not None:
            new = trusted_cell(course_cells[gid])
            if _grading(course_cells[gid]).get("solution"):  # the student's answer
                if new.cell_type == "markdown":
                    attachments = sanitize.clean_attachments(c.get("attachments"))
                    new.source = sanitize.inert_markdown(student(source), attachments)
                    if attachments:
                        new.attachments = attachments
                else:
                    new.source = student(source)
            expected = new.source if not _grading(course_cells[gid]).get("solution") else source
        elif kind in ("code", "markdown") and (kind, source) in course_text:
            new = nbformat.from_dict({"cell_type": kind, "metadata": {}, "source": source})
            expected = source
        elif kind == "code":
            new, expected = nbformat.v4.new_code_cell(student(source)), source
        elif kind == "markdown":
            attachments = sanitize.clean_attachments(c.get("attachments"))
            new = nbformat.v4.new_markdown_cell(sanitize.inert_markdown(student(source), attachments))
            if attachments:
                new.attachments = attachments
            expected = None
        else:
            new = nbformat.v4.new_markdown_cell(sanitize.literal_markdown(student(source), "a raw cell"))
            expected = None
        if new.cell_type == "code":
            new.setdefault("outputs", [])
            new.setdefault("execution_count", None)
            if aligned and expected is not None:
                r = ran.cells[i]
                if (
                    isinstance(r, dict)
                    and r.get("cell_type") == "code"
                    and sanitize.text_of(r.get("source")) == expected
                ):
                    new.outputs = sanitize.clean_outputs(r.get("outputs"), student)
                    count = r.get("execution_count")
                    new.execution_count = count if isinstance(count, int) and not isinstance(count, bool) else None
        out_cells.append(new)
        if gid is not None:
            out_cells += [trusted_cell(m) for m in missing_after.get(gid, [])]
    for new in out_cells:
        gid = _grading(new).get("grade_id")
        if new.cell_type == "code" and gid in lines:
            text = f"{sanitize.MARKER} {sanitize.one_line(student(lines[gid]))}\n"
            new.outputs.insert(0, nbformat.v4.new_output("stream", name="stdout", text=text))
    if note:
        out_cells.insert(0, nbformat.v4.new_markdown_cell(f"*{sanitize.MARKER} {sanitize.one_line(note)}*"))
    nb = nbformat.v4.new_notebook(metadata=sanitize.clean_notebook_metadata(release.metadata))
    for k, new in enumerate(out_cells):
        new.id = f"cell-{k}"
    nb.cells = out_cells
    return nb


def nbgrader_config_text(root: str, db: str, cell_timeout: float) -> str:
    return (
        f"c = get_config()\n"
        f"c.CourseDirectory.root = {root!r}\n"
        f"c.CourseDirectory.db_url = {db!r}\n"
        f"c.CourseDirectory.notebook_id = '*'\n"
        f"c.CourseDirectory.course_id = 'deepkit-course'\n"
        f"c.ClearSolutions.begin_solution_delimeter = 'BEGIN SOLUTION'\n"
        f"c.ClearSolutions.end_solution_delimeter = 'END SOLUTION'\n"
        f"c.ClearSolutions.code_stub = {{'python': '# YOUR CODE HERE\\nraise NotImplementedError()'}}\n"
        f"c.ClearHiddenTests.begin_test_delimeter = 'BEGIN HIDDEN TESTS'\n"
        f"c.ClearHiddenTests.end_test_delimeter = 'END HIDDEN TESTS'\n"
        f"c.GenerateAssignment.create_assignment = True\n"
        f"c.Execute.timeout = {int(cell_timeout)}\n"
        f"c.Execute.kernel_name = 'python3'\n"
        f"c.Execute.interrupt_on_timeout = True\n"
        f"c.Execute.startup_timeout = 120\n"
        f"c.LimitOutput.max_lines = 200\n"
        f"c.LimitOutput.max_traceback = 100\n"
    )


def generate_gradebook(course: Course, assignment: str, db_url: str) -> None:
    """Run ``nbgrader generate_assignment`` for one assignment in a throw-away course, writing ``db_url``."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    bindir = str(Path(sys.executable).parent)  # nbgrader stamps new gradebooks with the `alembic` script
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="ag-generate-") as tmp:
        src = course.path(course.find(assignment).source_notebook)
        (Path(tmp) / "source" / assignment).mkdir(parents=True)
        shutil.copy(src, Path(tmp) / "source" / assignment)
        cfg = Config()
        exec(compile(nbgrader_config_text(tmp, db_url, 120), "cfg", "exec"), {"get_config": lambda: cfg})
        cfg.CourseDirectory.source_directory = "source"
        cfg.CourseDirectory.release_directory = "release"
        coursedir = CourseDirectory(config=cfg)
        coursedir.assignment_id = assignment
        app = GenerateAssignment(coursedir=coursedir, config=cfg)
        app.log.setLevel(logging.ERROR)
        app.force = True
        app.start()


def template(course: Course, assignment: str, cell_timeout: float) -> Path:
    """The assignment's template folder (rebuilt when the source notebook or the timeout changes)."""
    src = course.path(course.find(assignment).source_notebook)
    stamp = hashlib.sha256(src.read_bytes() + str(cell_timeout).encode()).hexdigest()[:16]
    tpl = course.staging / "_templates" / assignment
    with _TPL_LOCK:
        if (tpl / "stamp").is_file() and (tpl / "stamp").read_text() == stamp:
            return tpl
        if tpl.exists():
            shutil.rmtree(tpl)
        tpl.mkdir(parents=True)
        generate_gradebook(course, assignment, f"sqlite:///{tpl / 'gradebook.db'}")
        (tpl / "nbgrader_config.py").write_text(
            nbgrader_config_text("/tmp/course", "sqlite:////tmp/course/gradebook.db", cell_timeout)
        )
        shutil.copy(RUNNER, tpl / "runner.py")
        for p in [tpl, *tpl.iterdir()]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        (tpl / "stamp").write_text(stamp)
    return tpl


def run_notebook(
    course: Course, assignment: str, sub_dir: Path, limits: Limits, uid: int | None = None, log: Path | None = None
) -> NbResult:
    """nbgrader autograde of the staged notebook, in the sandbox. Returns the untrusted autograded notebook.
    ``uid``: the sandbox uid (None: one is leased for this run)."""
    if not (sub_dir / f"{assignment}.ipynb").is_file():
        return NbResult("missing", "no notebook was submitted (or it was unreadable)", None)
    if uid is None:
        with jail.lease_uids(1) as (leased,):
            return run_notebook(course, assignment, sub_dir, limits, leased, log)
    tpl = template(course, assignment, limits.cell_timeout)
    env = sandbox_env()
    env.update(
        {
            "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime",
            "JUPYTER_CONFIG_DIR": "/tmp/jupyter-config",
            "JUPYTER_DATA_DIR": "/tmp/jupyter-data",
            "IPYTHONDIR": "/tmp/ipython",
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        }
    )
    j = jail.Jail(
        argv=[sys.executable, "-I", "/box/tpl/runner.py", assignment],
        binds={"/box/sub": str(sub_dir), "/box/tpl": str(tpl)},
        wall=limits.nb_wall,
        cpu=limits.nb_wall,
        memory=limits.nb_memory,
        nproc=limits.nb_nproc,
        fsize=limits.fsize,
        scratch=max(limits.scratch, 512 * 1024**2),
        uid=uid,
        env=env,
        cwd="/tmp",
        max_result=limits.max_result,
        log=log,
        isolation=limits.isolation,
    )
    zyg = _zygote()
    res = _run_in_zygote(zyg, j, assignment, sub_dir.parent / "logs" / "result.fifo") if zyg else None
    if res is None:
        res = jail.run(j)
    status, nb = None, None
    if res.frames:
        try:
            status = json.loads(res.frames[0].decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            status = None
    if len(res.frames) > 1:
        try:
            nb = nbformat.reads(res.frames[1].decode("utf-8"), as_version=4)
        except Exception:  # noqa: BLE001 - whatever the student's kernel left there
            nb = None
    if res.timed_out:
        return NbResult(
            "timeout",
            f"the notebook run was stopped after {limits.nb_wall:.0f} s (a cell that never "
            "finishes or ignores interrupts?)",
            nb,
            res.seconds,
            res.log_tail,
        )
    log_text = (status or {}).get("log", "") if isinstance(status, dict) else res.log_tail
    if nb is None and ("CellTimeoutError" in str(log_text) or "Timeout waiting for execute reply" in str(log_text)):
        return NbResult(
            "timeout",
            f"a cell ran past the {limits.cell_timeout:.0f} s cell limit and nbgrader gave up "
            "on the notebook (the library parts are graded separately)",
            None,
            res.seconds,
            str(log_text)[-3000:],
        )
    if not isinstance(status, dict) or nb is None:
        return NbResult(
            "crashed",
            "nbgrader could not run the notebook (see the instructor log)",
            nb,
            res.seconds,
            (status or {}).get("log", res.log_tail) if isinstance(status, dict) else res.log_tail,
        )
    errors = sum(
        1
        for c in nb.cells
        if c.get("cell_type") == "code" and any(o.get("output_type") == "error" for o in c.get("outputs", []))
    )
    if errors:
        return NbResult(
            "errors",
            f"{errors} cell(s) raised an error when the notebook ran",
            nb,
            res.seconds,
            str(status.get("log", ""))[-3000:],
        )
    return NbResult("ok", "the notebook ran top to bottom", nb, res.seconds, str(status.get("log", ""))[-3000:])
