"""The student edition (autograder/edition.py), built once for topics 01, 03 (statistical checks) and 04 (a known
mistake in its bank), then used as a student would: cloned with git, ``check`` on the stubs, on a correct library
and on a known-wrong one, ``submit``, the lectures opened; and as the instructor would: the submission graded on
the hidden cases, a topic released and published, the student's clone updated.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.cases import SECRET_ENV, hidden_seed
from autograder.edition import build, edition_problems
from course.topics import load
from tests.refs import REF_LIB, ROOT, STUB_LIB

pytestmark = pytest.mark.slow  # lectures executed, sandboxes

RELEASED = ("01", "03", "04")
FOLDERS = ("01_softmax", "03_initialization", "04_normalization")
TOP_LEVEL = {
    ".git",
    ".gitattributes",
    ".gitignore",
    "Makefile",
    "README.md",
    "START_HERE.ipynb",
    "autograder",
    "course",
    "exercises",
    "lectures",
    "lib",
    "requirements.txt",
}


def run(*args, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(list(map(str, args)), cwd=cwd, capture_output=True, text=True, timeout=timeout)


def git(cwd: Path, *args: str) -> str:
    done = run("git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("edition") / "deepkit-student"
    build(ROOT, out, list(RELEASED))
    return out


@pytest.fixture(scope="module")
def student(edition, tmp_path_factory) -> Path:
    """A student's git clone of the edition (as nbgitpuller or `git clone` makes it)."""
    dest = tmp_path_factory.mktemp("student") / "course"
    git(edition.parent, "clone", "--quiet", str(edition), str(dest))
    return dest


def check(clone: Path, number: str) -> subprocess.CompletedProcess:
    return run(sys.executable, "-m", "autograder", "check", number, cwd=clone)


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts)


# ------------------------------------------------------------------------------------------------ contents
def test_edition_holds_the_released_topics_and_no_answer(edition):
    assert {p.name for p in edition.iterdir()} == TOP_LEVEL
    assert tuple(t.folder for t in load(edition)) == FOLDERS
    assert json.loads((edition / "course" / "edition.json").read_text())["released"] == list(FOLDERS)
    slugs = {f.split("_", 1)[1] for f in FOLDERS}
    for kind in ("checks", "probes"):
        assert {p.stem for p in (edition / "autograder" / kind).glob("*.py")} - {"__init__"} == slugs
    assert {p.stem for p in (edition / "autograder" / "public").glob("*.npz")} == slugs
    assert sorted(p.name for p in (edition / "exercises").iterdir()) == list(FOLDERS)
    assert sorted(p.name for p in (edition / "lectures").iterdir()) == sorted(
        [*(f"{f}.ipynb" for f in FOLDERS), "_course.py"]
    )
    lib = edition / "lib" / "deepkit"
    assert [f for f in _files(lib) if "__pycache__" not in f] == [
        f for f in _files(STUB_LIB / "deepkit") if "__pycache__" not in f
    ]
    assert all((lib / f).read_bytes() == (STUB_LIB / "deepkit" / f).read_bytes() for f in _files(lib))
    for gone in ("reference", "solutions", "tests", "tools", "bench"):
        assert not (edition / gone).exists(), gone
    assert edition_problems(edition, ROOT, tuple(t for t in load(ROOT) if t.folder in FOLDERS)) == []


def test_edition_ships_only_the_student_side_of_the_autograder(edition):
    """autograder/ holds exactly the allowlist, the released topics' checks and probes and the student __main__:
    none of the instructor's modules (LMS intake, similarity, export, the command line, this build, ...)."""
    from autograder.edition import STUDENT_AUTOGRADER

    slugs = [f.split("_", 1)[1] for f in FOLDERS]
    shipped = {p for p in _files(edition / "autograder") if p.endswith(".py")}
    expected = {*STUDENT_AUTOGRADER, "__main__.py", *(f"{kind}/{s}.py" for kind in ("checks", "probes") for s in slugs)}
    assert shipped == expected, shipped ^ expected
    instructor = (
        "lms",
        "similarity.py",
        "export.py",
        "feedback.py",
        "policy.py",
        "students.py",
        "cli.py",
        "edition.py",
        "edition_checks.py",
        "canary.py",
        "batch.py",
        "distributed.py",
        "stamps.py",
        "formgrader_guard.py",
        "intake/collect.py",
        "nbgrader_config.py",
        "jupyter_server_config.py",
    )
    for gone in instructor:
        assert (ROOT / "autograder" / gone).exists(), gone  # the name is right: it is in the repository
        assert not (edition / "autograder" / gone).exists(), gone
    assert "autograder.cli" not in (edition / "autograder" / "__main__.py").read_text()


def test_the_build_fails_on_an_import_the_edition_does_not_ship(edition, tmp_path):
    """A shipped module that imports an instructor's module (at its top or in a function) is a build error, so the
    allowlist cannot silently break check or submit."""
    from autograder.edition import import_problems

    copy = tmp_path / "copy"
    shutil.copytree(edition, copy, ignore=shutil.ignore_patterns(".git"))
    assert import_problems(copy, ROOT) == []
    with open(copy / "autograder" / "grade.py", "a") as f:
        f.write("\n\ndef planted():\n    from autograder.similarity import report\n\n    return report\n")
    (copy / "autograder" / "intake" / "planted.py").write_text("from . import collect\nimport autograder.lms.canvas\n")
    problems = import_problems(copy, ROOT)
    assert [p.split(",")[0] for p in problems] == [
        "autograder/grade.py imports autograder.similarity",
        "autograder/intake/planted.py imports autograder.intake.collect",
        "autograder/intake/planted.py imports autograder.lms",
        "autograder/intake/planted.py imports autograder.lms.canvas",
    ], problems
    released = tuple(t for t in load(ROOT) if t.folder in FOLDERS)
    assert set(problems) <= set(edition_problems(copy, ROOT, released))


def test_edition_holds_no_term_secret_and_no_hidden_case(edition):
    secret = os.environ[SECRET_ENV]
    seed = str(hidden_seed(secret)).encode()
    zipped = edition.with_name(edition.name + ".zip")
    for p in [zipped, *(edition / f for f in _files(edition))]:
        data = p.read_bytes()
        assert secret.encode() not in data and seed not in data, p


def test_edition_is_committed_and_zipped(edition):
    assert git(edition, "status", "--porcelain") == ""
    assert git(edition, "log", "--format=%s").strip() == "Student edition: " + ", ".join(FOLDERS)
    with zipfile.ZipFile(edition.with_name(edition.name + ".zip")) as z:
        names = sorted(z.namelist())
    assert names == [f"{edition.name}/{f}" for f in _files(edition)]
    size = sum((edition / f).stat().st_size for f in _files(edition))
    print(f"\nstudent edition of {len(FOLDERS)} topics: {len(_files(edition))} files, {size / 2**20:.2f} MB")


def test_start_here_and_readme_speak_to_students(edition):
    nb = nbformat.read(str(edition / "START_HERE.ipynb"), as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "reference/` and `solutions/` hold the answers" not in text and "make grade" not in text
    rows = re.findall(r"^\| (\d\d) \|", text, re.M)
    assert rows == list(RELEASED), rows
    assert "python -m autograder check 01" in text
    readme = (edition / "README.md").read_text()
    assert len(readme.splitlines()) < 60 and "make lab" in readme and "make update" in readme
    assert all(f"exercises/{f}/{f}.ipynb" in readme for f in FOLDERS)


def test_leak_check_catches_a_planted_answer(edition, tmp_path):
    """The check above can fail: a reference-only line of a released topic, anywhere, and a reference folder."""
    from autograder.edition import reference_only_lines

    copy = tmp_path / "copy"
    shutil.copytree(edition, copy, ignore=shutil.ignore_patterns(".git"))
    released = tuple(t for t in load(ROOT) if t.folder in FOLDERS)
    line = sorted(k for k, m in reference_only_lines(ROOT, released).items() if m.endswith("losses.py"))[0]
    with open(copy / "autograder" / "compare.py", "a") as f:
        f.write(f"\n\ndef planted():\n    {line}\n")
    (copy / "reference").mkdir()
    problems = edition_problems(copy, ROOT, released)
    assert any("autograder/compare.py: contains reference code of reference/deepkit/losses.py" in p for p in problems)
    assert "reference/ is in the edition" in problems


@pytest.fixture(scope="module")
def every_topic(tmp_path_factory) -> Path:
    """An edition of every topic, lectures left out to stay quick (the build raises EditionError on any leak)."""
    out, _ = build(ROOT, tmp_path_factory.mktemp("every") / "all", lectures=False)
    return out


@pytest.mark.timeout(600)
def test_an_edition_of_every_topic_leaks_nothing(every_topic):
    """Every topic released (lectures left out to stay quick; their sources are checked instead): the build's
    leak check passes, so a change to any topic's checks, probes or lecture that copies an answer fails here."""
    from autograder.edition import _notebook_text, allowed_lines, leaked_lines, reference_only_lines

    topics = load(ROOT)
    out = every_topic
    assert tuple(t.folder for t in load(out)) == tuple(t.folder for t in topics)
    secrets, allowed = reference_only_lines(ROOT, topics), allowed_lines()
    lectures = {str(t.lecture): (ROOT / t.lecture).read_text() for t in topics}
    assert [p for rel, text in lectures.items() for p in leaked_lines(rel, text, secrets, allowed)] == []

    def holds(path: str, line: str) -> bool:
        text = lectures.get(path) or ((out / path).read_text() if (out / path).is_file() else "")
        body = _notebook_text(text) if path.endswith(".ipynb") and text else text
        return line in secrets and line in {s.strip() for s in body.splitlines()}

    stale = sorted(entry for entry in allowed if not holds(*entry))
    assert not stale, f"entries of allowed_lines.txt that match nothing any more (remove them): {stale}"
    # the checks modules ship without the known mistakes' code and without the trusted alternative forms
    from autograder.local import load_topic

    for t in topics:
        shipped = (out / t.checks).read_text()
        for part in load_topic(t.number).parts:
            for mistake in part.misconceptions:
                for fn in mistake.replace.values():
                    if getattr(fn, "__qualname__", "<").isidentifier():
                        assert f"_public_answer({t.slug!r}, {fn.__name__!r}, locals())" in shipped, fn.__name__
    optim = (out / "autograder" / "checks" / "optimizers.py").read_text()
    for form in ("adam_algorithm1", "adam_eps_hat", "adamax_torch", "adamax_keras"):
        assert f"_public_answer('optimizers', {form!r}, locals())" in optim, form


@pytest.mark.timeout(900)
def test_check_runs_every_topic_in_the_edition(every_topic, tmp_path):
    """In an edition of every topic, ``check NN`` of each topic: on the stubs every part scores 0 with a reason
    and nothing crashes (an input generator calling a helper whose code stayed with the instructor did); on the
    reference library every part keeps full marks (an output stored without its shape once cost correct dropout
    code 13 of 25 points: the sandbox bounds each output by the reference's size)."""
    clone = tmp_path / "course"
    git(every_topic.parent, "clone", "--quiet", str(every_topic), str(clone))
    topics = load(every_topic)
    for t in topics:
        done = check(clone, t.number)
        assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr, (t.folder, done.stderr[-2000:])
        assert re.search(r"^total 0/\d+ ", done.stdout, re.M), (t.folder, done.stdout[-2000:])
    for module in (REF_LIB / "deepkit").glob("*.py"):
        shutil.copy(module, clone / "lib" / "deepkit" / module.name)
    for t in topics:
        done = check(clone, t.number)
        total = re.search(r"^total (\d+)/(\d+) ", done.stdout, re.M)
        assert done.returncode == 0 and total and total[1] == total[2], (t.folder, done.stdout[-3000:], done.stderr)


# ----------------------------------------------------------------------------------------- as a student
def test_student_commands_only(student):
    done = run(sys.executable, "-m", "autograder", "--help", cwd=student)
    assert done.returncode == 0 and "{check,submit}" in done.stdout, done.stdout
    unreleased = check(student, "02")
    assert unreleased.returncode != 0 and "unknown assignment '02'" in unreleased.stdout + unreleased.stderr
    assert "01_softmax, 03_initialization, 04_normalization" in unreleased.stdout + unreleased.stderr


@pytest.mark.timeout(900)
def test_check_and_submit_on_stubs_correct_and_wrong_libraries(student, tmp_path):
    lib = student / "lib" / "deepkit"
    for n in RELEASED:
        done = check(student, n)
        assert done.returncode == 1, done.stdout + done.stderr
        assert re.search(r"^total 0/\d+", done.stdout, re.M), done.stdout
        assert "NotImplementedError" in done.stdout
    for m in ("layers", "losses", "nets", "init", "norm"):  # a correct library: the reference's modules
        shutil.copy(REF_LIB / "deepkit" / f"{m}.py", lib / f"{m}.py")
    for n in RELEASED:
        done = check(student, n)
        assert done.returncode == 0, done.stdout + done.stderr  # exit 0 only with full marks
        assert "isolation" not in done.stdout or "WITHOUT" not in done.stdout
    # a known-wrong library: affine_backward's dw doubled loses exactly the parts that use it
    layers = (lib / "layers.py").read_text()
    (lib / "layers.py").write_text(
        layers + "\n\n_ok_backward = affine_backward\n\n\ndef affine_backward(dout, cache):\n"
        "    dx, dw, db = _ok_backward(dout, cache)\n    return dx, 2.0 * dw, db\n"
    )
    wrong = check(student, "01")
    assert wrong.returncode == 1
    lost = set(re.findall(r"^  -- +(\w+)", wrong.stdout, re.M))
    assert lost == {"affine_backward", "two_layer_loss"}, wrong.stdout
    assert "dw: gradient relative error" in wrong.stdout
    # a known mistake of the bank is named from the stored outputs (no reference in the edition)
    norm = (lib / "norm.py").read_text()
    (lib / "norm.py").write_text(
        norm + "\n\n_ok_bn_backward = batchnorm_backward\n\n\ndef batchnorm_backward(dout, cache):\n"
        "    dx, dgamma, dbeta = _ok_bn_backward(dout, cache)\n"
        "    if cache.get('mode') == 'eval':  # the mean is a constant there\n"
        "        return dx, dgamma, dbeta\n"
        "    return dx + cache['gamma'] * cache['inv_std'] * dbeta / len(dout), dgamma, dbeta\n"
    )
    named = check(student, "04")
    assert re.search(r"-- +bn_backward .*without the path through the batch mean", named.stdout), named.stdout
    (lib / "norm.py").write_text(norm)
    (lib / "layers.py").write_text(layers)
    # submit: the notebook and the library, nothing else
    done = run(sys.executable, "-m", "autograder", "submit", "01", cwd=student)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(student / "01_softmax-submission.zip") as z:
        names = set(z.namelist())
    assert "01_softmax.ipynb" in names and "lib/deepkit/layers.py" in names
    assert all(n.startswith("lib/deepkit/") or n == "01_softmax.ipynb" for n in names), names
    assert git(student, "status", "--porcelain", "--untracked-files=all").count("submission.zip") == 0  # ignored
    # ... and the instructor grades that zip on the hidden cases: passing the public cases meant full marks
    from autograder.batch import grade_batch
    from autograder.course import Course, Limits
    from autograder.intake.collect import collect

    course = Course(root=ROOT, work=tmp_path / "work")
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(student / "01_softmax-submission.zip", drop / "alice_01_softmax-submission.zip")
    assert [r.lms_id for r in collect(course, drop, "01_softmax").collected] == ["alice"]
    (out,) = grade_batch(course, [("alice", "01_softmax")], Limits(lib_wall=120), notebook=False, progress=False)
    assert all(c.points == c.max_points for c in out.cells.values() if c.kind == "library"), out.summary()


def test_lectures_open_and_show_their_content(edition):
    from nbconvert import HTMLExporter

    topics = {t.folder: t for t in load(edition)}
    for folder in FOLDERS:
        path = edition / "lectures" / f"{folder}.ipynb"
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
        assert "This lecture was run for you" in nb.cells[1].source + nb.cells[2].source
        code = [c for c in nb.cells if c.cell_type == "code"]
        mimes = [m for c in code for o in c.outputs for m in o.get("data", {})]
        assert "application/vnd.jupyter.widget-view+json" not in mimes and "widgets" not in nb.metadata
        assert not [o for c in code for o in c.outputs if o.output_type == "error" or o.get("name") == "stderr"]
        assert sum(bool(c.outputs) for c in code) >= len(code) // 2, f"{folder}: most cells show their output"
        snapshots = [o for c in code for o in c.outputs if "<" in str(o.get("data", {}).get("text/plain", ""))]
        assert len([o for o in snapshots if "image/png" in o.data]) >= len(topics[folder].explorers), folder
        html, _ = HTMLExporter().from_notebook_node(nb)
        assert "<h1" in html and "data:image/png;base64," in html and "This lecture was run for you" in html
    # re-running a lecture uses the student's own lib (the edition has no reference)
    done = run(sys.executable, "-c", "import _course, deepkit; print(deepkit.__file__)", cwd=edition / "lectures")
    assert done.returncode == 0 and Path(done.stdout.strip()).parent == edition / "lib" / "deepkit", done


# ------------------------------------------------------------------------------------ as the instructor
@pytest.mark.timeout(900)
def test_release_adds_a_topic_publishes_and_the_student_update_keeps_work(tmp_path):
    """make release A=NN on an existing edition: the new topic is added and committed; --publish pushes it;
    the student's clone gets it with `make update` and keeps their work (a changed module, a written answer)."""
    from autograder.cli import main

    out, remote = tmp_path / "edition", tmp_path / "remote.git"
    assert main(["release", "--student-edition", str(out), "--topics", "01", "--no-lectures"]) == 0
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(remote))
    git(out, "remote", "add", "origin", str(remote))
    git(out, "push", "--quiet", "origin", "main")
    clone = tmp_path / "student"
    git(tmp_path, "clone", "--quiet", str(remote), str(clone))
    # the student works: a module, a written answer in the exercise notebook (and its outputs, when it ran)
    layers = clone / "lib" / "deepkit" / "layers.py"
    layers.write_text(layers.read_text().replace('    """', '    """My note. ', 1))
    nb_path = clone / "exercises" / "01_softmax" / "01_softmax.ipynb"
    nb = nbformat.read(str(nb_path), as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "markdown")
    answer.source = "My answer: the loss starts at log(C)."
    nbformat.write(nb, str(nb_path))
    # the instructor releases topic 02 and publishes
    assert main(["release", "--student-edition", str(out), "--assignment", "02", "--no-lectures", "--publish"]) == 0
    assert tuple(t.folder for t in load(out)) == ("01_softmax", "02_activations")
    assert git(remote, "log", "--format=%s", "main").splitlines()[0].endswith("01_softmax, 02_activations")
    again = git(out, "rev-parse", "HEAD")
    assert main(["release", "--student-edition", str(out), "--assignment", "02", "--no-lectures"]) == 0
    assert git(out, "rev-parse", "HEAD") == again, "an unchanged release makes no new commit"
    # the student updates
    done = run(sys.executable, "-m", "course.update", cwd=clone)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (clone / "exercises" / "02_activations" / "02_activations.ipynb").is_file()
    assert "My note." in layers.read_text()
    answers = [c.source for c in nbformat.read(str(nb_path), as_version=4).cells]
    assert "My answer: the loss starts at log(C)." in answers
    assert tuple(t.folder for t in load(clone)) == ("01_softmax", "02_activations")
    assert check(clone, "02").returncode == 1  # the new topic's commands work (its stubs score 0)


def test_the_edition_accepts_the_other_documented_adam_form(tmp_path):
    """Topic 07 accepts both documented eps placements of Adam; in the edition the compare's trusted trajectories
    are answered from data, and a student's eps-hat Adam still gets full marks (a stub never costs a correct
    answer), while the reference form still does too."""
    import importlib.util

    import numpy as np

    from autograder import cases as cases_module
    from autograder.cases import read_public
    from autograder.checks import optimizers as original
    from autograder.compare import compare_case
    from autograder.edition import public_cases
    from autograder.spec import TopicChecks
    from course.topics import find

    topic = find("07", load(ROOT))
    (npz,) = public_cases(ROOT, (topic,), tmp_path)
    with np.load(npz, allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"]))
        cases_module.ANSWERS[topic.slug] = (meta["answers"], {k: z[k] for k in z.files if k.startswith("answer|")})
    try:
        spec = importlib.util.spec_from_file_location("_edition_optimizers", tmp_path / topic.checks)
        shipped = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = shipped
        spec.loader.exec_module(shipped)
        assert "def adam_eps_hat" in (tmp_path / topic.checks).read_text()  # a stub, not the algorithm
        assert "np.sqrt(v)" not in (tmp_path / topic.checks).read_text()
        adam = next(p for p in shipped.PARTS if p.name == "adam")
        stored = read_public(npz, TopicChecks(topic, shipped.PARTS))
        for inputs, reference in stored.cases["adam"]:
            for form in (original.adam_algorithm1, original.adam_eps_hat):
                student = {"w": original._trajectory(form, inputs, original._ADAM)}
                result = compare_case(adam, student, reference, inputs)
                assert result.fraction == 1.0, (form.__name__, result.reason)
            wrong = {"w": reference["w"] * 1.01}
            assert compare_case(adam, wrong, reference, inputs).fraction == 0.0
    finally:
        cases_module.ANSWERS.pop(topic.slug, None)
        sys.modules.pop("_edition_optimizers", None)
