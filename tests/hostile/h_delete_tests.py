"""All graded cells are deleted from the notebook and a final cell ignores SIGINT and loops forever: the
library parts are still scored by the sandbox; the notebook run is cut by the wall clock."""

import nbformat

from tests.hostile import LAYERS, LOSSES

NOTEBOOK = True
EXPECT = {"full": LAYERS + LOSSES + ["two_layer_loss"], "zero": [], "reason": {}, "notebook": "timeout"}


def build(sub):
    nb_path = next(sub.glob("*.ipynb"))
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    nb.cells.append(
        nbformat.v4.new_code_cell("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")
    )
    nbformat.write(nb, nb_path)
