"""The sandbox itself (autograder/sandbox/jail.py): what student code inside can and cannot reach."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from autograder.sandbox import jail
from tests.refs import ROOT

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux namespaces")

PROBE = r"""
import json, os, socket
fd = int(os.environ["AUTOGRADER_FD"])
res = {"uid": os.getuid(), "pid": os.getpid(), "readable": [], "writable": []}
for p in TARGETS:
    try:
        with open(p, "rb") as f:
            f.read(1)
        res["readable"].append(p)
    except OSError:
        pass
for p in WRITES:
    try:
        with open(p, "a") as f:
            f.write("x")
        res["writable"].append(p)
    except OSError:
        pass
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    res["net"] = True
except OSError:
    res["net"] = False
res["box"] = sorted(os.listdir("/box/sub"))
data = json.dumps(res).encode()
os.write(fd, len(data).to_bytes(8, "little") + data)
"""


def _jail(argv, box: Path, wall=20.0, **kw) -> jail.JailResult:
    args = dict(
        argv=argv,
        binds={"/box/sub": str(box)},
        wall=wall,
        cpu=wall,
        memory=2 * 1024**3,
        nproc=32,
        fsize=1 << 20,
        scratch=1 << 24,
        uid=61990,
        log=box.parent / f"{box.name}.log",
        env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"},
    )
    args.update(kw)
    return jail.run(jail.Jail(**args))


@pytest.mark.skipif(os.geteuid() != 0, reason="full isolation needs root (degrades with a warning otherwise)")
def test_student_code_cannot_read_secrets_write_outside_or_reach_the_network(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    (box / "mine.py").write_text("x = 1\n")
    secrets = [
        str(ROOT / "reference" / "deepkit" / "gradcheck.py"),
        str(ROOT / "autograder" / "spec.py"),
        str(ROOT / "README.md"),
        "/etc/shadow",
        str(tmp_path / "other.txt"),
    ]
    (tmp_path / "other.txt").write_text("another student's file")
    gb = ROOT / "autograder" / "gradebook.db"
    if gb.exists():
        secrets.append(str(gb))
    writes = [str(ROOT / "PWNED.txt"), "/box/sub/mine.py", "/tmp/fine.txt"]
    code = f"TARGETS = {secrets!r}\nWRITES = {writes!r}\n" + PROBE
    r = _jail([sys.executable, "-I", "-c", code], box)
    assert r.isolated and r.returncode == 0, r.log_tail
    res = json.loads(r.frames[0])
    assert res["readable"] == []
    assert res["writable"] == ["/tmp/fine.txt"]  # the private scratch only
    assert not (ROOT / "PWNED.txt").exists() and (box / "mine.py").read_text() == "x = 1\n"
    assert res["net"] is False and res["uid"] == 61990 and res["pid"] == 1
    assert res["box"] == ["mine.py"]


def test_wall_clock_kills_detached_children(tmp_path):
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n    os.setsid()\n    open('/tmp/x','w')\n    time.sleep(1000)\n"
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n"
    )
    t0 = time.monotonic()
    r = _jail([sys.executable, "-I", "-c", code], tmp_path, wall=2.0, cpu=60.0)  # the wall clock, not RLIMIT_CPU
    assert r.timed_out and time.monotonic() - t0 < 15


def test_cpu_limit_stops_a_busy_loop_before_the_wall_clock(tmp_path):
    t0 = time.monotonic()
    r = _jail([sys.executable, "-I", "-c", "while True:\n    pass\n"], tmp_path, wall=60.0, cpu=1.0)
    assert not r.timed_out and r.returncode in (128 + 24, 128 + 9), r  # SIGXCPU, then SIGKILL at the hard limit
    assert time.monotonic() - t0 < 30


def test_result_size_is_capped(tmp_path):
    code = (
        "import os\nfd = int(os.environ['AUTOGRADER_FD'])\nblob = b'x' * (1 << 20)\n"
        "while True:\n    os.write(fd, blob)\n"
    )
    r = _jail([sys.executable, "-I", "-c", code], tmp_path, wall=20.0, max_result=4 << 20)
    assert r.overflow and not r.frames


@pytest.mark.parametrize("isolation", ["userns", "none"])
def test_fallbacks_still_run_with_limits(tmp_path, isolation):
    """A self-learner's laptop: a user namespace (no root), or nothing at all (a warning, limits only)."""
    code = (
        "import os\nfd = int(os.environ['AUTOGRADER_FD'])\n"
        "os.write(fd, (2).to_bytes(8, 'little') + b'ok')\nwhile True:\n    pass\n"
    )
    r = _jail([sys.executable, "-I", "-c", code], tmp_path, wall=3.0, cpu=60.0, uid=0, isolation=isolation)
    assert r.frames == [b"ok"] and r.timed_out
    assert r.isolated == (isolation == "userns"), r.log_tail
