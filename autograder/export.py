"""Exporting grades: a CSV of every grade cell's score, the total, the maximum and the reason per submission."""

from __future__ import annotations

import csv
from pathlib import Path

from autograder.course import Course
from autograder.feedback import gradebook_view
from autograder.grade import load_outcome


def export_csv(course: Course, pairs: list[tuple[str, str]], out: Path) -> Path:
    """One row per (student, assignment): every grade cell's score, total, max and the reason."""
    rows, cells = [], []
    for student, assignment in pairs:
        res = load_outcome(course, student, assignment)
        if res is None:
            continue
        gbv = gradebook_view(course, student, assignment)
        row = {"student": student, "assignment": assignment}
        total = 0.0
        for name, cell in res["cells"].items():
            col = name if len({a for _, a in pairs}) == 1 else f"{assignment}:{name}"
            if col not in cells:
                cells.append(col)
            score = gbv[name]["score"] if name in gbv else cell["points"]
            row[col] = "" if score is None else f"{score:g}"
            total += score or 0.0
        row.update(total=f"{total:g}", max=f"{res['max']:g}", reason=res["reason"])
        rows.append(row)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["student", "assignment", *cells, "total", "max", "reason"])
        w.writeheader()
        w.writerows(rows)
    return out
