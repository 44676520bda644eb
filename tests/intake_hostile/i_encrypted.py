"""A password-protected zip (the encryption flag set on the notebook): reported as encrypted, batch goes on."""

import struct
import zipfile

from tests import lms_fixtures as F
from tests.intake_hostile import stored_member_offsets, zip_of

EXPECT = {"status": "skipped", "note": "encrypted"}


def build():
    data = bytearray(zip_of(F.submission("v1"), zipfile.ZIP_STORED))
    lh, _, cd = stored_member_offsets(bytes(data), "01_softmax.ipynb")
    for off in (lh + 6, cd + 8):  # general purpose flags of the local header and of the central entry
        (flags,) = struct.unpack("<H", data[off : off + 2])
        data[off : off + 2] = struct.pack("<H", flags | 0x1)
    return {"submission.zip": bytes(data)}
