"""layers.py is missing, and losses.py and nets.py import it: the release stub of layers is staged, so only the
parts that need layers score 0 (the layer parts and the two-layer net), each with the clear reason; the loss
parts, whose module merely imports layers, keep full marks (issue 14: a missing module of the graded topic
zeroed parts that do not use it)."""

from tests.hostile import LAYERS, LOSSES

NOTEBOOK = False
EXPECT = {
    "full": LOSSES,
    "zero": LAYERS + ["two_layer_loss"],
    "reason": {p: "lib/deepkit/layers.py: missing from the submission" for p in LAYERS + ["two_layer_loss"]},
}


def build(sub):
    (sub / "lib" / "deepkit" / "layers.py").unlink()
