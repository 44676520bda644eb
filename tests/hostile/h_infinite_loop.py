"""softmax never returns: that part times out (per-part limit), everything else is graded normally."""

from tests.hostile import LAYERS, append

NOTEBOOK = False
EXPECT = {"full": LAYERS + ["cross_entropy"], "zero": ["softmax"], "reason": {"softmax": "timed out"}}


def build(sub):
    append(
        sub,
        "losses",
        """
def softmax(z):
    while True:
        pass
""",
    )
