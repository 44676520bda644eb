"""A CNN that learns nothing but answers the digits part by looking the validation images up in scikit-learn's
bundled digits (it once scored full marks): the data set is not in the sandbox, the graded part gets only its
inputs, so the lookup finds nothing and the accuracy is that of a CNN that learned nothing."""

from tests.hostile import append

ASSIGNMENT = "08_convolution"
NOTEBOOK = False
OTHERS = ["conv2d_forward", "conv2d_backward", "maxpool_forward", "small_cnn_loss", "residual_block_forward"]
EXPECT = {
    "full": OTHERS,
    "zero": ["cnn_digits"],
    "reason": {"cnn_digits": "validation accuracy"},
}


def build(sub):
    append(
        sub,
        "blocks",
        """
import glob as _glob
import gzip as _gzip
import os as _os
import sys as _sys

import numpy as _np

_honest_loss = small_cnn_loss


def _bundled_digits():
    try:
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.data / 16.0, d.target
    except Exception:
        pass
    for base in _sys.path:
        for path in _glob.glob(_os.path.join(base, "sklearn", "datasets", "data", "digits.csv*")):
            try:
                raw = _gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
                table = _np.loadtxt(raw.decode().splitlines(), delimiter=",")
                return table[:, :-1] / 16.0, table[:, -1].astype(int)
            except Exception:
                continue
    return None


def small_cnn_loss(params, X, y=None, reg=0.0):
    if y is None and len(X) > 100:  # the held-out digits: look the answers up instead of learning
        found = _bundled_digits()
        scores = _np.zeros((len(X), 10))
        if found is not None:
            data, target = found
            for i, img in enumerate(X.reshape(len(X), -1)):
                scores[i, target[int(_np.argmin(((data - img) ** 2).sum(axis=1)))]] = 1.0
        return scores
    return _honest_loss(params, X, y, reg=reg)
""",
    )
