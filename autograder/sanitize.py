"""Neutralise what a student wrote before an instructor's browser renders it (trusted side).

A submitted notebook (and, when it is executed, every output its kernel produced) is untrusted. nbgrader's
formgrader renders notebooks with nbconvert on the Jupyter server's own origin, where a script can start a
kernel and run code as the grader. Two independent layers keep student content inert:

1. **The file** (``autograder.nbrun.graded_notebook`` calls the cell functions here): what the formgrader
   opens is rebuilt on the trusted side from validated fields only. Outputs keep an allow-list of MIME types
   (plain text, PNG/JPEG whose data is real base64, and HTML passed through nh3); SVG, JavaScript, widget
   views, Markdown/LaTeX outputs and everything else are dropped; output and cell metadata are dropped
   (nbconvert writes some of it into attributes unescaped). A Markdown cell that holds raw HTML, a script
   URL or a missing attachment is shown as a literal code block (``inert_markdown``); attachments other than
   raster images are dropped; raw cells become literal blocks. ``[autograder]`` labels in student text are
   rewritten (``neutralise_marker``), so that label only ever comes from the grader.
2. **The server** (``autograder/nbgrader_config.py``): the formgrader's ``HTMLExporter`` runs
   ``SanitizeNotebook`` (the same output/metadata rules on whatever file it is given, e.g. one written by
   an older version or by plain ``nbgrader autograde``), renders Markdown through ``markdown2html`` (nbconvert's
   renderer, then nh3: nbgrader's ``formgrade`` template renders Markdown cells without nbconvert's own
   ``sanitize_html`` step), and has ``sanitize_html`` on for outputs.

nh3 (Rust ammonia) is the sanitizer: a maintained allow-list HTML cleaner. This module imports only nh3,
nbformat, nbconvert and jinja2 (what the Jupyter server already has).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata

import nbformat
import nh3
from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import InvalidNotebook
from nbconvert.preprocessors import Preprocessor

MARKER = "[autograder]"  # the label of the grader's own lines in the formgrader's notebook
FORGED_MARKER = "[not from the autograder]"  # what a student's copy of the label becomes
MAX_TEXT = 20_000  # characters kept of one text output (more is cut with a note)
MAX_OUTPUTS = 50  # outputs kept per cell
MAX_IMAGE = 2 * 1024**2  # base64 characters of one image output or attachment

# HTML that may stay in an output or a rendered Markdown cell: nh3's allow-list without images and image
# maps (a student's remote image would be fetched by the grader's browser), links only to web pages.
HTML_TAGS = nh3.ALLOWED_TAGS - {"img", "map", "area"}
HTML_URL_SCHEMES = {"http", "https", "mailto"}
# Images in rendered Markdown: only inline raster data (attachments are embedded that way by nbconvert).
IMAGE_DATA_URL = re.compile(r"data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]+\Z")
RASTER = {"image/png": b"\x89PNG", "image/jpeg": b"\xff\xd8", "image/gif": b"GIF8"}

# A tag, comment, declaration or processing instruction starts with '<' + one of these (HTML5 "tag open
# state"; CommonMark raw HTML and autolinks likewise): without it, no renderer makes an element of the text.
_TAG_OPEN = re.compile(r"<[A-Za-z/!?]")
# a link or image destination or a reference definition with a URL scheme: ](scheme:  ]: scheme:
_LINK_SCHEME = re.compile(r"\]\s*[(:]\s*([A-Za-z][A-Za-z0-9+.\-]*)\s*:")
_SCRIPT_URL = re.compile(r"(?:java|vb|live)script\s*:|data\s*:\s*text/html", re.IGNORECASE)
_LINK_SCHEMES = {"http", "https", "mailto", "attachment"}
_ATTACHMENT_REF = re.compile(r"attachment:([^)\s\"'>]+)")
_MARKER = re.compile(r"\[\s*autograder\s*\]", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_GRADE_ID = re.compile(r"[A-Za-z0-9_\-]{1,100}\Z")
_CELL_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}\Z")
_LEXER = re.compile(r"[A-Za-z0-9_+.\-]{1,40}\Z")


# ------------------------------------------------------------------------------------------------- text
def neutralise_marker(text: str) -> str:
    """``text`` with every look-alike of the grader's ``[autograder]`` label rewritten (case, spaces and
    Unicode compatibility forms such as full-width brackets included)."""
    if _MARKER.search(text):
        return _MARKER.sub(FORGED_MARKER, text)
    folded = unicodedata.normalize("NFKC", text)
    return _MARKER.sub(FORGED_MARKER, folded) if _MARKER.search(folded) else text


def one_line(text: str, limit: int = 500) -> str:
    """A single printable line (a reason shown after the grader's label must not start a line of its own)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"\n[... {len(text) - MAX_TEXT} more characters not shown]\n"


def text_of(value) -> str | None:
    """nbformat multiline text: a string or a list of strings; anything else is not text."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return "".join(value)
    return None


# ------------------------------------------------------------------------------------------------- HTML
def _keep_attribute(tag: str, attr: str, value: str) -> str | None:
    if tag == "img" and attr == "src":  # only in rendered Markdown: embedded raster attachments
        return value if IMAGE_DATA_URL.match(value) else None
    return value


def clean_html(fragment: str, images: bool = False) -> str:
    """An HTML fragment with only inert markup: no scripts, styles, frames, SVG, forms, event handlers or
    script URLs (nh3's allow-list). ``images``: keep ``<img>`` whose source is inline PNG/JPEG/GIF data."""
    return nh3.clean(
        fragment,
        tags=HTML_TAGS | {"img"} if images else HTML_TAGS,
        url_schemes=HTML_URL_SCHEMES | {"data"} if images else HTML_URL_SCHEMES,
        attribute_filter=_keep_attribute,
    )


# --------------------------------------------------------------------------------------------- Markdown
def literal_markdown(text: str, why: str) -> str:
    """Markdown that shows ``text`` verbatim: a fenced block longer than any run of backticks in it (so the
    text cannot close it), after a line from the grader saying why."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"*{MARKER} shown as plain text: {why}.*\n\n{fence}text\n{text}\n{fence}\n"


def markdown_problem(source: str, attachments: dict | None = None) -> str:
    """Why ``source`` must not be rendered as Markdown ('' when it is inert): raw HTML, a link with a
    script or unknown URL scheme, or an attachment that is not kept (nbconvert fails on a missing one)."""
    if _TAG_OPEN.search(source):
        return "it contains HTML markup"
    # what a renderer decodes before it looks at a URL: entities, backslash escapes, control characters
    flat = _CONTROL.sub("", html.unescape(source).replace("\\", ""))
    if _SCRIPT_URL.search(re.sub(r"\s", "", flat)):  # browsers drop tabs and newlines inside a URL
        return "it contains a script URL"
    if any(m.group(1).lower() not in _LINK_SCHEMES for m in _LINK_SCHEME.finditer(flat)):
        return "it contains a link of a kind the grading pages do not follow"
    if any(name not in (attachments or {}) for name in _ATTACHMENT_REF.findall(flat)):
        return "it refers to an attachment that is not kept (only PNG, JPEG and GIF images are)"
    return ""


def inert_markdown(source: str, attachments: dict | None = None) -> str:
    """``source`` if it renders inert in any Markdown renderer, else the same text as a literal block."""
    why = markdown_problem(source, attachments)
    return literal_markdown(source, why) if why else source


# ------------------------------------------------------------------------------------------ cell content
def _raster(mime: str, value) -> str | None:
    """Base64 data of a PNG/JPEG/GIF image, or None when it is not one (nbconvert writes the value into a
    ``src`` attribute unescaped, so anything but base64 could close the attribute)."""
    data = text_of(value)
    if data is None or len(data) > MAX_IMAGE or not re.fullmatch(r"[A-Za-z0-9+/=\s]*", data):
        return None
    try:
        head = base64.b64decode("".join(data.split())[:64] + "==", validate=False)
    except (binascii.Error, ValueError):
        return None
    return data if head.startswith(RASTER[mime]) else None


def clean_attachments(attachments) -> dict:
    """Only raster image attachments with real image data (anything else is dropped)."""
    out = {}
    if not isinstance(attachments, dict):
        return out
    for name, bundle in attachments.items():
        if not isinstance(name, str) or not isinstance(bundle, dict) or not re.fullmatch(r"[\w.\-]{1,100}", name):
            continue
        for mime in ("image/png", "image/jpeg", "image/gif"):
            data = _raster(mime, bundle.get(mime))
            if data is not None:
                out[name] = {mime: data}
                break
    return out


def clean_outputs(outputs, student_text=lambda s: s) -> list:
    """Code-cell outputs rebuilt from validated fields only: streams, errors, and display data limited to
    text/plain, PNG, JPEG and sanitised HTML (SVG, JavaScript, widgets, Markdown, LaTeX and unknown types are
    dropped; a Markdown or LaTeX output without a text/plain form is kept as its text). No output metadata.
    ``student_text`` is applied to every text the student's code produced (e.g. ``neutralise_marker``)."""
    out = []
    if not isinstance(outputs, list):
        return out
    for o in outputs[:MAX_OUTPUTS]:
        if not isinstance(o, dict):
            continue
        kind = o.get("output_type")
        if kind == "stream":
            text = text_of(o.get("text"))
            if text is not None:
                name = "stderr" if o.get("name") == "stderr" else "stdout"
                out.append(nbformat.v4.new_output("stream", name=name, text=student_text(_cut(text))))
        elif kind == "error":
            tb = o.get("traceback")
            tb = [t for t in tb if isinstance(t, str)][:200] if isinstance(tb, list) else []
            out.append(
                nbformat.v4.new_output(
                    "error",
                    ename=student_text(one_line(o.get("ename", "Error"), 200)),
                    evalue=student_text(one_line(o.get("evalue", ""), 2000)),
                    traceback=[student_text(_cut(t)) for t in tb],
                )
            )
        elif kind in ("display_data", "execute_result"):
            data = o.get("data") if isinstance(o.get("data"), dict) else {}
            kept = {}
            plain = text_of(data.get("text/plain"))
            if plain is None:  # a readable form of Markdown / LaTeX output, shown as text
                plain = text_of(data.get("text/markdown")) or text_of(data.get("text/latex"))
            if plain is not None:
                kept["text/plain"] = student_text(_cut(plain))
            rich = text_of(data.get("text/html"))
            if rich is not None:
                kept["text/html"] = student_text(clean_html(_cut(rich)))
            for mime in ("image/png", "image/jpeg"):
                image = _raster(mime, data.get(mime))
                if image is not None:
                    kept[mime] = image
            if not kept:
                dropped = ", ".join(sorted(k for k in data if isinstance(k, str)))[:200] or "empty"
                kept["text/plain"] = f"(output not shown in the grading view: {dropped})"
            if kind == "execute_result":
                count = o.get("execution_count")
                count = count if isinstance(count, int) and not isinstance(count, bool) else None
                out.append(nbformat.v4.new_output(kind, data=kept, execution_count=count))
            else:
                out.append(nbformat.v4.new_output(kind, data=kept))
    return out


def clean_nbgrader_metadata(meta) -> dict | None:
    """A cell's nbgrader metadata with only well-typed fields (the formgrader writes ``grade_id`` into an
    attribute unescaped), or None if it has no valid ``grade_id``."""
    if not isinstance(meta, dict) or not isinstance(meta.get("grade_id"), str):
        return None
    if not _GRADE_ID.match(meta["grade_id"]):
        return None
    out = {"grade_id": meta["grade_id"]}
    for flag in ("grade", "solution", "locked", "task"):
        out[flag] = meta.get(flag) is True
    points = meta.get("points")
    if isinstance(points, (int, float)) and not isinstance(points, bool) and 0 <= points < 1e6:
        out["points"] = points
    if isinstance(meta.get("schema_version"), int):
        out["schema_version"] = meta["schema_version"]
    return out


def clean_notebook_metadata(meta) -> dict:
    """Only the kernel's and language's names (nbconvert picks the highlighter from them)."""
    out = {}
    if not isinstance(meta, dict):
        return out
    lang = meta.get("language_info")
    if isinstance(lang, dict):
        kept = {
            k: lang[k] for k in ("name", "pygments_lexer") if isinstance(lang.get(k), str) and _LEXER.match(lang[k])
        }
        if kept:
            out["language_info"] = kept
    spec = meta.get("kernelspec")
    if isinstance(spec, dict) and all(isinstance(spec.get(k), str) for k in ("name", "display_name", "language")):
        out["kernelspec"] = {k: one_line(spec[k], 80) for k in ("name", "display_name", "language")}
    return out


def display_safe(nb) -> nbformat.NotebookNode:
    """Any notebook made safe to render (the server layer): cells rebuilt from validated fields, outputs and
    attachments cleaned, metadata reduced, raw cells escaped. Markdown text is left for ``markdown2html``
    (rendered, then cleaned); nothing here can tell the grader's text from a student's."""
    out = nbformat.v4.new_notebook(metadata=clean_notebook_metadata(nb.get("metadata")))
    cells = nb.get("cells") if isinstance(nb.get("cells"), list) else []
    for i, c in enumerate(cells):
        if not isinstance(c, dict):
            continue
        source = text_of(c.get("source")) or ""
        kind = c.get("cell_type")
        if kind == "code":
            new = nbformat.v4.new_code_cell(source, outputs=clean_outputs(c.get("outputs")))
            count = c.get("execution_count")
            new.execution_count = count if isinstance(count, int) and not isinstance(count, bool) else None
        elif kind == "markdown":
            new = nbformat.v4.new_markdown_cell(source)
            attachments = clean_attachments(c.get("attachments"))
            if attachments:
                new.attachments = attachments
        else:  # raw (or unknown): nbconvert may emit a raw cell's text as HTML
            new = nbformat.v4.new_markdown_cell(html.escape(source))
        grading = clean_nbgrader_metadata((c.get("metadata") or {}).get("nbgrader"))
        if grading is not None:
            new.metadata["nbgrader"] = grading
        new.id = c["id"] if isinstance(c.get("id"), str) and _CELL_ID.match(c["id"]) else f"cell-{i}"
        out.cells.append(new)
    return out


# ----------------------------------------------------------------------- the formgrader's nbconvert hooks
class SanitizeNotebook(Preprocessor):
    """nbconvert preprocessor (``HTMLExporter.preprocessors``): ``display_safe`` on every notebook rendered."""

    def preprocess(self, nb, resources):
        return display_safe(nb), resources


_EXPORTER: list = []  # one plain HTMLExporter for its Markdown renderer (made on first use)


@pass_context
def markdown2html(context, source: str) -> str:
    """Jinja filter (``HTMLExporter.filters``): nbconvert's Markdown rendering, then ``clean_html`` (images
    only as embedded raster attachments). A Markdown text nbconvert cannot render (a missing attachment) is
    shown as text rather than failing the whole page."""
    if not _EXPORTER:
        _EXPORTER.append(HTMLExporter())
    try:
        rendered = _EXPORTER[0].markdown2html(context, source)
    except InvalidNotebook:
        return f"<pre>{html.escape(source)}</pre>"
    return clean_html(rendered, images=True)
