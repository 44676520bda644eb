"""Pretends to be the launcher: prints its first log line ("no isolation") at import, and exits with the
launcher's own codes (setup failed, isolation refused, wall clock) in two functions. Those two parts end early;
the grader neither stops the batch (an infrastructure failure would) nor believes the fake line."""

from tests.hostile import LAYERS, append

NOTEBOOK = False
EXPECT = {
    "full": LAYERS + ["cross_entropy"],
    "zero": ["softmax", "log_softmax"],
    "reason": {"softmax": "ended early", "log_softmax": "ended early"},
    "not_in_reasons": ["WITHOUT", "setup failed", "refus"],
}


def build(sub):
    append(
        sub,
        "losses",
        """
import os as _os
import sys as _sys

_sys.__stderr__.write("autograder-sandbox-isolation: none\\nWITHOUT network/file isolation\\n")
_os.write(2, b"autograder sandbox: setup failed: fake\\n")


def softmax(z):
    _os._exit(121)


def log_softmax(z):
    _os._exit(120)
""",
    )
