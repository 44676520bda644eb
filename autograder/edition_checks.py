"""A topic's checks module as the student edition ships it: the trusted helpers' code replaced by their answers.

A checks module (``autograder/checks/<slug>.py``) holds more than tolerances: the known mistakes written against
the reference, the documented alternative forms a compare accepts (topic 07 runs Adam both ways), the theory of a
statistical check (topic 03's gains and fans). Shipped as they are, they would hand students answers. The
edition's ``check`` needs only what the parts' comparisons do on the public cases, so:

* the **roots** stay code: every part's ``compare`` and input generator and every known mistake's ``detect`` (the
  top-level definitions that hold them: a compare built by a factory keeps its factory), and the module's
  constants;
* every other top-level function (a **helper**) becomes a stub with the same signature whose answer comes from a
  table recorded here, on the public cases (``cases.public_answer``; the table ships in the topic's npz). A helper
  that receives a student's outputs, or arguments or a result the table cannot hold (a random generator, a
  function), or that the module's own code calls when it is imported, stays code;
* the result is verified: every comparison the public cases can meet here (the reference's outputs, each known
  mistake's, none, and outputs nudged off by 0.1% and by 2x) must give the same verdict with the stubs as with the
  original; a helper whose stub cannot answer goes back to being code, and the check repeats.

What stays code is then held to the edition's leak check like every other file.
"""

from __future__ import annotations

import ast
import inspect
import json
import sys
import types
from pathlib import Path

import numpy as np

from autograder.cases import (
    ANSWERS,
    PUBLIC_SEED,
    Unencodable,
    _encode,
    call_key,
    input_digest,
    make_cases,
    reference_keys_read,
    unread_placeholder,
)
from autograder.spec import TopicChecks


class Recorder:
    """Calls of a module's top-level functions (by code object), seen through ``sys.setprofile``."""

    def __init__(self, functions: dict[str, types.CodeType]) -> None:
        self.codes = {code: name for name, code in functions.items()}
        self.calls: dict[str, list[tuple[dict, object]]] = {name: [] for name in functions}
        self.stack: list[tuple[object, str, dict]] = []

    def _profile(self, frame, event, arg) -> None:
        if event == "call" and frame.f_code in self.codes:
            code = frame.f_code
            n = code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & 4) + bool(code.co_flags & 8)
            params = {name: frame.f_locals[name] for name in code.co_varnames[:n] if name in frame.f_locals}
            self.stack.append((frame, self.codes[code], params))
        elif event == "return" and self.stack and self.stack[-1][0] is frame:
            _, name, params = self.stack.pop()
            self.calls[name].append((params, arg))

    def __enter__(self) -> Recorder:
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc) -> None:
        sys.setprofile(None)


def _load(code: types.CodeType, name: str, path: Path, recorder: Recorder | None = None) -> types.ModuleType:
    """Run the compiled module ``code`` as a fresh module (its functions' code objects are the same every time)."""
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # dataclasses look their module up while it runs
    try:
        if recorder is None:
            exec(code, module.__dict__)
        else:
            with recorder:
                exec(code, module.__dict__)
    finally:
        del sys.modules[name]
    return module


def _roots(module: types.ModuleType, path: Path) -> set[str]:
    """Top-level names whose definitions hold a compare, an input generator or a detect."""
    found = set()
    for part in module.PARTS:
        fns = [part.compare, part.inputs, *(m.detect for m in part.misconceptions)]
        for fn in fns:
            code = getattr(fn, "__code__", None)
            if code is not None and Path(code.co_filename) == path:
                found.add(fn.__qualname__.split(".")[0])
    return found


def _student_objects(student: dict) -> set[int]:
    """Identities of the student's outputs (the dict and its values): what a judging helper receives."""
    return {id(student), *(id(v) for v in student.values())}


def _mentions(value, student: set[int]) -> bool:
    """Does ``value`` hold one of the student's output objects (a helper that judges a student's outputs)? By
    identity: equal numbers from the inputs are no mention (a value derived from the student's is not seen here,
    but then its stub cannot answer, which the verification below catches)."""
    if id(value) in student:
        return True
    if isinstance(value, dict):
        return any(_mentions(v, student) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions(v, student) for v in value)
    return False


def _variants(reference: dict, wrong: list) -> list[dict]:
    """Outputs a comparison can meet: the reference's, the known mistakes', none, nudged by 0.1% and by 2x."""

    def scaled(factor: float) -> dict:
        return {k: (np.asarray(v) * factor if np.asarray(v).dtype.kind == "f" else v) for k, v in reference.items()}

    return [reference, *(w for w in wrong if w is not None), {}, scaled(1.001), scaled(2.0)]


def _stored(outputs: dict, read: frozenset[str] | None) -> dict:
    """Outputs as the edition stores them (``cases.write_public``: only the values the compare reads, of the others
    zeros of their shape)."""
    return {
        k: v if read is None or k in read else unread_placeholder(np.shape(v), np.asarray(v).dtype)
        for k, v in outputs.items()
    }


def _verdicts(module, cases: dict, wrong: dict, recorder: Recorder | None = None, stored: dict | None = None):
    """Every verdict the module's comparisons give on the variants (``(fraction, reason)`` and the detects; an
    exception is a verdict too), and which helpers saw a student's arrays. ``stored``: part -> the reference values its
    compare reads (``cases.reference_keys_read``); compare against the reference outputs as the edition stores them."""
    from autograder.compare import compare_case

    out, tainted = [], set()
    for part in module.PARTS:
        for c, (inputs, reference) in enumerate(cases[part.name]):
            against = _stored(reference, stored[part.name]) if stored is not None else reference
            for student in _variants(reference, wrong.get((part.name, c), [])):
                marks = _student_objects(student)
                start = {n: len(v) for n, v in recorder.calls.items()} if recorder else {}
                try:
                    if recorder is not None:
                        recorder.__enter__()
                    verdict = compare_case(part, student, against, inputs)
                    detected = [bool(m.detect(student, inputs)) for m in part.misconceptions if m.detect]
                    out.append((part.name, c, verdict.fraction, verdict.reason, detected))
                except Exception as exc:  # noqa: BLE001 - a verdict like any other
                    out.append((part.name, c, "raised", f"{type(exc).__name__}: {exc}"))
                finally:
                    if recorder is not None:
                        recorder.__exit__()
                if recorder is not None:
                    for name, calls in recorder.calls.items():
                        if any(_mentions(params, marks) for params, _ in calls[start[name] :]):
                            tainted.add(name)
    return out, tainted


def _stub(node: ast.FunctionDef, slug: str) -> str:
    """The helper's definition with its signature and an answer lookup for a body."""
    stub = ast.FunctionDef(
        name=node.name,
        args=node.args,
        body=[
            ast.Expr(ast.Constant("Answered from the public cases' table; the code stays with the instructor.")),
            ast.Return(
                ast.Call(
                    ast.Name("_public_answer", ast.Load()),
                    [ast.Constant(slug), ast.Constant(node.name), ast.Call(ast.Name("locals", ast.Load()), [], [])],
                    [],
                )
            ),
        ],
        decorator_list=[],
        returns=node.returns,
        type_params=[],
    )
    return ast.unparse(ast.fix_missing_locations(stub)) + "\n"


def _source_with_stubs(source: str, tree: ast.Module, stubbed: set[str], slug: str) -> str:
    lines = source.splitlines(keepends=True)
    defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in stubbed}
    for node in sorted(defs.values(), key=lambda n: -n.lineno):
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
        lines[start : node.end_lineno] = [_stub(node, slug)]
    header = (
        f"# The student edition of autograder/checks/{slug}.py: the trusted helpers "
        f"{', '.join(sorted(stubbed)) or '(none)'}\n"
        "# answer from the public cases' table (autograder/public/); their code stays with the instructor.\n"
    )
    body = "".join(lines)
    future = "from __future__ import annotations\n"
    if future in body:
        head, _, rest = body.partition(future)
        body = head + future + "\nfrom autograder.cases import public_answer as _public_answer\n" + rest
    else:
        body = "from autograder.cases import public_answer as _public_answer\n" + body
    return header + body


def ship(path: Path, checks: TopicChecks, cases: dict, wrong: dict) -> tuple[str, tuple]:
    """(the edition's source of the checks module at ``path``, its answers for ``cases.write_public``).

    ``cases``: part -> [(inputs, reference outputs)] (public); ``wrong``: (part, case) -> known mistakes' outputs.
    """
    slug = checks.topic.slug
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    code = compile(source, str(path), "exec")
    top = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    original = _load(code, f"_edition_original_{slug}", path)
    helpers = set(top) - _roots(original, path)
    functions = {n: inspect.unwrap(getattr(original, n, None)) for n in helpers}  # through functools.cache & co.
    codes = {n: fn.__code__ for n, fn in functions.items() if hasattr(fn, "__code__")}
    import_time = Recorder(codes)
    _load(code, f"_edition_import_{slug}", path, import_time)  # the module's own code calls these: code
    drawing = Recorder(codes)
    with drawing:  # the edition draws the public inputs itself (and checks their digests): what that calls is code
        expected_inputs = _drawn(original)
    recorder = Recorder(codes)
    expected, tainted = _verdicts(original, cases, wrong, recorder)
    expected = [expected_inputs, *expected]
    values_read = {part.name: reference_keys_read(part) for part in original.PARTS}

    keep = set(tainted) | {n for rec in (import_time, drawing) for n, calls in rec.calls.items() if calls}
    while True:
        table, arrays = {}, {}
        for name in sorted(helpers - keep):
            entries = {}
            try:
                for params, result in recorder.calls.get(name, []):
                    entries[call_key(params)] = json.dumps(_encode(result, arrays, f"answer|{name}"))
            except Unencodable:
                keep.add(name)
                continue
            table[name] = entries
        stubbed = helpers - keep
        shipped = _source_with_stubs(source, tree, stubbed, slug)
        used_arrays = {k: v for k, v in arrays.items() if k.split("|")[1] in table}
        ANSWERS[slug] = (table, used_arrays)
        try:
            edition = _load(compile(shipped, str(path), "exec"), f"_edition_shipped_{slug}", path)
            got, _ = _verdicts(edition, cases, wrong, stored=values_read)
            got = [_drawn(edition), *got]
        except LookupError as exc:
            got = [("import", str(exc))]
        finally:
            ANSWERS.pop(slug, None)
        if got == expected:
            return shipped, (table, used_arrays)
        culprit = _first_difference(expected, got, stubbed)
        if culprit is None:
            raise RuntimeError(
                f"checks/{slug}.py: with its helpers answered from the public cases, a comparison gives another "
                f"verdict than the original ({got[:1]}); keep what that compare needs in the compare itself"
            )
        keep.add(culprit)


def _drawn(module) -> tuple:
    """The digests of every part's public inputs as ``module`` draws them (the edition's ``check`` does the same)."""
    return ("inputs", [(part.name, [input_digest(i) for i in make_cases(part, PUBLIC_SEED)]) for part in module.PARTS])


def _first_difference(expected: list, got: list, stubbed: set[str]) -> str | None:
    """The stubbed helper to turn back into code: the one the first differing verdict's LookupError names."""
    for a, b in zip(expected, got):
        if a != b:
            return next((name for name in sorted(stubbed) if f"{name}:" in str(b)), None)
    return next((name for name in sorted(stubbed) if f"{name}:" in str(got)), None)
