"""nbgrader's view of the course (quick; the real formgrader's buttons are clicked in tests/test_browser.py).

* The formgrader lists exactly the registry's assignments: ``solutions/`` holds only assignment folders, so no
  phantom ``lib`` assignment (the reference lives in ``reference/``).
* The course's Jupyter server configuration enables the guard that keeps Autograde and Generate feedback from
  running nbgrader, and the guard's routes are nbgrader's own.
"""

from __future__ import annotations

import re

from tests.refs import ROOT


def test_formgrader_lists_exactly_the_registry_assignments():
    import warnings

    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    from course.topics import TOPICS

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "autograder")).load_config()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = NbGraderAPI(CourseDirectory(config=cfg), config=cfg)
        sources = api.get_source_assignments()
    assert sorted(sources) == sorted(t.folder for t in TOPICS), sources
    assert "lib" not in sources


def test_course_server_config_enables_the_guard_on_nbgrader_routes():
    from nbgrader.server_extensions.formgrader import apihandlers
    from traitlets.config.loader import PyFileConfigLoader

    import autograder.formgrader_guard as guard

    cfg = PyFileConfigLoader("jupyter_server_config.py", path=str(ROOT / "autograder")).load_config()
    enabled = cfg.ServerApp.jpserver_extensions.get_value({})  # the config's .update(), applied to nothing
    assert enabled == {"autograder.formgrader_guard": True}
    assert guard._jupyter_server_extension_points() == [{"module": "autograder.formgrader_guard"}]
    assert "autograder.formgrader_guard" < "nbgrader"  # loaded first, so its routes are matched first
    theirs = {pattern for pattern, handler, *_ in apihandlers.default_handlers}
    for route in (
        "submission/([^/]+)/([^/]+)/autograde",
        "assignment/([^/]+)/generate_feedback",
        "assignment/([^/]+)/([^/]+)/generate_feedback",
    ):
        assert f"/formgrader/api/{route}" in theirs, route
    assert re.search(r"python -m autograder autograde --student \{student\}", guard.AUTOGRADE)
