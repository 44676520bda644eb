"""Every explorer of the registry (``course/topics.py``: ``Topic.explorers``) builds from the reference deepkit
and redraws when any of its controls moves; every ``deepkit.viz`` module belongs to a topic.

This is the fast, headless check (no browser): tests/test_browser.py moves the same controls in JupyterLab and
measures the latency; ``python -m bench.widgets`` measures the CPU time per redraw.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import matplotlib
import pytest

from bench.widgets import EXPLORERS, control_values
from course.topics import TOPICS
from deepkit.viz.base import Explorer
from tests.refs import REF_LIB

matplotlib.use("Agg")


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_explorer_builds_and_every_control_redraws(name):
    module, factory = EXPLORERS[name]
    made = getattr(importlib.import_module(f"deepkit.viz.{module}"), factory)()
    ex = getattr(made, "explorer", made)
    assert isinstance(ex, Explorer), f"deepkit.viz.{module}.{factory}() returned {type(made).__name__}"
    assert ex.redraws >= 1 and ex.image.value, "the first picture is drawn when the explorer is built"
    for control, widget in ex.controls.items():
        values = control_values(widget, points=2)
        assert values, f"{name}: control {control!r} offers no other value"
        before = ex.redraws
        widget.value = values[-1]
        assert ex.redraws == before + 1, f"{name}: moving {control!r} did not redraw"
        assert "error" not in ex.status.value.lower(), ex.status.value


def test_every_viz_module_is_a_registered_topic():
    modules = {p.stem for p in (Path(REF_LIB) / "deepkit" / "viz").glob("*.py")} - {"__init__", "base"}
    assert modules == {t.slug for t in TOPICS if t.explorers}
