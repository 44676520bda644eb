"""The notebook's graded test cells are rewritten to pass trivially (and to fake a high score): nbgrader
restores them from the gradebook, and library scores come from the sandbox anyway. An extra cell looks for
the reference solutions, the checks, the gradebook and other students from inside the kernel and prints what
it could read outside its private course copy (the test expects nothing) and whether the network answers.
The private copy's gradebook holds only the release cells and the hidden_check calls (see test_template...)."""

import nbformat

from tests.hostile import LAYERS, append
from tests.refs import ROOT

NOTEBOOK = True
EXPECT = {"full": LAYERS, "zero": ["softmax"], "reason": {}, "notebook_output": ["LEAKED=[]", "NET=False"]}
SPY = f"""
ROOT = {str(ROOT)!r}
import glob, os, socket
leaked = []
for pat in (ROOT + "/reference/deepkit/*.py", ROOT + "/autograder/gradebook.db", ROOT + "/autograder/checks/*",
            ROOT + "/autograder/staging/*/*/sub/*", "/root/*", "/home/*/*", "/proc/*/root" + ROOT + "/*",
            "/tmp/pytest-of-*/*/*", "../../../../*/*.db", "../../../../../solutions/*"):
    for p in glob.glob(pat):
        try:
            open(p, "rb").read(1)
            if not os.path.realpath(p).startswith("/tmp/course/"):  # the sandbox's own private course copy
                leaked.append(p)
        except OSError:
            pass
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    net = True
except OSError:
    net = False
print(f"LEAKED={{leaked}}")
print(f"NET={{net}}")
"""


def build(sub):
    nb_path = next(sub.glob("*.ipynb"))
    nb = nbformat.read(nb_path, as_version=4)
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade"):
            c.source = "print('all tests passed')"
    nb.cells.append(nbformat.v4.new_code_cell(SPY))
    nbformat.write(nb, nb_path)
    append(sub, "losses", "def softmax(z):\n    return z * 0.0\n")
