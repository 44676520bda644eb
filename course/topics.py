"""The topic registry: the one place that says which topics exist and where each of their pieces lives.

Every tool iterates over ``TOPICS``: the build (stubs and release notebooks), the grader (checks, probes,
submissions), ``check``/``submit``, the notebook runner, the benchmarks, the site and the shared tests. No
other code lists topics, globs for notebooks or derives a topic's paths on its own.

A topic is named by its ``slug``; every per-topic file is named after it::

    lectures/NN_slug.ipynb (+ .py, its jupytext text twin)   the lecture
    solutions/NN_slug/NN_slug.ipynb (+ .py)                  the nbgrader source notebook (secret)
    exercises/NN_slug/NN_slug.ipynb                          the release notebook (generated)
    reference/deepkit/<module>.py, lib/deepkit/<module>.py   the modules the student writes (reference, stub)
    autograder/checks/slug.py                                hidden checks: the graded parts (trusted side)
    autograder/probes/slug.py                                probes: run the student's code in the sandbox
    reference/deepkit/viz/slug.py                            the topic's explorers (widgets)
    tests/topics/test_slug.py                                the topic's own tests

Paths are relative to a course root. A course tree carries its own registry in ``course/topics.py``: the
repository lists every topic, a student edition only the released ones, a test's temporary tree a toy topic;
``load(root)`` reads the registry of any tree.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class Topic:
    """One topic of the course: its identity and the names of all its pieces."""

    number: str  # "04": orders the course, prefixes the folders
    slug: str  # "normalization": names every per-topic file
    title: str  # one line for tables and menus
    modules: tuple[str, ...]  # deepkit modules the student writes for this topic ("norm",)
    explorers: tuple[str, ...] = field(default=())  # functions of deepkit.viz.<slug> that return an explorer

    @property
    def folder(self) -> str:
        """``NN_slug``: the nbgrader assignment id and the folder/notebook name."""
        return f"{self.number}_{self.slug}"

    @property
    def notebook(self) -> str:
        """File name of the topic's source, release and lecture notebooks."""
        return f"{self.folder}.ipynb"

    @property
    def lecture(self) -> PurePosixPath:
        return PurePosixPath("lectures") / self.notebook

    @property
    def source_notebook(self) -> PurePosixPath:
        return PurePosixPath("solutions") / self.folder / self.notebook

    @property
    def exercise_notebook(self) -> PurePosixPath:
        return PurePosixPath("exercises") / self.folder / self.notebook

    @property
    def checks(self) -> PurePosixPath:
        """The hidden checks: a module defining ``PARTS``."""
        return PurePosixPath("autograder") / "checks" / f"{self.slug}.py"

    @property
    def probes(self) -> PurePosixPath:
        """The probe functions that run inside the sandbox (numpy and the stdlib only)."""
        return PurePosixPath("autograder") / "probes" / f"{self.slug}.py"

    @property
    def viz_module(self) -> str:
        return f"deepkit.viz.{self.slug}"

    @property
    def tests(self) -> PurePosixPath:
        return PurePosixPath("tests") / "topics" / f"test_{self.slug}.py"


TOPICS: tuple[Topic, ...] = (
    Topic(
        "01",
        "softmax",
        "Linear scores, softmax, cross-entropy, backprop and gradient checking",
        ("layers", "losses", "nets"),
        ("explorer",),
    ),
    Topic(
        "02",
        "activations",
        "Activation functions: sigmoid, tanh, the ReLU family, ELU, SELU, Maxout",
        ("activations",),
        ("explorer",),
    ),
    Topic("03", "initialization", "Initialization: symmetry, Xavier, Kaiming", ("init",), ("explorer",)),
    Topic("04", "normalization", "Batch and layer normalization", ("norm",), ("explorer",)),
    Topic(
        "05",
        "regularization",
        "Regularization: norm penalties, the dropout family, early stopping",
        ("regularizers", "dropout", "early_stopping"),
        ("explorer", "masks_explorer"),
    ),
    Topic("06", "alphaconv", "Softmax-weighted connections: the alpha-conv", ("alphaconv",), ("explorer",)),
    Topic("07", "optimizers", "Optimizers and learning-rate schedules", ("optim",), ("explorer",)),
    Topic("08", "convolution", "Convolution, pooling and architectures", ("conv", "pool", "blocks"), ("explorer",)),
    Topic(
        "09",
        "training",
        "Training practice: preprocessing, a Solver, babysitting, hyper-parameter search",
        ("solver", "models"),
        ("explorer",),
    ),
)

START_HERE = PurePosixPath("START_HERE.ipynb")


class UnknownTopic(LookupError):
    """A topic named by the user does not exist (the message lists the known ones)."""


def find(key: str | int, topics: tuple[Topic, ...] = TOPICS) -> Topic:
    """The topic for ``"4"``, ``"04"``, ``4``, ``"normalization"`` or ``"04_normalization"``."""
    text = str(key).strip()
    if text.isdigit():
        text = f"{int(text):02d}"
    for t in topics:
        if text in (t.number, t.slug, t.folder):
            return t
    known = ", ".join(t.folder for t in topics) or "none"
    raise UnknownTopic(f"unknown assignment {key!r} (known: {known})")


def student_modules(topics: tuple[Topic, ...] = TOPICS) -> tuple[str, ...]:
    """Every deepkit module a student writes, in course order."""
    return tuple(m for t in topics for m in t.modules)


def owner(module: str, topics: tuple[Topic, ...] = TOPICS) -> Topic | None:
    """The topic whose exercise asks for ``module`` (None for a given module such as ``gradcheck``)."""
    return next((t for t in topics if module in t.modules), None)


def load(root: Path | str) -> tuple[Topic, ...]:
    """The registry of the course tree at ``root`` (its ``course/topics.py``; this one if it has none)."""
    path = (Path(root) / "course" / "topics.py").resolve()
    if not path.is_file() or path == Path(__file__).resolve():
        return TOPICS
    digest = hashlib.sha1(str(path).encode() + path.read_bytes()).hexdigest()[:16]
    name = f"_course_topics_{digest}"  # per content: a registry that changed (a new release) is read again
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the file runs
        spec.loader.exec_module(module)
    return tuple(sys.modules[name].TOPICS)
