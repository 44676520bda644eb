"""The course's Jupyter server configuration: ``make lab`` loads it (``JUPYTER_CONFIG_PATH=autograder``), next to
``nbgrader_config.py``. It enables ``autograder.formgrader_guard``, which keeps the formgrader's Autograde and
Generate-feedback buttons from running student code outside the sandbox."""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # the server imports the extension from this course folder
    sys.path.insert(0, _ROOT)

c = get_config()  # noqa: F821  (injected by traitlets when the server loads the file)
c.ServerApp.jpserver_extensions.update({"autograder.formgrader_guard": True})
