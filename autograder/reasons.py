"""What a reason may say about a failure inside the sandbox: only what the trusted side wrote or can check.

A student's code can put anything into an exception (its message, its class name, a function name made at
run time): hidden inputs spelled as words, the probe's source, paths, the sandbox's ``/etc``. So nothing a
student's process says is copied into a reason as text. The sandbox sends failures as data
(``sandbox/probe_runner.py``: type, frames, the message of a builtin exception) and this module writes the
reason from it, keeping only what it can check here:

* the exception type: a builtin (or numpy) exception name; a class of the student's own is named by the builtin
  it derives from ("a ValueError subclass"), never by its own name;
* where: the innermost frame in one of the student's modules, as ``lib/deepkit/<module>.py, <function>,
  line <n>``, shown only when that function really is defined around that line in the staged file (so a
  forged frame cannot carry text); frames in the course's given modules (``validate.py``...) are skipped in
  favour of the student's caller;
* the message, only when it matches an allow-listed shape: a ``ValueError``/``TypeError``/... message written in
  the course's own library source (``deepkit.validate``: ``x must be a 2-D array of shape (N, D), got shape
  (3,)``) or a common Python/NumPy message (``too many values to unpack (expected 2)``, ``operands could not
  be broadcast together with shapes ...``), and every word filling its blanks is an identifier of the course's
  library or probes; numbers longer than 4 digits and all decimals become ``<num>``;
* a wrong return structure, when the failure happened in the probe unpacking what a student's function
  returned: the probe's own source says how many values the function must return and what they are called;
* a ``SyntaxError`` is recompiled here from the staged file: its line and the compiler's message.

The format (topic engineers rely on it; autograder/README.md shows it):
``NameError in lib/deepkit/norm.py, batchnorm_backward, line 42``,
``ValueError in lib/deepkit/layers.py, affine_forward, line 30: x must be a 2-D array of shape (N, D), got shape
(3,)``, ``affine_backward (lib/deepkit/layers.py) must return 3 values (dx, dw, db); what it returned could not
be unpacked that way (ValueError: not enough values to unpack (expected 3, got 2))``.
What remains is a narrow channel (which line failed, pass or fail): a few bits per case, no text.
"""

from __future__ import annotations

import ast
import re
import threading
from functools import lru_cache
from pathlib import Path

from autograder.compare import KIND_NAMES
from autograder.course import Course

MODULE_FILE = re.compile(r"lib/deepkit/([a-z_][a-z0-9_]*)\.py")
MESSAGE_TYPES = {
    "ValueError",
    "TypeError",
    "IndexError",
    "KeyError",
    "AttributeError",
    "NameError",
    "UnboundLocalError",
    "ZeroDivisionError",
    "OverflowError",
    "FloatingPointError",
    "RecursionError",
    "ModuleNotFoundError",
    "numpy.linalg.LinAlgError",
    "numpy.exceptions.AxisError",
}
# Common messages of Python and NumPy; {} is a blank (checked word by word against the vocabulary).
BUILTIN_MESSAGES = (
    "too many values to unpack (expected {})",
    "not enough values to unpack (expected {}, got {})",
    "cannot unpack non-iterable {} object",
    "operands could not be broadcast together with shapes {}",
    "operands could not be broadcast together with remapped shapes {}",
    "shapes {} and {} not aligned: {} (dim {}) != {} (dim {})",
    "matmul: Input operand {} has a mismatch in its core dimension {}, with gufunc signature {} (size {} is "
    "different from {})",
    "index {} is out of bounds for axis {} with size {}",
    "axis {} is out of bounds for array of dimension {}",
    "cannot reshape array of size {} into shape {}",
    "list index out of range",
    "tuple index out of range",
    "string index out of range",
    "'{}' object is not subscriptable",
    "'{}' object is not callable",
    "'{}' object is not iterable",
    "'{}' object has no attribute '{}'",
    "module '{}' has no attribute '{}'",
    "'{}' object does not support item assignment",
    "unsupported operand type(s) for {}: '{}' and '{}'",
    "bad operand type for unary {}: '{}'",
    "{}() missing {} required positional argument: '{}'",
    "{}() missing {} required positional arguments: {}",
    "{}() takes {} positional arguments but {} were given",
    "{}() takes {} positional argument but {} were given",
    "{}() got an unexpected keyword argument '{}'",
    "{}() got multiple values for argument '{}'",
    "name '{}' is not defined",
    "cannot access local variable '{}' where it is not associated with a value",
    "local variable '{}' referenced before assignment",
    "division by zero",
    "float division by zero",
    "integer division or modulo by zero",
    "math domain error",
    "math range error",
    "maximum recursion depth exceeded",
    "maximum recursion depth exceeded while calling a Python object",
    "Singular matrix",
    "No module named '{}'",
)
MAX_BLANK, MAX_WORDS, MAX_NUMBERS = 60, 6, 8  # what one blank may hold: a name, a shape, a dtype
MAX_MESSAGE_WORDS = 10  # words in all blanks of a message together
BASE_WORDS = (
    "int float str bool list tuple dict set frozenset bytes NoneType None True False object function method "
    "module builtin_function_or_method generator ndarray numpy float64 float32 float16 int64 int32 int8 uint8 "
    "bool_ complex128 dtype inf nan shape axis dim size array and or of with"
).split()
# a blank must not spell numbers out (how hidden inputs leaked as words)
NUMBER_WORDS = set(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million "
    "billion point minus plus dot comma half quarter".split()
)
TOKEN = re.compile(  # what blanks are made of: course words, numbers, punctuation
    r"(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<space>\s+)|(?P<punct>[()\[\]{},.:;'\"=<>+\-*/|&!?%^~@#>])"
)
REFUSED = re.compile(r"(\w+) is not available when grading: deepkit is a NumPy library")  # the masks' stub
TOKEN_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TYPE_WORDS = {
    "numpy.linalg.LinAlgError": "numpy.linalg.LinAlgError",
    "numpy.exceptions.AxisError": "numpy AxisError",
}


# --------------------------------------------------------------------------------- what the course says
def _library_files(course: Course) -> list[Path]:
    """The course's own library source as students get it (release stubs and given modules)."""
    files = [course.given_source(rel) for rel in course.given_files]
    for m in course.student_modules:
        p = course.stub_lib / "deepkit" / f"{m}.py"
        files.append(p if p.is_file() else course.ref_lib / "deepkit" / f"{m}.py")
    return [p for p in files if p.is_file()]


def _words(source: str) -> set[str]:
    """The words a trusted source gives names to: functions, classes, parameters, and the words of its short
    string constants ('train', 'W1', "(N, D)", the literal parts of its messages); never docstrings or
    comments, so the vocabulary stays small."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if len(node.value) <= 60:
                out.update(TOKEN_WORD.findall(node.value))
    return out


def _message_pieces(node: ast.expr) -> tuple[str, ...] | None:
    """A raise's message (a literal or f-string) as its literal pieces; a blank between each two."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return (node.value,)
    if not isinstance(node, ast.JoinedStr):
        return None
    pieces, current, blank = [], "", False
    for v in node.values:
        if isinstance(v, ast.Constant) and isinstance(v.value, str):
            current += v.value
            blank = False
        elif not blank:  # adjacent blanks are one blank
            pieces.append(current)
            current, blank = "", True
    pieces.append(current)
    return tuple(pieces) if any(pieces) else None


def _raised_messages(source: str) -> set[tuple[str, ...]]:
    """The messages of every ``raise SomethingError(...)`` in a trusted source."""
    out = set()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return out
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            name = node.exc.func.id if isinstance(node.exc.func, ast.Name) else ""
            pieces = _message_pieces(node.exc.args[0]) if name.endswith("Error") else None
            if pieces:
                out.add(pieces)
    return out


class CourseText:
    """The allow-list of one course tree: the words blanks may hold and the message shapes."""

    def __init__(self, course: Course):
        sources = [p.read_text(encoding="utf-8") for p in _library_files(course)]
        for t in course.topics:
            p = course.path(t.probes)
            if p.is_file():
                sources.append(p.read_text(encoding="utf-8"))
        import numpy as np

        words = set(BASE_WORDS) | {n for n in dir(np.ndarray) if not n.startswith("_")}
        templates = {tuple(m.split("{}")) for m in BUILTIN_MESSAGES}
        for src in sources:
            words |= _words(src)
            templates |= _raised_messages(src)
        self.words = frozenset(w for w in words if w.lower() not in NUMBER_WORDS)
        # most literal text first: the most specific shape wins
        self.templates = sorted(templates, key=lambda t: (-sum(map(len, t)), t))


_TEXT_LOCK = threading.Lock()
_TEXT: dict[str, CourseText] = {}


def course_text(course: Course) -> CourseText:
    with _TEXT_LOCK:
        key = str(course.root)
        if key not in _TEXT:
            _TEXT[key] = CourseText(course)
        return _TEXT[key]


# ----------------------------------------------------------------------------------- what a blank may hold
def _fragment(blank: str, words: frozenset) -> str | None:
    """The blank with long numbers masked, or None unless it is short and made of at most a couple of course
    words, a few numbers and punctuation (a name, a shape, a dtype: nothing that can spell text out)."""
    if len(blank) > MAX_BLANK:
        return None
    out, pos, n_words, n_numbers = [], 0, 0, 0
    for m in TOKEN.finditer(blank):
        if m.start() != pos:
            return None
        pos = m.end()
        if m.group("word"):
            n_words += 1
            if m.group("word") not in words or n_words > MAX_WORDS:
                return None
            out.append(m.group("word"))
        elif m.group("num"):
            n_numbers += 1
            if n_numbers > MAX_NUMBERS:
                return None
            num = m.group("num")
            digits = num.lstrip("+-")
            out.append(num if digits.isdigit() and len(digits) <= 4 else "<num>")
        else:
            out.append(m.group(0))
    return "".join(out) if pos == len(blank) else None


def _blanks(template: tuple[str, ...], message: str) -> list[str] | None:
    """The blanks of ``message`` read with ``template``, each ending at the first place the next literal
    piece occurs (linear time: a crafted message cannot make the trusted side backtrack); None if no fit."""
    if not message.startswith(template[0]):
        return None
    if len(template) == 1:
        return [] if message == template[0] else None
    pos, blanks = len(template[0]), []
    for i, lit in enumerate(template[1:], start=1):
        if i == len(template) - 1:  # the last piece ends the message
            end = len(message) - len(lit)
            if end < pos or not message.endswith(lit):
                return None
            blanks.append(message[pos:end])
            return blanks
        j = message.find(lit, pos) if lit else -1
        if j < 0:
            return None
        blanks.append(message[pos:j])
        pos = j + len(lit)
    return None


def allowed_message(message: str, text: CourseText) -> str:
    """``message`` (numbers masked) if it has an allow-listed shape whose blanks pass ``_fragment``, else ''."""
    message = str(message)[:400]
    if not message or not message.isprintable():
        return ""
    for template in text.templates:
        blanks = _blanks(template, message)
        if blanks is None:
            continue
        checked = [_fragment(b, text.words) for b in blanks]
        if any(c is None for c in checked) or sum(len(TOKEN_WORD.findall(b)) for b in blanks) > MAX_MESSAGE_WORDS:
            continue
        out = template[0] + "".join(c + lit for c, lit in zip(checked, template[1:], strict=True))
        return " ".join(out.split())[:200]
    return ""


def key_error(message: str, text: CourseText) -> str:
    """A KeyError's message is its key: shown when it is one course word or a short number."""
    m = re.fullmatch(r"'([A-Za-z_][A-Za-z0-9_]*)'|(-?\d{1,4})", str(message))
    if m and (m.group(2) or m.group(1) in text.words):
        return m.group(0)
    return ""


# --------------------------------------------------------------------------------- the student's own files
@lru_cache(maxsize=256)
def _spans(path: str, mtime: float) -> tuple[int, dict[str, list[tuple[int, int]]]] | None:
    """(line count, name -> [(first, last line)]) of a staged module: functions, classes, lambdas, comprehensions."""
    try:
        source = Path(path).read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    kinds = {
        ast.Lambda: "<lambda>",
        ast.ListComp: "<listcomp>",
        ast.SetComp: "<setcomp>",
        ast.DictComp: "<dictcomp>",
        ast.GeneratorExp: "<genexpr>",
    }
    spans: dict[str, list[tuple[int, int]]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = node.name
        else:
            name = kinds.get(type(node))
        if name:
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            spans.setdefault(name, []).append((first, node.end_lineno or node.lineno))
    return len(source.splitlines()), spans


class Context:
    """Everything a reason for one submission of one topic may be checked against."""

    def __init__(self, course: Course, probe_source: str, sub_dir: Path, forbidden: tuple[str, ...] = ()):
        self.text = course_text(course)
        self.forbidden_names = set(forbidden)
        self.sub_dir = Path(sub_dir)
        self.student_modules = set(course.student_modules)
        self.probe_source = probe_source

    # -- locations
    def module_path(self, rel: str) -> Path | None:
        m = MODULE_FILE.fullmatch(str(rel))
        if not m or m.group(1) not in self.student_modules:
            return None
        p = self.sub_dir / "lib" / "deepkit" / f"{m.group(1)}.py"
        return p if p.is_file() else None

    def location(self, frames) -> str:
        """``lib/deepkit/m.py, f, line n`` for the innermost checkable frame of a student's module."""
        for fr in reversed(frames if isinstance(frames, list) else []):
            if not (isinstance(fr, list) and len(fr) == 3):
                continue
            rel, func, line = fr
            path = self.module_path(rel)
            if path is None:
                continue
            spans = _spans(str(path), path.stat().st_mtime)
            if not isinstance(line, int) or spans is None or not 0 < line <= spans[0]:
                return str(rel)
            if func == "<module>":
                return f"{rel}, line {line}"
            if any(a <= line <= b for a, b in spans[1].get(str(func), [])):
                return f"{rel}, {func}, line {line}"
            return f"{rel}, line {line}"
        return ""

    # -- the reason for one failure
    def exception(self, err: dict) -> str:
        """The reason for an exception report from the sandbox (see the module docstring)."""
        kind = str(err.get("type", ""))
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]{0,60}", kind):
            kind = "BaseException"
        name = TYPE_WORDS.get(kind, kind)
        subclass = bool(err.get("subclass"))
        frames = err.get("frames") if isinstance(err.get("frames"), list) else []
        message = ""
        if not subclass and kind == "KeyError":
            message = key_error(err.get("message", ""), self.text)
        elif not subclass and kind in MESSAGE_TYPES:
            message = allowed_message(err.get("message", ""), self.text)
        if kind in ("SyntaxError", "IndentationError", "TabError") and not subclass:
            return self.syntax_error(kind, err, frames)
        refused = REFUSED.fullmatch(str(err.get("message")))
        if kind in ("ImportError", "ModuleNotFoundError") and refused and refused.group(1) in self.forbidden_names:
            where = self.location(frames)  # the hidden package's stub said so (the import finder was removed)
            return self.forbidden(refused.group(1), where.split(",")[0])
        shown = f"{'an' if name[:1] in 'AEIOU' else 'a'} {name} subclass" if subclass else name
        if frames and isinstance(frames[-1], list) and frames[-1][:1] == ["probes.py"]:
            contract = self.contract(frames[-1], shown, message)
            if contract:
                return contract
        where = self.location(frames)
        if kind == "NotImplementedError" and not subclass:
            return f"not implemented yet (NotImplementedError{' in ' + where if where else ''})"
        if kind == "RecursionError":
            message = "maximum recursion depth exceeded"
        return f"{shown}{' in ' + where if where else ''}{': ' + message if message else ''}"

    def syntax_error(self, kind: str, err: dict, frames: list) -> str:
        """Recompile the staged file here: the compiler's own message and line (static file content)."""
        syntax = err.get("syntax") if isinstance(err.get("syntax"), list) else [None, 0]
        rel = syntax[0] if syntax else None
        path = self.module_path(rel) if rel else None
        if path is not None:
            try:
                compile(path.read_bytes(), str(rel), "exec", dont_inherit=True)
            except SyntaxError as exc:
                msg = "".join(ch for ch in str(exc.msg) if ch.isprintable())[:100]
                return f"{type(exc).__name__} in {rel}, line {exc.lineno}: {msg}"
            except (ValueError, RecursionError, MemoryError):
                return f"{kind} in {rel}"
        where = self.location(frames)
        return f"{kind}{' in ' + where if where else ''} (raised while running, not in the file itself)"

    def contract(self, frame: list, shown: str, message: str) -> str:
        """A failure in the probe right after a student's function returned: say what it must return."""
        line = frame[2] if isinstance(frame[2], int) else 0
        stmt, calls = _probe_line(self.probe_source, line)
        if not calls:
            return ""
        mod, func = calls[-1]
        who = f"{func} (lib/deepkit/{mod}.py)"
        if isinstance(getattr(stmt, "value", None), ast.Call) and _dk_call(stmt.value) and message:
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
            if isinstance(target, (ast.Tuple, ast.List)) and "unpack" in message:
                names = [e.id for e in target.elts if isinstance(e, ast.Name) and e.id != "_"]
                listed = f" ({', '.join(names)}, ...)" if names and len(names) < len(target.elts) else ""
                listed = f" ({', '.join(names)})" if len(names) == len(target.elts) else listed
                got = "it returned None (a missing return?)" if "NoneType" in message else "what it returned"
                if "NoneType" not in message:
                    got += " could not be unpacked that way"
                return f"{who} must return {len(target.elts)} values{listed}; {got} ({shown}: {message})"
        return f"{shown} while the checks used what {who} returned{': ' + message if message else ''}"

    def forbidden(self, library: str, where: str) -> str:
        lib = library if library in self.forbidden_names else "an autodiff library"
        path = where if self.module_path(where) else "your code"
        return (
            f"{path} imports {lib}, an autodiff library: deepkit is a NumPy library, so {lib} is not available "
            "when grading (the parts that use this code score 0)"
        )

    def output(self, err: dict, expected: dict) -> str:
        """A bad output caught in the sandbox before it was sent: name the output and what was expected."""
        key = str(err.get("key", ""))
        known = key in expected
        shape = tuple(expected[key].shape) if known else None
        out = f"output {key!r}" if known else "the outputs"
        why = err.get("why")
        if why == "size" and known:
            got = err.get("shape") if isinstance(err.get("shape"), list) else []
            got = tuple(int(d) if isinstance(d, int) and 0 <= d < 10**6 else -1 for d in got[:8])
            return f"{out}: far too large (shape {got}), expected shape {shape}"
        if why == "dtype":
            what = KIND_NAMES.get(str(err.get("dtype_kind")), "another type")
            return f"{out}: expected real numbers, got an array of {what}"
        if why == "type":
            return f"{out}: expected an array of numbers (shape {shape}), got another kind of object"
        return f"{out}: not a dictionary of arrays"


def _dk_call(node: ast.AST) -> tuple[str, str] | None:
    """``("layers", "affine_forward")`` for a call ``dk.layers.affine_forward(...)``."""
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Attribute) and isinstance(f.value.value, ast.Name):
            if f.value.value.id == "dk":
                return f.value.attr, f.attr
    return None


@lru_cache(maxsize=64)
def _probe_tree(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def _probe_line(source: str, line: int) -> tuple[ast.stmt | None, list[tuple[str, str]]]:
    """The innermost statement of the probe file at ``line`` and the deepkit calls in it."""
    tree = _probe_tree(source)
    if tree is None or line <= 0:
        return None, []
    best = None
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            if node.lineno <= line <= (node.end_lineno or node.lineno):
                if best is None or node.lineno >= best.lineno:
                    best = node
    if best is None:
        return None, []
    calls = [c for c in (_dk_call(n) for n in ast.walk(best)) if c]
    return best, calls
