"""Getting submissions in, by the LMS's own student id.

- ``submit`` (student side): the zip to upload (``submit.py``);
- ``collect`` (instructor side): an LMS download or a folder -> ``submitted/<id>/<assignment>/`` and the intake
  table (``collect.py``; the LMS conventions are in ``autograder/lms/``; reading untrusted archives within a
  per-submission budget is ``archive.py``);
- ``stage``: the whitelist copy a sandbox reads (``stage.py``).
"""

from autograder.intake.archive import Budget
from autograder.intake.collect import CollectResult, collect, load_record
from autograder.intake.stage import Intake, stage, submissions
from autograder.intake.submit import submit

__all__ = ["Budget", "CollectResult", "Intake", "collect", "load_record", "stage", "submissions", "submit"]
