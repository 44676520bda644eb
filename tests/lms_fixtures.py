"""Realistic LMS downloads for topic 01, built at test time from each LMS's documented naming conventions
(see the adapter modules in autograder/lms/ for the conventions and where they are documented).

Every class holds the same kinds of students: two different students with the same name, a re-upload, a late
submission, non-ASCII names, a nested zip, a zip of the whole course folder, a notebook-only upload, and a
complete correct submission. Each builder returns the download and ``EXPECT``: LMS id -> what intake must find
(name, the version of the files kept, notebook present, modules kept, late days under ``POLICY``, status).
Module files carry a ``# submission version: <v>`` line so a test can tell which upload's files were kept.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from tests.refs import REF_LIB, ROOT, STUB_LIB

A01 = "01_softmax"
TOPIC = ("layers", "losses", "nets")
NOTEBOOK = (ROOT / "exercises" / A01 / f"{A01}.ipynb").read_bytes()
LECTURE = (ROOT / "lectures" / f"{A01}.ipynb").read_bytes()  # same file name, no nbgrader cells
POLICY = """
timezone = "Europe/Zurich"

[late]
per_day = 10
cap = 50
zero_after_days = 7
grace_minutes = 10
flagged_days = 1

[assignments.01_softmax]
due = 2026-10-20T23:59:00

[extensions]
"12010" = { "01_softmax" = 3 }
"o_brien" = { "01_softmax" = 2026-10-25T23:59:00 }
"""


def module(m: str, version: str, correct: bool = True) -> bytes:
    src = (REF_LIB if correct else STUB_LIB) / "deepkit" / f"{m}.py"
    return src.read_bytes() + f"\n# submission version: {version}\n".encode()


def submission(version: str, modules=TOPIC, notebook: bool = True, correct: bool = True, root: str = "") -> dict:
    """What ``python -m autograder submit 01`` packs (the notebook and the topic's modules)."""
    files = {f"{root}{A01}.ipynb": NOTEBOOK} if notebook else {}
    for m in modules:
        files[f"{root}lib/deepkit/{m}.py"] = module(m, version, correct)
    return files


def whole_course(version: str) -> dict:
    """A zip of the student's whole course folder: lectures (a notebook of the same name), exercises, every
    module of lib/deepkit (stubs and given ones), caches and git metadata."""
    root = "deepkit-course/"
    files = {
        f"{root}README.md": b"# deep learning course\n",
        f"{root}lectures/{A01}.ipynb": LECTURE,
        f"{root}exercises/{A01}/{A01}.ipynb": NOTEBOOK,
        f"{root}exercises/{A01}/.ipynb_checkpoints/{A01}-checkpoint.ipynb": NOTEBOOK,
        f"{root}.git/HEAD": b"ref: refs/heads/main\n",
        f"{root}.git/config": b"[core]\n",
        f"{root}lib/deepkit/__pycache__/layers.cpython-311.pyc": b"\0" * 64,
    }
    for p in sorted((STUB_LIB / "deepkit").glob("*.py")):
        files[f"{root}lib/deepkit/{p.name}"] = p.read_bytes()
    for m in TOPIC:
        files[f"{root}lib/deepkit/{m}.py"] = module(m, version)
    return files


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def nested(files: dict[str, bytes]) -> bytes:
    """A zip holding a zip holding the submission (a student who zipped their zip)."""
    return zip_bytes({"my-submission/inner.zip": zip_bytes(files)})


def write_zip(path: Path, entries: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zip_bytes(entries))
    return path


def expect(name, version, notebook=True, modules=TOPIC, late=0.0, status="ok", penalty=None):
    return {
        "name": name,
        "version": version,
        "notebook": notebook,
        "modules": set(modules),
        "late": late,
        "penalty": penalty if penalty is not None else min(50.0, 10.0 * late) if late <= 7 else 100.0,
        "status": status,
    }


# ----------------------------------------------------------------------------------------------- Canvas
def canvas_class(dest: Path) -> tuple[Path, Path, Path, dict]:
    """Canvas "Download Submissions" zip, its gradebook export (roster) and a submission-times CSV."""
    sub = f"{A01}-submission.zip"
    e = {
        "smithjohn_12001_900101_" + sub: zip_bytes(submission("v1")),
        # the same name, another student (another user id): stubs only
        "smithjohn_12002_900102_" + sub: zip_bytes(submission("v1", correct=False)),
        # a re-upload: Canvas renamed the second file "-1" and gave it a larger attachment id
        "leeann_12003_900103_" + sub: zip_bytes(submission("v1", correct=False)),
        "leeann_12003_900150_" + sub.replace(".zip", "-1.zip"): zip_bytes(submission("v2")),
        # late (Canvas's flag) with a time from the times file; a non-ASCII name
        "garcíamaría_LATE_12004_900104_" + sub: zip_bytes(submission("v1")),
        # CJK name (Canvas keeps word characters of every script), late without a time: flagged_days
        "王小明_LATE_12005_900105_" + sub: zip_bytes(submission("v1")),
        "nguyenan_12006_900106_outer.zip": nested(submission("v1")),
        "okaforchidi_12007_900107_deepkit-course.zip": zip_bytes(whole_course("v1")),
        "petrovivan_12008_900108_" + f"{A01}.ipynb": NOTEBOOK,
        # separate attachments (notebook and modules), late but with an extension of 3 days
        "quinnsam_LATE_12010_900110_" + f"{A01}.ipynb": NOTEBOOK,
        "quinnsam_LATE_12010_900111_layers.py": module("layers", "v1"),
        "quinnsam_LATE_12010_900112_losses.py": module("losses", "v1"),
        "quinnsam_LATE_12010_900113_nets.py": module("nets", "v1"),
    }
    download = write_zip(dest / "cs-dl-01-softmax submissions.zip", e)
    roster = dest / "canvas-gradebook.csv"
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,01 softmax (4501),02 activations (4502),Current Score\n"
        "    Points Possible,,,,,14,10,(read only)\n"
        '"Smith, John",12001,S001,jsmith,DL 2026,,,\n'
        '"Smith, John",12002,S002,jsmith2,DL 2026,,,\n'
        '"Lee, Ann",12003,S003,alee,DL 2026,,,\n'
        '"García, María",12004,S004,mgarcia,DL 2026,,,\n'
        '"王, 小明",12005,S005,xwang,DL 2026,,,\n'
        '"Nguyen, An",12006,S006,anguyen,DL 2026,,,\n'
        '"Okafor, Chidi",12007,S007,cokafor,DL 2026,,,\n'
        '"Petrov, Ivan",12008,S008,ipetrov,DL 2026,,,\n'
        '"Quinn, Sam",12010,S010,squinn,DL 2026,,,\n'
        '"Student, Test",99999,,,DL 2026,,,\n',
        encoding="utf-8",
    )
    times = dest / "canvas-times.csv"
    times.write_text("id,submitted_at\n12004,2026-10-22T10:00:00+02:00\n12001,2026-10-20T21:14:00+02:00\n")
    exp = {
        "12001": expect("Smith, John", "v1"),
        "12002": expect("Smith, John", "v1"),
        "12003": expect("Lee, Ann", "v2"),
        "12004": expect("García, María", "v1", late=2),
        "12005": expect("王, 小明", "v1", late=1),
        "12006": expect("Nguyen, An", "v1"),
        "12007": expect("Okafor, Chidi", "v1"),
        "12008": expect("Petrov, Ivan", None, modules=(), status="flagged"),
        "12010": expect("Quinn, Sam", "v1"),
    }
    return download, roster, times, exp


# ----------------------------------------------------------------------------------------------- Moodle
def moodle_class(dest: Path) -> tuple[Path, Path, dict]:
    """Moodle "Download all submissions" zip (folders, Moodle >= 4.1) and its grading worksheet (roster)."""
    f = "_assignsubmission_file"
    sub = f"{A01}-submission.zip"
    e = {
        f"John Smith_501{f}/{sub}": zip_bytes(submission("v1")),
        f"John Smith_502{f}/{A01}.ipynb": NOTEBOOK,  # same name, another participant: files as uploaded
        **{f"John Smith_502{f}/lib/deepkit/{m}.py": module(m, "v1", correct=False) for m in TOPIC},
        f"María García_503{f}/{sub}": zip_bytes(submission("v1")),
        f"Jürgen Müller_504{f}/{sub}": zip_bytes(submission("v1")),
        f"An Nguyen_505{f}/outer.zip": nested(submission("v1")),
        f"Chidi Okafor_506{f}/deepkit-course.zip": zip_bytes(whole_course("v1")),
        f"Ivan Petrov_507{f}/{A01}.ipynb": NOTEBOOK,
        "Sam Quinn_508_assignsubmission_onlinetext/onlinetext.html": b"<p>see my files</p>",
        # Moodle keeps one submission: the student replaced the file, the download holds the newest only
        f"Sam Quinn_508{f}/{sub}": zip_bytes(submission("v2")),
    }
    download = write_zip(dest / "CS-DL-01 softmax-4711.zip", e)
    roster = dest / "Grades-CS-DL-01 softmax-4711.csv"
    roster.write_text(
        "Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
        "Last modified (submission),Online text,Last modified (grade),Feedback comments\n"
        "Participant 501,John Smith,john.smith@uni.example,Submitted for grading,,14.00,Yes,"
        '"Tuesday, 20 October 2026, 9:14 PM",,-,\n'
        "Participant 502,John Smith,john.smith2@uni.example,Submitted for grading,,14.00,Yes,"
        '"Tuesday, 20 October 2026, 11:58 PM",,-,\n'
        "Participant 503,María García,maria.garcia@uni.example,Submitted for grading,,14.00,Yes,"
        '"Thursday, 22 October 2026, 10:00 AM",,-,\n'
        "Participant 504,Jürgen Müller,juergen.mueller@uni.example,Submitted for grading,,14.00,Yes,"
        '"Wednesday, 21 October 2026, 12:05 AM",,-,\n'
        "Participant 505,An Nguyen,an.nguyen@uni.example,Submitted for grading,,14.00,Yes,"
        '"Monday, 19 October 2026, 8:00 AM",,-,\n'
        "Participant 506,Chidi Okafor,chidi.okafor@uni.example,Submitted for grading,,14.00,Yes,"
        '"Monday, 19 October 2026, 8:00 AM",,-,\n'
        "Participant 507,Ivan Petrov,ivan.petrov@uni.example,Submitted for grading,,14.00,Yes,"
        '"Monday, 19 October 2026, 8:00 AM",,-,\n'
        "Participant 508,Sam Quinn,sam.quinn@uni.example,Submitted for grading,,14.00,Yes,"
        '"Tuesday, 20 October 2026, 11:00 PM","see my files",-,\n'
        "Participant 509,Zoe Absent,zoe.absent@uni.example,No submission,,14.00,Yes,-,,-,\n",
        encoding="utf-8",
    )
    exp = {
        "501": expect("John Smith", "v1"),
        "502": expect("John Smith", "v1"),
        "503": expect("María García", "v1", late=2),
        "504": expect("Jürgen Müller", "v1", late=0),  # 6 minutes after the due date: within the grace
        "505": expect("An Nguyen", "v1"),
        "506": expect("Chidi Okafor", "v1"),
        "507": expect("Ivan Petrov", None, modules=(), status="flagged"),
        "508": expect("Sam Quinn", "v2"),
    }
    return download, roster, exp


# ------------------------------------------------------------------------------------------- Blackboard
def _bb_txt(name: str, user: str, when: str, asg: str, files: list[str], stored: list[str]) -> bytes:
    lines = [
        f"Name: {name} ({user})",
        f"Assignment: {asg}",
        f"Date Submitted: {when}",
        "Current Grade: Needs Grading",
        "",
        "Submission Field:",
        "There is no student submission text data for this assignment.",
        "",
        "Comments:",
        "There are no student comments for this assignment.",
        "",
        "Files:",
    ]
    for o, s in zip(files, stored):
        lines += [f"\tOriginal filename: {o}", f"\tFilename: {s}"]
    return ("\n".join(lines) + "\n").encode()


def blackboard_class(dest: Path) -> tuple[Path, Path, dict]:
    """Blackboard Grade Center "Assignment File Download" zip and the Grade Center download (roster)."""
    asg = "Exercise2001"  # the column "Exercise 01", space encoded as Blackboard does
    sub = f"{A01}-submission.zip"
    e: dict[str, bytes] = {}

    def attempt(user, name, ts, when, files: dict[str, bytes], txt=True):
        prefix = f"{asg}_{user}_attempt_{ts}"
        stored = [f"{prefix}_{o}" for o in files]
        if txt:
            e[f"{prefix}.txt"] = _bb_txt(name, user, when, "Exercise 01", list(files), stored)
        for o, s in zip(files, stored):
            e[s] = files[o]

    attempt(
        "jsmith",
        "John Smith",
        "2026-10-20-21-14-02",
        "Tuesday, October 20, 2026 9:14:02 PM CEST",
        {sub: zip_bytes(submission("v1"))},
    )
    attempt(
        "jsmith2",
        "John Smith",
        "2026-10-20-22-00-00",
        "Tuesday, October 20, 2026 10:00:00 PM CEST",
        {sub: zip_bytes(submission("v1", correct=False))},
    )
    # two attempts: the newest is kept whole
    attempt(
        "alee",
        "Ann Lee",
        "2026-10-18-10-00-00",
        "Sunday, October 18, 2026 10:00:00 AM CEST",
        {sub: zip_bytes(submission("v1", correct=False)), "notes.txt": b"first try"},
    )
    attempt(
        "alee",
        "Ann Lee",
        "2026-10-20-23-30-00",
        "Tuesday, October 20, 2026 11:30:00 PM CEST",
        {sub: zip_bytes(submission("v2"))},
    )
    attempt(
        "mgarcia",
        "María García",
        "2026-10-22-08-00-00",
        "Thursday, October 22, 2026 8:00:00 AM CEST",
        {sub: zip_bytes(submission("v1"))},
    )
    # a username with "_" (only the .txt tells where it starts), late but with an extension
    attempt(
        "o_brien",
        "Zoë O'Brien",
        "2026-10-23-09-00-00",
        "Friday, October 23, 2026 9:00:00 AM CEST",
        {sub: zip_bytes(submission("v1"))},
    )
    attempt(
        "anguyen",
        "An Nguyen",
        "2026-10-19-08-00-00",
        "Monday, October 19, 2026 8:00:00 AM CEST",
        {"outer.zip": nested(submission("v1"))},
    )
    attempt(
        "cokafor",
        "Chidi Okafor",
        "2026-10-19-08-00-00",
        "Monday, October 19, 2026 8:00:00 AM CEST",
        {"deepkit-course.zip": zip_bytes(whole_course("v1"))},
    )
    attempt(
        "ipetrov",
        "Ivan Petrov",
        "2026-10-19-08-00-00",
        "Monday, October 19, 2026 8:00:00 AM CEST",
        {f"{A01}.ipynb": NOTEBOOK},
    )
    # an attempt whose .txt is missing: the username comes from the file name and the other attempts
    attempt("jmuller", "Jürgen Müller", "2026-10-20-12-00-00", "", {sub: zip_bytes(submission("v1"))}, txt=False)
    download = write_zip(dest / f"gradebook_CS101-2026_{asg}_2026-10-26-09-00-00.zip", e)
    roster = dest / "gc_CS101-2026_fullgc_2026-10-26-09-01-00.csv"
    roster.write_text(
        '"Last Name","First Name","Username","Student ID","Last Access","Availability",'
        '"Exercise 01 [Total Pts: 14 Score] |7731","Exercise 02 [Total Pts: 10 Score] |7732"\n'
        '"Smith","John","jsmith","S001","2026-10-20 21:14:02","Available","",""\n'
        '"Smith","John","jsmith2","S002","2026-10-20 22:00:00","Available","",""\n'
        '"Lee","Ann","alee","S003","2026-10-20 23:30:00","Available","",""\n'
        '"García","María","mgarcia","S004","2026-10-22 08:00:00","Available","",""\n'
        '"O\'Brien","Zoë","o_brien","S005","2026-10-23 09:00:00","Available","",""\n'
        '"Nguyen","An","anguyen","S006","2026-10-19 08:00:00","Available","",""\n'
        '"Okafor","Chidi","cokafor","S007","2026-10-19 08:00:00","Available","",""\n'
        '"Petrov","Ivan","ipetrov","S008","2026-10-19 08:00:00","Available","",""\n'
        '"Müller","Jürgen","jmuller","S009","2026-10-20 12:00:00","Available","",""\n',
        encoding="utf-8",
    )
    exp = {
        "jsmith": expect("John Smith", "v1"),
        "jsmith2": expect("John Smith", "v1"),
        "alee": expect("Ann Lee", "v2"),
        "mgarcia": expect("María García", "v1", late=2),
        "o_brien": expect("Zoë O'Brien", "v1"),
        "anguyen": expect("An Nguyen", "v1"),
        "cokafor": expect("Chidi Okafor", "v1"),
        "ipetrov": expect("Ivan Petrov", None, modules=(), status="flagged"),
        "jmuller": expect("Jürgen Müller", "v1"),
    }
    return download, roster, exp


# ------------------------------------------------------------------------------------------------ folder
def folder_class(dest: Path) -> tuple[Path, dict]:
    """An instructor's folder: one folder, zip or notebook per student id."""
    root = dest / "drop"
    for rel, data in submission("v1", root=f"alice/{A01}/").items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    for rel, data in submission("v1", correct=False).items():  # files directly in the student's folder
        (root / "bob" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "bob" / rel).write_bytes(data)
    (root / "carol.zip").write_bytes(nested(submission("v1")))
    (root / "dave_final.zip").write_bytes(zip_bytes(whole_course("v1")))
    (root / f"erin_{A01}.ipynb").write_bytes(NOTEBOOK)
    exp = {
        "alice": expect("", "v1"),
        "bob": expect("", "v1"),
        "carol": expect("", "v1"),
        "dave": expect("", "v1"),
        "erin": expect("", None, modules=(), status="flagged"),
    }
    return root, exp
