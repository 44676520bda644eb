"""Feedback HTML per student and assignment, and the CSV export.

Feedback is built from our own results (``autograder.json``: part, points, reason) and the gradebook (final
scores including manual grades, the grader's comments). It never renders the notebook's test cells, so hidden
tests, hidden inputs and reference code cannot appear; reasons come from ``autograder.compare`` (kind of
mismatch, shape, worst element index) and exception types with numbers removed.
nbgrader's ``generate_feedback`` is deliberately not used: it renders hidden test cells.
"""

from __future__ import annotations

import html
from pathlib import Path

from autograder.course import Course
from autograder.grade import load_outcome

_CSS = """body{font-family:system-ui,sans-serif;max-width:52em;margin:2em auto;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4em;text-align:left;
vertical-align:top}.ok{color:#1a7f37}.bad{color:#b42318}.pending{color:#9a6700}code{background:#f4f4f4}"""


def gradebook_view(course: Course, student: str, assignment: str) -> dict[str, dict]:
    """grade cell name -> {score, max, manual, comment} from the gradebook ({} if not there)."""
    import warnings

    from nbgrader.api import Gradebook, MissingEntry

    out: dict[str, dict] = {}
    if not course.gradebook.is_file():
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.db_url) as gb:
            try:
                sub = gb.find_submission(assignment, student)
            except MissingEntry:
                return out
            for snb in sub.notebooks:
                for g in snb.grades:
                    out[g.name] = {
                        "score": g.score,
                        "max": g.max_score,
                        "manual": g.manual_score,
                        "auto": g.auto_score,
                        "comment": None,
                    }
                for cm in snb.comments:
                    if cm.name in out and cm.manual_comment:
                        out[cm.name]["comment"] = cm.manual_comment
    return out


def feedback_html(course: Course, student: str, assignment: str) -> str | None:
    res = load_outcome(course, student, assignment)
    if res is None:
        return None
    topic = course.topic(assignment)
    desc = {p.name: p.description for p in topic.parts}
    gbv = gradebook_view(course, student, assignment)
    rows, total, maximum = [], 0.0, 0.0
    for name, cell in res["cells"].items():
        g = gbv.get(name, {})
        score = g.get("score", cell["points"]) if g else cell["points"]
        maxp = cell["max_points"]
        maximum += maxp
        if score is None:
            cls, shown, why = "pending", "-", "waits for manual grading"
        else:
            total += score
            cls = "ok" if score >= maxp else "bad"
            shown = f"{score:g} / {maxp:g}"
            why = cell["reason"]
            if g.get("manual") is not None:
                why = f"graded by hand ({g['manual']:g}); autograder: {cell['reason']}"
        if g.get("comment"):
            why += f" - grader's comment: {g['comment']}"
        what = desc.get(name, "") or {"manual": "written answer", "notebook": "notebook cell"}.get(cell["kind"], "")
        rows.append(
            f"<tr><td><code>{html.escape(name)}</code><br><small>{html.escape(what)}</small></td>"
            f"<td class='{cls}'>{html.escape(shown)}</td><td>{html.escape(why)}</td></tr>"
        )
    intake = res.get("intake", {})
    notes = []
    if res.get("notebook_status") not in ("ok", "skipped", None, ""):
        notes.append(f"Notebook: {res.get('notebook_reason', '')}")
    for m, why in (intake.get("missing") or {}).items():
        notes.append(f"lib/deepkit/{m}.py: {why}")
    if intake.get("ignored"):
        notes.append(
            "Files in your submission that were not graded (only the notebook and lib/deepkit modules "
            "are): " + ", ".join(intake["ignored"][:20])
        )
    notes += intake.get("notes", [])
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(assignment)}: feedback</title>
<style>{_CSS}</style></head><body>
<h1>{html.escape(assignment)}: {total:g} / {maximum:g}</h1>
<p>Student: <code>{html.escape(student)}</code>. Graded {html.escape(res.get("graded_at", ""))}.
Your <code>lib/deepkit</code> was tested in a sandbox on hidden inputs against the reference; each library part
scores points &times; the fraction of hidden cases that matched.</p>
<table><tr><th>part</th><th>points</th><th>why</th></tr>{"".join(rows)}</table>
{f"<h2>Notes</h2><ul>{note_html}</ul>" if notes else ""}
<p><small>Run <code>python -m autograder check {html.escape(assignment[:2])}</code> in your course folder to
get the same report on your own machine.</small></p></body></html>
"""


def write_feedback(course: Course, pairs: list[tuple[str, str]]) -> list[Path]:
    written = []
    for student, assignment in pairs:
        page = feedback_html(course, student, assignment)
        if page is None:
            continue
        dest = course.feedback / student / assignment / "feedback.html"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(page, encoding="utf-8")
        written.append(dest)
    return written
