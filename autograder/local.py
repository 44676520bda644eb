"""Run a topic's probes in THIS process (no sandbox): for the repository's tests and for the trusted reference.

The sandboxed path (student code) reuses ``cases.make_cases`` and ``compare.judge_case`` so the two cannot drift
apart. ``grade_module`` grades on the public cases (``cases.PUBLIC_SEED``), as ``check`` does.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np

from autograder.cases import PUBLIC_SEED, make_cases
from autograder.compare import CaseResult, judge_case, part_score
from autograder.course import Course
from autograder.spec import Misconception, Part, TopicChecks


def load_topic(key: str) -> TopicChecks:
    """The grading of topic ``key`` (``"04"``, ``"normalization"``...) in this repository."""
    return Course().topic(key)


def load_probes(topic: TopicChecks) -> ModuleType:
    return Course().load_probes(topic)


def run_probe(probes: ModuleType, part: Part, dk: ModuleType, inputs: dict) -> dict:
    """Call the part's probe on a copy of the inputs (a probe must not be able to alter the reference's)."""
    fresh = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}
    return getattr(probes, part.probe)(dk, fresh)


def patched_package(ref: ModuleType, replace: dict) -> SimpleNamespace:
    """A stand-in for the deepkit package in which the ``"module.function"`` entries of ``replace`` are the given
    (wrong) functions; everything else is the reference. Probes reach functions only as ``dk.module.function``."""
    modules: dict[str, dict] = {}
    for dotted, fn in replace.items():
        module, name = dotted.split(".")
        modules.setdefault(module, {})[name] = fn
    package = SimpleNamespace(**{k: v for k, v in vars(ref).items() if not k.startswith("__")})
    for module, functions in modules.items():
        base = importlib.import_module(f"deepkit.{module}")
        setattr(package, module, SimpleNamespace(**{**vars(base), **functions}))
    return package


def misconception_outputs(probes: ModuleType, part: Part, ref: ModuleType, inputs: dict) -> list:
    """[(misconception, its outputs on ``inputs``, or None for a ``detect`` one or a wrong function that
    raised)] for every known mistake of ``part`` (trusted: the wrong functions are the course's own code)."""
    found: list[tuple[Misconception, dict | None]] = []
    for mistake in part.misconceptions:
        outputs = None
        if mistake.replace:
            try:
                outputs = run_probe(probes, part, patched_package(ref, dict(mistake.replace)), inputs)
            except Exception:  # noqa: BLE001 - a mistake that crashes on these inputs cannot be matched here
                outputs = None
        found.append((mistake, outputs))
    return found


def grade_module(
    number: str,
    dk: ModuleType,
    parts: list[str] | None = None,
    ref: ModuleType | None = None,
    seed_base: int = PUBLIC_SEED,
) -> dict[str, tuple[float, str]]:
    """Grade a deepkit package ``dk`` (any object with the topic's modules as attributes) in-process, on the
    cases drawn from ``seed_base`` (the public cases unless told otherwise).

    Returns part name -> (points, reason). Exceptions in the graded code count as a failed case.
    """
    topic = load_topic(number)
    probes = load_probes(topic)
    ref = reference_package() if ref is None else ref
    results = {}
    for part in topic.parts:
        if parts is not None and part.name not in parts:
            continue
        cases = []
        for inp in make_cases(part, seed_base):
            expected = run_probe(probes, part, ref, inp)
            try:
                got = run_probe(probes, part, dk, inp)
            except NotImplementedError:
                cases.append(CaseResult(0.0, "not implemented yet (NotImplementedError)"))
                continue
            except Exception as exc:  # the graded code's own error
                cases.append(CaseResult(0.0, f"raised {type(exc).__name__}: {str(exc)[:200]}"))
                continue
            cases.append(
                judge_case(
                    part, got, expected, inp, lambda inp=inp, part=part: misconception_outputs(probes, part, ref, inp)
                )
            )
        results[part.name] = part_score(part, cases)
    return results


def reference_package(course: Course | None = None) -> ModuleType:
    """The reference deepkit, imported as ``deepkit`` from ``course.ref_lib`` (trusted process only).

    A ``deepkit`` imported earlier from another folder (a student's, another course tree's) is dropped first.
    """
    import sys

    course = course or Course()
    ref = str(course.ref_lib)
    mod = sys.modules.get("deepkit")
    if mod is not None and Path(mod.__file__).resolve().parent.parent != course.ref_lib.resolve():
        for name in [n for n in sys.modules if n == "deepkit" or n.startswith("deepkit.")]:
            del sys.modules[name]
    if ref in sys.path:
        sys.path.remove(ref)
    sys.path.insert(0, ref)
    return importlib.import_module("deepkit")
