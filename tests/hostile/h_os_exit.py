"""softmax calls os._exit(0): its part ends early. Each part runs in a process of its own, so every other
part, before or after it, keeps its points (the parts that call softmax lose theirs)."""

from tests.hostile import LAYERS, append

NOTEBOOK = False
EXPECT = {
    "full": LAYERS + ["log_softmax", "cross_entropy", "softmax_loss", "two_layer_loss"],
    "zero": ["softmax"],
    "reason": {"softmax": "ended early"},
}


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
