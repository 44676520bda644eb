"""``make site`` / ``python -m tools.site``: every lecture executed and rendered to a static web page.

    python -m tools.site                                  # all lectures -> site/ (2 in parallel)
    python -m tools.site lectures/01_softmax.ipynb --out /tmp/site --jobs 1

Each lecture runs in a fresh kernel (cwd = lectures/, headless, as tools/run_notebooks does) with the widget
state stored in the notebook metadata, then nbconvert's HTMLExporter renders it with every figure embedded as
base64 data. Nothing on a page is fetched from the network (the README's "runs offline"): the template
``tools/templates/deepkit_site`` is nbconvert's lab template without require.js, the ipywidgets HTML manager and
mermaid (all from CDNs), and with MathJax 2 loaded by a relative path from ``site/mathjax/``, a copy of the
MathJax files the ``jupyter-server-mathjax`` package ships (its HTML-CSS output with the STIX-Web fonts).
Widgets: every explorer's current image is added as a plain embedded snapshot (the controls need a kernel).
Links to papers stay ordinary links (they load nothing). site/index.html lists the topics (each lecture's first
heading) and copies docs/screenshots if present.
"""

from __future__ import annotations

import argparse
import base64
import html
import re
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tools.run_notebooks import CELL_TIMEOUT, ROOT, run_headless

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
SNAPSHOT_CLASS = "deepkit-widget-snapshot"
TEMPLATES = Path(__file__).resolve().parent / "templates"  # deepkit_site: the lab template, offline
MATHJAX_DIR = "mathjax"  # site/mathjax/: MathJax 2 from the jupyter-server-mathjax package
MATHJAX_URL = f"{MATHJAX_DIR}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"  # relative to every page
PAGE_CSS = f"""<style>
.{SNAPSHOT_CLASS} figcaption {{ font-size: 85%; color: #666; }}
nav.deepkit-nav {{ padding: 8px 0; font-family: sans-serif; }}
</style>
"""
# ipykernel logs a start-up warning about TCP transport on the terminal for every kernel; keep real errors.
TITLE_PREFIX = re.compile(r"^(lecture\s+)?\d{1,2}\s*[:·.\-–—]?\s*", re.IGNORECASE)


def lectures(root: Path = ROOT) -> list[Path]:
    """Every topic's lecture notebook, in course order (from the registry)."""
    from course.topics import load

    return [root / t.lecture for t in load(root)]


def title_of(nb) -> str:
    """The lecture's first Markdown heading without its "Lecture NN:" / "NN ·" prefix, capitalized."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                title = TITLE_PREFIX.sub("", line.lstrip("#").strip()) or line.lstrip("#").strip()
                return title[:1].upper() + title[1:]
    return ""


def execute(path: Path):
    """Run the notebook in place (a new kernel, cwd = its folder), keeping the widget state.

    Returns (executed notebook, seconds, error message or None).
    """
    import nbformat
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(str(path), as_version=4)
    start, error = time.perf_counter(), None
    try:
        run_headless(nb, path, CELL_TIMEOUT, widgets=True)
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
    return nb, time.perf_counter() - start, error


def _widget_pngs(state: dict, model_id: str, seen: set | None = None) -> list[bytes]:
    """PNG images shown by the widget ``model_id`` and its children (Image widgets, Output widgets)."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    model = state[model_id]
    found: list[bytes] = []
    if model.get("model_name") == "ImageModel":
        for buf in model.get("buffers", []):
            if buf.get("path") == ["value"] and buf.get("encoding") == "base64":
                found.append(base64.b64decode(buf["data"]))
    for out in model.get("state", {}).get("outputs", []) or []:  # Output widgets
        png = out.get("data", {}).get("image/png")
        if png:
            found.append(base64.b64decode(png))
    refs = []
    for value in model.get("state", {}).values():
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and v.startswith("IPY_MODEL_"):
                refs.append(v[len("IPY_MODEL_") :])
    for ref in refs:
        found += _widget_pngs(state, ref, seen)
    return found


def add_widget_snapshots(nb) -> int:
    """After every widget output, add its current image(s) as an embedded snapshot. Returns how many."""
    import nbformat

    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    added = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            outputs.append(out)
            view = (
                out.get("data", {}).get(WIDGET_VIEW)
                if out.get("output_type") in ("display_data", "execute_result")
                else None
            )
            if not view:
                continue
            pngs = _widget_pngs(state, view.get("model_id", ""))
            if not pngs:
                continue
            imgs = "".join(
                f'<img src="data:image/png;base64,{base64.b64encode(p).decode()}" '
                f'alt="snapshot of the interactive explorer" style="max-width:100%">'
                for p in pngs
            )
            snippet = (
                f'<figure class="{SNAPSHOT_CLASS}">{imgs}<figcaption>A snapshot of the interactive '
                f"explorer: open the notebook in JupyterLab to move its controls.</figcaption></figure>"
            )
            outputs.append(nbformat.v4.new_output("display_data", data={"text/html": snippet}))
            added += 1
        cell.outputs = outputs
    return added


def render(nb, title: str, folder: Path) -> str:
    """The executed notebook as one self-contained HTML page (figures and Markdown images embedded)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="deepkit_site",
        extra_template_basedirs=[str(TEMPLATES)],
        embed_images=True,
        mathjax_url=MATHJAX_URL,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title, "path": str(folder)}})
    body = body.replace("</head>", PAGE_CSS + "</head>", 1)
    nav = '<nav class="deepkit-nav"><a href="index.html">&larr; all lectures</a></nav>'
    return re.sub(r"(<main[^>]*>|<body[^>]*>)", lambda m: m.group(1) + nav, body, count=1)


def mathjax_source() -> Path:
    """The MathJax 2 tree shipped by the ``jupyter-server-mathjax`` package (requirements.txt)."""
    import jupyter_server_mathjax

    static = Path(jupyter_server_mathjax.__file__).resolve().parent / "static"
    if not (static / "MathJax.js").is_file():
        raise FileNotFoundError(f"no MathJax.js in {static}: reinstall jupyter-server-mathjax (requirements.txt)")
    return static


def copy_mathjax(out_dir: Path) -> Path:
    """Mirror the package's MathJax into ``out_dir/mathjax`` (every page loads it by a relative path)."""
    dest = out_dir / MATHJAX_DIR
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(mathjax_source(), dest, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return dest


def build_page(path: Path, out_dir: Path) -> dict:
    """Execute + render one lecture into out_dir/<stem>.html. Returns a summary row for the index."""
    path = Path(path).resolve()
    nb, seconds, error = execute(path)
    title = title_of(nb) or path.stem
    snapshots = add_widget_snapshots(nb)
    page = out_dir / f"{path.stem}.html"
    page.write_text(render(nb, title, path.parent), encoding="utf-8")
    return {
        "stem": path.stem,
        "title": title,
        "page": page.name,
        "seconds": round(seconds, 1),
        "snapshots": snapshots,
        "error": error,
    }


def index_html(rows: list[dict], screenshots: list[str]) -> str:
    items = []
    for r in rows:
        number = r["stem"].split("_", 1)[0]
        status = f' <span style="color:#b00">(failed: {html.escape(r["error"])})</span>' if r["error"] else ""
        items.append(
            f'<li><a href="{html.escape(r["page"])}">{number} · {html.escape(r["title"])}</a>'
            f" <small>(ran in {r['seconds']} s)</small>{status}</li>"
        )
    shots = ""
    if screenshots:
        shots = "<h2>Screenshots</h2>\n" + "\n".join(
            f'<a href="screenshots/{html.escape(s)}"><img src="screenshots/{html.escape(s)}" alt="{html.escape(s)}" '
            f'style="max-width:45%;margin:4px;border:1px solid #ccc"></a>'
            for s in screenshots
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Deep learning course: lectures</title>
<style>body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; line-height: 1.5; }}</style>
</head><body>
<h1>Deep learning course: lectures</h1>
<p>Every lecture executed top to bottom and rendered with its figures. The widgets are static here: run the
notebooks in JupyterLab (<code>make lab</code>) to use them.</p>
<ol style="list-style: none; padding-left: 0">
{chr(10).join(items)}
</ol>
{shots}
</body></html>
"""


def build(
    paths: list[Path],
    out_dir: Path,
    jobs: int = 2,
    screenshots: Path | None = ROOT / "docs" / "screenshots",
    progress=print,
) -> list[dict]:
    """Build every page (``jobs`` lectures at a time), then index.html. Returns the index rows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    copy_mathjax(out_dir)
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(build_page, p, out_dir) for p in paths]
        rows = []
        for f in futures:
            row = f.result()
            rows.append(row)
            progress(
                f"{'FAIL' if row['error'] else 'ok  '} {row['seconds']:6.1f} s  {row['page']}  {row['title']}"
                + (f"  ({row['error']})" if row["error"] else "")
            )
    shots: list[str] = []
    if screenshots is not None and screenshots.is_dir():
        dest = out_dir / "screenshots"
        shutil.rmtree(dest, ignore_errors=True)  # a mirror: no stale screenshots from an earlier build
        shutil.copytree(screenshots, dest)
        shots = sorted(
            p.name for p in dest.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
        )
    rows.sort(key=lambda r: r["stem"])
    (out_dir / "index.html").write_text(index_html(rows, shots), encoding="utf-8")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.site", description=__doc__.split("\n\n")[0])
    ap.add_argument("lectures", nargs="*", type=Path, help="default: every lectures/NN_*.ipynb")
    ap.add_argument("--out", type=Path, default=ROOT / "site", help="output folder (default: site/)")
    ap.add_argument("--jobs", type=int, default=2, help="lectures executed at the same time (default 2)")
    args = ap.parse_args(argv)
    paths = args.lectures or lectures()
    if not paths:
        print("no lectures found", file=sys.stderr)
        return 1
    start = time.perf_counter()
    rows = build(paths, args.out, args.jobs)
    failed = [r for r in rows if r["error"]]
    print(
        f"{len(rows) - len(failed)}/{len(rows)} lectures rendered into {args.out / 'index.html'} "
        f"in {time.perf_counter() - start:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
