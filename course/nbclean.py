"""git's view of a notebook: the notebook without its outputs (the clean filter that ``make notebook-filter`` sets up
for the notebooks the ``.gitattributes`` name).

    python -S course/nbclean.py < notebook.ipynb      # git's clean filter: stdin -> stdout
    python -S course/nbclean.py notebook.ipynb        # git's textconv (diffs): the file -> stdout

It drops what nbstripout drops by default (code cells' outputs and execution counts, the cell metadata
``collapsed``, ``scrolled``, ``execution``, ``ExecuteTime``, ``hidden``, ``heading_collapsed``, the notebook's
``signature`` and ``widgets``) and the kernel details JupyterLab adds to ``language_info`` when it saves (only
``name`` stays), keeps cell ids, and writes nbformat's JSON layout: a committed notebook comes out byte for byte
the same (tests/test_update.py checks every one, and that nbstripout agrees). Standard library only: git runs the
filter once per notebook it looks at, and nbstripout's start-up (it imports nbformat and jsonschema) costs 0.5 s
on an idle machine and 5-10 s on a loaded one, which made one ``git status`` of a fresh clone take minutes.
"""

from __future__ import annotations

import json
import sys

NOTEBOOK_METADATA = ("signature", "widgets")
CELL_METADATA = ("collapsed", "scrolled", "execution", "ExecuteTime", "hidden", "heading_collapsed")
LANGUAGE_INFO_KEPT = ("name",)


def clean(nb: dict) -> dict:
    """The notebook ``nb`` (parsed JSON) without outputs, execution counts and volatile metadata (in place)."""
    meta = nb.get("metadata", {})
    for key in NOTEBOOK_METADATA:
        meta.pop(key, None)
    info = meta.get("language_info")
    if isinstance(info, dict):
        for key in [k for k in info if k not in LANGUAGE_INFO_KEPT]:
            del info[key]
    for cell in nb.get("cells", []):
        for key in CELL_METADATA:
            cell.get("metadata", {}).pop(key, None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def cleaned(text: str) -> str:
    """The notebook JSON ``text`` as git should see it (nbformat's layout); text that is no JSON unchanged."""
    try:
        nb = json.loads(text)
    except ValueError:  # not a notebook (a half-written save): git keeps it as it is
        return text
    return json.dumps(clean(nb), sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = open(argv[1], encoding="utf-8").read() if len(argv) > 1 else sys.stdin.read()
    sys.stdout.write(cleaned(text))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
