"""The hostile-submission corpus: each module builds one attack on top of a correct submission.

A case module defines ``build(sub: Path)`` (``sub`` is a submission folder already holding the release
notebook and the reference-equivalent ``lib/deepkit`` that the test builds at run time; no reference code is
committed here), ``EXPECT`` and ``NOTEBOOK`` (True: the notebook is also executed in the sandbox, as with
``--run-notebook``; False: the library only, so the test removes a readable notebook before grading).
Optional: ``ASSIGNMENT`` (default ``01_softmax``), the topic the attack is built on.

``EXPECT`` = {"full": parts that keep full marks, "zero": parts that must score 0, "reason": {part: substring
of its reason}, optional "notebook": the run's status, "notebook_output" / "notebook_absent": texts the
formgrader's notebook must show / must not show, "no_process": a marker that no process on the host may carry
in its command line afterwards, "max_seconds": bound on the submission's grading time (default 150),
"not_in_reasons": [text that must not appear in any reason or note]}.
tests/test_autograder.py grades every case in ONE batch together with honest submissions, checks each outcome
and that the honest submissions get exactly the grades they get alone.
"""

from pathlib import Path

CASES = sorted(p.stem for p in Path(__file__).parent.glob("h_*.py"))
LAYERS = ["affine_forward", "affine_backward", "relu_forward", "relu_backward"]
LOSSES = ["softmax", "log_softmax", "cross_entropy", "softmax_loss"]
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# how an attack got hidden numbers past a filter of digits: 0.7435 -> "zero point seven four three five"
SPELL = """
def spell(x):
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    return " ".join(words[int(c)] if c.isdigit() else ("point" if c == "." else "minus") for c in f"{float(x):.4f}")
"""


def append(sub: Path, module: str, code: str) -> None:
    """Append code to the submission's lib/deepkit/<module>.py (later definitions override earlier ones)."""
    p = sub / "lib" / "deepkit" / f"{module}.py"
    p.write_text(p.read_text(encoding="utf-8") + "\n\n" + code.strip() + "\n", encoding="utf-8")


def spell(x: float) -> str:
    namespace: dict = {}
    exec(SPELL, namespace)
    return namespace["spell"](x)
