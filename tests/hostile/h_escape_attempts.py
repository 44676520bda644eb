"""Tries to undo the sandbox from inside: a nested user namespace (where it would be root again), a mount, a
chroot, ptrace of the runner that supervises it, signals to it, and well-formed forged records ("all parts
done", another part's end) written into every open descriptor. If anything works, it makes its parts wrong;
nothing does (a worker's frames are tagged with its own part by the supervisor, never taken as the
supervisor's records), so the correct code keeps full marks."""

from tests.hostile import LAYERS, LOSSES, append

NOTEBOOK = False
EXPECT = {"full": LAYERS + LOSSES + ["two_layer_loss"], "zero": [], "reason": {}}


def build(sub):
    append(
        sub,
        "losses",
        """
import ctypes as _ctypes
import os as _os
import signal as _signal

_libc = _ctypes.CDLL(None, use_errno=True)
_WORKED = []
if _libc.unshare(0x10000000) == 0:
    _WORKED.append("user namespace")
if _libc.unshare(0x00020000) == 0:
    _WORKED.append("mount namespace")
if _libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None) == 0:
    _WORKED.append("mount")
try:
    _os.chroot("/tmp")
    _WORKED.append("chroot")
except OSError:
    pass
if _libc.ptrace(16, 1, None, None) == 0:  # PTRACE_ATTACH to the supervisor
    _WORKED.append("ptrace")
for _sig in (_signal.SIGKILL, _signal.SIGSTOP, _signal.SIGTERM):
    try:
        _os.kill(1, _sig)
    except OSError:
        pass
for _fake in (b'J{"kind": "done"}', b'J{"kind": "part_end", "index": 7, "status": "ok"}'):
    for _fd in range(3, 64):  # into whatever is open
        try:
            _os.write(_fd, len(_fake).to_bytes(8, "little") + _fake)
        except OSError:
            pass
if _WORKED:
    def softmax(z):
        raise RuntimeError("ESCAPED: " + " ".join(_WORKED))
""",
    )
