"""Ignores SIGINT and SIGALRM, then loops in softmax: the sandbox's wall clock kills it; the parts already
finished (the layers) keep their points, the rest get a time-out reason."""

from tests.hostile import LAYERS, LOSSES, append

NOTEBOOK = False
EXPECT = {"full": LAYERS, "zero": LOSSES + ["two_layer_loss"], "reason": {"softmax": "timed out"}}


def build(sub):
    append(
        sub,
        "losses",
        """
import signal as _signal


def softmax(z):
    for s in (_signal.SIGINT, _signal.SIGALRM, _signal.SIGTERM):
        _signal.signal(s, _signal.SIG_IGN)
    while True:
        try:
            pass
        except BaseException:
            pass
""",
    )
