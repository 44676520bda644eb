"""File names carrying ANSI escapes, a terminal title change, a bidi override and a newline: they are shown
(if at all) cleaned, in the terminal table, the intake CSV and every export; the notebook found in a folder with
such a name is still taken."""

from tests import lms_fixtures as F
from tests.intake_hostile import zip_of

EXPECT = {"status": "ok", "note": "notebook found at"}
EVIL = "\x1b[2J\x1b]0;owned\x07\u202eevil\nname\x1b[0m"


def build():
    files = {f"{EVIL}/{k}": v for k, v in F.submission("v1").items()}
    files[f"{EVIL}.txt"] = b"x"
    return {"submission.zip": zip_of(files)}
