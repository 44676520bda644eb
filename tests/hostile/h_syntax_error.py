"""losses.py does not parse: the loss parts score 0 with a SyntaxError reason, the layers keep full marks."""

from tests.hostile import LAYERS, LOSSES, append

NOTEBOOK = False
EXPECT = {"full": LAYERS, "zero": LOSSES + ["two_layer_loss"], "reason": {"softmax": "SyntaxError"}}


def build(sub):
    append(sub, "losses", "def softmax(z)\n    return z\n")
