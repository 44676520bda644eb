"""Random bytes named .zip, and a zip cut in half: "not a readable zip", reported for this student."""

from tests.intake_hostile import honest

EXPECT = {"status": "skipped", "note": "not a readable zip"}


def build():
    good = honest()["01_softmax-submission.zip"]
    return {"submission.zip": good[: len(good) // 2]}
