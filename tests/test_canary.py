"""Grading cannot silently fail (autograder/canary.py, autograder/errors.py, the sandbox's interpreter path).

* A virtualenv reached through a symlink and a checkout under a symlinked folder grade the reference to full
  marks and the stubs to zero, through the CLI (canary, library and notebook sandboxes), and ``check`` works there.
* A sandbox that cannot start (the interpreter path the old code exec'd) stops the batch at the canary: exit
  status 2, the cause named (``exec failed: FileNotFoundError``), no grade written, nobody blamed; the same
  failure in the middle of a batch raises instead of scoring submissions 0.
* A gradebook nbgrader cannot open is an infrastructure failure too.
* ``autograde --all`` (``make grade``) regrades only what changed since it was graded.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from autograder.course import Course, Limits
from autograder.errors import InfrastructureError
from tests.refs import REF_LIB, ROOT, STUB_LIB

pytestmark = pytest.mark.slow  # sandboxes and notebook runs

A01 = "01_softmax"
TOPIC_MODULES = ("layers", "losses", "nets")
VENV = Path(sys.prefix)
GRADING_OUTPUTS = ("__pycache__", "staging", "submitted", "autograded", "feedback", "exports", "exchange", "*.db")


def submission(dest: Path, reference: bool = True, double_dw: bool = False) -> Path:
    """What ``submit 01`` packs: the release notebook and lib/deepkit (stubs, or the reference's topic modules)."""
    (dest / "lib" / "deepkit").mkdir(parents=True)
    shutil.copy(ROOT / "exercises" / A01 / f"{A01}.ipynb", dest / f"{A01}.ipynb")
    for p in (STUB_LIB / "deepkit").glob("*.py"):
        shutil.copy(p, dest / "lib" / "deepkit" / p.name)
    if reference:
        for m in TOPIC_MODULES:
            shutil.copy(REF_LIB / "deepkit" / f"{m}.py", dest / "lib" / "deepkit" / f"{m}.py")
    if double_dw:
        p = dest / "lib" / "deepkit" / "layers.py"
        p.write_text(
            p.read_text() + "\n\n_ok_backward = affine_backward\n\n\ndef affine_backward(dout, cache):\n"
            "    dx, dw, db = _ok_backward(dout, cache)\n    return dx, 2.0 * dw, db\n"
        )
    return dest


def symlinked(tmp: Path) -> tuple[Path, Path]:
    """(python of a symlink to this virtualenv, a symlink to the repository): a shared .venv link and a checkout
    reached through a symlinked folder, as the issue reported them."""
    links = tmp / "links"
    links.mkdir()
    (links / "venv").symlink_to(VENV.resolve(), target_is_directory=True)
    (links / "course").symlink_to(ROOT, target_is_directory=True)
    python = links / "venv" / "bin" / Path(sys.executable).name
    assert python.exists() and python.parent.resolve() != python.parent
    return python, links / "course"


def library_scores(work: Path, student: str) -> dict[str, tuple[float, float]]:
    data = json.loads((work / "autograded" / student / A01 / "autograder.json").read_text())
    return {k: (c["points"], c["max_points"]) for k, c in data["cells"].items() if c["kind"] == "library"}


def graded_students(course: Course) -> list[str]:
    from nbgrader.api import Gradebook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.db_url) as gb:
            return [s.id for s in gb.students]


# --------------------------------------------------------------------------------------- symlinked paths
@pytest.mark.timeout(900)
def test_symlinked_venv_and_checkout_grade_the_reference_to_full_marks(tmp_path):
    python, checkout = symlinked(tmp_path)
    work = tmp_path / "work"
    submission(work / "submitted" / "ref" / A01)
    submission(work / "submitted" / "stub" / A01, reference=False)
    done = subprocess.run(
        [str(python), "-m", "autograder", "--work", str(work), "autograde", "--all", "--jobs", "2", "--run-notebook"],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "canary ok" in done.stdout + done.stderr
    ref, stub = library_scores(work, "ref"), library_scores(work, "stub")
    assert ref and all(points == maximum for points, maximum in ref.values()), ref
    assert stub and all(points == 0 for points, _ in stub.values()), stub
    assert json.loads((work / "autograded" / "ref" / A01 / "autograder.json").read_text())["notebook_status"] == "ok"


@pytest.mark.timeout(600)
def test_check_works_with_a_symlinked_venv_from_a_symlinked_checkout(tmp_path):
    python, _ = symlinked(tmp_path)
    learner = tmp_path / "learner"
    learner.mkdir()
    for d in ("reference", "solutions", "autograder", "course", "exercises", "lib"):  # a checkout of the course
        shutil.copytree(ROOT / d, learner / d, ignore=shutil.ignore_patterns(*GRADING_OUTPUTS))
    for m in TOPIC_MODULES:
        shutil.copy(REF_LIB / "deepkit" / f"{m}.py", learner / "lib" / "deepkit" / f"{m}.py")
    (tmp_path / "links" / "learner").symlink_to(learner, target_is_directory=True)
    cwd = tmp_path / "links" / "learner"
    done = subprocess.run(
        [str(python), "-m", "autograder", "check", "01", "--notebook"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"on lib/deepkit ({learner / 'lib' / 'deepkit'})" in done.stdout, done.stdout  # the learner's own lib
    total = sum(p.points for p in Course(root=ROOT).topic(A01).parts)
    assert f"total {total:g}/{total:g}" in done.stdout and "notebook: ok" in done.stdout, done.stdout
    assert "sandbox ended early" not in done.stdout


# --------------------------------------------------------------------------------- infrastructure failures
@pytest.fixture
def unreachable_interpreter(tmp_path, monkeypatch):
    """The bug of the issue, re-created on the batch's workers: their sandbox is told to exec the virtualenv's
    unresolved symlinked path, which does not exist inside it (only real paths are bound). Yields the cluster,
    which the batch uses as its local cluster."""
    from autograder import batch
    from autograder.distributed import GradingCluster
    from tests.dask_tasks import unreachable_interpreter_grade_job

    python, _ = symlinked(tmp_path)
    with GradingCluster(jobs=2, task=functools.partial(unreachable_interpreter_grade_job, str(python))) as cluster:
        monkeypatch.setattr(batch, "local_cluster", lambda jobs: cluster)
        yield cluster


@pytest.mark.timeout(300)
def test_canary_stops_a_broken_sandbox_before_any_grade(tmp_path, unreachable_interpreter, capsys):
    from autograder.cli import main

    work = tmp_path / "work"
    submission(work / "submitted" / "alice" / A01)
    submission(work / "submitted" / "bob" / A01, reference=False)
    rc = main(["--work", str(work), "autograde", "--all", "--library-only", "--jobs", "2"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "canary failed" in err and "the reference implementation" in err, err
    assert "exec failed: FileNotFoundError" in err, err
    assert "os._exit" not in err and "ended early" not in err  # nobody's mistake but the machinery's
    course = Course(root=ROOT, work=work)
    assert not (work / "autograded").exists() or not any((work / "autograded").iterdir())
    assert graded_students(course) == []


@pytest.mark.timeout(300)
def test_an_infrastructure_failure_mid_batch_raises_instead_of_scoring_zero(tmp_path, unreachable_interpreter):
    from autograder.batch import grade_batch

    course = Course(root=ROOT, work=tmp_path / "work")
    submission(course.submitted / "alice" / A01)
    with pytest.raises(InfrastructureError, match=r"exec failed: FileNotFoundError"):
        grade_batch(course, [("alice", A01)], Limits(lib_wall=60), jobs=1, notebook=False, progress=False)
    assert not (course.autograded / "alice" / A01 / "autograder.json").exists()


@pytest.mark.timeout(300)
def test_an_unreadable_gradebook_is_an_infrastructure_error(tmp_path, capsys):
    from autograder.cli import main

    work = tmp_path / "work"
    submission(work / "submitted" / "alice" / A01)
    (work / "gradebook.db").write_bytes(b"this is not an sqlite database\n" * 100)
    rc = main(["--work", str(work), "autograde", "--all", "--library-only"])
    err = capsys.readouterr().err
    assert rc == 2 and "nbgrader could not open its database" in err, err
    assert not (work / "autograded").exists()


# ------------------------------------------------------------------------------------- regrade only changes
def _make(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``make`` with this test run's virtualenv, never reinstalling it (``-o`` its install stamp)."""
    digest = hashlib.sha1((cwd / "requirements.txt").read_bytes()).hexdigest()[:12]
    stamp = VENV / f".installed-{digest}"
    cmd = ["make", "--no-print-directory", "-o", str(stamp), f"VENV={VENV}", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.timeout(900)
def test_make_grade_regrades_only_what_changed(tmp_path, capsys):
    work = tmp_path / "work"
    submission(work / "submitted" / "alice" / A01)
    submission(work / "submitted" / "bob" / A01, double_dw=True)
    args = [f"WORK={work}", "A=01", "GRADE_ARGS=--library-only --jobs 2"]
    first = _make("grade", *args, cwd=ROOT)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "canary ok" in first.stdout + first.stderr
    assert all(got == top for got, top in library_scores(work, "alice").values())
    lost = {name for name, (got, top) in library_scores(work, "bob").items() if got < top}
    assert lost == {"affine_backward", "two_layer_loss"}, lost  # the doubled dw, and the net that backprops through it
    assert (work / "feedback" / "bob" / A01 / "feedback.html").is_file() and (work / "exports" / "grades.csv").is_file()
    second = _make("grade", *args, cwd=ROOT)
    assert second.returncode == 0, second.stderr
    assert "all 2 submission(s) are graded as they are now" in second.stdout, second.stdout
    assert "canary" not in second.stdout + second.stderr  # nothing to grade: no sandbox at all
    shutil.copy(REF_LIB / "deepkit" / "layers.py", work / "submitted" / "bob" / A01 / "lib" / "deepkit" / "layers.py")
    from autograder.cli import main  # the same command make runs, in-process (no feedback/export: quicker)

    args = ["--work", str(work), "autograde", "--assignment", "01", "--library-only", "--jobs", "2"]
    assert main(args) == 0
    third = capsys.readouterr().out
    assert "1 submission(s) already graded as they are now; grading 1" in third, third
    assert "01_softmax bob" in third and "01_softmax alice" not in third
    assert all(got == top for got, top in library_scores(work, "bob").values())
    assert main([*args, "--force"]) == 0 and "graded 2 submission(s)" in capsys.readouterr().out
