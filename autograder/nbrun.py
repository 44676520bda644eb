"""The notebook half of grading: nbgrader autograde, run in the sandbox on a private course.

Per assignment the trusted parent builds a template (``staging/_templates/<a>/``): a gradebook made by
``nbgrader generate_assignment`` from the source notebook (it stores the cells after ClearSolutions, so it holds
the locked/test cells with their hidden ``hidden_check`` calls but no solution code) and a small
``nbgrader_config.py``. Per submission the sandbox gets read-only ``/box/tpl`` (the template) and ``/box/sub``
(the staged notebook + deepkit); ``sandbox/nb_runner.py`` copies them into its private ``/tmp/course`` and runs
``nbgrader autograde`` there, with the kernel inside the same sandbox. So neither nbgrader nor the kernel
can see the real gradebook, ``solutions/`` or other students; the only thing that comes back is the autograded
notebook, which the parent treats as untrusted (scores of library parts come from the library sandbox).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.course import Course, Limits
from autograder.libgrade import sandbox_env
from autograder.sandbox import jail

RUNNER = Path(__file__).resolve().parent / "sandbox/nb_runner.py"
_TPL_LOCK = threading.Lock()
_ZYGOTE_LOCK = threading.Lock()
_ZYGOTE: list = []  # [Popen] once started; [None] if it cannot start (then every run execs a fresh sandbox)


def _zygote():
    """The process's fork server (autograder/sandbox/zygote.py), started on first use; None if unavailable."""
    import os
    import subprocess

    with _ZYGOTE_LOCK:
        if not _ZYGOTE or (_ZYGOTE[0] is not None and _ZYGOTE[0].poll() is not None):
            _ZYGOTE.clear()
            if os.environ.get("AUTOGRADER_NO_ZYGOTE"):
                _ZYGOTE.append(None)
                return None
            root = str(Path(__file__).resolve().parent.parent)
            env = dict(os.environ, PYTHONPATH=root, PYTHONDONTWRITEBYTECODE="1")
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


def _run_in_zygote(zyg, j: jail.Jail, assignment: str, fifo: Path) -> jail.JailResult | None:
    """Like jail.run, but the sandbox is forked from the pre-loaded zygote; None if the zygote failed."""
    import os
    import signal
    import time

    if fifo.exists():
        fifo.unlink()
    os.mkfifo(fifo, 0o600)
    cfg = {
        "argv": [],
        "binds": j.binds,
        "wall": j.wall,
        "cpu": j.cpu,
        "memory": j.memory,
        "nproc": j.nproc,
        "fsize": j.fsize,
        "scratch": j.scratch,
        "uid": j.uid,
        "cwd": j.cwd,
        "env": j.env,
        "ro_paths": jail.python_ro_paths(),
    }
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
        "WITHOUT network/file isolation" not in tail,
        tail,
    )


@dataclass
class NbResult:
    status: str  # "ok", "errors" (some cells failed), "timeout", "crashed", "missing"
    reason: str
    notebook: nbformat.NotebookNode | None
    seconds: float = 0.0
    log_tail: str = ""


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
    import os

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
    course: Course, assignment: str, sub_dir: Path, limits: Limits, uid: int = 0, log: Path | None = None
) -> NbResult:
    """nbgrader autograde of the staged notebook, in the sandbox. Returns the untrusted autograded notebook."""
    if not (sub_dir / f"{assignment}.ipynb").is_file():
        return NbResult("missing", "no notebook was submitted (or it was unreadable)", None)
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
