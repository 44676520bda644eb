"""A zip in a zip in a zip ... six deep around a correct submission: deeper than the 3 levels intake opens."""

from tests.intake_hostile import honest, zip_of

EXPECT = {"status": "skipped", "note": "nested more than 3 deep"}


def build():
    data = honest()["01_softmax-submission.zip"]
    for i in range(6):
        data = zip_of({f"level{i}.zip": data})
    return {"submission.zip": data}
