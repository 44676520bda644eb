"""The trust boundary: everything that executes a student's code, and how it is fenced in.

Runs INSIDE the sandbox (untrusted once started; stdlib + numpy, never reads course secrets):

* ``probe_runner.py``: a supervisor (PID 1, no student code) forks one process per part, which imports the
  student's ``deepkit`` from ``/box/sub/lib`` (autodiff libraries refused) and calls the topic's probe on the
  seeded inputs (``/box/run/inputs.npz``) under the part's CPU limit; the supervisor forwards each case's
  outputs as npz frames, keeps the submission's CPU and idle budgets and says how each part ended.
* ``nb_runner.py`` (only when notebooks are executed: ``--run-notebook``): runs ``nbgrader autograde`` on the
  staged notebook in a private course under ``/tmp``; the kernel (a pre-forked copy of the runner) runs in the
  same sandbox.

Runs OUTSIDE, on the trusted side (as the grader):

* ``jail.py``: builds the sandbox (namespaces, as root or in an unprivileged user namespace; a new root holding
  only the interpreter, the virtualenv, a generated ``/etc`` and read-only copies of what the parent gives;
  masks over data sets and autodiff libraries; resource limits; an unprivileged uid leased per sandbox; no
  capabilities; a wall-clock backstop) and reads results back from a pipe with a size cap.
* ``zygote.py``: a pre-loaded fork server that starts notebook sandboxes without re-importing nbgrader.

What crosses the boundary:

* in: read-only copies of the staging folder (``/box/sub``: the whitelisted notebook and deepkit modules), the
  run folder (``/box/run``: probe source, inputs as ``.npz``, the runner) or the notebook template
  (``/box/tpl``); the environment given by the parent; nothing else of the host's file system beyond system
  and Python paths (no host path of the course or the student is visible inside);
* out: length-prefixed frames on one pipe (npz loaded with ``allow_pickle=False``, JSON, the autograded
  notebook), read with a size cap and parsed on the trusted side as untrusted data; failures as structured data
  (``autograder/reasons.py`` decides what a reason may show); the capped log.

Scores, reasons and gradebook writes are made only on the trusted side (``autograder.libgrade``,
``autograder.nbrun``, ``autograder.grade``); nothing inside the sandbox can write them.
"""
