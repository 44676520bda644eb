"""What a topic's hidden checks are made of (trusted side; never shipped into the sandbox).

A topic module ``autograder/checks/tNN.py`` defines ``TOPIC = Topic(...)``. Each ``Part`` is one graded cell of
the topic's notebook (``Part.name`` is the cell's ``grade_id``) and names a probe function in
``autograder/probes/pNN.py``. The probe runs the student's deepkit inside the sandbox and the reference deepkit
in the trusted process on the same seeded inputs; the trusted process compares the two output dictionaries.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

Inputs = dict  # str -> ndarray | int | float | str
Outputs = dict  # str -> ndarray
CompareFn = Callable[[Outputs, Outputs, Inputs], "tuple[float, str]"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Part:
    """One graded part.

    name:     grade_id of the notebook cell and the key in reports.
    points:   points of that cell.
    probe:    name of the probe function in the topic's probe file.
    inputs:   ``inputs(rng) -> dict`` of seeded inputs (arrays, ints, floats, short strings).
    seeds:    how many independent input draws (each is a case; credit is the fraction passed).
    grads:    output keys compared by norm-ratio relative error (gradients); the rest by allclose.
    rtol, atol: allclose tolerances for value outputs.
    grad_tol: maximum norm-ratio relative error for gradient outputs.
    compare:  optional ``compare(student, reference, inputs) -> (fraction in [0, 1], reason)`` replacing the
              default comparison (statistical checks of random layers and initialisers).
    description: one line for feedback ("softmax forward: rows of probabilities").
    timeout:  wall seconds the sandbox may spend on all seeds of this part.
    """

    name: str
    points: float
    probe: str
    inputs: Callable[[np.random.Generator], Inputs]
    seeds: int = 3
    grads: tuple[str, ...] = ()
    rtol: float = 1e-6
    atol: float = 1e-8
    grad_tol: float = 1e-6
    compare: CompareFn | None = None
    description: str = ""
    timeout: float = 20.0


@dataclass(frozen=True)
class Topic:
    """A topic's grading: its notebook, the student modules it reads, the probe file and the parts."""

    number: str            # "01"
    folder: str            # "01_softmax": solutions/<folder>/<folder>.ipynb, exercises/<folder>/...
    modules: tuple[str, ...]  # deepkit modules the student implements for this topic ("losses", ...)
    parts: tuple[Part, ...] = field(default_factory=tuple)

    @property
    def notebook(self) -> str:
        return f"{self.folder}.ipynb"

    @property
    def probe_file(self) -> Path:
        return ROOT / "autograder" / "probes" / f"p{self.number}.py"

    @property
    def total_points(self) -> float:
        return float(sum(p.points for p in self.parts))
