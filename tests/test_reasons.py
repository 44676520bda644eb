"""What a reason may say about a failure in the sandbox (autograder/reasons.py): fast, no sandbox needed."""

from __future__ import annotations

import shutil

import pytest

from autograder.course import Course
from autograder.reasons import Context, allowed_message, course_text, key_error
from tests.hostile import spell
from tests.refs import REF_LIB, ROOT


@pytest.fixture(scope="module")
def text():
    return course_text(Course(root=ROOT))


@pytest.mark.parametrize(
    "message",
    [
        "x must be a 2-D array of shape (N, D), got shape (3,)",  # deepkit.validate
        "z must be a 1-D or 2-D array of shape (N, C) or (C,), got shape (2, 3, 4)",
        "too many values to unpack (expected 2)",
        "operands could not be broadcast together with shapes (2,3) (4,)",
        "affine_forward() takes 3 positional arguments but 4 were given",
        "'NoneType' object has no attribute 'shape'",
        "division by zero",
    ],
)
def test_course_and_common_messages_are_kept(text, message):
    assert allowed_message(message, text) == message


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("gamma must be > 0, got -0.73512", "gamma must be > 0, got <num>"),  # a value: masked
        ("index 12345 is out of bounds for axis 0 with size 3", "index <num> is out of bounds for axis 0 with size 3"),
    ],
)
def test_numbers_in_blanks_are_masked(text, message, shown):
    assert allowed_message(message, text) == shown


@pytest.mark.parametrize(
    "message",
    [
        spell(-0.7435),  # digits spelled as words
        f"x must be a 2-D array of shape (N, D), got shape ({spell(0.5)})",
        "mode must be 'train' or 'eval', got 'seven'",
        "root:x:0:0:root:/root:/bin/bash",
        "name 'secret_word' is not defined",
        "x must be a 2-D array of shape (N, D), got shape (3,)\nand more",
        "x " * 200,
    ],
)
def test_anything_else_is_dropped(text, message):
    assert allowed_message(message, text) == ""


def test_key_errors_show_only_course_words(text):
    assert key_error("'W1'", text) == "'W1'"
    assert key_error("'seven_two'", text) == ""
    assert key_error(repr(spell(0.25)), text) == ""


@pytest.fixture
def staged(tmp_path):
    lib = tmp_path / "sub" / "lib" / "deepkit"
    lib.mkdir(parents=True)
    for m in ("layers", "losses", "nets"):
        shutil.copy(REF_LIB / "deepkit" / f"{m}.py", lib / f"{m}.py")
    (lib / "losses.py").write_text((lib / "losses.py").read_text() + "\n\ndef broken(z:\n    return z\n")
    course = Course(root=ROOT)
    topic = course.topic("01")
    return Context(course, course.probe_source(topic), tmp_path / "sub", ("torch",)), lib


def test_locations_are_checked_against_the_staged_file(staged):
    ctx, lib = staged
    line = next(i for i, ln in enumerate((lib / "layers.py").read_text().splitlines(), 1) if "def affine_forward" in ln)
    good = {"type": "ValueError", "message": "", "frames": [["lib/deepkit/layers.py", "affine_forward", line + 3]]}
    assert ctx.exception(good) == f"ValueError in lib/deepkit/layers.py, affine_forward, line {line + 3}"
    forged = dict(good, frames=[["lib/deepkit/layers.py", "seven_two_one", line + 3]])
    assert ctx.exception(forged) == f"ValueError in lib/deepkit/layers.py, line {line + 3}"
    beyond = dict(good, frames=[["lib/deepkit/layers.py", "affine_forward", 10**6]])
    assert ctx.exception(beyond) == "ValueError in lib/deepkit/layers.py"
    elsewhere = dict(good, frames=[["lib/deepkit/../../etc/passwd", "x", 1], ["/box/run/runner.py", "y", 2]])
    assert ctx.exception(elsewhere) == "ValueError"
    own_class = dict(good, type="ValueError", subclass=True, message="seven")
    assert ctx.exception(own_class).startswith("a ValueError subclass in lib/deepkit/layers.py")
    assert ctx.exception(dict(good, type="Seven Two")).startswith("BaseException")


PROBE = """
import numpy as np


def affine_backward(dk, inp):
    _, cache = dk.layers.affine_forward(inp["x"], inp["w"], inp["b"])
    dx, dw, db = dk.layers.affine_backward(inp["dout"], cache)
    return {"dx": np.asarray(dx)}


def _returns(result, fn, names):
    raise TypeError(f"{fn} must return a tuple ({', '.join(names)}); it returned a {type(result).__name__}")
"""


def test_a_wrong_return_structure_is_explained_from_the_probe(staged):
    """A probe that unpacks a result in one statement: the reason says what the function must return; a probe
    that checks the structure itself (``_returns``) raises a message that is allow-listed from its source."""
    _, lib = staged
    course = Course(root=ROOT)
    ctx = Context(course, PROBE, lib.parent.parent, ("torch",))
    line = next(i for i, ln in enumerate(PROBE.splitlines(), 1) if "dx, dw, db = dk.layers.affine_backward" in ln)
    err = {"type": "ValueError", "message": "not enough values to unpack (expected 3, got 2)", "frames": []}
    err["frames"] = [["probes.py", "affine_backward", line]]
    assert ctx.exception(err) == (
        "affine_backward (lib/deepkit/layers.py) must return 3 values (dx, dw, db); what it returned could not be "
        "unpacked that way (ValueError: not enough values to unpack (expected 3, got 2))"
    )
    none = dict(err, type="TypeError", message="cannot unpack non-iterable NoneType object")
    assert "it returned None (a missing return?)" in ctx.exception(none)
    real = Context(course, course.probe_source(course.topic("01")), lib.parent.parent, ("torch",))
    said = {
        "type": "TypeError",
        "message": "affine_backward must return a tuple (dx, dw, db); it returned a tuple of 2 items",
        "frames": [["probes.py", "_returns", 18]],
    }
    assert real.exception(said) == f"TypeError: {said['message']}"
    spelled = dict(said, message=f"affine_backward must return a tuple (dx, dw, db); it returned a {spell(0.5)}")
    assert real.exception(spelled) == "TypeError"


def test_syntax_errors_are_recompiled_on_the_trusted_side(staged):
    ctx, _ = staged
    err = {"type": "SyntaxError", "message": "seven two", "frames": [], "syntax": ["lib/deepkit/losses.py", 3]}
    reason = ctx.exception(err)
    assert reason.startswith("SyntaxError in lib/deepkit/losses.py, line ") and "seven" not in reason


def test_autodiff_imports_are_named(staged):
    ctx, _ = staged
    assert ctx.forbidden("torch", "lib/deepkit/layers.py").startswith(
        "lib/deepkit/layers.py imports torch, an autodiff"
    )
    assert ctx.forbidden("seven", "/etc/passwd").startswith("your code imports an autodiff library")
    stub = {"type": "ImportError", "message": "torch is not available when grading: deepkit is a NumPy library"}
    assert "imports torch" in ctx.exception(dict(stub, frames=[]))
