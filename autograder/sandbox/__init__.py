"""The trust boundary: everything that executes a student's code, and how it is fenced in.

Runs INSIDE the sandbox (untrusted once started; stdlib + numpy, never reads course secrets):

* ``probe_runner.py``: imports the student's ``deepkit`` from ``/box/sub/lib`` and calls the topic's probes on
  the seeded inputs (``/box/run/inputs.npz``), streaming each part's outputs back as npz frames.
* ``nb_runner.py`` (only when notebooks are executed: ``--run-notebook``): runs ``nbgrader autograde`` on the
  staged notebook in a private course under ``/tmp``; the kernel (a pre-forked copy of the runner) runs in the
  same sandbox.

Runs OUTSIDE, on the trusted side (as the grader):

* ``jail.py``: builds the sandbox (namespaces, a new root holding only the interpreter, the virtualenv and the
  submission's read-only staging copy, resource limits, an unprivileged uid, a wall clock) and reads results
  back from a pipe with a size cap.
* ``zygote.py``: a pre-loaded fork server that starts notebook sandboxes without re-importing nbgrader.

What crosses the boundary:

* in: read-only binds of the staging copy (``/box/sub``: the whitelisted notebook and deepkit modules), the run
  folder (``/box/run``: probe source, inputs as ``.npz``, the runner) or the notebook template (``/box/tpl``);
  the environment given by the parent; nothing else of the host's file system beyond system and Python paths;
* out: length-prefixed frames on one pipe (npz loaded with ``allow_pickle=False``, JSON, the autograded
  notebook), read with a size cap and parsed on the trusted side as untrusted data; the capped log file.

Scores, reasons and gradebook writes are made only on the trusted side (``autograder.libgrade``,
``autograder.nbrun``, ``autograder.grade``); nothing inside the sandbox can write them.
"""
