"""The LMS round trip end to end (slow: sandboxed grading): for each LMS, its fixture class is collected by LMS
id, graded (library sandbox; written answers from the staged notebook), exported in the LMS's own import format
and re-read with that LMS's conventions: every student has the grade their files earn, with the late penalty of
the policy, the pending written answer blank; the feedback bundles exist. Then the re-grade flag: a written
answer graded by hand and changed by a resubmission is flagged, its old grade and comment kept visible, and
counted again only after it is re-graded.
"""

from __future__ import annotations

import csv
import json
import warnings

import pytest

from autograder.batch import grade_batch
from autograder.course import Course, Limits
from autograder.export import export, num
from autograder.feedback import write_bundles, write_feedback
from autograder.intake import submissions
from autograder.intake.collect import collect
from autograder.lms import blackboard, canvas, moodle
from autograder.local import load_topic
from autograder.policy import load_policy
from autograder.students import grader_id
from tests import lms_fixtures as F

pytestmark = pytest.mark.slow
A01 = F.A01
LIMITS = Limits(part_timeout=3, lib_wall=40)
LIBRARY_POINTS = load_topic(A01).total_points  # topic 01: every library part (written answers are manual)
ANSWER = b"The loss starts near log(10) = 2.3 because the scores are nearly equal."


def _answered(nb: bytes, text: bytes = ANSWER, cell: str = "initial_loss_question") -> bytes:
    """The notebook with the written answer ``cell`` answered (the other answer cells stay unanswered)."""
    notebook = json.loads(nb)
    for c in notebook["cells"]:
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == cell:
            c["source"] = text.decode()
    return json.dumps(notebook).encode()


def _run(tmp_path, lms):
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(F.POLICY)
    course = Course(work=tmp_path / "work")
    policy = load_policy(policy_file, course.assignments())
    if lms == "canvas":
        dl, roster, times, exp = F.canvas_class(tmp_path / "in")
        res = collect(course, dl, A01, roster=roster, times=times, policy=policy)
    elif lms == "moodle":
        dl, roster, exp = F.moodle_class(tmp_path / "in")
        res = collect(course, dl, A01, roster=roster, policy=policy)
    else:
        dl, roster, exp = F.blackboard_class(tmp_path / "in")
        res = collect(course, dl, A01, roster=roster, policy=policy)
    assert not res.problems, res.table()
    # one correct student answered the written question: it waits for the grader (blank in the export)
    pending = next(i for i, e in sorted(exp.items()) if e["version"] and not e["late"])
    nb = course.submitted / grader_id(pending) / A01 / f"{A01}.ipynb"
    nb.write_bytes(_answered(nb.read_bytes()))
    pairs = submissions(course, A01)
    outs = {o.student: o for o in grade_batch(course, pairs, LIMITS, jobs=2, notebook=False, progress=False)}
    return course, policy, exp, pending, pairs, outs


def _correct(exp_entry, lms_id) -> bool:
    return exp_entry["version"] is not None and lms_id not in ("12002", "502", "jsmith2")  # those sent stubs


@pytest.mark.parametrize("lms", ["canvas", "moodle", "blackboard"])
def test_collect_grade_export_reimport(lms, tmp_path):
    course, policy, exp, pending, pairs, outs = _run(tmp_path, lms)
    want = {}
    for lms_id, e in exp.items():
        o = outs[grader_id(lms_id)]
        lib = sum(c.points for c in o.cells.values() if c.kind == "library")
        assert lib == (LIBRARY_POINTS if _correct(e, lms_id) else 0.0), (lms_id, o.summary())
        if not e["modules"]:  # notebook-only: every library part says which module was missing
            assert all("missing from the submission" in c.reason for c in o.cells.values() if c.kind == "library")
        raw = lib  # the unanswered written question scores 0 ("no response")
        want[lms_id] = None if lms_id == pending else round(raw * (1 - (e["penalty"] if e["late"] else 0) / 100), 2)
    out = tmp_path / "out"
    paths = {p.name: p for p in export(course, pairs, lms, out, policy)}
    if lms == "canvas":
        got = {u: g.get("01 softmax (4501)") for u, g in canvas.read_gradebook(paths["canvas-gradebook.csv"]).items()}
    elif lms == "moodle":
        got = moodle.read_worksheet(paths[f"moodle-{A01}-worksheet.csv"])
    else:
        col = "Exercise 01 [Total Pts: 14 Score] |7731"
        got = {u: g.get(col) for u, g in blackboard.read_gradebook(paths["blackboard-grade-center.csv"]).items()}
    assert {k: got.get(k) for k in want} == {k: (num(v) if v is not None else None) for k, v in want.items()}
    late = next(i for i, e in exp.items() if e["late"] == 2)
    assert want[late] == round(LIBRARY_POINTS * 0.8, 2)  # 2 days late: -20% of the raw score
    reasons = {r["lms_id"]: r for r in csv.DictReader(open(paths["reasons.csv"]))}
    assert reasons[late]["raw"] == f"{LIBRARY_POINTS:g}" and reasons[late]["score"] == num(want[late])
    assert reasons[pending]["status"] == "pending manual grading" and reasons[pending]["score"] == ""
    write_feedback(course, pairs, policy)
    made = write_bundles(course, pairs, policy, out)
    assert made and all(p.exists() for p, _ in made)
    page = (course.feedback / grader_id(late) / A01 / "feedback.html").read_text()
    assert "2 day(s) late" in page and f"raw {LIBRARY_POINTS:g}" in page


def test_answer_changed_after_grading_is_flagged_with_the_old_grade_visible(tmp_path):
    from nbgrader.api import Gradebook

    course, policy, exp, pending, pairs, outs = _run(tmp_path, "canvas")
    sid = grader_id(pending)
    assert outs[sid].cells["initial_loss_question"].points is None  # answered: waits for the grader

    def gb_cell(update=None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Gradebook(course.db_url) as gb:
                snb = gb.find_submission(A01, sid).notebooks[0]
                g = next(g for g in snb.grades if g.name == "initial_loss_question")
                cm = next(c for c in snb.comments if c.name == "initial_loss_question")
                if update:
                    update(g, cm)
                    gb.db.commit()
                return g.manual_score, g.needs_manual_grade, cm.manual_comment

    def formgrader_grades(score, comment):  # what saving a grade in the formgrader does
        def up(g, cm):
            g.manual_score, g.needs_manual_grade, cm.manual_comment = score, False, comment

        gb_cell(up)

    def regrade():
        return grade_batch(course, [(sid, A01)], LIMITS, jobs=1, notebook=False, progress=False)[0]

    def final():
        export(course, [(sid, A01)], "csv", tmp_path / "x", policy)
        return next(csv.DictReader(open(tmp_path / "x" / "grades.csv")))[A01]

    formgrader_grades(1.0, "right: log(10)")
    assert regrade().cells["initial_loss_question"].regrade is None
    assert final() == f"{LIBRARY_POINTS + 1:g}"  # graded, same answer: the manual grade counts
    # the student resubmits with another answer
    nb = course.submitted / sid / A01 / f"{A01}.ipynb"
    nb.write_bytes(_answered(F.NOTEBOOK, b"It starts at zero."))
    o = regrade()
    c = o.cells["initial_loss_question"]
    assert c.points is None and c.regrade == {"old_score": 1.0, "max": 1.0, "comment": "right: log(10)"}
    assert "changed after it was graded (earlier grade 1/1, comment: right: log(10))" in c.reason
    assert gb_cell() == (1.0, True, "right: log(10)")  # flagged in the formgrader; the old grade is kept
    assert final() == ""  # pending again: blank, not the old grade silently kept
    page = write_feedback(course, [(sid, A01)], policy)[0].read_text()
    assert "earlier grade 1/1" in page and "class='pending'>pending<" in page
    assert regrade().cells["initial_loss_question"].regrade  # still flagged until someone re-grades
    formgrader_grades(0.0, "no: see the lecture")
    assert regrade().cells["initial_loss_question"].regrade is None
    assert final() == f"{LIBRARY_POINTS:g}" and gb_cell() == (0.0, False, "no: see the lecture")
    saved = json.loads((course.autograded / sid / A01 / "autograder.json").read_text())
    assert saved["cells"]["initial_loss_question"]["graded_answer"] == saved["cells"]["initial_loss_question"]["answer"]
