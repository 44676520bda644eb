"""Ignores every signal it can (SIGINT, SIGALRM, SIGTERM, and the CPU timer's SIGPROF and RLIMIT_CPU's
SIGXCPU), then loops in softmax, swallowing any exception: the kernel's hard CPU limit kills the part's process
(SIGKILL cannot be ignored); softmax gets a time-out reason, every other part keeps its points."""

from tests.hostile import LAYERS, LOSSES, append

NOTEBOOK = False
EXPECT = {
    "full": LAYERS + [p for p in LOSSES if p != "softmax"] + ["two_layer_loss"],
    "zero": ["softmax"],
    "reason": {"softmax": "timed out"},
    "max_seconds": 90,
}


def build(sub):
    append(
        sub,
        "losses",
        """
import signal as _signal


def softmax(z):
    for s in (_signal.SIGINT, _signal.SIGALRM, _signal.SIGTERM, _signal.SIGPROF, _signal.SIGXCPU):
        _signal.signal(s, _signal.SIG_IGN)
    while True:
        try:
            pass
        except BaseException:
            pass
""",
    )
