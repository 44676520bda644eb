"""The course's trusted grading side: intake, sandboxed library checks, nbgrader glue, feedback, export.

Submissions are graded in threads, and several steps parse Python source (``libgrade``'s probe and import
analysis, ``reasons``' word lists). CPython 3.11 keeps the AST builder's recursion counter per interpreter, not per
thread, so two parses at once can fail with ``SystemError: AST constructor recursion depth mismatch`` (seen here
under ``--jobs 2``: a reference submission scored 0 with an internal error). Importing this package makes
``ast.parse`` take one lock, for every caller.
"""

import ast as _ast
import threading as _threading

if not getattr(_ast.parse, "_one_at_a_time", False):
    _PARSE, _LOCK = _ast.parse, _threading.Lock()

    def _parse_one_at_a_time(*args, **kwargs):
        with _LOCK:
            return _PARSE(*args, **kwargs)

    _parse_one_at_a_time._one_at_a_time = True
    _parse_one_at_a_time.__doc__ = _PARSE.__doc__
    _ast.parse = _parse_one_at_a_time
