"""Run notebooks headless, as CI does (tests/test_notebooks.py uses the same functions).

    python -m tools.run_notebooks                         # every lecture, solution and release notebook
    python -m tools.run_notebooks lectures/01_softmax.ipynb solutions/01_softmax/01_softmax.ipynb

Each notebook runs in a fresh python3 kernel whose cwd is the notebook's folder, with matplotlib's inline
(non-GUI) backend. Lectures, solution notebooks and START_HERE must run clean (no error, nothing on stderr);
release notebooks (exercises/) must stop at their first stub's ``NotImplementedError`` and nowhere else.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CELL_TIMEOUT = 120  # seconds per cell, as nbgrader's autograde (autograder/nbgrader_config.py)
STUB_MESSAGE = re.compile(r"^Exercise \d\d_\w+: implement \w+ in lib/deepkit/[\w/]+\.py$")
HEADLESS_ENV = {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}


@dataclass
class Run:
    path: Path
    seconds: float
    errors: list[tuple[int, str, str]]  # (cell index, exception name, message) of error outputs
    stderr: list[str]  # "cell i: text" of stderr stream outputs
    stopped: bool  # execution stopped at an error

    @property
    def name(self) -> str:
        try:
            return str(self.path.resolve().relative_to(ROOT))
        except ValueError:
            return str(self.path)


def run_headless(nb, path: Path, timeout: int = CELL_TIMEOUT, widgets: bool = False) -> None:
    """Execute the notebook ``nb`` (read from ``path``) in place, top to bottom, stopping at the first error
    (``nbclient``'s ``CellExecutionError``): a new python3 kernel whose cwd is the notebook's folder and whose
    environment is this process's plus ``HEADLESS_ENV`` (this process's own is left alone). ``widgets``: keep
    the widgets' state in the notebook's metadata (the site and the student edition render it)."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=False,
        store_widget_state=widgets,
        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no TCP-encryption chatter
        resources={"metadata": {"path": str(Path(path).parent)}},
    )
    client.execute(env={**os.environ, **HEADLESS_ENV})


def execute(path: Path, timeout: int = CELL_TIMEOUT) -> Run:
    """Run ``path`` top to bottom (stopping at the first error) in a new kernel whose cwd is its folder."""
    import nbformat
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(str(path), as_version=4)
    start = time.perf_counter()
    stopped = False
    try:
        run_headless(nb, path, timeout)
    except CellExecutionError:
        stopped = True
    seconds = time.perf_counter() - start
    errors = [
        (i, out["ename"], out["evalue"])
        for i, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    stderr = [
        f"cell {i}: {out.get('text', '')[:500]}"
        for i, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
    ]
    return Run(Path(path), seconds, errors, stderr, stopped)


def is_release(path: Path) -> bool:
    return "exercises" in Path(path).resolve().parts


def problems(run: Run) -> list[str]:
    """Why ``run`` fails the CI rule for its kind of notebook (empty = fine)."""
    found = []
    if is_release(run.path):
        if not run.errors:
            found.append("ran to the end against the stubs: its visible tests do not exercise lib/deepkit")
        else:
            cell, ename, evalue = run.errors[0]
            if ename != "NotImplementedError" or not STUB_MESSAGE.match(evalue):
                found.append(f"cell {cell} raised {ename}: {evalue[:300]} (expected a stub's NotImplementedError)")
    else:
        found += [f"cell {c} raised {e}: {v[:300]}" for c, e, v in run.errors]
    found += [f"stderr in {s}" for s in run.stderr]
    return found


def all_notebooks(root: Path = ROOT) -> list[Path]:
    """START_HERE, then every topic's lecture, source and release notebook (from the course registry)."""
    from course.topics import START_HERE, load

    topics = load(root)
    found = [root / START_HERE] if (root / START_HERE).is_file() else []
    for kind in ("lecture", "source_notebook", "exercise_notebook"):
        found += [root / getattr(t, kind) for t in topics if (root / getattr(t, kind)).is_file()]
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.run_notebooks", description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: all of them")
    args = ap.parse_args(argv)
    failed = 0
    for path in args.notebooks or all_notebooks():
        run = execute(path)
        bad = problems(run)
        failed += bool(bad)
        print(f"{'FAIL' if bad else 'ok  '} {run.seconds:7.2f} s  {run.name}", flush=True)
        for p in bad:
            print(f"        {p}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
