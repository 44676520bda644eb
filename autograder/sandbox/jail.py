"""The sandbox: run one command with no network, a private file-system view, resource limits and clocks.

Parent side: ``run(Jail(...))`` starts ``python -I -S jail.py <config>`` in a new session and reads the
command's result frames from a pipe. Launcher side (``enter``, stdlib only; the zygote calls it too):

1. isolation: ``unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS)``, as root,
   or together with ``CLONE_NEWUSER`` as a normal user (unprivileged user namespaces: the same isolation, no
   root needed). Where neither is permitted the launcher REFUSES (exit ``RC_NO_ISOLATION``) unless the parent
   asked for ``isolation="none"`` (``--no-isolation``: resource limits only, clearly reported);
2. fork: the child is PID 1 of the new PID namespace (when it dies, the kernel kills every process the
   student started, however they detached) and dies with the launcher (``PR_SET_PDEATHSIG``);
3. the child builds a new root on a tmpfs holding ONLY: read-only binds of ``/usr``, ``/lib*``, ``/bin``,
   ``/sbin`` and the Python installation + virtualenv; a minimal generated ``/etc`` (the sandbox user, no host
   accounts); a minimal ``/dev``; a fresh ``/proc``; ``/box``, a read-only tmpfs holding COPIES of what the
   parent gives (the submission's staging copy, the run folder), so no host path of the course or the
   student shows anywhere (not in ``/proc/self/mountinfo``, not behind a file descriptor); ``masks`` (empty
   read-only directories over host paths such as a data set or an autodiff library, optionally with a stub
   ``__init__.py`` that explains); a size-limited private ``/tmp``. Then ``pivot_root`` and the old root is
   detached: the course tree, other students, ``solutions/`` and the gradebook are simply not there;
4. loopback up (kernels talk to nbgrader over 127.0.0.1; nothing else exists in the new network namespace),
   host name ``sandbox``;
5. rlimits (CPU, address space, processes, file size, no core files), no new privileges, and a switch to the
   unprivileged sandbox uid (root mode: a uid leased per sandbox, see ``lease_uids``; user namespace: the
   caller's uid mapped to the sandbox uid, every capability dropped); then ``execve``.

The launcher stays outside (not in the PID namespace, unreachable by the student's processes) and
supervises: it relays the sandbox's output to the log (capped) and the result descriptors it was asked to
relay, kills PID 1 at the wall-clock backstop (``RC_WALL``; CPU limits and idle budgets per part are the
command's business, see ``probe_runner.py``), and exits with the child's status (codes >= 100 from the
student are clamped to 100, so only the launcher reports 120-127). Its first log line says which isolation
it got (``read_log``); nothing the student prints can come before it. Results come back only through the
pipe (``AUTOGRADER_FD``), as frames of ``8-byte length + payload``, read with a size cap; the parent parses
them as untrusted data.
"""

from __future__ import annotations

import json
import os
import sys
import time

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 32, 1024, 2048, 4096, 16384
MS_PRIVATE, MS_RELATIME, MS_STRICTATIME = 1 << 18, 1 << 21, 1 << 24
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41}
NEWROOT = "/mnt"  # mount point of the new root's tmpfs (inside our private mount namespace only)
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32")
ETC_COPIED = ("ld.so.cache", "protocols", "services")  # distribution files, no host accounts or secrets
NAME_SERVICES = ("passwd", "group", "shadow", "hosts", "protocols", "services")  # files only, no network
SANDBOX_USER = "student"
SANDBOX_HOST = "sandbox"
DEFAULT_UID = 61000  # the uid inside a user namespace when the parent leased none

RC_NO_ISOLATION = 120  # namespaces unavailable and isolation was required
RC_SETUP = 121  # the sandbox could not be built (an infrastructure failure, never the student's)
RC_WALL = 124  # killed at the wall-clock backstop
MODE_LINE = "autograder-sandbox-isolation: "  # first line of every sandbox log, written by the launcher
NO_ISOLATION_WARNING = "WITHOUT network/file isolation"
_STATUS_FD = [-1]  # in the child between setup and execve: the setup-status pipe to the launcher


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
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)), f"mount {src} -> {dst}")


def _locked_flags(path: str) -> int:
    """The mount flags of ``path``'s current mount that a bind must keep: in a user namespace the kernel
    refuses a remount that would drop nosuid/nodev/noexec/read-only or change the atime mode."""
    st = os.statvfs(path).f_flag
    flags = 0
    for st_bit, ms_bit in ((1, MS_RDONLY), (2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC)):
        if st & st_bit:
            flags |= ms_bit
    if st & 1024:
        flags |= MS_NOATIME
    elif st & 4096:
        flags |= MS_RELATIME
    else:
        flags |= MS_STRICTATIME
    if st & 2048:
        flags |= MS_NODIRATIME
    return flags


def _bind(src: str, dst: str, writable: bool = False, device: bool = False) -> None:
    """Bind ``src`` at ``dst``, read-only (unless ``writable``), nosuid, nodev (unless ``device``)."""
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst):
            open(dst, "w").close()
    locked = _locked_flags(src)
    _mount(src, dst, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | locked
    if not device:
        flags |= MS_NODEV
    if not writable:
        flags |= MS_RDONLY
    _mount(None, dst, None, flags)


def _tmpfs(dst: str, size: int, mode: str = "755", flags: int = MS_NOSUID | MS_NODEV) -> None:
    os.makedirs(dst, exist_ok=True)
    _mount("tmpfs", dst, "tmpfs", flags, f"size={int(size)},mode={mode}")


def _read_only(dst: str, flags: int = MS_NOSUID | MS_NODEV) -> None:
    _mount(None, dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY | flags)


def _unshare(flags: int) -> None:
    _, libc = _libc()
    _check(libc.unshare(flags), "unshare")


def _isolate(want: str) -> tuple[str, str]:
    """Enter new namespaces. Returns (mode, why not): mode 'root', 'userns' or '' (none).
    ``want``: "required" (the default: root, else a user namespace), "userns" (always a user namespace, to test
    the rootless path as root) or "none" (no namespaces: ``--no-isolation``)."""
    base = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if want == "none":
        return "", "isolation switched off by the grader (--no-isolation)"
    errors = []
    if os.geteuid() == 0 and want != "userns":
        try:
            _unshare(base)
            return "root", ""
        except OSError as exc:
            errors.append(f"as root: {exc}")
    try:
        _unshare(base | CLONE_NEWUSER)
        return "userns", ""
    except OSError as exc:
        errors.append(f"unprivileged user namespace: {exc}")
    return "", "; ".join(errors)


def _map_ids(inside: int, host_uid: int, host_gid: int) -> None:
    """In a fresh user namespace: our host uid/gid become the sandbox uid/gid (not root inside; for the
    group the same number as the user)."""
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{inside} {host_uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{inside} {host_gid} 1")


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
    """A host directory to mount the new root's tmpfs on that hides none of the paths we must read from."""
    sources = [*cfg["ro_paths"], *cfg["binds"].values(), *cfg.get("masks", {})]
    for cand in (NEWROOT, "/media", "/srv", "/opt", "/var/empty"):
        if os.path.isdir(cand) and not any(src == cand or src.startswith(cand + "/") for src in sources):
            return cand
    raise OSError(f"no mount point for the sandbox root outside {sources}")


def _inside_uid(cfg: dict) -> int:
    return int(cfg.get("uid") or DEFAULT_UID)


def _minimal_etc(etc: str, uid: int) -> None:
    """A generated /etc: the sandbox user and group, localhost, files-only name services; never the host's."""
    _tmpfs(etc, 1 << 20)
    files = {
        "passwd": (
            "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
            f"{SANDBOX_USER}:x:{uid}:{uid}:sandbox:/tmp:/usr/sbin/nologin\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        ),
        "group": f"root:x:0:\n{SANDBOX_USER}:x:{uid}:\nnogroup:x:65534:\n",
        "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        "hostname": SANDBOX_HOST + "\n",
        "nsswitch.conf": "".join(f"{db}: files\n" for db in NAME_SERVICES),
        "resolv.conf": "",
    }
    for name, text in files.items():
        with open(os.path.join(etc, name), "w") as f:
            f.write(text)
    for name in ETC_COPIED:
        src = os.path.join("/etc", name)
        if os.path.isfile(src) and not os.path.islink(src):
            with open(src, "rb") as fi, open(os.path.join(etc, name), "wb") as fo:
                fo.write(fi.read(8 << 20))
    _read_only(etc)


def _copy_into(src: str, dst: str) -> None:
    """Copy a staged folder (or file) into the sandbox's private /box; symlinks are copied as links, never
    followed (intake never stages one; a link could only point inside the sandbox's own view anyway)."""
    import shutil

    if os.path.isdir(src) and not os.path.islink(src):
        shutil.copytree(src, dst, symlinks=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)


def _unboxed(arg: str, binds: dict[str, str]) -> str:
    """Without a new root there is no /box: a path under one of its entries means the host path."""
    for inside, outside in binds.items():
        if arg == inside or arg.startswith(inside + "/"):
            return outside + arg[len(inside) :]
    return arg


def _pivot(root: str) -> None:
    """Make ``root`` the root of our mount namespace and detach the old one (chroot where pivot_root is not
    possible, e.g. an initramfs root; no capability survives into the sandbox, so chroot cannot be undone)."""
    os.chdir(root)
    _, libc = _libc()
    nr = SYS_PIVOT_ROOT.get(os.uname().machine)
    try:
        if nr is None:
            raise OSError("pivot_root: unknown syscall number")
        _check(libc.syscall(nr, b".", b"."), "pivot_root")
        _check(libc.umount2(b".", MNT_DETACH), "umount old root")
    except OSError:
        os.chroot(".")
    os.chdir("/")


def _new_root(cfg: dict) -> None:
    """Build the sandbox's file-system view and pivot into it (we are PID 1 of the new namespaces)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    r = _root_mount_point(cfg)
    _tmpfs(r, 16 << 20)
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            os.symlink(os.readlink(d), r + d)
        elif os.path.isdir(d):
            _bind(d, r + d)
    _minimal_etc(r + "/etc", _inside_uid(cfg))
    # the private /tmp first: a virtualenv that lives under /tmp is bound on top of it
    _tmpfs(r + "/tmp", int(cfg["scratch"]), mode="1777")
    for d in cfg["ro_paths"]:  # interpreter prefixes, the virtualenv
        if os.path.exists(d) and not os.path.exists(r + d):
            _bind(d, r + d)
    for host, stub in sorted(cfg.get("masks", {}).items()):  # data sets, autodiff libraries ...
        if os.path.isdir(r + host):
            _tmpfs(r + host, 64 << 10)
            if stub:
                with open(r + host + "/__init__.py", "w") as f:
                    f.write(stub)
            _read_only(r + host)
    _tmpfs(r + "/dev", 64 << 10, flags=MS_NOSUID | MS_NOEXEC)  # device binds allowed
    for dev in ("null", "zero", "random", "urandom"):
        _bind("/dev/" + dev, r + "/dev/" + dev, writable=True, device=True)
    os.symlink("/proc/self/fd", r + "/dev/fd")
    os.makedirs(r + "/proc", exist_ok=True)
    _mount("proc", r + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if cfg["binds"]:  # copies, not binds: no host path of the staging folder is visible inside
        _tmpfs(r + "/box", int(cfg.get("box_bytes") or 256 << 20))
        for inside, outside in sorted(cfg["binds"].items()):
            _copy_into(outside, r + inside)
        _read_only(r + "/box")
    _read_only(r)
    _pivot(r)


def _limits(cfg: dict, mode: str) -> None:
    import resource

    cpu = max(1, int(cfg["cpu"] + 0.999))
    limits = [
        (resource.RLIMIT_CPU, (cpu, cpu + 2)),
        (resource.RLIMIT_AS, (cfg["memory"],) * 2),
        (resource.RLIMIT_FSIZE, (cfg["fsize"],) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_NOFILE, (1024, 1024)),
    ]
    # Counted per uid: in root mode the leased uid is this sandbox's own; in a user namespace the kernel counts
    # per namespace (Linux >= 5.14). Without namespaces it would be the user's whole process count: skipped.
    if mode:
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


def _drop_capabilities() -> None:
    """Empty effective/permitted/inheritable sets (a user namespace gave us all of them inside it)."""
    import ctypes

    _, libc = _libc()

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    data = (Data * 2)()
    _check(libc.capset(ctypes.byref(Header(0x20080522, 0)), data), "capset")


def _seal_user_namespaces(mode: str) -> None:
    """No user namespace can be created inside the sandbox (in one, the student would hold capabilities again,
    and user namespaces are a favourite kernel attack surface): in a user namespace of our own (the one we are
    in, or a new one entered as the sandbox uid) the limit of nested ones is set to 0. Where unprivileged user
    namespaces are off, the new one cannot be made, and the student cannot make one either."""
    if mode == "root":
        uid, gid = os.getuid(), os.getgid()
        _, libc = _libc()
        libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # after setuid /proc/self is root's until we are dumpable again
        try:
            _unshare(CLONE_NEWUSER)
        except OSError:
            return
        _map_ids(uid, uid, gid)
    with open("/proc/sys/user/max_user_namespaces", "w") as f:
        f.write("0")


def _drop_privileges(cfg: dict, mode: str) -> None:
    _, libc = _libc()
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if mode == "root" or (not mode and os.geteuid() == 0):
        uid = int(cfg.get("uid") or 0)
        if uid <= 0:
            raise OSError("refusing to run student code as root: no sandbox uid given")
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)  # from root to a non-root uid: every capability is cleared
    if mode:
        _seal_user_namespaces(mode)
        _drop_capabilities()  # those a user namespace gave us (ours, or the one just made to seal it)


def _say(text: str) -> None:
    os.write(2, text.encode("utf-8", "replace"))


def _supervise(pid: int, cfg: dict, t0: float, status_r: int, log_r: int, relays: dict[int, int]) -> int:
    """Relay output, watch the clocks; returns the launcher's exit code."""
    import select

    wall = float(cfg["wall"])
    log_cap, logged = int(cfg.get("log_cap", 8 << 20)), 0
    sinks = {log_r: 2, **relays}
    status, started, verdict = b"", False, None
    while True:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - t0 > wall:
            verdict = RC_WALL
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            break
        fds = list(sinks) + ([status_r] if not started else [])
        for fd in select.select(fds, [], [], 0.05)[0]:
            data = os.read(fd, 1 << 16)
            if fd == status_r:
                status += data
                started = not data  # EOF: the child exec'd (or handed over) without a word: all set up
                continue
            if not data:
                os.close(fd)
                del sinks[fd]
            elif fd == log_r:
                keep = data[: max(0, log_cap - logged)]
                logged += len(data)
                if keep:
                    os.write(2, keep)
            elif not _forward(sinks[fd], data):
                os.close(fd)
                del sinks[fd]
    _drain(sinks, log_r, log_cap - logged)
    if not started:
        try:
            status += os.read(status_r, 4096)
        except OSError:
            pass
    if status:  # the child reported a setup failure before any student code ran
        _say(f"autograder sandbox: setup failed: {status.decode('utf-8', 'replace')}\n")
        return RC_SETUP
    if verdict == RC_WALL:
        _say(f"autograder sandbox: killed at the wall-clock limit ({wall:g} s)\n")
        return RC_WALL
    if os.WIFSIGNALED(st):
        return 128 + os.WTERMSIG(st)
    return min(os.WEXITSTATUS(st), 100)  # 101-127 are the launcher's own


def _forward(fd: int, data: bytes) -> bool:
    """Write all of ``data`` to a relayed descriptor; False if its reader is gone."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        return False
    return True


def _drain(sinks: dict[int, int], log_r: int, room: int) -> None:
    """After PID 1 is gone (and with it, in namespaces, every process of the sandbox): copy what is left.
    Without a PID namespace a detached child may hold a pipe open: stop after 0.5 s without data."""
    import select

    end = time.monotonic() + 2.0
    while sinks and time.monotonic() < end:
        ready = select.select(list(sinks), [], [], 0.5)[0]
        if not ready:
            break
        for fd in ready:
            data = os.read(fd, 1 << 16)
            if not data:
                os.close(fd)
                del sinks[fd]
            elif fd == log_r:
                if room > 0:
                    os.write(2, data[:room])
                room -= len(data)
            elif not _forward(sinks[fd], data):
                os.close(fd)
                del sinks[fd]


def enter(cfg: dict, exec_next: bool = False) -> int | None:
    """Isolate and fork. In the sandboxed child (PID 1 of the new namespaces, new root, limits, unprivileged
    uid, no capabilities) this returns None and the caller goes on as the sandboxed process (``exec_next``:
    it will ``execve`` at once, which tells the launcher that setup is over); the launcher supervises the child
    and returns its exit code (``RC_*`` for its own verdicts)."""
    t0 = time.monotonic()
    host_uid, host_gid = os.geteuid(), os.getegid()
    want = cfg.get("isolation", "required")
    mode, why = _isolate(want)
    if mode == "userns":
        try:
            _map_ids(_inside_uid(cfg), host_uid, host_gid)
        except OSError as exc:
            mode, why = "", f"user namespace id mapping: {exc}"
    _say(f"{MODE_LINE}{mode or 'none'}\n")  # first line of the log: before any student process exists
    if not mode:
        if want != "none":
            _say(f"autograder sandbox: REFUSED: no namespaces here ({why}); see autograder/README.md\n")
            return RC_NO_ISOLATION
        _say(f"autograder sandbox: WARNING: running {NO_ISOLATION_WARNING} (resource limits only): {why}\n")
        cfg["argv"] = [_unboxed(a, cfg["binds"]) for a in cfg.get("argv") or []]
    relay_fds = sorted(set(cfg.get("relay_fds", [])) | set(cfg.get("close_in_launcher", [])))
    status_r, status_w = os.pipe2(os.O_CLOEXEC)
    log_r, log_w = os.pipe2(os.O_CLOEXEC)
    relays = {}  # our read end -> the real descriptor (the child gets the write end at the same number)
    child_ends = {}
    for fd in relay_fds:
        r, w = os.pipe2(os.O_CLOEXEC)
        relays[r], child_ends[fd] = fd, w
    pid = os.fork()
    if pid == 0:
        try:
            os.close(status_r)
            os.close(log_r)
            for r in relays:
                os.close(r)
            for fd, w in child_ends.items():
                os.dup2(w, fd)  # dup2 clears close-on-exec on the new descriptor
                os.close(w)
            _, libc = _libc()
            libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
            if mode:
                _new_root(cfg)
                _loopback_up()
                import socket

                socket.sethostname(SANDBOX_HOST)
            _limits(cfg, mode)
            _drop_privileges(cfg, mode)
            os.chdir(cfg["cwd"])
            os.dup2(log_w, 1)
            os.dup2(log_w, 2)
            os.close(log_w)
            if exec_next:  # closed by a successful execve (close-on-exec); main() reports a failed one
                _STATUS_FD[0] = status_w
            else:  # in-process use (the zygote): setup is over now
                os.close(status_w)
            return None
        except BaseException as exc:  # noqa: BLE001 - report any setup failure to the launcher and die
            try:
                os.write(status_w, repr(exc).encode("utf-8", "replace")[:2000] or b"?")
            finally:
                os._exit(RC_SETUP)
    os.close(status_w)
    os.close(log_w)
    for w in child_ends.values():
        os.close(w)
    return _supervise(pid, cfg, t0, status_r, log_r, relays)


def main(argv: list[str]) -> int:
    cfg = json.loads(argv[1])
    rc = enter(cfg, exec_next=True)
    if rc is None:
        try:
            os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])
        except BaseException as exc:  # noqa: BLE001 - the status pipe is still open (exec failed): say why
            os.write(_STATUS_FD[0], f"exec failed: {exc!r}".encode())
            os._exit(RC_SETUP)
    return rc


# --------------------------------------------------------------------------------------------- parent side
if __name__ != "__main__":
    import fcntl
    import signal
    import subprocess
    import tempfile
    import threading
    from contextlib import contextmanager
    from dataclasses import dataclass, field
    from pathlib import Path

    UID_BASE, UID_SLOTS = 61000, 4000  # sandbox uids: one per running sandbox on this machine

    from autograder.errors import InfrastructureError

    class SandboxUnavailable(InfrastructureError):
        """Namespaces are not available and isolation was required (an infrastructure problem: stop)."""

    class SandboxError(InfrastructureError):
        """The sandbox could not be built (an infrastructure problem, never the student's fault: stop)."""

    @dataclass
    class Jail:
        """One sandboxed command. ``binds`` maps a path inside (under /box) to a host path; the sandbox gets a
        read-only COPY. ``masks`` maps host paths (directories visible through ``ro_paths``) to the text of a
        stub ``__init__.py`` placed in the empty read-only directory that hides them ("" for none)."""

        argv: list[str]
        binds: dict[str, str]
        wall: float  # wall-clock backstop of the whole sandbox (seconds)
        cpu: float  # RLIMIT_CPU of each process (seconds)
        memory: int
        nproc: int
        fsize: int
        scratch: int
        uid: int | None = None  # None: a uid is leased for the run (root mode)
        cwd: str = "/tmp"
        env: dict[str, str] = field(default_factory=dict)
        max_result: int = 128 * 1024**2
        log: Path | None = None  # where the sandbox's stdout+stderr go (capped); None: discarded
        isolation: str = "required"  # "none": --no-isolation; "userns": the rootless path even as root (tests)
        masks: dict[str, str] = field(default_factory=dict)
        log_cap: int = 8 * 1024**2

    @dataclass
    class JailResult:
        frames: list[bytes]
        returncode: int
        timed_out: bool
        overflow: bool
        seconds: float
        isolated: bool
        log_tail: str
        isolation: str = ""  # "root", "userns" or "" (none)
        ended: str = ""  # "wall", "overflow" or "" (the command ended by itself)

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

    def _tree_bytes(path: str) -> int:
        if os.path.isfile(path):
            return os.path.getsize(path)
        total = 0
        for base, _, files in os.walk(path):
            for name in files:
                try:
                    total += os.lstat(os.path.join(base, name)).st_size
                except OSError:
                    pass
        return total

    def launcher_config(jail: Jail, uid: int | None = None) -> dict:
        """The launcher's JSON configuration for ``jail`` (the zygote gets the same)."""
        box = sum(_tree_bytes(p) for p in jail.binds.values())
        return {
            "argv": [real_folder(jail.argv[0]), *jail.argv[1:]] if jail.argv else [],  # only real paths inside
            "binds": jail.binds,
            "box_bytes": int(box * 1.25) + (4 << 20),
            "wall": jail.wall,
            "cpu": jail.cpu,
            "memory": jail.memory,
            "nproc": jail.nproc,
            "fsize": jail.fsize,
            "scratch": jail.scratch,
            "uid": jail.uid if uid is None else uid,
            "cwd": jail.cwd,
            "env": dict(jail.env),
            "ro_paths": python_ro_paths(),
            "isolation": jail.isolation,
            "masks": jail.masks,
            "log_cap": jail.log_cap,
        }

    def _lock_dir() -> Path:
        """Shared by every grading process of this user on this machine (the uids are machine-wide)."""
        base = Path("/run/lock") if os.geteuid() == 0 and os.access("/run/lock", os.W_OK) else None
        d = (base or Path(tempfile.gettempdir())) / f"autograder-uids-{os.geteuid()}"
        d.mkdir(mode=0o700, exist_ok=True)
        return d

    @contextmanager
    def lease_uids(n: int = 1):
        """``n`` sandbox uids no other sandbox on this machine uses while the block runs (lock files, held
        with ``flock``: released when the block ends or the process dies, so a crash leaks nothing)."""
        held: list[tuple[int, int]] = []
        d = _lock_dir()
        try:
            for uid in range(UID_BASE, UID_BASE + UID_SLOTS):
                if len(held) == n:
                    break
                fd = os.open(d / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    continue
                held.append((uid, fd))
            if len(held) < n:
                raise SandboxError(f"no free sandbox uid in {UID_BASE}..{UID_BASE + UID_SLOTS - 1}")
            yield [uid for uid, _ in held]
        finally:
            for _, fd in held:
                os.close(fd)

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

    def read_log(path: Path | None) -> tuple[str, str]:
        """(isolation mode from the launcher's first line, the log's tail). The first line is written before
        any student process exists, so nothing the student prints can fake it."""
        if not path or not Path(path).is_file():
            return "", ""
        with open(path, "rb") as f:
            first = f.readline(200).decode("utf-8", "replace")
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - 4000))
            tail = f.read().decode("utf-8", "replace")
        mode = first[len(MODE_LINE) :].strip() if first.startswith(MODE_LINE) else ""
        return ("" if mode == "none" else mode), tail

    def run(jail: Jail) -> JailResult:
        """Run the jail; the result fd number is passed to the command as env ``AUTOGRADER_FD``.
        Raises ``SandboxUnavailable`` / ``SandboxError`` for infrastructure failures (never the student's)."""
        if jail.uid is None:
            with lease_uids(1) as (uid,):
                return _run(jail, uid)
        return _run(jail, jail.uid)

    def _run(jail: Jail, uid: int) -> JailResult:
        rfd, wfd = os.pipe()
        cfg = launcher_config(jail, uid)
        cfg["env"]["AUTOGRADER_FD"] = str(wfd)
        log_path = jail.log
        if log_path is None:
            tmp = tempfile.NamedTemporaryFile(prefix="autograder-sandbox-", suffix=".log", delete=False)
            tmp.close()
            log_path = Path(tmp.name)
        log = open(log_path, "wb")
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
            log.close()
        sink, flag = [], []
        t = threading.Thread(target=read_capped, args=(rfd, jail.max_result, sink, flag), daemon=True)
        t.start()
        timed_out = False
        deadline = time.monotonic() + jail.wall + 10
        while proc.poll() is None:  # the launcher enforces the clocks; we only back it up
            if flag or time.monotonic() > deadline:
                timed_out = not flag
                _killpg(proc)
                break
            try:
                proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
        proc.wait()
        t.join(timeout=10)
        _killpg(proc)  # stragglers without namespaces (--no-isolation)
        rc = proc.returncode
        mode, tail = read_log(log_path)
        if jail.log is None:
            os.unlink(log_path)
        elif log_path.stat().st_size > jail.log_cap + 65536:  # keep the log readable, the disk small
            os.truncate(log_path, jail.log_cap + 65536)
        if rc == RC_NO_ISOLATION:
            raise SandboxUnavailable(_last_line(tail, "REFUSED") or "no namespaces available")
        if rc == RC_SETUP:
            raise SandboxError(_last_line(tail, "setup failed") or "the sandbox could not be built")
        ended = "overflow" if flag else "wall" if (timed_out or rc == RC_WALL) else ""
        return JailResult(
            frames=parse_frames(sink[0] if sink else b""),
            returncode=rc,
            timed_out=ended == "wall",
            overflow=bool(flag),
            seconds=time.monotonic() - t0,
            isolated=bool(mode),
            log_tail=tail,
            isolation=mode,
            ended=ended,
        )

    def _last_line(text: str, marker: str) -> str:
        lines = [ln for ln in text.splitlines() if marker in ln and ln.startswith("autograder sandbox:")]
        return lines[-1] if lines else ""

    def _killpg(proc) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    @dataclass
    class IsolationStatus:
        mode: str  # "root", "userns" or "" (none)
        reason: str  # why not, when mode is ""

        @property
        def available(self) -> bool:
            return bool(self.mode)

        def describe(self) -> str:
            if self.mode == "root":
                return "sandbox: full isolation (mount, PID, network namespaces; running as root)"
            if self.mode == "userns":
                return "sandbox: full isolation (mount, PID, network namespaces in an unprivileged user namespace)"
            return (
                f"sandbox: NOT isolated here ({self.reason}). Grading refuses to run without isolation unless "
                "given --no-isolation; see 'The sandbox without root' in autograder/README.md"
            )

    _STATUS: list[IsolationStatus] = []
    _STATUS_LOCK = threading.Lock()

    def isolation_status() -> IsolationStatus:
        """Can this machine build the sandbox? Found out once per process by building a tiny one."""
        with _STATUS_LOCK:
            if not _STATUS:
                j = Jail(
                    argv=[sys.executable, "-I", "-S", "-c", "pass"],
                    binds={},
                    wall=60,
                    cpu=20,
                    memory=1 << 30,
                    nproc=16,
                    fsize=1 << 20,
                    scratch=1 << 20,
                )
                try:
                    res = run(j)
                    status = IsolationStatus(res.isolation, "" if res.isolation else "unknown")
                except (SandboxUnavailable, SandboxError) as exc:
                    status = IsolationStatus("", str(exc).replace("autograder sandbox: ", ""))
                _STATUS.append(status)
            return _STATUS[0]

    def write_frame(fd: int, payload: bytes) -> None:
        """Inside the sandbox: send one frame to the parent."""
        data = len(payload).to_bytes(8, "little") + payload
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
