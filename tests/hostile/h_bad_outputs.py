"""Outputs that once killed the runner: a gigantic array, an array of Python objects, an object whose
conversion to a number never ends, and a wrong return structure. Each costs only its own part; the reason
says what was expected (shapes and counts written by the trusted side)."""

from tests.hostile import LAYERS, append

NOTEBOOK = False
EXPECT = {
    "full": LAYERS,
    "zero": ["softmax", "log_softmax", "cross_entropy", "softmax_loss", "two_layer_loss"],
    "reason": {
        "softmax": "far too large",
        "log_softmax": "expected real numbers, got an array of Python objects",
        "cross_entropy": "timed out",
        "softmax_loss": "softmax_loss must return a tuple (loss, dscores); it returned a tuple of 3 items",
    },
    "max_seconds": 90,
}


def build(sub):
    append(
        sub,
        "losses",
        """
import numpy as _np


def softmax(z):
    return _np.zeros((12000, 10000))  # 960 MB, never touched: the runner refuses it by its size


def log_softmax(z):
    return _np.array([object()] * z.size, dtype=object).reshape(z.shape)


class _Forever:
    def __float__(self):
        while True:
            pass


def cross_entropy(probs, y):
    return _Forever()


def softmax_loss(scores, y):
    return 1.0, scores, scores
""",
    )
