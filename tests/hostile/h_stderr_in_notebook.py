"""layers.py writes to stderr and raises a warning whenever it is imported or used: nbgrader alone would score
every test cell that touches it 0 (any stderr fails a cell); the library parts come from the sandbox."""

from tests.hostile import LAYERS, LOSSES, append

NOTEBOOK = True
EXPECT = {"full": LAYERS + LOSSES + ["two_layer_loss"], "zero": [], "reason": {}}


def build(sub):
    append(
        sub,
        "layers",
        """
import sys as _sys
import warnings as _warnings

print("debug: layers imported", file=_sys.stderr)
_warnings.warn("a student's leftover warning")
_orig_affine_forward = affine_forward


def affine_forward(x, w, b):
    print("debug: affine_forward called", file=_sys.stderr)
    return _orig_affine_forward(x, w, b)
""",
    )
