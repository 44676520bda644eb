"""Due dates, extensions and late penalties, from the course's configuration file (TOML).

The submission time always comes from the LMS (the attempt time in a Blackboard download, the "Last modified
(submission)" column of Moodle's grading worksheet, a submission-times export for Canvas, or the LMS's own late
flag), never from the student's machine (``timestamp.txt`` in a submission is ignored for lateness). The raw
score is kept everywhere; the penalty is applied on top of it in the export and shown in the feedback.

The file (``--policy FILE``; default ``<work>/policy.toml``; see ``autograder/policy.example.toml``)::

    timezone = "Europe/Zurich"      # for times written without an offset (due dates, LMS downloads)

    [late]                          # the course's rule (an assignment may override any key)
    per_day = 10                    # percent of the raw score per day late; every started day counts
    cap = 50                        # never more than this percent
    zero_after_days = 7             # later than this many days: the score is 0
    grace_minutes = 10              # submissions this close to the due date are on time
    flagged_days = 1                # an LMS late flag without a time (Canvas) counts as this many days

    [assignments.01_softmax]
    due = 2026-10-20T23:59:00       # or with an offset: 2026-10-20T23:59:00+02:00
    late = { per_day = 20 }
    column = "Exercise 1"           # its column in the LMS gradebook, when the export cannot tell

    [extensions]                    # per student (the LMS id) and assignment: a new due date or extra days
    "12345" = { "01_softmax" = 2026-10-23T23:59:00, "02_activations" = 3 }
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY = timedelta(days=1)


@dataclass(frozen=True)
class LateRule:
    per_day: float = 0.0  # percent per started day
    cap: float = 100.0  # percent
    zero_after_days: float | None = None
    grace_minutes: float = 0.0
    flagged_days: float = 1.0

    def percent(self, days: float) -> float:
        """Penalty in percent of the raw score for ``days`` (whole, started) days late."""
        if days <= 0:
            return 0.0
        if self.zero_after_days is not None and days > self.zero_after_days:
            return 100.0
        return float(min(self.cap, self.per_day * days, 100.0))

    def describe(self) -> str:
        parts = [f"{self.per_day:g}% per started day late"]
        if self.cap < 100:
            parts.append(f"at most {self.cap:g}%")
        if self.zero_after_days is not None:
            parts.append(f"0 after {self.zero_after_days:g} days")
        return ", ".join(parts)


@dataclass
class Policy:
    timezone: tzinfo = UTC
    rule: LateRule = field(default_factory=LateRule)
    due: dict[str, datetime] = field(default_factory=dict)  # assignment -> due date
    rules: dict[str, LateRule] = field(default_factory=dict)  # assignment -> its own rule
    extensions: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (lms id, assignment) -> due
    columns: dict[str, str] = field(default_factory=dict)  # assignment -> its column name in the LMS gradebook
    source: str = ""

    def rule_for(self, assignment: str) -> LateRule:
        return self.rules.get(assignment, self.rule)

    def due_for(self, assignment: str, lms_id: str) -> tuple[datetime | None, bool]:
        """(due date for this student, whether it is an extension)."""
        ext = self.extensions.get((str(lms_id), assignment))
        return (ext, True) if ext is not None else (self.due.get(assignment), False)


@dataclass(frozen=True)
class Lateness:
    """How late one submission was under the policy, and what it costs."""

    submitted_at: datetime | None
    due: datetime | None
    extension: bool = False
    days: float = 0.0  # whole started days late (0: on time)
    percent: float = 0.0  # penalty, percent of the raw score
    known: bool = True  # False: the policy has a due date but the LMS gave neither a time nor a flag
    source: str = ""  # where the time came from ("LMS time", "Canvas late flag", ...)

    @property
    def late(self) -> bool:
        return self.days > 0

    def apply(self, raw: float) -> float:
        """The score after the penalty (raw kept by the caller), rounded to 2 decimals as LMS gradebooks do."""
        return round(raw * (1.0 - self.percent / 100.0), 2)

    def summary(self) -> str:
        if not self.known:
            return "unknown (no submission time from the LMS)"
        if self.due is None:
            return "no due date" if self.submitted_at is None else "no due date set"
        if not self.late:
            return "on time" + (" (extension)" if self.extension else "")
        return f"{self.days:g} day(s) late ({self.source}): -{self.percent:g}%"


def _tz(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SystemExit(f"policy: unknown timezone {name!r} (use an IANA name such as 'Europe/Zurich')") from None


def _as_datetime(value, tz: tzinfo, what: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(23, 59, 59), tz)
    if isinstance(value, str):
        t = parse_time(value, tz)
        if t is not None:
            return t
    raise SystemExit(f"policy: {what}: not a date and time ({value!r})")


def _rule(d: dict, base: LateRule, what: str) -> LateRule:
    known = set(LateRule.__dataclass_fields__)
    bad = set(d) - known
    if bad:
        raise SystemExit(f"policy: {what}: unknown key(s) {', '.join(sorted(bad))} (known: {', '.join(sorted(known))})")
    try:
        rule = replace(base, **{k: (None if v is None else float(v)) for k, v in d.items()})
    except (TypeError, ValueError):
        raise SystemExit(f"policy: {what}: numbers expected") from None
    if rule.per_day < 0 or not 0 <= rule.cap <= 100:
        raise SystemExit(f"policy: {what}: per_day must be >= 0 and cap between 0 and 100")
    return rule


def load_policy(path: Path | None, assignments: list[str] | None = None) -> Policy:
    """Read the policy file (``None`` or a missing default file: no due dates, no penalties)."""
    if path is None or not Path(path).is_file():
        return Policy()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SystemExit(f"policy {path}: {exc}") from None
    tz = _tz(data.get("timezone", "UTC"))
    pol = Policy(timezone=tz, source=str(path))
    pol.rule = _rule(data.get("late", {}), LateRule(), "[late]")
    for name, conf in (data.get("assignments") or {}).items():
        if assignments is not None and name not in assignments:
            raise SystemExit(
                f"policy: [assignments.{name}]: not an assignment of this course ({', '.join(assignments)})"
            )
        if "due" in conf:
            pol.due[name] = _as_datetime(conf["due"], tz, f"[assignments.{name}] due")
        if "late" in conf:
            pol.rules[name] = _rule(conf["late"], pol.rules.get(name, pol.rule), f"[assignments.{name}] late")
        if "column" in conf:
            pol.columns[name] = str(conf["column"])
        unknown = set(conf) - {"due", "late", "column"}
        if unknown:
            raise SystemExit(f"policy: [assignments.{name}]: unknown key(s) {', '.join(sorted(unknown))}")
    for lms_id, per in (data.get("extensions") or {}).items():
        for name, value in per.items():
            if name not in pol.due:
                raise SystemExit(f"policy: extension of {lms_id} for {name}: that assignment has no due date")
            if isinstance(value, int | float) and not isinstance(value, bool):
                pol.extensions[(str(lms_id), name)] = pol.due[name] + timedelta(days=float(value))
            else:
                pol.extensions[(str(lms_id), name)] = _as_datetime(value, tz, f"extension of {lms_id} for {name}")
    return pol


def parse_time(text: str | None, tz: tzinfo = UTC) -> datetime | None:
    """An LMS time string (ISO 8601, or the long forms Moodle and Blackboard print, e.g. "Monday, 20 November
    2023, 10:15 PM" or "Monday, November 20, 2023 10:15:32 PM EST") as an aware datetime; ``tz`` is used when
    the text has no offset. None for an empty value or "-"."""
    if text is None:
        return None
    s = str(text).strip()
    if not s or s == "-":
        return None
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        import warnings

        from dateutil import parser as dparser

        try:
            with warnings.catch_warnings():  # an unknown zone abbreviation ("CEST"): the course timezone applies
                warnings.simplefilter("ignore")
                t = dparser.parse(s, tzinfos={"UTC": UTC, "GMT": UTC, "Z": UTC})
        except (ValueError, OverflowError, dparser.ParserError):
            return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=tz)
    return t


def assess(
    policy: Policy, assignment: str, lms_id: str, submitted_at: datetime | None, late_flag: bool | None = None
) -> Lateness:
    """Lateness of one submission: from the LMS time when known, else from the LMS's own late flag."""
    due, ext = policy.due_for(assignment, lms_id)
    rule = policy.rule_for(assignment)
    if due is None:
        return Lateness(submitted_at, None, ext)
    if submitted_at is not None:
        over = submitted_at - due - timedelta(minutes=rule.grace_minutes)
        days = float(math.ceil(over / DAY)) if over > timedelta(0) else 0.0
        return Lateness(submitted_at, due, ext, days, rule.percent(days), True, "LMS submission time")
    if late_flag:
        if ext:  # the LMS measured against its own due date; this student has an extension it may not know
            return Lateness(None, due, ext, 0.0, 0.0, True, "LMS late flag, extension granted")
        days = rule.flagged_days
        return Lateness(None, due, ext, days, rule.percent(days), True, "LMS late flag without a time")
    if late_flag is False:
        return Lateness(None, due, ext, 0.0, 0.0, True, "LMS: not late")
    return Lateness(None, due, ext, 0.0, 0.0, False, "")


def default_path(work: Path) -> Path:
    return Path(work) / "policy.toml"
