"""Run a topic's probes in THIS process (no sandbox): for the repository's tests and for the trusted reference.

The sandboxed path (student code) reuses ``make_cases`` and ``compare_case`` so the two cannot drift apart.
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np

from autograder.compare import CaseResult, compare_case, part_score
from autograder.spec import Part, Topic

SEED_BASE = 20261123  # hidden inputs derive from this and the part name; never shown in feedback


def load_topic(number: str) -> Topic:
    """The Topic defined in autograder/checks/t<number>.py."""
    return importlib.import_module(f"autograder.checks.t{number}").TOPIC


def load_probes(topic: Topic) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_probes_{topic.number}", topic.probe_file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_cases(part: Part, seed_base: int = SEED_BASE) -> list[dict]:
    """The part's seeded hidden inputs: ``part.seeds`` dictionaries, deterministic per part name."""
    tag = sum(ord(c) * 131 ** i for i, c in enumerate(part.name)) % (2 ** 31)
    return [part.inputs(np.random.default_rng([seed_base, tag, k])) for k in range(part.seeds)]


def run_probe(probes: ModuleType, part: Part, dk: ModuleType, inputs: dict) -> dict:
    """Call the part's probe on a copy of the inputs (a probe must not be able to alter the reference's)."""
    fresh = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}
    return getattr(probes, part.probe)(dk, fresh)


def grade_module(number: str, dk: ModuleType, parts: list[str] | None = None,
                 ref: ModuleType | None = None) -> dict[str, tuple[float, str]]:
    """Grade a deepkit package ``dk`` (any object with the topic's modules as attributes) in-process.

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
        for inp in make_cases(part):
            expected = run_probe(probes, part, ref, inp)
            try:
                got = run_probe(probes, part, dk, inp)
            except NotImplementedError:
                cases.append(CaseResult(0.0, "not implemented yet (NotImplementedError)"))
                continue
            except Exception as exc:  # the graded code's own error
                cases.append(CaseResult(0.0, f"raised {type(exc).__name__}: {str(exc)[:200]}"))
                continue
            cases.append(compare_case(part, got, expected, inp))
        results[part.name] = part_score(part, cases)
    return results


def reference_package() -> ModuleType:
    """The reference deepkit from solutions/lib, imported under its own name ``deepkit``."""
    import sys
    ref_lib = str(Path(__file__).resolve().parent.parent / "solutions" / "lib")
    if ref_lib not in sys.path:
        sys.path.insert(0, ref_lib)
    return importlib.import_module("deepkit")
