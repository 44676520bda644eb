"""losses.py and the notebook are Latin-1 bytes, not UTF-8: both are refused with a reason; layers.py is fine."""

from tests.hostile import LAYERS, LOSSES

NOTEBOOK = False
EXPECT = {"full": LAYERS, "zero": LOSSES, "reason": {"softmax": "not UTF-8"}}


def build(sub):
    p = sub / "lib" / "deepkit" / "losses.py"
    p.write_bytes(p.read_bytes() + "\n# caf\u00e9 na\u00efve\n".encode("latin-1"))
    nb = next(sub.glob("*.ipynb"))
    nb.write_bytes(nb.read_bytes().replace(b'"metadata": {', b'"metadata": {"caf\xe9": 1, ', 1))
