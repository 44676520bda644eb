"""Which inputs a part is checked on: public cases and hidden cases (trusted side).

Both come from the part's own input generator (``Part.inputs(rng)``), ``Part.seeds`` draws each:

* **Public cases** are drawn from ``PUBLIC_SEED``, a documented constant (docs/STUDENTS.md).
  ``python -m autograder check NN`` runs them. The student edition ships the reference's outputs on them as data
  (``autograder/public/<slug>.npz``, written by ``write_public``; the inputs are drawn again from the generator and
  checked against stored digests), never the reference code.
* **Hidden cases** are drawn from a per-term secret that lives in the instructor's configuration, outside the
  repository (``term_secret``: the environment variable ``DEEPKIT_TERM_SECRET``, or the file named by
  ``DEEPKIT_TERM_SECRET_FILE``, or ``~/.config/deepkit/term-secret``). Grading uses them; without the secret it
  stops with ``MissingTermSecret`` saying how to create one. Nothing derived from the secret is written where a
  student can read it (the inputs reach only the sandbox; feedback never shows input values).

Every known behaviour is drawn in every case (each generator plants its hard inputs in each draw: a row of scores
near 1000, a zero at the ReLU kink, ...), so an implementation that passes the public cases of a correct one passes
the hidden ones too; ``tests/test_cases.py`` checks it for every topic.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.spec import Part, TopicChecks

PUBLIC_SEED = 20261123  # the public cases' seed: documented, the same for everyone, every term
SECRET_ENV = "DEEPKIT_TERM_SECRET"  # the secret itself (e.g. from a CI secret store)
SECRET_FILE_ENV = "DEEPKIT_TERM_SECRET_FILE"  # a file holding it
MIN_SECRET_LENGTH = 16


class MissingTermSecret(RuntimeError):
    """Grading needs the term secret and there is none (the message says how to make one)."""


def default_secret_file() -> Path:
    """``$XDG_CONFIG_HOME/deepkit/term-secret`` (``~/.config/deepkit/term-secret``)."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "deepkit" / "term-secret"


def secret_file() -> Path:
    return Path(os.environ.get(SECRET_FILE_ENV) or default_secret_file()).expanduser()


def term_secret(course_root: Path | None = None) -> str:
    """The term secret from the instructor's configuration: ``$DEEPKIT_TERM_SECRET``, else the file
    ``$DEEPKIT_TERM_SECRET_FILE`` or ``~/.config/deepkit/term-secret``. A file inside the course tree is refused
    (it would be committed or published with it)."""
    how = (
        f"set {SECRET_ENV}, or write it to {secret_file()} (or the file named by {SECRET_FILE_ENV}); "
        "`python -m autograder term-secret --init` creates a random one there. Keep it outside the repository "
        "and use the same secret for every grading run of the term."
    )
    value = os.environ.get(SECRET_ENV, "").strip()
    source = f"${SECRET_ENV}"
    if not value:
        path = secret_file()
        if course_root is not None and Path(course_root).resolve() in path.resolve().parents:
            raise MissingTermSecret(f"the term secret file {path} is inside the course tree: move it out; {how}")
        try:
            value = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise MissingTermSecret(f"grading needs the term secret (the seed of the hidden cases): {how}") from None
        except OSError as exc:
            raise MissingTermSecret(f"cannot read the term secret file {path} ({exc.strerror}): {how}") from None
        source = str(path)
    if len(value) < MIN_SECRET_LENGTH:
        raise MissingTermSecret(f"the term secret in {source} is shorter than {MIN_SECRET_LENGTH} characters: {how}")
    return value


def init_secret_file(path: Path | None = None) -> Path:
    """Write a new random term secret to ``path`` (default ``secret_file()``), readable by its owner only.
    Refuses to overwrite one: changing the secret mid-term changes every hidden case."""
    import secrets

    path = Path(path) if path is not None else secret_file()
    if path.exists():
        raise FileExistsError(f"{path} exists: a term keeps its secret (delete it yourself to start a new term)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    return path


def hidden_seed(secret: str) -> int:
    """The hidden cases' seed: a 128-bit number derived from the secret (the secret itself is never a seed)."""
    return int.from_bytes(hashlib.sha256(b"deepkit hidden cases\0" + secret.encode()).digest()[:16], "big")


def make_cases(part: Part, seed_base: int = PUBLIC_SEED) -> list[dict]:
    """The part's ``part.seeds`` input dictionaries drawn from ``seed_base`` (deterministic per part name)."""
    tag = sum(ord(c) * 131**i for i, c in enumerate(part.name)) % (2**31)
    return [part.inputs(np.random.default_rng([seed_base, tag, k])) for k in range(part.seeds)]


@dataclass(frozen=True)
class CaseSet:
    """Which cases a grading run uses: ``public`` (``check``) or ``hidden`` (grading, from the term secret)."""

    name: str  # "public" | "hidden"
    seed: int

    @property
    def key(self) -> tuple[str, str]:
        """Identifies the cases in caches without holding the seed in clear."""
        return self.name, hashlib.sha256(str(self.seed).encode()).hexdigest()[:16]


PUBLIC = CaseSet("public", PUBLIC_SEED)


# --------------------------------------------------------------------------------- public cases as data
def public_path(root: Path, topic_slug: str) -> Path:
    """Where a student edition keeps a topic's public cases."""
    return Path(root) / "autograder" / "public" / f"{topic_slug}.npz"


def _kind(value) -> str:
    if isinstance(value, np.ndarray):
        return "array"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (bool, int, float, np.generic)):
        return "scalar"
    return "array"  # lists and tuples of numbers: stored as arrays


def unread_placeholder(shape: tuple, dtype) -> np.ndarray:
    """What the edition holds of an output its compare never reads: zeros of its shape and dtype, in no memory (a
    read-only broadcast). The shape still matters: the sandbox bounds each output's size by the reference's."""
    return np.broadcast_to(np.zeros((), dtype=dtype), shape)


def _restore(array: np.ndarray, kind: str):
    if kind == "unread":  # stored as an empty array of shape (0, *shape): no data, the shape in the header
        return unread_placeholder(array.shape[1:], array.dtype)
    if kind == "scalar":
        return array.item()
    if kind == "str":
        return str(array)
    return array


def _put(arrays: dict, kinds: dict, prefix: str, values: dict, read: frozenset[str] | None = None) -> None:
    """Store ``values`` under ``prefix``; ``read``: the names whose values the part's compare reads (None: all;
    see ``reference_keys_read``); of the others only the name, dtype and shape (an empty array of shape (0, *shape))."""
    for key, value in values.items():
        if "|" in str(key):
            raise ValueError(f"{prefix}: key {key!r} contains '|'")
        kept = read is None or key in read
        array = np.asarray(value)
        arrays[f"{prefix}|{key}"] = array if kept else np.zeros((0, *array.shape), array.dtype)
        kinds[f"{prefix}|{key}"] = _kind(value) if kept else "unread"


def input_digest(inputs: dict) -> str:
    """A digest of one case's inputs (names, kinds, dtypes, shapes, bytes)."""
    h = hashlib.sha256()
    for key in sorted(inputs):
        value = np.asarray(inputs[key])
        h.update(f"{key}|{_kind(inputs[key])}|{value.dtype.str}|{value.shape}|".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    return h.hexdigest()


def reference_keys_read(part: Part) -> frozenset[str] | None:
    """Which reference output values the part's comparison reads: None for all of them (the default comparison,
    or a use of ``reference`` the rule below does not recognise), else the set of output names. Read from the
    source of ``compare(student, reference, inputs)`` (AST); ``reference`` may appear only

    * in a membership test (``"dx_eval" in reference``): no value read (the statistical checks);
    * subscripted by a string constant (``reference["dx_eval"]``): that output;
    * passed to a call whose other arguments include a literal tuple or list of string constants
      (``_edges(student, reference, ("dx_eval", "dx_p1"))``): those outputs.

    A source that cannot be read counts as reading everything. The edition build then checks that every verdict
    on the public cases is the same with only these values stored (``edition_checks``)."""
    import ast
    import inspect
    import textwrap

    if part.compare is None:
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(part.compare)))
    except (OSError, TypeError, SyntaxError):
        return None
    func = next((n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.Lambda)), None)
    args = func.args.args if func is not None else []
    if len(args) < 2:
        return None
    name = args[1].arg

    def is_ref(node) -> bool:
        return isinstance(node, ast.Name) and node.id == name

    def str_consts(node) -> list[str] | None:
        if isinstance(node, ast.Tuple | ast.List) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
        ):
            return [e.value for e in node.elts]
        return None

    allowed, keys = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.In | ast.NotIn):
            if is_ref(node.comparators[0]):
                allowed.add(id(node.comparators[0]))
        elif isinstance(node, ast.Subscript) and is_ref(node.value):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                allowed.add(id(node.value))
                keys.add(node.slice.value)
        elif isinstance(node, ast.Call) and any(is_ref(a) for a in node.args):
            listed = [str_consts(a) for a in node.args if not is_ref(a)]
            listed = [k for k in listed if k]
            if listed:
                allowed.update(id(a) for a in node.args if is_ref(a))
                keys.update(k for ks in listed for k in ks)
    uses = [n for n in ast.walk(tree) if is_ref(n)]
    if any(id(n) not in allowed for n in uses):
        return None
    return frozenset(keys)


def write_public(path: Path, topic: TopicChecks, cases: dict, wrong: dict, answers: tuple | None = None) -> Path:
    """Store a topic's public cases: ``cases`` is part -> [(inputs, reference outputs)], ``wrong`` is
    (part, case) -> [outputs of each known mistake, or None]; ``answers``: the recorded answers of the checks'
    trusted helpers (``edition_checks``). The outputs are stored as plain arrays (loaded
    without pickle); the inputs are not (the edition draws them again from the part's generator and the public
    seed: that halves the file), only their digests, which ``read_public`` checks. Byte-for-byte reproducible."""
    arrays, kinds, counts, digests = {}, {}, {}, {}
    for part in topic.parts:
        counts[part.name] = len(cases[part.name])
        read = reference_keys_read(part)  # the values its compare reads; of the others only the names
        for c, (inputs, expected) in enumerate(cases[part.name]):
            digests[f"{part.name}|{c}"] = input_digest(inputs)
            _put(arrays, kinds, f"{part.name}|{c}|out", expected, read)
            for m, outputs in enumerate(wrong.get((part.name, c), [])):
                if outputs is not None:
                    _put(arrays, kinds, f"{part.name}|{c}|wrong{m}", outputs, read)
    meta = {"topic": topic.folder, "seed": PUBLIC_SEED, "cases": counts, "kinds": kinds, "inputs": digests}
    if answers is not None:  # the trusted helpers' answers (autograder/edition_checks.py): (table, arrays)
        meta["answers"] = answers[0]
        arrays.update(answers[1])
    arrays["__meta__"] = np.array(json.dumps(meta, sort_keys=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:  # np.savez, with fixed timestamps
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2026, 1, 1, 0, 0, 0))
            z.writestr(info, buf.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return path


@dataclass
class PublicCases:
    """A topic's public cases read back from ``write_public``'s file."""

    cases: dict  # part -> [(inputs, reference outputs)]
    wrong: dict  # (part, case) -> {mistake index: outputs}

    def wrong_outputs(self, part: Part, case: int) -> list:
        """[(misconception, its stored outputs or None)], as ``local.misconception_outputs`` computes them."""
        stored = self.wrong.get((part.name, case), {})
        return [(mistake, stored.get(m)) for m, mistake in enumerate(part.misconceptions)]


def read_public(path: Path, topic: TopicChecks) -> PublicCases:
    """The public cases stored by ``write_public``; their inputs drawn again from the parts' generators (and
    checked against the stored digests: a generator changed since the release is an error)."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"]))
        values = {k: _restore(z[k], meta["kinds"][k]) for k in z.files if k in meta["kinds"]}
    if meta.get("topic") != topic.folder:
        raise ValueError(f"{path} holds the public cases of {meta.get('topic')}, not {topic.folder}")
    grouped: dict[tuple[str, int, str], dict] = {}
    for key, value in values.items():
        part, case, what, name = key.split("|", 3)
        grouped.setdefault((part, int(case), what), {})[name] = value
    cases, wrong = {}, {}
    for part in topic.parts:
        n = int(meta["cases"].get(part.name, 0))
        inputs = make_cases(part, int(meta["seed"]))[:n] if n else []
        for c, inp in enumerate(inputs):
            if input_digest(inp) != meta["inputs"].get(f"{part.name}|{c}"):
                raise ValueError(
                    f"{path}: the inputs of {part.name} case {c} differ from those the outputs were computed on "
                    "(the part's generator changed since this edition was built: rebuild it)"
                )
        cases[part.name] = [(inp, grouped.get((part.name, c, "out"), {})) for c, inp in enumerate(inputs)]
        for c in range(n):
            wrong[(part.name, c)] = {
                m: grouped[(part.name, c, f"wrong{m}")]
                for m in range(len(part.misconceptions))
                if (part.name, c, f"wrong{m}") in grouped
            }
    return PublicCases(cases, wrong)


# ------------------------------------------------------------------ trusted helpers answered from the data
class Unencodable(TypeError):
    """A value the public answers cannot hold (a random generator, a function, an object)."""


def _encode(value, arrays: dict | None, prefix: str = ""):
    """``value`` as JSON-able data. Arrays go into ``arrays`` (results), or, with ``arrays=None`` (call keys),
    are replaced by their digest."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float) and not isinstance(value, np.generic):
        return {"int": value} if isinstance(value, int) else {"float": float(value).hex()}
    if isinstance(value, np.ndarray | np.generic):
        a = np.asarray(value)
        if a.dtype.kind not in "biufcU":
            raise Unencodable(f"an array of dtype {a.dtype}")
        if arrays is None:
            digest = hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
            return {"array": [a.dtype.str, list(a.shape), digest]}
        name = f"{prefix}|{len(arrays)}"
        arrays[name] = a
        return {"array": name, "scalar": isinstance(value, np.generic)}
    if isinstance(value, tuple | list):
        return {"tuple" if isinstance(value, tuple) else "list": [_encode(v, arrays, prefix) for v in value]}
    if isinstance(value, dict):
        items = [[_encode(k, arrays, prefix), _encode(v, arrays, prefix)] for k, v in value.items()]
        return {"dict": sorted(items, key=json.dumps) if arrays is None else items}
    if arrays is None and callable(value) and hasattr(value, "__qualname__"):
        return {"function": f"{getattr(value, '__module__', '')}.{value.__qualname__}".rsplit(".", 2)[-1]}
    raise Unencodable(type(value).__name__)


def _decode(data, arrays: dict):
    if data is None or isinstance(data, bool | str):
        return data
    (kind, value), *rest = data.items()
    if kind == "int":
        return int(value)
    if kind == "float":
        return float.fromhex(value)
    if kind == "array":
        a = arrays[value]
        return a[()] if dict(rest).get("scalar") else a.copy()
    if kind in ("tuple", "list"):
        items = [_decode(v, arrays) for v in value]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        return {_decode(k, arrays): _decode(v, arrays) for k, v in value}
    raise ValueError(f"unknown encoded kind {kind!r}")


def call_key(params: dict) -> str:
    """The key of a call of a trusted helper: its parameters (names and values; arrays by digest)."""
    return hashlib.sha256(json.dumps(_encode(dict(params), None), sort_keys=True).encode()).hexdigest()[:32]


ANSWERS: dict[str, tuple[dict, dict]] = {}  # slug -> (function -> {call key: encoded result}, arrays)


def public_answer(slug: str, function: str, params: dict):
    """In a student edition, what a trusted helper of topic ``slug``'s checks returned for these parameters on the
    public cases (recorded when the edition was built; autograder/edition_checks.py). Its code stays with the
    instructor; a call the public cases never made raises LookupError."""
    if slug not in ANSWERS:
        path = public_path(Path(__file__).resolve().parent.parent, slug)
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            arrays = {k: z[k] for k in z.files if k.startswith("answer|")}
        ANSWERS[slug] = (meta.get("answers", {}), arrays)
    table, arrays = ANSWERS[slug]
    found = table.get(function, {}).get(call_key(params))
    if found is None:
        raise LookupError(
            f"{function}: the public cases never asked the grader's trusted code this (its code stays with the "
            "instructor); this check cannot be judged here"
        )
    return _decode(json.loads(found), arrays)
