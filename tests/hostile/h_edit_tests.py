"""The notebook's graded test cells are rewritten to pass trivially (and to fake a high score): nbgrader
restores them from the gradebook, and library scores come from the sandbox anyway."""
import nbformat

from tests.hostile import LAYERS, append

NOTEBOOK = True
EXPECT = {"full": LAYERS, "zero": ["softmax"], "reason": {}}


def build(sub):
    nb_path = next(sub.glob("*.ipynb"))
    nb = nbformat.read(nb_path, as_version=4)
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade"):
            c.source = "print('all tests passed')"
    nbformat.write(nb, nb_path)
    append(sub, "losses", "def softmax(z):\n    return z * 0.0\n")
