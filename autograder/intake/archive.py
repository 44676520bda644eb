"""Reading one untrusted upload within a budget: a tree of files and (nested) zips, from an LMS download or a
folder, walked without ever writing a member's path to disk.

A ``Node`` is one file of an upload (a zip member or a file on disk). ``scan`` walks nodes and the zips inside
them (depth-limited) and keeps only what a submission can be made of: notebooks and ``.py`` files named like
a student module of the course. Everything else is counted and listed by name, never extracted. Every byte read
(nested archives included) and every member seen counts against the submission's ``Budget``; the declared sizes
in a zip are never trusted. A corrupt, encrypted or otherwise unreadable part raises ``Unreadable``; going over
the budget raises ``OverBudget``: either ends this upload only (the caller reports it for that student and goes
on with the next).
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.safetext import clean

MAX_PY = 1024**2  # one module
MAX_NOTEBOOK = 20 * 1024**2
# Folders that never hold a submission file: caches, editor and OS litter.
QUIET = {"__pycache__", ".ipynb_checkpoints", "__MACOSX", ".git", ".DS_Store", ".venv", "node_modules"}
OTHER_ARCHIVES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".rar", ".7z", ".gz", ".bz2", ".xz")


def is_litter(name: str) -> bool:
    """A file or folder name written by an operating system or a tool, never by the student: the ``QUIET`` folders
    and files, and ``._<name>`` (macOS resource forks)."""
    return name in QUIET or name.startswith("._")


class Unreadable(Exception):
    """A corrupt, encrypted or unreadable upload (or part of one that is needed)."""


class OverBudget(Exception):
    """The upload holds more bytes or files than one submission may (a zip bomb, a whole disk, ...)."""


@dataclass
class Budget:
    """Limits for ONE submission, across the download's members and every nested archive."""

    max_bytes: int = 128 * 1024**2  # bytes actually read (decompressed), nested archives included
    max_files: int = 5000  # files seen, nested archives included (caches such as .git/ and .venv/ not counted)
    max_depth: int = 3  # zips inside zips inside ...
    used_bytes: int = 0
    used_files: int = 0

    def fresh(self) -> Budget:
        return Budget(self.max_bytes, self.max_files, self.max_depth)

    def count_files(self, n: int = 1) -> None:
        self.used_files += n
        if self.used_files > self.max_files:
            raise OverBudget(f"more than {self.max_files} files (nested archives included)")

    def count_bytes(self, n: int) -> None:
        self.used_bytes += n
        if self.used_bytes > self.max_bytes:
            raise self.too_big()

    def too_big(self, where: str = "") -> OverBudget:
        at = f" ({where})" if where else ""
        return OverBudget(f"expands to more than {self.max_bytes // 1024**2} MiB{at} (nested archives included)")

    @property
    def left(self) -> int:
        return max(0, self.max_bytes - self.used_bytes)


class Node:
    """One entry of an upload. ``path`` is what the student named it (untrusted: only shown after ``clean``)."""

    kind = "file"  # "file", "dir", "symlink" or "other"
    size: int | None = None  # declared size (never trusted for limits)

    def __init__(self, path: str, rank: int = 0):
        self.path = path
        self.rank = rank  # 0 = the newest upload part (LMS order); ties are broken by preference rules

    def read(self, limit: int, budget: Budget) -> bytes | None:
        """At most ``limit`` bytes (None if the file is larger); every byte read counts against ``budget``."""
        raise NotImplementedError

    def renamed(self, path: str, rank: int | None = None) -> Node:
        self.path = path
        if rank is not None:
            self.rank = rank
        return self


def _read_stream(f, limit: int, budget: Budget) -> bytes | None:
    chunks, total = [], 0
    while True:
        chunk = f.read(min(1 << 20, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        budget.count_bytes(len(chunk))
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            return None


class FileNode(Node):
    """A file on disk (a folder download); opened with O_NOFOLLOW, never through a symlink."""

    def __init__(self, disk: Path, path: str, rank: int = 0):
        super().__init__(path, rank)
        self.disk = disk
        st = os.lstat(disk)
        self.size = st.st_size
        if stat.S_ISLNK(st.st_mode):
            self.kind = "symlink"
        elif stat.S_ISDIR(st.st_mode):
            self.kind = "dir"
        elif not stat.S_ISREG(st.st_mode):
            self.kind = "other"

    def read(self, limit: int, budget: Budget) -> bytes | None:
        try:
            fd = os.open(self.disk, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            raise Unreadable(f"{clean(self.path)}: unreadable ({exc.strerror})") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise Unreadable(f"{clean(self.path)}: not a regular file")
            with os.fdopen(fd, "rb", closefd=False) as f:
                return _read_stream(f, limit, budget)
        finally:
            os.close(fd)


class ZipNode(Node):
    """A member of an open zip file."""

    def __init__(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, rank: int = 0):
        super().__init__(path, rank)
        self.zf, self.info = zf, info
        self.size = info.file_size
        mode = info.external_attr >> 16
        if info.is_dir():
            self.kind = "dir"
        elif stat.S_ISLNK(mode):
            self.kind = "symlink"
        elif mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG):
            self.kind = "other"

    @property
    def encrypted(self) -> bool:
        return bool(self.info.flag_bits & 0x1)

    def read(self, limit: int, budget: Budget) -> bytes | None:
        if self.encrypted:
            raise Unreadable(f"{clean(self.path)}: encrypted (password-protected zip)")
        if self.info.file_size > limit:
            return None
        try:
            with self.zf.open(self.info) as f:
                return _read_stream(f, limit, budget)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
            why = "bad CRC" if "CRC" in str(exc) else type(exc).__name__
            raise Unreadable(f"{clean(self.path)}: corrupt ({why})") from None
        except OSError as exc:
            raise Unreadable(f"{clean(self.path)}: unreadable ({exc.strerror or type(exc).__name__})") from None


MAX_MEMBERS = 50_000  # members listed in one zip, caches included: bounds the work before any budget applies


def open_zip(data_or_path, label: str) -> zipfile.ZipFile:
    """A ZipFile over bytes or a path; ``Unreadable`` when it is not a readable zip."""
    try:
        src = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError) as exc:
        raise Unreadable(f"{clean(label)}: not a readable zip ({type(exc).__name__})") from None
    if len(zf.infolist()) > MAX_MEMBERS:
        zf.close()
        raise OverBudget(f"{clean(label)}: more than {MAX_MEMBERS} members")
    return zf


def member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its author wrote it, with ``/`` between folders.

    The zip format says a name is cp437 unless flag bit 11 says UTF-8, and Python decodes it so. Many writers
    store UTF-8 without setting the flag (Info-ZIP's ``zip`` on Linux and macOS, rubyzip unless
    ``Zip.unicode_names`` is set): those names read as mojibake (``garc├¡a``), and a student's ``übung.ipynb``
    or a Canvas name like ``garcíamaría_...`` would be shown garbled.
    UTF-8 almost never decodes as valid by accident, so an unflagged name that is valid UTF-8 is taken as UTF-8;
    any other stays cp437 (old Windows tools). Windows tools also write ``\\`` between folders."""
    name = info.filename
    if not info.flag_bits & 0x800 and not name.isascii():
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name.replace("\\", "/")


def zip_nodes(zf: zipfile.ZipFile, prefix: str = "", rank: int = 0) -> list[ZipNode]:
    """Every member of ``zf`` as a node whose path is ``prefix`` + the member's name."""
    return [ZipNode(zf, info, prefix + member_name(info), rank) for info in zf.infolist()]


def folder_nodes(root: Path, prefix: str = "", rank: int = 0) -> list[FileNode]:
    """Every file under ``root`` as a node (symlinks listed, never followed; cache folders skipped)."""
    out: list[FileNode] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        linked = [n for n in dirnames if (d / n).is_symlink()]  # listed as nodes (kind "symlink"), not entered
        dirnames[:] = sorted(n for n in dirnames if n not in QUIET and n not in linked)
        for name in sorted(filenames + linked):
            out.append(FileNode(d / name, prefix + (d / name).relative_to(root).as_posix(), rank))
    return out


@dataclass
class Item:
    """A candidate file found in an upload: where it was, its bytes, and the rank of the upload part."""

    path: str
    data: bytes
    rank: int = 0


@dataclass
class Found:
    """What ``scan`` kept from one upload."""

    notebooks: list[Item] = field(default_factory=list)
    modules: list[Item] = field(default_factory=list)  # .py files named like a student module
    others: int = 0  # files not taken (neither a notebook nor a student module)
    litter: int = 0  # files in caches and OS folders (__MACOSX/, ._*, .git/, .ipynb_checkpoints/, ...), not opened
    notes: list[str] = field(default_factory=list)


def scan(nodes: Iterable[Node], budget: Budget, modules: Iterable[str], found: Found | None = None, depth: int = 0):
    """Walk ``nodes`` (and zips inside, up to ``budget.max_depth``) keeping notebooks and student modules."""
    found = found if found is not None else Found()
    wanted = set(modules)
    for node in nodes:
        parts = PurePosixPath(node.path).parts
        if not parts:
            continue
        if any(p in QUIET for p in parts[:-1]) or is_litter(parts[-1]):
            found.litter += node.kind != "dir"
            continue
        budget.count_files()
        name = parts[-1]
        low = name.lower()
        if node.kind == "dir":
            continue
        shown = _Shown(node.path)
        if node.kind == "symlink":
            found.notes.append(f"{shown}: a symlink, not followed")
            continue
        if node.kind != "file":
            found.notes.append(f"{shown}: not a regular file, skipped")
            continue
        if low.endswith(".zip"):
            if depth + 1 > budget.max_depth:
                raise OverBudget(f"archives nested more than {budget.max_depth} deep ({shown})")
            data = node.read(budget.left, budget)
            if data is None:
                raise budget.too_big(shown)
            with open_zip(data, node.path) as zf:
                inner = zip_nodes(zf, node.path + "/", node.rank)
                scan(inner, budget, wanted, found, depth + 1)
        elif low.endswith(".ipynb"):
            data = node.read(MAX_NOTEBOOK, budget)
            if data is None:
                found.notes.append(f"{shown}: larger than {MAX_NOTEBOOK // 1024**2} MiB, not taken")
            else:
                found.notebooks.append(Item(node.path, data, node.rank))
        elif low.endswith(".py") and name[:-3] in wanted:
            data = node.read(MAX_PY, budget)
            if data is None:
                found.notes.append(f"{shown}: larger than {MAX_PY // 1024**2} MiB, not taken")
            else:
                found.modules.append(Item(node.path, data, node.rank))
        elif low.endswith(OTHER_ARCHIVES):
            found.notes.append(f"{shown}: only .zip archives are opened")
        else:
            found.others += 1
    return found


class _Shown:
    """A node's path, cleaned only if it is ever shown (most never are)."""

    def __init__(self, path: str):
        self.path = path

    def __str__(self) -> str:
        return clean(self.path, 120)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)
