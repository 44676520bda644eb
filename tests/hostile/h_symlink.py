"""layers.py is a symlink to the reference solution and lib/deepkit/viz links to /: symlinks are never
followed, so layers.py counts as missing (and losses.py, which imports it, cannot load either)."""

import os

from tests.hostile import LAYERS, LOSSES

NOTEBOOK = False
EXPECT = {
    "full": [],
    "zero": LAYERS + LOSSES,
    "reason": {"affine_forward": "symlink", "softmax": "lib/deepkit/layers.py"},
}


def build(sub):
    from tests.refs import REF_LIB

    p = sub / "lib" / "deepkit" / "layers.py"
    p.unlink()
    os.symlink(REF_LIB / "deepkit" / "layers.py", p)
    os.symlink("/", sub / "lib" / "deepkit" / "escape")
