"""The submission has the notebook but no lib/ at all: every library part scores 0 with a clear reason."""

import shutil

from tests.hostile import LAYERS, LOSSES

NOTEBOOK = False
EXPECT = {
    "full": [],
    "zero": LAYERS + LOSSES + ["two_layer_loss"],
    "reason": {
        "softmax": "lib/deepkit/losses.py: missing from the submission",
        "affine_forward": "lib/deepkit/layers.py: missing",
    },
}


def build(sub):
    shutil.rmtree(sub / "lib")
