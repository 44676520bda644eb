"""Looks for what the host would reveal from inside the sandbox: its user list, host name, the staging path
of the submission (mount table, file descriptors, environment, working directory) and other processes. If any
of it is visible, every part fails loudly; in the sandbox none is, so the correct code keeps full marks."""

from tests.hostile import LAYERS, LOSSES, append

NOTEBOOK = False
EXPECT = {"full": LAYERS + LOSSES + ["two_layer_loss"], "zero": [], "reason": {}}


def build(sub):
    append(
        sub,
        "layers",
        """
import os as _os
import socket as _socket

_SEEN = []
try:
    _users = {ln.split(":")[0] for ln in open("/etc/passwd") if ln.strip()}
    if _users - {"root", "student", "nobody"}:
        _SEEN.append("host users")
except OSError:
    pass
if _socket.gethostname() != "sandbox":
    _SEEN.append("host name")
_text = ""
for _p in ("/proc/self/mountinfo", "/proc/self/environ", "/proc/1/cmdline", "/proc/1/environ"):
    try:
        _text += open(_p, errors="replace").read()
    except OSError:
        pass
for _fd in _os.listdir("/proc/self/fd"):
    try:
        _text += _os.readlink("/proc/self/fd/" + _fd)
    except OSError:
        pass
_text += _os.getcwd() + (_os.path.dirname(__file__) or "")
for _word in ("staging", "submitted", "pytest", "autograder/"):
    if _word in _text:
        _SEEN.append(_word)
if len([p for p in _os.listdir("/proc") if p.isdigit()]) > 10:
    _SEEN.append("processes")
if _os.path.exists("/etc/shadow") or _os.path.exists("/home"):
    _SEEN.append("host files")
if _SEEN:
    def affine_forward(*a, **k):
        raise RuntimeError("HOST VISIBLE: " + " ".join(_SEEN))

    relu_forward = affine_forward
""",
    )
