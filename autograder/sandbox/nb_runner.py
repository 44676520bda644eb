"""Runs INSIDE the notebook sandbox: build a private nbgrader course in /tmp (a copy of the assignment's
template gradebook, which holds no solutions and no other student), run nbgrader's Autograde converter there,
and send back the status and the autograded notebook. The kernel nbgrader starts does not inherit the result
pipe (jupyter_client closes inherited descriptors).

Used two ways: executed as a script in a fresh sandbox (``python runner.py <assignment>``), or called as
``run(fd, assignment)`` in a sandbox forked from the pre-loaded zygote (``autograder/sandbox/zygote.py``).

The kernel is pre-forked (``KernelSeed``): starting it the usual way (a new interpreter importing ipykernel,
IPython and numpy) costs about 2 s per notebook; a copy of this process, forked before nbgrader starts and
with those modules already imported (by the zygote), becomes the kernel instead. It is forked inside the
sandbox, so it is fenced in exactly like a kernel started the usual way."""

import json
import logging
import os
import shutil
import sys
import traceback

COURSE = "/tmp/course"
PRELOADED = ("ipykernel.kernelapp", "IPython", "numpy")  # what a kernel imports first (the zygote has them)


class _ForkedKernel:
    """The kernel process as ``subprocess.Popen`` exposes it to jupyter_client (it is our child)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid, self.returncode = pid, None

    def poll(self):
        if self.returncode is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout=None):
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(9)

    def terminate(self) -> None:
        self.send_signal(15)


class KernelSeed:
    """A copy of this process, forked now (ipykernel, IPython, numpy imported), that becomes nbgrader's first
    kernel: ``launch`` replaces jupyter_client's ``launch_kernel`` for that one start (a retry after a dead
    kernel starts a new interpreter as usual). The seed waits for the launch command on a pipe; unused, it
    exits when the pipe closes (``close``)."""

    def __init__(self, close_fds: tuple[int, ...] = ()) -> None:
        import importlib

        for name in PRELOADED:
            importlib.import_module(name)
        r, self._w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            # its own process group at once, as jupyter_client gives a kernel: the provisioner reads the group
            # right after the launch and signals it (interrupt, kill), which must never reach this runner
            os.setsid()
            os.close(self._w)
            for fd in close_fds:  # e.g. the result pipe: only this runner writes results
                os.close(fd)
            self._become_kernel(r)
        os.close(r)

    @staticmethod
    def _become_kernel(r: int) -> None:
        try:
            data = b""
            while chunk := os.read(r, 1 << 16):
                data += chunk
            if not data:
                os._exit(0)  # not needed
            req = json.loads(data)
            os.chdir(req["cwd"] or os.getcwd())
            os.environ.clear()
            os.environ.update(req["env"])
            sys.path.insert(0, os.getcwd())  # what `python -m` puts first
            sys.argv = ["ipykernel_launcher", *req["args"]]
            from ipykernel import kernelapp

            kernelapp.launch_new_instance()
        except BaseException:  # noqa: BLE001
            traceback.print_exc()
        finally:
            os._exit(0)

    def launch(self, cmd, stdin=None, stdout=None, stderr=None, env=None, independent=False, cwd=None, **kw):
        """jupyter_client's ``launch_kernel``: the seed for an ipykernel command, else the original."""
        if self._w is None or cmd[1:3] != ["-m", "ipykernel_launcher"]:
            return self._original(cmd, stdin, stdout, stderr, env=env, independent=independent, cwd=cwd, **kw)
        args = [*cmd[3:], f"--IPKernelApp.parent_handle={os.getpid()}"]
        req = {"args": args, "env": dict(env if env is not None else os.environ), "cwd": str(cwd) if cwd else None}
        os.write(self._w, json.dumps(req).encode())
        self.close()
        return _ForkedKernel(self.pid)

    def install(self) -> None:
        from jupyter_client.provisioning import local_provisioner

        self._original = local_provisioner.launch_kernel
        local_provisioner.launch_kernel = self.launch

    def close(self) -> None:
        if self._w is not None:
            os.close(self._w)
            self._w = None


def send(fd: int, payload: bytes) -> None:
    data = len(payload).to_bytes(8, "little") + payload
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def autograde(assignment: str) -> int:
    """nbgrader autograde of student 'student' in COURSE (config from COURSE/nbgrader_config.py)."""
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    cfg = Config()
    with open(os.path.join(COURSE, "nbgrader_config.py"), encoding="utf-8") as f:
        exec(compile(f.read(), "nbgrader_config.py", "exec"), {"get_config": lambda: cfg})
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    coursedir = CourseDirectory(config=cfg)
    coursedir.assignment_id = assignment
    coursedir.student_id = "student"
    app = Autograde(coursedir=coursedir, config=cfg)
    app.force = True
    try:
        app.start()
    except Exception:  # noqa: BLE001 - nbgrader's failure: reported through the status
        traceback.print_exc()
        return 1
    return 0


def run(fd: int, assignment: str) -> None:
    os.makedirs(os.path.join(COURSE, "source", assignment))
    shutil.copy("/box/tpl/gradebook.db", os.path.join(COURSE, "gradebook.db"))
    shutil.copy("/box/tpl/nbgrader_config.py", os.path.join(COURSE, "nbgrader_config.py"))
    sub = os.path.join(COURSE, "submitted", "student", assignment)
    os.makedirs(sub)
    shutil.copy(f"/box/sub/{assignment}.ipynb", sub)
    shutil.copytree("/box/sub/lib", os.path.join(COURSE, "lib"))  # found by the notebook's setup cell
    os.chdir(COURSE)
    log = os.open("/tmp/nbgrader.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 2)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    seed = KernelSeed(close_fds=(fd,))  # the kernel's stderr goes to the log, as a launched kernel's would
    seed.install()
    try:
        rc = autograde(assignment)
    finally:
        seed.close()
    sys.stderr.flush()
    with open("/tmp/nbgrader.log", "rb") as f:
        f.seek(max(0, os.path.getsize("/tmp/nbgrader.log") - 6000))
        tail = f.read().decode("utf-8", "replace")
    send(fd, json.dumps({"returncode": rc, "log": tail}).encode())
    out = os.path.join(COURSE, "autograded", "student", assignment, f"{assignment}.ipynb")
    if os.path.isfile(out):
        with open(out, "rb") as f:
            send(fd, f.read())


if __name__ == "__main__":
    try:
        run(int(os.environ.pop("AUTOGRADER_FD")), sys.argv[1])
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    finally:
        os._exit(0)
