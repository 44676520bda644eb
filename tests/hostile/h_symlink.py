"""layers.py is a symlink to the reference solution and lib/deepkit/viz links to /: symlinks are never
followed, so layers.py counts as not sent: its release stub is staged, the layer parts and the two-layer net
(which calls them) score 0 with the reason, and losses.py (which imports layers) still scores."""

import os

from tests.hostile import LAYERS, LOSSES

NOTEBOOK = False
EXPECT = {
    "full": LOSSES,
    "zero": LAYERS + ["two_layer_loss"],
    "reason": {
        "affine_forward": "lib/deepkit/layers.py: a symlink",
        "two_layer_loss": "lib/deepkit/layers.py: a symlink",
    },
}


def build(sub):
    from tests.refs import REF_LIB

    p = sub / "lib" / "deepkit" / "layers.py"
    p.unlink()
    os.symlink(REF_LIB / "deepkit" / "layers.py", p)
    os.symlink("/", sub / "lib" / "deepkit" / "escape")
