"""The LMS round trip without a sandbox (fast): intake of realistic Canvas, Moodle, Blackboard and folder downloads
by LMS id, the late policy, import-ready exports re-read with each LMS's conventions, feedback bundles, the
written-answer re-grade flag, the similarity report, and the id mapping and text sanitising they rely on.

Grading itself is replaced by outcome files written here (the sandboxed path is tests/test_lms_e2e.py).
"""

from __future__ import annotations

import csv
import html
import json
import re
import zipfile
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.course import Course
from autograder.intake import stage
from autograder.intake.collect import collect, load_record
from autograder.lms import ADAPTERS, Download, canvas, detect, moodle
from autograder.policy import assess, load_policy, parse_time
from autograder.safetext import cell, clean
from autograder.students import Registry, grader_id
from tests import lms_fixtures as F
from tests.refs import STUB_LIB

A01 = F.A01


@pytest.fixture
def policy_file(tmp_path) -> Path:
    p = tmp_path / "policy.toml"
    p.write_text(F.POLICY)
    return p


def _canvas(tmp):
    dl, roster, times, exp = F.canvas_class(tmp)
    return dl, {"roster": roster, "times": times}, exp


def _moodle(tmp):
    dl, roster, exp = F.moodle_class(tmp)
    return dl, {"roster": roster}, exp


def _blackboard(tmp):
    dl, roster, exp = F.blackboard_class(tmp)
    return dl, {"roster": roster}, exp


BUILDERS = {"canvas": _canvas, "moodle": _moodle, "blackboard": _blackboard}


def _version(path: Path) -> str | None:
    m = re.search(rb"# submission version: (\w+)", path.read_bytes()) if path.is_file() else None
    return m.group(1).decode() if m else None


# ------------------------------------------------------------------------------------------------ intake
@pytest.mark.parametrize("lms", list(BUILDERS))
def test_every_student_mapped_to_the_right_id_with_the_right_attempt(lms, tmp_path, policy_file):
    dl, extra, exp = BUILDERS[lms](tmp_path / "in")
    course = Course(work=tmp_path / "work")
    policy = load_policy(policy_file, course.assignments())
    res = collect(course, dl, A01, policy=policy, **extra)
    assert res.lms == lms and res.message.startswith(f"detected {ADAPTERS[lms].title}")
    assert not res.problems, res.table()
    rows = {r.lms_id: r for r in res.rows}
    assert set(rows) == set(exp), res.table()
    registry = Registry(course)
    record = load_record(course, A01)
    for lms_id, e in exp.items():
        row, sid = rows[lms_id], grader_id(lms_id)
        assert row.sid == sid and registry.get(sid).lms_id == lms_id and registry.get(sid).lms == lms
        assert row.name == e["name"] and row.status == e["status"], row
        sub = course.submitted / sid / A01
        assert (sub / f"{A01}.ipynb").is_file() == e["notebook"]
        got = {p.stem for p in (sub / "lib" / "deepkit").glob("*.py") if p.stem in F.TOPIC}
        assert got == e["modules"], (lms_id, got)
        for m in e["modules"]:
            assert _version(sub / "lib" / "deepkit" / f"{m}.py") == e["version"], (lms_id, m)
        meta = record["students"][sid]
        late = assess(policy, A01, lms_id, parse_time(meta["submitted_at"]), meta["late_flag"])
        assert late.days == e["late"], (lms_id, late)
        assert late.percent == (e["penalty"] if e["late"] else 0)
    # two students with the same name stay two students; the table says so
    same = [r for r in res.rows if "same name" in " ".join(r.notes)]
    assert len(same) == 2 and same[0].sid != same[1].sid
    table = res.table()
    assert "\x1b" not in table and all(e["name"] in table for e in exp.values())
    assert res.table_path.is_file() and len(list(csv.reader(open(res.table_path)))) == len(exp) + 1


def test_folder_class_and_notebook_only_flag(tmp_path):
    root, exp = F.folder_class(tmp_path)
    course = Course(work=tmp_path / "work")
    res = collect(course, root, A01)
    assert res.lms == "folder" and not res.problems, res.table()
    rows = {r.lms_id: r for r in res.rows}
    assert set(rows) == set(exp)
    assert rows["erin"].status == "flagged" and "no lib/deepkit modules" in rows["erin"].notes[0]
    assert "NO LIB" in rows["erin"].files
    for sid in ("alice", "bob", "carol", "dave"):
        assert _version(course.submitted / sid / A01 / "lib" / "deepkit" / "layers.py") == "v1"


def test_whole_course_zip_takes_the_exercise_not_the_lecture_nor_caches(tmp_path):
    dl = F.write_zip(tmp_path / "dl.zip", {"okaforchidi_12007_900107_course.zip": F.zip_bytes(F.whole_course("v1"))})
    course = Course(work=tmp_path / "work")
    res = collect(course, dl, A01)
    assert not res.problems, res.table()
    sub = course.submitted / "12007" / A01
    assert (sub / f"{A01}.ipynb").read_bytes() == F.NOTEBOOK  # not the lecture, not the checkpoint copy
    assert {p.name for p in (sub / "lib" / "deepkit").iterdir()} == {f"{m}.py" for m in course.student_modules}
    assert _version(sub / "lib" / "deepkit" / "layers.py") == "v1"


def test_detection_is_clear_and_refuses_to_guess(tmp_path):
    dl, _, _, _ = F.canvas_class(tmp_path / "c")
    with Download(dl) as d:
        adapter, msg = detect(d.entries())
    assert adapter.name == "canvas" and "13 of 13" in msg
    mixed = F.write_zip(
        tmp_path / "mixed.zip",
        {
            "smithjohn_12001_900101_a.zip": b"x",
            "Exercise01_jsmith_attempt_2026-10-20-21-14-02.txt": b"Name: J (jsmith)",
        },
    )
    with Download(mixed) as d, pytest.raises(SystemExit, match="--lms"):
        detect(d.entries())


def test_cli_collect_exit_status_and_intake_table(tmp_path, policy_file, capsys):
    dl, roster, times, _ = F.canvas_class(tmp_path / "in")
    work = tmp_path / "work"
    args = ["--work", str(work), "collect", str(dl), "--assignment", "01", "--policy", str(policy_file)]
    assert main(args + ["--roster", str(roster), "--times", str(times)]) == 0
    out = capsys.readouterr().out
    assert "detected Canvas" in out and "García, María" in out and "attempt kept" in out
    assert "attachment 900150 (newest of 2 files)" in out
    # a stray file nobody can be attributed to: reported, and the exit status says so
    with zipfile.ZipFile(dl, "a") as z:
        z.writestr("notes-from-the-TA.txt", "hello")
    assert main(args + ["--roster", str(roster), "--times", str(times)]) == 1
    out = capsys.readouterr().out
    assert "SKIPPED" in out and "notes-from-the-TA.txt" in out and "--proceed" in out
    assert main(args + ["--roster", str(roster), "--times", str(times), "--proceed"]) == 0
    # Canvas with a due date but no times: the LATE flag is known, on-time students are known too
    assert main(args + ["--proceed"]) == 0


def test_ambiguities_make_collect_fail_unless_told(tmp_path, policy_file):
    course = Course(work=tmp_path / "work")
    # Moodle keeps several files of one submission in no order: two different notebooks cannot be ranked
    f = "_assignsubmission_file"
    two = F.write_zip(
        tmp_path / "m.zip",
        {
            f"Ann Lee_601{f}/a/{A01}.ipynb": F.NOTEBOOK,
            f"Ann Lee_601{f}/b/{A01}.ipynb": F.NOTEBOOK.replace(b"YOUR ANSWER HERE", b"my answer"),
        },
    )
    res = collect(course, two, A01)
    assert [r.status for r in res.rows] == ["ambiguous"] and "several notebooks" in " ".join(res.rows[0].notes)
    # a folder download with two entries for one id: no LMS order between them
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "alice_v1.zip").write_bytes(F.zip_bytes(F.submission("v1")))
    (drop / "alice_v2.zip").write_bytes(F.zip_bytes(F.submission("v2")))
    res = collect(Course(work=tmp_path / "w2"), drop, A01)
    assert [r.status for r in res.rows] == ["ambiguous"] and "no LMS order" in res.rows[0].notes[0]
    # a student missing from the roster
    dl, roster, _ = F.moodle_class(tmp_path / "mo")
    lines = roster.read_text().splitlines()
    roster.write_text("\n".join(ln for ln in lines if not ln.startswith("Participant 505")) + "\n")
    res = collect(Course(work=tmp_path / "w3"), dl, A01, roster=roster)
    assert {r.lms_id for r in res.problems} == {"505"} and "not in the roster" in res.problems[0].notes[0]
    # a due date and no submission time at all (Moodle without its worksheet)
    res = collect(Course(work=tmp_path / "w4"), dl, A01, policy=load_policy(policy_file))
    assert res.problems and all("no submission time" in " ".join(r.notes) for r in res.problems)


def test_reupload_is_kept_whole_never_mixed(tmp_path):
    """Canvas: the newer zip lacks nets.py; the older one had it. Nothing of the older upload is taken."""
    old = F.submission("v1")
    new = {k: v for k, v in F.submission("v2").items() if "nets" not in k}
    dl = F.write_zip(
        tmp_path / "dl.zip",
        {"leeann_12003_900103_sub.zip": F.zip_bytes(old), "leeann_12003_900150_sub-1.zip": F.zip_bytes(new)},
    )
    course = Course(work=tmp_path / "work")
    res = collect(course, dl, A01)
    lib = course.submitted / "12003" / A01 / "lib" / "deepkit"
    assert sorted(p.stem for p in lib.glob("*.py")) == ["layers", "losses"]
    assert _version(lib / "layers.py") == "v2"
    assert res.rows[0].status == "flagged" and "lib/deepkit/nets.py missing" in res.rows[0].notes[0]


# ------------------------------------------------------------------------------------------ ids and text
def test_grader_ids_are_folder_safe_and_one_to_one():
    ids = ["12345", "jsmith", "JSmith", "j smith", "müller", "a--b", "x" * 100, "../etc", "o_brien", "a.b@uni.ch"]
    mapped = [grader_id(i) for i in ids]
    assert len(set(mapped)) == len(ids)
    assert grader_id("12345") == "12345" and grader_id("jsmith") == "jsmith" and grader_id("o_brien") == "o_brien"
    for m in mapped:
        assert re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", m) and ".." not in m, m
    assert grader_id("JSmith") != grader_id("jsmith")


def test_clean_and_cell_neutralise_terminal_and_spreadsheet_tricks():
    evil = "Bob\x1b[2J\x1b]0;pwned\x07 \u202eevil\u202c\r\nName\x00"
    assert clean(evil) == "Bob evil Name"
    assert cell('=HYPERLINK("http://x")').startswith("'=") and cell("-2+3").startswith("'")
    assert clean("王小明 Zoë") == "王小明 Zoë"


# -------------------------------------------------------------------------------------------- the policy
def test_late_policy(tmp_path, policy_file):
    pol = load_policy(policy_file)
    due = pol.due[A01]
    t = lambda s: parse_time(s, pol.timezone)  # noqa: E731
    assert due == t("2026-10-20T23:59:00")
    assert assess(pol, A01, "1", t("2026-10-21T00:08:00")).days == 0  # grace: 10 minutes
    late = assess(pol, A01, "1", t("2026-10-21T00:10:00"))
    assert (late.days, late.percent, late.apply(13)) == (1, 10, 11.7)
    assert assess(pol, A01, "1", t("2026-10-24T12:00:00")).percent == 40
    assert assess(pol, A01, "1", t("2026-10-26T12:00:00")).percent == 50  # the cap
    assert assess(pol, A01, "1", t("2026-10-28T12:00:00")).apply(13) == 0  # zero after 7 days
    assert assess(pol, A01, "12010", t("2026-10-23T12:00:00")).days == 0  # 3-day extension
    assert assess(pol, A01, "12010", t("2026-10-24T12:00:00")).days == 1
    assert assess(pol, A01, "1", None, True).percent == 10  # a late flag without a time: flagged_days
    assert not assess(pol, A01, "1", None, None).known
    assert assess(pol, "02_activations", "1", t("2030-01-01T00:00:00")).percent == 0  # no due date
    example = load_policy(Path(__file__).parent.parent / "autograder" / "policy.example.toml", Course().assignments())
    assert example.rules["02_activations"].per_day == 20 and ("12345", A01) in example.extensions
    bad = tmp_path / "bad.toml"
    bad.write_text("[assignments.99_nope]\ndue = 2026-01-01T00:00:00\n")
    with pytest.raises(SystemExit, match="not an assignment"):
        load_policy(bad, Course().assignments())
    bad.write_text("[late]\nper_dya = 3\n")
    with pytest.raises(SystemExit, match="unknown key"):
        load_policy(bad)


def test_lms_times_parse():
    assert parse_time("Tuesday, 20 October 2026, 9:14 PM").hour == 21
    assert parse_time("-") is None and parse_time("") is None
    assert parse_time("2026-10-20T21:14:00Z").utcoffset().total_seconds() == 0


# ------------------------------------------------------------------------------------------------ stage
def test_stage_stubs_missing_topic_modules_and_does_not_list_given_ones(tmp_path):
    course = Course(work=tmp_path / "work")
    src = course.submitted / "s" / A01
    lib = src / "lib" / "deepkit"
    lib.mkdir(parents=True)
    (src / f"{A01}.ipynb").write_bytes(F.NOTEBOOK)
    for m in ("losses", "nets"):
        (lib / f"{m}.py").write_bytes(F.module(m, "v1"))
    for given in ("validate.py", "gradcheck.py", "__init__.py"):
        (lib / given).write_text("planted = True\n")
    (lib / "viz").mkdir()
    (lib / "viz" / "base.py").write_text("planted = True\n")
    (src / "notes.txt").write_text("x")
    info = stage(course, course.topic(A01), A01, src, tmp_path / "staged")
    staged = tmp_path / "staged" / "lib" / "deepkit"
    assert info.missing == {"layers": "missing from the submission"}
    assert (staged / "layers.py").read_bytes() == (STUB_LIB / "deepkit" / "layers.py").read_bytes()
    assert info.ignored == ["notes.txt"]
    assert (
        "planted" not in (staged / "validate.py").read_text() and "planted" not in (staged / "viz/base.py").read_text()
    )


# ------------------------------------------------------------------------- outcomes, export, round trip
def fake_outcome(course: Course, sid: str, assignment: str, lib: float, answer: float | None) -> float:
    """Write an autograder.json as grading would: every library part at ``lib`` x its points, the written
    answer at ``answer`` (None: pending). Returns the raw total (pending excluded)."""
    parts = course.topic(assignment).parts
    cells = {
        p.name: {"name": p.name, "points": lib * p.points, "max_points": float(p.points),
                 "reason": "all checks passed" if lib == 1 else "values differ", "kind": "library"}
        for p in parts
    }  # fmt: skip
    cells["initial_loss_question"] = {
        "name": "initial_loss_question", "points": answer, "max_points": 1.0,
        "reason": "waits for manual grading" if answer is None else "graded", "kind": "manual",
    }  # fmt: skip
    dest = course.autograded / sid / assignment
    dest.mkdir(parents=True, exist_ok=True)
    total = sum(c["points"] or 0 for c in cells.values())
    maximum = sum(c["max_points"] for c in cells.values())
    (dest / "autograder.json").write_text(
        json.dumps({"student": sid, "assignment": assignment, "cells": cells, "total": total, "max": maximum,
                    "reason": "", "intake": {}, "graded_at": "2026-10-27T10:00:00+00:00"})
    )  # fmt: skip
    return total


def _graded_class(tmp_path, lms, policy_file):
    dl, extra, exp = BUILDERS[lms](tmp_path / "in")
    course = Course(work=tmp_path / "work")
    policy = load_policy(policy_file, course.assignments())
    collect(course, dl, A01, policy=policy, **extra)
    want = {}
    for i, (lms_id, e) in enumerate(sorted(exp.items())):
        sid = grader_id(lms_id)
        pending = i % 3 == 0
        raw = fake_outcome(course, sid, A01, 1.0 if e["version"] else 0.0, None if pending else 1.0)
        e["raw"] = raw
        want[lms_id] = None if pending else round(raw * (1 - (e["penalty"] if e["late"] else 0) / 100), 2)
    return course, policy, exp, want


@pytest.mark.parametrize("lms", list(BUILDERS))
def test_export_is_reimported_with_the_same_grades(lms, tmp_path, policy_file):
    from autograder.export import export, num
    from autograder.intake import submissions
    from autograder.lms import blackboard

    course, policy, exp, want = _graded_class(tmp_path, lms, policy_file)
    pairs = submissions(course, A01)
    out = tmp_path / "out"
    paths = {p.name: p for p in export(course, pairs, lms, out, policy)}
    if lms == "canvas":
        got = canvas.read_gradebook(paths["canvas-gradebook.csv"])
        assert set(got) == set(want)  # one row per student, keyed by Canvas user id
        header = next(csv.reader(open(paths["canvas-gradebook.csv"], encoding="utf-8-sig")))
        assert header[:5] == canvas.STUDENT_COLUMNS and header[5] == "01 softmax (4501)"  # the roster's column
        grades = {uid: g.get("01 softmax (4501)") for uid, g in got.items()}
    elif lms == "moodle":
        grades = moodle.read_worksheet(paths[f"moodle-{A01}-worksheet.csv"])
        rows = list(csv.DictReader(open(paths[f"moodle-{A01}-worksheet.csv"], encoding="utf-8-sig")))
        assert "Participant 509" in [r["Identifier"] for r in rows]  # the worksheet's other rows are kept, blank
        course_csv = list(csv.DictReader(open(paths["moodle-gradebook.csv"], encoding="utf-8-sig")))
        assert {r["Email address"] for r in course_csv} >= {"maria.garcia@uni.example"}
    else:
        got = blackboard.read_gradebook(paths["blackboard-grade-center.csv"])
        col = "Exercise 01 [Total Pts: 14 Score] |7731"
        assert all(col in g or want[u] is None for u, g in got.items()), got
        grades = {u: g.get(col) for u, g in got.items()}
        assert open(paths["blackboard-grade-center.csv"]).readline().startswith('"Last Name","First Name","Username"')
    for lms_id, final in want.items():
        assert grades.get(lms_id) == (num(final) if final is not None else None), (lms_id, grades.get(lms_id))
    reasons = {r["lms_id"]: r for r in csv.DictReader(open(paths["reasons.csv"]))}
    late = next(i for i, e in exp.items() if e["late"] == 2)
    assert reasons[late]["penalty_percent"] == "20" and reasons[late]["late_days"] == "2"
    assert float(reasons[late]["raw"]) > float(reasons[late]["score"] or 0) or reasons[late]["score"] == ""
    pending = [i for i, f in want.items() if f is None]
    assert pending and all(reasons[i]["status"] == "pending manual grading" for i in pending)
    # the generic CSV: one row per student, one column per assignment
    rows = list(csv.DictReader(open(export(course, pairs, "csv", out, policy)[1])))
    assert len(rows) == len(want) and {r["lms_id"] for r in rows} == set(want)
    assert all((r[A01] or None) == (num(want[r["lms_id"]]) if want[r["lms_id"]] is not None else None) for r in rows)


def test_feedback_bundles_match_each_lms_import(tmp_path, policy_file):
    from autograder.feedback import write_bundles, write_feedback
    from autograder.intake import submissions
    from autograder.lms import blackboard

    for lms in BUILDERS:
        course, policy, exp, want = _graded_class(tmp_path / lms, lms, policy_file)
        pairs = submissions(course, A01)
        pages = write_feedback(course, pairs, policy)
        assert len(pages) == len(exp)
        made = dict(write_bundles(course, pairs, policy, tmp_path / lms / "bundles"))
        if lms == "moodle":
            z = zipfile.ZipFile(next(p for p in made if p.suffix == ".zip"))
            assert {moodle.feedback_participant(n) for n in z.namelist()} == set(exp)
        elif lms == "canvas":
            z = zipfile.ZipFile(next(p for p in made if p.suffix == ".zip"))
            record = load_record(course, A01)["students"]
            for n in z.namelist():
                uid, att = canvas.reupload_ids(n)
                assert int(att) in record[uid]["meta"]["attachments"].values(), n
            assert {canvas.reupload_ids(n)[0] for n in z.namelist()} == set(exp)
        else:
            folder = next(iter(made))
            assert {p.name for p in folder.iterdir()} == {
                blackboard.feedback_name(Registry(course).student(i), A01) for i in exp
            }
        for path in made:
            assert Path(str(path) + ".README.txt").read_text().startswith(lms.capitalize()[:4])
    # pending answers are pending (not a red 0); the penalty and the raw score are shown
    late = next(i for i, e in exp.items() if e["late"] == 2)
    page = (course.feedback / grader_id(late) / A01 / "feedback.html").read_text()
    assert "2 day(s) late" in page and "-20%" in page and f"raw {exp[late]['raw']:g}" in page
    pend = next(i for i, f in want.items() if f is None)
    page = (course.feedback / grader_id(pend) / A01 / "feedback.html").read_text()
    assert "class='pending'>pending<" in page and "class='bad'>0 / 1" not in page


def test_feedback_escapes_untrusted_names(tmp_path):
    f = "_assignsubmission_file"
    dl = F.write_zip(tmp_path / "m.zip", {f"<img src=x onerror=alert(1)> \x1b[31mX_701{f}/{A01}.ipynb": F.NOTEBOOK})
    course = Course(work=tmp_path / "work")
    res = collect(course, dl, A01)
    assert "\x1b" not in res.table() and "\x1b" not in res.table_path.read_text()
    fake_outcome(course, "701", A01, 0.0, None)
    from autograder.feedback import feedback_html, write_bundles, write_feedback

    page = feedback_html(course, "701", A01)
    assert "<img" not in page and html.escape("<img src=x onerror=alert(1)>") in page
    write_feedback(course, [("701", A01)])
    ((bundle, _),) = write_bundles(course, [("701", A01)], None, tmp_path / "b")
    names = zipfile.ZipFile(bundle).namelist()
    assert moodle.feedback_participant(names[0]) == "701" and "\x1b" not in names[0]
    from autograder.export import export
    from autograder.policy import Policy

    for fmt in ("moodle", "csv"):
        for path in export(course, [("701", A01)], fmt, tmp_path / "x", Policy()):
            text = path.read_text()
            assert "\x1b" not in text and "<img src=x" in text, (path, text)  # a name is text in a CSV


# ----------------------------------------------------------------------------------- the re-grade flag
def test_answer_review_state_machine():
    from autograder.answers import digest, review

    a, b = digest("first answer"), digest("second answer")
    assert review(None, a, None, 1, True, None).regrade is None  # not graded by hand yet: nothing to protect
    first = review(None, a, 1.0, 1, False, "ok")  # graded before digests were kept: applies to this answer
    assert first.graded_answer == a and first.regrade is None
    prev = {"answer": a, "graded_answer": a, "regrade": None}
    assert review(prev, a, 1.0, 1, False, "ok").regrade is None  # same answer: the grade stands
    flag = review(prev, b, 1.0, 1, False, "ok")
    assert flag.regrade == {"old_score": 1.0, "max": 1, "comment": "ok"} and flag.graded_answer == a
    still = {"answer": b, "graded_answer": a, "regrade": flag.regrade}
    assert review(still, b, 1.0, 1, True, "ok").regrade  # nobody re-graded: still flagged
    assert review(still, a, 1.0, 1, True, "ok").regrade is None  # the student went back to the graded answer
    assert review(still, b, 0.5, 1, False, "ok").regrade is None  # re-graded in the formgrader: cleared
