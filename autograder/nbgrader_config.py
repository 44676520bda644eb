"""nbgrader configuration of the course (nbgrader 0.9.6).

nbgrader reads this file when it runs with ``autograder/`` as the working directory (or with
``JUPYTER_CONFIG_PATH`` pointing here); its ``--config=`` option is ignored. Paths are absolute, derived from this
file, so the tools work from any cwd.

Layout: the repository root is the course directory; ``solutions/NN_x/`` are the source assignments,
``exercises/NN_x/`` the release; submissions, autograded copies, feedback and the gradebook live under
``autograder/`` (git-ignored, created at run time).
"""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads the file)

c.CourseDirectory.course_id = "deepkit-course"
c.CourseDirectory.root = str(_ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "autograder/submitted"
c.CourseDirectory.autograded_directory = "autograder/autograded"
c.CourseDirectory.feedback_directory = "autograder/feedback"
# Each assignment folder holds exactly one notebook (NN_x.ipynb); the deepkit library is not part of it.
c.CourseDirectory.notebook_id = "*"
# A source folder also holds the notebook's jupytext text twin (NN_x.py, solutions included): never copy it into
# a release, whoever runs generate_assignment (make build, or the formgrader's Generate button).
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py"]
c.CourseDirectory.db_url = f"sqlite:///{_HERE / 'gradebook.db'}"

# Generating the release: keep the marker syntax of docs/CONVENTIONS.md, no per-cell checksum drift.
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"
c.ClearOutput.remove_metadata_fields = ["collapsed", "scrolled", "execution"]
# Assignments need not be registered in the gradebook before generate_assignment.
c.GenerateAssignment.create_assignment = True

# Executing notebooks (autograde, validate): one cell may take at most 120 s.
c.ExecutePreprocessor.timeout = 120
c.ExecutePreprocessor.kernel_name = "python3"
c.Execute.timeout = 120
c.Execute.kernel_name = "python3"

# Autograding goes through `python -m autograder autograde` (see autograder/README.md): it runs nbgrader autograde
# per submission inside a sandbox with its own generated config (same timeouts as below), scores library parts
# outside the kernel, and writes feedback itself. If plain `nbgrader autograde` is ever run on this course, these
# keep it bounded: interrupt a cell at its timeout and cap what a cell may print into the graded notebook.
c.Execute.interrupt_on_timeout = True
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 100
# Never use `nbgrader generate_feedback` for students: it renders hidden test cells.
# Use `python -m autograder feedback`.

# The formgrader renders submissions with nbconvert on the Jupyter server's own origin, where a script could
# start a kernel as the grader: nothing a student wrote may render as active content (autograder/sanitize.py).
# The notebook it opens is already rebuilt and cleaned by the autograder; this second layer cleans whatever file
# it is given: outputs limited to text, PNG/JPEG and nh3-cleaned HTML, metadata validated (SanitizeNotebook);
# Markdown rendered then cleaned with nh3 (nbgrader's formgrade template skips nbconvert's own sanitising of
# Markdown cells); JavaScript and widget views never emitted (sanitize_html).
if str(_ROOT) not in sys.path:  # the course root, so that the server can import autograder.sanitize
    sys.path.append(str(_ROOT))
c.HTMLExporter.sanitize_html = True
c.HTMLExporter.preprocessors = ["autograder.sanitize.SanitizeNotebook"]
c.HTMLExporter.filters = {"markdown2html": "autograder.sanitize.markdown2html"}

# The student "Assignments" panel needs an exchange folder; this course hands work in as zips
# (`python -m autograder submit/collect`), so a private, git-ignored one is enough for the panel to load.
_EXCHANGE = _HERE / "exchange"
_EXCHANGE.mkdir(exist_ok=True)
c.Exchange.root = str(_EXCHANGE)
