"""Runs INSIDE the sandbox (a copy is placed next to the inputs): import the student's deepkit from
``/box/sub/lib`` by path, call the topic's probes on the seeded inputs, send the outputs back as frames.

Trusted by nobody: the parent parses what arrives as untrusted data (npz without pickle, JSON). Each part is
sent as soon as it is done, so a later crash, ``os._exit`` or time-out keeps the earlier parts' results.
Standard output is discarded; standard error goes to the parent's capped log.
"""

import io
import json
import os
import re
import signal
import sys
import time
import types

import numpy as np  # before the student's folder is on sys.path

FD = int(os.environ.pop("AUTOGRADER_FD"))
RUN, SUB = sys.argv[1], sys.argv[2]
MAIN_PID = os.getpid()


def send(meta, arrays=None):
    if os.getpid() != MAIN_PID:  # a process the student's code forked: it has nothing to report
        os._exit(0)
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.array(json.dumps(meta)), **(arrays or {}))
    data = buf.getvalue()
    data = len(data).to_bytes(8, "little") + data
    view = memoryview(data)
    while view:
        view = view[os.write(FD, view) :]


_NUM = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def describe(exc):
    """``Type: message``, without numbers longer than a shape (no input values leave the sandbox)."""
    msg = str(exc).replace(SUB + "/", "").replace("/box/", "")
    msg = _NUM.sub(lambda m: m.group(0) if len(m.group(0)) <= 3 and "." not in m.group(0) else "<num>", msg)
    msg = " ".join(msg.split())[:180]
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


class PartTimeout(BaseException):
    pass


def on_alarm(signum, frame):
    raise PartTimeout()


def main():
    send({"kind": "hello"})  # before any student code: its absence means the sandbox itself did not start
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")
    real_stderr, quiet = sys.stderr, open(os.devnull, "w")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a flood of output fails with EFBIG, it does not kill us
    with open(os.path.join(RUN, "plan.json"), encoding="utf-8") as f:
        plan = json.load(f)
    with np.load(os.path.join(RUN, "inputs.npz"), allow_pickle=False) as z:
        stored = {k: z[k] for k in z.files}
    probes = types.ModuleType("probes")
    with open(os.path.join(RUN, "probes.py"), encoding="utf-8") as f:
        exec(compile(f.read(), "probes.py", "exec"), probes.__dict__)

    sys.stderr = quiet
    lib = os.path.join(SUB, "lib")
    sys.path.insert(0, lib)
    sys.dont_write_bytecode = True
    imported = {}
    try:
        import deepkit

        if not os.path.realpath(deepkit.__file__).startswith(os.path.realpath(lib) + os.sep):
            raise ImportError("deepkit was not imported from the submission")
    except BaseException as exc:  # noqa: BLE001
        send({"kind": "import", "error": describe(exc)})
        return
    for m in plan["modules"]:
        try:
            __import__(f"deepkit.{m}")
            imported[m] = "ok"
        except BaseException as exc:  # noqa: BLE001 - syntax errors, missing files, SystemExit ...
            imported[m] = describe(exc)
    send({"kind": "modules", "modules": imported})

    signal.signal(signal.SIGALRM, on_alarm)
    for part in plan["parts"]:
        arrays, cases = {}, []
        deadline = time.monotonic() + part["timeout"]
        for c, kinds in enumerate(part["types"]):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                cases.append({"ok": False, "error": "timed out (the part's time limit was used up)"})
                continue
            inp = {}
            for key, kind in kinds.items():
                v = stored[f"{part['name']}|{c}|{key}"]
                inp[key] = v.item() if kind == "scalar" else (str(v) if kind == "str" else v.copy())
            t0 = time.monotonic()
            try:
                signal.setitimer(signal.ITIMER_REAL, remaining)
                try:
                    out = getattr(probes, part["probe"])(deepkit, inp)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                if not isinstance(out, dict):
                    raise TypeError(f"the probe got {type(out).__name__}, not a dict of arrays")
                keys = []
                for k, v in out.items():
                    a = np.asarray(v)
                    if a.dtype.kind not in "biuf":
                        raise TypeError(f"output {str(k)[:20]!r} is not numeric (dtype {a.dtype})")
                    arrays[f"{c}|{k}"] = np.array(a, copy=True)
                    keys.append(str(k))
                cases.append({"ok": True, "keys": keys, "seconds": time.monotonic() - t0})
            except PartTimeout:
                cases.append({"ok": False, "error": f"timed out after {part['timeout']:.0f} s"})
            except NotImplementedError:
                cases.append({"ok": False, "error": "not implemented yet (NotImplementedError)"})
            except BaseException as exc:  # noqa: BLE001 - the student's code failed in any way
                cases.append({"ok": False, "error": "raised " + describe(exc)})
        send({"kind": "part", "name": part["name"], "cases": cases}, arrays)
    sys.stderr = real_stderr
    send({"kind": "done"})


if __name__ == "__main__":
    try:
        main()
    except BaseException:  # noqa: BLE001 - report, then leave without running any student atexit hook
        import traceback

        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(0)
