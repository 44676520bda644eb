"""relu_forward forks without bound: RLIMIT_NPROC stops it, the PID namespace reaps the children."""

from tests.hostile import LOSSES, append

NOTEBOOK = False
EXPECT = {"full": ["affine_forward", "affine_backward"] + LOSSES, "zero": ["relu_forward"], "reason": {}}


def build(sub):
    append(
        sub,
        "layers",
        """
import os as _os


def relu_forward(x):
    while True:
        _os.fork()
""",
    )
