"""Wrong answers plus monkeypatched comparisons (numpy.allclose, numpy.testing, deepkit.gradcheck): the
comparison happens in the trusted parent, so the wrong parts still score 0."""

from tests.hostile import LAYERS, append

NOTEBOOK = False
EXPECT = {"full": LAYERS, "zero": ["softmax", "cross_entropy"], "reason": {"softmax": "values differ"}}


def build(sub):
    append(
        sub,
        "losses",
        """
import numpy as _np
import numpy.testing as _npt
import deepkit.gradcheck as _gc

_np.allclose = lambda *a, **k: True
_np.isclose = lambda a, b, *r, **k: _np.ones(_np.broadcast(a, b).shape, bool)
_npt.assert_allclose = lambda *a, **k: None
_gc.rel_error = lambda a, b: 0.0


def softmax(z):
    return _np.full(_np.shape(z), 0.5)


def cross_entropy(probs, y):
    return 42.0
""",
    )
