"""Grade a staged submission's library: probes run in the sandbox on the student's deepkit, the trusted parent
computes the reference outputs in-process and compares (``autograder.compare``)."""

from __future__ import annotations

import functools
import io
import json
import math
import os
import re
import shutil
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.cases import make_cases, read_public
from autograder.compare import CaseResult, judge_case, part_score
from autograder.course import Course, Limits
from autograder.local import misconception_outputs, reference_package, run_probe
from autograder.reasons import Context
from autograder.sandbox import jail
from autograder.spec import TopicChecks

RUNNER = Path(__file__).resolve().parent / "sandbox/probe_runner.py"
MODULES_INDEX = 0xFFFF  # the worker that reports which modules import (sandbox/probe_runner.py)
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
    # part -> {"cpu", "wall" (seconds), "status"} as the sandbox's supervisor measured them (for benchmarks and
    # tests of the time limits; untrusted numbers, never used for a score)
    timings: dict[str, dict] = field(default_factory=dict)


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


@functools.lru_cache(maxsize=64)
def _probe_functions(src: str) -> dict[str, str]:
    """Function name -> its source, for a probe module's source (parsed once per source, not per submission)."""
    import ast

    lines = src.splitlines(keepends=True)
    tree = ast.parse(src)
    return {n.name: "".join(lines[n.lineno - 1 : n.end_lineno]) for n in tree.body if isinstance(n, ast.FunctionDef)}


def modules_used(course: Course, topic: TopicChecks) -> dict[str, list[str]]:
    """Part name -> the topic modules its probe touches (``dk.<module>.`` in the probe's source)."""
    import re

    funcs = _probe_functions(course.probe_source(topic))
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
            tree = ast.parse((sub_dir / "lib" / "deepkit" / f"{m}.py").read_bytes())
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


@dataclass(frozen=True)
class Budget:
    """The clocks of one library sandbox, from the limits and the topic (seconds)."""

    parts: dict[str, float]  # part name -> its CPU limit
    cpu_total: float  # CPU for the whole submission (every part together)
    import_cpu: float  # CPU for importing the student's modules (the module report)
    idle: float  # time the submission may spend asleep or blocked, in total
    wall_factor: float  # a part's wall-clock backstop: wall_factor x its CPU limit + WALL_SLACK
    wall: float  # the whole sandbox's wall-clock backstop

    @classmethod
    def of(cls, topic: TopicChecks, limits: Limits) -> Budget:
        parts = {p.name: min(p.timeout, limits.part_timeout or p.timeout) for p in topic.parts}
        cpu_total = max(limits.lib_cpu, max(parts.values(), default=0.0))
        import_cpu = min(IMPORT_CPU, cpu_total)
        wall = limits.lib_wall or (cpu_total + import_cpu) * limits.wall_factor + limits.lib_idle + 30
        return cls(parts, cpu_total, import_cpu, limits.lib_idle, limits.wall_factor, wall)


IMPORT_CPU = 10.0  # seconds of CPU to import the student's modules
WALL_SLACK = 5.0


def prepare_run(course: Course, topic: TopicChecks, run_dir: Path, budget: Budget) -> None:
    """Write the run folder the sandbox reads: plan.json, inputs.npz, probes.py, runner.py."""
    cases = reference_cases(course, topic)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    arrays, parts = {}, []
    for part in topic.parts:
        plan_cases, max_bytes = [], 1 << 20
        for c, (inp, ref) in enumerate(cases[part.name]):
            for k, v in inp.items():
                arrays[f"{part.name}|{c}|{k}"] = np.asarray(v)
            # an output may be a few times larger than the reference's (a wrong shape is reported as such),
            # never so large that one part could flood the pipe
            limits = {k: max(16 * np.asarray(v).size, 4096) for k, v in ref.items()}
            max_bytes += sum(8 * n + 4096 for n in limits.values())
            plan_cases.append({"types": {k: _kind(v) for k, v in inp.items()}, "limits": limits})
        parts.append(
            {
                "name": part.name,
                "probe": part.probe,
                "cpu": budget.parts[part.name],
                "cases": plan_cases,
                "max_bytes": max_bytes,
            }
        )
    plan = {
        "modules": list(topic.modules),
        "forbidden": list(AUTODIFF),
        "cpu_total": budget.cpu_total,
        "import_cpu": budget.import_cpu,
        "idle_total": budget.idle,
        "wall_factor": budget.wall_factor,
        "wall_slack": WALL_SLACK,
        "parts": parts,
    }
    np.savez(run_dir / "inputs.npz", **arrays)
    (run_dir / "plan.json").write_text(json.dumps(plan))
    (run_dir / "probes.py").write_text(course.probe_source(topic), encoding="utf-8")
    shutil.copy(RUNNER, run_dir / "runner.py")
    for p in [run_dir, *run_dir.iterdir()]:
        p.chmod(0o755 if p.is_dir() else 0o644)


# deepkit is a NumPy library: these are refused to the student's code (an import finder in the runner gives the
# reason; their files are hidden too, so removing the finder gains nothing)
AUTODIFF = (
    "torch", "functorch", "torchgen", "jax", "jaxlib", "flax", "tensorflow", "keras", "autograd", "mxnet",
    "chainer", "theano", "pytensor", "aesara", "paddle", "mindspore", "tinygrad", "mygrad", "micrograd",
)  # fmt: skip
# course data that answers a check (topic 08's digits labels): the graded parts get their data as inputs
HIDDEN_DATA = (("sklearn", "datasets/data"), ("sklearn", "datasets/images"))
MASK_STUB = 'raise ImportError("{name} is not available when grading: deepkit is a NumPy library")\n'


def sandbox_masks() -> dict[str, str]:
    """Host directories the library sandbox must not see -> the stub ``__init__.py`` left in their place."""
    import importlib.util

    masks = {}
    for name in AUTODIFF:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        for loc in (spec.submodule_search_locations or []) if spec else []:
            masks[os.path.realpath(loc)] = MASK_STUB.format(name=name)
    for package, rel in HIDDEN_DATA:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        for loc in (spec.submodule_search_locations or []) if spec else []:
            d = os.path.realpath(os.path.join(loc, rel))
            if os.path.isdir(d):
                masks[d] = ""
    return masks


def sandbox_env() -> dict[str, str]:
    return {
        "PATH": f"{Path(jail.interpreter()).parent}:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "USER": jail.SANDBOX_USER,
        "LOGNAME": jail.SANDBOX_USER,
        "TZ": "UTC",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/mpl",
    }


def read_frames(frames: list[bytes]) -> tuple[list[dict], dict[int, list[tuple[dict, dict]]]]:
    """The supervisor's records (``J`` frames) and the workers' cases by part index (``C`` frames), parsed as
    untrusted data: anything malformed is dropped."""
    records, cases = [], {}
    for f in frames:
        tag = f[:1]
        if tag == b"J":
            try:
                rec = json.loads(f[1:].decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                continue
            if isinstance(rec, dict):
                records.append(rec)
        elif tag == b"C" and len(f) > 3:
            try:
                meta, arrays = _plain_npz(f[3:])
            except Exception:  # noqa: BLE001 - garbage from the student's process
                continue
            if isinstance(meta, dict):
                cases.setdefault(int.from_bytes(f[1:3], "little"), []).append((meta, arrays))
    return records, cases


_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _plain_npz(payload: bytes) -> tuple[object, dict[str, np.ndarray]]:
    """A worker's npz as (meta, arrays), or ValueError unless it is what ``probe_runner.send_case`` writes: stored
    (uncompressed) members, each holding no more than its header announces, a text ``__meta__`` and plain real
    arrays. The student's code can write frames of its own on the worker's pipe: a compressed member would expand
    a few hundred bytes into gigabytes here, and a record dtype's field names are free text."""
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        for info in zf.infolist():
            if info.compress_type != zipfile.ZIP_STORED or info.file_size > len(payload):
                raise ValueError("not a plain npz")
            with zf.open(info) as member:
                read_header = _NPY_HEADERS.get(np.lib.format.read_magic(member))
                if read_header is None:
                    raise ValueError("not an npy format np.save writes")
                shape, _, dtype = read_header(member)
            if math.prod(shape) * dtype.itemsize > info.file_size:
                raise ValueError("an array larger than its member")
    with np.load(io.BytesIO(payload), allow_pickle=False) as z:
        meta = z["__meta__"]
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
    if meta.dtype.kind != "U" or meta.ndim or any(a.dtype.kind not in "biuf" or a.dtype.names for a in arrays.values()):
        raise ValueError("not the probe's frame")
    return json.loads(str(meta)), arrays


class Reasons:
    """Every reason of one graded library, written on the trusted side (see ``autograder/reasons.py``)."""

    def __init__(self, course: Course, topic: TopicChecks, sub_dir: Path, budget: Budget, limits: Limits):
        self.ctx = Context(course, course.probe_source(topic), sub_dir, AUTODIFF)
        self.budget, self.limits = budget, limits
        self.notes: list[str] = []

    def _forbidden(self, forbidden) -> str:
        """The reason when the failing code tried an autodiff library (also kept as a note for the grader)."""
        for item in forbidden if isinstance(forbidden, list) else []:
            if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
                why = self.ctx.forbidden(*item)
                if why not in self.notes:
                    self.notes.append(why)
                return why
        return ""

    def module(self, status: dict, missing: dict[str, str]) -> str:
        """Why a module of the topic does not import (``missing``: modules intake did not take, and why)."""
        err = status.get("error")
        if forbidden := self._forbidden(status.get("forbidden")):
            return forbidden
        needs = re.fullmatch(r"No module named 'deepkit\.(\w+)'", str(err.get("message", ""))) if err else None
        if needs and needs.group(1) in missing:  # it imports one that was not taken: say which and why
            return f"it needs lib/deepkit/{needs.group(1)}.py, which was not taken: {missing[needs.group(1)]}"
        if isinstance(err, dict) and err.get("kind") == "timeout":
            return f"importing it did not finish within {self.budget.import_cpu:g} s of CPU time"
        return self.ctx.exception(err) if isinstance(err, dict) else "failed"

    def case(self, meta: dict, part: str, expected: dict) -> str:
        """Why one case failed, from the worker's structured report."""
        err = meta.get("error")
        if forbidden := self._forbidden(meta.get("forbidden")):
            return forbidden
        if not isinstance(err, dict):
            return "failed"
        if err.get("kind") == "timeout":
            return self.ended("cpu", part, {})
        if err.get("kind") == "output":
            return self.ctx.output(err, expected)
        return self.ctx.exception(err)

    def ended(self, status: str, part: str, record: dict) -> str:
        """Why the cases a worker did not report are missing."""
        cpu = self.budget.parts.get(part, self.budget.import_cpu)
        if status == "cpu":
            return f"timed out: used its {cpu:g} s of CPU time (an infinite loop, or far too slow?)"
        if status == "wall":
            return (
                f"timed out: not done after {cpu * self.budget.wall_factor + WALL_SLACK:g} s of wall-clock time "
                "while using little CPU (waiting for something?)"
            )
        if status in ("idle", "budget_idle"):
            return (
                f"timed out: the submission spent more than {self.budget.idle:g} s asleep or blocked in total "
                "(time.sleep, input(), a lock, waiting for a process?)"
            )
        if status == "budget_cpu":
            return (
                f"not run: the submission used up its CPU budget ({self.budget.cpu_total:g} s for all parts) "
                "before this part"
            )
        if status == "output_cap":
            return "the outputs were too large to send back"
        if status == "ended":
            sig = record.get("signal")
            sig = f", {sig}" if sig in ("SIGSEGV", "SIGABRT", "SIGBUS", "SIGFPE", "SIGILL", "SIGKILL") else ""
            return f"the part's process ended early (os._exit, a crash or a memory limit{sig})"
        return "no result for this case"


def grade_library(
    course: Course,
    topic: TopicChecks,
    sub_dir: Path,
    run_dir: Path,
    limits: Limits,
    uid: int | None = None,
    log: Path | None = None,
    missing: dict[str, str] | None = None,
) -> LibResult:
    """Run the topic's probes on the staged ``sub_dir/lib/deepkit`` in the sandbox and score every part.

    ``missing``: module -> reason for topic modules the intake could not take; their release stubs were staged,
    so only the parts that call them fail, and those show this reason instead of the stub's NotImplementedError.
    ``uid``: the sandbox uid (root mode; None: leased for this run).
    """
    budget = Budget.of(topic, limits)
    prepare_run(course, topic, run_dir, budget)
    j = jail.Jail(
        argv=[jail.interpreter(), "-I", "/box/run/runner.py", "/box/run", "/box/sub"],
        binds={"/box/sub": str(sub_dir), "/box/run": str(run_dir)},
        wall=budget.wall,
        cpu=budget.cpu_total + budget.import_cpu + 5,
        memory=limits.memory,
        nproc=limits.nproc,
        fsize=limits.fsize,
        scratch=limits.scratch,
        uid=uid,
        env=sandbox_env(),
        max_result=limits.max_result,
        log=log,
        isolation=limits.isolation,
        masks=sandbox_masks(),
    )
    res = jail.run(j)
    records, sent = read_frames(res.frames)
    ends = {r.get("index"): r for r in records if r.get("kind") == "part_end"}
    done = any(r.get("kind") == "done" for r in records)
    why = Reasons(course, topic, sub_dir, budget, limits)
    report = next((m for m, _ in sent.get(MODULES_INDEX, []) if m.get("kind") == "modules"), {})
    import_error = report.get("import") if isinstance(report.get("import"), dict) else None
    modules = report.get("modules") if isinstance(report.get("modules"), dict) else {}
    broken = {}  # module -> why it does not import
    for m, st in modules.items():
        if isinstance(st, dict) and not st.get("ok"):
            broken[str(m)] = why.module(st, missing or {})
    if res.overflow:
        ending = f"the sandbox sent back more than {limits.max_result // 2**20} MB"
    elif res.timed_out:
        ending = f"timed out: the whole library check was stopped after {budget.wall:.0f} s of wall-clock time"
    elif not done:
        ending = f"the sandbox ended early (exit status {res.returncode}: a crash or a memory / process limit)"
    else:
        ending = ""
    cases_ref = reference_cases(course, topic)
    used = modules_used(course, topic)
    reach = _imports_closure(sub_dir, set(course.student_modules)) if missing else (lambda mods: [])
    results = {}
    for i, part in enumerate(topic.parts):
        bad = [m for m in used[part.name] if missing and m in missing]
        needs = bad + [m for m in reach(used[part.name]) if missing and m in missing and m not in bad]
        bad_module = (", ".join(f"lib/deepkit/{m}.py" for m in bad) + f": {missing[bad[0]]}") if bad else None
        not_importing = [m for m in used[part.name] if m in broken]
        if bad_module is None and not_importing:  # sent, but does not import (syntax error, autodiff, ...)
            m = not_importing[0]
            bad_module = f"lib/deepkit/{m}.py does not import: {broken[m]}"
        frames, end = sent.get(i, []), ends.get(i)
        n_cases = len(cases_ref[part.name])
        got = {}  # case index -> (meta, arrays); the first frame for a case counts
        for meta, arrays in frames:
            if meta.get("kind") == "import" and isinstance(meta.get("error"), dict):
                got = dict.fromkeys(range(n_cases), ({"ok": False, "error": meta["error"]}, {}))
                break
            c = meta.get("case")
            if isinstance(c, int) and 0 <= c < n_cases and c not in got:
                got[c] = (meta, arrays)
        if import_error and not got:
            reason = f"cannot import your deepkit: {why.ctx.exception(import_error)}"
            results[part.name] = PartResult(part.name, 0.0, float(part.points), reason, part.description)
            continue
        missing_reason = (
            why.ended(str(end.get("status")), part.name, end) if end else (ending or "no result from the sandbox")
        )
        if end and end.get("status") == "ok" and len(got) < n_cases:  # finished, yet a case is missing
            why.notes.append(
                f"internal: part {part.name}: {len(got)} of {n_cases} cases read back "
                f"({end.get('frames')} frames forwarded); please report"
            )
        cases = []
        for c, (inp, expected) in enumerate(cases_ref[part.name]):
            if c not in got:
                cases.append(CaseResult(0.0, bad_module or missing_reason))
                continue
            meta, arrays = got[c]
            if not meta.get("ok"):
                err = why.case(meta, part.name, expected)
                if bad_module and err.startswith(("ModuleNotFoundError", "AttributeError", "ImportError")):
                    err = bad_module
                if needs and "NotImplementedError" in err:  # the release stub staged for a missing module
                    err = f"lib/deepkit/{needs[0]}.py: {missing[needs[0]]}"
                for mod, not_taken in (missing or {}).items():
                    if f"deepkit.{mod}'" in err or f"module {mod!r}" in err:
                        err = f"needs lib/deepkit/{mod}.py, which was not taken: {not_taken}"
                cases.append(CaseResult(0.0, err))
                continue
            try:
                wrong = lambda c=c, part=part: wrong_outputs(course, topic, part.name, c)  # noqa: E731
                cases.append(judge_case(part, arrays, expected, inp, wrong))
            except Exception as exc:  # noqa: BLE001 - a custom compare choking on odd output
                cases.append(CaseResult(0.0, f"output could not be compared ({type(exc).__name__})"))
        score, reason = part_score(part, cases)
        if bad_module and all(c.reason == bad_module for c in cases):
            reason = bad_module
        results[part.name] = PartResult(part.name, score, float(part.points), reason, part.description)
    notes = list(why.notes)
    if not res.isolated:
        notes.append("sandbox ran WITHOUT namespaces (--no-isolation): resource limits only")
    timings = {}
    for i, part in enumerate(topic.parts):
        rec = ends.get(i, {})
        cpu, wall = rec.get("cpu"), rec.get("wall")
        if isinstance(cpu, (int, float)) and isinstance(wall, (int, float)):
            timings[part.name] = {"cpu": float(cpu), "wall": float(wall), "status": str(rec.get("status"))[:20]}
    return LibResult(results, res.seconds, res.isolated, notes, timings)
