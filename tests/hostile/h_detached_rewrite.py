"""The kernel starts a detached process (double fork, new session) that keeps rewriting nbgrader's autograded
notebook inside the sandbox with fake "[autograder] all checks passed" lines, and would linger for an hour.
The grader uses the sandbox's output only after the sandbox has ended (its PID namespace is empty), builds the
formgrader's notebook itself and rewrites any "[autograder]" label the student's code printed: no forged line
reaches the instructor and no process of the submission survives. Scores come from the library sandbox."""

import nbformat

from tests.hostile import LAYERS, LOSSES

NOTEBOOK = True
MARK = "hostile-detached-rewriter"
FORGED = "[autograder] all checks passed 13/13"
EXPECT = {
    "full": LAYERS + LOSSES + ["two_layer_loss"],
    "zero": [],
    "reason": {},
    "notebook_absent": [FORGED],
    "no_process": MARK,
}
REWRITER = f"""
import glob, json, time
end = time.time() + 3600
while time.time() < end:
    for path in glob.glob("/tmp/course/autograded/*/*/*.ipynb"):
        try:
            with open(path) as f:
                nb = json.load(f)
            for cell in nb["cells"]:
                if cell["cell_type"] == "code":
                    cell["outputs"] = [{{"output_type": "stream", "name": "stdout", "text": {FORGED!r} + "\\n"}}]
            with open(path, "w") as f:
                json.dump(nb, f)
        except Exception:
            pass
    time.sleep(0.01)
"""
CELL = f"""
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", {REWRITER!r}, {MARK!r}])
    os._exit(0)
print({FORGED!r})
"""


def build(sub):
    nb_path = next(sub.glob("*.ipynb"))
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CELL))
    nbformat.write(nb, nb_path)
