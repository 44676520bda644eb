"""A written answer that changed after it was graded by hand is flagged for re-grading, never silently kept.

``grade.record`` stores, per manually graded cell, a digest of the answer it staged (``answer``) and of the
answer the standing manual grade applies to (``graded_answer``). At the next record (a resubmission collected and
graded again) ``review`` compares: if the grader's score applies to another answer than the one now submitted,
the cell is flagged: it waits for grading again (``needs_manual_grade`` in nbgrader's gradebook, so the
formgrader lists it), it counts as pending (blank) in the export and the feedback, and the earlier grade and
comment stay visible (the manual score is never erased). Saving a score in the formgrader clears the flag (the
formgrader sets ``needs_manual_grade`` to False); the answer the grader then saw becomes the graded one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def digest(source: str) -> str:
    return hashlib.sha256(source.strip().encode("utf-8")).hexdigest()[:16]


@dataclass
class Review:
    graded_answer: str | None  # digest of the answer the manual grade applies to (None: no manual grade)
    regrade: dict | None  # {"old_score", "max", "comment"} when the answer changed after grading


def review(
    previous: dict | None,
    answer: str,
    manual_score: float | None,
    max_score: float,
    waiting: bool,
    comment: str | None,
) -> Review:
    """``previous``: the cell in the last ``autograder.json`` (or None); ``answer``: digest of the answer now;
    ``waiting``: nbgrader's ``needs_manual_grade`` before this record (True while a flag is not dealt with)."""
    if manual_score is None:
        return Review(None, None)
    if not previous or previous.get("answer") is None:
        graded = answer  # graded before this feature kept digests: take the grade as applying to this answer
    elif previous.get("regrade") and waiting:
        graded = previous.get("graded_answer")  # still flagged, not re-graded yet
    else:
        graded = previous["answer"]  # the grader graded (or re-graded) the answer staged last time
    if graded == answer:
        return Review(graded, None)
    return Review(graded, {"old_score": manual_score, "max": max_score, "comment": comment or ""})


def reason(flag: dict) -> str:
    text = f"your answer changed after it was graded (earlier grade {flag['old_score']:g}/{flag['max']:g}"
    if flag.get("comment"):
        text += f", comment: {flag['comment']}"
    return text + "): it waits for re-grading"
