"""Generate the student-facing tree from ``solutions/`` (the one source of truth).

    python -m tools.build            # write lib/deepkit/ and exercises/NN_x/
    python -m tools.build --check    # build into a temp dir; fail on any difference or leaked solution

* ``reference/deepkit/**/*.py`` -> ``lib/deepkit/``: a file without solution markers (a given module) is
  copied verbatim; in a file with markers every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region becomes
  ``raise NotImplementedError("Exercise NN_slug: implement <function> in lib/deepkit/<module>.py")`` at the
  region's indentation. Signatures, docstrings and the validation code before the region stay.
* ``solutions/NN_x/NN_x.ipynb`` -> ``exercises/NN_x/NN_x.ipynb`` through nbgrader's ``generate_assignment``
  (configured by ``autograder/nbgrader_config.py``), run in a throw-away course directory with its own gradebook,
  so the real ``autograder/gradebook.db`` is never touched and parallel builds do not collide.

The output is deterministic (nbgrader keeps the source cell ids and writes no timestamps into notebooks), so
``--check`` compares byte for byte.
"""

from __future__ import annotations

import argparse
import ast
import filecmp
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from course.topics import TOPICS, Topic, load, owner

ROOT = Path(__file__).resolve().parent.parent
NBGRADER_CONFIG = ROOT / "autograder" / "nbgrader_config.py"

BEGIN_SOLUTION = re.compile(r"^(?P<indent>[ \t]*)#+\s*BEGIN SOLUTION\s*$")
END_SOLUTION = re.compile(r"^[ \t]*#+\s*END SOLUTION\s*$")
BEGIN_HIDDEN = re.compile(r"^[ \t]*#+\s*BEGIN HIDDEN TESTS\s*$")
END_HIDDEN = re.compile(r"^[ \t]*#+\s*END HIDDEN TESTS\s*$")
# A call of the hidden-check hook (the SETUP cell's ``def hidden_check`` line itself is fine).
HIDDEN_CALL = re.compile(r"^\s*(?:\w+\s*=\s*)?_?hidden_check\s*\(", re.M)
FORBIDDEN = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
IGNORED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".DS_Store"}
TEXT_TWIN = ".py"  # the jupytext twin of a source notebook (jupytext.toml): solutions/NN_x/NN_x.py


class BuildError(Exception):
    """The sources are malformed (unbalanced markers, reference .py in an assignment folder, ...)."""


# --------------------------------------------------------------------------------------------- .py stripping
@dataclass(frozen=True)
class Region:
    begin: int  # 0-based line index of the BEGIN marker
    end: int  # 0-based line index of the END marker
    indent: str


def solution_regions(lines: list[str], where: str = "<source>") -> list[Region]:
    """The ``### BEGIN SOLUTION`` / ``### END SOLUTION`` regions of ``lines`` (unnested, balanced)."""
    regions, start = [], None
    for i, line in enumerate(lines):
        m = BEGIN_SOLUTION.match(line)
        if m:
            if start is not None:
                raise BuildError(f"{where}:{i + 1}: BEGIN SOLUTION inside the region opened on line {start[0] + 1}")
            start = (i, m.group("indent"))
        elif END_SOLUTION.match(line):
            if start is None:
                raise BuildError(f"{where}:{i + 1}: END SOLUTION without BEGIN SOLUTION")
            regions.append(Region(start[0], i, start[1]))
            start = None
    if start is not None:
        raise BuildError(f"{where}:{start[0] + 1}: BEGIN SOLUTION is never closed")
    return regions


def enclosing_function(tree: ast.AST, lineno: int) -> str | None:
    """Name of the innermost def whose body contains 1-based line ``lineno``."""
    best, best_start = None, -1
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.lineno < lineno <= (node.end_lineno or node.lineno) and node.lineno > best_start:
                best, best_start = node.name, node.lineno
    return best


def strip_source(text: str, module: str, topics: tuple[Topic, ...] | None = None) -> str | None:
    """The student stub of a reference module, or ``None`` when the file has no solution markers (given module).

    ``module`` is the path shown in messages, e.g. ``lib/deepkit/losses.py``; the topic named in the stub's
    message is the registry topic that owns the module.
    """
    lines = text.splitlines(keepends=True)
    regions = solution_regions(lines, module)
    if not regions:
        return None
    try:
        tree = ast.parse(text, filename=module)
    except SyntaxError as exc:
        raise BuildError(f"{module}: the reference does not parse: {exc}") from exc
    entry = owner(Path(module).stem, TOPICS if topics is None else topics) if module.count("/") == 2 else None
    if entry is None:
        raise BuildError(f"{module}: has solution regions but no topic in course/topics.py lists the module")
    topic = entry.folder
    out: list[str] = []
    pos = 0
    for r in regions:
        func = enclosing_function(tree, r.begin + 1)
        if func is None:
            raise BuildError(f"{module}:{r.begin + 1}: a solution region must be inside a function body")
        out.extend(lines[pos : r.begin])
        out.append(f'{r.indent}raise NotImplementedError("Exercise {topic}: implement {func} in {module}")\n')
        pos = r.end + 1
    out.extend(lines[pos:])
    stub = "".join(out)
    try:
        compile(stub, module, "exec")
    except SyntaxError as exc:
        raise BuildError(f"{module}: the generated stub does not compile ({exc}); check the markers") from exc
    return stub


def secret_lines(text: str, hidden: bool = False) -> set[str]:
    """Non-trivial stripped lines that occur only inside the solution regions (and the hidden-test regions if
    ``hidden``) of ``text``: a line also written outside a region is given code, not reference code."""
    inside_lines, outside_lines, inside = set(), set(), False
    for line in text.splitlines():
        if BEGIN_SOLUTION.match(line) or (hidden and BEGIN_HIDDEN.match(line)):
            inside = True
        elif END_SOLUTION.match(line) or (hidden and END_HIDDEN.match(line)):
            inside = False
        else:
            (inside_lines if inside else outside_lines).add(line.strip())
    return {s for s in inside_lines - outside_lines if not is_trivial(s)}


_TRIVIAL = re.compile(
    r"^(?:return|pass|else:|try:|finally:|break|continue|raise|yield)\b[\w\s,().\[\]]*$"
    r"|^[\w.]+\s*[-+*/]?=\s*[\w.]+$|^[()\[\]{}:,]*$"
)


def is_trivial(line: str) -> bool:
    """Lines too generic to count as leaked reference code (``return out``, ``x = y``, comments, brackets)."""
    s = line.strip()
    return not s or s.startswith("#") or len(s) < 16 or bool(_TRIVIAL.match(s))


# ------------------------------------------------------------------------------------------------ the build
def _files(folder: Path) -> list[Path]:
    """Files under ``folder`` (relative), skipping caches and checkpoints, sorted."""
    if not folder.is_dir():
        return []
    return sorted(
        p.relative_to(folder)
        for p in folder.rglob("*")
        if p.is_file() and not IGNORED_NAMES & set(p.relative_to(folder).parts) and p.suffix not in {".pyc", ".pyo"}
    )


def check_assignment_folders(root: Path = ROOT, topics: tuple[Topic, ...] | None = None) -> list[str]:
    """Problems with ``solutions/NN_x``: anything but notebooks (nbgrader would ship it into the release)."""
    topics = load(root) if topics is None else topics
    problems = []
    for t in (e.folder for e in topics):
        files = _files(root / "solutions" / t)
        for f in files:
            if f.suffix != ".ipynb" and str(f) != f"{t}{TEXT_TWIN}":
                problems.append(
                    f"solutions/{t}/{f}: only the notebook and its jupytext twin belong in an assignment folder "
                    f"(nbgrader copies other files, solutions included, into the release)"
                )
        if f"{t}.ipynb" not in {str(f) for f in files}:
            problems.append(f"solutions/{t}/{t}.ipynb: missing (the notebook is named after its folder)")
    return problems


def build_lib(root: Path, out: Path, topics: tuple[Topic, ...] | None = None) -> list[str]:
    """Write ``out/lib/deepkit`` from ``root/reference/deepkit``; return the written paths (relative)."""
    topics = load(root) if topics is None else topics
    src, dst = root / "reference" / "deepkit", out / "lib" / "deepkit"
    if not src.is_dir():
        raise BuildError(f"{src} does not exist")
    written = []
    wanted = _files(src)
    for rel in wanted:
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        module = f"lib/deepkit/{rel.as_posix()}"
        stub = strip_source((src / rel).read_text(encoding="utf-8"), module, topics) if rel.suffix == ".py" else None
        if stub is None:
            _write_if_changed(target, (src / rel).read_bytes())
        else:
            _write_if_changed(target, stub.encode("utf-8"))
        written.append(module)
    for rel in _files(dst):  # files whose source is gone
        if rel not in set(wanted):
            (dst / rel).unlink()
    for d in sorted((p for p in dst.rglob("*") if p.is_dir()), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    return written


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)


def _nbgrader_config(course: Path):
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader(NBGRADER_CONFIG.name, path=str(NBGRADER_CONFIG.parent)).load_config()
    cfg.CourseDirectory.root = str(course)
    cfg.CourseDirectory.source_directory = "source"
    cfg.CourseDirectory.release_directory = "release"
    cfg.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
    return cfg


def _fast_gradebook_stamp() -> None:
    """A new gradebook is stamped with the newest alembic revision, which nbgrader finds by running the
    ``alembic`` script in a subprocess (seconds, and it must be on PATH). Read the same revision in-process."""
    import nbgrader.api
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    if not getattr(nbgrader.api.get_alembic_version, "_deepkit_cached", False):
        head = ScriptDirectory(ALEMBIC_DIR).get_current_head()

        def get_alembic_version() -> str:
            return head

        get_alembic_version._deepkit_cached = True
        nbgrader.api.get_alembic_version = get_alembic_version


def build_exercises(
    root: Path, out: Path, only: list[str] | None = None, topics: tuple[Topic, ...] | None = None
) -> list[str]:
    """Write ``out/exercises/NN_x/`` from ``root/solutions/NN_x/`` with nbgrader; return written paths."""
    topics = load(root) if topics is None else topics
    problems = check_assignment_folders(root, topics)
    if problems:
        raise BuildError("\n".join(problems))
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    names = [e.folder for e in topics] if only is None else only
    written = []
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    _fast_gradebook_stamp()
    with tempfile.TemporaryDirectory(prefix="deepkit-build-") as tmp:
        course = Path(tmp)
        for t in names:
            # only the notebook: its text twin (solutions included) must never reach the release
            (course / "source" / t).mkdir(parents=True)
            shutil.copy2(root / "solutions" / t / f"{t}.ipynb", course / "source" / t)
        cfg = _nbgrader_config(course)
        for t in names:
            coursedir = CourseDirectory(config=cfg)
            coursedir.assignment_id = t
            app = GenerateAssignment(coursedir=coursedir, config=cfg)
            app.log.setLevel(logging.ERROR)
            app.force = True
            app.create_assignment = True
            try:
                app.start()
            except Exception as exc:  # nbgrader reports the details through its log
                raise BuildError(f"nbgrader generate_assignment failed for {t}: {exc}") from exc
            rel_dir = course / "release" / t
            dst = out / "exercises" / t
            dst.mkdir(parents=True, exist_ok=True)
            produced = _files(rel_dir)
            for rel in produced:
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                _write_if_changed(dst / rel, _normalise_notebook((rel_dir / rel).read_bytes()))
                written.append(f"exercises/{t}/{rel.as_posix()}")
            for rel in _files(dst):
                if rel not in set(produced):
                    (dst / rel).unlink()
    if only is None and (out / "exercises").is_dir():  # release folders whose source is gone
        for d in (out / "exercises").iterdir():
            if d.is_dir() and d.name not in names and not d.name.startswith("."):
                shutil.rmtree(d)
    return written


def _normalise_notebook(data: bytes) -> bytes:
    """nbformat's canonical JSON (sorted keys, indent 1, trailing newline): stable across nbgrader versions."""
    nb = json.loads(data)
    return (json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def build(root: Path = ROOT, out: Path | None = None, topics: tuple[Topic, ...] | None = None) -> list[str]:
    """Build everything from ``root/solutions`` into ``out`` (default: ``root`` itself)."""
    topics = load(root) if topics is None else topics
    out = root if out is None else out
    return build_lib(root, out, topics) + build_exercises(root, out, topics=topics)


# ----------------------------------------------------------------------------------------------- the checks
def release_problems(root: Path = ROOT, topics: tuple[Topic, ...] | None = None) -> list[str]:
    """Leaks in the committed release files: markers, hidden-check calls, reference code."""
    topics = load(root) if topics is None else topics
    problems = []
    lib, ref = root / "lib" / "deepkit", root / "reference" / "deepkit"
    for rel in _files(lib):
        text = (lib / rel).read_text(encoding="utf-8", errors="replace")
        name = f"lib/deepkit/{rel.as_posix()}"
        problems += _marker_problems(name, text)
        if (ref / rel).is_file() and rel.suffix == ".py":
            secret = secret_lines((ref / rel).read_text(encoding="utf-8"))
            stub_lines = {s.strip() for s in text.splitlines()}
            for line in sorted(secret & stub_lines):
                problems.append(f"{name}: contains reference code: {line!r}")
    for t in (e.folder for e in topics if (root / "exercises" / e.folder).is_dir()):
        for rel in _files(root / "exercises" / t):
            path = root / "exercises" / t / rel
            name = f"exercises/{t}/{rel.as_posix()}"
            if rel.suffix != ".ipynb":
                problems.append(f"{name}: only notebooks belong in a release folder")
                continue
            text = _notebook_code(path)
            problems += _marker_problems(name, text)
            source = root / "solutions" / t / rel
            if source.is_file():
                secret = secret_lines(_notebook_code(source), hidden=True)
                release_lines = {s.strip() for s in text.splitlines()}
                for line in sorted(secret & release_lines):
                    problems.append(f"{name}: contains solution or hidden-test code: {line!r}")
    return problems


def _notebook_code(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in nb.get("cells", [])
    )


def _marker_problems(name: str, text: str) -> list[str]:
    problems = [f"{name}: contains {m!r}" for m in FORBIDDEN if m in text]
    if HIDDEN_CALL.search(text):
        problems.append(f"{name}: contains a hidden_check call (hidden tests leaked into the release)")
    return problems


def compare_trees(built: Path, committed: Path, topics: tuple[Topic, ...] | None = None) -> list[str]:
    """Files of the generated tree that differ between ``built`` and ``committed`` (missing/extra/changed)."""
    topics = load(committed) if topics is None else topics
    diffs = []
    for sub in ("lib/deepkit", "exercises"):
        a, b = built / sub, committed / sub
        fa, fb = set(_files(a)), set(_files(b))
        if sub == "exercises":  # only the generated topic folders; anything else in exercises/ is not ours
            ours = {e.folder for e in topics}
            fa = {f for f in fa if f.parts[0] in ours}
            fb = {f for f in fb if len(f.parts) > 1 and f.parts[0] in ours}
        for rel in sorted(fa | fb):
            name = f"{sub}/{rel.as_posix()}"
            if rel not in fb:
                diffs.append(f"{name}: missing from the committed tree (run make build)")
            elif rel not in fa:
                diffs.append(f"{name}: not generated from solutions/ (stale? run make build)")
            elif not filecmp.cmp(a / rel, b / rel, shallow=False):
                diffs.append(f"{name}: differs from a fresh build (run make build; never edit generated files)")
    return diffs


def check(root: Path = ROOT, topics: tuple[Topic, ...] | None = None) -> list[str]:
    """Every problem ``--check`` reports (empty list = the committed tree is a faithful, leak-free build)."""
    topics = load(root) if topics is None else topics
    problems = check_assignment_folders(root, topics)
    with tempfile.TemporaryDirectory(prefix="deepkit-check-") as tmp:
        try:
            build(root, Path(tmp), topics)
        except BuildError as exc:
            return problems + [f"build failed: {exc}"]
        problems += compare_trees(Path(tmp), root, topics)
        problems += [f"(fresh build) {p}" for p in release_problems(Path(tmp), topics) if p not in problems]
    problems += release_problems(root, topics)
    return list(dict.fromkeys(problems))


def local_work(root: Path = ROOT) -> list[str]:
    """Generated files with uncommitted edits that a fresh build would overwrite (a student's work in lib/ or
    an exercise notebook). Empty when git is unavailable or the tree is not a git checkout."""
    try:
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "lib/deepkit", "exercises"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if status.returncode != 0:
        return []
    changed = [line[3:].strip().strip('"') for line in status.stdout.splitlines() if line[:2].strip()]
    # a generated file whose source in solutions/ is itself being edited is the instructor's rebuild, not work
    sources = {
        rel: ("reference/" + rel.removeprefix("lib/"))
        if rel.startswith("lib/")
        else "solutions/" + rel.removeprefix("exercises/")
        for rel in changed
    }
    edited = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--", "solutions", "reference"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    edited_sources = {line[3:].strip().strip('"') for line in edited.splitlines()}
    changed = [rel for rel in changed if sources[rel] not in edited_sources]
    if not changed:
        return []
    with tempfile.TemporaryDirectory(prefix="deepkit-guard-") as tmp:
        build(root, Path(tmp))
        return [
            rel
            for rel in changed
            if (root / rel).is_file()
            and (not (Path(tmp) / rel).is_file() or not filecmp.cmp(root / rel, Path(tmp) / rel, shallow=False))
        ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.build", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--check",
        action="store_true",
        help="fail if the committed lib/ and exercises/ differ from a fresh build or leak solutions",
    )
    ap.add_argument("--force", action="store_true", help="overwrite uncommitted edits in lib/ and exercises/")
    ap.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    root = args.root.resolve()
    if args.check:
        problems = check(root)
        if problems:
            print(f"build check FAILED ({len(problems)} problem(s)):", file=sys.stderr)
            for p in problems:
                print("  " + p, file=sys.stderr)
            return 1
        print(f"build check ok: lib/deepkit and exercises/ ({len(load(root))} topic(s)) match solutions/")
        return 0
    try:
        work = [] if args.force else local_work(root)
        if work:
            print(
                "build REFUSED: these generated files have uncommitted edits that a build would overwrite "
                "(your own work?):\n  "
                + "\n  ".join(work)
                + "\nCommit or copy them first, or run `python -m tools.build --force` to discard them.",
                file=sys.stderr,
            )
            return 1
        written = build(root)
    except BuildError as exc:
        print(f"build FAILED: {exc}", file=sys.stderr)
        return 1
    problems = release_problems(root)
    if problems:
        print("build produced leaking files:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"built {len(written)} file(s): lib/deepkit and exercises/ for {len(load(root))} topic(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
