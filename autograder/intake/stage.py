"""``stage``: a whitelist copy of one collected submission into a clean staging folder (the folder the sandboxes
read): the assignment notebook and the student's ``lib/deepkit/<module>.py`` for the modules students write.

Given modules (``__init__``, ``validate``, ``gradcheck``, ``data``, ``viz/``) always come from the course, whatever
the student sent (and are not reported as "not graded": they are the course's). A module the student did not
send, or that cannot be taken (a symlink, not UTF-8, too large), is replaced by its release stub, for the graded
topic too: imports keep working, so only the parts that call it score 0, and ``Intake.missing`` carries the
reason those parts show ("lib/deepkit/layers.py: missing from the submission"). Nothing is followed through a
symlink. The submission time is the LMS's (from the intake record ``collect`` wrote), never ``timestamp.txt``.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import Course
from autograder.intake.archive import MAX_NOTEBOOK, MAX_PY, QUIET
from autograder.intake.record import lms_time
from autograder.safetext import clean
from autograder.spec import TopicChecks

QUIET_FILES = QUIET | {"timestamp.txt"}


@dataclass
class Intake:
    """What the whitelist copy took, left out, and why."""

    notebook: bool = False
    notebook_reason: str = ""
    taken: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # topic module -> reason (its release stub was staged)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timestamp: str | None = None  # the LMS's submission time (ISO 8601), if collect knew it


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


def _given(course: Course, rel: str) -> bool:
    """``rel`` (a path in the submission) is one of the course's given deepkit files."""
    for prefix in ("lib/deepkit/", "deepkit/"):
        if rel.startswith(prefix) and rel[len(prefix) :] in course.given_files:
            return True
    return False


def stage(course: Course, topic: TopicChecks, assignment: str, src: Path, dest: Path) -> Intake:
    """Whitelist-copy ``src`` (``submitted/<student>/<assignment>``) into ``dest`` (emptied first)."""
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
                    info.ignored.append(
                        f"{clean((d / name).relative_to(src), 120)}/ (a symlink to a folder, not followed)"
                    )
                    dirnames.remove(name)
                elif name in QUIET:
                    dirnames.remove(name)
            for name in filenames:
                p = d / name
                rel = p.relative_to(src).as_posix()
                if name in QUIET_FILES:
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
                        info.ignored.append(f"{clean(rel, 120)} (a second copy of {name})")
                    else:
                        found[name[:-3]] = p
                elif not _given(course, rel):
                    info.ignored.append(clean(rel, 120) + (" (symlink)" if p.is_symlink() else ""))
    info.timestamp = lms_time(course, assignment, src)
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
    # the student's modules; the release stub (never the reference) for any that cannot be taken
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
        stub = course.stub_lib / "deepkit" / f"{m}.py"
        if stub.is_file():
            shutil.copyfile(stub, dest / "lib" / "deepkit" / f"{m}.py")
        if m in topic.modules:
            info.missing[m] = reason
        elif m in found:
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
