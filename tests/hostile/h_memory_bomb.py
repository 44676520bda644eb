"""affine_forward tries to allocate without bound: RLIMIT_AS turns it into a MemoryError for that part."""

from tests.hostile import LOSSES, append

NOTEBOOK = False
EXPECT = {"full": LOSSES + ["relu_forward", "relu_backward"], "zero": ["affine_forward"], "reason": {}}


def build(sub):
    append(
        sub,
        "layers",
        """
def affine_forward(x, w, b):
    hog = []
    while True:
        hog.append(bytearray(256 * 1024 * 1024))
""",
    )
