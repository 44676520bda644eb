"""A pre-loaded fork server for notebook sandboxes (trusted; runs as the grader's user, outside any sandbox).

Importing nbgrader costs seconds per process; plain ``nbgrader autograde`` pays it once per class, a fresh
sandbox per submission would pay it per submission. The zygote imports nbgrader once, then for each job line
on stdin forks a launcher that enters a NEW sandbox (``jail.enter``: namespaces, new root, limits, unprivileged
uid) and runs ``_nb_runner.run`` there in-process. Isolation is the same as the exec path: the forked child
builds its own namespaces and root before any student code exists. Protocol: one JSON job per stdin line
(``cfg`` as for jail.py, ``fifo`` result path, ``log`` path, ``assignment``); one line back with the
launcher's pid (its process group, for the parent to kill on overrun).
"""

import json
import os
import sys


def serve() -> None:
    import jupyter_client.manager  # noqa: F401
    import nbclient  # noqa: F401
    import nbformat  # noqa: F401
    import nbgrader.converters  # noqa: F401 - the expensive imports, done once
    import nbgrader.coursedir  # noqa: F401

    from autograder.sandbox import jail, nb_runner

    for name in nb_runner.PRELOADED:  # for the pre-forked kernel (nb_runner.KernelSeed)
        __import__(name)

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        try:
            job = json.loads(line)
        except ValueError:
            continue
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                logfd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(logfd, 1)
                os.dup2(logfd, 2)
                os.close(logfd)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                fd = os.open(job["fifo"], os.O_WRONLY)
                cfg = job["cfg"]
                cfg["close_in_launcher"] = [fd]
                rc = jail.enter(cfg)
                if rc is None:  # the sandboxed process
                    os.environ.clear()
                    os.environ.update(cfg["env"])
                    try:
                        nb_runner.run(fd, job["assignment"])
                    finally:
                        os._exit(0)
                os._exit(rc)
            except BaseException as exc:  # noqa: BLE001
                try:
                    os.write(2, f"zygote job failed: {exc!r}\n".encode())
                finally:
                    os._exit(121)
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()
        while True:  # reap finished launchers
            try:
                done, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not done:
                break


if __name__ == "__main__":
    serve()
