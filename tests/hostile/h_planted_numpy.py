"""Plants numpy.py next to the library (lib/, lib/deepkit/ and the submission root) that would break
numpy: intake ignores files that are not known deepkit modules, so the correct code gets full marks."""

from tests.hostile import LAYERS, LOSSES

NOTEBOOK = False
EXPECT = {"full": LAYERS + LOSSES + ["two_layer_loss"], "zero": [], "reason": {}}
BAD = "raise SystemExit('planted numpy')\nallclose = lambda *a, **k: True\n"


def build(sub):
    for p in (
        sub / "lib" / "numpy.py",
        sub / "lib" / "deepkit" / "numpy.py",
        sub / "numpy.py",
        sub / "lib" / "deepkit" / "sitecustomize.py",
        sub / "lib" / "deepkit" / "__init__.py",
    ):
        p.write_text(BAD)
