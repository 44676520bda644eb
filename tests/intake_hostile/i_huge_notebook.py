"""A 30 MiB notebook (over the 20 MiB a notebook may have): not taken, said so; the upload is flagged."""

from tests import lms_fixtures as F
from tests.intake_hostile import zip_of

EXPECT = {"status": "flagged", "note": "larger than 20 MiB"}


def build():
    files = F.submission("v1")
    files["01_softmax.ipynb"] = b" " * (30 * 1024**2)
    return {"submission.zip": zip_of(files)}
