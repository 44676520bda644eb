"""A .rar and a .tar.gz instead of a zip: not opened (only zip is), said so; the upload is flagged."""

from tests import lms_fixtures as F

EXPECT = {"status": "flagged", "note": "only .zip archives are opened"}


def build():
    return {"submission.rar": b"Rar!\x1a\x07\x00" + b"\0" * 64, "01_softmax.ipynb": F.NOTEBOOK}
