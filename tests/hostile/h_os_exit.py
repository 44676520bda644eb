"""softmax calls os._exit(0): the sandbox ends early; the parts graded before keep their points."""

from tests.hostile import LAYERS, append

NOTEBOOK = False
EXPECT = {"full": LAYERS, "zero": ["softmax", "log_softmax", "two_layer_loss"], "reason": {"softmax": "ended early"}}


def build(sub):
    append(
        sub,
        "losses",
        """
import os as _os


def softmax(z):
    _os._exit(0)
""",
    )
