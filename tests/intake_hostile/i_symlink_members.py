"""Zip members that are symlinks (layers.py -> /etc/passwd, a folder -> /): never followed, listed; layers.py
counts as not sent (its release stub will be staged and only its parts score 0)."""

import io
import stat
import zipfile

from tests import lms_fixtures as F

EXPECT = {"status": "flagged", "note": "lib/deepkit/layers.py missing"}


def build():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in F.submission("v1").items():
            if not name.endswith("layers.py"):
                z.writestr(name, data)
        for name, target in (("lib/deepkit/layers.py", "/etc/passwd"), ("lib/deepkit/escape", "/")):
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, target)
    return {"submission.zip": buf.getvalue()}
