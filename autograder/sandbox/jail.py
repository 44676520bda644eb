"""The sandbox: run one command with no network, a private file-system view, resource limits and a wall clock.

Parent side: ``run(Jail(...))`` starts ``python -I -S jail.py <config>`` in a new session and reads the
command's result frames from a pipe. Launcher side (``main``, stdlib only):

1. ``unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS)`` (as root; otherwise
   with a user namespace; if neither is permitted, a warning on stderr and only the limits below apply);
2. fork: the child is PID 1 of the new PID namespace (when it dies, the kernel kills every process the
   student started, however they detached) and dies with the launcher (``PR_SET_PDEATHSIG``);
3. the child builds a new root on a tmpfs holding ONLY: read-only binds of the Python installation and the
   virtualenv (``/usr``, ``/lib*``, ``/bin``, ``/etc`` and the interpreter's prefixes), a minimal ``/dev``, a
   fresh ``/proc``, the read-only ``binds`` given by the parent (its staging copy, mounted under ``/box``) and
   a size-limited private ``/tmp``; then ``chroot``; the course tree, other students, ``solutions/`` and the
   gradebook are simply not there;
4. loopback up (kernels talk to nbgrader over 127.0.0.1; nothing else exists in the new network namespace);
5. rlimits (CPU, address space, processes, file size, no core files) and a switch to an unprivileged uid
   (distinct per parallel slot, so ``RLIMIT_NPROC`` is per sandbox), then ``execve``.

The launcher kills PID 1 (so the namespace) at the wall deadline; the parent also kills the whole process
group if the launcher itself overstays. Results come back only through the pipe (``result_fd``), as frames of
``8-byte length + payload``, read with a size cap; the parent parses them as untrusted data.
"""

from __future__ import annotations

import json
import os
import sys
import time

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG = 1
NEWROOT = "/mnt"  # mount point of the new root's tmpfs (inside our private mount namespace only)
_STRICT = [True]  # False in a user namespace: read-only remounts may be refused there (locked mount flags)


# ------------------------------------------------------------------------------------------- launcher side
def _libc():
    import ctypes

    return ctypes, ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        ctypes, _ = _libc()
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _, libc = _libc()
    enc = lambda s: s.encode() if s is not None else None
    _check(libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)), f"mount {src} -> {dst}")


def _bind(src: str, dst: str, writable: bool = False, device: bool = False) -> None:
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst):
            open(dst, "w").close()
    _mount(src, dst, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (0 if device else MS_NODEV) | (0 if writable else MS_RDONLY)
    try:
        _mount(None, dst, None, flags)
    except OSError:
        if _STRICT[0]:
            raise


def _unshare(flags: int) -> None:
    _, libc = _libc()
    _check(libc.unshare(flags), "unshare")


def _isolate(want: str = "auto") -> str:
    """Enter new namespaces; returns 'root', 'userns' or '' (not permitted: limits only).
    ``want``: "auto", or "userns" / "none" to exercise the fallbacks (tests)."""
    base = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if want == "none":
        sys.stderr.write(
            "autograder sandbox: WARNING: isolation switched off; running WITHOUT network/file "
            "isolation (resource limits only)\n"
        )
        return ""
    if os.geteuid() == 0 and want == "auto":
        try:
            _unshare(base)
            return "root"
        except OSError as exc:
            sys.stderr.write(
                f"autograder sandbox: WARNING: unshare failed as root ({exc}); "
                "running WITHOUT network/file isolation (resource limits only)\n"
            )
            return ""
    uid, gid = os.geteuid(), os.getegid()
    try:
        _unshare(base | CLONE_NEWUSER)
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"0 {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"0 {gid} 1")
        return "userns"
    except OSError as exc:
        sys.stderr.write(
            f"autograder sandbox: WARNING: cannot create namespaces here ({exc}); the checks run "
            "WITHOUT network/file isolation (resource limits and a time limit only). That is fine "
            "for checking your own code; instructors should grade as root on Linux.\n"
        )
        return ""


def _loopback_up() -> None:
    import fcntl
    import socket
    import struct

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifr = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, ifr))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", flags | 0x1 | 0x40))  # SIOCSIFFLAGS: UP|RUNNING
    finally:
        s.close()


def _root_mount_point(cfg: dict) -> str:
    """A host directory to mount the new root's tmpfs on that hides none of the paths we must bind from."""
    sources = [*cfg["ro_paths"], *cfg["binds"].values()]
    for cand in (NEWROOT, "/media", "/srv", "/opt", "/var/empty"):
        if os.path.isdir(cand) and not any(src == cand or src.startswith(cand + "/") for src in sources):
            return cand
    raise OSError(f"no mount point for the sandbox root outside {sources}")


def _new_root(cfg: dict) -> None:
    """Build the sandbox's file-system view and chroot into it (we are PID 1 of the new namespaces)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    r = _root_mount_point(cfg)
    _mount("tmpfs", r, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    for d in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc"):
        if os.path.islink(d):
            os.symlink(os.readlink(d), r + d)
        elif os.path.isdir(d):
            _bind(d, r + d)
    # the private /tmp first: a virtualenv or staging copy that lives under /tmp is bound on top of it
    os.makedirs(r + "/tmp", exist_ok=True)
    _mount("tmpfs", r + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(cfg['scratch'])},mode=1777")
    for d in cfg["ro_paths"]:  # interpreter prefixes, the virtualenv
        if os.path.exists(d) and not os.path.exists(r + d):
            _bind(d, r + d)
    os.makedirs(r + "/dev", exist_ok=True)
    _mount("tmpfs", r + "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755")  # device binds allowed
    for dev in ("null", "zero", "random", "urandom"):
        _bind("/dev/" + dev, r + "/dev/" + dev, writable=True, device=True)
    os.symlink("/proc/self/fd", r + "/dev/fd")
    os.makedirs(r + "/proc", exist_ok=True)
    _mount("proc", r + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for inside, outside in cfg["binds"].items():  # the submission's staging copy, read-only
        _bind(outside, r + inside)
    try:
        _mount(None, r, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    except OSError:
        if _STRICT[0]:
            raise
    os.chdir(r)
    os.chroot(".")
    os.chdir("/")


def _limits(cfg: dict, mode: str) -> None:
    import resource

    cpu = int(cfg["cpu"])
    limits = [
        (resource.RLIMIT_CPU, (cpu, cpu + 2)),
        (resource.RLIMIT_AS, (cfg["memory"],) * 2),
        (resource.RLIMIT_FSIZE, (cfg["fsize"],) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_NOFILE, (1024, 1024)),
    ]
    if mode == "root":  # per-sandbox uid: the count is this sandbox's own (elsewhere it is the user's total)
        limits.append((resource.RLIMIT_NPROC, (cfg["nproc"],) * 2))
    for lim, (soft, hard) in limits:
        # Never ask for more than the current hard limit (only root may raise it); a stricter limit is fine.
        # Any other failure is an error: a sandbox without its limits must not run student code.
        cur_hard = resource.getrlimit(lim)[1]
        if cur_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, cur_hard), min(hard, cur_hard)
        try:
            resource.setrlimit(lim, (soft, hard))
        except (ValueError, OSError) as exc:
            raise OSError(f"setrlimit({lim}, {(soft, hard)}) failed: {exc}") from exc


def _drop_privileges(cfg: dict, mode: str) -> None:
    if mode != "root" or os.geteuid() != 0 or not cfg.get("uid"):
        return
    uid = int(cfg["uid"])
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def enter(cfg: dict) -> int | None:
    """Isolate and fork. In the sandboxed child (PID 1 of the new namespaces, new root, limits, unprivileged
    uid) this returns None and the caller goes on as the sandboxed process; in the launcher it waits for the
    child (killing it at the wall deadline) and returns its exit code (124: timed out)."""
    mode = _isolate(cfg.get("isolation", "auto"))
    _STRICT[0] = mode == "root"
    deadline = time.monotonic() + float(cfg["wall"])
    pid = os.fork()
    if pid == 0:
        try:
            _, libc = _libc()
            libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
            if mode:
                _new_root(cfg)
                _loopback_up()
            _limits(cfg, mode)
            _drop_privileges(cfg, mode)
            os.chdir(cfg["cwd"])
            return None
        except BaseException as exc:  # noqa: BLE001 - report any setup failure and die
            try:
                os.write(2, f"autograder sandbox: setup failed: {exc!r}\n".encode())
            finally:
                os._exit(121)
    for fd in cfg.get("close_in_launcher", []):
        try:
            os.close(fd)
        except OSError:
            pass
    status = None
    while status is None:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
        elif time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return 124
        else:
            time.sleep(0.02)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def main(argv: list[str]) -> int:
    cfg = json.loads(argv[1])
    rc = enter(cfg)
    if rc is None:
        try:
            os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])
        except BaseException as exc:  # noqa: BLE001
            os.write(2, f"autograder sandbox: exec failed: {exc!r}\n".encode())
            os._exit(121)
    return rc


# --------------------------------------------------------------------------------------------- parent side
if __name__ != "__main__":
    import signal
    import subprocess
    import threading
    from dataclasses import dataclass, field
    from pathlib import Path

    @dataclass
    class Jail:
        """One sandboxed command. ``binds`` maps a path inside (under /box) to a host path (read-only)."""

        argv: list[str]
        binds: dict[str, str]
        wall: float
        cpu: float
        memory: int
        nproc: int
        fsize: int
        scratch: int
        uid: int = 0
        cwd: str = "/tmp"
        env: dict[str, str] = field(default_factory=dict)
        max_result: int = 128 * 1024**2
        log: Path | None = None  # where the sandbox's stdout+stderr go (capped); None: discarded
        isolation: str = "auto"  # "userns" / "none": exercise the fallbacks of machines without root

    @dataclass
    class JailResult:
        frames: list[bytes]
        returncode: int
        timed_out: bool
        overflow: bool
        seconds: float
        isolated: bool
        log_tail: str

    def interpreter() -> str:
        """This interpreter as the sandbox can exec it. The sandbox binds only real paths, so a virtualenv reached
        through a symlink (a shared ``.venv`` link, or a checkout under a symlinked folder) must be named by its
        real folder; the file name stays, because a virtualenv's ``bin/python`` is itself a link that must keep
        its place next to ``pyvenv.cfg``."""
        return real_folder(sys.executable)

    def real_folder(path: str) -> str:
        """``path`` with its folder resolved (symlinks followed) and its file name kept."""
        return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))

    def python_ro_paths() -> list[str]:
        """Host paths the sandbox needs read-only to run this interpreter and its virtualenv."""
        paths = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
        paths.add(os.path.dirname(os.path.realpath(sys.executable)))
        paths.add(os.path.realpath(os.path.dirname(os.path.dirname(sys.executable))))
        # keep the order shallow-first so nested paths bind after their parents
        return sorted(paths, key=lambda p: (p.count("/"), p))

    def read_capped(fd: int, limit: int, sink: list, flag: list) -> None:
        total = 0
        chunks = []
        with os.fdopen(fd, "rb", buffering=0) as f:
            while True:
                b = f.read(1 << 16)
                if not b:
                    break
                total += len(b)
                if total > limit:
                    flag.append(True)
                    break
                chunks.append(b)
        sink.append(b"".join(chunks))

    def parse_frames(data: bytes) -> list[bytes]:
        out, i = [], 0
        while i + 8 <= len(data):
            n = int.from_bytes(data[i : i + 8], "little")
            if n < 0 or i + 8 + n > len(data):
                break
            out.append(data[i + 8 : i + 8 + n])
            i += 8 + n
        return out

    def run(jail: Jail) -> JailResult:
        """Run the jail; the result fd number is passed to the command as env ``AUTOGRADER_FD``."""
        rfd, wfd = os.pipe()
        env = dict(jail.env)
        env["AUTOGRADER_FD"] = str(wfd)
        cfg = {
            "argv": [real_folder(jail.argv[0]), *jail.argv[1:]],  # exec'd inside, where only real paths exist
            "binds": jail.binds,
            "wall": jail.wall,
            "cpu": jail.cpu,
            "memory": jail.memory,
            "nproc": jail.nproc,
            "fsize": jail.fsize,
            "scratch": jail.scratch,
            "uid": jail.uid,
            "cwd": jail.cwd,
            "env": env,
            "ro_paths": python_ro_paths(),
            "isolation": jail.isolation,
        }
        log = open(jail.log, "wb") if jail.log else subprocess.DEVNULL
        t0 = time.monotonic()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", __file__, json.dumps(cfg)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(wfd,),
                start_new_session=True,
                close_fds=True,
            )
        finally:
            os.close(wfd)
            if jail.log:
                log.close()
        sink, flag = [], []
        t = threading.Thread(target=read_capped, args=(rfd, jail.max_result, sink, flag), daemon=True)
        t.start()
        timed_out = False
        try:
            proc.wait(timeout=jail.wall + 10)
        except subprocess.TimeoutExpired:
            timed_out = True
        while proc.poll() is None and flag:  # result too large: stop it now
            _killpg(proc)
            proc.wait()
        if timed_out:
            _killpg(proc)
            proc.wait()
        t.join(timeout=10)
        _killpg(proc)  # stragglers without namespaces (degraded mode)
        rc = proc.returncode
        timed_out = timed_out or rc == 124
        tail = ""
        if jail.log and jail.log.is_file():
            with open(jail.log, "rb") as f:
                f.seek(max(0, jail.log.stat().st_size - 4000))
                tail = f.read().decode("utf-8", "replace")
            if jail.log.stat().st_size > 8 * 1024**2:  # keep the log readable, the disk small
                os.truncate(jail.log, 8 * 1024**2)
        isolated = "WITHOUT network/file isolation" not in tail
        return JailResult(
            parse_frames(sink[0] if sink else b""), rc, timed_out, bool(flag), time.monotonic() - t0, isolated, tail
        )

    def _killpg(proc) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def write_frame(fd: int, payload: bytes) -> None:
        """Inside the sandbox: send one frame to the parent."""
        data = len(payload).to_bytes(8, "little") + payload
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
