"""Text that came from outside (a file name in an upload, a name in an LMS download or roster, a reason quoting
a student's file) made safe to print and to export: the one place that does it.

``clean`` removes what could act on a terminal or mislead a reader: ANSI/VT escape sequences, C0 and C1 control
characters (newlines and tabs included: one value is one line), Unicode bidirectional overrides and other
invisible format characters; it keeps every printable character of every script (names are often not ASCII).
``cell`` does the same for a CSV cell and also defuses spreadsheet formulas (a leading ``= + - @``), so an
export opened in a spreadsheet cannot run anything. Identifiers and scores are never passed through ``cell``:
they are produced by this code, and an LMS must read them back unchanged.
"""

from __future__ import annotations

import re
import unicodedata

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other two-character escapes, and the 8-bit CSI/OSC forms.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x9d[^\x07\x9c]*(?:\x07|\x9c)?"
)


def clean(text: object, limit: int = 200) -> str:
    """``text`` as one printable line of at most ``limit`` characters (an ellipsis marks a cut)."""
    s = str(text)
    if s.isascii() and s.isprintable():  # the common case: nothing to remove
        s = " ".join(s.split())
        return s if len(s) <= limit else s[: max(0, limit - 1)] + "…"
    s = _ANSI.sub("", s)
    out = []
    for ch in s:
        cat = unicodedata.category(ch)
        if ch in "\t\n\r":
            out.append(" ")
        elif cat in ("Cc", "Cf", "Cs", "Co", "Cn") or cat.startswith("Z") and ch != " ":
            if cat.startswith("Z"):  # exotic spaces (no-break, ideographic, line/paragraph separators)
                out.append(" ")
            continue  # controls, bidi overrides, zero-width and other format characters, unassigned code points
        else:
            out.append(ch)
    s = " ".join("".join(out).split())
    return s if len(s) <= limit else s[: max(0, limit - 1)] + "…"


def cell(text: object, limit: int = 500) -> str:
    """``clean`` for a free-text CSV cell, with a leading formula character defused by a quote."""
    s = clean(text, limit)
    return "'" + s if s[:1] in ("=", "+", "-", "@") else s
