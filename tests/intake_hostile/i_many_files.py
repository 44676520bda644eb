"""A zip of 6000 tiny files: over the per-submission file budget (5000), reported, nothing written."""

from tests.intake_hostile import zip_of

EXPECT = {"status": "skipped", "note": "more than 5000 files"}


def build():
    return {"submission.zip": zip_of({f"junk/f{i:05d}.txt": b"" for i in range(6000)})}
