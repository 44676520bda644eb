"""A 2 KB upload of nested zips that expands to 200 MiB (a stored zip of zeros, deflated twice): intake stops
at the per-submission byte budget (128 MiB) and reports it; nothing is written."""

import io
import zipfile

EXPECT = {"status": "skipped", "note": "expands to more than 128 MiB"}
EXPANDED = 200 * 1024**2


class _Sink(io.RawIOBase):
    def __init__(self, w):
        self.w = w

    def writable(self):
        return True

    def write(self, b):
        return self.w.write(b)


def build():
    l2 = io.BytesIO()
    with zipfile.ZipFile(l2, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z2:
        with z2.open("layer1.zip", "w", force_zip64=True) as w:
            with zipfile.ZipFile(_Sink(w), "w", zipfile.ZIP_STORED) as z1:
                with z1.open("zeros.bin", "w", force_zip64=True) as f:
                    chunk = b"\0" * (1 << 22)
                    for _ in range(EXPANDED // len(chunk)):
                        f.write(chunk)
    l3 = io.BytesIO()
    with zipfile.ZipFile(l3, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z3:
        z3.writestr("01_softmax-submission.zip", l2.getvalue())
    return {"submission.zip": l3.getvalue()}
