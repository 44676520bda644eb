"""Where things are: the course tree the grader works on (the repository by default; a temp tree in tests).

Everything the grading CLI reads or writes is reached through a ``Course``, so the tests can run the whole
pipeline on a throw-away copy without touching ``autograder/gradebook.db`` or ``autograder/submitted``.
"""
from __future__ import annotations

import ast
import importlib.util
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

from autograder.spec import Topic

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT_RE = re.compile(r"^(\d\d)_[A-Za-z0-9_]+$")


@dataclass
class Limits:
    """Resource limits of one sandbox run (seconds, bytes, processes)."""

    lib_wall: float | None = None     # wall seconds of the library sandbox; None: sum of the parts' timeouts + 15
    part_timeout: float | None = None  # caps every part's own timeout (tests use a few seconds)
    nb_wall: float = 600.0            # wall seconds of the whole notebook run (nbgrader + kernel)
    cell_timeout: float = 120.0       # nbgrader's per-cell timeout
    memory: int = 2 * 1024 ** 3       # RLIMIT_AS of each process (bytes)
    nb_memory: int = 4 * 1024 ** 3    # RLIMIT_AS in the notebook sandbox (nbgrader and the kernel)
    nproc: int = 48                   # RLIMIT_NPROC (threads count) of the library sandbox's user
    nb_nproc: int = 160
    fsize: int = 64 * 1024 ** 2       # RLIMIT_FSIZE: largest file the sandbox may write
    scratch: int = 256 * 1024 ** 2    # size of the sandbox's private /tmp (tmpfs)
    max_result: int = 128 * 1024 ** 2  # most bytes the parent accepts back from one sandbox


@dataclass
class Course:
    """Paths of a course tree. ``Course()`` is this repository."""

    root: Path = REPO
    work: Path | None = None  # where submitted/, autograded/, feedback/, staging/, gradebook.db live

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.work = Path(self.work).resolve() if self.work is not None else self.root / "autograder"

    # -- inputs (read-only for the grader)
    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def ref_lib(self) -> Path:
        return self.root / "solutions" / "lib"

    @property
    def stub_lib(self) -> Path:
        return self.root / "lib"

    @property
    def exercises(self) -> Path:
        return self.root / "exercises"

    @property
    def checks_dir(self) -> Path:
        return self.root / "autograder" / "checks"

    @property
    def probes_dir(self) -> Path:
        return self.root / "autograder" / "probes"

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

    # -- topics
    def assignments(self) -> list[str]:
        """Assignment folders that have hidden checks (``autograder/checks/tNN.py``) and a source notebook."""
        found = []
        if self.solutions.is_dir():
            for p in sorted(self.solutions.iterdir()):
                m = ASSIGNMENT_RE.match(p.name)
                if m and p.is_dir() and (self.checks_dir / f"t{m.group(1)}.py").is_file():
                    found.append(p.name)
        return found

    def assignment(self, name_or_number: str) -> str:
        """``"01"``, ``"1"`` or ``"01_softmax"`` -> ``"01_softmax"``."""
        key = str(name_or_number)
        if key.isdigit():
            key = f"{int(key):02d}"
        for a in self.assignments():
            if a == key or a[:2] == key:
                return a
        for p in sorted(self.solutions.glob(f"{key[:2]}_*")) if len(key) >= 2 else []:
            if p.is_dir() and (p.name == key or key.isdigit()):
                return p.name
        raise SystemExit(f"unknown assignment {name_or_number!r} (known: {', '.join(self.assignments()) or 'none'})")

    def topic(self, assignment: str) -> Topic:
        number = assignment[:2]
        return _load_file(self.checks_dir / f"t{number}.py", f"_course_checks_t{number}_{id(self)}").TOPIC

    def probe_source(self, topic: Topic) -> str:
        return (self.probes_dir / f"p{topic.number}.py").read_text(encoding="utf-8")

    def load_probes(self, topic: Topic) -> ModuleType:
        return _load_file(self.probes_dir / f"p{topic.number}.py", f"_course_probes_{topic.number}_{id(self)}")

    @cached_property
    def student_modules(self) -> tuple[str, ...]:
        """deepkit modules students write: reference modules that declare ``__topic__`` (top level only)."""
        names = []
        for p in sorted((self.ref_lib / "deepkit").glob("*.py")):
            if _declares_topic(p):
                names.append(p.stem)
        return tuple(names)

    @cached_property
    def given_files(self) -> tuple[str, ...]:
        """Files of the given (non-student) part of deepkit, relative to ``lib/deepkit`` (e.g. ``viz/base.py``)."""
        base = self.ref_lib / "deepkit"
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


def _declares_topic(path: Path) -> bool:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return False
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__topic__" for t in targets):
                return True
    return False


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
