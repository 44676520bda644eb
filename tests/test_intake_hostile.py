"""The intake attack corpus (tests/intake_hostile/) in one Canvas download with honest students: each hostile
upload is reported for its own student with the expected status and reason, the honest students are collected
exactly as when they are alone, nothing is written outside the work folder, no control character reaches the
terminal table, the intake CSV or an export, and the whole download is taken in bounded time and memory."""

from __future__ import annotations

import importlib
import time
import tracemalloc
from pathlib import Path

import pytest

from autograder.course import Course
from autograder.intake.collect import collect
from tests import lms_fixtures as F
from tests.intake_hostile import CASES, honest

A01 = F.A01
HONEST = ("12001", "12002")
pytestmark = pytest.mark.slow  # building the 200 MiB nested bomb and reading 128 MiB of it: ~10 s


def _download(tmp: Path, cases: list[str]) -> tuple[Path, dict[str, str]]:
    entries, uid = {}, {}
    for i, sid in enumerate(HONEST):
        for name, data in honest().items():
            entries[f"honest_{sid}_{800000 + i}_{name}"] = data
    for i, case in enumerate(cases):
        mod = importlib.import_module(f"tests.intake_hostile.{case}")
        uid[case] = str(30000 + i)
        for j, (name, data) in enumerate(mod.build().items()):
            entries[f"attacker_{uid[case]}_{900000 + 10 * i + j}_{name}"] = data
    return F.write_zip(tmp / "download.zip", entries), uid


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("intake-hostile")
    dl, uid = _download(tmp, CASES)
    course = Course(work=tmp / "work")
    tracemalloc.start()
    t0 = time.monotonic()
    res = collect(course, dl, A01)
    seconds = time.monotonic() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    alone_dl, _ = _download(tmp / "alone", [])
    alone = Course(work=tmp / "alone-work")
    collect(alone, alone_dl, A01)
    return course, res, uid, seconds, peak, alone


@pytest.mark.parametrize("case", CASES)
def test_hostile_upload_is_reported_for_its_student(corpus, case):
    _, res, uid, _, _, _ = corpus
    expect = importlib.import_module(f"tests.intake_hostile.{case}").EXPECT
    row = next(r for r in res.rows if r.lms_id == uid[case])
    assert row.status == expect["status"], (case, row)
    assert expect["note"] in " ".join(row.notes), (case, row.notes)


def test_honest_students_are_collected_exactly_as_alone(corpus):
    course, res, _, _, _, alone = corpus
    for sid in HONEST:
        row = next(r for r in res.rows if r.lms_id == sid)
        assert row.status == "ok", row
        mine = sorted(p.relative_to(course.submitted) for p in (course.submitted / sid).rglob("*") if p.is_file())
        theirs = sorted(p.relative_to(alone.submitted) for p in (alone.submitted / sid).rglob("*") if p.is_file())
        assert mine == theirs and len(mine) == 4
        for rel in mine:
            assert (course.submitted / rel).read_bytes() == (alone.submitted / rel).read_bytes()


def test_nothing_escapes_and_nothing_unprintable_is_shown(corpus):
    from tests.intake_hostile.i_path_traversal import TARGETS

    course, res, uid, _, _, _ = corpus
    for t in TARGETS:
        assert not Path(t).exists(), t
    written = [p for p in course.work.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(course.work.resolve()) for p in written)
    skipped = {r.lms_id for r in res.rows if r.status == "skipped"}
    for case, sid in uid.items():  # a skipped upload leaves nothing to grade
        if sid in skipped:
            assert not (course.submitted / sid).exists() or not any((course.submitted / sid).rglob("*.py")), case
    for text in (res.table(), res.table_path.read_text(), (course.work / "students.json").read_text()):
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text


def test_download_taken_in_bounded_time_and_memory(corpus):
    _, res, _, seconds, peak, _ = corpus
    assert len(res.rows) == len(CASES) + len(HONEST)
    assert seconds < 60, seconds  # ~3 s on an idle 2-core machine; the nested bomb stops at the 128 MiB budget
    assert peak < 400 * 1024**2, peak / 1024**2  # bytes held at once: about one submission's budget
