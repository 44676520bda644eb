"""Where things are: the course tree the grader works on (the repository by default; a temp tree in tests).

Everything the grading CLI reads or writes is reached through a ``Course``, so the tests can run the whole
pipeline on a throw-away copy without touching ``autograder/gradebook.db`` or ``autograder/submitted``.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

from autograder.cases import PUBLIC, CaseSet, hidden_seed, public_path, term_secret
from autograder.spec import TopicChecks
from course.topics import Topic, UnknownTopic, find, load, student_modules

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Limits:
    """Resource limits of one sandbox run (seconds, bytes, processes).

    Library parts are limited in CPU time, not wall time, so a score does not depend on the machine's load: a
    part gets ``Part.timeout`` CPU seconds (capped by ``part_timeout``), all parts of a submission together
    ``lib_cpu`` (at least the largest part's limit), and the submission may spend ``lib_idle`` seconds in total
    asleep or blocked (``time.sleep``, ``input()``...), so it cannot hold a grading slot while using no CPU.
    Wall clocks are generous backstops: ``wall_factor`` x a part's CPU limit (+5 s) per part, ``lib_wall`` for
    the whole library sandbox."""

    lib_wall: float | None = None  # wall backstop of the library sandbox; None: (lib_cpu + 10) x wall_factor + 40
    part_timeout: float | None = None  # caps every part's own CPU limit (tests use a few seconds)
    lib_cpu: float = 60.0  # CPU seconds for every part of one submission together
    lib_idle: float = 10.0  # seconds one submission's library check may spend asleep or blocked, in total
    wall_factor: float = 5.0  # wall-clock backstop of a part, as a multiple of its CPU limit
    isolation: str = "required"  # "none": --no-isolation (resource limits only; never for real grading)
    nb_wall: float = 600.0  # wall seconds of the whole notebook run (nbgrader + kernel)
    cell_timeout: float = 120.0  # nbgrader's per-cell timeout
    memory: int = 2 * 1024**3  # RLIMIT_AS of each process (bytes)
    nb_memory: int = 4 * 1024**3  # RLIMIT_AS in the notebook sandbox (nbgrader and the kernel)
    nproc: int = 48  # RLIMIT_NPROC (threads count) of the library sandbox's user
    nb_nproc: int = 160
    fsize: int = 64 * 1024**2  # RLIMIT_FSIZE: largest file the sandbox may write
    scratch: int = 256 * 1024**2  # size of the sandbox's private /tmp (tmpfs)
    max_result: int = 128 * 1024**2  # most bytes the parent accepts back from one sandbox


@dataclass
class Course:
    """Paths of a course tree. ``Course()`` is this repository."""

    root: Path = REPO
    work: Path | None = None  # where submitted/, autograded/, feedback/, staging/, gradebook.db live
    topics: tuple[Topic, ...] | None = None  # None: the registry of the tree at ``root``
    cases: str = "hidden"  # "hidden": grading (needs the term secret); "public": ``check`` (autograder/cases.py)
    secret: str | None = None  # the term secret; None: read from the instructor's configuration when needed

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.work = Path(self.work).resolve() if self.work is not None else self.root / "autograder"
        if self.topics is None:
            self.topics = load(self.root)

    # -- which cases (autograder/cases.py)
    def case_set(self) -> CaseSet:
        """The cases this course grades on: the public ones, or the hidden ones of the term secret (raises
        ``MissingTermSecret`` with instructions when there is none)."""
        if self.cases == "public":
            return PUBLIC
        if self.cases != "hidden":
            raise ValueError(f"cases must be 'public' or 'hidden', not {self.cases!r}")
        if self.is_edition:
            raise SystemExit("this is a student edition: it holds the public cases only (python -m autograder check)")
        return CaseSet("hidden", hidden_seed(self.secret if self.secret is not None else term_secret(self.root)))

    @property
    def is_edition(self) -> bool:
        """A student edition (autograder/edition.py): public cases as data, no reference implementation."""
        return (self.root / "course" / "edition.json").is_file()

    def public_cases_file(self, checks: TopicChecks) -> Path | None:
        """The stored public cases of a topic (in a student edition), or None (computed from the reference)."""
        path = public_path(self.root, checks.topic.slug)
        return path if path.is_file() else None

    # -- inputs (read-only for the grader)
    def path(self, rel) -> Path:
        """A registry path (``topic.lecture``, ``topic.checks``, ...) in this course tree."""
        return self.root / rel

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def ref_lib(self) -> Path:
        """The folder holding the reference package ``deepkit`` (put it on sys.path to import it)."""
        return self.root / "reference"

    @property
    def stub_lib(self) -> Path:
        """The folder holding the students' package ``deepkit`` (release stubs + given modules)."""
        return self.root / "lib"

    @property
    def exercises(self) -> Path:
        return self.root / "exercises"

    # -- outputs
    @property
    def submitted(self) -> Path:
        return self.work / "submitted"

    @property
    def autograded(self) -> Path:
        return self.work / "autograded"

    @property
    def feedback(self) -> Path:
        return self.work / "feedback"

    @property
    def staging(self) -> Path:
        return self.work / "staging"

    @property
    def exports(self) -> Path:
        return self.work / "exports"

    @property
    def gradebook(self) -> Path:
        return self.work / "gradebook.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.gradebook}"

    # -- topics (all from the registry)
    def assignments(self) -> list[str]:
        """Assignment ids (``NN_slug``) of the course, in order."""
        return [t.folder for t in self.topics]

    def find(self, name_or_number: str) -> Topic:
        """The registry entry for ``"01"``, ``"1"``, ``"softmax"`` or ``"01_softmax"`` (exits with the known list)."""
        try:
            return find(name_or_number, self.topics)
        except UnknownTopic as exc:
            raise SystemExit(str(exc)) from None

    def assignment(self, name_or_number: str) -> str:
        """``"01"``, ``"1"`` or ``"01_softmax"`` -> ``"01_softmax"``."""
        return self.find(name_or_number).folder

    def topic(self, assignment: str) -> TopicChecks:
        """The topic's grading: its registry entry and the parts of ``autograder/checks/<slug>.py``."""
        entry = self.find(assignment)
        mod = _load_file(self.path(entry.checks), f"_course_checks_{entry.slug}_{id(self)}")
        return TopicChecks(entry, tuple(mod.PARTS), tuple(getattr(mod, "READS", ())))

    def probe_source(self, checks: TopicChecks) -> str:
        return self.path(checks.topic.probes).read_text(encoding="utf-8")

    def load_probes(self, checks: TopicChecks) -> ModuleType:
        return _load_file(self.path(checks.topic.probes), f"_course_probes_{checks.topic.slug}_{id(self)}")

    @property
    def student_modules(self) -> tuple[str, ...]:
        """deepkit modules students write (every topic's ``modules``)."""
        return student_modules(self.topics)

    @cached_property
    def given_files(self) -> tuple[str, ...]:
        """Files of the given (non-student) part of deepkit, relative to ``lib/deepkit`` (e.g. ``viz/base.py``)."""
        base = self.ref_lib / "deepkit"
        if not base.is_dir():  # a student edition: no reference; the given files are the stub tree's
            base = self.stub_lib / "deepkit"
        out = []
        for p in sorted(base.rglob("*.py")):
            rel = p.relative_to(base)
            if "__pycache__" in rel.parts:
                continue
            if len(rel.parts) == 1 and p.stem in self.student_modules:
                continue
            out.append(rel.as_posix())
        return tuple(out)

    def given_source(self, rel: str) -> Path:
        """The given file from the stub tree (``lib/``) if built, else from the reference (identical by rule)."""
        stub = self.stub_lib / "deepkit" / rel
        return stub if stub.is_file() else self.ref_lib / "deepkit" / rel


def _load_file(path: Path, name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or not path.is_file():
        raise FileNotFoundError(path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod


def _scripts_on_path() -> None:
    """nbgrader's Gradebook runs the ``alembic`` script: make this interpreter's scripts findable."""
    import os

    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


_scripts_on_path()
