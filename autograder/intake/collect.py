"""``collect``: an LMS download (or a folder) -> ``submitted/<student id>/<assignment>/`` for every student, keyed
by the LMS's own id, with an intake table saying what was taken from whom.

Per student: the adapter of the LMS (``autograder/lms/``) names the student and orders the uploads; the newest
upload is kept whole (files are never mixed across uploads); ``archive.scan`` walks it within the submission's
budget; ``choose`` finds the notebook and the ``deepkit`` modules anywhere inside (a zip of the whole course
folder works) and writes them in the layout ``stage`` expects::

    submitted/<id>/<assignment>/<assignment>.ipynb
    submitted/<id>/<assignment>/lib/deepkit/<module>.py      (student modules only)

Nothing is written to a path taken from the upload. ``<work>/collected/<assignment>.csv`` (the table) and
``<assignment>.json`` (the LMS metadata: submission time, late flag, attempt, attachment ids) are written for
export, feedback and the late policy; ``<work>/students.json`` learns names, emails and SIS ids.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import autograder.lms as lms
from autograder.course import Course
from autograder.intake.archive import Budget, Found, Item, OverBudget, Unreadable, is_litter, scan
from autograder.intake.record import load_record, record_path
from autograder.policy import Policy, assess, parse_time
from autograder.safetext import cell, clean
from autograder.students import Registry, Student

COLUMNS = ["id", "name", "files", "attempt kept", "late", "notes"]


# --------------------------------------------------------------------------------------- choose the files
@dataclass
class Chosen:
    notebook: Item | None = None
    modules: dict[str, Item] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)


def _depth(path: str) -> int:
    return len(PurePosixPath(path).parts)


def _inner(path: str) -> str:
    """``path`` without its archive components (``sub.zip/lib/deepkit`` -> ``lib/deepkit``)."""
    return "/".join(p for p in PurePosixPath(path).parts if not p.lower().endswith(".zip")) or "."


def _is_exercise(data: bytes) -> bool:
    """An nbgrader notebook (cells with nbgrader metadata): the exercise, not a lecture of the same name."""
    return b'"nbgrader"' in data


def choose(found: Found, assignment: str, topic_modules: tuple[str, ...]) -> Chosen:
    """The notebook and the deepkit modules of one upload (``found``), by preference; ties that cannot be broken
    are reported as ambiguities (the first by path is taken)."""
    out = Chosen()
    # -- the notebook: the exercise (nbgrader cells) named like the assignment (also renamed by an LMS or a
    #    browser: "-1", " (1)", "_2"), from the newest upload part, shallowest.
    exact = re.compile(rf"^{re.escape(assignment)}\.ipynb$", re.IGNORECASE)
    close = re.compile(rf"^{re.escape(assignment)}[-_ ]?\(?\d+\)?\.ipynb$", re.IGNORECASE)
    cands = []
    for it in found.notebooks:
        name = PurePosixPath(it.path).name
        if name.lower().endswith("-checkpoint.ipynb"):
            continue
        score = 3 if exact.match(name) else 2 if close.match(name) else 1
        ex = _is_exercise(it.data)
        if score >= 2 or ex:
            cands.append(((not ex, it.rank, -score, _depth(it.path), it.path), it, score))
    cands.sort(key=lambda c: c[0])
    if cands:
        key, it, score = cands[0]
        out.notebook = it
        rivals = [c for c in cands[1:] if c[0][:4] == key[:4] and c[1].data != it.data]
        if rivals:
            out.ambiguous.append(
                "several notebooks could be the exercise: "
                + ", ".join(clean(c.path, 80) for c in [it] + [r[1] for r in rivals])
                + f"; took {clean(it.path, 80)}"
            )
        if score == 1:
            out.notes.append(f"notebook taken from {clean(it.path, 80)} (another name)")
        elif PurePosixPath(it.path).name != f"{assignment}.ipynb" or _depth(_inner(it.path)) > 1 + (
            PurePosixPath(_inner(it.path)).parts[0] == assignment
        ):
            out.notes.append(f"notebook found at {clean(it.path, 80)}")
    elif found.notebooks:
        out.notes.append(
            "no notebook of this assignment; found " + ", ".join(clean(i.path, 60) for i in found.notebooks[:5])
        )
    # -- the modules: one deepkit folder whole (newest upload part; most modules of this topic; lib/deepkit;
    #    shallowest), then loose module files (separate attachments) that are newer or fill a gap.
    folders: dict[str, dict[str, Item]] = {}
    loose: dict[str, Item] = {}
    for it in found.modules:
        p = PurePosixPath(it.path)
        m = p.stem
        if p.parent.name == "deepkit":
            if "reference" in p.parts[:-2]:
                out.notes.append(f"{clean(p.parent, 60)}/ ignored (the course's reference, not the student's)")
                continue
            folders.setdefault(str(p.parent), {}).setdefault(m, it)
        else:
            best = loose.get(m)
            if best is None or (it.rank, _depth(it.path)) < (best.rank, _depth(best.path)):
                loose[m] = it

    def key(path: str, mods: dict[str, Item]) -> tuple:
        is_lib = _inner(path).endswith("lib/deepkit") or _inner(path) == "deepkit"
        return (min(i.rank for i in mods.values()), -sum(m in mods for m in topic_modules), not is_lib, _depth(path))

    ranked = sorted(folders.items(), key=lambda kv: (key(*kv), kv[0]))
    base_rank = None
    if ranked:
        (path, mods), rest = ranked[0], ranked[1:]
        out.modules = dict(mods)
        base_rank = key(path, mods)[0]
        if not _inner(path).endswith("lib/deepkit"):
            out.notes.append(f"lib taken from {clean(path, 80)}/")
        for other, omods in rest:
            differs = any(omods[m].data != mods[m].data if m in mods else True for m in omods)
            if key(other, omods) == key(path, mods) and differs:
                out.ambiguous.append(f"two deepkit folders: {clean(path, 60)}/ and {clean(other, 60)}/; took the first")
            else:
                out.notes.append(f"{clean(other, 60)}/ not taken (another copy of deepkit)")
    for m, it in sorted(loose.items()):
        if m not in out.modules:
            out.modules[m] = it
            if _depth(_inner(it.path)) > 1 or base_rank is not None:
                out.notes.append(f"lib/deepkit/{m}.py taken from {clean(it.path, 60)}")
        elif base_rank is not None and it.rank < base_rank:
            out.modules[m] = it
            out.notes.append(f"lib/deepkit/{m}.py taken from {clean(it.path, 60)} (a newer upload part)")
    return out


# ---------------------------------------------------------------------------------------------- the table
@dataclass
class Row:
    """One line of the intake table (one student, or one entry that could not be attributed)."""

    lms_id: str
    sid: str = ""
    name: str = ""
    files: str = ""
    attempt: str = ""
    late: str = ""
    notes: list[str] = field(default_factory=list)
    status: str = "ok"  # ok | flagged | ambiguous | skipped | ignored (OS litter: listed, not a problem)

    def cells(self) -> list[str]:
        ident = self.lms_id if not self.sid or self.sid == self.lms_id else f"{self.lms_id} (as {self.sid})"
        flag = {
            "ok": "",
            "flagged": "FLAG: ",
            "ambiguous": "AMBIGUOUS: ",
            "skipped": "SKIPPED: ",
            "ignored": "ignored: ",
        }[self.status]
        return [ident, self.name, self.files, self.attempt, self.late, flag + "; ".join(self.notes)]


@dataclass
class CollectResult:
    lms: str
    message: str
    assignment: str
    rows: list[Row] = field(default_factory=list)
    table_path: Path | None = None

    @property
    def collected(self) -> list[Row]:
        return [r for r in self.rows if r.status not in ("skipped", "ignored") and r.sid]

    @property
    def problems(self) -> list[Row]:
        """Skipped entries and ambiguities: ``collect`` exits non-zero on any (unless told to proceed)."""
        return [r for r in self.rows if r.status in ("skipped", "ambiguous")]

    def table(self, width: int = 60) -> str:
        """The intake table as aligned text (every value cleaned: safe for a terminal)."""
        from wcwidth import wcswidth

        def w(s: str) -> int:  # display width: CJK characters take two columns
            return max(wcswidth(s), len(s))

        rows = [COLUMNS] + [[clean(c, width) for c in r.cells()] for r in self.rows]
        widths = [max(w(r[i]) for r in rows) for i in range(len(COLUMNS))]
        lines = ["  ".join(c + " " * (n - w(c)) for c, n in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- collect
def read_times(path: Path, tz) -> dict[str, datetime]:
    """``--times``: a CSV of LMS submission times (columns ``id`` and ``submitted_at``)."""
    out = {}
    for row in lms.base.read_table(path):
        sid = lms.base.column(row, "id", "user_id", "lms_id", "username")
        t = parse_time(lms.base.column(row, "submitted_at", "submitted", "time"), tz)
        if sid and t is not None:
            out[sid] = t
    return out


def is_download_litter(name: str) -> bool:
    """A top-level entry an operating system or tool adds when a download is unzipped and zipped again: what
    ``archive.is_litter`` names (``__MACOSX/``, ``._<name>``, ``.DS_Store``, caches) and Windows' ``Thumbs.db``,
    ``desktop.ini``."""
    return is_litter(name) or name in ("Thumbs.db", "desktop.ini")


def _claimed_by_named_lms(entry, assignment: str) -> bool:
    """Whether a single top-level folder is a submission itself (not a folder wrapping the download)."""
    if any(lms.ADAPTERS[n].claims(entry) for n in ("canvas", "moodle", "blackboard")):
        return True
    tops = {PurePosixPath(n.path).parts[0] for n in entry.nodes if n.path}
    return bool(tops & {"lib", "deepkit", assignment, f"{assignment}.ipynb"})


def collect(
    course: Course,
    source: Path,
    assignment: str,
    lms_name: str | None = None,
    roster: Path | None = None,
    times: Path | None = None,
    policy: Policy | None = None,
    budget: Budget | None = None,
) -> CollectResult:
    """Collect every student's newest upload of ``assignment`` from ``source`` (an LMS zip or a folder)."""
    policy = policy or Policy()
    budget = budget or Budget()
    topic = course.find(assignment)
    modules = course.student_modules
    with lms.Download(Path(source)) as dl:
        dl.unwrap(lambda e: _claimed_by_named_lms(e, assignment))
        entries, litter = [], []
        for e in dl.entries():
            (litter if is_download_litter(e.name) else entries).append(e)
        if not entries:
            raise SystemExit(f"{source}: the download holds no submissions")
        if lms_name:
            adapter = lms.get(lms_name)
            message = f"{adapter.title} (--lms {lms_name})"
        else:
            adapter, message = lms.detect(entries)
        res = CollectResult(adapter.name, message, assignment)
        for e in litter:  # listed, so nothing leaves the download unaccounted for; never a problem
            what = "folder" if e.is_dir else "file"
            res.rows.append(Row(clean(e.name, 60), notes=[f"{what} written by macOS or a tool, not a submission"],
                                status="ignored"))  # fmt: skip
        uploads, skipped = adapter.uploads(entries, policy.timezone)
        for s in skipped:
            name, _, why = s.partition(": ")
            res.rows.append(Row(name, notes=[why], status="skipped"))
        people = {}
        if roster:
            people = adapter.read_roster(Path(roster), policy.timezone)
            if not people:
                raise SystemExit(f"{roster}: no student rows read (is it the {adapter.title} roster export?)")
            keep = roster_copy(course, adapter.name, assignment)
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(roster, keep)
        when = read_times(Path(times), policy.timezone) if times else {}
        registry = Registry(course)
        record = load_record(course, assignment)
        by_id: dict[str, list] = {}
        for up in uploads:
            by_id.setdefault(up.lms_id, []).append(up)
        for _, ups in sorted(by_id.items(), key=lambda kv: _sort_key(kv[0])):
            res.rows.append(
                _collect_one(
                    course,
                    assignment,
                    topic.modules,
                    modules,
                    adapter,
                    ups,
                    people,
                    when,
                    policy,
                    budget,
                    registry,
                    record,
                )
            )
    _same_names(res.rows)
    titles = Counter(u.meta["assignment_title"] for u in uploads if u.meta.get("assignment_title"))
    if titles:
        record["lms_assignment"] = titles.most_common(1)[0][0]
    if people:
        seen = {r.lms_id for r in res.rows}
        missing = sorted(set(people) - seen, key=_sort_key)
        if missing:
            res.message += f"; {len(missing)} student(s) of the roster sent nothing for this assignment"
    registry.save()
    res.table_path = _write_record(course, assignment, res, record)
    return res


def _sort_key(lms_id: str):
    return (0, int(lms_id), "") if lms_id.isdigit() else (1, 0, lms_id)


def _collect_one(
    course, assignment, topic_modules, modules, adapter, ups, people, when, policy, budget, registry, record
) -> Row:
    kept, notes = adapter.pick(ups)
    lms_id = kept.lms_id
    person = people.get(lms_id)
    student = Student(adapter.name, lms_id, name=kept.name)
    if person is not None:
        student = person
        student.lms = adapter.name
    if adapter.name == "moodle":  # participant ids are per assignment
        student.extra["assignment"] = assignment
    if "file_name" in kept.meta:
        student.extra["file_name"] = kept.meta["file_name"]
    sid = registry.add(student)
    row = Row(lms_id, sid, clean(student.name, 60), attempt=kept.label, notes=list(notes) + list(kept.notes))
    if not getattr(adapter, "ordered", True) and len(ups) > 1:
        row.status = "ambiguous"
        row.notes.insert(0, f"{len(ups)} entries for this id and no LMS order between them; kept {kept.label}")
    if people and person is None:
        row.status = "ambiguous"
        row.notes.insert(0, "not in the roster")
    dest = course.submitted / sid / assignment
    try:
        found = scan(kept.nodes, budget.fresh(), modules)
    except (Unreadable, OverBudget) as exc:
        if dest.exists():
            shutil.rmtree(dest)
        row.status = "skipped"
        row.files = "-"
        row.notes.insert(0, f"upload not collected: {exc}")
        record["students"].pop(sid, None)
        return row
    chosen = choose(found, assignment, topic_modules)
    row.notes += found.notes + chosen.notes
    if chosen.ambiguous:
        row.status = "ambiguous"
        row.notes = chosen.ambiguous + row.notes
    # -- write the submission in the layout stage expects
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "lib" / "deepkit").mkdir(parents=True)
    if chosen.notebook is not None:
        (dest / f"{assignment}.ipynb").write_bytes(chosen.notebook.data)
    for m, it in sorted(chosen.modules.items()):
        (dest / "lib" / "deepkit" / f"{m}.py").write_bytes(it.data)
    # -- what the instructor must know at collect time
    missing = [m for m in topic_modules if m not in chosen.modules]
    flags = []
    if chosen.notebook is None:
        flags.append(f"no {assignment}.ipynb: the notebook's parts and written answers will score 0")
    elif (why := _unreadable_notebook(chosen.notebook.data)) is not None:
        flags.append(f"{assignment}.ipynb {why}: the notebook's parts and written answers will score 0")
    if missing and len(missing) == len(topic_modules):
        flags.append("no lib/deepkit modules of this topic: its library parts will score 0 (notebook-only upload?)")
    elif missing:
        flags.append(
            ", ".join(f"lib/deepkit/{m}.py" for m in missing) + " missing: the parts that need it will score 0"
        )
    if flags and row.status == "ok":
        row.status = "flagged"
    row.notes = flags + row.notes
    got = [m for m in topic_modules if m in chosen.modules]
    row.files = (f"{assignment}.ipynb" if chosen.notebook else "NO NOTEBOOK") + (
        f" + lib: {' '.join(got)}" if got else " + NO LIB"
    )
    if found.others:
        row.notes.append(f"{found.others} other file(s) not taken")
    if found.litter:
        row.notes.append(f"{found.litter} file(s) of caches or OS folders (__MACOSX, .git, checkpoints) not opened")
    # -- when (LMS metadata only)
    submitted = when.get(lms_id) or parse_time(student.extra.get("submitted_at")) or kept.submitted_at
    late = assess(policy, assignment, lms_id, submitted, kept.late_flag)
    if late.due is not None:
        row.late = late.summary()
        if not late.known:
            row.status = "ambiguous"
            row.notes.insert(0, "no submission time from the LMS (give --roster/--times)")
    else:
        row.late = {True: "yes (LMS flag)", False: "no"}.get(kept.late_flag, "-") if submitted is None else "-"
        if submitted is not None:
            row.late = f"submitted {submitted:%Y-%m-%d %H:%M}"
    record["students"][sid] = {
        "lms": adapter.name,
        "lms_id": lms_id,
        "name": student.name,
        "attempt": kept.label,
        "submitted_at": submitted.isoformat() if submitted else None,
        "late_flag": kept.late_flag,
        "files": row.files,
        "status": row.status,
        "notes": [clean(n, 300) for n in row.notes],
        "meta": kept.meta,
        "collected_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return row


def _unreadable_notebook(data: bytes) -> str | None:
    """Why ``data`` cannot be a notebook (an empty upload, a file that is not notebook JSON), or None."""
    if not data.strip():
        return "is empty (0 bytes uploaded)"
    try:
        nb = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        return "is not a notebook (not JSON)"
    return None if isinstance(nb, dict) and isinstance(nb.get("cells"), list) else "is not a notebook (no cells)"


def _same_names(rows: list[Row]) -> None:
    counts = Counter(r.name.casefold() for r in rows if r.name and r.sid)
    for r in rows:
        if r.name and r.sid and counts[r.name.casefold()] > 1:
            others = [o.lms_id for o in rows if o is not r and o.sid and o.name.casefold() == r.name.casefold()]
            r.notes.append(f"same name as {', '.join(others)} (a different student: kept apart by id)")


def roster_copy(course: Course, lms_name: str, assignment: str) -> Path:
    """Where collect keeps the roster it was given, for the export (Moodle's worksheet is per assignment)."""
    name = f"roster-{lms_name}-{assignment}.csv" if lms_name == "moodle" else f"roster-{lms_name}.csv"
    return course.work / "collected" / name


def _write_record(course: Course, assignment: str, res: CollectResult, record: dict) -> Path:
    record.update(
        lms=res.lms,
        assignment=assignment,
        detected=res.message,
        collected_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    p = record_path(course, assignment)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(record, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    table = p.with_suffix(".csv")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS + ["status"])
    for r in res.rows:
        w.writerow([cell(c) for c in r.cells()] + [r.status])
    table.write_text(buf.getvalue(), encoding="utf-8")
    return table
