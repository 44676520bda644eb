"""``python -m autograder similarity --assignment NN``: which students' implementations are suspiciously alike.

For every collected submission of the assignment, the student's modules of that topic (``submitted/<id>/<a>/
lib/deepkit/<module>.py``) are fingerprinted with copydetect (winnowing over a token stream in which names,
strings and comments are normalised away, as MOSS does), with the released stub of each module as boilerplate:
the given signatures, docstrings and input validation every student received match nothing. Every pair is
compared; the report lists the pairs from the most similar down, flags those at or above the threshold, and
shows the top pairs side by side with the shared code highlighted. The reference solution takes part as
``[reference]`` (a copy of a leaked solution shows up too).

It flags, never grades: nothing is written to the gradebook. Student code is untrusted: the report is a
static HTML page (inline CSS, no script, nothing fetched) and every piece of code and every name is escaped.
"""

from __future__ import annotations

import html
import io
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import Course
from autograder.intake.stage import _read_regular
from autograder.safetext import clean
from autograder.students import Registry

NOISE_T = 25  # shortest matching run of normalised characters that counts (copydetect's noise threshold)
GUARANTEE_T = 30  # matches this long are always found (winnowing window = GUARANTEE_T - NOISE_T + 1)
MIN_TOKENS = 40  # fewer normalised characters beyond the stub: nothing to compare (an unattempted exercise)
REFERENCE = "[reference]"


@dataclass
class Pair:
    a: str
    b: str
    similarity: float  # the larger of the two shares of code found in the other
    share_a: float
    share_b: float
    shown_a: str = ""  # escaped HTML with <mark> around the shared code
    shown_b: str = ""


@dataclass
class Result:
    assignment: str
    compared: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    pairs: list[Pair] = field(default_factory=list)
    threshold: float = 0.6

    @property
    def flagged(self) -> list[Pair]:
        return [p for p in self.pairs if p.similarity >= self.threshold]

    def summary(self) -> str:
        lines = [
            f"{self.assignment}: {len(self.compared)} implementation(s) compared, {len(self.pairs)} pair(s); "
            f"{len(self.flagged)} at or above {self.threshold:.0%}"
            + (f"; {len(self.skipped)} without code beyond the stub" if self.skipped else "")
        ]
        for p in self.flagged[:20]:
            lines.append(f"  {p.similarity:6.1%}  {clean(p.a, 40)}  ~  {clean(p.b, 40)}")
        return "\n".join(lines)


def _module_sources(course: Course, sid: str, assignment: str, modules: tuple[str, ...]) -> str | None:
    parts = []
    for m in modules:
        if sid == REFERENCE:
            data = (course.ref_lib / "deepkit" / f"{m}.py").read_bytes()
        else:
            data, _ = _read_regular(course.submitted / sid / assignment / "lib" / "deepkit" / f"{m}.py", 1024**2)
        if data is None:
            continue
        parts.append(f"# ===== lib/deepkit/{m}.py =====\n" + data.decode("utf-8", errors="replace"))
    return "\n".join(parts) if parts else None


def report(
    course: Course, assignment: str, out: Path, threshold: float = 0.6, top: int = 20, with_reference: bool = True
) -> Result:
    """Compare every pair of implementations of ``assignment`` and write the HTML report to ``out``."""
    from copydetect import CodeFingerprint, compare_files
    from copydetect.utils import highlight_overlap

    from autograder.intake.stage import submissions

    topic = course.find(assignment)
    registry = Registry(course)
    res = Result(assignment, threshold=threshold)
    stub = _module_sources_stub(course, topic.modules)
    win = GUARANTEE_T - NOISE_T + 1
    boiler = CodeFingerprint("stub.py", NOISE_T, 1, fp=io.StringIO(stub), language="python")  # every k-gram
    boilerplate = list(boiler.hashes)
    prints = {}
    sids = [s for s, _ in submissions(course, assignment)] + ([REFERENCE] if with_reference else [])
    for sid in sids:
        code = _module_sources(course, sid, assignment, topic.modules)
        if code is None:
            res.skipped[sid] = "no module of this topic"
            continue
        fp = CodeFingerprint(
            f"{sid}.py", NOISE_T, win, boilerplate=boilerplate, fp=io.StringIO(code), language="python"
        )
        if fp.token_coverage < MIN_TOKENS:
            res.skipped[sid] = "nothing beyond the released stub"
            continue
        prints[sid] = fp
        res.compared.append(sid)
    for a, b in itertools.combinations(res.compared, 2):
        _, (sa, sb), _ = compare_files(prints[a], prints[b])
        res.pairs.append(Pair(a, b, float(max(sa, sb)), float(sa), float(sb)))
    res.pairs.sort(key=lambda p: (-p.similarity, p.a, p.b))
    for p in res.pairs[:top]:
        _, _, (sl_a, sl_b) = compare_files(prints[p.a], prints[p.b])
        p.shown_a = _highlight(prints[p.a].raw_code, sl_a, highlight_overlap)
        p.shown_b = _highlight(prints[p.b].raw_code, sl_b, highlight_overlap)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_html(res, registry, top), encoding="utf-8")
    return res


def _module_sources_stub(course: Course, modules: tuple[str, ...]) -> str:
    parts = []
    for m in modules:
        p = course.stub_lib / "deepkit" / f"{m}.py"
        if p.is_file():
            parts.append(f"# ===== lib/deepkit/{m}.py =====\n" + p.read_text(encoding="utf-8"))
    return "\n".join(parts)


def _highlight(code: str, slices, highlight_overlap) -> str:
    if len(slices) == 0 or slices.shape[1] == 0:
        return html.escape(code)
    shown, _ = highlight_overlap(code, slices, "<mark>", "</mark>", escape_html=True)
    return shown


def _who(registry: Registry, sid: str) -> str:
    if sid == REFERENCE:
        return "the reference solution"
    s = registry.student(sid)
    return clean(f"{s.lms_id} ({s.name})" if s.name else s.lms_id, 80)


def _html(res: Result, registry: Registry, top: int) -> str:
    e = html.escape
    rows = "".join(
        f"<tr class='{'flag' if p.similarity >= res.threshold else ''}'><td>{p.similarity:.0%}</td>"
        f"<td>{e(_who(registry, p.a))}</td><td>{p.share_a:.0%}</td><td>{e(_who(registry, p.b))}</td>"
        f"<td>{p.share_b:.0%}</td></tr>"
        for p in res.pairs
    )
    sides = "".join(
        f"<h2>{p.similarity:.0%}: {e(_who(registry, p.a))} and {e(_who(registry, p.b))}</h2>"
        f"<div class='side'><div><h3>{e(_who(registry, p.a))} ({p.share_a:.0%} shared)</h3><pre>{p.shown_a}</pre>"
        f"</div><div><h3>{e(_who(registry, p.b))} ({p.share_b:.0%} shared)</h3><pre>{p.shown_b}</pre></div></div>"
        for p in res.pairs[:top]
    )
    skipped = "".join(f"<li>{e(_who(registry, s))}: {e(why)}</li>" for s, why in res.skipped.items())
    return f"""<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>similarity: {e(res.assignment)}</title><style>
body{{font-family:system-ui,sans-serif;margin:1.5em;color:#222}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}}tr.flag td{{background:#fde8e8}}
.side{{display:flex;gap:1em}}.side>div{{flex:1;min-width:0}}pre{{background:#f6f6f6;padding:.6em;overflow:auto;
font-size:12px}}mark{{background:#ffd666}}</style></head><body>
<h1>Similarity of the implementations of {e(res.assignment)}</h1>
<p>{len(res.compared)} implementations, {len(res.pairs)} pairs. The released stub (signatures, docstrings,
input validation) is removed before comparing; names, strings and comments do not count (copydetect, winnowing).
Pairs at or above {res.threshold:.0%} are flagged. This is a prompt for a human look, not a verdict: short
exercises make honest solutions alike, and no grade is changed.</p>
<table><tr><th>similarity</th><th>student</th><th>share</th><th>student</th><th>share</th></tr>{rows}</table>
{f"<h2>Not compared</h2><ul>{skipped}</ul>" if skipped else ""}
{sides}</body></html>
"""
