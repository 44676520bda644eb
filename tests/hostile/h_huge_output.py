"""Floods stdout and stderr (Python-level and raw file descriptors) on import and in every call: the output
is discarded or capped, the correct code still gets full marks."""

from tests.hostile import LAYERS, LOSSES, append

NOTEBOOK = False
EXPECT = {"full": LAYERS + LOSSES + ["two_layer_loss"], "zero": [], "reason": {}}


def build(sub):
    append(
        sub,
        "layers",
        """
import os as _os
import sys as _sys

_BLOB = "spam " * 200_000
for _ in range(20):
    print(_BLOB)
    print(_BLOB, file=_sys.stderr)
_orig_relu = relu_forward


def relu_forward(x):
    for _ in range(20):
        try:
            _os.write(1, _BLOB.encode())
            _os.write(2, _BLOB.encode())
        except OSError:
            pass
    return _orig_relu(x)
""",
    )
