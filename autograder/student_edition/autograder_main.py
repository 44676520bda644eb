"""``python -m autograder`` in a student edition: the student commands only (autograder/student_cli.py).

The student edition's ``autograder/__main__.py`` (autograder/edition.py writes it from this template); the
repository's own ``autograder/__main__.py`` runs autograder/cli.py, which the edition does not ship.
"""

import sys

from autograder.student_cli import main

sys.exit(main())
