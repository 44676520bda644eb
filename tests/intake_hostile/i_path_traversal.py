"""Members named ``../../../tmp/...``, absolute paths and a drive letter: nothing is ever written to a path taken
from an upload (intake writes only <id>/<assignment>/<assignment>.ipynb and lib/deepkit/<module>.py)."""

from tests import lms_fixtures as F
from tests.intake_hostile import zip_of

EXPECT = {"status": "ok", "note": ""}
TARGETS = ["/tmp/HACKED-by-intake.ipynb", "/tmp/HACKED-by-intake.py"]


def build():
    files = {
        "../../../../../../tmp/HACKED-by-intake.ipynb": F.NOTEBOOK,
        "/tmp/HACKED-by-intake.py": b"x = 1\n",
        "C:\\Windows\\evil.py": b"x = 1\n",
        "lib/deepkit/../../../../../../tmp/layers.py": b"planted = True\n",
        **F.submission("v1"),
    }
    return {"submission.zip": zip_of(files)}
