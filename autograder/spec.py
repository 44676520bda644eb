"""What a topic's hidden checks are made of (trusted side; never shipped into the sandbox).

A topic's checks module ``autograder/checks/<slug>.py`` defines ``PARTS = (Part(...), ...)`` and, when its parts
also call modules of earlier topics, ``READS = ("losses", ...)``. Each ``Part`` is one graded cell of the topic's
notebook (``Part.name`` is the cell's ``grade_id``) and names a probe function in ``autograder/probes/<slug>.py``.
The probe runs the student's deepkit inside the sandbox and the reference deepkit in the trusted process on the
same seeded inputs; the trusted process compares the two output dictionaries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from course.topics import Topic as CourseTopic

Inputs = dict  # str -> ndarray | int | float | str
Outputs = dict  # str -> ndarray
CompareFn = Callable[[Outputs, Outputs, Inputs], "tuple[float, str]"]


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
class TopicChecks:
    """A topic's grading: the registry entry, the parts, and every deepkit module the parts read."""

    topic: CourseTopic
    parts: tuple[Part, ...]
    reads: tuple[str, ...] = ()  # modules of earlier topics the probes also call

    @property
    def number(self) -> str:
        return self.topic.number

    @property
    def folder(self) -> str:
        return self.topic.folder

    @property
    def notebook(self) -> str:
        return self.topic.notebook

    @property
    def modules(self) -> tuple[str, ...]:
        """The topic's own modules, then the earlier ones it reads: a missing one costs only its parts."""
        return self.topic.modules + tuple(m for m in self.reads if m not in self.topic.modules)

    @property
    def total_points(self) -> float:
        return float(sum(p.points for p in self.parts))
