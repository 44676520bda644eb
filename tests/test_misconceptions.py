"""The misconception bank (``Part.misconceptions`` in autograder/checks/<slug>.py) is data the grader uses.

For every known mistake of every part, both ways:
* graded as a student's library (the reference with the wrong function swapped in), it loses the part and the
  reason names the mistake and its lecture section;
* the reference is told apart from it on every hidden case (so a correct answer can never be mistaken for it);
* its lecture pointer ("lecture NN, section K") names a section that exists in that lecture.
And each topic has at least ``MIN_PER_TOPIC`` of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autograder.compare import compare_case
from autograder.local import grade_module, load_probes, load_topic, make_cases, patched_package, run_probe
from course.topics import TOPICS, find
from tests.refs import dk

ROOT = Path(__file__).resolve().parent.parent
MIN_PER_TOPIC = 5
POINTER = re.compile(r"^lecture (\d\d), section (\d+)$")

BANK = [
    (topic.number, part, i, mistake)
    for topic in TOPICS
    for part in load_topic(topic.number).parts
    for i, mistake in enumerate(part.misconceptions)
]


def _id(item) -> str:
    number, part, i, _ = item
    return f"{number}-{part.name}-{i}"


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.folder)
def test_every_topic_has_a_bank(topic):
    found = sum(len(p.misconceptions) for p in load_topic(topic.number).parts)
    assert found >= MIN_PER_TOPIC, f"{topic.folder}: {found} misconceptions, want >= {MIN_PER_TOPIC}"


@pytest.mark.parametrize("item", [b for b in BANK if b[3].replace], ids=_id)
def test_the_mistake_loses_its_part_and_is_named(item):
    number, part, _, mistake = item
    student = patched_package(dk, dict(mistake.replace))
    points, reason = grade_module(number, student, parts=[part.name])[part.name]
    assert points < part.points, f"{mistake.says!r} keeps {points}/{part.points}"
    assert mistake.reason in reason, reason


@pytest.mark.parametrize("item", [b for b in BANK if b[3].replace], ids=_id)
def test_the_reference_is_told_apart_on_every_case(item):
    number, part, _, mistake = item
    probes = load_probes(load_topic(number))
    wrong = patched_package(dk, dict(mistake.replace))
    for inputs in make_cases(part):
        reference = run_probe(probes, part, dk, inputs)
        mistaken = run_probe(probes, part, wrong, inputs)
        assert compare_case(part, reference, mistaken, inputs).fraction < 1.0, (
            f"on some hidden case the reference is indistinguishable from: {mistake.says}"
        )


@pytest.mark.parametrize("item", BANK, ids=_id)
def test_the_lecture_pointer_exists(item):
    _, _, _, mistake = item
    match = POINTER.match(mistake.see)
    assert match, f"{mistake.see!r}: write it as 'lecture NN, section K'"
    lecture = (ROOT / find(match.group(1)).lecture).with_suffix(".py").read_text(encoding="utf-8")
    assert re.search(rf"^# ## {match.group(2)}\. ", lecture, re.M), f"{mistake.see}: no such section heading"


def test_visible_test_helper_shows_expected_and_got_with_the_hint():
    from deepkit.testing import assert_close

    assert_close([1.0, 2.0], [1.0, 2.0 + 1e-9], "out")
    with pytest.raises(AssertionError) as info:
        assert_close([[1.0, 2.5]], [[1.0, 2.0]], "dx", hint="did you subtract the mean?")
    text = str(info.value)
    assert "expected:" in text and "got:" in text and "2.5" in text and "did you subtract the mean?" in text
    with pytest.raises(AssertionError, match="expected shape"):
        assert_close([1.0], [1.0, 2.0], "out")
    with pytest.raises(AssertionError, match="array of numbers"):
        assert_close(None, [1.0], "out")
