"""The notebook half of grading: what the instructor sees is built on the trusted side and is inert.

Fast tests (no sandbox): ``autograder.sanitize`` on each kind of student content; ``nbrun.graded_notebook``
(course cells restored, answers kept, outputs only from matching cells, the grader's own ``[autograder]``
lines); and the two layers against the planted payloads of tests/xss_payloads.py, rendered with nbgrader's
``formgrade`` template: unsanitised, 15+ of them are live (the control), through either layer none is.
Slow tests: grading with the default notebook handling (read, not executed) end to end, the record rules,
and a notebook the student's kernel keeps rewriting while it is executed.
The browser proof (the formgrader itself, in chromium) is tests/test_browser.py::test_formgrader_runs_no_student_script.
"""

from __future__ import annotations

import base64
import copy
import shutil
import warnings
from pathlib import Path

import nbformat
import pytest

from autograder import sanitize
from autograder.course import Course, Limits
from autograder.nbrun import graded_notebook
from tests.refs import REF_LIB, ROOT
from tests.xss_payloads import (
    ANSWER_TEXT,
    FORGED,
    PLACES,
    active_markup,
    active_places,
    forged_grade_id,
    hostile_notebook,
    render_formgrade,
)

A01 = "01_softmax"
RELEASE = ROOT / "exercises" / A01 / f"{A01}.ipynb"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


def release() -> nbformat.NotebookNode:
    return nbformat.read(str(RELEASE), as_version=4)


def grading(c) -> dict:
    return c.get("metadata", {}).get("nbgrader", {})


def answer_cell(nb):
    return next(c for c in nb.cells if grading(c).get("solution"))


def graded_cell(nb, name):
    return next(c for c in nb.cells if grading(c).get("grade_id") == name)


def course_config():
    """The course's nbgrader_config.py as the formgrader loads it."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "autograder")).load_config()


# ------------------------------------------------------------------------------------------ sanitize: text
@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        'see <img src="x" onerror="alert(1)">',
        "<svg onload=alert(1)>",
        '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
        "<!-- a comment --> text",
        "</p>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](java&#115;cript:alert(1))",
        "[click](javascript\\:alert(1))",
        "[click](java\tscript:alert(1))",
        "[ref]: javascript:alert(1)\n\n[click][ref]",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "![pic](attachment:missing.png)",
    ],
)
def test_markdown_that_could_be_active_is_shown_as_literal_text(source):
    from nbconvert.exporters import HTMLExporter

    out = sanitize.inert_markdown(source)
    assert out != source and out.startswith(f"*{sanitize.MARKER} shown as plain text")
    assert source in out  # the grader still reads every character the student wrote
    assert active_markup(HTMLExporter().markdown2html({}, out)) == []  # nbconvert's renderer, raw HTML allowed


@pytest.mark.parametrize(
    "source",
    [
        "The loss starts at $\\log 10 \\approx 2.3$ because x < 0 and a <= b.",
        "**bold**, *italic*, `code`, a [link](https://example.org) and mailto:[me](mailto:a@b.c)",
        "- a list\n- with $$\\sum_i x_i$$\n\n> a quote",
        "# Title\n\n```python\nx = y\n```",
    ],
)
def test_plain_markdown_answers_are_kept_as_written(source):
    assert sanitize.inert_markdown(source) == source


def test_a_longer_backtick_run_cannot_close_the_literal_block():
    from nbconvert.exporters import HTMLExporter

    source = "````\n<script>alert(1)</script>\n````````\n<img src=x onerror=alert(2)>"
    assert active_markup(HTMLExporter().markdown2html({}, sanitize.inert_markdown(source))) == []


def test_forged_autograder_labels_are_rewritten():
    for forged in (FORGED, "[AutoGrader] 13/13", "[ autograder ] ok", "\uff3bautograder\uff3d 13/13"):
        out = sanitize.neutralise_marker(forged)
        assert sanitize.MARKER not in out.lower() and sanitize.FORGED_MARKER in out, out
    assert sanitize.neutralise_marker("no label here") == "no label here"
    assert "\n" not in sanitize.one_line("a\n[autograder] b\r\nc")


def test_html_outputs_keep_markup_but_nothing_active():
    html = sanitize.clean_html(
        '<table><tr><td onclick="x()">1</td></tr></table><script>x()</script><style>*{}</style>'
        '<a href="javascript:x()">j</a><a href="https://example.org">ok</a><img src="http://x/p.png">'
        '<iframe src="/lab"></iframe><svg><script>x()</script></svg><form action="/api"><input></form>'
    )
    assert "<table>" in html and "<td>1</td>" in html and 'href="https://example.org"' in html
    for bad in ("script", "onclick", "javascript", "<img", "iframe", "svg", "<form", "<style"):
        assert bad not in html, (bad, html)


def test_outputs_keep_only_inert_types_and_validated_fields():
    outputs = [
        {"output_type": "stream", "name": 'stdout" onclick="x', "text": ["a", "b\n"]},
        {"output_type": "error", "ename": "E", "evalue": FORGED, "traceback": ["tb <b>", 3]},
        nbformat.v4.new_output(
            "display_data",
            data={
                "text/html": "<b>ok</b><script>x()</script>",
                "application/javascript": "x()",
                "image/svg+xml": "<svg onload=x()>",
                "application/vnd.jupyter.widget-view+json": {"model_id": "m"},
                "image/png": PNG,
                "image/jpeg": 'x" onerror="x()',
                "text/plain": FORGED,
            },
            metadata={"image/png": {"width": "1 onerror=x()"}},
        ),
        nbformat.v4.new_output("display_data", data={"text/markdown": "<img src=x onerror=x()>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "x()"}),
        {"output_type": "execute_result", "data": {"text/plain": "1"}, "metadata": {}, "execution_count": "7"},
    ]
    out = sanitize.clean_outputs(outputs, sanitize.neutralise_marker)
    assert out[0] == {"output_type": "stream", "name": "stdout", "text": "ab\n"}
    assert out[1]["evalue"] == sanitize.neutralise_marker(FORGED) and out[1]["traceback"] == ["tb <b>"]
    assert set(out[2]["data"]) == {"text/html", "image/png", "text/plain"} and out[2]["metadata"] == {}
    assert out[2]["data"]["text/html"] == "<b>ok</b>" and sanitize.MARKER not in out[2]["data"]["text/plain"]
    assert out[3]["data"] == {"text/plain": "<img src=x onerror=x()>"}  # shown as text
    assert out[4]["data"] == {"text/plain": "(output not shown in the grading view: application/javascript)"}
    assert out[5]["execution_count"] is None
    nbformat.validate(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=out)]))


def test_attachments_keep_only_real_raster_images():
    kept = sanitize.clean_attachments(
        {
            "a.png": {"image/png": PNG},
            "b.svg": {"image/svg+xml": base64.b64encode(b"<svg onload=x()>").decode()},
            "c.png": {"image/png": base64.b64encode(b"<script>x()</script>").decode()},
            'd"><x.png': {"image/png": PNG},
        }
    )
    assert kept == {"a.png": {"image/png": PNG}}


# ----------------------------------------------------------------------------------- the trusted builder
def test_graded_notebook_restores_course_cells_and_keeps_the_answers():
    rel = release()
    saved = {grading(c)["grade_id"]: c.source + "\n# hidden tests" for c in rel.cells if grading(c).get("locked")}
    sub = copy.deepcopy(rel)
    graded_cell(sub, "softmax").source = "print('all tests passed')"  # edited test cell
    sub.cells.remove(graded_cell(sub, "log_softmax"))  # deleted test cell
    answer_cell(sub).source = f"It is log 10, {ANSWER_TEXT} <b>really</b>"
    copied = copy.deepcopy(graded_cell(sub, "relu_forward"))
    copied.source = "print('a copy with a known grade_id')"
    sub.cells.append(copied)  # a second cell claiming an id: not the course's
    sub.cells.append(nbformat.v4.new_raw_cell("<script>x()</script>"))
    lines = {"softmax": "sandboxed check of your lib: 1/1 - all checks passed\n[autograder] 99/1"}
    view = graded_notebook(rel, saved, sub, lines=lines, note="graded now")

    assert view.cells[0].source.startswith(f"*{sanitize.MARKER} graded now")
    softmax = graded_cell(view, "softmax")
    assert softmax.source == saved["softmax"] and softmax.metadata == graded_cell(rel, "softmax").metadata
    assert softmax.outputs[0]["text"].startswith(f"{sanitize.MARKER} sandboxed check of your lib: 1/1")
    assert softmax.outputs[0]["text"].count(sanitize.MARKER) == 1 and softmax.outputs[0]["text"].count("\n") == 1
    ids = [grading(c).get("grade_id") for c in view.cells if grading(c)]
    assert ids == [grading(c)["grade_id"] for c in rel.cells if grading(c)], "deleted cell put back in place"
    assert graded_cell(view, "log_softmax").source == saved["log_softmax"]
    answer = answer_cell(view)
    assert ANSWER_TEXT in answer.source and "<b>really</b>" in answer.source and answer.source.startswith("*[")
    assert view.cells[-2].source == "print('a copy with a known grade_id')" and not grading(view.cells[-2])
    assert view.cells[-1].cell_type == "markdown" and "<script>x()</script>" in view.cells[-1].source
    # the course's own text is kept as released, even where it holds HTML
    first = rel.cells[0]
    assert any(c.source == first.source for c in view.cells)
    assert all(c.get("outputs", []) == [] for c in view.cells if grading(c).get("grade_id") != "softmax")
    nbformat.validate(view)


def test_graded_notebook_takes_outputs_only_from_cells_that_ran_what_was_expected():
    rel = release()
    saved = {grading(c)["grade_id"]: c.source for c in rel.cells if grading(c).get("locked")}
    sub = copy.deepcopy(rel)
    sub.cells.append(nbformat.v4.new_code_cell("print('mine')"))
    ran = copy.deepcopy(sub)
    for c in ran.cells:
        if c.cell_type == "code":
            c.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{FORGED}\n<script>x()</script>\n")]
            c.execution_count = 3
    graded_cell(ran, "softmax").source = "print('rewritten after the run')"
    view = graded_notebook(rel, saved, sub, ran)
    assert graded_cell(view, "softmax").outputs == [] and graded_cell(view, "softmax").source == saved["softmax"]
    mine = view.cells[-1]
    assert mine.execution_count == 3 and sanitize.MARKER not in mine.outputs[0]["text"]
    assert "<script>x()</script>" in mine.outputs[0]["text"]  # a stream is text: nbconvert escapes it
    ran.cells.pop()
    assert all(not c.get("outputs") for c in graded_notebook(rel, saved, sub, ran).cells), "misaligned: no outputs"


def test_graded_notebook_without_a_submitted_notebook_shows_the_course_cells():
    rel = release()
    view = graded_notebook(rel, {}, None, lines={"softmax": "0/1 - no notebook"}, note="no notebook")
    assert [grading(c).get("grade_id") for c in view.cells if grading(c)] == [
        grading(c)["grade_id"] for c in rel.cells if grading(c)
    ]


# ------------------------------------------------------------------------ both layers against the payloads
def test_control_the_payloads_are_live_without_sanitising():
    live = active_places(render_formgrade(forged_grade_id(hostile_notebook(release()))))
    assert len(live) >= 15 and live <= set(PLACES), sorted(live)
    assert {"md-script", "md-img", "html-script", "javascript", "grade-id", "png-width"} <= live


def test_layer_one_the_file_the_autograder_writes_renders_inert():
    rel = release()
    sub = forged_grade_id(hostile_notebook(rel))
    saved = {grading(c)["grade_id"]: c.source for c in rel.cells if grading(c).get("locked")}
    view = graded_notebook(rel, saved, sub, ran=sub, lines={"softmax": "1/1"})  # every saved output as if run
    page = render_formgrade(view)  # no sanitising by the server
    assert active_places(page) == set()
    assert ANSWER_TEXT in page and "xss.invalid" in page  # shown as text, not dropped
    assert sanitize.MARKER + " 1/1" in page and FORGED not in page


def test_layer_two_the_formgrader_config_sanitises_any_file():
    config = course_config()
    assert config.HTMLExporter.sanitize_html is True
    page = render_formgrade(forged_grade_id(hostile_notebook(release())), config)  # the raw hostile file
    assert active_places(page) == set()
    assert ANSWER_TEXT in page


# ----------------------------------------------------------------------- end to end (sandboxed library)
@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    from tools.build import build_exercises, build_lib

    out = tmp_path_factory.mktemp("built")
    build_lib(ROOT, out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_exercises(ROOT, out, only=[A01])
    return out


def submission(built: Path, dest: Path, notebook=None) -> None:
    (dest / "lib" / "deepkit").mkdir(parents=True)
    for p in (built / "lib" / "deepkit").glob("*.py"):
        shutil.copy(p, dest / "lib" / "deepkit")
    for m in Course().topic(A01).modules:
        shutil.copy(REF_LIB / "deepkit" / f"{m}.py", dest / "lib" / "deepkit")
    if notebook is not None:
        nbformat.write(notebook, str(dest / f"{A01}.ipynb"))


@pytest.mark.slow
def test_default_grading_reads_the_notebook_and_keeps_the_record_rules(built, tmp_path):
    """Not executed: answers are read (unchanged -> 0 "no response", deleted -> 0, written -> pending), every
    library part scored in the sandbox, the formgrader's notebook built on the trusted side."""
    from nbgrader.api import Gradebook

    from autograder.batch import grade_batch

    course = Course(root=ROOT, work=tmp_path / "work")
    rel = nbformat.read(str(built / "exercises" / A01 / f"{A01}.ipynb"), as_version=4)
    answered = copy.deepcopy(rel)
    answer_cell(answered).source = f"log(10): {ANSWER_TEXT}"
    deleted = copy.deepcopy(rel)
    deleted.cells = [c for c in deleted.cells if not grading(c).get("grade")]
    for name, nb in [("unchanged", rel), ("answered", answered), ("deleted", deleted), ("hostile", None)]:
        submission(built, course.submitted / name / A01, nb)
    nbformat.write(forged_grade_id(hostile_notebook(rel)), str(course.submitted / "hostile" / A01 / f"{A01}.ipynb"))
    submission(built, course.submitted / "no_notebook" / A01)
    names = ["unchanged", "answered", "deleted", "hostile", "no_notebook"]
    outs = {o.student: o for o in grade_batch(course, [(s, A01) for s in names], Limits(), jobs=2, progress=False)}
    question = answer_cell(rel).metadata["nbgrader"]["grade_id"]
    parts = {p.name: p.points for p in course.topic(A01).parts}
    for s, o in outs.items():
        assert {n: c.points for n, c in o.cells.items() if c.kind == "library"} == parts, s
        assert o.notebook_status == ("missing" if s == "no_notebook" else "skipped"), (s, o.notebook_reason)
        view = nbformat.read(str(course.autograded / s / A01 / f"{A01}.ipynb"), as_version=4)
        assert active_places(render_formgrade(view)) == set(), s
        assert [grading(c).get("grade_id") for c in view.cells if grading(c)] == [
            grading(c)["grade_id"] for c in rel.cells if grading(c)
        ], s
        lines = [o["text"] for c in view.cells for o in c.get("outputs", [])]
        assert len(lines) == len(parts) and all(t.startswith(f"{sanitize.MARKER} sandboxed check") for t in lines)
    assert outs["unchanged"].cells[question].points == 0 and outs["unchanged"].cells[question].reason == "no response"
    assert outs["deleted"].cells[question].points == 0 and "missing" in outs["deleted"].cells[question].reason
    assert outs["no_notebook"].cells[question].points == 0
    assert outs["answered"].cells[question].points is None and outs["hostile"].cells[question].points is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.db_url) as gb:
            grade = {g.name: g for g in gb.find_submission(A01, "answered").notebooks[0].grades}[question]
            assert grade.needs_manual_grade and grade.auto_score is None


@pytest.mark.slow
def test_executed_notebook_runs_in_a_preforked_kernel_and_its_outputs_are_cleaned(built, tmp_path):
    """--run-notebook: nbgrader runs the notebook in the sandbox; the kernel is the pre-forked seed (it has the
    runner's modules loaded, which a freshly started interpreter would not); outputs reach the formgrader's
    notebook cleaned, with the grader's lines first."""
    from autograder.batch import grade_batch

    course = Course(root=ROOT, work=tmp_path / "work")
    nb = nbformat.read(str(built / "exercises" / A01 / f"{A01}.ipynb"), as_version=4)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import sys\nfrom IPython.display import HTML, display\n"
            "print('PREFORKED', 'nbgrader' in sys.modules)\n"
            "display(HTML('<b>kept</b><script>top.x = 1</script>'))\nprint('[autograder] 99/13')"
        )
    )
    submission(built, course.submitted / "s" / A01, nb)
    out = grade_batch(course, [("s", A01)], Limits(cell_timeout=60, nb_wall=300), notebook=True, progress=False)[0]
    assert out.notebook_status == "ok", out.notebook_reason
    view = nbformat.read(str(course.autograded / "s" / A01 / f"{A01}.ipynb"), as_version=4)
    mine = view.cells[-1].outputs
    assert mine[0]["text"].startswith("PREFORKED True"), mine
    assert mine[1]["data"]["text/html"] == "<b>kept</b>"
    assert sanitize.MARKER not in mine[2]["text"] and sanitize.FORGED_MARKER in mine[2]["text"]
    softmax = graded_cell(view, "softmax").outputs
    assert softmax[0]["text"].startswith(f"{sanitize.MARKER} sandboxed check of your lib: 1/1")
    assert len(softmax) >= 1 and active_places(render_formgrade(view)) == set()
