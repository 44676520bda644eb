"""Forged result frames: the student's code finds the worker's result pipe (a local of the runner's frame up the
stack) and writes its own npz frames ahead of the probe's, for case 0 of two parts:
- softmax: a zip member compressed with bzip2, a few hundred bytes that expand to 32 MB of zeros (the same frame
  with a bigger array would make the trusted parent allocate gigabytes: a memory bomb aimed at the grader);
- log_softmax: a record array whose field name carries HTML and the hidden input spelled as words (a reason that
  printed the dtype would carry it to the feedback).
The trusted side reads only npz frames of stored members and plain numeric arrays; a forged frame is dropped and
the probe's own frame counts, so both parts keep full marks and no reason carries the text."""

import base64
import io
import json
import zipfile

import numpy as np

from tests.hostile import LAYERS, LOSSES, SPELL, append

NOTEBOOK = False
EXPECT = {
    "full": LAYERS + LOSSES + ["two_layer_loss"],
    "zero": [],
    "reason": {},
    "not_in_reasons": ["<script>", "point", "records", "shape (4194304,)"],
    "max_seconds": 60,
}


def _bomb() -> bytes:
    """An npz (zip) for case 0 whose member p.npy is 32 MB of zeros compressed with bzip2."""
    n = 1 << 22
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (n,)})
    meta = io.BytesIO()
    np.save(meta, np.array(json.dumps({"case": 0, "ok": True})))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_BZIP2) as z:
        z.writestr("__meta__.npy", meta.getvalue())
        with z.open("p.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            for _ in range(n * 8 >> 20):
                f.write(bytes(1 << 20))
    return out.getvalue()


def build(sub):
    append(
        sub,
        "losses",
        SPELL
        + f"""
import base64 as _b64
import io as _io
import json as _json
import os as _os
import sys as _sys

import numpy as _np

_BOMB = _b64.b64decode({base64.b64encode(_bomb()).decode()!r})
_SENT = set()


def _forge(tag, payload):
    \"\"\"Write ``payload`` as a frame on the worker's result pipe, once, during case 0.\"\"\"
    f = _sys._getframe(1)
    while f is not None and f.f_code.co_name != "part_worker":
        f = f.f_back
    if f is None or f.f_locals.get("c") != 0 or tag in _SENT:
        return
    _SENT.add(tag)
    data = len(payload).to_bytes(8, "little") + payload
    while data:
        data = data[_os.write(f.f_locals["w"], data) :]


_honest_softmax, _honest_log_softmax = softmax, log_softmax


def softmax(z):
    _forge("bomb", _BOMB)
    return _honest_softmax(z)


def log_softmax(z):
    name = "<script>alert(1)</script> " + spell(_np.ravel(z)[0])
    record = _np.zeros(_np.shape(z), dtype=[(name, "<f8")])
    buf = _io.BytesIO()
    _np.savez(buf, __meta__=_np.array(_json.dumps({{"case": 0, "ok": True}})), logp=record, logp_row=record[0])
    _forge("record", buf.getvalue())
    return _honest_log_softmax(z)
""",
    )
