"""On import, tries to write outside its folder (the repository, the gradebook, its own staging copy, /tmp
of the host). The test checks nothing appeared or changed; the correct code keeps full marks."""

from tests.hostile import LAYERS, LOSSES, append
from tests.refs import ROOT

NOTEBOOK = False
EXPECT = {"full": LAYERS + LOSSES, "zero": [], "reason": {}}
TARGETS = [str(ROOT / "HACKED.txt"), str(ROOT / "autograder" / "HACKED.txt"), "/tmp/HACKED-by-student.txt"]


def build(sub):
    append(
        sub,
        "losses",
        f"""
import os as _os

for _p in {TARGETS!r} + [_os.path.join(_os.path.dirname(__file__), "HACKED.txt"),
                         _os.path.join(_os.path.dirname(__file__), "layers.py")]:
    try:
        with open(_p, "a") as _f:
            _f.write("hacked")
    except OSError:
        pass
""",
    )
