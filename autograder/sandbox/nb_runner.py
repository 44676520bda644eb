"""Runs INSIDE the notebook sandbox: build a private nbgrader course in /tmp (a copy of the assignment's
template gradebook, which holds no solutions and no other student), run nbgrader's Autograde converter there,
and send back the status and the autograded notebook. The kernel nbgrader starts does not inherit the result
pipe (jupyter_client closes inherited descriptors).

Used two ways: executed as a script in a fresh sandbox (``python runner.py <assignment>``), or called as
``run(fd, assignment)`` in a sandbox forked from the pre-loaded zygote (``autograder/sandbox/zygote.py``)."""

import json
import logging
import os
import shutil
import sys
import traceback

COURSE = "/tmp/course"


def send(fd: int, payload: bytes) -> None:
    data = len(payload).to_bytes(8, "little") + payload
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def autograde(assignment: str) -> int:
    """nbgrader autograde of student 'student' in COURSE (config from COURSE/nbgrader_config.py)."""
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    cfg = Config()
    with open(os.path.join(COURSE, "nbgrader_config.py"), encoding="utf-8") as f:
        exec(compile(f.read(), "nbgrader_config.py", "exec"), {"get_config": lambda: cfg})
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    coursedir = CourseDirectory(config=cfg)
    coursedir.assignment_id = assignment
    coursedir.student_id = "student"
    app = Autograde(coursedir=coursedir, config=cfg)
    app.force = True
    try:
        app.start()
    except Exception:  # noqa: BLE001 - nbgrader's failure: reported through the status
        traceback.print_exc()
        return 1
    return 0


def run(fd: int, assignment: str) -> None:
    os.makedirs(os.path.join(COURSE, "source", assignment))
    shutil.copy("/box/tpl/gradebook.db", os.path.join(COURSE, "gradebook.db"))
    shutil.copy("/box/tpl/nbgrader_config.py", os.path.join(COURSE, "nbgrader_config.py"))
    sub = os.path.join(COURSE, "submitted", "student", assignment)
    os.makedirs(sub)
    shutil.copy(f"/box/sub/{assignment}.ipynb", sub)
    shutil.copytree("/box/sub/lib", os.path.join(COURSE, "lib"))  # found by the notebook's setup cell
    os.chdir(COURSE)
    log = os.open("/tmp/nbgrader.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 2)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    rc = autograde(assignment)
    sys.stderr.flush()
    with open("/tmp/nbgrader.log", "rb") as f:
        f.seek(max(0, os.path.getsize("/tmp/nbgrader.log") - 6000))
        tail = f.read().decode("utf-8", "replace")
    send(fd, json.dumps({"returncode": rc, "log": tail}).encode())
    out = os.path.join(COURSE, "autograded", "student", assignment, f"{assignment}.ipynb")
    if os.path.isfile(out):
        with open(out, "rb") as f:
            send(fd, f.read())


if __name__ == "__main__":
    try:
        run(int(os.environ.pop("AUTOGRADER_FD")), sys.argv[1])
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    finally:
        os._exit(0)
