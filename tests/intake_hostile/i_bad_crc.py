"""The notebook inside the upload has a corrupted byte (bad CRC-32): the upload is reported as corrupt for this
student and the batch goes on (it used to crash collect for every student sorted after it)."""

import zipfile

from tests import lms_fixtures as F
from tests.intake_hostile import stored_member_offsets, zip_of

EXPECT = {"status": "skipped", "note": "corrupt (bad CRC)"}


def build():
    files = F.submission("v1")
    data = bytearray(zip_of(files, zipfile.ZIP_STORED))
    _, start, _ = stored_member_offsets(bytes(data), "01_softmax.ipynb")
    data[start + 100] ^= 0xFF
    return {"submission.zip": bytes(data)}
