"""Runs INSIDE the library sandbox (a copy is placed next to the inputs): grade the student's deepkit part by
part, each part in a process of its own.

The main process (PID 1 of the sandbox: the *supervisor*) never runs student code. It loads the plan, the seeded
inputs and the probes, then forks one *worker* to report which modules import and one worker per part. A
worker puts the student's ``/box/sub/lib`` on ``sys.path`` behind a finder that refuses autodiff libraries
(deepkit is a NumPy library), imports ``deepkit``, calls the part's probe on every case under the part's CPU
limit and sends each case's outputs (npz, numbers only, size-capped) on a private pipe. The supervisor forwards
them tagged with the part IT started, and adds its own record of how the worker ended (finished, CPU limit,
wall clock, idle budget, crash or ``os._exit``). So a crash, ignored signals, a monkeypatched numpy, a huge
or weird output or a sleeping part costs only the part it happens in; the CPU budget of the whole submission
and the time it may spend asleep or blocked are counted here, across parts.

What a worker sends about a failure is structured, never free text: an exception's type (a builtin one, or
"a subclass of" one), the frames of the student's files (file, function, line) and the message only of
builtin exceptions holding plain values. The trusted parent decides what of it a reason may show
(``autograder/reasons.py``); nothing here is trusted by it.

Frames to the parent (``AUTOGRADER_FD``): ``b"J" + JSON`` (the supervisor's records) and
``b"C" + part index (2 bytes, little endian; 65535 = the module report) + a worker's npz``.
Standard output is discarded; standard error (the supervisor's own tracebacks) goes to the parent's capped log.
"""

import builtins
import io
import json
import os
import resource
import select
import signal
import sys
import time
import types
from importlib.machinery import SourceFileLoader

import numpy as np  # before the student's folder is on sys.path

FD = int(os.environ.pop("AUTOGRADER_FD"))
RUN, SUB = sys.argv[1], sys.argv[2]
LIB = os.path.join(SUB, "lib")
MODULES_INDEX = 0xFFFF
SIGNALS = {4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 24: "SIGXCPU"}
PLAIN = (str, int, float, bool)
SCALARS = (float, int, bool, np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8, np.bool_)

# builtin and numpy exception classes, most specific first: a student's own class is named by the first it
# derives from; its own name (free text) never leaves
KNOWN = {c: n for n, c in vars(builtins).items() if isinstance(c, type) and issubclass(c, BaseException)}
KNOWN[np.linalg.LinAlgError] = "numpy.linalg.LinAlgError"
KNOWN[np.exceptions.AxisError] = "numpy.exceptions.AxisError"
try:  # numpy's own MemoryError ("Unable to allocate ...") is a MemoryError to the student
    from numpy._core._exceptions import _ArrayMemoryError

    KNOWN[_ArrayMemoryError] = "MemoryError"
except ImportError:
    pass
BY_DEPTH = sorted(KNOWN, key=lambda c: -len(c.__mro__))
_args = BaseException.args.__get__  # the C getters: a student's class cannot override what these read
_traceback = BaseException.__traceback__.__get__
_str_copy = str.__getitem__  # slicing a str (or a subclass) through str itself gives a plain str
_source_get_code = SourceFileLoader.get_code


def text(s, limit: int) -> str:
    return _str_copy(s, slice(0, limit)) if isinstance(s, str) else ""


def student_file(path) -> str | None:
    """``lib/deepkit/x.py`` for a file of the student's lib, ``probes.py`` for the probes, else None."""
    p = text(path, 400)
    if p == "probes.py":
        return p
    if p.startswith(LIB + "/"):
        return "lib/" + p[len(LIB) + 1 :]
    return None


def report(exc) -> dict:
    """A student's exception as data: type, student frames (file, function, line), builtin message."""
    try:
        cls = type(exc)
        name, subclass = KNOWN.get(cls), False
        if name is None:
            name = next((KNOWN[k] for k in BY_DEPTH if isinstance(exc, k)), "BaseException")
            subclass = True
        message = ""
        if not subclass:
            args = _args(exc)
            if len(args) <= 4 and all(type(a) in PLAIN for a in args):
                message = text(str(exc), 500)  # a builtin __str__ on plain values: no student code runs
        frames, tb, n = [], _traceback(exc), 0
        while tb is not None and n < 1000:
            code = tb.tb_frame.f_code
            where = student_file(code.co_filename)
            if where:
                frames.append([where, text(code.co_name, 80), int(tb.tb_lineno or 0)])
            tb, n = tb.tb_next, n + 1
        out = {"type": name, "subclass": subclass, "message": message, "frames": frames[-12:]}
        if cls in (SyntaxError, IndentationError, TabError):
            line = SyntaxError.lineno.__get__(exc)
            out["syntax"] = [student_file(SyntaxError.filename.__get__(exc)), line if type(line) is int else 0]
        return out
    except BaseException:  # noqa: BLE001 - whatever it was, it says nothing
        return {"type": "BaseException", "subclass": True, "message": "", "frames": []}


def frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(8, "little") + payload


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# ------------------------------------------------------------------------------------- the worker (student)
class PartTimeout(BaseException):
    pass


class BadOutput(Exception):
    def __init__(self, info: dict):
        super().__init__()
        self.info = info


FORBIDDEN_SEEN: list = []  # [library, student file] for every refused import, in this worker


class RefuseAutodiff:
    """A meta-path finder: importing an autodiff library fails with a clear error and is recorded (the
    sandbox also hides those packages' files, so removing this finder gains nothing)."""

    def __init__(self, names):
        self.names = frozenset(names)

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in self.names:
            return None
        caller, f, n = "", sys._getframe(1), 0
        while f is not None and n < 300:
            where = student_file(f.f_code.co_filename)
            if where and where != "probes.py":
                caller = where
                break
            f, n = f.f_back, n + 1
        FORBIDDEN_SEEN.append([top, caller])
        raise ModuleNotFoundError(f"{top} is not available when grading: deepkit is a NumPy library", name=top)


def on_timer(signum, frame_):
    raise PartTimeout()


COMPILED: dict = {}  # path -> code object of every module of the staged lib, compiled once by the supervisor


def compile_library() -> None:
    """Compile (parse only: nothing runs) the staged package's modules once, so that each part's process only
    executes them: a worker per part then costs a fork, not a compilation of the whole library."""
    folder = os.path.join(LIB, "deepkit")
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        if name.endswith(".py") and os.path.isfile(path):
            try:
                with open(path, "rb") as f:
                    COMPILED[path] = compile(f.read(), path, "exec", dont_inherit=True)
            except Exception:  # noqa: BLE001 - a syntax error is found (and reported) again on import
                continue


def _compiled_get_code(loader, fullname):
    code = COMPILED.get(loader.path)
    return code if code is not None else _source_get_code(loader, fullname)


def enter_student(plan) -> dict | None:
    """Import the student's deepkit (from /box/sub/lib only); None, or the failure's report."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = open(os.devnull, "w")
    SourceFileLoader.get_code = _compiled_get_code
    sys.meta_path.insert(0, RefuseAutodiff(plan["forbidden"]))
    sys.path.insert(0, LIB)
    sys.dont_write_bytecode = True
    try:
        import deepkit

        if not os.path.realpath(deepkit.__file__).startswith(os.path.realpath(LIB) + os.sep):
            raise ImportError("deepkit was not imported from the submission")
    except BaseException as exc:  # noqa: BLE001
        return report(exc)
    return None


END = b"END"  # a worker's last frame: it finished (a worker without it ended early)


def send_case(w: int, meta: dict, arrays: dict | None = None) -> None:
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.array(json.dumps(meta)), **(arrays or {}))
    write_all(w, frame(buf.getvalue()))


def cpu_now() -> float:
    return time.process_time()


def arm(seconds: float) -> None:
    # repeats every 0.25 s of CPU: a loop that swallows one PartTimeout gets the next one
    signal.setitimer(signal.ITIMER_PROF, max(seconds, 0.001), 0.25)


def disarm() -> None:
    signal.setitimer(signal.ITIMER_PROF, 0)


def modules_worker(w: int, plan: dict, cpu: float) -> None:
    """Report, per module of the topic, whether it imports (and what failed)."""
    signal.signal(signal.SIGPROF, on_timer)
    start = cpu_now()
    error = enter_student(plan)
    modules = {}
    if error is None:
        for m in plan["modules"]:
            del FORBIDDEN_SEEN[:]
            try:
                arm(cpu - (cpu_now() - start))
                try:
                    __import__(f"deepkit.{m}")
                finally:
                    disarm()
                modules[m] = {"ok": True}
            except PartTimeout:
                modules[m] = {"ok": False, "error": {"kind": "timeout"}}
            except BaseException as exc:  # noqa: BLE001 - syntax errors, missing files, SystemExit ...
                modules[m] = {"ok": False, "error": {"kind": "exception", **report(exc)}}
            if FORBIDDEN_SEEN:
                modules[m]["forbidden"] = FORBIDDEN_SEEN[:4]
    send_case(w, {"kind": "modules", "import": error, "modules": modules})
    write_all(w, frame(END))


def collect(out, limits: dict) -> dict:
    """The probe's outputs as plain numeric arrays, each within its size cap (else ``BadOutput``)."""
    if type(out) is not dict:
        raise BadOutput({"kind": "output", "why": "not_dict"})
    arrays = {}
    for key, value in dict.items(out):
        if type(key) is not str or key not in limits:
            continue  # only the outputs the reference has
        if type(value) is not np.ndarray:
            if type(value) not in SCALARS:
                raise BadOutput({"kind": "output", "key": key, "why": "type"})
            value = np.asarray(value)
        kind = value.dtype.kind
        if kind not in "biuf":
            raise BadOutput({"kind": "output", "key": key, "why": "dtype", "dtype_kind": kind})
        if value.size > limits[key]:
            raise BadOutput({"kind": "output", "key": key, "why": "size", "shape": list(value.shape)[:8]})
        arrays[key] = np.array(value, copy=True, order="C")
    return arrays


def part_worker(w: int, plan: dict, part: dict, cpu: float, stored: dict, probes) -> None:
    """Every case of one part, each sent as soon as it is done."""
    signal.signal(signal.SIGPROF, on_timer)
    start = cpu_now()
    error = enter_student(plan)
    if error is not None:
        send_case(w, {"kind": "import", "error": error})
        write_all(w, frame(END))
        return
    import deepkit

    probe = getattr(probes, part["probe"])
    for c, case in enumerate(part["cases"]):
        left = cpu - (cpu_now() - start)
        if left <= 0:
            send_case(w, {"case": c, "ok": False, "error": {"kind": "timeout"}})
            continue
        inp = {}
        for key, kind in case["types"].items():
            v = stored[f"{part['name']}|{c}|{key}"]
            inp[key] = v.item() if kind == "scalar" else (str(v) if kind == "str" else v.copy())
        del FORBIDDEN_SEEN[:]
        t0 = cpu_now()
        arrays = None
        try:
            arm(left)
            try:
                arrays = collect(probe(deepkit, inp), case["limits"])
            finally:
                disarm()
            meta = {"case": c, "ok": True, "keys": sorted(arrays), "cpu": cpu_now() - t0}
        except PartTimeout:
            meta = {"case": c, "ok": False, "error": {"kind": "timeout"}}
        except BadOutput as bad:
            meta = {"case": c, "ok": False, "error": bad.info}
        except BaseException as exc:  # noqa: BLE001 - the student's code failed in any way
            meta = {"case": c, "ok": False, "error": {"kind": "exception", **report(exc)}}
        if FORBIDDEN_SEEN:
            meta["forbidden"] = FORBIDDEN_SEEN[:4]
        send_case(w, meta, arrays if meta["ok"] else None)
    write_all(w, frame(END))


# ------------------------------------------------------------------------------------ the supervisor (ours)
class Supervisor:
    def __init__(self, plan: dict):
        self.plan = plan
        self.cpu_left = float(plan["cpu_total"])
        self.idle_left = float(plan["idle_total"])
        self.is_init = os.getpid() == 1  # PID 1 of our own namespace: we may clean up everything else

    def send(self, record: dict) -> None:
        write_all(FD, frame(b"J" + json.dumps(record).encode()))

    def forward(self, index: int, payload: bytes) -> None:
        write_all(FD, frame(b"C" + index.to_bytes(2, "little") + payload))

    def sleeping(self, pid: int) -> bool:
        """No thread of the sandbox's processes (all of them when we are PID 1) is running or runnable."""
        pids = [p for p in os.listdir("/proc") if p.isdigit() and p != "1"] if self.is_init else [str(pid)]
        for p in pids:
            try:
                tids = os.listdir(f"/proc/{p}/task")
            except OSError:
                continue
            for t in tids:
                try:
                    with open(f"/proc/{p}/task/{t}/stat", "rb") as f:
                        if f.read().rsplit(b")", 1)[1].split()[0] == b"R":
                            return False
                except (OSError, IndexError):
                    continue
        return True

    def clean_up(self, pid: int) -> None:
        """No process of a part survives it (detached children, fork bombs)."""
        try:
            if self.is_init:
                os.kill(-1, signal.SIGKILL)  # from PID 1: every other process of this namespace
            else:
                os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            try:
                done, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not done:
                time.sleep(0.01)

    def run(self, index: int, target, cpu: float, wall: float, max_frames: int, max_bytes: int) -> dict:
        """Fork a worker running ``target(w)``, forward its frames (at most ``max_frames``: the cases carry
        their own index; a forged frame gains nothing), watch its clocks; return how it ended."""
        r, w = os.pipe()
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                os.close(r)
                os.close(FD)  # only the supervisor writes results: a worker cannot corrupt the stream
                os.setpgid(0, 0)
                lim = int(cpu) + 1  # whole seconds: the CPU timer in the worker ends a part precisely
                hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
                if hard != resource.RLIM_INFINITY:  # never above the sandbox's own limit
                    lim = min(lim, hard - 1)
                resource.setrlimit(resource.RLIMIT_CPU, (lim, lim + 1))
                target(w)
            finally:
                os._exit(0)
        os.close(w)
        buf, sent, received, status, eof, finished = b"", 0, 0, None, False, False
        idle, last, quiet_since = 0.0, t0, 0.0
        exit_status = rusage = None
        while True:
            now = time.monotonic()
            if exit_status is None:
                done, st, ru = os.wait4(pid, os.WNOHANG)
                if done:
                    exit_status, rusage, quiet_since = st, ru, now
            # the worker is gone: read to the end (a detached child of it may hold the pipe: 0.3 s of silence)
            if exit_status is not None and (eof or now - quiet_since > 0.3):
                break
            if status is None and exit_status is None:
                if now - t0 > wall:
                    status = "wall"
                elif self.sleeping(pid):
                    idle += now - last
                    if idle > self.idle_left:
                        status = "idle"
                if status:
                    os.kill(pid, signal.SIGKILL)
            last = now
            if eof:
                time.sleep(0.01)
                continue
            if not select.select([r], [], [], 0.05)[0]:
                continue
            chunk = os.read(r, 1 << 16)
            quiet_since = time.monotonic()
            if not chunk:
                eof = True
                continue
            received += len(chunk)
            if received > max_bytes:  # keep reading (the worker must not block), forward nothing more
                if status is None:
                    status = "output_cap"
                    os.kill(pid, signal.SIGKILL)
                continue
            buf += chunk
            while len(buf) >= 8:
                n = int.from_bytes(buf[:8], "little")
                if len(buf) < 8 + n:
                    break
                if buf[8 : 8 + n] == END:
                    finished = True
                elif sent < max_frames:
                    self.forward(index, buf[8 : 8 + n])
                    sent += 1
                buf = buf[8 + n :]
        os.close(r)
        self.clean_up(pid)
        used = rusage.ru_utime + rusage.ru_stime if rusage else 0.0
        self.cpu_left -= used
        self.idle_left -= idle
        if status is None:
            if os.WIFSIGNALED(exit_status):
                sig = os.WTERMSIG(exit_status)
                status = "cpu" if sig in (signal.SIGXCPU, signal.SIGKILL) and used >= cpu - 0.05 else "ended"
            else:
                status = "ok" if finished else "ended"
        record = {"status": status, "frames": sent, "cpu": round(used, 3), "wall": round(time.monotonic() - t0, 3)}
        if status == "ended" and os.WIFSIGNALED(exit_status):
            record["signal"] = SIGNALS.get(os.WTERMSIG(exit_status), "another signal")
        return record


def main():
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a flood of output fails with EFBIG, it does not kill us
    import ctypes

    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: the workers (same uid) cannot ptrace us
    with open(os.path.join(RUN, "plan.json"), encoding="utf-8") as f:
        plan = json.load(f)
    with np.load(os.path.join(RUN, "inputs.npz"), allow_pickle=False) as z:
        stored = {k: z[k] for k in z.files}
    probes = types.ModuleType("probes")
    with open(os.path.join(RUN, "probes.py"), encoding="utf-8") as f:
        exec(compile(f.read(), "probes.py", "exec"), probes.__dict__)
    compile_library()
    import gc

    gc.freeze()  # what is loaded so far stays put: fewer copy-on-write pages in every worker
    sup = Supervisor(plan)
    factor, slack = float(plan["wall_factor"]), float(plan["wall_slack"])

    cpu = min(float(plan["import_cpu"]), sup.cpu_left)
    rec = sup.run(MODULES_INDEX, lambda w: modules_worker(w, plan, cpu), cpu, cpu * factor + slack, 1, 4 << 20)
    sup.send({"kind": "modules_end", **rec})
    for i, part in enumerate(plan["parts"]):
        cpu = min(float(part["cpu"]), sup.cpu_left)
        if cpu < 0.05 or sup.idle_left <= 0:
            why = "budget_cpu" if cpu < 0.05 else "budget_idle"
            sup.send({"kind": "part_end", "index": i, "status": why, "frames": 0, "cpu": 0.0, "wall": 0.0})
            continue
        n = len(part["cases"])
        rec = sup.run(
            i,
            lambda w, part=part, cpu=cpu: part_worker(w, plan, part, cpu, stored, probes),
            cpu,
            cpu * factor + slack,
            2 * n + 2,
            int(part["max_bytes"]),
        )
        sup.send({"kind": "part_end", "index": i, "cpu_limit": cpu, **rec})
    sup.send({"kind": "done", "cpu_left": sup.cpu_left, "idle_left": sup.idle_left})


if __name__ == "__main__":
    try:
        main()
    except BaseException:  # noqa: BLE001 - report to the log, then leave
        import traceback

        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(0)
