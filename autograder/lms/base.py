"""What every LMS adapter shares: the download as top-level entries, one student's upload, rosters as tables.

An adapter knows ONE LMS's conventions, all of them in its own module: how its bulk download names students,
attempts and late submissions; which file is its roster (the LMS's own gradebook export); which CSV its
gradebook imports; how it takes feedback files in bulk. Intake, export and feedback ask the adapter; nothing
else parses an LMS's file names.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path, PurePosixPath

from autograder.intake.archive import FileNode, Node, ZipNode, folder_nodes, open_zip, zip_nodes
from autograder.safetext import clean
from autograder.students import Student


# ------------------------------------------------------------------------------------------- the download
@dataclass
class Entry:
    """A top-level item of a download: a file, or a folder with the nodes under it."""

    name: str
    is_dir: bool
    nodes: list[Node]  # a file: itself (path = its name); a folder: its files (paths relative to it)


class Download:
    """An LMS download (a zip) or a folder, as top-level entries. Use as a context manager."""

    def __init__(self, source: Path):
        self.source = Path(source)
        self.zf = None
        if self.source.is_file():
            self.zf = open_zip(self.source, self.source.name)
            self.nodes = zip_nodes(self.zf)
        elif self.source.is_dir():
            self.nodes: list[Node] = folder_nodes(self.source)
        else:
            raise SystemExit(f"{self.source}: not a folder or a zip file")
        self.prefix = ""

    def __enter__(self) -> Download:
        return self

    def __exit__(self, *exc) -> None:
        if self.zf is not None:
            self.zf.close()

    def entries(self) -> list[Entry]:
        """Top-level entries under the current prefix (a zip wrapping everything in one folder is unwrapped by
        ``unwrap``). Unsafe member names (absolute, ``..``) are kept as names only: nothing is ever written
        to a path taken from a download."""
        groups: dict[str, Entry] = {}
        for node in self.nodes:
            path = node.path
            if not path.startswith(self.prefix):
                continue
            rest = path[len(self.prefix) :].strip("/")
            if not rest:
                continue
            top, _, inner = rest.partition("/")
            if top not in groups:
                groups[top] = Entry(top, bool(inner) or node.kind == "dir", [])
            e = groups[top]
            if inner:
                e.is_dir = True
                if node.kind != "dir":
                    e.nodes.append(_rel(node, inner))
            elif node.kind != "dir":
                e.nodes.append(_rel(node, top))
        return [groups[k] for k in sorted(groups)]

    def unwrap(self, claimed) -> list[str]:
        """While the download is one folder that no adapter claims, descend into it; the folders passed."""
        passed = []
        while True:
            entries = self.entries()
            if len(entries) == 1 and entries[0].is_dir and not claimed(entries[0]):
                self.prefix += entries[0].name + "/"
                passed.append(entries[0].name)
            else:
                return passed


def _rel(node: Node, path: str) -> Node:
    """A copy of ``node`` whose path is ``path`` (nodes are shared by entries and must not be renamed in place)."""
    if isinstance(node, ZipNode):
        return ZipNode(node.zf, node.info, path, node.rank)
    if isinstance(node, FileNode):
        return FileNode(node.disk, path, node.rank)
    raise TypeError(type(node))


# ------------------------------------------------------------------------------------------- one upload
@dataclass
class Upload:
    """One upload (one attempt) of one student, as the LMS delivered it."""

    lms_id: str
    nodes: list[Node]
    order: tuple = ()  # newer uploads of the same student sort later (time, attempt, counter)
    label: str = ""  # "attempt 2026-10-20 23:58:11", "attachments 789, 790"
    name: str = ""  # display name learnt from the download (a roster overrides it)
    submitted_at: datetime | None = None  # the LMS's submission time
    late_flag: bool | None = None  # the LMS's own late mark
    notes: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # per LMS: Canvas attachment ids, Moodle folder prefix, ...


class Adapter:
    """The interface; see the LMS modules for the real conventions."""

    name = ""
    title = ""
    convention = ""  # the naming rule, shown in messages

    # -- intake
    def claims(self, entry: Entry) -> bool:
        """Whether a top-level entry is named the way this LMS names submissions."""
        raise NotImplementedError

    def uploads(self, entries: list[Entry], tz: tzinfo) -> tuple[list[Upload], list[str]]:
        """The uploads found in the download, and a message for every entry that is not one (skipped)."""
        raise NotImplementedError

    def read_roster(self, path: Path, tz: tzinfo) -> dict[str, Student]:
        """lms id -> Student from the LMS's own export (names, emails, SIS ids; ``extra["submitted_at"]``)."""
        raise NotImplementedError

    def pick(self, uploads: list[Upload]) -> tuple[Upload, list[str]]:
        """The upload kept for one student (the newest, whole), and notes on the others."""
        ups = sorted(uploads, key=lambda u: u.order)
        kept = ups[-1]
        notes = [f"older upload ignored: {u.label}" for u in ups[:-1]]
        return kept, notes


# ---------------------------------------------------------------------------------------------- tables
def read_table(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV/TSV an LMS exported (UTF-8 with or without BOM, or UTF-16 as Blackboard's .xls; comma,
    semicolon or tab), keys stripped."""
    raw = Path(path).read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
    first = text.split("\n", 1)[0]
    delim = max(",;\t", key=first.count)
    rows = list(csv.reader(io.StringIO(text), delimiter=delim))
    if not rows:
        return []
    head = [h.strip() for h in rows[0]]
    return [dict(zip(head, [c.strip() for c in r])) for r in rows[1:] if any(c.strip() for c in r)]


def column(row: dict[str, str], *names: str) -> str:
    """The first of ``names`` present in ``row`` (case-insensitive), or ''."""
    low = {k.lower(): v for k, v in row.items()}
    for n in names:
        if n.lower() in low:
            return low[n.lower()]
    return ""


def shown(name: str) -> str:
    return clean(PurePosixPath(name).name or name, 120)
