"""Getting submissions in, by the LMS's own student id.

- ``submit`` (student side): the zip to upload (``submit.py``);
- ``collect`` (instructor side): an LMS download or a folder -> ``submitted/<id>/<assignment>/`` and the intake
  table (``collect.py``; the LMS conventions are in ``autograder/lms/``; reading untrusted archives within a
  per-submission budget is ``archive.py``; the record it keeps per assignment is read by ``record.py``);
- ``stage``: the whitelist copy a sandbox reads (``stage.py``).

This package imports the student side only (a student's ``check`` stages a submission; the student edition ships
no LMS adapter): import ``collect`` from ``autograder.intake.collect``.
"""

from autograder.intake.archive import Budget
from autograder.intake.stage import Intake, stage, submissions
from autograder.intake.submit import submit

__all__ = ["Budget", "Intake", "stage", "submissions", "submit"]
