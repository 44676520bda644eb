"""Who a student is: the LMS's own id from intake to export; names are display data only.

The one place that maps an LMS id (a Canvas user id, a Moodle participant id, a Blackboard username, a folder
name) to the student id the grader uses for folders and nbgrader's gradebook (``submitted/<id>/``,
``autograded/<id>/``, ``Gradebook.find_student(id)``), and back:

- an LMS id that is already a safe folder name (``[a-z0-9][a-z0-9._-]*``, at most 64 characters, no ``--``) is
  used as it is (``12345``, ``jsmith``), so the formgrader shows the id the instructor knows;
- any other id (capitals, ``@``, spaces, non-ASCII, very long) becomes ``<readable part>--<10 hex digits of
  SHA-256 of the id>``; the ``--`` never occurs in an id used as it is, so the mapping is one-to-one, and two
  different LMS ids are never merged (``JSmith`` and ``jsmith`` get different folders, which also keeps them
  apart on a case-insensitive file system).

``<work>/students.json`` (the registry) keeps, per grader id, the LMS, the LMS id and the display data (name,
email, SIS id, login) that ``collect`` learnt from the download and the roster. Exports and feedback bundles
read it to write the LMS's own ids back.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field

from autograder.course import Course
from autograder.safetext import clean

_SAFE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def grader_id(lms_id: str) -> str:
    """The folder-safe student id for an LMS id (one-to-one; see the module docstring)."""
    lms_id = str(lms_id)
    if _SAFE.match(lms_id) and "--" not in lms_id and not lms_id.endswith("."):
        return lms_id
    readable = re.sub(r"[^a-z0-9]+", "-", lms_id.lower()).strip("-")[:40].strip("-") or "id"
    return f"{readable}--{hashlib.sha256(lms_id.encode('utf-8')).hexdigest()[:10]}"


@dataclass
class Student:
    """One student as the LMS knows them. Only ``lms`` and ``lms_id`` identify; the rest is display data."""

    lms: str  # "canvas", "moodle", "blackboard", "folder"
    lms_id: str
    name: str = ""
    email: str = ""
    sis_id: str = ""  # the institution's student number (Canvas SIS User ID, Blackboard Student ID)
    login: str = ""  # Canvas SIS Login ID
    extra: dict = field(default_factory=dict)  # per-LMS details (Moodle: participant id per assignment, ...)

    @property
    def id(self) -> str:
        return grader_id(self.lms_id)

    def label(self) -> str:
        """``lms_id (name)`` for tables and messages, sanitised."""
        return clean(f"{self.lms_id} ({self.name})" if self.name else self.lms_id, 120)


class Registry:
    """``<work>/students.json``: grader id -> Student. Load, update, save."""

    def __init__(self, course: Course):
        self.path = course.work / "students.json"
        self.students: dict[str, Student] = {}
        if self.path.is_file():
            for sid, d in json.loads(self.path.read_text(encoding="utf-8")).items():
                self.students[sid] = Student(**d)

    def get(self, sid: str) -> Student | None:
        return self.students.get(sid)

    def add(self, student: Student) -> str:
        """Record ``student`` (display data is updated, never the identity); returns its grader id."""
        sid = student.id
        known = self.students.get(sid)
        if known is not None and (known.lms, known.lms_id) != (student.lms, student.lms_id):
            raise SystemExit(
                f"student id clash: {student.label()} of {student.lms} maps to {sid}, already used by "
                f"{known.label()} of {known.lms}; use a separate --work folder per LMS course"
            )
        if known is None:
            self.students[sid] = student
        else:
            for f in ("name", "email", "sis_id", "login"):
                if getattr(student, f):
                    setattr(known, f, getattr(student, f))
            known.extra.update(student.extra)
        return sid

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({k: asdict(v) for k, v in sorted(self.students.items())}, indent=1, ensure_ascii=False)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".students-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data + "\n")
        os.replace(tmp, self.path)

    def student(self, sid: str) -> Student:
        """The registered student, or a ``folder`` student whose LMS id is the grader id (submissions placed
        under ``submitted/`` by hand)."""
        return self.students.get(sid) or Student("folder", sid)
