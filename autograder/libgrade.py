"""Grade a staged submission's library: probes run in the sandbox on the student's deepkit, the trusted parent
computes the reference outputs in-process and compares (``autograder.compare``)."""

from __future__ import annotations

import io
import json
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.cases import make_cases, read_public
from autograder.compare import CaseResult, judge_case, part_score
from autograder.course import Course, Limits
from autograder.errors import InfrastructureError
from autograder.local import misconception_outputs, reference_package, run_probe
from autograder.sandbox import jail
from autograder.spec import TopicChecks

RUNNER = Path(__file__).resolve().parent / "sandbox/probe_runner.py"
_REF_LOCK = threading.RLock()  # wrong_outputs holds it while it asks reference_cases
_REF_CACHE: dict = {}
_WRONG_CACHE: dict = {}
_STORED: dict = {}  # the public cases read from a student edition's data, by the _REF_CACHE key


@dataclass
class PartResult:
    name: str
    points: float
    max_points: float
    reason: str
    description: str = ""


@dataclass
class LibResult:
    parts: dict[str, PartResult]
    seconds: float = 0.0
    isolated: bool = True
    notes: list[str] = field(default_factory=list)


def reference_cases(course: Course, topic: TopicChecks) -> dict[str, list[tuple[dict, dict]]]:
    """Part name -> [(inputs, reference outputs)] on the course's cases (``Course.case_set``: public or hidden),
    computed once per process, topic and case set; a student edition's public cases are read from its data."""
    cases = course.case_set()
    key = (str(course.root), topic.number, cases.key)
    with _REF_LOCK:
        if key not in _REF_CACHE:
            stored = course.public_cases_file(topic) if cases.name == "public" else None
            if stored is not None:
                _STORED[key] = read_public(stored, topic)
                _REF_CACHE[key] = _STORED[key].cases
            else:
                probes = course.load_probes(topic)
                ref = reference_package(course)
                _REF_CACHE[key] = {
                    part.name: [(inp, run_probe(probes, part, ref, inp)) for inp in make_cases(part, cases.seed)]
                    for part in topic.parts
                }
        return _REF_CACHE[key]


def wrong_outputs(course: Course, topic: TopicChecks, part_name: str, case: int) -> list:
    """The known mistakes' outputs on one case of a part, computed on first need and kept (stored with the
    public cases in a student edition)."""
    key = (str(course.root), topic.number, course.case_set().key)
    with _REF_LOCK:
        if (*key, part_name, case) not in _WRONG_CACHE:
            part = next(p for p in topic.parts if p.name == part_name)
            inputs = reference_cases(course, topic)[part_name][case][0]
            if key in _STORED:
                found = _STORED[key].wrong_outputs(part, case)
            else:
                found = misconception_outputs(course.load_probes(topic), part, reference_package(course), inputs)
            _WRONG_CACHE[(*key, part_name, case)] = found
        return _WRONG_CACHE[(*key, part_name, case)]


_AST_LOCK = threading.Lock()


def _parse(source):
    """``ast.parse``, one thread at a time: CPython 3.11 keeps the AST builder's recursion counter per interpreter,
    so parses in parallel grading threads can fail with "AST constructor recursion depth mismatch" (a grading
    error that is no student's doing)."""
    import ast

    with _AST_LOCK:
        return ast.parse(source)


def modules_used(course: Course, topic: TopicChecks) -> dict[str, list[str]]:
    """Part name -> the topic modules its probe touches (``dk.<module>.`` in the probe's source)."""
    import ast
    import re

    src = course.probe_source(topic)
    funcs = {n.name: ast.get_source_segment(src, n) or "" for n in _parse(src).body if isinstance(n, ast.FunctionDef)}
    out = {}
    for part in topic.parts:
        names = set(re.findall(r"\bdk\.(\w+)", funcs.get(part.probe, "")))
        out[part.name] = [m for m in topic.modules if m in names] or list(topic.modules)
    return out


def _imports_closure(sub_dir: Path, modules: set[str]):
    """``reach(mods)``: the student modules that ``mods`` import, directly or not, read statically (``ast``, never
    run) from the staged files; so a part that fails in the release stub of a missing module names that module."""
    import ast

    edges: dict[str, set[str]] = {}
    for m in modules:
        try:
            tree = _parse((sub_dir / "lib" / "deepkit" / f"{m}.py").read_bytes())
        except Exception:  # noqa: BLE001 - unreadable or not Python: no edges
            continue
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = (node.module or "").split(".")
                if base[:1] == ["deepkit"] and len(base) > 1:
                    found.add(base[1])
                elif (node.level and not node.module) or base == ["deepkit"]:
                    found.update(a.name for a in node.names)
                elif node.level:
                    found.add(base[0])
            elif isinstance(node, ast.Import):
                found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("deepkit."))
        edges[m] = found & modules

    def reach(mods) -> list[str]:
        seen, todo = [], list(mods)
        while todo:
            m = todo.pop(0)
            for n in sorted(edges.get(m, ())):
                if n not in seen and n not in mods:
                    seen.append(n)
                    todo.append(n)
        return seen

    return reach


def _kind(v) -> str:
    if isinstance(v, np.ndarray):
        return "array"
    if isinstance(v, str):
        return "str"
    if isinstance(v, (bool, int, float, np.generic)):
        return "scalar"
    raise TypeError(f"unsupported hidden input type {type(v).__name__}")


def prepare_run(course: Course, topic: TopicChecks, run_dir: Path, part_timeout: float | None = None) -> None:
    """Write the run folder the sandbox reads: plan.json, inputs.npz, probes.py, runner.py."""
    cases = reference_cases(course, topic)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    arrays, parts = {}, []
    for part in topic.parts:
        kinds = []
        for c, (inp, _) in enumerate(cases[part.name]):
            kinds.append({k: _kind(v) for k, v in inp.items()})
            for k, v in inp.items():
                arrays[f"{part.name}|{c}|{k}"] = np.asarray(v)
        timeout = min(part.timeout, part_timeout) if part_timeout else part.timeout
        parts.append({"name": part.name, "probe": part.probe, "timeout": timeout, "types": kinds})
    np.savez(run_dir / "inputs.npz", **arrays)
    (run_dir / "plan.json").write_text(json.dumps({"modules": list(topic.modules), "parts": parts}))
    (run_dir / "probes.py").write_text(course.probe_source(topic), encoding="utf-8")
    shutil.copy(RUNNER, run_dir / "runner.py")
    for p in [run_dir, *run_dir.iterdir()]:
        p.chmod(0o755 if p.is_dir() else 0o644)


def sandbox_env() -> dict[str, str]:
    return {
        "PATH": f"{Path(jail.interpreter()).parent}:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/mpl",
    }


def _started(res: jail.JailResult) -> bool:
    """Did the runner start? Its first frame is a hello sent before any student code runs, so a student can
    neither suppress it nor fake its absence: no hello means the sandbox itself failed."""
    if not res.frames:
        return False
    try:
        with np.load(io.BytesIO(res.frames[0]), allow_pickle=False) as z:
            return json.loads(str(z["__meta__"])) == {"kind": "hello"}
    except Exception:  # noqa: BLE001
        return False


def startup_failure(res: jail.JailResult, wall: float) -> str:
    """Why a sandbox never reached its runner, from the launcher's own lines in the log (e.g. ``exec failed:
    FileNotFoundError(...)``: the interpreter is not where the sandbox looks)."""
    lines = [ln.strip() for ln in res.log_tail.splitlines() if ln.strip()]
    own = [ln for ln in lines if ln.startswith("autograder sandbox:") and "WARNING" not in ln]
    if own:
        return own[-1].removeprefix("autograder sandbox:").strip()
    if res.timed_out:
        return f"nothing started within the {wall:.0f} s wall-clock limit (an overloaded machine?)"
    last = f"; last log line: {lines[-1][:300]}" if lines else ""
    return f"the launcher exited with status {res.returncode} before the runner said hello{last}"


def grade_library(
    course: Course,
    topic: TopicChecks,
    sub_dir: Path,
    run_dir: Path,
    limits: Limits,
    uid: int = 0,
    log: Path | None = None,
    missing: dict[str, str] | None = None,
) -> LibResult:
    """Run the topic's probes on the staged ``sub_dir/lib/deepkit`` in the sandbox and score every part.

    ``missing``: module -> reason for topic modules the intake could not take; their release stubs were staged,
    so only the parts that call them fail, and those show this reason instead of the stub's NotImplementedError.
    """
    prepare_run(course, topic, run_dir, limits.part_timeout)
    wall = limits.lib_wall or (sum(min(p.timeout, limits.part_timeout or p.timeout) for p in topic.parts) + 15)
    j = jail.Jail(
        argv=[jail.interpreter(), "-I", "/box/run/runner.py", "/box/run", "/box/sub"],
        binds={"/box/sub": str(sub_dir), "/box/run": str(run_dir)},
        wall=wall,
        cpu=wall,
        memory=limits.memory,
        nproc=limits.nproc,
        fsize=limits.fsize,
        scratch=limits.scratch,
        uid=uid,
        env=sandbox_env(),
        max_result=limits.max_result,
        log=log,
    )
    res = jail.run(j)
    if not _started(res):
        raise InfrastructureError(f"the library sandbox did not start: {startup_failure(res, wall)}")
    parts, modules, import_error, done = {}, {}, None, False
    for frame in res.frames:
        try:
            with np.load(io.BytesIO(frame), allow_pickle=False) as z:
                meta = json.loads(str(z["__meta__"]))
                arrays = {k: z[k] for k in z.files if k != "__meta__"}
        except Exception:  # noqa: BLE001 - garbage from the student's process
            continue
        if not isinstance(meta, dict):
            continue
        kind = meta.get("kind")
        if kind == "import":
            import_error = str(meta.get("error", "cannot import deepkit"))[:300]
        elif kind == "modules" and isinstance(meta.get("modules"), dict):
            modules = {str(k): str(v)[:300] for k, v in meta["modules"].items()}
        elif kind == "part" and isinstance(meta.get("cases"), list):
            parts[str(meta.get("name"))] = (meta["cases"], arrays)
        elif kind == "done":
            done = True
    if res.overflow:
        ending = f"the sandbox sent back more than {limits.max_result // 2**20} MB"
    elif res.timed_out:
        ending = f"the whole library check timed out after {wall:.0f} s (infinite loop or far too slow?)"
    elif not done:
        ending = (
            f"the sandbox ended early (exit status {res.returncode}: os._exit, a crash, or a memory / "
            "process / CPU limit)"
        )
    else:
        ending = ""
    cases_ref = reference_cases(course, topic)
    used = modules_used(course, topic)
    reach = _imports_closure(sub_dir, set(course.student_modules)) if missing else (lambda mods: [])
    results = {}
    for part in topic.parts:
        bad = [m for m in used[part.name] if missing and m in missing]
        needs = bad + [m for m in reach(used[part.name]) if missing and m in missing and m not in bad]
        bad_module = (", ".join(f"lib/deepkit/{m}.py" for m in bad) + f": {missing[bad[0]]}") if bad else None
        broken = [m for m in used[part.name] if modules.get(m, "ok") != "ok"]
        if bad_module is None and broken:  # the module was sent but does not import (syntax error, ...)
            bad_module = f"lib/deepkit/{broken[0]}.py does not import: {modules[broken[0]]}"
        got = parts.get(part.name)
        if got is None:
            if import_error:
                reason = f"cannot import your deepkit: {import_error}"
            elif bad_module:
                reason = bad_module
            else:
                reason = ending or "no result from the sandbox"
            results[part.name] = PartResult(part.name, 0.0, float(part.points), reason, part.description)
            continue
        case_meta, arrays = got
        cases = []
        for c, (inp, expected) in enumerate(cases_ref[part.name]):
            m = case_meta[c] if c < len(case_meta) and isinstance(case_meta[c], dict) else None
            if m is None:
                cases.append(CaseResult(0.0, "no result"))
            elif not m.get("ok"):
                err = str(m.get("error", "failed"))[:300]
                import_failed = ("has no module", "has no attribute", "ModuleNotFound", "Import")
                if bad_module and any(s in err for s in import_failed):
                    err = bad_module
                if needs and "NotImplementedError" in err:  # the release stub staged for a missing module
                    err = f"lib/deepkit/{needs[0]}.py: {missing[needs[0]]}"
                for mod, why in (missing or {}).items():
                    if f"deepkit.{mod}'" in err or f"module {mod!r}" in err:
                        err = f"needs lib/deepkit/{mod}.py, which was not taken: {why}"
                cases.append(CaseResult(0.0, err))
            else:
                student = {k.split("|", 1)[1]: v for k, v in arrays.items() if k.split("|", 1)[0] == str(c)}
                try:
                    wrong = lambda c=c, part=part: wrong_outputs(course, topic, part.name, c)  # noqa: E731
                    cases.append(judge_case(part, student, expected, inp, wrong))
                except Exception as exc:  # noqa: BLE001 - a custom compare choking on odd output
                    cases.append(CaseResult(0.0, f"output could not be compared ({type(exc).__name__})"))
        score, reason = part_score(part, cases)
        if bad_module and all(c.reason == bad_module for c in cases):
            reason = bad_module
        results[part.name] = PartResult(part.name, score, float(part.points), reason, part.description)
    notes = [] if res.isolated else ["sandbox ran WITHOUT namespaces (not permitted here): limits only"]
    return LibResult(results, res.seconds, res.isolated, notes)
