"""Public and hidden cases (autograder/cases.py).

* ``check`` runs the public cases (the documented seed); grading draws hidden cases from the term secret, which
  lives in the instructor's configuration and is a clear error when missing.
* For every topic: the reference scores full marks on the public cases and on the hidden cases of several
  secrets, and every known mistake that the hidden cases catch is caught by the public cases too, so passing
  the public cases of a correct implementation means passing the hidden ones.
* The public cases survive the trip through data (the student edition's ``autograder/public/<slug>.npz``): the
  reference graded against the stored outputs keeps full marks (statistical ``compare`` functions included) and
  a known mistake is still named.
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from autograder.cases import (
    PUBLIC_SEED,
    SECRET_ENV,
    SECRET_FILE_ENV,
    MissingTermSecret,
    hidden_seed,
    init_secret_file,
    make_cases,
    read_public,
    term_secret,
    write_public,
)
from autograder.compare import judge_case
from autograder.course import Course
from autograder.local import grade_module, load_probes, load_topic, patched_package, run_probe
from course.topics import TOPICS
from tests.refs import ROOT, dk

SECRETS = ("first-term-secret-0123456789", "another-term-secret-abcdefgh")


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)


@pytest.fixture
def no_secret(monkeypatch, tmp_path):
    """No term secret anywhere: no variable, the default file in an empty config folder."""
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.delenv(SECRET_FILE_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


def test_public_cases_use_the_documented_seed_and_hidden_cases_the_secret():
    part = load_topic("01").parts[0]
    public = make_cases(part)
    assert all(_same(a, b) for a, b in zip(public, make_cases(part, PUBLIC_SEED)))
    assert Course(cases="public").case_set().seed == PUBLIC_SEED
    first, again, other = (make_cases(part, hidden_seed(s)) for s in (SECRETS[0], SECRETS[0], SECRETS[1]))
    assert all(_same(a, b) for a, b in zip(first, again)), "the hidden cases of a term are reproducible"
    assert not any(_same(a, b) for a, b in zip(first, public)), "hidden cases differ from the public ones"
    assert not any(_same(a, b) for a, b in zip(first, other)), "another term, other hidden cases"
    assert len(first) == len(public) == part.seeds
    assert Course(secret=SECRETS[0]).case_set().seed == hidden_seed(SECRETS[0]) != int.from_bytes(b"first", "big")


def test_missing_term_secret_is_a_clear_error(no_secret, monkeypatch, capsys):
    with pytest.raises(MissingTermSecret, match="term-secret --init") as err:
        Course().case_set()
    assert SECRET_ENV in str(err.value) and "outside the repository" in str(err.value)
    monkeypatch.setenv(SECRET_ENV, "short")
    with pytest.raises(MissingTermSecret, match="shorter than"):
        term_secret()
    monkeypatch.delenv(SECRET_ENV)
    monkeypatch.setenv(SECRET_FILE_ENV, str(ROOT / "autograder" / "term-secret"))
    with pytest.raises(MissingTermSecret, match="inside the course tree"):
        term_secret(ROOT)
    monkeypatch.delenv(SECRET_FILE_ENV)
    # the grading command stops before doing anything, exit status 2, with the instructions
    from autograder.cli import main

    work = no_secret / "work"
    (work / "submitted" / "alice" / "01_softmax").mkdir(parents=True)
    assert main(["--work", str(work), "autograde", "--all", "--library-only"]) == 2
    assert "grading needs the term secret" in capsys.readouterr().err
    assert not (work / "autograded").exists() and not (work / "gradebook.db").exists()
    # --init writes one (owner-only) and never overwrites it; then grading finds it
    path = init_secret_file()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(path.read_text().strip()) >= 32
    with pytest.raises(FileExistsError):
        init_secret_file()
    assert term_secret() == path.read_text().strip()
    assert main(["term-secret"]) == 0 and path.read_text().strip() not in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.folder)
def test_public_full_marks_means_hidden_full_marks(topic):
    """The reference passes the public cases and the hidden cases of two terms; every known mistake the hidden
    cases catch, the public cases catch too (so a student cannot pass the public cases and fail the hidden)."""
    checks = load_topic(topic.number)
    full = {p.name: (float(p.points), "all checks passed") for p in checks.parts}
    assert grade_module(topic.number, dk) == full
    for secret in SECRETS:
        assert grade_module(topic.number, dk, seed_base=hidden_seed(secret)) == full, secret
    for part in checks.parts:
        for mistake in part.misconceptions:
            if not mistake.replace:
                continue
            wrong = patched_package(dk, dict(mistake.replace))
            public = grade_module(topic.number, wrong, parts=[part.name])[part.name][0]
            hidden = [
                grade_module(topic.number, wrong, parts=[part.name], seed_base=hidden_seed(s))[part.name][0]
                for s in SECRETS
            ]
            if min(hidden) < part.points:
                assert public < part.points, f"{part.name}: the public cases miss {mistake.says!r}"


@pytest.mark.slow
@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.folder)
def test_public_cases_as_data_grade_like_the_reference(topic, tmp_path):
    """What the student edition ships: inputs and outputs as an npz (no pickle, no code). Graded against it, the
    reference keeps full marks (statistical compares included) and a known mistake is still named."""
    from autograder.edition import public_cases

    (path,) = public_cases(ROOT, (topic,), tmp_path)
    checks = load_topic(topic.number)
    stored = read_public(path, checks)
    probes = load_probes(checks)
    for part in checks.parts:
        cases = stored.cases[part.name]
        assert len(cases) == part.seeds
        for c, (inputs, expected) in enumerate(cases):
            assert _same(inputs, make_cases(part)[c])
            got = run_probe(probes, part, dk, inputs)
            result = judge_case(part, got, expected, inputs, lambda p=part, c=c: stored.wrong_outputs(p, c))
            assert result.fraction == 1.0, (part.name, c, result.reason)
            for mistake, outputs in stored.wrong_outputs(part, c):
                if mistake.replace and outputs is not None:
                    wrong = run_probe(probes, part, patched_package(dk, dict(mistake.replace)), inputs)
                    named = judge_case(part, wrong, expected, inputs, lambda p=part, c=c: stored.wrong_outputs(p, c))
                    assert named.fraction < 1.0 and mistake.reason in named.reason, named.reason


def test_public_data_round_trip_keeps_types_and_notices_a_changed_generator(tmp_path):
    """Stored outputs keep their kinds (Python numbers, strings, arrays with dtype and shape); the inputs are drawn
    again from the generator, and a generator changed after the release is refused, as is another topic's file."""
    import dataclasses

    checks = load_topic("01")
    part = checks.parts[0]
    cases = {p.name: [] for p in checks.parts}
    inputs = make_cases(part)[0]
    cases[part.name] = [(inputs, {"out": np.ones((2, 2)), "loss": 1.25, "n": 3, "mode": "train"})]
    path = write_public(tmp_path / "p.npz", checks, cases, {})
    assert write_public(tmp_path / "again.npz", checks, cases, {}).read_bytes() == path.read_bytes()
    back_in, back_out = read_public(path, checks).cases[part.name][0]
    assert _same(back_in, inputs)
    assert type(back_out["loss"]) is float and type(back_out["n"]) is int and back_out["mode"] == "train"
    assert back_out["out"].shape == (2, 2) and back_out["out"].dtype == np.float64
    changed = dataclasses.replace(
        checks, parts=(dataclasses.replace(part, inputs=lambda rng: {**part.inputs(rng), "x": 0.0}), *checks.parts[1:])
    )
    with pytest.raises(ValueError, match="generator changed"):
        read_public(path, changed)
    with pytest.raises(ValueError, match="not 04_normalization"):
        read_public(path, load_topic("04"))


def test_only_the_outputs_a_comparison_reads_are_stored():
    """A statistical compare that only asks which outputs exist needs no reference values (the dropout family's
    large random arrays stay out of the edition), one that reads named edge outputs keeps only those; the default
    comparison and any compare using the reference otherwise keep all of them."""
    import dataclasses

    from autograder.cases import reference_keys_read

    dropout = next(p for p in load_topic("05").parts if p.name == "dropout_backward")
    assert reference_keys_read(dropout) == {"dx_eval", "dx_p1"}  # _edges(student, reference, (...)); not dx
    assert reference_keys_read(load_topic("01").parts[0]) is None  # the default comparison
    assert reference_keys_read(next(p for p in load_topic("03").parts if p.name == "xavier_uniform")) == set()

    def reads(student, reference, inp):
        return float(reference["x"] == 1), "ok"

    def reads_a_variable_key(student, reference, inp):
        key = "x"
        return float(reference[key] == 1), "ok"

    def passes_it_on(student, reference, inp):
        return helper(reference)  # noqa: F821 - never called

    def asks_only(student, reference, inp):
        return (1.0, "ok") if "dx_eval" not in reference else (0.0, "no")

    def edges(student, reference, inp):
        return helper(student, reference, ("a", "b"))  # noqa: F821 - never called

    cases = (
        (reads, {"x"}),
        (reads_a_variable_key, None),
        (passes_it_on, None),
        (asks_only, set()),
        (edges, {"a", "b"}),
    )
    for fn, expected in cases:
        assert reference_keys_read(dataclasses.replace(dropout, compare=fn)) == expected, fn.__name__
