"""Which inputs a part is checked on: public cases and hidden cases (trusted side).

Both come from the part's own input generator (``Part.inputs(rng)``), ``Part.seeds`` draws each:

* **Public cases** are drawn from ``PUBLIC_SEED``, a documented constant (docs/STUDENTS.md).
  ``python -m autograder check NN`` runs them. The student edition ships their inputs and the reference's outputs
  on them as data (``autograder/public/<slug>.npz``, written by ``write_public``), never the reference code.
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
from collections.abc import Iterator
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


def _restore(array: np.ndarray, kind: str):
    if kind == "scalar":
        return array.item()
    if kind == "str":
        return str(array)
    return array


def _put(arrays: dict, kinds: dict, prefix: str, values: dict) -> None:
    for key, value in values.items():
        if "|" in str(key):
            raise ValueError(f"{prefix}: key {key!r} contains '|'")
        arrays[f"{prefix}|{key}"] = np.asarray(value)
        kinds[f"{prefix}|{key}"] = _kind(value)


def write_public(path: Path, topic: TopicChecks, cases: dict, wrong: dict) -> Path:
    """Store a topic's public cases: ``cases`` is part -> [(inputs, reference outputs)], ``wrong`` is
    (part, case) -> [outputs of each known mistake, or None]. Plain arrays and JSON; loaded without pickle."""
    arrays, kinds, counts = {}, {}, {}
    for part in topic.parts:
        counts[part.name] = len(cases[part.name])
        for c, (inputs, expected) in enumerate(cases[part.name]):
            _put(arrays, kinds, f"{part.name}|{c}|in", inputs)
            _put(arrays, kinds, f"{part.name}|{c}|out", expected)
            for m, outputs in enumerate(wrong.get((part.name, c), [])):
                if outputs is not None:
                    _put(arrays, kinds, f"{part.name}|{c}|wrong{m}", outputs)
    meta = {"topic": topic.folder, "seed": PUBLIC_SEED, "cases": counts, "kinds": kinds}
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, __meta__=np.array(json.dumps(meta)), **arrays)
    path.write_bytes(buf.getvalue())
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
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"]))
        values = {k: _restore(z[k], meta["kinds"][k]) for k in z.files if k != "__meta__"}
    if meta.get("topic") != topic.folder:
        raise ValueError(f"{path} holds the public cases of {meta.get('topic')}, not {topic.folder}")
    grouped: dict[tuple[str, int, str], dict] = {}
    for key, value in values.items():
        part, case, what, name = key.split("|", 3)
        grouped.setdefault((part, int(case), what), {})[name] = value
    cases, wrong = {}, {}
    for part in topic.parts:
        n = int(meta["cases"].get(part.name, 0))
        cases[part.name] = [
            (grouped.get((part.name, c, "in"), {}), grouped.get((part.name, c, "out"), {})) for c in range(n)
        ]
        for c in range(n):
            wrong[(part.name, c)] = {
                m: grouped[(part.name, c, f"wrong{m}")]
                for m in range(len(part.misconceptions))
                if (part.name, c, f"wrong{m}") in grouped
            }
    return PublicCases(cases, wrong)


def iter_inputs(cases: dict) -> Iterator[dict]:
    """Every input dictionary of part -> [(inputs, outputs)] (for leak checks)."""
    for pairs in cases.values():
        for inputs, _ in pairs:
            yield inputs
