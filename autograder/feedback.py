"""Feedback per student and assignment (HTML), and the bundles each LMS takes in bulk.

Feedback is built from our own results (``autograder.json``: part, points, reason), the gradebook (final scores
including manual grades, the grader's comments), the intake record (the LMS's submission time) and the late
policy. It never renders the notebook's test cells, so hidden tests, hidden inputs and reference code cannot
appear; every value is HTML-escaped. A written answer waiting for the grader shows as pending (not a red 0); one
that changed after it was graded shows as waiting for re-grading with its earlier grade and comment. The raw
score, the late penalty and the final score are all shown. nbgrader's ``generate_feedback`` is deliberately
not used: it renders hidden test cells.

Bundles (``feedback --bundle``), per assignment and LMS, each with the upload steps next to it:

- Moodle: ``feedback-<a>-moodle.zip`` with one ``<Full Name>_<participant id>_assignsubmission_file/`` folder
  per student (Upload multiple feedback files in a zip);
- Canvas: ``feedback-<a>-canvas.zip`` of ``<name>_<user id>_<attachment id>_feedback-<a>.html`` (Re-Upload
  Submissions attaches each as a comment on that submission); students without a known attachment id get
  ``<user id>-<a>-feedback.html`` in ``feedback-<a>-canvas/`` to attach by hand;
- Blackboard: ``feedback-<a>-blackboard/<username>_<a>_feedback.html`` (attached per student);
- folder: ``feedback/<id>/<a>/feedback.html`` as written by ``write_feedback``.
"""

from __future__ import annotations

import html
import shutil
import zipfile
from pathlib import Path

from autograder.course import Course
from autograder.grade import load_outcome
from autograder.policy import Policy, assess, parse_time
from autograder.students import Registry

_CSS = """body{font-family:system-ui,sans-serif;max-width:52em;margin:2em auto;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4em;text-align:left;
vertical-align:top}.ok{color:#1a7f37}.bad{color:#b42318}.pending{color:#9a6700}code{background:#f4f4f4}"""

STEPS = {
    "moodle": "Moodle: open the assignment > View all submissions > Grading action 'Upload multiple feedback files "
    "in a zip' > choose this zip (the assignment needs the 'Feedback files' feedback type switched on). Moodle "
    "finds each student by the participant id in the folder name.",
    "canvas": "Canvas: open the assignment > 'Re-Upload Submissions' (right side) > choose this zip. Each file "
    "becomes a comment with the file attached on that student's submission (matched by user id and attachment id).",
    "canvas-manual": "Canvas: for each file, SpeedGrader > the student (the number in the file name is the Canvas "
    "user id) > Assignment Comments > attach the file > Submit.",
    "blackboard": "Blackboard: Grade Center > the assignment's column > the student's cell (the file name starts "
    "with the username) > View Grade Details > the attempt > Feedback to Learner > attach the file > Save.",
    "folder": "One folder per student id, holding feedback/<assignment>/feedback.html: hand each out as you "
    "received the submissions.",
}


def gradebook_view(course: Course, student: str, assignment: str) -> dict[str, dict]:
    """grade cell name -> {score, max, manual, auto, comment} from the gradebook ({} if not there); score is None
    while a cell waits for manual grading."""
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
                    # not g.score: nbgrader reports 0 for a cell graded neither by hand nor automatically
                    score = g.manual_score if g.manual_score is not None else g.auto_score
                    if score is not None and g.extra_credit:
                        score += g.extra_credit
                    out[g.name] = {
                        "score": score,
                        "max": g.max_score,
                        "manual": g.manual_score,
                        "auto": g.auto_score,
                        "comment": None,
                    }
                for cm in snb.comments:
                    if cm.name in out and cm.manual_comment:
                        out[cm.name]["comment"] = cm.manual_comment
    return out


def feedback_html(course: Course, student: str, assignment: str, policy: Policy | None = None) -> str | None:
    from autograder.intake.collect import load_record

    res = load_outcome(course, student, assignment)
    if res is None:
        return None
    who = Registry(course).student(student)
    meta = load_record(course, assignment)["students"].get(student, {})
    late = assess(
        policy or Policy(), assignment, who.lms_id, parse_time(meta.get("submitted_at")), meta.get("late_flag")
    )
    topic = course.topic(assignment)
    desc = {p.name: p.description for p in topic.parts}
    gbv = gradebook_view(course, student, assignment)
    rows, total, maximum, pending = [], 0.0, 0.0, 0.0
    for name, cell in res["cells"].items():
        g = gbv.get(name, {})
        score = g.get("score", cell["points"]) if g else cell["points"]
        maxp = cell["max_points"]
        maximum += maxp
        if cell.get("regrade"):
            cls, shown, why = "pending", "pending", cell["reason"]
            pending += maxp
        elif score is None:
            cls, shown, why = "pending", "pending", "waits for manual grading"
            pending += maxp
        else:
            total += score
            cls = "ok" if score >= maxp else "bad"
            shown = f"{score:g} / {maxp:g}"
            why = cell["reason"]
            if g.get("manual") is not None:
                why = f"graded by hand ({g['manual']:g}); autograder: {cell['reason']}"
        if g.get("comment") and not cell.get("regrade"):
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
            "Files in your submission that were not graded (only the notebook and your lib/deepkit modules are; "
            "the given modules always come from the course): " + ", ".join(intake["ignored"][:20])
        )
    notes += intake.get("notes", [])
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    head = f"{total:g} / {maximum:g}"
    if pending:
        head += f" so far ({pending:g} point(s) of written answers pending)"
    score_line = ""
    if late.late:
        final = late.apply(total)
        score_line = (
            f"<p class='bad'>Submitted {html.escape(late.summary())}. Score before the penalty: {total:g} / "
            f"{maximum:g}; after it: {final:g} / {maximum:g}{' so far' if pending else ''}.</p>"
        )
        head = (
            f"{final:g} / {maximum:g}" + (" so far" if pending else "") + f" (raw {total:g}, late -{late.percent:g}%)"
        )
    elif late.due is not None:
        score_line = f"<p>Submitted on time{' (extension)' if late.extension else ''}.</p>"
    name = f"{who.lms_id} ({who.name})" if who.name else who.lms_id
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(assignment)}: feedback</title>
<style>{_CSS}</style></head><body>
<h1>{html.escape(assignment)}: {html.escape(head)}</h1>
<p>Student: <code>{html.escape(name)}</code>. Graded {html.escape(res.get("graded_at", ""))}.
Your <code>lib/deepkit</code> was tested in a sandbox on hidden inputs against the reference; each library part
scores points &times; the fraction of hidden cases that matched.</p>
{score_line}
<table><tr><th>part</th><th>points</th><th>why</th></tr>{"".join(rows)}</table>
{f"<h2>Notes</h2><ul>{note_html}</ul>" if notes else ""}
<p><small>Run <code>python -m autograder check {html.escape(assignment[:2])}</code> in your course folder to
get the same report on your own machine.</small></p></body></html>
"""


def write_feedback(course: Course, pairs: list[tuple[str, str]], policy: Policy | None = None) -> list[Path]:
    written = []
    for student, assignment in pairs:
        page = feedback_html(course, student, assignment, policy)
        if page is None:
            continue
        dest = course.feedback / student / assignment / "feedback.html"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(page, encoding="utf-8")
        written.append(dest)
    return written


def write_bundles(
    course: Course, pairs: list[tuple[str, str]], policy: Policy | None, out: Path
) -> list[tuple[Path, str]]:
    """The LMS bundles of the feedback pages ``write_feedback`` wrote; (path, upload steps) per bundle."""
    from autograder.intake.collect import load_record
    from autograder.lms import blackboard, canvas, moodle

    registry = Registry(course)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple[str, str], list[str]] = {}
    for sid, a in sorted(pairs):
        if (course.feedback / sid / a / "feedback.html").is_file():
            groups.setdefault((a, registry.student(sid).lms), []).append(sid)
    made = []
    for (a, lms), sids in sorted(groups.items()):
        page = {sid: (course.feedback / sid / a / "feedback.html").read_bytes() for sid in sids}
        if lms == "moodle":
            path = out / f"feedback-{a}-moodle.zip"
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
                for sid in sids:
                    z.writestr(f"{moodle.feedback_folder(registry.student(sid))}/feedback-{a}.html", page[sid])
            made.append((path, STEPS["moodle"]))
        elif lms == "canvas":
            record = load_record(course, a)["students"]
            zpath, loose = out / f"feedback-{a}-canvas.zip", out / f"feedback-{a}-canvas"
            shutil.rmtree(loose, ignore_errors=True)
            with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
                for sid in sids:
                    s = registry.student(sid)
                    atts = (record.get(sid, {}).get("meta") or {}).get("attachments") or {}
                    att = max(atts.values()) if atts else None
                    if att is not None:
                        z.writestr(canvas.feedback_name(s, att, a), page[sid])
                    else:
                        loose.mkdir(parents=True, exist_ok=True)
                        (loose / canvas.feedback_name(s, None, a)).write_bytes(page[sid])
            made.append((zpath, STEPS["canvas"]))
            if loose.is_dir():
                made.append((loose, STEPS["canvas-manual"]))
        elif lms == "blackboard":
            folder = out / f"feedback-{a}-blackboard"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            for sid in sids:
                (folder / blackboard.feedback_name(registry.student(sid), a)).write_bytes(page[sid])
            made.append((folder, STEPS["blackboard"]))
        else:
            made.append((course.feedback, STEPS["folder"]))
    for path, steps in made:
        if path != course.feedback:
            Path(str(path) + ".README.txt").write_text(steps + "\n", encoding="utf-8")
    return made
