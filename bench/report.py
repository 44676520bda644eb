"""Formatting of the benchmark results: console lines, bench/results/README.md and latest.json."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np

from bench.layers import ROOT, Result

GRADING_JSON = ROOT / "bench" / "results" / "grading.json"
LAYER_COLUMNS = ("layer", "shape", "deepkit ms", "torch ms", "ratio", "best-run ratio")
LAYER_HEADER = f"{'layer':<26} {'shape':<32} {'deepkit ms':>10} {'torch ms':>9} {'ratio':>6} {'best-run ratio':>14}"


def _num(v: float | None, fmt: str) -> str:
    return "-" if v is None or not math.isfinite(v) else format(v, fmt)


def layer_line(r: Result) -> str:
    if r.ratio is None:
        return f"{r.layer:<26} {r.shape:<32} {r.status}"
    return f"{r.layer:<26} {r.shape:<32} {r.deepkit_ms:10.3f} {r.torch_ms:9.3f} {r.ratio:6.2f} {r.min_ratio:14.2f}"


def notebook_line(row: dict) -> str:
    return f"  {row['seconds']:7.2f} s  {row['notebook']}" + ("" if row["outcome"] == "ok" else f"  ({row['outcome']})")


def summary(results: list[Result]) -> dict:
    """How many cases were timed / missing, the geometric mean of the ratios and the worst case."""
    timed = [r for r in results if r.ratio is not None]
    out = {"timed": len(timed), "missing": len(results) - len(timed), "geomean_ratio": None, "worst": None}
    if timed:
        out["geomean_ratio"] = round(math.exp(sum(math.log(r.ratio) for r in timed) / len(timed)), 2)
        worst = max(timed, key=lambda r: r.ratio)
        out["worst"] = f"{worst.layer} ({worst.shape}): {worst.ratio:.2f}"
    return out


def summary_text(s: dict) -> str:
    return (
        f"{s['timed']} cases timed, {s['missing']} missing; geometric-mean ratio "
        f"{_num(s['geomean_ratio'], '.2f')}; slowest relative to torch: {s['worst'] or '-'}"
    )


def machine(threads: str, torch_threads: int) -> dict:
    import torch

    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{i.get('internal_api')} {i.get('num_threads')} thread(s)"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        )
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        blas = "unknown"
    desc = (
        "single-threaded: OPENBLAS/OMP/MKL_NUM_THREADS=1 before NumPy loads, torch.set_num_threads(1)"
        if threads == "1"
        else "both libraries at their default thread counts"
    )
    return {
        "threads": desc,
        "numpy_blas": blas,
        "torch_threads": torch_threads,
        "numpy": np.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def grading() -> dict | None:
    if not GRADING_JSON.is_file():
        return None
    try:
        return json.loads(GRADING_JSON.read_text())
    except ValueError:
        return None


def browser_latency() -> tuple[dict | None, str]:
    """The newest browser widget latencies (tests/test_browser.py writes build/results/widget_latency.json;
    an UPDATE_RESULTS=1 run writes bench/results/) and a sentence saying where they came from."""
    from bench import results_file

    path = results_file("widget_latency.json")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None, "not measured: run tests/test_browser.py (make test) to record it"
    m = data.get("machine", {})
    load = m.get("load_avg_1min")
    when = f"measured {m.get('measured', '?')}" + (f", 1-min load average {load:.1f}" if load is not None else "")
    return data, f"from {path.relative_to(ROOT)}, written by tests/test_browser.py ({when})"


def browser_lines(data: dict | None) -> list[str]:
    if not data:
        return []
    goal = data.get("goal_median_ms", 150.0)
    out = [f"  {'explorer':<52} {'median':>7} {'p90':>7} {'n':>3}  (ms, input event to new image)"]
    for name, e in data.get("explorers", {}).items():
        flag = "" if e["median_ms"] <= goal else f"  > {goal:g}"
        out.append(f"  {name:<52} {e['median_ms']:>7.1f} {e['p90_ms']:>7.1f} {e['n']:>3}{flag}")
    return out


def widget_cpu_lines(cpu: dict | None) -> list[str]:
    """Per explorer: its slowest control's median / p90 CPU ms per redraw."""
    if not cpu:
        return []
    out = [f"  {'explorer':<28} {'slowest control':<16} {'median':>7} {'p90':>7}  (CPU ms per redraw)"]
    for name, controls in cpu.items():
        control, s = max(controls.items(), key=lambda kv: kv[1]["median_ms"])
        out.append(f"  {name:<28} {control:<16} {s['median_ms']:>7.1f} {s['p90_ms']:>7.1f}")
    return out


def grading_text(g: dict | None) -> str:
    """One line from ``python -m autograder bench``'s bench/results/grading.json (its ``run()`` result)."""
    if g is None:
        return f"no {GRADING_JSON.relative_to(ROOT)} yet (written by `python -m autograder bench`): not measured"
    goal = g.get("goal")
    if not isinstance(goal, dict) or not g.get("topics"):
        return f"{GRADING_JSON.relative_to(ROOT)} is in an older format: run `python -m autograder bench` again"
    return (
        f"{g.get('students')} correct submissions per topic, {len(g['topics'])} topics, {g.get('cores')} cores, "
        f"ours with {g.get('jobs')} jobs: worst {goal.get('worst_per_minute')}/min on the wall clock "
        f"({goal.get('worst_per_minute_on_free_cores')}/min on free cores), worst "
        f"{goal.get('worst_speedup_vs_plain')}x plain nbgrader"
    )


def markdown(
    meta: dict,
    repeats: int,
    results: list[Result],
    goal: dict,
    nb_rows: list[dict] | None,
    nb_source: str,
    grading_data: dict | None,
    widgets: dict | None = None,
) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m bench`); do not edit by hand. "
        "The machine is shared, so single numbers are noisy; compare ratios, not milliseconds.",
        "",
        f"- date: {meta['date']}; {meta['platform']}, {meta['cpus']} CPUs, Python {meta['python']}",
        f"- numpy {meta['numpy']} (BLAS: {meta['numpy_blas']}), torch {meta['torch']} "
        f"({meta['torch_threads']} thread(s))",
        f"- threads: {meta['threads']}",
        "",
        "## Reference deepkit vs torch (CPU, float64)",
        "",
        f"Forward + backward (optimizers: one step) on the same inputs, median of {repeats} or more repeats "
        "(fast cases are repeated up to 20 times as often), the two libraries timed alternately in the "
        "same run. ratio = deepkit / torch of the medians "
        "(> 1: the NumPy reference is slower); best-run ratio = the same for the fastest run of each, "
        "less disturbed by other processes on a busy machine.",
        "",
        "| " + " | ".join(LAYER_COLUMNS) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * 4) + "|",
    ]
    for r in results:
        if r.ratio is None:
            lines.append(f"| {r.layer} | {r.shape} | {r.status} | | | |")
        else:
            lines.append(
                f"| {r.layer} | {r.shape} | {r.deepkit_ms:.3f} | {r.torch_ms:.3f} | {r.ratio:.2f} | {r.min_ratio:.2f} |"
            )
    lines += [
        "",
        f"Summary: {summary_text(summary(results))}.",
        "",
        "Ratios below 1 are common for small elementwise layers: torch's autograd bookkeeping costs more "
        "than the NumPy arithmetic at these sizes.",
        "",
        f"Goal: {goal['goal']}: **{'met' if goal['met'] else 'not met'}** "
        f"(worst bounded ratio {_num(goal['worst_ratio'], '.2f')}"
        f"{'; over: ' + ', '.join(goal['misses']) if goal['misses'] else ''}).",
        "",
        "## Notebook run times",
        "",
        f"Source: {nb_source}.",
        "",
    ]
    if nb_rows:
        lines += ["| notebook | seconds | outcome |", "|---|---:|---|"]
        lines += [f"| {r['notebook']} | {r['seconds']:.2f} | {r['outcome']} |" for r in nb_rows]
        lines.append(f"| total | {sum(r['seconds'] for r in nb_rows):.2f} | |")
    lines += ["", "## Grading throughput", ""]
    throughput = (grading_data or {}).get("throughput")
    detail = (grading_data or {}).get("per_submission")
    if throughput:
        from bench import grading

        lines += grading.markdown(throughput)
    else:
        lines.append("Not measured in this run (`python -m bench --no-grading`).")
    if detail:
        from autograder import bench as per_submission

        lines += ["", "Per-submission detail from `bench/results/grading.json` (`python -m autograder bench`):", ""]
        try:
            lines += per_submission.markdown(detail).splitlines()
        except (KeyError, TypeError):
            lines.append(grading_text(detail))
    lines += ["", "## Widget latency", ""]
    cpu = (widgets or {}).get("cpu")
    if cpu:
        lines += [
            "CPU time per redraw, measured in this run (`bench/widgets.py`: every control of every explorer moved "
            "through its range and back; median / p90 over the redraws of the explorer's slowest control):",
            "",
            "| explorer | slowest control | median CPU ms | p90 CPU ms |",
            "|---|---|---:|---:|",
        ]
        for name, controls in cpu.items():
            control, st = max(controls.items(), key=lambda kv: kv[1]["median_ms"])
            lines.append(f"| {name} | {control} | {st['median_ms']:.1f} | {st['p90_ms']:.1f} |")
        lines.append("")
    else:
        lines += ["CPU per redraw: not measured in this run (`--quick` or `--no-widgets`).", ""]
    browser = (widgets or {}).get("browser")
    source = (widgets or {}).get("browser_source", "not measured")
    lines.append(f"In the browser (JupyterLab + chromium, input event to new image): {source}.")
    if browser:
        goal = browser.get("goal_median_ms", 150.0)
        lines += ["", f"| explorer | median ms | p90 ms | n | under {goal:g} ms |", "|---|---:|---:|---:|---|"]
        for name, e in browser.get("explorers", {}).items():
            under = "yes" if e["median_ms"] <= goal else "no"
            lines.append(f"| {name} | {e['median_ms']:.1f} | {e['p90_ms']:.1f} | {e['n']} | {under} |")
    return "\n".join(lines) + "\n"


def write(
    out_dir: Path,
    meta: dict,
    repeats: int,
    results: list[Result],
    goal: dict,
    nb_rows: list[dict] | None,
    nb_source: str,
    grading_data: dict | None,
    widgets: dict | None = None,
) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "README.md", out_dir / "latest.json"
    md.write_text(markdown(meta, repeats, results, goal, nb_rows, nb_source, grading_data, widgets))
    data = {
        "machine": meta,
        "repeats": repeats,
        "layers": [r.as_dict() for r in results],
        "summary": summary(results),
        "goal": goal,
        "notebooks": {"source": nb_source, "rows": nb_rows},
        "grading": grading_data,
        "widgets": widgets,
    }
    js.write_text(json.dumps(data, indent=1) + "\n")
    return md, js
