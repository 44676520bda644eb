"""Getting submissions in: ``submit`` (student side, packs a zip), ``collect`` (instructor side: a folder of
student folders or an LMS-style zip -> ``autograder/submitted/<student>/<assignment>/``) and ``stage`` (a
whitelist copy into a clean staging folder: the assignment notebook and the known ``lib/deepkit`` modules).

A submission is ``<assignment>.ipynb`` plus ``lib/deepkit/<module>.py``. Nothing is ever followed through a
symlink; zip members with absolute paths, ``..``, symlink modes or absurd sizes are skipped and listed.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from autograder.course import Course
from autograder.spec import TopicChecks

MAX_PY = 1024**2  # one module
MAX_NOTEBOOK = 20 * 1024**2
MAX_ZIP_TOTAL = 256 * 1024**2
MAX_ZIP_MEMBERS = 5000
STUDENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
QUIET = {"__pycache__", ".ipynb_checkpoints", ".DS_Store", "timestamp.txt"}


# --------------------------------------------------------------------------------------------- student side
def submit(course: Course, assignment: str, out: Path | None = None) -> Path:
    """Pack ``exercises/<a>/<a>.ipynb`` and ``lib/deepkit/*.py`` into ``<a>-submission.zip`` for upload."""
    nb = course.path(course.find(assignment).exercise_notebook)
    if not nb.is_file():
        raise SystemExit(f"{nb} not found: submit from the course folder you worked in")
    lib = course.stub_lib / "deepkit"
    out = Path(out) if out else course.root / f"{assignment}-submission.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(nb, f"{assignment}.ipynb")
        for p in sorted(lib.glob("*.py")):
            if p.is_file() and not p.is_symlink():
                z.write(p, f"lib/deepkit/{p.name}")
        z.writestr("timestamp.txt", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    return out


# ------------------------------------------------------------------------------------------------- collect
def safe_extract(zpath: Path, dest: Path, notes: list[str]) -> None:
    """Extract a zip without escaping ``dest``: no absolute paths, no ``..``, no symlinks, size caps."""
    total = 0
    with zipfile.ZipFile(zpath) as z:
        members = z.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            notes.append(f"{zpath.name}: {len(members)} members, only the first {MAX_ZIP_MEMBERS} read")
            members = members[:MAX_ZIP_MEMBERS]
        for info in members:
            name = info.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            if name.startswith("/") or ".." in parts or not parts or ":" in parts[0]:
                notes.append(f"{zpath.name}: skipped unsafe path {name[:80]!r}")
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                notes.append(f"{zpath.name}: skipped symlink {name[:80]!r}")
                continue
            if info.is_dir():
                continue
            total += info.file_size
            if info.file_size > MAX_NOTEBOOK * 2 or total > MAX_ZIP_TOTAL:
                notes.append(f"{zpath.name}: skipped {name[:80]!r} (too large)")
                continue
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def _student_from_name(name: str, pattern: re.Pattern) -> str | None:
    m = pattern.match(name)
    sid = m.group("student") if m else None
    return sid if sid and STUDENT_RE.match(sid) else None


def _submission_root(folder: Path, assignment: str) -> Path:
    """The folder that holds the notebook: ``folder/<assignment>/`` if present, else the single subfolder that
    has the notebook, else ``folder`` itself."""
    if (folder / assignment).is_dir() and not (folder / assignment).is_symlink():
        return folder / assignment
    for p in sorted(folder.rglob(f"{assignment}.ipynb")):
        if not any(q.is_symlink() for q in [p, *p.parents] if folder in q.parents or q == folder):
            return p.parent
    return folder


def collect(
    course: Course,
    source: Path,
    assignment: str,
    pattern: str = r"^(?P<student>[A-Za-z0-9][A-Za-z0-9.@-]*)(?:_|$|\.zip$)",
) -> tuple[list[str], list[str]]:
    """Copy every student's submission from ``source`` into ``submitted/<student>/<assignment>/``.

    ``source``: a folder with one entry per student (a folder, or ``<student>_*.zip``), or a zip of such
    (an LMS download). Returns (students collected, notes). An existing submission is replaced.
    """
    rx = re.compile(pattern)
    notes: list[str] = []
    got: list[str] = []
    with tempfile.TemporaryDirectory(prefix="collect-") as tmp:
        tmp = Path(tmp)
        if source.is_file() and zipfile.is_zipfile(source):
            safe_extract(source, tmp / "all", notes)
            top = tmp / "all"
            entries = list(top.iterdir())
            if len(entries) == 1 and entries[0].is_dir() and not _student_from_name(entries[0].name, rx):
                top = entries[0]  # the zip wraps everything in one folder
        elif source.is_dir():
            top = source
        else:
            raise SystemExit(f"{source}: not a folder or a zip file")
        for entry in sorted(top.iterdir()):
            sid = _student_from_name(entry.name, rx)
            if sid is None:
                notes.append(f"{entry.name}: no student id in the name, skipped")
                continue
            if entry.is_symlink():
                notes.append(f"{entry.name}: a symlink, skipped")
                continue
            work = tmp / "students" / sid
            if work.exists():
                notes.append(f"{entry.name}: a second entry for {sid}, merged")
            if entry.is_dir():
                _copy_tree_nofollow(entry, work, notes)
            elif zipfile.is_zipfile(entry):
                safe_extract(entry, work, notes)
            elif entry.suffix == ".ipynb":
                work.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(entry, work / f"{assignment}.ipynb")
            else:
                notes.append(f"{entry.name}: not a folder, zip or notebook, skipped")
                continue
            for inner in sorted(work.rglob("*.zip")):  # a student folder holding their submission zip
                if not inner.is_symlink() and zipfile.is_zipfile(inner):
                    safe_extract(inner, inner.parent, notes)
                    inner.unlink()
            root = _submission_root(work, assignment)
            dest = course.submitted / sid / assignment
            if dest.exists():
                shutil.rmtree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            _copy_tree_nofollow(root, dest, notes)
            if not (dest / "timestamp.txt").is_file():
                (dest / "timestamp.txt").write_text(datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
            got.append(sid)
    return got, notes


def _copy_tree_nofollow(src: Path, dst: Path, notes: list[str]) -> None:
    """Copy a tree keeping symlinks as symlinks (never reading through them)."""
    shutil.copytree(
        src, dst, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
    )


# --------------------------------------------------------------------------------------------------- stage
@dataclass
class Intake:
    """What the whitelist copy took, left out, and why."""

    notebook: bool = False
    notebook_reason: str = ""
    taken: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # topic module -> reason
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timestamp: str | None = None


def _read_regular(path: Path, limit: int) -> tuple[bytes | None, str]:
    """Read a regular file without following a symlink; (data, '') or (None, reason)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return None, "a symlink (not followed)" if exc.errno in (40, 31) else f"unreadable ({exc.strerror})"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, "not a regular file"
        if st.st_size > limit:
            return None, f"too large ({st.st_size} bytes > {limit})"
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit + 1), ""
    finally:
        os.close(fd)


def stage(course: Course, topic: TopicChecks, assignment: str, src: Path, dest: Path) -> Intake:
    """Whitelist-copy ``src`` (a submitted folder) into ``dest`` (emptied first); never follows symlinks."""
    info = Intake()
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "lib" / "deepkit").mkdir(parents=True)
    wanted_nb = f"{assignment}.ipynb"
    modules = set(course.student_modules)
    found: dict[str, Path] = {}
    nb_path = None
    if src.is_dir() and not src.is_symlink():
        for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
            d = Path(dirpath)
            for name in list(dirnames):
                if (d / name).is_symlink():
                    info.ignored.append(f"{(d / name).relative_to(src)}/ (a symlink to a folder, not followed)")
                    dirnames.remove(name)
                elif name in QUIET:
                    dirnames.remove(name)
            for name in filenames:
                p = d / name
                rel = p.relative_to(src).as_posix()
                if name in QUIET:
                    continue
                if rel == wanted_nb:
                    nb_path = p
                elif (
                    (rel.startswith("lib/deepkit/") or rel.startswith("deepkit/"))
                    and rel.count("/") == rel.startswith("lib/") + 1
                    and name.endswith(".py")
                    and name[:-3] in modules
                ):
                    if name[:-3] in found:
                        info.ignored.append(f"{rel} (a second copy of {name})")
                    else:
                        found[name[:-3]] = p
                else:
                    info.ignored.append(rel + (" (symlink)" if p.is_symlink() else ""))
    ts = src / "timestamp.txt"
    if ts.is_file() and not ts.is_symlink():
        info.timestamp = ts.read_text(errors="replace")[:64].strip() or None
    # the notebook
    if nb_path is None:
        info.notebook_reason = f"{wanted_nb} is missing from the submission"
    else:
        data, why = _read_regular(nb_path, MAX_NOTEBOOK)
        if data is None:
            info.notebook_reason = f"{wanted_nb}: {why}"
        else:
            try:
                import nbformat

                nbformat.reads(data.decode("utf-8"), as_version=4)
            except UnicodeDecodeError:
                info.notebook_reason = f"{wanted_nb}: not UTF-8 text"
            except Exception as exc:  # noqa: BLE001
                info.notebook_reason = f"{wanted_nb}: not a readable notebook ({type(exc).__name__})"
            else:
                (dest / wanted_nb).write_bytes(data)
                info.notebook = True
                info.taken.append(wanted_nb)
    # the student's modules
    for m in sorted(modules):
        reason = ""
        if m in found:
            data, reason = _read_regular(found[m], MAX_PY)
            if data is not None:
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    reason = "not UTF-8 text"
                else:
                    (dest / "lib" / "deepkit" / f"{m}.py").write_bytes(data)
                    info.taken.append(f"lib/deepkit/{m}.py")
                    continue
        else:
            reason = "missing from the submission"
        if m in topic.modules:
            info.missing[m] = reason
        else:  # another topic's module: the release stub keeps imports working (never the reference)
            stub = course.stub_lib / "deepkit" / f"{m}.py"
            if stub.is_file():
                shutil.copyfile(stub, dest / "lib" / "deepkit" / f"{m}.py")
            if m in found:
                info.notes.append(f"lib/deepkit/{m}.py: {reason}; the release stub was used")
    # given modules come from the course, whatever the student sent
    for rel in course.given_files:
        target = dest / "lib" / "deepkit" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(course.given_source(rel), target)
    for p in [dest, *dest.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    if len(info.ignored) > 40:
        info.ignored = info.ignored[:40] + [f"... and {len(info.ignored) - 40} more"]
    return info


def submissions(course: Course, assignment: str | None = None, student: str | None = None) -> list[tuple[str, str]]:
    """(student, assignment) pairs found under ``submitted/``."""
    out = []
    if not course.submitted.is_dir():
        return out
    known = [a for a in course.assignments() if assignment is None or a == assignment]
    for s in sorted(course.submitted.iterdir()):
        if not s.is_dir() or s.is_symlink() or (student and s.name != student):
            continue
        for a in known:
            if (s / a).is_dir() and not (s / a).is_symlink():
                out.append((s.name, a))
    return out
