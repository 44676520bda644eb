"""The hostile-submission corpus: each module builds one attack on top of a correct topic-01 submission.

A case module defines ``build(sub: Path)`` (``sub`` is a submission folder already holding the release
notebook and the reference-equivalent ``lib/deepkit`` that the test builds at run time; no reference code is
committed here), ``EXPECT`` = {"full": parts that keep full marks, "zero": parts that must score 0,
"reason": {part: substring of its reason}, and optionally "notebook": the run's status, "notebook_output" /
"notebook_absent": texts the formgrader's notebook must show / must not show, "no_process": a marker that no
process on the host may carry in its command line afterwards} and ``NOTEBOOK`` (True: the notebook is also
executed in the sandbox, as with ``--run-notebook``).
tests/test_autograder.py grades every case in one batch and checks the outcome.
"""

from pathlib import Path

CASES = sorted(p.stem for p in Path(__file__).parent.glob("h_*.py"))
LAYERS = ["affine_forward", "affine_backward", "relu_forward", "relu_backward"]
LOSSES = ["softmax", "log_softmax", "cross_entropy", "softmax_loss"]


def append(sub: Path, module: str, code: str) -> None:
    """Append code to the submission's lib/deepkit/<module>.py (later definitions override earlier ones)."""
    p = sub / "lib" / "deepkit" / f"{module}.py"
    p.write_text(p.read_text(encoding="utf-8") + "\n\n" + code.strip() + "\n", encoding="utf-8")
