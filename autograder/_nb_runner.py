"""Runs INSIDE the notebook sandbox: build a private nbgrader course in /tmp (a copy of the assignment's
template gradebook, which holds no solutions and no other student), run ``nbgrader autograde`` there, and send
back the status and the autograded notebook. The kernel nbgrader starts does not inherit the result pipe."""
import json
import os
import shutil
import subprocess
import sys

FD = int(os.environ.pop("AUTOGRADER_FD"))
ASSIGNMENT = sys.argv[1]
COURSE = "/tmp/course"


def send(payload: bytes) -> None:
    data = len(payload).to_bytes(8, "little") + payload
    view = memoryview(data)
    while view:
        view = view[os.write(FD, view):]


def main() -> int:
    os.makedirs(os.path.join(COURSE, "source", ASSIGNMENT))
    shutil.copy("/box/tpl/gradebook.db", os.path.join(COURSE, "gradebook.db"))
    shutil.copy("/box/tpl/nbgrader_config.py", os.path.join(COURSE, "nbgrader_config.py"))
    sub = os.path.join(COURSE, "submitted", "student", ASSIGNMENT)
    os.makedirs(sub)
    shutil.copy(f"/box/sub/{ASSIGNMENT}.ipynb", sub)
    shutil.copytree("/box/sub/lib", os.path.join(COURSE, "lib"))  # found by the notebook's setup cell
    with open("/tmp/nbgrader.log", "wb") as log:
        rc = subprocess.call([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--student", "student",
                              "--force"], cwd=COURSE, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    with open("/tmp/nbgrader.log", "rb") as f:
        f.seek(max(0, os.path.getsize("/tmp/nbgrader.log") - 6000))
        tail = f.read().decode("utf-8", "replace")
    send(json.dumps({"returncode": rc, "log": tail}).encode())
    out = os.path.join(COURSE, "autograded", "student", ASSIGNMENT, f"{ASSIGNMENT}.ipynb")
    if os.path.isfile(out):
        with open(out, "rb") as f:
            send(f.read())
    return 0


if __name__ == "__main__":
    try:
        main()
    finally:
        os._exit(0)
