"""Intake and grade import against what the LMSs really write, read off their own source or documentation (the
adapter modules in autograder/lms/ cite each), with the awkward-but-real cases of real downloads: Canvas's
upper-case ``LATE`` and anonymous ``anon_<id>`` names, zip member names stored as UTF-8 without the UTF-8 flag,
Moodle's ``..._assignsubmission_file_/`` folders (trailing ``_``, sub-folders), its flat layout, group and
blind-marking prefixes and online-text-only submissions, Blackboard's receipts with a BOM and CRLF, files it
renamed, a localised ``attempt`` word, text-only attempts; macOS ``__MACOSX``/``.DS_Store`` litter, Windows
paths in a student's zip, empty uploads; the gradebook files as each LMS exports them (Canvas's LastName/FirstName
and semicolon variants, its muted/"Manual Posting" row; Blackboard's UTF-16 tab-delimited download) and the
imports each LMS reads back. Fixtures are built here; nothing is graded (fast).
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from autograder.course import Course
from autograder.export import export, num
from autograder.intake import submissions
from autograder.intake.collect import collect, load_record
from autograder.lms import blackboard, canvas, moodle
from autograder.policy import load_policy
from autograder.students import grader_id
from tests import lms_fixtures as F
from tests.test_lms import _version, fake_outcome

A01 = F.A01


def zip_unflagged(entries: dict[str, bytes]) -> bytes:
    """A zip whose member names are UTF-8 bytes WITHOUT the UTF-8 flag (general purpose bit 11), as zips written
    by tools that do not set it are; Python then decodes them as cp437 unless told otherwise."""
    buf = io.BytesIO()
    swaps = {}
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i, (name, data) in enumerate(entries.items()):
            raw = name.encode("utf-8")
            stand_in = f"{i:06d}".encode().ljust(len(raw), b"#") if not name.isascii() else raw
            swaps[stand_in] = raw
            z.writestr(stand_in.decode("ascii"), data)
    out = buf.getvalue()
    for stand_in, raw in swaps.items():
        out = out.replace(stand_in, raw)  # same length: offsets and CRCs (of the data) stay valid
    return out


def _policy(tmp_path: Path):
    p = tmp_path / "policy.toml"
    p.write_text(F.POLICY)
    return load_policy(p, Course().assignments())


def _rows(res):
    return {r.lms_id: r for r in res.rows}


# ----------------------------------------------------------------------------------------------- Canvas
def canvas_download(dest: Path) -> Path:
    """A Canvas "Download Submissions" zip as ContentZipper writes it (lib/content_zipper.rb, get_filename:
    ``[sortable name, "LATE", user id].join("_")`` with non-word characters removed, or ``anon_<anonymous id>``,
    then ``_<attachment id>_<display name>``; online text ``..._text.html``)."""
    sub = F.zip_bytes(F.submission("v1"))
    windows = {k.replace("/", "\\"): v for k, v in F.submission("v1").items()}  # made with a Windows zip tool
    e = {
        "smithjohn_LATE_12001_900101_01_softmax-submission.zip": sub,  # real Canvas: LATE in capitals
        "smithjohn_12001_900102_README": b"no extension\n",  # a file without an extension: not taken, counted
        "garcíamaría_12004_900104_submission.zip": sub,  # UTF-8 name, no UTF-8 flag
        "obrienzoë_12011_900111_submission.zip": F.zip_bytes(windows),  # "O'Brien, Zoë": apostrophe removed
        "leeann_12003_900150_01_softmax-1.ipynb": F.NOTEBOOK,  # the notebook Canvas renamed on re-upload
        "leeann_12003_900151_lib.zip": F.zip_bytes({k: v for k, v in F.submission("v1").items() if "lib/" in k}),
        "anon_aB3dE_900120_submission.zip": sub,  # anonymous grading: no name, anon_<anonymous id>
        "LATE_anon_Xy9Zq_900121_submission.zip": sub,
        "quinnsam_12010_text.html": b"<p>my answers are in the text box</p>",  # online text only
        "petrovivan_12008_900108_01_softmax.ipynb": b"",  # an empty upload
        "__MACOSX/._smithjohn_12001_900102_README": b"\0\5\26\7",  # the instructor re-zipped on a Mac
        ".DS_Store": b"\0\0\0\1Bud1",
    }
    path = dest / "cs-dl-01-softmax submissions.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zip_unflagged(e))
    return path


def test_canvas_download_as_content_zipper_writes_it(tmp_path):
    course = Course(work=tmp_path / "work")
    res = collect(course, canvas_download(tmp_path / "in"), A01, policy=_policy(tmp_path))
    rows = _rows(res)
    assert res.lms == "canvas", res.message
    assert set(rows) >= {"12001", "12003", "12004", "12008", "12010", "12011", "anon_aB3dE", "anon_Xy9Zq"}
    assert rows["12001"].late.startswith("1 day") or "flag" in rows["12001"].late, rows["12001"]
    assert load_record(course, A01)["students"]["12001"]["late_flag"] is True
    assert load_record(course, A01)["students"][grader_id("anon_Xy9Zq")]["late_flag"] is True
    assert "1 other file(s) not taken" in " ".join(rows["12001"].notes)
    assert "anonymous grading" in " ".join(rows["anon_aB3dE"].notes)
    # the UTF-8 names without the flag are read as UTF-8, not as cp437 mojibake
    assert rows["12004"].name == "garcíamaría" and rows["12011"].name == "obrienzoë"
    for uid in ("12001", "12004", "12011", "anon_aB3dE"):
        assert rows[uid].status == "ok", rows[uid]
        lib = course.submitted / grader_id(uid) / A01 / "lib" / "deepkit"
        assert {p.stem for p in lib.glob("*.py")} == set(F.TOPIC) and _version(lib / "layers.py") == "v1"
    # the renamed notebook and the separate lib zip of one submission
    assert rows["12003"].status == "ok" and (course.submitted / "12003" / A01 / f"{A01}.ipynb").is_file()
    # reported, never silently dropped: online text only, an empty notebook, the Mac litter
    assert rows["12010"].status == "flagged" and "online text" in " ".join(rows["12010"].notes)
    assert rows["12008"].status == "flagged" and "empty" in rows["12008"].notes[0], rows["12008"]
    litter = [r for r in res.rows if r.status == "ignored"]
    assert {r.lms_id for r in litter} == {"__MACOSX", ".DS_Store"} and not res.problems, res.table()


def test_canvas_gradebook_export_variants_are_read_as_rosters(tmp_path):
    """GradebookExporter (lib/gradebook_exporter.rb): ``Student`` or ``LastName, FirstName``; SIS columns and
    Integration ID optional; a muted/"Manual Posting" row and the "Points Possible" row before the students; the
    user's separator (``;`` in decimal-comma locales) and optional BOM; the Test Student last."""
    plain = tmp_path / "plain.csv"
    plain.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Integration ID,Section,01 softmax (4501),Current Score\n"
        ",,,,,,Manual Posting,\n"
        "    Points Possible,,,,,,14.00,(read only)\n"
        '"Smith, John",12001,S001,jsmith,,DL 2026,,\n'
        '"Student, Test",99999,,,,DL 2026,,\n',
        encoding="utf-8-sig",
    )
    split = tmp_path / "split.csv"
    split.write_text(
        "LastName;FirstName;ID;SIS Login ID;Section;01 softmax (4501)\n"
        "    Points Possible;;;;;14,00\n"
        "García;María;12004;mgarcia;DL 2026;\n",
        encoding="utf-8",
    )
    got = canvas.Canvas().read_roster(plain, None)
    assert set(got) == {"12001", "99999"} and got["12001"].name == "Smith, John" and got["12001"].sis_id == "S001"
    got = canvas.Canvas().read_roster(split, None)
    assert set(got) == {"12004"} and got["12004"].name == "García, María" and got["12004"].login == "mgarcia"
    assert canvas.roster_points(plain) == {"01 softmax (4501)": "14.00"}
    assert set(canvas.read_gradebook(plain)) == {"12001", "99999"}  # neither Manual Posting nor Points Possible
    assert canvas.roster_points(split) == {"01 softmax (4501)": "14,00"}


def test_canvas_export_imports_as_gradebook_importer_reads_it(tmp_path):
    """GradebookImporter (lib/gradebook_importer.rb): header row[0] contains Student, row[1] ID, SIS User ID and
    SIS Login ID at row[2..3], then Section; assignments by the ``(id)`` in their header; the Points Possible row
    sets an assignment's points (so it must carry Canvas's own value, not ours)."""
    dl, roster, times, _ = F.canvas_class(tmp_path / "in")
    text = roster.read_text(encoding="utf-8").replace(",14,10,(read only)", ",20,10,(read only)")
    roster.write_text(text, encoding="utf-8")
    course = Course(work=tmp_path / "work")
    policy = _policy(tmp_path)
    collect(course, dl, A01, roster=roster, times=times, policy=policy)
    raw = fake_outcome(course, "12001", A01, 1.0, 1.0)
    paths = {p.name: p for p in export(course, submissions(course, A01), "canvas", tmp_path / "out", policy)}
    data = paths["canvas-gradebook.csv"].read_bytes()
    assert data.startswith(b"\xef\xbb\xbfStudent,ID,SIS User ID,SIS Login ID,Section,")  # BOM: Excel shows names
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][5] == "01 softmax (4501)" and rows[1][0].strip() == "Points Possible" and rows[1][5] == "20"
    assert canvas.read_gradebook(paths["canvas-gradebook.csv"])["12001"]["01 softmax (4501)"] == num(raw)


def test_zip_member_names_utf8_without_flag_and_genuine_cp437():
    """An unflagged name that is valid UTF-8 is read as UTF-8; one written in cp437 by an old Windows tool stays
    cp437; Windows ``\\`` separators become ``/``."""
    from autograder.intake.archive import member_name

    utf8 = zipfile.ZipFile(io.BytesIO(zip_unflagged({"übung/01_softmax.ipynb": b"{}"}))).infolist()[0]
    assert not utf8.flag_bits & 0x800 and member_name(utf8) == "übung/01_softmax.ipynb"
    raw = zip_unflagged({"Xbung\\lib\\deepkit\\layers.py": b""}).replace(b"Xbung", "übung".encode("cp437"))
    cp437 = zipfile.ZipFile(io.BytesIO(raw)).infolist()[0]
    assert member_name(cp437) == "übung/lib/deepkit/layers.py"


# ----------------------------------------------------------------------------------------------- Moodle
def test_moodle_download_as_download_submissions_writes_it(tmp_path):
    """mod/assign/locallib.php download_submissions: prefix ``str_replace('_', ' ', <group>-<full name>)`` or
    "Participant" (blind marking), ``_<participant id>``; with folders ``<prefix>_assignsubmission_file_`` +
    the file's path (starting with "/"); without, ``<prefix>_assignsubmission_file_<file name>``."""
    f = "_assignsubmission_file_"
    e = {
        f"John Smith_501{f}/{A01}-submission.zip": F.zip_bytes(F.submission("v1")),
        **{f"Ann Lee_502{f}/work/{k}": v for k, v in F.submission("v1").items()},  # sub-folders kept
        f"Team Rocket-Jürgen Müller_503{f}/sub.zip": F.zip_bytes(F.submission("v1")),  # group mode prefix
        f"Participant_504{f}/sub.zip": F.zip_bytes(F.submission("v1")),  # blind marking
        # flat layout ("Download submissions in folders" off): loose files, paths lost
        f"Zoë O'Brien_505{f}{A01}.ipynb": F.NOTEBOOK,
        **{f"Zoë O'Brien_505{f}{m}.py": F.module(m, "v1") for m in F.TOPIC},
        "Sam Quinn_506_assignsubmission_onlinetext_/onlinetext.html": b"<p>see text</p>",  # online text only
        f"Eve Empty_507{f}/": b"",  # a folder with nothing in it
        "__MACOSX/._Ann Lee_502_assignsubmission_file_": b"\0",
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in e.items():
            z.writestr(name, data)
    dl = tmp_path / "CS-DL-01 softmax-4711.zip"
    dl.write_bytes(buf.getvalue())
    course = Course(work=tmp_path / "work")
    res = collect(course, dl, A01)
    rows = _rows(res)
    assert res.lms == "moodle" and not res.problems, res.table()
    assert rows["503"].name == "Team Rocket-Jürgen Müller" and rows["504"].name == "Participant"
    for pid in ("501", "502", "503", "504", "505"):
        assert rows[pid].status == "ok", rows[pid]
        assert _version(course.submitted / pid / A01 / "lib" / "deepkit" / "nets.py") == "v1"
    assert rows["506"].status == "flagged" and "onlinetext" in " ".join(rows["506"].notes)
    assert rows["507"].status == "flagged" and "NO NOTEBOOK" in rows["507"].files
    assert [r.lms_id for r in res.rows if r.status == "ignored"] == ["__MACOSX"]


def test_moodle_worksheet_round_trip_keeps_every_column_and_row(tmp_path):
    """assignfeedback_offline: the worksheet is imported by Identifier ("Participant N"), Grade and Last modified
    (grade); every other column of the downloaded worksheet comes back as it was, in its order."""
    dl, roster, _ = F.moodle_class(tmp_path / "in")
    roster.write_bytes(b"\xef\xbb\xbf" + roster.read_bytes())  # as saved by Excel ("CSV UTF-8")
    course = Course(work=tmp_path / "work")
    collect(course, dl, A01, roster=roster)
    raw = fake_outcome(course, "503", A01, 1.0, 1.0)
    paths = {p.name: p for p in export(course, submissions(course, A01), "moodle", tmp_path / "out", _policy(tmp_path))}
    sheet = paths[f"moodle-{A01}-worksheet.csv"]
    given = list(csv.DictReader(io.StringIO(roster.read_text(encoding="utf-8-sig"))))
    back = list(csv.DictReader(io.StringIO(sheet.read_text(encoding="utf-8-sig"))))
    assert list(back[0].keys()) == list(given[0].keys())  # the same columns, the same order
    assert [r["Identifier"] for r in back] == [r["Identifier"] for r in given]
    for g, b in zip(given, back):
        for k in g:
            if k not in ("Grade", "Last modified (grade)", "Feedback comments"):
                assert b[k] == g[k], (k, g[k], b[k])
    assert moodle.read_worksheet(sheet) == {"503": num(raw * 0.8)}  # 2 days late: -20% (the policy); others blank


# ------------------------------------------------------------------------------------------- Blackboard
def _receipt(name, user, when, files: dict[str, str], text="") -> bytes:
    """An attempt's receipt as Blackboard writes it (Windows line ends, a BOM on some servers)."""
    lines = [f"Name: {name} ({user})", "Assignment: Exercise 01", f"Date Submitted: {when}",
             "Current Grade: Needs Grading", "", "Submission Field:",
             text or "There is no student submission text data for this assignment.", "", "Comments:",
             "There are no student comments for this assignment.", "", "Files:"]  # fmt: skip
    for original, stored in files.items():
        lines += [f"\tOriginal filename: {original}", f"\tFilename: {stored}"]
    return b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n"


def test_blackboard_download_with_renamed_files_localised_words_and_text_only(tmp_path):
    asg = "Exercise2001"
    e: dict[str, bytes] = {}

    def attempt(user, name, ts, word, files: dict[str, tuple[str, bytes]], text=""):
        prefix = f"{asg}_{user}_{word}_{ts}"
        stored = {orig: f"{prefix}_{mangled}" for orig, (mangled, _) in files.items()}
        when = datetime.strptime(ts, "%Y-%m-%d-%H-%M-%S").strftime("%A, %B %d, %Y %I:%M:%S %p CEST")
        e[f"{prefix}.txt"] = _receipt(name, user, when, stored, text)
        for orig, (_, data) in files.items():
            e[stored[orig]] = data

    sub = F.submission("v1")
    # Blackboard stored the files under other names; the receipt maps them back
    attempt("alee", "Ann Lee", "2026-10-20-23-30-00", "attempt",
            {f"{A01}.ipynb": ("01softmax.ipynb", F.NOTEBOOK),
             **{f"{m}.py": (f"{m}(1).py", F.module(m, "v1")) for m in F.TOPIC}})  # fmt: skip
    attempt("alee", "Ann Lee", "2026-10-18-10-00-00", "attempt", {"old.zip": ("old.zip", F.zip_bytes(sub))})
    attempt("j.smith@uni.example", "John Smith", "2026-10-20-21-00-00", "poging",  # Dutch Blackboard
            {"sub.zip": ("sub.zip", F.zip_bytes(sub))})  # fmt: skip
    attempt("tonly", "Text Only", "2026-10-20-20-00-00", "attempt", {}, text="my answer is 42")
    dl = tmp_path / f"gradebook_CS101_{asg}_2026-10-26-09-00-00.zip"
    dl.write_bytes(F.zip_bytes(e))
    course = Course(work=tmp_path / "work")
    res = collect(course, dl, A01)
    rows = _rows(res)
    assert res.lms == "blackboard" and not res.problems, res.table()
    assert set(rows) == {"alee", "j.smith@uni.example", "tonly"}
    assert rows["alee"].status == "ok" and "newest of 2 attempts" in rows["alee"].attempt, rows["alee"]
    assert not any("another name" in n for n in rows["alee"].notes)
    assert _version(course.submitted / "alee" / A01 / "lib" / "deepkit" / "nets.py") == "v1"
    assert rows["j.smith@uni.example"].status == "ok" and rows["j.smith@uni.example"].name == "John Smith"
    assert rows["tonly"].status == "flagged" and "text" in " ".join(rows["tonly"].notes)


def test_blackboard_grade_center_download_and_upload(tmp_path):
    """Work Offline > Download writes tab-delimited UTF-16 (.xls); Upload matches students by Username and columns
    by the ``|<id>`` at the end of the header; a header without one would create a new text column."""
    gc = tmp_path / "gc_CS101_fullgc_2026-10-26.xls"
    gc.write_text(
        '"Last Name"\t"First Name"\t"Username"\t"Student ID"\t"Last Access"\t"Availability"\t'
        '"Exercise 01 [Total Pts: 14 Score] |7731"\n'
        '"Lee"\t"Ann"\t"alee"\t"S003"\t"2026-10-20 23:30:00"\t"Available"\t""\n',
        encoding="utf-16",
    )
    got = blackboard.Blackboard().read_roster(gc, None)
    assert got["alee"].name == "Ann Lee" and got["alee"].sis_id == "S003"
    assert blackboard.roster_columns(gc) == ["Exercise 01 [Total Pts: 14 Score] |7731"]
    dl, _, _ = F.blackboard_class(tmp_path / "in")
    course = Course(work=tmp_path / "work")
    collect(course, dl, A01, roster=gc, lms_name="blackboard", policy=_policy(tmp_path))
    raw = fake_outcome(course, "alee", A01, 1.0, 1.0)
    out = export(course, [("alee", A01)], "blackboard", tmp_path / "out", _policy(tmp_path))
    path = next(p for p in out if p.name == "blackboard-grade-center.csv")
    assert path.read_bytes().startswith(b'"Last Name","First Name","Username","Student ID","Exercise 01 [Total Pts')
    assert blackboard.read_gradebook(path)["alee"] == {"Exercise 01 [Total Pts: 14 Score] |7731": num(raw)}


@pytest.mark.parametrize(
    "name, user, ts",
    [
        ("Exercise2001_jsmith_attempt_2026-10-20-21-14-02.txt", "jsmith", "2026-10-20-21-14-02"),
        (
            "Inleveren opdracht (1)_jan.jansen@hr.nl_poging_2026-01-05-10-00-00_verslag.docx",
            None,
            "2026-01-05-10-00-00",
        ),
        ("Tarea 1_mgarcia_intento_2026-03-01-08-00-00_01_softmax.ipynb", None, "2026-03-01-08-00-00"),
    ],
)
def test_blackboard_attempt_names_in_any_language(name, user, ts):
    d = blackboard.parse(name)
    assert d is not None and d["ts"] == ts
    if user:
        assert d["prefix"].endswith("_" + user)
