"""The sandbox itself (autograder/sandbox/jail.py): what student code inside can and cannot reach, as root and
as a normal user (unprivileged user namespaces), and what happens where no namespaces are available."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from autograder.sandbox import jail
from tests.refs import REF_LIB, ROOT
from tests.unprivileged import can_simulate, run_unprivileged

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux namespaces")
ISOLATIONS = ["required", "userns"]  # as root: root namespaces, then the rootless path (a user namespace)

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
res["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
res["caps"] = [ln.split()[1] for ln in open("/proc/self/status") if ln.startswith(("CapEff", "CapPrm"))]
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
res["mount"] = libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None)
res["unshare"] = libc.unshare(0x00020000 | 0x10000000)
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
        log=box.parent / f"{box.name}.log",
        env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"},
    )
    args.update(kw)
    return jail.run(jail.Jail(**args))


def _userns_available() -> bool:
    return jail.isolation_status().available


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_student_code_cannot_read_secrets_write_outside_or_reach_the_network(tmp_path, isolation):
    if not _userns_available():
        pytest.skip("no namespaces on this machine")
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
    r = _jail([sys.executable, "-I", "-c", code], box, isolation=isolation)
    assert r.isolation == ("root" if isolation == "required" and os.geteuid() == 0 else "userns")
    assert r.isolated and r.returncode == 0, r.log_tail
    res = json.loads(r.frames[0])
    assert res["readable"] == []
    # the private scratch /tmp only (a checkout under /tmp, as in CI, has its path inside that scratch too)
    assert "/tmp/fine.txt" in res["writable"] and [p for p in res["writable"] if not p.startswith("/tmp/")] == []
    assert not (ROOT / "PWNED.txt").exists() and (box / "mine.py").read_text() == "x = 1\n"
    assert res["net"] is False and res["pid"] == 1 and res["pids"] == [1]
    assert res["uid"] != 0 and res["caps"] == ["0000000000000000", "0000000000000000"]
    assert res["mount"] == -1 and res["unshare"] == -1  # no capability left: cannot undo the sandbox
    assert res["box"] == ["mine.py"]


SNOOP = r"""
import glob, json, os, socket
fd = int(os.environ["AUTOGRADER_FD"])
seen = {"passwd": open("/etc/passwd").read(), "group": open("/etc/group").read(), "etc": sorted(os.listdir("/etc")),
        "host": socket.gethostname(), "mountinfo": open("/proc/self/mountinfo").read(),
        "environ": open("/proc/self/environ", "rb").read().decode(), "cwd": os.getcwd(),
        "files": sorted(glob.glob("/box/**", recursive=True))}
fds = {}
for n in os.listdir("/proc/self/fd"):
    try:
        fds[n] = os.readlink("/proc/self/fd/" + n)
    except OSError:
        pass
seen["fds"] = fds
import pwd
seen["user"] = pwd.getpwuid(os.getuid()).pw_name
data = json.dumps(seen).encode()
os.write(fd, len(data).to_bytes(8, "little") + data)
"""


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_sandbox_sees_a_minimal_etc_and_no_host_path_of_the_submission(tmp_path, isolation):
    """No host account, no host name, and the staging folder's host path nowhere (mounts, descriptors, env)."""
    if not _userns_available():
        pytest.skip("no namespaces on this machine")
    staging = tmp_path / "staging" / "01_softmax" / "alice" / "sub"
    staging.mkdir(parents=True)
    (staging / "lib").mkdir()
    (staging / "lib" / "mine.py").write_text("x = 1\n")
    r = _jail([sys.executable, "-I", "-c", SNOOP], staging, isolation=isolation)
    assert r.returncode == 0, r.log_tail
    seen = json.loads(r.frames[0])
    users = {ln.split(":")[0] for ln in seen["passwd"].splitlines()}
    assert users == {"root", "student", "nobody"} and seen["user"] == "student"
    host_users = {ln.split(":")[0] for ln in Path("/etc/passwd").read_text().splitlines() if ln}
    assert not (host_users - users) & set(seen["passwd"].replace(":", " ").split())
    assert "shadow" not in seen["etc"] and "ssh" not in seen["etc"] and seen["host"] == "sandbox"
    assert seen["files"] == ["/box/", "/box/sub", "/box/sub/lib", "/box/sub/lib/mine.py"]
    everything = json.dumps(seen)
    for host_path in (str(tmp_path), "staging", "alice", "pytest"):
        assert host_path not in everything, host_path
    assert all(v.startswith(("pipe:", "/dev/null")) or v == "/proc/self/fd" for v in seen["fds"].values()), seen


def test_masks_hide_data_sets_and_autodiff_libraries(tmp_path):
    """What the library sandbox is given: the digits data set is not there, torch is a stub that says why."""
    from autograder.libgrade import sandbox_masks

    masks = sandbox_masks()
    digits = [m for m in masks if m.endswith("sklearn/datasets/data")]
    torch_dirs = [m for m, stub in masks.items() if m.endswith("/torch")]
    assert digits and torch_dirs and "not available when grading" in masks[torch_dirs[0]]
    assert Path(digits[0], "digits.csv.gz").is_file()  # on the host it is there
    code = textwrap.dedent(
        f"""
        import json, os
        out = {{"data": os.listdir({digits[0]!r})}}
        try:
            import torch
            out["torch"] = "imported"
        except ImportError as exc:
            out["torch"] = str(exc)
        try:
            from sklearn.datasets import load_digits
            load_digits()
            out["digits"] = "loaded"
        except OSError as exc:
            out["digits"] = type(exc).__name__
        data = json.dumps(out).encode()
        os.write(int(os.environ["AUTOGRADER_FD"]), len(data).to_bytes(8, "little") + data)
        """
    )
    r = _jail([sys.executable, "-I", "-c", code], tmp_path, masks=masks, wall=60, cpu=60)
    out = json.loads(r.frames[0])
    assert out == {
        "data": [],
        "torch": "torch is not available when grading: deepkit is a NumPy library",
        "digits": "FileNotFoundError",
    }, r.log_tail


def test_wall_clock_kills_detached_children(tmp_path):
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n    os.setsid()\n    open('/tmp/x','w')\n    time.sleep(1000)\n"
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n"
    )
    t0 = time.monotonic()
    r = _jail([sys.executable, "-I", "-c", code], tmp_path, wall=2.0, cpu=60.0)  # the wall clock, not RLIMIT_CPU
    assert r.timed_out and r.ended == "wall" and time.monotonic() - t0 < 15


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
    assert r.overflow and r.ended == "overflow" and not r.frames


def test_student_cannot_fake_the_launchers_verdicts(tmp_path):
    """Exit codes 120-127 are the launcher's (refused, setup failed, wall clock): a student's are clamped, and
    text printed to look like the launcher's first line is not believed."""
    fake = f"import os, sys\nsys.stderr.write('{jail.MODE_LINE}none\\n{jail.NO_ISOLATION_WARNING}\\n')\n"
    for code in (jail.RC_NO_ISOLATION, jail.RC_SETUP, jail.RC_WALL):
        r = _jail([sys.executable, "-I", "-c", fake + f"os._exit({code})"], tmp_path, wall=20)
        assert r.returncode == 100 and not r.timed_out and r.ended == ""
        assert r.isolated == _userns_available()


def test_setup_failure_is_an_infrastructure_error(tmp_path):
    with pytest.raises(jail.SandboxError, match="setup failed"):
        _jail([sys.executable, "-I", "-c", "pass"], tmp_path, binds={"/box/sub": str(tmp_path / "not-there")})
    with pytest.raises(jail.SandboxError, match="exec failed"):
        _jail(["/nonexistent/python"], tmp_path)


def test_uid_leases_are_unique_across_grading_processes(tmp_path):
    """Two `autograde` processes on one machine (and threads in one) never share a sandbox uid."""
    code = (
        "import sys, time\nfrom autograder.sandbox import jail\n"
        "with jail.lease_uids(4) as uids:\n    print(*uids, flush=True)\n    time.sleep(3)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = lambda: subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)  # noqa: E731
    procs = [start() for _ in range(3)]
    with jail.lease_uids(2) as mine:
        got = [set(map(int, p.stdout.readline().split())) for p in procs]
    for p in procs:
        p.wait(timeout=30)
    everyone = [set(mine), *got]
    assert all(len(s) in (2, 4) for s in everyone)
    assert len(set().union(*everyone)) == sum(len(s) for s in everyone), everyone
    with jail.lease_uids(1) as (again,):  # released when their holders finished
        assert again == jail.UID_BASE or again in set().union(*everyone)


def test_zygote_style_relay_hides_the_result_fifo(tmp_path):
    """In-process use (the notebook zygote): the result descriptor the parent opened (a FIFO on the host) is
    relayed, so inside it is an anonymous pipe and its host path is not visible."""
    fifo = tmp_path / "staging-secret-name.fifo"
    os.mkfifo(fifo)
    code = textwrap.dedent(
        f"""
        import json, os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from autograder.sandbox import jail
        fd = os.open({str(fifo)!r}, os.O_WRONLY)
        with jail.lease_uids(1) as (uid,):
            cfg = jail.launcher_config(jail.Jail(argv=[], binds={{}}, wall=30, cpu=30, memory=1 << 31, nproc=16,
                                                  fsize=1 << 20, scratch=1 << 20, uid=uid))
            cfg["close_in_launcher"] = [fd]
            rc = jail.enter(cfg)
        if rc is None:
            msg = json.dumps({{"link": os.readlink(f"/proc/self/fd/{{fd}}"), "uid": os.getuid()}}).encode()
            os.write(fd, len(msg).to_bytes(8, "little") + msg)
            os._exit(0)
        os._exit(rc)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    with open(fifo, "rb") as f:
        data = f.read()
    proc.wait(timeout=30)
    seen = json.loads(jail.parse_frames(data)[0])
    assert seen["link"].startswith("pipe:") and "staging-secret" not in seen["link"]
    assert seen["uid"] != 0


def test_fallback_without_namespaces_still_applies_limits(shared_tmp):
    """--no-isolation on a machine without namespaces: a warning, limits only (as an unprivileged user)."""
    if not can_simulate():
        pytest.skip("needs root to simulate a machine without user namespaces")
    box = shared_tmp
    code = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from autograder.sandbox import jail
        j = jail.Jail(argv=[sys.executable, "-I", "-c",
                            "import os\\nfd = int(os.environ['AUTOGRADER_FD'])\\n"
                            "os.write(fd, (2).to_bytes(8, 'little') + b'ok')\\nwhile True:\\n    pass\\n"],
                      binds={{}}, wall=3.0, cpu=60.0, memory=1 << 31, nproc=32, fsize=1 << 20, scratch=1 << 20,
                      isolation="none", log=Path({str(box / "log")!r}))
        r = jail.run(j)
        print(r.frames == [b"ok"], r.timed_out, r.isolated, repr(r.isolation))
        """
    )
    done = run_unprivileged(code, userns=False)
    assert done.stdout.split() == ["True", "True", "False", "''"], done.stderr
    assert jail.NO_ISOLATION_WARNING in (box / "log").read_text()


# ------------------------------------------------------------------------------- the rootless path, for real
@pytest.fixture
def shared_tmp():
    """A temporary folder the unprivileged user can use (pytest's own is private to root)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="autograder-unprivileged-"))
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _make_reference_submission(work: Path, student: str, assignments: list[str]) -> None:
    from autograder.course import Course

    course = Course(root=ROOT, work=work)
    for a in assignments:
        lib = course.submitted / student / a / "lib" / "deepkit"
        lib.mkdir(parents=True)
        for m in course.student_modules:
            shutil.copy(REF_LIB / "deepkit" / f"{m}.py", lib / f"{m}.py")
        shutil.copy(course.path(course.find(a).exercise_notebook), lib.parent.parent / f"{a}.ipynb")
    for p in [work, *work.rglob("*")]:
        os.chmod(p, 0o777 if p.is_dir() else 0o666)


ROOTLESS_PROBE = r"""
import json, os, socket, time
fd = int(os.environ["AUTOGRADER_FD"])
res = {"pid": os.getpid(), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}
try:
    open('SECRET').read(); res["secret"] = True
except OSError:
    res["secret"] = False
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2); res["net"] = True
except OSError:
    res["net"] = False
res["links"] = sorted(ln.split(":")[0].strip() for ln in open("/proc/net/dev").readlines()[2:])
res["caps"] = [ln.split()[1] for ln in open("/proc/self/status") if ln.startswith("CapEff")]
kids = 0
try:
    for _ in range(40):
        if os.fork() == 0:
            time.sleep(5); os._exit(0)
        kids += 1
except OSError:
    pass
res["forks"] = kids
data = json.dumps(res).encode()
os.write(fd, len(data).to_bytes(8, "little") + data)
"""


@pytest.mark.slow
def test_rootless_sandbox_for_real_isolation_and_full_marks(shared_tmp):
    """An unprivileged user (uid 65534, no capabilities) builds the same sandbox with a user namespace: mount,
    PID and network isolation hold, processes are limited per sandbox, and the reference library scores full
    marks on every topic (the notebook of topic 01 runs too)."""
    if os.geteuid() == 0 and not can_simulate():
        pytest.skip("needs root to simulate an unprivileged user")
    shared = shared_tmp
    secret = shared / "readable-by-nobody-outside.txt"
    secret.write_text("the host's file")
    os.chmod(secret, 0o644)
    work = shared / "work"
    from autograder.course import Course

    assignments = Course().assignments()
    _make_reference_submission(work, "rootless", assignments)
    code = textwrap.dedent(
        f"""
        import json, os, sys, time
        from pathlib import Path
        from autograder.sandbox import jail
        from autograder.course import Course, Limits
        from autograder.grade import grade_one

        assert os.geteuid() != 0
        sleepers = []
        for _ in range(20):  # this user's processes outside the sandbox do not count against its limit
            pid = os.fork()
            if pid == 0:
                time.sleep(120)
                os._exit(0)
            sleepers.append(pid)
        probe = {ROOTLESS_PROBE!r}.replace('SECRET', {str(secret)!r})
        r = jail.run(jail.Jail(argv=[sys.executable, "-I", "-c", probe], binds={{}}, wall=60, cpu=30,
                               memory=1 << 31, nproc=16, fsize=1 << 20, scratch=1 << 20))
        print("SANDBOX", r.isolation, r.frames[0].decode() if r.frames else r.log_tail)
        for pid in sleepers:
            os.kill(pid, 9)
        course = Course(root=Path({str(ROOT)!r}), work=Path({str(work)!r}))
        for a in {assignments!r}:
            out, _, lib, nb = grade_one(course, "rootless", a, Limits(lib_wall=240), notebook=a.startswith("01"))
            lost = [f"{{c.name}}: {{c.reason}}" for c in out.cells.values()
                    if c.kind == "library" and c.points != c.max_points]
            print("GRADE", a, lib.isolated, nb.status if nb else "-", json.dumps(lost))
        """
    )
    done = run_unprivileged(code, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    sandbox = next(ln for ln in lines if ln.startswith("SANDBOX")).split(" ", 2)
    assert sandbox[1] == "userns", lines
    res = json.loads(sandbox[2])
    assert res["pid"] == 1 and res["pids"] == [1] and res["secret"] is False and res["net"] is False
    assert res["links"] == ["lo"] and res["caps"] == ["0000000000000000"]
    assert 5 <= res["forks"] < 16, res  # RLIMIT_NPROC counts this sandbox only (20 sleepers outside)
    grades = [ln.split(" ", 4) for ln in lines if ln.startswith("GRADE")]
    assert [g[1] for g in grades] == assignments
    for _, a, isolated, nb_status, lost in grades:
        assert isolated == "True" and json.loads(lost) == [], (a, lost)
        if a.startswith("01"):
            assert nb_status == "ok", nb_status


@pytest.mark.slow
def test_without_user_namespaces_grading_refuses_and_check_says_so(shared_tmp):
    """Where unprivileged user namespaces are off: `check` says the sandbox is not isolated (and still checks,
    with limits), `autograde` refuses, and `autograde --no-isolation` grades with a clear warning."""
    if not can_simulate():
        pytest.skip("needs root to take user namespaces away")
    work = shared_tmp / "work"
    _make_reference_submission(work, "carol", ["01_softmax"])
    code = textwrap.dedent(
        f"""
        import sys
        from autograder.cli import main
        print("RC", main(["check", "01"]))
        print("RC", main(["--work", {str(work)!r}, "autograde", "--all", "--library-only"]))
        print("RC", main(["--work", {str(work)!r}, "autograde", "--all", "--library-only", "--no-isolation"]))
        """
    )
    done = run_unprivileged(code, userns=False, timeout=600)
    out, err = done.stdout, done.stderr
    assert [ln for ln in out.splitlines() if ln.startswith("RC")] == ["RC 1", "RC 2", "RC 0"], out + err
    assert "sandbox: NOT isolated here" in out and "affine_forward" in out  # check: said so, and checked
    assert "refusing to grade without isolation" in err
    assert "WARNING: --no-isolation" in err and "WITHOUT network/file isolation" in err
    from autograder.course import Course

    library = Course().topic("01").total_points  # the written answer is missing: 0
    assert f"01_softmax carol: {library:g}/" in out and "WITHOUT namespaces" in out
