"""The learner's JupyterLab (``make lab`` puts ``course/`` on ``JUPYTER_CONFIG_PATH``; the student edition ships it).

* START_HERE.ipynb is the landing page, also of the URL printed with ``--no-browser``;
* no news pop-up and no update check (JupyterLab's announcements: nothing to fetch here, and the setting's default
  in ``course/labconfig/default_setting_overrides.json`` is "no", so JupyterLab does not ask);
* a terminal runs bash with ``course/terminal.bashrc``: the user's own set-up, then the course's virtualenv
  first on PATH, so ``python -m autograder check NN`` runs the course's Python whatever ``~/.bashrc`` or a
  login shell's ``/etc/profile`` put on PATH before it.
"""

import shutil
from pathlib import Path

c = get_config()  # noqa: F821  (injected by traitlets when the server loads the file)

c.LabApp.default_url = "/lab/tree/START_HERE.ipynb"
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
if shutil.which("bash"):
    rcfile = Path(__file__).resolve().parent / "terminal.bashrc"
    c.ServerApp.terminado_settings = {"shell_command": ["bash", "--rcfile", str(rcfile), "-i"]}
