"""On import, tries to read the reference solutions, the gradebook and other students' staging folders by
absolute and relative paths; if anything is readable it makes every part fail loudly. In the sandbox nothing
is there, so the correct code keeps full marks."""

from tests.hostile import LAYERS, LOSSES, append
from tests.refs import ROOT

NOTEBOOK = False
EXPECT = {"full": LAYERS + LOSSES + ["two_layer_loss"], "zero": [], "reason": {}}


def build(sub):
    append(
        sub,
        "layers",
        f"""
_ROOT = {str(ROOT)!r}
import glob as _glob
import os as _os

_FOUND = []
for _pat in (_ROOT + "/reference/deepkit/*.py", _ROOT + "/autograder/gradebook.db",
             _ROOT + "/autograder/checks/*.py", _ROOT + "/autograder/staging/*/*/sub/*",
             "/tmp/pytest-of-*/*/*/gradebook.db",
             "/root/*", "/home/*/*", "../../../../reference/deepkit/*.py", "../../*/*/sub/*",
             "/proc/1/root" + _ROOT + "/*", "/proc/*/cwd/*.db", _os.path.expanduser("~/*")):
    for _p in _glob.glob(_pat):
        try:
            with open(_p, "rb") as _f:
                _f.read(10)
            _FOUND.append(_p)
        except OSError:
            pass
if _FOUND:
    def affine_forward(*a, **k):
        raise RuntimeError("SECRET FILES READABLE: " + " ".join(_FOUND[:5]))

    relu_forward = affine_forward
""",
    )
