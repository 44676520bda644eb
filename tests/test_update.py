"""A learner runs lectures and works, then the course changes: ``git pull`` and ``make update`` in a real git clone.

The course's ``.gitattributes`` run notebooks through ``course/nbclean.py`` (nbstripout's rules; ``make
notebook-filter``), so a lecture that was run is no change: once git has re-read it (``git add`` or ``make
update``), ``git pull`` updates it without a conflict. ``make update`` (course/update.py) commits the learner's
work first and merges with the learner's lines winning, so it never stops on a conflict and loses nothing.
Everything happens in temporary clones; the repository's own git configuration is not touched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.refs import ROOT

VENV = Path(sys.prefix)
LECTURE = "lectures/04_normalization.ipynb"
EXERCISE = "exercises/01_softmax/01_softmax.ipynb"
LAYERS = "lib/deepkit/layers.py"
START = "START_HERE.ipynb"


def sh(*args, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(list(map(str, args)), cwd=cwd, capture_output=True, text=True, timeout=600)
    assert not check or done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args, cwd=cwd, check=check)


def make(target: str, cwd: Path) -> subprocess.CompletedProcess:
    stamp = VENV / f".installed-{hashlib.sha1((cwd / 'requirements.txt').read_bytes()).hexdigest()[:12]}"
    return sh("make", "--no-print-directory", "-o", stamp, f"VENV={VENV}", target, cwd=cwd, check=False)


def run_notebook(path: Path) -> None:
    """Execute a notebook as JupyterLab would and save it with its outputs (errors allowed: an exercise stops at
    its first stub)."""
    from nbclient import NotebookClient

    from tools.run_notebooks import HEADLESS_ENV

    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True)
    client.resources = {"metadata": {"path": str(path.parent)}}
    client.execute(env={**os.environ, **HEADLESS_ENV})
    nbformat.write(nb, str(path))


def edit_markdown(path: Path, old: str, new: str) -> None:
    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and old in c.source)
    cell.source = cell.source.replace(old, new, 1)
    nbformat.write(nb, str(path))


@pytest.fixture
def course(tmp_path) -> tuple[Path, Path]:
    """(upstream, learner): a git repository holding the course as it is in this working tree, and a clone."""
    upstream = tmp_path / "upstream"
    files = sh("git", "ls-files", "-z", cwd=ROOT).stdout.split("\0")
    for rel in filter(None, files):
        if (ROOT / rel).is_file():
            (upstream / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, upstream / rel)
    git(upstream, "init", "--quiet", "-b", "main")
    git(upstream, "add", "-A")
    git(upstream, "commit", "--quiet", "-m", "the course")
    learner = tmp_path / "learner"
    git(tmp_path, "clone", "--quiet", str(upstream), str(learner))
    return upstream, learner


def upstream_change(upstream: Path, path: str, old: str, new: str) -> None:
    p = upstream / path
    if p.suffix == ".ipynb":
        edit_markdown(p, old, new)
    else:
        text = p.read_text()
        assert old in text, (path, old)
        p.write_text(text.replace(old, new, 1))
    git(upstream, "commit", "--quiet", "-am", f"course: change {path}")


@pytest.mark.slow  # runs a lecture, make
@pytest.mark.timeout(900)
def test_running_lectures_never_blocks_git_pull_and_make_update_keeps_the_work(course):
    upstream, learner = course
    repo_config = Path(ROOT, sh("git", "rev-parse", "--git-common-dir", cwd=ROOT).stdout.strip(), "config")
    config_text = repo_config.read_text()
    assert make("notebook-filter", learner).returncode == 0
    assert "course/nbclean.py" in git(learner, "config", "filter.nbclean.clean").stdout
    assert repo_config.read_text() == config_text, "only the clone's git configuration changed"

    # 1. the learner runs a lecture: its outputs are no change to git (once git has re-read the file: `git add`
    #    or make update does that), and the course's new version of the lecture arrives with `git pull`
    run_notebook(learner / LECTURE)
    assert any(c.get("outputs") for c in nbformat.read(str(learner / LECTURE), as_version=4).cells)
    assert git(learner, "diff", "--stat").stdout == ""
    git(learner, "add", "--update")
    assert git(learner, "status", "--porcelain").stdout == ""
    upstream_change(upstream, LECTURE, "Deep networks train badly", "Deep networks often train badly")
    git(learner, "pull", "--quiet", "--no-rebase")
    assert "Deep networks often train badly" in (learner / LECTURE).read_text()
    # ... and with make update straight after running a notebook (START_HERE: quicker than a lecture)
    run_notebook(learner / START)
    upstream_change(upstream, START, "## How to work", "## How to work here")
    done = make("update", learner)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "## How to work here" in (learner / START).read_text()
    assert "My work before updating" not in git(learner, "log", "--format=%s").stdout  # outputs are not work

    # 2. the learner works (a module, a written answer, an exercise run) and runs the lecture again
    layers = learner / LAYERS
    layers.write_text(layers.read_text().replace('"""', '"""(my notes) ', 1))
    run_notebook(learner / EXERCISE)
    nb = nbformat.read(str(learner / EXERCISE), as_version=4)
    answer = next(c for c in nb.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution"))
    answer.source = "My answer: log(C), since the initial scores are nearly equal."
    nbformat.write(nb, str(learner / EXERCISE))
    run_notebook(learner / START)
    changed = set(git(learner, "diff", "--name-only").stdout.split())
    assert changed == {LAYERS, EXERCISE}, changed  # outputs are no change; the work is

    # 3. the course changes notebooks the learner ran, the module elsewhere, and the very line the learner
    #    changed: make update merges, the learner's lines win, nothing conflicts
    upstream_change(upstream, LECTURE, "Layer normalization", "Layer normalization (LN)")
    upstream_change(upstream, START, "## Check your setup", "## Check your set-up")
    upstream_change(upstream, LAYERS, '"""', '"""(course fix) ')
    first_line = next(ln for ln in (upstream / LAYERS).read_text().splitlines() if "def relu_backward" in ln)
    upstream_change(upstream, LAYERS, first_line, first_line + "  # course comment")
    done = make("update", learner)
    assert done.returncode == 0, done.stdout + done.stderr
    text = layers.read_text()
    assert "(my notes)" in text and "(course fix)" not in text, "where both changed a line, the learner's wins"
    assert "# course comment" in text, "a course change elsewhere in the module arrives"
    answers = [c.source for c in nbformat.read(str(learner / EXERCISE), as_version=4).cells]
    assert "My answer: log(C), since the initial scores are nearly equal." in answers
    assert "Layer normalization (LN)" in (learner / LECTURE).read_text()
    assert "## Check your set-up" in (learner / START).read_text()
    for path in (LECTURE, EXERCISE, START):
        nbformat.validate(nbformat.read(str(learner / path), as_version=4))
    assert "<<<<<<<" not in text and git(learner, "status", "--porcelain").stdout == ""
    log = git(learner, "log", "--format=%s").stdout
    assert "My work before updating the course" in log


def test_nbclean_is_nbstripout_on_our_notebooks(tmp_path):
    """course/nbclean.py (git's view of a notebook) gives back every committed notebook byte for byte, and on a
    notebook saved with outputs it agrees with nbstripout (the maintained tool whose rules it follows)."""
    from course import nbclean
    from course.topics import START_HERE, load

    paths = [ROOT / START_HERE] + [
        ROOT / getattr(t, kind) for t in load(ROOT) for kind in ("lecture", "exercise_notebook", "source_notebook")
    ]
    for path in paths:  # what the filter writes (course/nbclean.py main), in-process for speed
        assert nbclean.cleaned(path.read_text(encoding="utf-8")) == path.read_text(encoding="utf-8"), path
    ran = nbformat.read(str(ROOT / START_HERE), as_version=4)
    ran.metadata["language_info"] = {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"}
    ran.metadata["widgets"] = {"state": {}}
    code = next(c for c in ran.cells if c.cell_type == "code")
    code.execution_count = 3
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="python 3.11\n")]
    code.metadata["execution"] = {"iopub.status.busy": "2026-11-28T00:00:00Z"}
    nbformat.write(ran, str(tmp_path / "ran.ipynb"))
    ours = sh(sys.executable, "-S", ROOT / "course" / "nbclean.py", tmp_path / "ran.ipynb", cwd=ROOT).stdout
    extra = "metadata.language_info.version metadata.language_info.mimetype"
    theirs = sh(
        sys.executable, "-m", "nbstripout", "--keep-id", "--extra-keys", extra, "-t", tmp_path / "ran.ipynb", cwd=ROOT
    ).stdout
    assert ours == theirs == (ROOT / START_HERE).read_text(encoding="utf-8")
    assert nbclean.cleaned("{ half a notebook") == "{ half a notebook"  # git keeps what it cannot parse
