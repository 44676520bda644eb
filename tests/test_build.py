"""The generated tree (lib/deepkit stubs, exercises/) is a faithful, leak-free build of solutions/.

Repository-level checks run on the real tree; the stripper and the nbgrader step are also exercised on a tiny
throw-away topic (99_toy) in a temporary course, so they are tested before any real topic exists.
"""

from __future__ import annotations

import ast
import importlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from course.topics import find, load
from tools import build, nbtools

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "reference" / "deepkit"
STUB = ROOT / "lib" / "deepkit"
TOPICS = [t.folder for t in load(ROOT)]


def _ref_modules() -> list[Path]:
    return [p.relative_to(REF) for p in sorted(REF.rglob("*.py")) if "__pycache__" not in p.parts]


def _is_exercise_module(rel: Path) -> bool:
    return bool(build.solution_regions((REF / rel).read_text(encoding="utf-8").splitlines()))


EXERCISE_MODULES = [m for m in _ref_modules() if _is_exercise_module(m)]
GIVEN_MODULES = [m for m in _ref_modules() if not _is_exercise_module(m)]


# ------------------------------------------------------------------------------------- the real repository
def test_round_trip_fresh_build_equals_committed_tree(tmp_path):
    """`python -m tools.build --check` on a copy of the repository: fresh build == committed lib/ and exercises/."""
    for sub in ("solutions", "reference", "lib", "exercises"):
        if (ROOT / sub).is_dir():
            shutil.copytree(
                ROOT / sub, tmp_path / sub, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
            )
    proc = subprocess.run(
        [sys.executable, "-m", "tools.build", "--check", "--root", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "build check ok" in proc.stdout


def test_release_files_have_no_markers_hidden_tests_or_reference_code():
    assert build.release_problems(ROOT) == []


def test_assignment_folders_hold_only_their_notebook():
    assert build.check_assignment_folders(ROOT) == []


@pytest.mark.parametrize("rel", GIVEN_MODULES, ids=str)
def test_given_modules_identical_in_both_trees(rel):
    assert (STUB / rel).is_file(), f"lib/deepkit/{rel} missing: run make build"
    assert (STUB / rel).read_bytes() == (REF / rel).read_bytes(), f"lib/deepkit/{rel} differs from solutions/"


@pytest.mark.parametrize("rel", EXERCISE_MODULES, ids=str)
def test_stub_keeps_signatures_and_raises_naming_the_exercise(rel):
    assert (STUB / rel).is_file(), f"lib/deepkit/{rel} missing: run make build"
    ref_src, stub_src = (REF / rel).read_text(encoding="utf-8"), (STUB / rel).read_text(encoding="utf-8")
    ref_tree, stub_tree = ast.parse(ref_src), ast.parse(stub_src)
    topic = next(t.folder for t in load(ROOT) if rel.stem in t.modules)
    module = f"lib/deepkit/{rel.as_posix()}"

    def functions(tree):
        return {n.name: n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}

    ref_funcs, stub_funcs = functions(ref_tree), functions(stub_tree)
    assert ref_funcs.keys() == stub_funcs.keys()
    for name, ref_fn in ref_funcs.items():
        stub_fn = stub_funcs[name]
        assert ast.dump(stub_fn.args) == ast.dump(ref_fn.args), f"{name}: signature changed"
        assert ast.get_docstring(stub_fn) == ast.get_docstring(ref_fn), f"{name}: docstring changed"
    lines = ref_src.splitlines()
    for region in build.solution_regions(lines):
        func = build.enclosing_function(ref_tree, region.begin + 1)
        expected = f'raise NotImplementedError("Exercise {topic}: implement {func} in {module}")'
        assert expected in stub_src, f"stub of {func} lacks {expected}"


def test_stubs_import_cleanly():
    """Every module of the student's lib imports (a fresh interpreter, lib/ first on the path)."""
    modules = ["deepkit." + ".".join(rel.with_suffix("").parts).replace(".__init__", "") for rel in _ref_modules()]
    code = textwrap.dedent(f"""
        import importlib, sys
        sys.path.insert(0, {str(ROOT / "lib")!r})
        for m in {modules!r}:
            mod = importlib.import_module(m)
            assert mod.__file__.startswith({str(STUB)!r}), mod.__file__
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
    assert proc.stderr == "", proc.stderr


def _committed_notebooks() -> list[Path]:
    from tools.run_notebooks import all_notebooks

    return all_notebooks(ROOT)


@pytest.mark.parametrize("path", _committed_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_notebooks_have_no_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {i} has outputs: clear them (nbtools.write does)"
            assert cell.get("execution_count") is None, f"cell {i} has an execution count"


@pytest.mark.parametrize("topic", TOPICS)
def test_grade_cells_match_autograder_parts(topic):
    """Every autograded cell of the source notebook is a Part of autograder/checks/<slug>.py (same name, same
    points) and every Part has its cell; manually graded answer cells (markdown) are the instructor's."""
    checks = importlib.import_module(f"autograder.checks.{find(topic).slug}")
    nb = json.loads((ROOT / find(topic).source_notebook).read_text(encoding="utf-8"))
    cells = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and cell["cell_type"] == "code":
            assert meta["grade_id"] not in cells, f"duplicate grade_id {meta['grade_id']}"
            cells[meta["grade_id"]] = float(meta["points"])
    parts = {p.name: float(p.points) for p in checks.PARTS}
    assert sorted(cells) == sorted(parts), f"grade cells {sorted(cells)} != parts {sorted(parts)}"
    for name, points in parts.items():
        assert cells[name] == points, f"{name}: cell has {cells[name]} points, part has {points}"


@pytest.mark.parametrize("topic", TOPICS)
def test_landing_page_links_every_topic(topic):
    text = (ROOT / "START_HERE.ipynb").read_text(encoding="utf-8")
    assert f"(lectures/{topic}.ipynb)" in text and f"(exercises/{topic}/{topic}.ipynb)" in text


# ------------------------------------------------------------------- the tools on a throw-away topic (99_toy)
TOY_MODULE = '''\
"""A toy exercise module."""
import numpy as np


def double(x: np.ndarray) -> np.ndarray:
    """Return ``2 * x``.

    x: (N,) array.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"x must have shape (N,), got {x.shape}")
    ### BEGIN SOLUTION
    result = x * 2.0 + 0.0 * np.sum(x)
    ### END SOLUTION
    return result


class Scaler:
    def scale(self, y: float) -> float:
        """Scaled tanh."""
        if y:
            ### BEGIN SOLUTION
            value = float(np.tanh(y)) * 3.14159
            return value
            ### END SOLUTION
        return 0.0
'''

TOY_TEST = """
from deepkit.toy import double
assert np.allclose(double(np.array([1.0, 2.0])), [2.0, 4.0])
### BEGIN HIDDEN TESTS
hidden_check("double")
secret_expected_value = 12345.678
### END HIDDEN TESTS"""


TOY_REGISTRY = '''\
"""The toy course's registry: one topic."""
from course.topics import Topic

TOPICS = (Topic("99", "toy", "A toy topic", ("toy",)),)
'''


def make_toy_course(root: Path) -> Path:
    """A course in ``root`` with the real given modules plus one toy exercise module and notebook, built."""
    shutil.copytree(REF, root / "reference" / "deepkit", ignore=shutil.ignore_patterns("__pycache__"))
    for rel in EXERCISE_MODULES:  # the toy course has only the toy exercise
        (root / "reference" / "deepkit" / rel).unlink()
    (root / "reference" / "deepkit" / "toy.py").write_text(TOY_MODULE)
    (root / "course").mkdir()
    (root / "course" / "topics.py").write_text(TOY_REGISTRY)
    nbtools.write(
        root / "solutions" / "99_toy" / "99_toy.ipynb",
        [
            nbtools.md("# Toy"),
            nbtools.code(nbtools.SETUP_CELL),
            nbtools.md("Implement `double` in `lib/deepkit/toy.py`."),
            nbtools.graded(TOY_TEST, "double", 2),
        ],
    )
    build.build(root)
    return root


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_course(tmp_path_factory.mktemp("course"))


def test_toy_stub_replaces_regions_with_named_raise(toy):
    stub = (toy / "lib" / "deepkit" / "toy.py").read_text()
    assert 'raise NotImplementedError("Exercise 99_toy: implement double in lib/deepkit/toy.py")' in stub
    assert '            raise NotImplementedError("Exercise 99_toy: implement scale in lib/deepkit/toy.py")' in stub
    assert "np.sum(x)" not in stub and "3.14159" not in stub and "SOLUTION" not in stub
    assert '"""Return ``2 * x``.' in stub and 'raise ValueError(f"x must have shape (N,)' in stub


def test_toy_stub_imports_validates_then_raises(toy):
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(toy / "lib")!r})
        import numpy as np
        from deepkit.toy import double, Scaler
        try:
            double(np.zeros((2, 2)))
        except ValueError as e:
            print("ValueError", e)
        for call in (lambda: double(np.ones(3)), lambda: Scaler().scale(1.0)):
            try:
                call()
            except NotImplementedError as e:
                print("NotImplementedError", e)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "ValueError x must have shape (N,), got (2, 2)",
        "NotImplementedError Exercise 99_toy: implement double in lib/deepkit/toy.py",
        "NotImplementedError Exercise 99_toy: implement scale in lib/deepkit/toy.py",
    ]


def test_toy_release_notebook_has_no_hidden_tests(toy):
    release = (toy / "exercises" / "99_toy" / "99_toy.ipynb").read_text()
    assert "double(np.array([1.0, 2.0]))" in release
    assert "secret_expected_value" not in release and "HIDDEN" not in release
    assert 'hidden_check(\\"double\\")' not in release
    cells = json.loads(release)["cells"]
    graded = [c for c in cells if c["metadata"].get("nbgrader", {}).get("grade")]
    assert [c["metadata"]["nbgrader"]["grade_id"] for c in graded] == ["double"]
    assert sorted(p.name for p in (toy / "exercises" / "99_toy").iterdir()) == ["99_toy.ipynb"]


def test_toy_build_is_deterministic_and_check_passes(toy, tmp_path):
    before = {p: p.read_bytes() for p in toy.rglob("*") if p.is_file() and "solutions" not in p.parts}
    build.build(toy, tmp_path)
    assert build.compare_trees(tmp_path, toy) == []
    assert build.check(toy) == []
    after = {p: p.read_bytes() for p in toy.rglob("*") if p.is_file() and "solutions" not in p.parts}
    assert before == after  # --check writes nothing into the tree it checks


def _copy(toy: Path, dst: Path) -> Path:
    shutil.copytree(toy, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def test_check_lists_edited_missing_and_stale_files(toy, tmp_path):
    root = _copy(toy, tmp_path / "c")
    (root / "lib" / "deepkit" / "gradcheck.py").write_text("# edited\n")
    (root / "lib" / "deepkit" / "data.py").unlink()
    (root / "lib" / "deepkit" / "old_module.py").write_text("x = 1\n")
    problems = build.check(root)
    assert any(p.startswith("lib/deepkit/gradcheck.py: differs") for p in problems), problems
    assert any(p.startswith("lib/deepkit/data.py: missing") for p in problems), problems
    assert any(p.startswith("lib/deepkit/old_module.py: not generated") for p in problems), problems
    assert build.main(["--check", "--root", str(root)]) == 1
    build.build(root)  # a build repairs the tree and removes the stale module
    assert not (root / "lib" / "deepkit" / "old_module.py").exists()
    assert build.check(root) == []


def test_check_catches_leaked_reference_code_and_hidden_tests(toy, tmp_path):
    root = _copy(toy, tmp_path / "c")
    stub = root / "lib" / "deepkit" / "toy.py"
    stub.write_text(
        stub.read_text().replace("    return result\n", "    result = x * 2.0 + 0.0 * np.sum(x)\n    return result\n")
    )
    nb_path = root / "exercises" / "99_toy" / "99_toy.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][-1]["source"] += ['\nhidden_check("double")\n', "### BEGIN SOLUTION\n"]
    nb_path.write_text(json.dumps(nb))
    problems = build.release_problems(root)
    assert "lib/deepkit/toy.py: contains reference code: 'result = x * 2.0 + 0.0 * np.sum(x)'" in problems
    assert "exercises/99_toy/99_toy.ipynb: contains 'BEGIN SOLUTION'" in problems
    assert any("hidden_check call" in p for p in problems), problems


def test_sources_without_cell_ids_build_deterministically(toy, tmp_path):
    root = _copy(toy, tmp_path / "c")
    src = root / "solutions" / "99_toy" / "99_toy.ipynb"
    nb = json.loads(src.read_text())
    nb["nbformat_minor"] = 4
    for cell in nb["cells"]:
        del cell["id"]
    src.write_text(json.dumps(nb))
    build.build(root, tmp_path / "a")
    build.build(root, tmp_path / "b")
    assert build.compare_trees(tmp_path / "a", tmp_path / "b") == []


def test_build_rejects_python_files_in_assignment_folders(toy, tmp_path):
    root = _copy(toy, tmp_path / "c")
    (root / "solutions" / "99_toy" / "helper.py").write_text("SECRET = 1\n")
    with pytest.raises(build.BuildError, match="solutions/99_toy/helper.py"):
        build.build(root, tmp_path / "out")
    assert any("helper.py" in p for p in build.check(root))


@pytest.mark.parametrize(
    "source, message",
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "never closed"),
        ("def f():\n    return 1\n    ### END SOLUTION\n", "END SOLUTION without"),
        ("### BEGIN SOLUTION\nX = 1\n### END SOLUTION\n", "no topic in course/topics.py"),
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", "no topic in course/topics.py"),
    ],
)
def test_stripper_rejects_malformed_sources(source, message):
    with pytest.raises(build.BuildError, match=message):
        build.strip_source(source, "lib/deepkit/bad.py")


def test_stripper_rejects_a_region_outside_a_function():
    with pytest.raises(build.BuildError, match="inside a function body"):
        build.strip_source("### BEGIN SOLUTION\nX = 1\n### END SOLUTION\n", "lib/deepkit/layers.py")


def test_given_module_is_copied_verbatim():
    assert build.strip_source('"""A given module."""\n\n\ndef f():\n    return 1\n', "m.py") is None


def test_build_never_overwrites_a_students_uncommitted_work(toy, tmp_path):
    """`make build` in a student's checkout refuses to clobber edited stubs unless --force is given."""
    root = _copy(toy, tmp_path / "g")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "course"], check=True)
    assert build.local_work(root) == []
    stub = root / "lib" / "deepkit" / "toy.py"
    work = stub.read_text().replace(
        'raise NotImplementedError("Exercise 99_toy: implement double',
        'return 2 * x  # my answer\n    raise NotImplementedError("x',
    )
    stub.write_text(work)
    assert build.local_work(root) == ["lib/deepkit/toy.py"]
    assert build.main(["--root", str(root)]) == 1
    assert stub.read_text() == work  # nothing lost
    # the instructor editing the source and rebuilding is not blocked
    src = root / "reference" / "deepkit" / "toy.py"
    src.write_text(src.read_text().replace("Return ``2 * x``.", "Return twice x."))
    assert build.local_work(root) == []
    src.write_text(TOY_MODULE)
    assert build.main(["--root", str(root), "--force"]) == 0
    assert "my answer" not in stub.read_text()
