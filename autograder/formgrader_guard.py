"""A Jupyter server extension: nbgrader's formgrader cannot grade outside the course's sandbox.

The formgrader's **Autograde** button runs plain ``nbgrader autograde``: the student's code as the server's user
(root on a grading machine), outside any sandbox, after it has removed the grader's results for that submission.
Its **Generate feedback** buttons render nbgrader's feedback, which shows the hidden test cells. This extension
answers those three API routes itself, so nbgrader's handlers never run: nothing is executed or deleted, and the
formgrader shows our message, which names the command that does the job through the sandbox. Manual grading,
generating and releasing assignments, collecting and releasing feedback files are untouched.

Enabled by ``autograder/jupyter_server_config.py`` (``make lab`` puts ``autograder/`` on ``JUPYTER_CONFIG_PATH``).
Our routes win because the server loads extensions in alphabetical order and tornado matches the handlers that
were added first: ``autograder.formgrader_guard`` < ``nbgrader`` (tests/test_browser.py clicks the buttons).
"""

from __future__ import annotations

import json

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

AUTOGRADE = (
    "Autograding runs in the course's sandbox, not in the formgrader. In a terminal, in the course folder, run\n\n"
    "    python -m autograder autograde --student {student} --assignment {assignment}\n\n"
    "(or `make grade A={number}` for every submission of the assignment). It checks the sandbox with the "
    "canary first, grades the library on the hidden cases, runs the notebook, and writes the scores into this "
    "gradebook: reload this page to see them. Manual grades are never overwritten."
)
FEEDBACK = (
    "Feedback is written by the course's grader from the sandboxed results (nbgrader's would show the hidden "
    "test cells). In a terminal, in the course folder, run\n\n"
    "    python -m autograder feedback --assignment {assignment}{student_option}\n\n"
    "It writes autograder/feedback/<student>/{assignment}/feedback.html; 'Release feedback' then hands those "
    "files out as usual."
)


class _Refused(JupyterHandler):
    """Answers exactly like nbgrader's API handlers (a JSON text ``{"success": false, "log": ..., "error": ...}``,
    which the formgrader's script parses itself); the formgrader shows the log in its error dialog (an empty
    error adds no "Traceback" panel)."""

    def _answer(self, text: str) -> None:
        self.finish(json.dumps({"success": False, "log": text, "error": ""}))


class AutogradeRefused(_Refused):
    @web.authenticated
    def post(self, assignment_id: str, student_id: str) -> None:
        number = assignment_id.split("_", 1)[0]
        self._answer(AUTOGRADE.format(student=student_id, assignment=assignment_id, number=number))


class FeedbackRefused(_Refused):
    @web.authenticated
    def post(self, assignment_id: str, student_id: str | None = None) -> None:
        option = f" --student {student_id}" if student_id else ""
        self._answer(FEEDBACK.format(assignment=assignment_id, student_option=option))


def _jupyter_server_extension_points():
    return [{"module": "autograder.formgrader_guard"}]


def _load_jupyter_server_extension(serverapp) -> None:
    base = serverapp.web_app.settings.get("base_url", "/")
    api = url_path_join(base, "formgrader", "api")
    serverapp.web_app.add_handlers(
        ".*$",
        [
            (url_path_join(api, r"submission/([^/]+)/([^/]+)/autograde"), AutogradeRefused),
            (url_path_join(api, r"assignment/([^/]+)/generate_feedback"), FeedbackRefused),
            (url_path_join(api, r"assignment/([^/]+)/([^/]+)/generate_feedback"), FeedbackRefused),
        ],
    )
    serverapp.log.info("autograder: the formgrader's Autograde and Generate feedback run through the sandbox CLI")
