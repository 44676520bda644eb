"""What a topic's hidden checks are made of (trusted side; never shipped into the sandbox).

A topic's checks module ``autograder/checks/<slug>.py`` defines ``PARTS = (Part(...), ...)`` and, when its parts
also call modules of earlier topics, ``READS = ("losses", ...)``. Each ``Part`` is one graded cell of the topic's
notebook (``Part.name`` is the cell's ``grade_id``) and names a probe function in ``autograder/probes/<slug>.py``.
The probe runs the student's deepkit inside the sandbox and the reference deepkit in the trusted process on the
same seeded inputs; the trusted process compares the two output dictionaries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from course.topics import Topic as CourseTopic

Inputs = dict  # str -> ndarray | int | float | str
Outputs = dict  # str -> ndarray
CompareFn = Callable[[Outputs, Outputs, Inputs], "tuple[float, str]"]


@dataclass(frozen=True)
class Misconception:
    """A known mistake: when a student's outputs on a failed case match it, the reason names it.

    says:    the mistake, as the student should read it ("dx matches batch norm backward without the mean
             term (the batch mean depends on every x)").
    see:     where the course explains it, as "lecture NN, section K" (tests check the section exists).
    replace: ``{"module.function": wrong_function}``: the probe runs on the reference package with these
             functions swapped for the wrong ones (trusted code, never shipped; write them against the
             reference's own caches and helpers); a case matches when the student's outputs pass the part's
             comparison against these outputs.
    detect:  instead of ``replace``, for statistical parts: ``detect(student_outputs, inputs) -> bool``.
    """

    says: str
    see: str
    replace: Mapping[str, Callable] = field(default_factory=dict)
    detect: Callable[[Outputs, Inputs], bool] | None = None

    @property
    def reason(self) -> str:
        return f"{self.says}: see {self.see}"


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
    timeout:  CPU seconds the sandbox may spend on all seeds of this part (CPU, not wall time: the same on a
              loaded machine; a generous wall-clock backstop and the submission's budgets are in ``Limits``).
    misconceptions: known mistakes the grader recognises and names (see ``Misconception``).
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
    misconceptions: tuple[Misconception, ...] = ()


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
