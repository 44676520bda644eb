"""Smoke tests of ``make bench`` (python -m bench --quick) and ``make site`` (tools.site on one lecture)."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from bench import layers
from tools import site

ROOT = Path(__file__).resolve().parent.parent
DEEPKIT = ROOT / "reference" / "deepkit"
SITE_LECTURE = ROOT / "lectures" / "06_alphaconv.ipynb"  # one of the quickest lectures, with an explorer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, out


def test_bench_quick_reports_every_available_layer(quick_bench):
    proc, out = quick_bench
    assert proc.stderr == ""
    data = json.loads((out / "latest.json").read_text())
    rows = data["layers"]
    expected = [c for c in layers.CASES if c.quick]
    assert [(r["layer"], r["shape"]) for r in rows] == [(c.layer, c.shape) for c in expected]
    for r in rows:
        if (DEEPKIT / f"{r['module']}.py").is_file():  # the reference module exists: it must be timed
            assert r["status"] == "ok", r
            for key in ("deepkit_ms", "torch_ms", "ratio", "deepkit_min_ms", "torch_min_ms", "min_ratio"):
                assert math.isfinite(r[key]) and r[key] > 0, r
            assert r["ratio"] == pytest.approx(r["deepkit_ms"] / r["torch_ms"], rel=1e-2, abs=1e-3)
            assert r["deepkit_min_ms"] <= r["deepkit_ms"] and r["torch_min_ms"] <= r["torch_ms"]
        else:
            assert r["status"].startswith("missing"), r
    assert "single-threaded" in data["machine"]["threads"]
    assert data["notebooks"]["rows"] is None or all(
        row["notebook"].startswith(("lectures/", "solutions/")) for row in data["notebooks"]["rows"]
    )
    assert "notebook run times (fresh kernel each, measured now)" not in proc.stdout  # --quick: no notebooks


def test_bench_quick_tables_have_the_columns(quick_bench):
    proc, out = quick_bench
    md = (out / "README.md").read_text()
    assert "| layer | shape | deepkit ms | torch ms | ratio | best-run ratio |" in md
    for section in ("## Reference deepkit vs torch", "## Notebook run times", "## Grading throughput"):
        assert section in md
    header = next(ln for ln in proc.stdout.splitlines() if ln.startswith("layer ")).split()
    assert header == ["layer", "shape", "deepkit", "ms", "torch", "ms", "ratio", "best-run", "ratio"]
    ok_lines = [ln for ln in md.splitlines() if ln.startswith("| ") and re.search(r"\| [\d.]+ \| [\d.]+ \|$", ln)]
    assert len(ok_lines) >= sum(r["status"] == "ok" for r in json.loads((out / "latest.json").read_text())["layers"])


def test_bench_quick_grades_topic_01_against_plain_nbgrader(quick_bench):
    """--quick grades 2 submissions of topic 01 with plain nbgrader and with 1 and 2 workers in the same run;
    the printed table, README and latest.json agree, the projections follow from start-up and rate, and the goal
    of issue 17 follows from the rows."""
    proc, out = quick_bench
    data = json.loads((out / "latest.json").read_text())["grading"]
    (row,) = data["rows"]
    assert row["assignment"] == "01_softmax" and row["students"] == 2 and set(row["ours"]) == {"1", "2"}
    for m in [row["plain_nbgrader"], *row["ours"].values()]:
        assert m["s_per_submission"] > 0 and m["startup_s"] >= 0 and m["cpu_s_per_submission"] > 0
        assert m["per_minute"] == pytest.approx(60 / m["s_per_submission"], rel=1e-2)
        for n in ("300", "10000"):
            want = (m["startup_s"] + int(n) * m["s_per_submission"]) / 60
            assert m["projected_minutes"][n] == pytest.approx(want, rel=1e-2, abs=0.1)
    for w, m in row["ours"].items():
        # the default grading path reads the notebook; it runs only with --run-notebook
        assert m["full_marks"] == "2/2" and m["notebooks_ran"] == (2 if row["notebook"] else 0)
        want = row["plain_nbgrader"]["s_per_submission"] / m["s_per_submission"]
        assert row["speedup_vs_plain"][w] == pytest.approx(want, rel=2e-2)
        free = 60 * min(int(w), data["cores"]) / m["cpu_s_per_submission"]
        assert m["per_minute_on_free_cores"] == pytest.approx(free, rel=2e-2)
    assert data["records_per_minute"] > 0
    goal = data["goal"]
    assert goal["workers"] == 2 and goal["worst_per_minute"] == row["ours"]["2"]["per_minute"]
    assert goal["worst_speedup_vs_plain"] == row["speedup_vs_plain"]["2"]
    assert goal["met"] == (goal["worst_per_minute"] >= 60 and goal["worst_speedup_vs_plain"] >= 2)
    printed = next(ln for ln in proc.stdout.splitlines() if ln.startswith("01_softmax "))
    assert f"{row['ours']['2']['per_minute']:.1f}" in printed and printed.split()[-1] == "2/2"
    assert f"{row['ours']['2']['cpu_s_per_submission']:.2f}" in printed
    assert any(ln.startswith("Goal (issue 17") for ln in proc.stdout.splitlines())
    md = (out / "README.md").read_text()
    assert "| topic | N | plain nbgrader /min | ours 1 worker /min | ours 2 workers /min |" in md
    assert "| CPU s per submission (plain / 1 / 2) |" in md and "| 01_softmax | 2 |" in md
    assert "Goal (issue 17" in md and "grading.json" not in md
    assert "## Widget latency" in md and "In the browser" in md and "widget latency in the browser" in proc.stdout


def test_missing_module_is_reported_not_raised():
    case = layers.Case("ghost", "1x1", "no_such_module", lambda mod, rng: (None, None))
    r = layers.run_case(case, repeats=1)
    assert r.status.startswith("missing") and r.ratio is None

    def stub(mod, rng):
        def ours():
            raise NotImplementedError("Exercise 99_x: implement f in lib/deepkit/layers.py")

        return ours, ours

    r = layers.run_case(layers.Case("stub", "1x1", "layers", stub), repeats=1)
    assert r.status.startswith("missing: NotImplementedError") and r.ratio is None


def test_layer_goal_holds_each_case_to_its_modules_bound():
    """Issue 17's bounds: 2x for dense, activation and normalization layers, 3x for convolution and pooling,
    none for optimizer steps; a missing case is not judged."""

    def result(layer, module, ratio):
        return layers.Result(layer, "1x1", module, "ok", deepkit_ms=ratio, torch_ms=1.0)

    fine = [result("relu", "layers", 1.9), result("conv2d", "conv", 2.9), result("adam step", "optim", 9.0)]
    fine.append(layers.Result("ghost", "1x1", "norm", "missing: stub"))
    goal = layers.layer_goal(fine)
    assert goal["met"] and goal["misses"] == [] and goal["worst_ratio"] == 2.9
    goal = layers.layer_goal([*fine, result("layernorm", "norm", 2.5), result("maxpool", "pool", 3.1)])
    assert not goal["met"]
    assert goal["misses"] == ["layernorm (1x1): 2.50 > 2", "maxpool (1x1): 3.10 > 3"]
    assert not layers.layer_goal([result("adam step", "optim", 1.0)])["met"]  # nothing bounded was timed


def _widget_nb(png: bytes):
    """A notebook whose one output is an explorer-like VBox(Image) view, with its saved widget state."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Lecture 09: training practice\n\ntext"),
        nbformat.v4.new_code_cell("explorer()"),
    ]
    nb.cells[1].outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                site.WIDGET_VIEW: {"model_id": "box", "version_major": 2, "version_minor": 0},
                "text/plain": "VBox(...)",
            },
        )
    ]
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_img"]}},
        "img": {
            "model_name": "ImageModel",
            "state": {"format": "png"},
            "buffers": [{"path": ["value"], "encoding": "base64", "data": base64.b64encode(png).decode()}],
        },
    }
    nb.metadata["widgets"] = {site.WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    return nb


def test_widget_snapshot_and_title_without_a_kernel():
    png = b"\x89PNG\r\n\x1a\nfake"
    nb = _widget_nb(png)
    assert site.title_of(nb) == "Training practice"
    assert site.add_widget_snapshots(nb) == 1
    snap = nb.cells[1].outputs[1]["data"]["text/html"]
    assert base64.b64encode(png).decode() in snap and site.SNAPSHOT_CLASS in snap


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    """tools.site on one lecture (a short build): (out folder, index rows)."""
    if not SITE_LECTURE.is_file():
        pytest.skip("lecture 06 not written yet")
    tmp = tmp_path_factory.mktemp("site")
    shots = tmp / "shots"
    shots.mkdir()
    (shots / "lab.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    out = tmp / "site"
    rows = site.build([SITE_LECTURE], out, jobs=1, screenshots=shots, progress=lambda *a: None)
    return out, rows


def test_site_renders_a_lecture_with_embedded_figures(built_site):
    out, rows = built_site
    assert rows[0]["error"] is None, rows
    index = (out / "index.html").read_text()
    links = re.findall(r'<a href="([^"]+\.html)">', index)
    assert links == [f"{SITE_LECTURE.stem}.html"]
    assert all((out / link).is_file() for link in links)
    assert 'src="screenshots/lab.png"' in index and (out / "screenshots" / "lab.png").is_file()
    page = (out / links[0]).read_text()
    assert rows[0]["title"] and f"<title>{rows[0]['title']}" in page.replace("&#39;", "'")
    assert re.search(r'<img[^>]+src="data:image/png;base64,[A-Za-z0-9+/]{100}', page)
    assert "Traceback" not in page and "jp-OutputArea-error" not in page
    if rows[0]["snapshots"]:  # an explorer: its image is added as a snapshot
        assert site.SNAPSHOT_CLASS in page


# Links a page may carry to the outside: ordinary <a href> links to papers and documentation (they load nothing).
LINK_HOSTS = ("arxiv.org", "doi.org", "proceedings.mlr.press", "papers.nips.cc", "openreview.net", "pytorch.org")


class _Refs(HTMLParser):
    """Every URL a page refers to: (tag, attribute, value), plus url(...) and import(...) inside <style>/<script>."""

    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self._tag = ""

    def handle_starttag(self, tag, attrs):
        self._tag = tag
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "poster", "action", "formaction") and value:
                self.refs.append((tag, name, value.strip()))
            if name == "style" and value:
                self.refs += [(tag, "style", u) for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", value)]

    def handle_data(self, data):
        if self._tag == "style":
            self.refs += [("style", "url()", u) for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", data)]
            self.refs += [("style", "@import", u) for u in re.findall(r"@import\s+['\"]([^'\"]+)", data)]
        elif self._tag == "script":
            self.refs += [("script", "import()", u) for u in re.findall(r"import\(\s*['\"]([^'\"]+)", data)]


def _external(url: str) -> bool:
    return bool(re.match(r"^(https?:)?//", url, re.IGNORECASE))


def test_site_loads_nothing_from_the_network(built_site):
    """No script, style, font, image or frame comes from outside the site folder; external <a> links go only to
    papers and docs; MathJax is referenced by a relative path that exists in the site."""
    out, _ = built_site
    pages = sorted(out.glob("*.html"))
    assert len(pages) == 2
    for page in pages:
        parser = _Refs()
        parser.feed(page.read_text(encoding="utf-8"))
        for tag, attr, url in parser.refs:
            if not _external(url):
                continue
            host = re.sub(r"^(https?:)?//", "", url).split("/")[0].lower()
            assert tag == "a" and attr == "href" and host.endswith(LINK_HOSTS), f"{page.name}: {tag} {attr}={url}"
    lecture = (out / f"{SITE_LECTURE.stem}.html").read_text(encoding="utf-8")
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', lecture)
    assert scripts == [site.MATHJAX_URL], scripts
    assert (out / site.MATHJAX_URL.split("?")[0]).is_file()
    assert (out / site.MATHJAX_DIR / "fonts" / "HTML-CSS" / "STIX-Web" / "woff").is_dir()
    assert "cdnjs" not in lecture and "unpkg" not in lecture and "jsdelivr" not in lecture


@pytest.mark.browser
def test_site_math_is_typeset_offline(built_site):
    """The page in chromium with every non-file request refused: MathJax (from site/mathjax) typesets the math."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests import browser_util as bu

    out, _ = built_site
    page_file = out / f"{SITE_LECTURE.stem}.html"
    outside, failed = [], []
    with sync_api.sync_playwright() as p:
        browser = bu.launch_browser(p)
        try:
            page = browser.new_page()

            def route(r):
                if r.request.url.startswith("file://"):
                    return r.continue_()
                outside.append(r.request.url)
                return r.abort()

            page.route("**/*", route)
            # (MathJax's font-loading probe, a @font-face on about:blank, loads nothing and is not counted)
            page.on("requestfailed", lambda req: failed.append(req.url) if not req.url.startswith("about:") else None)
            page.goto(page_file.as_uri())
            page.wait_for_function(
                "() => window.MathJax && MathJax.Hub && MathJax.Hub.queue && MathJax.Hub.queue.pending === 0"
                " && document.querySelectorAll('.MathJax, .MathJax_Display').length > 0",
                timeout=60_000,
            )
            typeset = page.evaluate("document.querySelectorAll('.MathJax, .MathJax_Display').length")
            errors = page.evaluate("document.querySelectorAll('.MathJax_Error, merror').length")
            jax = page.evaluate("MathJax.Hub.getAllJax().length")
            raw = page.evaluate("document.body.innerText.includes('\\\\frac')")
        finally:
            browser.close()
    assert outside == [], f"requests to the network: {outside[:5]}"
    assert failed == [], f"files the page could not load: {failed[:5]}"
    assert typeset >= 10 and jax >= 10 and errors == 0, (typeset, jax, errors)
    assert not raw, "TeX source left untypeset on the page"


def test_results_file_reads_the_newer_copy(tmp_path, monkeypatch):
    """A test run's build/results copy and make bench's bench/results copy: the newer one is read (a stale test
    copy once hid a fresh make widget-latency run from make bench)."""
    import bench

    committed = tmp_path / "bench" / "results"
    fresh = tmp_path / "build" / "results"
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    monkeypatch.setattr(bench, "COMMITTED_RESULTS", committed)
    assert bench.results_file("x.json") == committed / "x.json"  # neither: where make bench writes
    for d in (committed, fresh):
        d.mkdir(parents=True)
        (d / "x.json").write_text("{}")
    os.utime(fresh / "x.json", (1_000, 1_000))
    assert bench.results_file("x.json") == committed / "x.json"
    os.utime(committed / "x.json", (500, 500))
    assert bench.results_file("x.json") == fresh / "x.json"
