"""The intake attack corpus: uploads that must not hurt ``collect`` (issue 14, point 3).

Each ``i_*.py`` module builds ONE student's hostile Canvas upload and says what intake must do with it:
``build() -> dict[str, bytes]`` (the file name the student uploaded -> its bytes; the test adds Canvas's
``<name>_<user id>_<attachment id>_`` prefix) and ``EXPECT = {"status": ..., "note": substring of the row's
notes}``. tests/test_intake_hostile.py puts every case in one Canvas download together with honest students and
checks that each hostile upload is reported for its student, the honest ones are collected exactly as alone,
nothing is written outside the work folder, no control character reaches the table or the CSV, and the whole
download is taken in bounded time and memory.
"""

import io
import struct
import zipfile
from pathlib import Path

from tests import lms_fixtures as F

CASES = sorted(p.stem for p in Path(__file__).parent.glob("i_*.py"))


def zip_of(files: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def stored_member_offsets(data: bytes, name: str) -> tuple[int, int, int]:
    """(local header offset, data offset, central directory entry offset) of a member of a zip in ``data``."""
    z = zipfile.ZipFile(io.BytesIO(data))
    info = z.getinfo(name)
    lh = info.header_offset
    n, m = struct.unpack("<HH", data[lh + 26 : lh + 30])
    cd = data.index(b"PK\x01\x02")  # the central directory entry whose name is ``name``
    while data[cd + 46 : cd + 46 + len(name)] != name.encode():
        cd = data.index(b"PK\x01\x02", cd + 4)
    return lh, lh + 30 + n + m, cd


def honest() -> dict[str, bytes]:
    return {"01_softmax-submission.zip": F.zip_bytes(F.submission("v1"))}
