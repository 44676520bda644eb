"""The LMS adapters (one module per LMS: its naming conventions, roster, gradebook import and feedback bundle) and
the detection of which LMS a download comes from."""

from __future__ import annotations

from autograder.lms.base import Adapter, Download, Entry, Upload
from autograder.lms.blackboard import Blackboard
from autograder.lms.canvas import Canvas
from autograder.lms.folder import Folder
from autograder.lms.moodle import Moodle

ADAPTERS: dict[str, Adapter] = {a.name: a for a in (Canvas(), Moodle(), Blackboard(), Folder())}
NAMES = tuple(ADAPTERS)

__all__ = ["ADAPTERS", "NAMES", "Adapter", "Download", "Entry", "Upload", "detect", "get"]


def get(name: str) -> Adapter:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise SystemExit(f"unknown LMS {name!r}: one of {', '.join(NAMES)}") from None


def detect(entries: list[Entry]) -> tuple[Adapter, str]:
    """The LMS whose naming convention the download's entries follow, and a message saying why.

    Canvas, Moodle and Blackboard names are distinctive; a download where one of them matches most entries
    (at least 80%, the rest being LMS litter or strays that intake reports) and no other matches any entry is
    that LMS. Otherwise, if none of them matches anything and most entries can be a student folder or file, a plain
    folder (the strays are reported by intake). Anything else is ambiguous: SystemExit asks for ``--lms``.
    """
    named = [e for e in entries if not e.name.startswith(".")]
    if not named:
        raise SystemExit("the download is empty")
    counts = {n: sum(ADAPTERS[n].claims(e) for e in named) for n in ("canvas", "moodle", "blackboard")}
    hits = {n: c for n, c in counts.items() if c}
    if len(hits) == 1:
        (name, c), total = next(iter(hits.items())), len(named)
        a = ADAPTERS[name]
        if c >= 0.8 * total:
            return a, f"detected {a.title}: {c} of {total} entries are named {a.convention}"
    folder = ADAPTERS["folder"]
    ours = sum(folder.claims(e) for e in named)
    if not hits and ours and ours >= 0.5 * len(named):
        return folder, f"detected {folder.title}: {ours} of {len(named)} entries named {folder.convention}"
    found = ", ".join(f"{ADAPTERS[n].title} {c}" for n, c in counts.items()) + f" of {len(named)} entries"
    raise SystemExit(f"cannot tell which LMS this download comes from ({found}): say --lms {'|'.join(NAMES)}")
