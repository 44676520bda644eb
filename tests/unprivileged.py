"""Run test code as an unprivileged user (uid 65534, no capabilities), the way a laptop or a cluster worker
grades without root: ``run_unprivileged(code)``. With ``userns=False`` that user cannot create user
namespaces either (``user.max_user_namespaces = 0`` in a user namespace of its own, so the machine's setting is
untouched): a machine where the sandbox is unavailable.

When the tests run as root (this machine), the helper (this file, run as a script) first enters a private mount
namespace and makes the interpreter reachable for uid 65534: a Python installed under a private home (pyenv in
``/root``) sits behind a directory only root may enter, as it would for any other user on that machine. When the
tests run as a normal user, the code simply runs as that user (and ``userns=False`` cannot be simulated).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 4096, 16384, 1 << 18, 2


def can_simulate() -> bool:
    return os.geteuid() == 0


def run_unprivileged(code: str, userns: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -c code`` (repository on PYTHONPATH) as an unprivileged user; stdout and stderr captured."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AUTOGRADER_NO_ZYGOTE": os.environ.get("AUTOGRADER_NO_ZYGOTE", ""),
        "DEEPKIT_TERM_SECRET": os.environ.get("DEEPKIT_TERM_SECRET", ""),  # grading's hidden cases (conftest's)
    }
    argv = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        cfg = {"argv": argv, "env": env, "userns": userns, "paths": _python_paths()}
        argv = [sys.executable, "-I", "-S", __file__, json.dumps(cfg)]
    elif not userns:
        raise RuntimeError("cannot take user namespaces away without root")
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, cwd="/tmp")


def _python_paths() -> list[str]:
    return sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.executable)})


# ------------------------------------------------------------------------------- the helper (runs as root)
def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _ok(ret: int, what: str) -> None:
    if ret != 0:
        import ctypes

        raise OSError(ctypes.get_errno(), what)


def _mount(src, dst, fstype, flags, data=None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _ok(_libc().mount(enc(src), enc(dst), enc(fstype), flags, enc(data)), f"mount {src} {dst}")


def _reachable(paths: list[str]) -> None:
    """Make every ancestor of ``paths`` enterable by others (private mount namespace only): a tmpfs over a
    closed directory, with the needed child bound back into it."""
    import tempfile

    for path in paths:
        parts = Path(path).parts
        for i in range(2, len(parts)):
            closed = Path(*parts[:i])
            if os.stat(closed).st_mode & 0o001:
                continue
            child = Path(*parts[: i + 1])
            keep = tempfile.mkdtemp(prefix="unpriv-keep-")
            _mount(str(child), keep, None, MS_BIND | MS_REC)
            _mount("tmpfs", str(closed), "tmpfs", 0, "mode=755,size=1m")
            os.makedirs(child, exist_ok=True)
            _mount(keep, str(child), None, MS_BIND | MS_REC)
            _ok(_libc().umount2(keep.encode(), MNT_DETACH), f"umount {keep}")
            os.rmdir(keep)  # the helper's folder on the host: nothing is left behind


def _helper(cfg: dict) -> None:
    libc = _libc()
    if cfg["userns"]:
        _ok(libc.unshare(CLONE_NEWNS), "unshare mount namespace")
    else:  # a user namespace of our own, mapping every uid we need, whose own limit allows no nested one
        r, w = os.pipe()
        r2, w2 = os.pipe()
        pid = os.fork()
        if pid:
            os.read(r, 1)
            for name in ("uid_map", "gid_map"):
                with open(f"/proc/{pid}/{name}", "w") as f:
                    f.write("0 0 65536\n")
            os.write(w2, b"x")
            _, status = os.waitpid(pid, 0)
            os._exit(os.waitstatus_to_exitcode(status))
        _ok(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare user+mount namespaces")
        os.write(w, b"x")
        os.read(r2, 1)
        os.setresuid(0, 0, 0)
        os.setresgid(0, 0, 0)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _reachable(cfg["paths"])
    if not cfg["userns"]:
        with open("/proc/sys/user/max_user_namespaces", "w") as f:
            f.write("0")
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)  # every capability goes with root
    os.chdir("/tmp")
    os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])


if __name__ == "__main__":
    _helper(json.loads(sys.argv[1]))
