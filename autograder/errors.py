"""Failures of the grading machinery itself, as opposed to a student's mistake."""


class InfrastructureError(RuntimeError):
    """The grading machinery failed: the sandbox could not start (an exec or mount failed, the interpreter is not
    where the sandbox looks), nbgrader could not open its database, the reference no longer scores full marks.
    Never reported as a student's mistake: the command stops before writing grades and exits non-zero."""
