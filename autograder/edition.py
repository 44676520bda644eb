"""The student edition: a self-contained course folder for a class, with everything a student needs and no answer.

    python -m autograder release --student-edition DIR [--topics 01,04]     (make student-edition OUT=DIR)
    python -m autograder release --assignment 04 [--student-edition DIR]    (make release A=04: adds a topic)

``build`` writes DIR (a git repository, committed, ready to push for nbgitpuller) and ``DIR.zip`` (the same tree
for an LMS download). For the released topics R it holds:

* ``README.md`` (short, for students), ``Makefile`` (``make lab``, ``make update``, ``make check A=NN``,
  ``make submit A=NN``), ``requirements.txt``, ``.gitignore``, ``.gitattributes`` (an exercise's outputs are no
  change to git: ``course/nbclean.py``);
* ``START_HERE.ipynb`` without the repository-only cells, its topic table limited to R;
* ``course/topics.py`` listing R only (``course.topics.load`` reads it), ``course/edition.json`` (what was
  released, from which commit), ``course/update.py`` (``make update``);
* ``lectures/NN_slug.ipynb``: executed here with the reference; outputs kept, every explorer replaced by a PNG
  snapshot; ``lectures/_course.py`` puts the student's own ``lib/`` on the path (docs/DESIGN_NOTES.md says why);
* ``exercises/NN_slug/``: the release notebooks;
* ``lib/deepkit/``: the release stubs and the given modules (as ``make build`` makes them);
* ``autograder/``: the student commands (``check``, ``submit``: ``student_cli.py``) and only the modules they run
  (``STUDENT_AUTOGRADER``, an allowlist; the build fails if a shipped file imports a course module left out), the
  probes of R, their checks with the trusted helpers answered from data (``autograder/edition_checks.py``), and
  ``autograder/public/<slug>.npz``, the public cases as data (the reference's and the known mistakes' outputs,
  the helpers' answers; the inputs are drawn again from the documented seed; ``autograder/cases.py``).

Never: ``reference/``, ``solutions/``, ``tests/``, ``tools/``, ``bench/``, the instructor's modules (the command
line ``cli.py``, LMS intake and export, the similarity report, the canary, the batch, this build, ...),
the term secret, anything of an unreleased topic but its stub. ``edition_problems`` checks this on the result
(and the build refuses to finish otherwise): no reference-only line of any released topic anywhere in the tree.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import nbformat

from autograder.cases import PUBLIC, public_path, write_public
from autograder.course import Course
from course.topics import START_HERE, Topic, find, load

FILES = Path(__file__).resolve().parent / "student_edition"  # Makefile, README.md, .gitignore, ... templates
# The modules of autograder/ a student edition ships: what `check` and `submit` import when they run (found with
# `python -X importtime` in an edition), the sandbox runners they start, and what those import. An allowlist, in this
# one place: a new module stays with the instructor until it is named here, and `import_problems` fails the build
# if a shipped file imports a course module the edition does not hold. Besides these: the released topics'
# checks/<slug>.py (edition_checks.ship) and probes/<slug>.py, __main__.py (student_edition/autograder_main.py,
# the student commands only) and labconfig/. Left out (the instructor's): cli.py and the commands behind it
# (collect, the LMS adapters, autograde, canary, feedback, export, similarity, policy, the roster, this module).
STUDENT_AUTOGRADER = (
    "__init__.py",
    "student_cli.py",  # check, submit
    "answers.py",  # imported by grade.py (the hand-graded answers' review)
    "cases.py",
    "compare.py",
    "course.py",
    "errors.py",
    "grade.py",
    "libgrade.py",
    "local.py",
    "nbrun.py",  # imported by grade.py (a student's check runs no notebook)
    "reasons.py",
    "safetext.py",
    "sanitize.py",
    "spec.py",
    "checks/__init__.py",
    "intake/__init__.py",
    "intake/archive.py",
    "intake/record.py",
    "intake/stage.py",
    "intake/submit.py",
    "sandbox/__init__.py",
    "sandbox/jail.py",
    "sandbox/nb_runner.py",
    "sandbox/probe_runner.py",
    "sandbox/zygote.py",
)
REPOSITORY_ONLY_TAG = "repository-only"  # START_HERE cells that only make sense in the repository
GIT_IDENTITY = ["-c", "user.name=deepkit course", "-c", "user.email=course@deepkit.invalid"]
LECTURE_NOTE = """\
> **This lecture was run for you.** Every output and every explorer below is a snapshot of a run with the
> course's reference implementation (the explorers are pictures here). Re-running a cell uses **your**
> `lib/deepkit`: a cell that calls a function you have not written yet stops with `NotImplementedError`;
> once you have written it, the lecture's checks against PyTorch and finite differences test your code, and
> the explorers come alive."""


class EditionError(Exception):
    """The edition cannot be built, or the built tree leaks something (the message lists what)."""


# ------------------------------------------------------------------------------------------------ the parts
def registry_source(topics: tuple[Topic, ...], source: Path) -> str:
    """``course/topics.py`` with its ``TOPICS`` tuple replaced by ``topics`` (everything else unchanged)."""
    text = source.read_text(encoding="utf-8")
    node = next(
        n
        for n in ast.parse(text).body
        if isinstance(n, ast.AnnAssign | ast.Assign)
        and "TOPICS" in [t.id for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if hasattr(t, "id")]
    )
    lines = text.splitlines(keepends=True)
    entries = "".join(
        f"    Topic({t.number!r}, {t.slug!r}, {t.title!r}, {t.modules!r}, {t.explorers!r}),\n" for t in topics
    )
    block = f"TOPICS: tuple[Topic, ...] = (  # the released topics of this student edition\n{entries})\n"
    return "".join(lines[: node.lineno - 1]) + block + "".join(lines[node.end_lineno :])


def start_here(root: Path, released: tuple[Topic, ...]) -> nbformat.NotebookNode:
    """START_HERE without its repository-only cells, its topic table limited to the released topics."""
    nb = nbformat.read(str(root / START_HERE), as_version=4)
    nb.cells = [c for c in nb.cells if REPOSITORY_ONLY_TAG not in c.metadata.get("tags", [])]
    numbers = {t.number for t in released}
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "| # |" in cell.source:
            kept = [
                line
                for line in cell.source.split("\n")
                if not (line.startswith("| ") and line[2:4].isdigit() and line[2:4] not in numbers)
            ]
            cell.source = "\n".join(kept)
    return nb


def _widget_images(state: dict, model_id: str, seen: set | None = None) -> tuple[list[str], list[str]]:
    """(base64 PNGs, titles) of the Image and bold HTML models under widget ``model_id`` in stored widget state."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return [], []
    seen.add(model_id)
    model = state[model_id]
    images, titles = [], []
    if model.get("model_name") == "ImageModel":
        for buf in model.get("buffers", []):
            if buf.get("path") == ["value"] and buf.get("encoding") == "base64":
                images.append(buf["data"])
    elif model.get("model_name") == "HTMLModel":
        value = str(model.get("state", {}).get("value", ""))
        if value.startswith("<b>") and value.endswith("</b>"):
            titles.append(value[3:-4])
    for child in model.get("state", {}).get("children", []) or []:
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            more_images, more_titles = _widget_images(state, child.removeprefix("IPY_MODEL_"), seen)
            images += more_images
            titles += more_titles
    return images, titles


def freeze_widgets(nb: nbformat.NotebookNode) -> int:
    """Replace every widget output by what it showed: its plot as a PNG snapshot (or a note if it had none).
    Drops the stored widget state. Returns how many widgets were frozen."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    frozen = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view is None:
                outputs.append(out)
                continue
            frozen += 1
            images, titles = _widget_images(state, view.get("model_id", ""))
            title = titles[0] if titles else "explorer"
            note = f"*{title}*: a snapshot (the explorer runs when your `lib/deepkit` implements what it uses)"
            outputs.append(nbformat.v4.new_output("display_data", data={"text/markdown": note}))
            for png in images:
                outputs.append(
                    nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": f"<{title}>"})
                )
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    return frozen


def execute_lecture(root: Path, topic: Topic, timeout: int = 600) -> nbformat.NotebookNode:
    """Run the topic's lecture with the reference (as CI does) and return it with outputs, explorers frozen."""
    from tools.run_notebooks import run_headless

    path = root / topic.lecture
    nb = nbformat.read(str(path), as_version=4)
    run_headless(nb, path, timeout, widgets=True)
    freeze_widgets(nb)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # timestamps: the edition's diff should show content only
        if cell.cell_type == "code" and cell.source.startswith("import _course"):
            lines = cell.source.split("\n")
            lines[0] = "import _course  # YOUR deepkit (lib/) on the path; inline figures; float64 printing"
            cell.source = "\n".join(lines)
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    note = nbformat.v4.new_markdown_cell(LECTURE_NOTE)
    note.id = "student-edition-note"  # a fixed id: rebuilding an unchanged lecture gives the same file
    nb.cells.insert(first_code, note)
    return nb


def public_cases(root: Path, topics: tuple[Topic, ...], dest: Path) -> list[Path]:
    """``autograder/public/<slug>.npz`` for every topic: the reference's and the known mistakes' outputs on the
    public cases, computed here from the reference (what ``check`` compares with in an edition), and the answers
    of the checks' trusted helpers; ``autograder/checks/<slug>.py`` as the edition ships it
    (``edition_checks.ship``: those helpers' code replaced by their answers)."""
    from autograder.edition_checks import ship
    from autograder.libgrade import reference_cases, wrong_outputs

    course = Course(root=root, work=dest / ".work", topics=topics, cases="public")
    written = []
    for t in topics:
        checks = course.topic(t.folder)
        cases = reference_cases(course, checks)
        wrong = {
            (part.name, c): [outputs for _, outputs in wrong_outputs(course, checks, part.name, c)]
            for part in checks.parts
            if part.misconceptions
            for c in range(len(cases[part.name]))
        }
        source, answers = ship(root / t.checks, checks, cases, wrong)
        (dest / t.checks).parent.mkdir(parents=True, exist_ok=True)
        (dest / t.checks).write_text(source, encoding="utf-8")
        written.append(write_public(public_path(dest, t.slug), checks, cases, wrong, answers))
    return written


def _copy_autograder(root: Path, out: Path, topics: tuple[Topic, ...]) -> None:
    """``autograder/``: ``STUDENT_AUTOGRADER``, the topics' checks and probes, the student ``__main__``, labconfig."""
    wanted = [f"autograder/{m}" for m in STUDENT_AUTOGRADER] + [str(p) for t in topics for p in (t.checks, t.probes)]
    for rel in wanted:
        if not (root / rel).is_file():
            raise EditionError(f"{rel} is not in the course (STUDENT_AUTOGRADER in autograder/edition.py names it)")
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, out / rel)
    shutil.copyfile(FILES / "autograder_main.py", out / "autograder" / "__main__.py")
    (out / "autograder" / "labconfig").mkdir(parents=True, exist_ok=True)  # JupyterLab without nbgrader's panels
    shutil.copyfile(FILES / "page_config.json", out / "autograder" / "labconfig" / "page_config.json")


def _git(root: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise EditionError(f"git {' '.join(args)} failed in {root}: {done.stderr.strip()[:500]}")
    return done.stdout.strip()


def _source_commit(root: Path) -> str:
    try:
        commit = _git(root, "rev-parse", "--short=12", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (EditionError, OSError):
        return "unknown"
    return commit + ("+local-changes" if dirty else "")


def write_tree(root: Path, out: Path, released: tuple[Topic, ...], lectures: bool = True) -> None:
    """Write the edition's files into the empty folder ``out`` (see the module docstring)."""
    from tools.build import build_lib

    build_lib(root, out)
    for t in released:
        (out / t.exercise_notebook).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / t.exercise_notebook, out / t.exercise_notebook)
        if lectures:
            (out / t.lecture).parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(execute_lecture(root, t), str(out / t.lecture))
    (out / "lectures").mkdir(exist_ok=True)
    shutil.copyfile(FILES / "_course.py", out / "lectures" / "_course.py")
    nbformat.write(start_here(root, released), str(out / START_HERE))
    (out / "course").mkdir()
    for name in ("__init__.py", "update.py", "lab.mk", "nbclean.py", "jupyter_server_config.py", "terminal.bashrc"):
        shutil.copyfile(root / "course" / name, out / "course" / name)
    shutil.copytree(root / "course" / "labconfig", out / "course" / "labconfig")
    (out / "course" / "topics.py").write_text(registry_source(released, root / "course" / "topics.py"))
    info = {
        "released": [t.folder for t in released],
        "source_commit": _source_commit(root),
        "public_seed": PUBLIC.seed,
        "lectures": "executed with the reference, explorers as snapshots" if lectures else "not included",
    }
    (out / "course" / "edition.json").write_text(json.dumps(info, indent=1) + "\n")
    _copy_autograder(root, out, released)
    public_cases(root, released, out)
    shutil.rmtree(out / ".work", ignore_errors=True)
    shutil.copyfile(root / "requirements.txt", out / "requirements.txt")
    shutil.copyfile(FILES / "Makefile", out / "Makefile")
    shutil.copyfile(FILES / "gitignore", out / ".gitignore")
    shutil.copyfile(FILES / "gitattributes", out / ".gitattributes")
    table = "\n".join(
        f"| {t.number} | {t.title} | [lecture]({t.lecture}) | [exercise]({t.exercise_notebook}) | "
        + ", ".join(f"`{m}.py`" for m in t.modules)
        + " |"
        for t in released
    )
    readme = (FILES / "README.md").read_text().replace("{topics}", table)
    (out / "README.md").write_text(readme)


# ------------------------------------------------------------------------------------------- leak checks
def reference_only_lines(root: Path, released: tuple[Topic, ...]) -> dict[str, str]:
    """Stripped non-trivial lines written only inside the solution regions of the released topics' reference
    modules (line -> its module): a line that is given code anywhere in the reference, or an import, is no
    secret."""
    from tools.build import secret_lines, solution_regions

    secrets: dict[str, str] = {}
    for t in released:
        for m in t.modules:
            text = (root / "reference" / "deepkit" / f"{m}.py").read_text(encoding="utf-8")
            if solution_regions(text.splitlines(keepends=True), m):
                secrets.update(dict.fromkeys(secret_lines(text), f"reference/deepkit/{m}.py"))
    for p in (root / "reference" / "deepkit").rglob("*.py"):
        text = p.read_text(encoding="utf-8")
        for line in {s.strip() for s in text.splitlines()} - secret_lines(text):
            secrets.pop(line, None)
    return {line: m for line, m in secrets.items() if not line.startswith(("import ", "from "))}  # imports: names


def allowed_lines() -> set[tuple[str, str]]:
    """(path, line) pairs the edition may hold although they are reference-only (student_edition/allowed_lines.txt,
    each with its reason)."""
    pairs = set()
    for raw in (FILES / "allowed_lines.txt").read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            path, line = raw.split(" | ", 1)
            pairs.add((path.strip(), line.strip()))
    return pairs


def leaked_lines(rel: str, text: str, secrets: dict[str, str], allowed: set) -> list[str]:
    """Problems for one file of the edition: reference-only lines in it (notebooks: sources and text outputs)."""
    body = _notebook_text(text) if rel.endswith(".ipynb") else text
    found = ({s.strip() for s in body.splitlines()} & set(secrets)) - {line for path, line in allowed if path == rel}
    return [f"{rel}: contains reference code of {secrets[line]}: {line!r}" for line in sorted(found)]


def edition_problems(out: Path, root: Path, released: tuple[Topic, ...]) -> list[str]:
    """What the edition must not contain: reference or source trees, another topic's checks, reference-only code
    of a released topic (any file, lecture outputs included; ``allowed_lines`` excepted), solution or hidden-test
    markers, the term secret (in any file, data included), an import of a course module the edition does not ship
    (``import_problems``). Empty list: clean."""
    from autograder.cases import MissingTermSecret, term_secret

    problems = []
    for d in ("reference", "solutions", "tests", "tools", "bench"):
        if (out / d).exists():
            problems.append(f"{d}/ is in the edition")
    slugs = {t.slug for t in released}
    for kind in ("checks", "probes"):
        for p in sorted((out / "autograder" / kind).glob("*.py")):
            if p.stem != "__init__" and p.stem not in slugs:
                problems.append(f"autograder/{kind}/{p.name}: a topic that is not released")
    secrets, allowed = reference_only_lines(root, released), allowed_lines()
    try:
        secret = term_secret(root).encode()
    except MissingTermSecret:
        secret = None
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if not p.is_file() or ".git" in p.relative_to(out).parts:
            continue
        data = p.read_bytes()
        if secret and secret in data:
            problems.append(f"{rel}: contains the term secret")
        if p.suffix in (".npz", ".png", ".zip"):
            continue
        text = data.decode("utf-8", errors="replace")
        problems += leaked_lines(rel, text, secrets, allowed)
        if rel.startswith(("lib/", "exercises/", "lectures/")) or rel == str(START_HERE):
            problems += [f"{rel}: contains {m!r}" for m in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS") if m in text]
    return problems + import_problems(out, root)


def _module_file(tree: Path, module: str) -> Path | None:
    """The file of the dotted ``module`` under ``tree`` (a module or a package), or None."""
    base = tree.joinpath(*module.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def imported_modules(path: Path, package: str) -> set[str]:
    """Every module a Python file imports, anywhere in it (functions included): ``import a.b`` gives ``a`` and
    ``a.b``; ``from a import b`` gives ``a`` and ``a.b`` (``b`` may be a submodule). ``package``: the file's
    package (for relative imports)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".") if node.level else []
            base = ".".join([*parts[: len(parts) - node.level + 1], *([node.module] if node.module else [])])
            found |= {base, *(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")}
    return {".".join(m.split(".")[:n]) for m in found for n in range(1, m.count(".") + 2)}  # with the parents


def import_problems(out: Path, root: Path) -> list[str]:
    """Imports in the edition's Python files of a course module (one of the repository's) that the edition does not
    ship: each would break ``check`` or ``submit`` when that line runs. Empty list: every import resolves."""
    problems = []
    for p in sorted(out.rglob("*.py")):
        rel = p.relative_to(out)
        if ".git" in rel.parts:
            continue
        for module in sorted(imported_modules(p, ".".join(rel.parent.parts))):
            if _module_file(root, module) is not None and _module_file(out, module) is None:
                problems.append(
                    f"{rel.as_posix()} imports {module}, which the edition does not ship "
                    "(STUDENT_AUTOGRADER in autograder/edition.py: ship it, or import it only on the instructor's side)"
                )
    return problems


def _notebook_text(text: str) -> str:
    nb = json.loads(text)
    parts = []
    for cell in nb.get("cells", []):
        src = cell.get("source", "")
        parts.append("".join(src) if isinstance(src, list) else src)
        for out in cell.get("outputs", []):
            for value in (out.get("text"), *out.get("data", {}).values()):
                if isinstance(value, str | list) and not str(value).startswith("iVBOR"):  # not a PNG
                    parts.append("".join(value) if isinstance(value, list) else value)
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------- publishing
def _sync(built: Path, out: Path) -> None:
    """Make ``out`` hold exactly ``built``'s files, keeping ``out/.git`` (an earlier edition's history)."""
    out.mkdir(parents=True, exist_ok=True)
    for p in out.iterdir():
        if p.name != ".git":
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    for p in built.iterdir():
        (shutil.copytree if p.is_dir() else shutil.copy2)(p, out / p.name)


def write_zip(out: Path, zip_path: Path) -> Path:
    """``out`` as a zip (one top folder named like it; no .git), members sorted, fixed timestamps."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(out.rglob("*")):
            rel = p.relative_to(out)
            if ".git" in rel.parts or not p.is_file():
                continue
            info = zipfile.ZipInfo(f"{out.name}/{rel.as_posix()}", date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, p.read_bytes())
    return zip_path


def commit(out: Path, message: str) -> bool:
    """Commit the edition in its own git repository (made on first use); False when nothing changed."""
    if not (out / ".git").exists():
        _git(out, "init", "-q", "-b", "main")
    _git(out, "add", "-A")
    if not _git(out, "status", "--porcelain"):
        return False
    _git(out, *GIT_IDENTITY, "commit", "-q", "-m", message)
    return True


def released_in(out: Path) -> tuple[str, ...]:
    """Topic folders an existing edition at ``out`` has released (from its own registry); () if none."""
    if not (out / "course" / "topics.py").is_file():
        return ()
    return tuple(t.folder for t in load(out))


def build(
    root: Path, out: Path, numbers: list[str] | None = None, lectures: bool = True, log=print
) -> tuple[Path, Path]:
    """Build the edition of topics ``numbers`` (default: every topic) into ``out`` and ``out.zip``; commit it.
    Returns (out, zip). Raises EditionError if the result would leak anything."""
    root, out = Path(root).resolve(), Path(out).resolve()
    if out == root or root in out.parents:
        raise EditionError(f"{out} is inside the course repository: build the edition outside it")
    topics = load(root)
    wanted = {find(n, topics).folder for n in numbers} if numbers else {t.folder for t in topics}
    released = tuple(t for t in topics if t.folder in wanted)
    with tempfile.TemporaryDirectory(prefix="deepkit-edition-") as tmp:
        built = Path(tmp) / out.name
        built.mkdir()
        write_tree(root, built, released, lectures=lectures)
        problems = edition_problems(built, root, released)
        if problems:
            raise EditionError("the student edition would leak:\n  " + "\n  ".join(problems))
        _sync(built, out)
    changed = commit(out, f"Student edition: {', '.join(t.folder for t in released)}")
    zip_path = write_zip(out, out.with_name(out.name + ".zip"))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and ".git" not in p.relative_to(out).parts)
    log(
        f"student edition of {len(released)} topic(s) in {out} ({size / 2**20:.1f} MB; "
        f"{'committed' if changed else 'unchanged'}) and {zip_path} ({zip_path.stat().st_size / 2**20:.1f} MB)"
    )
    return out, zip_path


def publish(out: Path, remote: str = "origin", log=print) -> None:
    """Push the edition's ``main`` to its git remote (set it once: ``git -C DIR remote add origin URL``)."""
    if not _git(out, "remote", check=False):
        raise EditionError(
            f"{out} has no git remote: add one (git -C {out} remote add origin URL), or hand out {out}.zip"
        )
    _git(out, "push", "--quiet", remote, "main")
    log(f"pushed {out} to {remote} (students: nbgitpuller link, or git clone + make update)")
