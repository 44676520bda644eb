"""Helpers of the real-browser test (tests/test_browser.py): a throw-away JupyterLab server and page driving.

* ``LabServer``: JupyterLab on a fixed free port with a token, isolated HOME / Jupyter config, data, runtime,
  settings and workspace folders in a temporary directory, news and update checks off, autosave off. It serves a
  sandbox root: copies of ``START_HERE.ipynb`` and ``lectures/*.ipynb`` (so nothing JupyterLab writes can land in
  the committed notebooks) and symlinks to everything else in the repository (``lectures/_course.py`` resolves
  its symlink, so the kernels import the real ``reference``). The server runs with the course's nbgrader
  config (``autograder/nbgrader_config.py``, loaded from a working folder in the temporary directory that only
  moves the gradebook there). ``stop()`` ends the server's whole process group (server and kernels).
* Page helpers (Playwright, sync API): open a notebook, run all cells, wait for the kernel to be idle and the
  plots to settle, find the ``deepkit`` explorers (``viz/base.py``: ``.deepkit-explorer`` box, ``img.deepkit-plot``,
  ``.deepkit-status``), move one control the way a user does, and time input event -> new plot image.

Debian's chromium (``apt-get install chromium`` / ``make chromium``) is driven by Python Playwright through
``executable_path``; ``playwright install`` is never needed.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}

# JupyterLab user settings (written to the isolated settings folder): no news/update pop-ups, never autosave
# (the sandbox notebooks are copies anyway), every cell in the DOM (no windowed rendering), no kernel-select dialog.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def _ignored_names(repo: Path) -> list[str]:
    """Top-level patterns of the repository's .gitignore (build output such as site/ is not part of the course)."""
    try:
        lines = (repo / ".gitignore").read_text().splitlines()
    except OSError:
        return []
    return [
        ln.strip().rstrip("/")
        for ln in lines
        if ln.strip() and not ln.startswith(("#", "!")) and "/" not in ln.strip().rstrip("/")
    ]


def free_port() -> int:
    """A TCP port that is free right now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """JupyterLab in an isolated environment under ``tmp`` (see the module docstring). Use ``start()`` / ``stop()``."""

    def __init__(self, tmp: Path, repo: Path = ROOT, sandbox: bool = True, nbgrader_config: str = "") -> None:
        """``sandbox=False`` serves the repository itself (what ``make lab`` does; nbgrader's formgrader needs the
        course root inside the server root): only for pages that never save a notebook. ``nbgrader_config``:
        lines added after the course's config (e.g. a course root and gradebook of the test's own, which may be
        prepared under ``root`` before ``start()``)."""
        self.tmp, self.repo, self.sandbox = Path(tmp), Path(repo), sandbox
        self.nbgrader_config = nbgrader_config
        self.port = free_port()
        self.token = uuid.uuid4().hex
        self.root = self.tmp / "root" if sandbox else self.repo
        self.log_path = self.tmp / "lab.log"
        self.proc: subprocess.Popen | None = None

    # --- set-up -------------------------------------------------------------------------------------------
    def _make_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        ignored = _ignored_names(self.repo)
        for entry in self.repo.iterdir():
            if (
                entry.name in {"lectures", "START_HERE.ipynb"}
                or entry.name.startswith(".")
                or any(fnmatch.fnmatch(entry.name, pat) for pat in ignored)
            ):
                continue
            (self.root / entry.name).symlink_to(entry)
        lectures = self.root / "lectures"
        lectures.mkdir()
        for f in (self.repo / "lectures").iterdir():
            if f.suffix == ".ipynb":
                shutil.copy2(f, lectures / f.name)
            elif f.is_file():
                (lectures / f.name).symlink_to(f)
        if (self.repo / "START_HERE.ipynb").is_file():
            shutil.copy2(self.repo / "START_HERE.ipynb", self.root / "START_HERE.ipynb")

    def _env(self) -> dict:
        dirs = {
            k: self.tmp / k.lower()
            for k in (
                "HOME",
                "JUPYTER_CONFIG_DIR",
                "JUPYTER_DATA_DIR",
                "JUPYTER_RUNTIME_DIR",
                "JUPYTERLAB_SETTINGS_DIR",
                "JUPYTERLAB_WORKSPACES_DIR",
                "MPLCONFIGDIR",
            )
        }
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        for key, values in LAB_SETTINGS.items():
            f = dirs["JUPYTERLAB_SETTINGS_DIR"] / f"{key}.jupyterlab-settings"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(values))
        # Reuse matplotlib's font cache: building it in a fresh MPLCONFIGDIR prints to the kernels' stderr.
        import matplotlib

        for cache in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
            shutil.copy2(cache, dirs["MPLCONFIGDIR"] / cache.name)
        course_server_config = self.repo / "autograder" / "jupyter_server_config.py"  # the formgrader guard
        if course_server_config.is_file():
            (dirs["JUPYTER_CONFIG_DIR"] / "jupyter_server_config.py").write_text(
                f"c = get_config()  # noqa: F821\nload_subconfig({str(course_server_config)!r})  # noqa: F821\n"
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
        env.update({k: str(v) for k, v in dirs.items()})
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        return env

    def _nbgrader_cwd(self) -> Path:
        """A working folder (``self.nbgrader``) whose nbgrader_config.py is the course's, with the gradebook moved
        to tmp; a tree without the course's nbgrader config (a student edition) gets none."""
        cwd = self.nbgrader = self.tmp / "nbgrader"
        cwd.mkdir()
        course = self.repo / "autograder" / "nbgrader_config.py"
        if course.is_file():
            (cwd / "nbgrader_config.py").write_text(
                f"c = get_config()  # noqa: F821\n"
                f"load_subconfig({str(course)!r})  # noqa: F821  (the course's config, unchanged)\n"
                f"c.CourseDirectory.db_url = 'sqlite:///{cwd / 'gradebook.db'}'  # not the course's gradebook\n"
                + self.nbgrader_config
            )
        return cwd

    # --- life cycle ---------------------------------------------------------------------------------------
    def start(self, timeout: float = 180.0) -> LabServer:
        if self.sandbox:
            self._make_root()
        env = self._env()
        cwd = self._nbgrader_cwd()
        jupyter = Path(sys.executable).parent / "jupyter"
        cmd = [
            str(jupyter),
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.get("/api/status")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """End the server and its kernels (its own process group), politely first."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            pgid = os.getpgid(self.proc.pid)
            os.killpg(pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(pgid, signal.SIGKILL)  # kernels left behind, if any
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self._log.close()
        self.proc = None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    # --- HTTP ---------------------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}{path}{sep}token={self.token}"

    def get(self, path: str, timeout: float = 30.0) -> tuple[int, str]:
        """(HTTP status, body) of a GET with the token; error statuses are returned, not raised."""
        try:
            with urllib.request.urlopen(self.url(path), timeout=timeout) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def request(self, method: str, path: str) -> int:
        req = urllib.request.Request(self.url(path), method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def sessions(self) -> list[dict]:
        status, body = self.get("/api/sessions")
        return json.loads(body) if status == 200 else []

    def kernel_states(self, notebook: str) -> list[str]:
        """Execution states of the kernels whose session is ``notebook`` (path relative to the root)."""
        return [s["kernel"]["execution_state"] for s in self.sessions() if s.get("path") == notebook]

    def shutdown_sessions(self) -> None:
        for s in self.sessions():
            self.request("DELETE", f"/api/sessions/{s['id']}")


def launch_browser(playwright):
    """Debian's chromium, headless (never ``playwright install``)."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


# --- page driving -------------------------------------------------------------------------------------------
# Installed in every page before its scripts run: the time of the last user input event, and every change of a
# plot image's src (a MutationObserver), so latency = first src change after the input - the input's time.
INIT_SCRIPT = """
window.__dk = {lastInput: 0, changes: []};
for (const type of ['keydown', 'change', 'click']) {
  document.addEventListener(type, () => { window.__dk.lastInput = performance.now(); }, true);
}
new MutationObserver(records => {
  const t = performance.now();
  for (const r of records) {
    if (r.target.classList && r.target.classList.contains('deepkit-plot'))
      window.__dk.changes.push({id: r.target.dataset.dkId || '', t: t});
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['src']});
"""


def open_notebook(page, server: LabServer, notebook: str, workspace: str, timeout: float = 120.0) -> None:
    """Open ``notebook`` (relative to the server root) in a fresh workspace and wait for its kernel to be idle."""
    page.goto(server.url(f"/lab/workspaces/{workspace}/tree/{notebook}") + "&reset", timeout=timeout * 1e3)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout * 1e3)
    wait_kernel_idle(page, server, notebook, timeout=timeout, need_counts=False)


def run_all(page) -> None:
    """Run > Run All Cells, through the menu bar as a user would."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def _prompts(page) -> list[str]:
    return page.eval_on_selector_all(".jp-CodeCell .jp-InputArea-prompt", "els => els.map(e => e.textContent)")


def wait_kernel_idle(page, server: LabServer, notebook: str, timeout: float, need_counts: bool = True) -> float:
    """Wait until no cell is queued or running ("[*]") and the kernel reports idle twice in a row.
    With ``need_counts``, at least one cell must have an execution count. Returns the seconds waited."""
    t0 = time.monotonic()
    idle_polls = 0
    while time.monotonic() - t0 < timeout:
        prompts = _prompts(page)
        busy = any("*" in p for p in prompts)
        counted = any(re.search(r"\[\d+\]", p) for p in prompts)
        states = server.kernel_states(notebook)
        if not busy and (counted or not need_counts) and states and all(s == "idle" for s in states):
            idle_polls += 1
            if idle_polls >= 2:
                return time.monotonic() - t0
        else:
            idle_polls = 0
        time.sleep(0.5)
    raise TimeoutError(f"{notebook}: kernel not idle after {timeout:.0f} s (prompts {prompts}, states {states})")


def error_outputs(page) -> list[str]:
    """Texts of stderr/error outputs and of widgets that failed to display."""
    out = page.eval_on_selector_all(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
        "els => els.map(e => e.innerText.slice(0, 2000))",
    )
    out += [
        t
        for t in page.eval_on_selector_all(".jp-OutputArea-output", "els => els.map(e => e.innerText)")
        if "Error displaying widget" in t
    ]
    return out


def tag_plots(page) -> int:
    """Give every plot image a ``data-dk-id`` (its index) and return how many there are."""
    return page.evaluate("""() => {
        const imgs = [...document.querySelectorAll('.deepkit-explorer img.deepkit-plot')];
        imgs.forEach((img, i) => { img.dataset.dkId = String(i); });
        return imgs.length; }""")


def wait_plots_settled(page, quiet: float = 1.0, timeout: float = 120.0) -> None:
    """Wait until every plot image has loaded (natural width > 0) and no src or status line changed for ``quiet``
    seconds (a live explorer, e.g. the training dashboard, keeps redrawing while it trains)."""
    t0 = time.monotonic()
    status = None
    while time.monotonic() - t0 < timeout:
        ok, now = page.evaluate(
            """(quiet) => {
            const imgs = [...document.querySelectorAll('.deepkit-explorer img.deepkit-plot')];
            const last = window.__dk.changes.length ? window.__dk.changes[window.__dk.changes.length - 1].t : 0;
            const status = [...document.querySelectorAll('.deepkit-explorer .deepkit-status')].map(e => e.innerText);
            return [imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0)
                    && performance.now() - last > quiet * 1000, status.join('|')]; }""",
            quiet,
        )
        if ok and now == status:
            return
        status = now
        time.sleep(quiet)
    raise TimeoutError("plot images still loading or changing")


def plot_digest(page, index: int) -> str:
    """SHA-256 of the PNG bytes the ``index``-th plot image currently shows (fetched from its blob URL)."""
    return page.evaluate(
        """async (i) => {
        const img = document.querySelector(`img.deepkit-plot[data-dk-id="${i}"]`);
        const buf = await (await fetch(img.src)).arrayBuffer();
        const h = await crypto.subtle.digest('SHA-256', buf);
        return [...new Uint8Array(h)].map(b => b.toString(16).padStart(2, '0')).join(''); }""",
        index,
    )


def status_text(explorer) -> str:
    return explorer.locator(".deepkit-status").inner_text()


def redraw_count(explorer) -> int | None:
    """The "redraw N" counter of the status line (``Explorer.update``), or None if the line shows something else."""
    m = re.search(r"redraw (\d+)", status_text(explorer))
    return int(m.group(1)) if m else None


def plot_loaded(page, index: int) -> bool:
    return page.evaluate(
        """(i) => { const img = document.querySelector(`img.deepkit-plot[data-dk-id="${i}"]`);
                                     return !!img && img.complete && img.naturalWidth > 0; }""",
        index,
    )


def wait_quiet(page, explorer, index: int, quiet: float = 0.15, timeout: float = 10.0) -> None:
    """After a move: wait until the status line and the plot stayed unchanged for ``quiet`` seconds (a move may
    trigger more than one redraw)."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        now = (status_text(explorer), len(changes_of(page, index)))
        if now == state:
            return
        state = now
        time.sleep(quiet)


def render_ms(explorer) -> float:
    m = re.search(r"redraw \d+ in (\d+) ms", status_text(explorer))
    return float(m.group(1)) if m else float("nan")


CONTROL_SELECTOR = (
    ".widget-slider, .widget-dropdown, .widget-checkbox, .widget-select-multiple, "
    ".widget-text, .widget-toggle-buttons, .widget-radio"
)


@dataclass
class Control:
    """One control of an explorer, as the page shows it."""

    kind: str  # slider | dropdown | checkbox | multiselect | text
    label: str
    locator: object = field(repr=False)
    pressed: str = ""  # the key the forward move pressed (sliders)
    before: object = None  # the value before the forward move (dropdowns, text boxes)


def controls(explorer) -> list[Control]:
    found = []
    loc = explorer.locator(CONTROL_SELECTOR)
    for i in range(loc.count()):
        el = loc.nth(i)
        cls = el.get_attribute("class") or ""
        kind = (
            "slider"
            if "widget-slider" in cls
            else "dropdown"
            if "widget-dropdown" in cls
            else "checkbox"
            if "widget-checkbox" in cls
            else "multiselect"
            if "widget-select-multiple" in cls
            else "text"
            if "widget-text" in cls
            else "other"
        )
        label = el.inner_text().strip().split("\n")[0] or cls
        found.append(Control(kind, label, el))
    return found


def move(page, control: Control, forward: bool) -> None:
    """Change ``control`` the way a user does; ``forward=False`` undoes the previous forward move."""
    el = control.locator
    if control.kind == "slider":
        handle = el.locator(".noUi-handle").first
        now, hi = (float(handle.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemax"))
        # forward: one step right (left if at the maximum); back: the opposite key of what forward pressed
        at_max = now >= hi
        if forward:
            control.pressed = "ArrowLeft" if at_max else "ArrowRight"
        else:
            control.pressed = "ArrowRight" if control.pressed == "ArrowLeft" else "ArrowLeft"
        handle.focus()
        handle.press(control.pressed)
    elif control.kind == "dropdown":
        select = el.locator("select")
        if forward:
            control.before = select.input_value()
            values = select.evaluate("s => [...s.options].map(o => o.value)")
            select.select_option(next(v for v in values if v != control.before))
        else:
            select.select_option(control.before)
    elif control.kind == "multiselect":
        select = el.locator("select")
        if forward:
            control.before = select.evaluate("s => [...s.selectedOptions].map(o => o.value)")
            values = select.evaluate("s => [...s.options].map(o => o.value)")
            # drop the first selected option (or select the first one if nothing is selected)
            select.select_option(control.before[1:] if control.before else values[:1])
        else:
            select.select_option(control.before)
    elif control.kind == "checkbox":
        el.locator("input[type=checkbox]").click()
    elif control.kind == "text":
        box = el.locator("input")
        if forward:
            control.before = box.input_value()
            new = str(int(float(control.before or 0)) + 1)
        else:
            new = control.before
        box.fill(new)
        box.press("Enter")
    else:
        raise ValueError(f"do not know how to move a control of kind {control.kind!r} ({control.label})")


def wait_redraw(page, index: int, n_changes: int, count: int | None, timeout: float) -> bool:
    """Wait until the plot's src changed more than ``n_changes`` times, or its explorer's redraw counter passed
    ``count`` (a redraw that produced identical PNG bytes does not replace the image). False on timeout."""
    try:
        page.wait_for_function(
            """([i, n, count]) => {
            if (window.__dk.changes.filter(c => c.id === String(i)).length > n) return true;
            const img = document.querySelector(`img.deepkit-plot[data-dk-id="${i}"]`);
            const m = img.closest('.deepkit-explorer').querySelector('.deepkit-status').innerText
                         .match(/redraw (\\d+)/);
            return count !== null && m !== null && Number(m[1]) > count; }""",
            arg=[index, n_changes, count],
            timeout=timeout * 1e3,
        )
        return True
    except Exception:  # playwright's TimeoutError
        return False


def changes_of(page, index: int) -> list[float]:
    return page.evaluate("(i) => window.__dk.changes.filter(c => c.id === String(i)).map(c => c.t)", index)


def last_input(page) -> float:
    return page.evaluate("() => window.__dk.lastInput")
