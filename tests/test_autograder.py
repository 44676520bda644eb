"""The grading path end to end on fixture submissions built at test time (reference modules, release stubs,
the release notebook): full marks, zero, a classic bug, the hostile corpus, regrading, export and feedback.

Everything runs in a temporary work folder (its own gradebook); the repository's autograder/ is untouched.
Topics are picked up from autograder/checks/; the attack corpus (tests/hostile/) is built on topic 01.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from autograder.batch import grade_batch
from autograder.course import Course, Limits
from autograder.grade import load_outcome
from autograder.local import make_cases
from tests.hostile import CASES, append, spell
from tests.refs import REF_LIB, ROOT

A01 = "01_softmax"
TOPIC01 = ("01", A01)
# CPU seconds per part (3) and per submission (20); 4 s asleep in total; wall clocks only as backstops
LIMITS = Limits(part_timeout=3, lib_cpu=20, lib_idle=4, cell_timeout=20, nb_wall=90)
HOST_TARGETS = [Path(ROOT / "HACKED.txt"), Path(ROOT / "autograder" / "HACKED.txt"), Path("/tmp/HACKED-by-student.txt")]
# honest submissions graded alone and inside the hostile batch: the grades must be the same
HONEST = {
    "ref": A01,
    "stub": A01,
    "bwd_wrong": A01,
    "naive": A01,
    "ref_norm": "04_normalization",
    "ref_conv": "08_convolution",
}
# A correct implementation that is slow, as a naive loop implementation on larger data would be: about 1 s of
# CPU per part (its limit is 3 s), several seconds of wall time when the machine is busy.
NAIVE = """
import math as _math
import sys as _sys


def _spin(n=2_500_000):
    acc = 0
    for i in range(n):
        acc = (acc * 31 + i) % 1000003
    return acc


def softmax(z):
    _spin()
    out = _np.empty(_np.shape(z))
    for i, row in enumerate(_np.atleast_2d(z)):
        m = max(row)
        e = [_math.exp(v - m) for v in row]
        s = sum(e)
        out.reshape(-1, len(row))[i] = [v / s for v in e]
    return out


def cross_entropy(probs, y):
    _spin()
    total = 0.0
    for i, label in enumerate(y):
        total -= _math.log(max(probs[i][int(label)], _sys.float_info.min))  # a 0 is clipped to the smallest float
    return total / len(y)
"""

pytestmark = pytest.mark.slow  # sandboxes and notebook runs: minutes on 2 cores


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Release stubs (lib/deepkit) and the release notebook, generated from solutions/ by tools.build."""
    from tools.build import build_exercises, build_lib

    out = tmp_path_factory.mktemp("built")
    build_lib(ROOT, out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_exercises(ROOT, out, only=[A01])
    return out


def make_submission(
    built: Path, dest: Path, topic_modules=("layers", "losses", "nets"), reference=True, assignment=A01
) -> Path:
    """What ``python -m autograder submit NN`` packs: the release notebook (built for topic 01 only) +
    lib/deepkit/*.py (stubs, with the topic's modules replaced by the reference when ``reference``)."""
    (dest / "lib" / "deepkit").mkdir(parents=True)
    nb = built / "exercises" / assignment / f"{assignment}.ipynb"
    if nb.is_file():
        shutil.copy(nb, dest / f"{assignment}.ipynb")
    for p in (built / "lib" / "deepkit").glob("*.py"):
        shutil.copy(p, dest / "lib" / "deepkit" / p.name)
    if reference:
        for m in topic_modules:
            shutil.copy(REF_LIB / "deepkit" / f"{m}.py", dest / "lib" / "deepkit" / f"{m}.py")
    return dest


def _modules_of(course: Course, assignment: str) -> tuple[str, ...]:
    return course.topic(assignment).modules


def _library_only(sub: Path) -> None:
    """Remove a readable notebook (a case graded on its library only); one that intake refuses stays."""
    import nbformat

    for nb in sub.glob("*.ipynb"):
        try:
            nbformat.read(nb, as_version=4)
        except Exception:  # noqa: BLE001 - not UTF-8 JSON: it is the attack
            continue
        nb.unlink()


@pytest.fixture(scope="module")
def graded(built, tmp_path_factory):
    """One course work folder. The honest submissions are graded each on its own first; then ONE batch grades
    all of them together with the whole hostile corpus (notebooks executed in the sandbox, as with
    --run-notebook, where the case keeps a notebook). Returns (course, outcomes of the batch by student, cases,
    ref's outcome alone, honest outcomes alone)."""
    work = tmp_path_factory.mktemp("work")
    course = Course(root=ROOT, work=work)
    sub = lambda s, a=A01: course.submitted / s / a  # noqa: E731
    make_submission(built, sub("ref"))
    make_submission(built, sub("stub"), reference=False)
    make_submission(built, sub("bwd_wrong"))
    p = sub("bwd_wrong") / "lib" / "deepkit" / "layers.py"
    p.write_text(
        p.read_text() + "\n\n_ok_backward = affine_backward\n\n\ndef affine_backward(dout, cache):\n"
        "    dx, dw, db = _ok_backward(dout, cache)\n    return dx, 2.0 * dw, db\n"
    )
    make_submission(built, sub("naive"))
    append(sub("naive"), "losses", "import numpy as _np\n" + NAIVE)
    _library_only(sub("naive"))
    for s in ("ref_norm", "ref_conv"):
        a = HONEST[s]
        make_submission(built, sub(s, a), _modules_of(course, a) + ("layers", "losses"), assignment=a)
    cases = {}
    for name in CASES:
        mod = importlib.import_module(f"tests.hostile.{name}")
        a = getattr(mod, "ASSIGNMENT", A01)
        modules = _modules_of(course, a) + (("layers", "losses") if a != A01 else ())
        make_submission(built, sub(name, a), modules, assignment=a)
        mod.build(sub(name, a))
        if not mod.NOTEBOOK:
            _library_only(sub(name, a))
        cases[name] = mod
    for t in HOST_TARGETS:
        t.unlink(missing_ok=True)
    alone = {}
    for s, a in HONEST.items():  # notebooks executed (as with --run-notebook) wherever the case keeps one
        alone[s] = grade_batch(course, [(s, a)], LIMITS, jobs=1, notebook=True, progress=False)[0]
    ref_before = load_outcome(course, "ref", A01)
    pairs = list(HONEST.items()) + [(n, getattr(m, "ASSIGNMENT", A01)) for n, m in cases.items()]
    t0 = time.monotonic()
    outs = {o.student: o for o in grade_batch(course, pairs, LIMITS, jobs=2, notebook=True, progress=False)}
    _record_batch(outs, cases, time.monotonic() - t0)
    return course, outs, cases, ref_before, alone


def _record_batch(outs: dict, cases: dict, seconds: float) -> None:
    """The corpus size and how long the whole batch took (build/results/hostile_batch.json)."""
    from bench import results_dir

    data = {
        "corpus_size": len(cases),
        "honest_submissions": len(HONEST),
        "jobs": 2,
        "batch_seconds": round(seconds, 1),
        "slowest": sorted(
            ({"student": o.student, "seconds": round(o.seconds, 1), "library": round(o.lib_seconds, 1)}
             for o in outs.values()),
            key=lambda r: -r["seconds"],
        )[:8],
    }  # fmt: skip
    out = results_dir() / "hostile_batch.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"\nhostile batch: {len(cases)} attacks + {len(HONEST)} honest submissions in {seconds:.0f} s")


def _scores(outcome) -> dict[str, float]:
    return {n: c.points for n, c in outcome.cells.items()}


# ----------------------------------------------------------------------------------------------- the basics
def test_reference_submission_gets_full_marks(graded):
    course, outs, *_ = graded
    o = outs["ref"]
    topic = course.topic(A01)
    for p in topic.parts:
        assert o.cells[p.name].points == p.points, (p.name, o.cells[p.name].reason)
    assert o.notebook_status == "ok", o.notebook_reason
    assert (course.autograded / "ref" / A01 / f"{A01}.ipynb").is_file()


def test_stub_submission_scores_zero(graded):
    course, outs, *_ = graded
    o = outs["stub"]
    for p in course.topic(A01).parts:
        assert o.cells[p.name].points == 0, p.name
        assert "NotImplementedError" in o.cells[p.name].reason
    assert o.notebook_status == "errors"


def test_forward_right_backward_wrong_loses_exactly_the_backward_points(graded):
    course, outs, *_ = graded
    s, ref = _scores(outs["bwd_wrong"]), _scores(outs["ref"])
    lost = {n for n in ref if s[n] != ref[n]}
    assert lost == {"affine_backward", "two_layer_loss"}, lost  # the net backpropagates through affine
    assert (
        s["affine_backward"] == 0 and "dw: gradient relative error" in outs["bwd_wrong"].cells["affine_backward"].reason
    )


def test_gradebook_holds_the_sandbox_scores(graded):
    from nbgrader.api import Gradebook

    course, outs, *_ = graded
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.db_url) as gb:
            for student in ("ref", "stub", "bwd_wrong"):
                sub = gb.find_submission(A01, student)
                grades = {g.name: g.auto_score for nb in sub.notebooks for g in nb.grades}
                for p in course.topic(A01).parts:
                    assert grades[p.name] == outs[student].cells[p.name].points, (student, p.name)


# ---------------------------------------------------------------------------------------- the hostile corpus
@pytest.mark.parametrize("name", CASES)
def test_hostile_submission(graded, name):
    course, outs, cases, *_ = graded
    o, expect = outs[name], cases[name].EXPECT
    assignment = getattr(cases[name], "ASSIGNMENT", A01)
    if name in ("h_read_secrets", "h_write_outside") and any("WITHOUT namespaces" in n for n in o.notes):
        pytest.skip("this machine does not allow namespaces: file isolation cannot be tested")
    parts = {p.name: p.points for p in course.topic(assignment).parts}
    assert set(o.cells) >= set(parts), "every part has a score"
    for part in expect["full"]:
        assert o.cells[part].points == parts[part], (part, o.cells[part].reason)
    for part in expect["zero"]:
        assert o.cells[part].points == 0, (part, o.cells[part].reason)
    for part, text in expect["reason"].items():
        assert text in o.cells[part].reason, (part, o.cells[part].reason)
    for c in o.cells.values():
        assert c.reason, c.name
    if "notebook" in expect:
        assert o.notebook_status == expect["notebook"], o.notebook_reason
    view = nbformat_read(course.autograded / name / assignment / f"{assignment}.ipynb")
    shown = "\n".join(c.source for c in view.cells) + "\n".join(
        str(out.get("text", "")) + str(out.get("data", "")) for c in view.cells for out in c.get("outputs", [])
    )
    for text in expect.get("notebook_output", []):
        assert text in shown, text
    for text in expect.get("notebook_absent", []):
        assert text not in shown, text
    trusted = {
        f"[autograder] sandboxed check of your lib: {c.points:g}/{c.max_points:g}"
        for c in o.cells.values()
        if c.kind == "library"
    }
    for c in view.cells:  # the grader's label comes only from the grader
        for out in c.get("outputs", []):
            for line in str(out.get("text", "")).splitlines():
                assert not line.startswith("[autograder]") or line.split(" - ")[0] in trusted, line
    if "no_process" in expect:
        if any("WITHOUT namespaces" in n for n in o.notes):
            pytest.skip("this machine does not allow namespaces: detached processes are not contained")
        alive = [p for p in Path("/proc").glob("[0-9]*") if expect["no_process"].encode() in _cmdline(p)]
        assert not alive, f"processes of the submission survived its sandbox: {alive}"
    said = " ".join([c.reason for c in o.cells.values()] + o.notes)
    for text in expect.get("not_in_reasons", []):
        assert text not in said, (text, said)
    assert o.seconds < expect.get("max_seconds", 150), ("bounded time", o.seconds)


def test_honest_submissions_get_the_same_grades_alone_and_in_the_hostile_batch(graded):
    """Every attack of the corpus graded in one batch with the honest submissions changes nothing for them:
    not the points, not the reasons (a correct but slow one included: its limits are CPU time)."""
    course, outs, cases, _, alone = graded
    assert len(cases) >= 25
    for student in HONEST:
        together, solo = outs[student], alone[student]
        assert {n: (c.points, c.reason) for n, c in together.cells.items()} == {
            n: (c.points, c.reason) for n, c in solo.cells.items()
        }, student
        assert together.notebook_status == solo.notebook_status, student
    for student in ("ref", "naive", "ref_norm", "ref_conv"):
        lost = {n: c.reason for n, c in outs[student].cells.items() if c.kind == "library" and c.points < c.max_points}
        assert not lost, (student, lost)


def test_cpu_limits_make_scores_independent_of_load(built, tmp_path):
    """The naive submission (about 1 s of CPU in two parts whose limit is 3 s of CPU) gets full marks as the
    machine is, and with 3 more CPU hogs per core, where its parts take several seconds of wall time (a 3 s
    wall-clock limit would have cut them). The numbers go to build/results/sandbox_load.json."""
    from bench import results_dir

    course = Course(root=ROOT, work=tmp_path / "work")
    make_submission(built, course.submitted / "naive" / A01)
    append(course.submitted / "naive" / A01, "losses", "import numpy as _np\n" + NAIVE)
    _library_only(course.submitted / "naive" / A01)
    from autograder.grade import grade_one

    runs = {}
    hogs = []
    try:
        for label in ("as is", "with hogs"):
            if label == "with hogs":
                hog = [sys.executable, "-c", "while True:\n    pass"]
                hogs = [subprocess.Popen(hog) for _ in range(3 * (os.cpu_count() or 1))]
                time.sleep(1)
            load = os.getloadavg()[0]
            out, _, lib, _ = grade_one(course, "naive", A01, LIMITS, notebook=False)
            lost = {n: c.reason for n, c in out.cells.items() if c.kind == "library" and c.points < c.max_points}
            assert not lost, (label, lost)
            runs[label] = {"load_average": load, **{p: lib.timings[p] for p in ("softmax", "cross_entropy")}}
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    limit = LIMITS.part_timeout
    for label, parts in runs.items():
        for name in ("softmax", "cross_entropy"):
            t = parts[name]
            assert t["status"] == "ok" and t["cpu"] < limit, (label, name, t)
    data = {"cpu_limit_per_part": limit, "hogs": 3 * (os.cpu_count() or 1), "cores": os.cpu_count(), "runs": runs}
    out = results_dir() / "sandbox_load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n")
    print("\nCPU limits under load:", json.dumps(runs))


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def test_no_other_student_changed_and_nothing_written_outside(graded):
    course, outs, _, ref_before, _ = graded
    after = load_outcome(course, "ref", A01)
    assert {k: v["points"] for k, v in after["cells"].items()} == {
        k: v["points"] for k, v in ref_before["cells"].items()
    }
    for t in HOST_TARGETS:
        assert not t.exists(), t
    # the secrets h_read_secrets looked for do exist on the host (so its full marks mean the sandbox hid them)
    assert course.gradebook.is_file() and list((REF_LIB / "deepkit").glob("*.py"))
    staged = course.staging / A01 / "h_write_outside" / "sub" / "lib" / "deepkit"
    assert not (staged / "HACKED.txt").exists()
    assert "hacked" not in (staged / "layers.py").read_text()
    assert not (course.submitted / "h_write_outside" / A01 / "lib" / "deepkit" / "HACKED.txt").exists()


def test_intake_lists_ignored_files(graded):
    course, outs, *_ = graded
    ignored = " ".join(outs["h_planted_numpy"].intake["ignored"])
    assert "lib/numpy.py" in ignored and "numpy.py" in ignored
    staged = course.staging / A01 / "h_planted_numpy" / "sub"
    assert not (staged / "lib" / "numpy.py").exists() and not (staged / "lib" / "deepkit" / "numpy.py").exists()
    assert "planted" not in (staged / "lib" / "deepkit" / "__init__.py").read_text()
    assert outs["h_non_utf8"].notebook_status == "missing"
    assert "UTF-8" in outs["h_non_utf8"].notebook_reason


# ------------------------------------------------------------------------------ regrade, export, feedback
def test_regrade_is_idempotent_and_keeps_manual_grades(graded):
    from nbgrader.api import Gradebook

    course, outs, *_ = graded
    manual = [c for c in outs["ref"].cells.values() if c.kind == "manual"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.db_url) as gb:
            sub = gb.find_submission(A01, "ref")
            snb = sub.notebooks[0]
            g_part = next(g for g in snb.grades if g.name == "softmax")
            g_part.manual_score = 0.5  # the grader overrides an autograded part
            for g in snb.grades:
                if manual and g.name == manual[0].name:
                    g.manual_score = g.max_score
            for cm in snb.comments:
                cm.manual_comment = "nice work"
            gb.db.commit()
    again = grade_batch(course, [("ref", A01)], LIMITS, jobs=1, notebook=False, progress=False)[0]
    assert _scores(again) == _scores(outs["ref"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.db_url) as gb:
            snb = gb.find_submission(A01, "ref").notebooks[0]
            grades = {g.name: g for g in snb.grades}
            assert grades["softmax"].manual_score == 0.5 and grades["softmax"].score == 0.5
            assert grades["softmax"].auto_score == 1
            if manual:
                assert grades[manual[0].name].manual_score == grades[manual[0].name].max_score
            assert all(cm.manual_comment == "nice work" for cm in snb.comments)


def test_export_csv_and_reasons(graded, tmp_path):
    from autograder.export import export
    from autograder.policy import Policy

    course, outs, *_ = graded
    pairs = [("ref", A01), ("stub", A01), ("bwd_wrong", A01)]
    reasons_path, grades_path = export(course, pairs, "csv", tmp_path, Policy())
    grades = {r["id"]: r for r in csv.DictReader(open(grades_path))}
    reasons = {r["id"]: r for r in csv.DictReader(open(reasons_path))}
    assert set(grades) == {"ref", "stub", "bwd_wrong"}  # one row per student, one column per assignment
    assert grades["stub"][A01] == "0" and reasons["stub"]["status"] == "graded"
    lost = {p: outs["bwd_wrong"].cells[p].max_points for p in ("affine_backward", "two_layer_loss")}
    assert float(reasons["bwd_wrong"]["raw"]) == outs["bwd_wrong"].auto_total
    library = course.topic(A01).total_points
    assert float(grades["bwd_wrong"][A01]) == outs["bwd_wrong"].auto_total == library - sum(lost.values())
    assert "affine_backward" in reasons["bwd_wrong"]["parts lost"]
    assert "dw: gradient relative error" in reasons["bwd_wrong"]["parts lost"]


def _hidden_values(course) -> list[str]:
    """Printed forms of hidden input values (6+ significant digits) that must never reach a student."""
    vals = []
    for p in course.topic(A01).parts:
        for inp in make_cases(p, course.case_set().seed):  # the hidden cases the batch graded on
            for v in inp.values():
                if isinstance(v, np.ndarray) and v.dtype.kind == "f":
                    vals += [f"{x:.6f}"[:8] for x in v.ravel()[:5] if abs(x) > 1e-3]
    return vals


def _hidden_floats(course) -> list[float]:
    """The first values of every hidden float input of topic 01 (what h_exception_leak spells out)."""
    out = []
    for p in course.topic(A01).parts:
        for inp in make_cases(p):
            for v in inp.values():
                if isinstance(v, np.ndarray) and v.dtype.kind == "f":
                    out += [float(x) for x in v.ravel()[:6]]
    return out


def _reference_only_lines() -> list[str]:
    from tools.build import solution_regions

    lines = []
    for m in ("layers", "losses", "nets"):
        src = (REF_LIB / "deepkit" / f"{m}.py").read_text().splitlines()
        for r in solution_regions(src):
            lines += [ln.strip() for ln in src[r.begin + 1 : r.end] if len(ln.strip()) > 25]
    return lines


def test_feedback_leaks_nothing(graded):
    from autograder.feedback import write_feedback

    course, outs, *_ = graded
    pages = write_feedback(course, [(o.student, o.assignment) for o in outs.values()])
    assert len(pages) == len(outs)
    secret_lines, values = _reference_only_lines(), _hidden_values(course)
    spelled = [spell(v) for v in _hidden_floats(course)]
    assert secret_lines and values and spelled
    for page in pages:
        text = page.read_text()
        assert "BEGIN HIDDEN" not in text and "hidden_check(" not in text
        assert not [ln for ln in secret_lines if ln in text], page
        assert not [v for v in values if v in text], page
        assert not [w for w in spelled if w in text], page  # digits spelled as words (h_exception_leak)
        assert "root:x:" not in text and "student:x:" not in text and "/box/" not in text, page
        probe_src = (ROOT / "autograder" / "probes" / "softmax.py").read_text()
        assert not [ln.strip() for ln in probe_src.splitlines() if len(ln.strip()) > 30 and ln.strip() in text]
    ref = (course.feedback / "bwd_wrong" / A01 / "feedback.html").read_text()
    assert "affine_backward" in ref and "gradient relative error" in ref and "the worst element is at index" in ref


def test_sandbox_template_gradebook_holds_no_solution_or_other_student(graded):
    """The notebook sandbox sees a copy of this template; it must not contain solutions or anyone's grades."""
    import sqlite3

    course, *_ = graded
    db = course.staging / "_templates" / A01 / "gradebook.db"
    data = db.read_bytes()
    assert b"BEGIN SOLUTION" not in data
    assert not [ln for ln in _reference_only_lines() if ln.encode() in data]
    src = nbformat_read(ROOT / "solutions" / A01 / f"{A01}.ipynb")
    solution_lines = [
        ln.strip()
        for c in src.cells
        if c.metadata.get("nbgrader", {}).get("solution")
        for ln in c.source.splitlines()
        if len(ln.strip()) > 25 and "YOUR" not in ln
    ]
    assert not [ln for ln in solution_lines if ln.encode() in data]
    with sqlite3.connect(db) as con:
        assert con.execute("select count(*) from student").fetchone()[0] == 0
        assert con.execute("select count(*) from submitted_assignment").fetchone()[0] == 0


def nbformat_read(path):
    import nbformat

    return nbformat.read(str(path), as_version=4)


# -------------------------------------------------------------------------------------- collect and submit
def test_submit_zip_round_trips_through_collect(built, tmp_path):
    import zipfile

    from autograder.intake import submit
    from autograder.intake.collect import collect

    root = tmp_path / "learner"
    shutil.copytree(built, root)
    shutil.copy(REF_LIB / "deepkit" / "layers.py", root / "lib" / "deepkit" / "layers.py")
    learner = Course(root=root, work=root / "autograder")
    z = submit(learner, A01, tmp_path / "mine.zip")
    assert "timestamp.txt" not in zipfile.ZipFile(z).namelist()  # lateness is the LMS's business
    drop = tmp_path / "drop.zip"
    with zipfile.ZipFile(drop, "w") as out:
        out.write(z, "alice_mine.zip")
        out.writestr("bob/01_softmax/01_softmax.ipynb", (built / "exercises" / A01 / f"{A01}.ipynb").read_text())
        out.writestr("../evil.txt", "x")
    course = Course(root=ROOT, work=tmp_path / "work")
    res = collect(course, drop, A01)
    assert sorted(r.lms_id for r in res.collected) == ["alice", "bob"]
    assert [r.status for r in res.problems] == ["skipped"]  # the "../evil.txt" entry, reported
    assert (course.submitted / "alice" / A01 / "lib" / "deepkit" / "layers.py").is_file()
    assert (course.submitted / "alice" / A01 / f"{A01}.ipynb").is_file()
    assert (course.submitted / "bob" / A01 / f"{A01}.ipynb").is_file()
    assert not (tmp_path / "evil.txt").exists()


def test_check_command_reports_per_part(built, tmp_path, capsys):
    from autograder.cli import main

    root = tmp_path / "learner"
    shutil.copytree(built, root)
    for d in ("solutions", "reference", "autograder", "course"):
        (root / d).symlink_to(ROOT / d)
    shutil.copy(REF_LIB / "deepkit" / "layers.py", root / "lib" / "deepkit" / "layers.py")
    rc = main(["--root", str(root), "check", "01"])
    out = capsys.readouterr().out
    assert rc == 1
    assert re.search(r"ok +affine_backward +2/2 +all checks passed", out), out
    assert re.search(r"-- +softmax +0/1 .*NotImplementedError", out), out
    assert "total 5/15" in out


def test_cli_collect_folder_autograde_feedback_export(built, tmp_path, capsys):
    """The instructor's commands on a folder of student folders (library only, to stay fast)."""
    from autograder.cli import main

    drop = tmp_path / "drop"
    make_submission(built, drop / "carol" / A01)
    make_submission(built, drop / "dave", reference=False)  # files directly in the student folder
    (drop / "evil").symlink_to("/")  # a symlinked student entry is skipped
    (drop / "notes.txt").write_text("not a submission")
    work = tmp_path / "work"
    assert main(["--work", str(work), "collect", str(drop), "--assignment", "01"]) == 1  # 2 entries skipped
    assert main(["--work", str(work), "collect", str(drop), "--assignment", "01", "--proceed"]) == 0
    assert sorted(p.name for p in (work / "submitted").iterdir()) == ["carol", "dave"]
    assert (
        main(["--work", str(work), "autograde", "--all", "--library-only", "--jobs", "2", "--library-timeout", "60"])
        == 0
    )
    out = capsys.readouterr().out
    assert re.search(r"01_softmax carol: 15/1[58]", out), out
    assert re.search(r"01_softmax dave: 0/1[58]", out), out
    assert main(["--work", str(work), "feedback", "--all"]) == 0
    assert (work / "feedback" / "carol" / A01 / "feedback.html").is_file()
    assert main(["--work", str(work), "export", "--all"]) == 0
    rows = {r["id"]: r for r in csv.DictReader(open(work / "exports" / "grades.csv"))}
    library = Course().topic(A01).total_points  # every library part; the written answer: 0
    assert rows["carol"][A01] == f"{library:g}" and rows["dave"][A01] == "0"
    reasons = {r["id"]: r for r in csv.DictReader(open(work / "exports" / "reasons.csv"))}
    assert "NotImplementedError" in reasons["dave"]["parts lost"]


def _all_assignments() -> list[str]:
    return Course().assignments()


def test_every_topic_reference_library_gets_full_marks_in_the_sandbox(tmp_path):
    """Generic over autograder/checks/: the complete reference library, graded in the sandbox (library only),
    scores every part of every topic; the hidden inputs and outputs survive the npz round trip."""
    course = Course(root=ROOT, work=tmp_path / "work")
    assignments = _all_assignments()
    for a in assignments:
        lib = course.submitted / "complete" / a / "lib" / "deepkit"
        lib.mkdir(parents=True)
        for m in course.student_modules:
            shutil.copy(REF_LIB / "deepkit" / f"{m}.py", lib / f"{m}.py")
    outs = grade_batch(
        course, [("complete", a) for a in assignments], Limits(lib_wall=240), jobs=2, notebook=False, progress=False
    )
    problems = [
        f"{o.assignment}:{c.name}: {c.reason}"
        for o in outs
        for c in o.cells.values()
        if c.kind == "library" and c.points != c.max_points
    ]
    assert not problems, "\n".join(problems)
