"""``python -m autograder similarity``: copies are flagged (renamed identifiers, new comments and layout do not
hide them), the released stub is not similarity, independently written solutions stay below the threshold, the
report is static escaped HTML, and nothing is graded."""

from __future__ import annotations

import re
from pathlib import Path

from autograder.cli import main
from autograder.course import Course
from autograder.similarity import REFERENCE, report
from tests.refs import REF_LIB, STUB_LIB

A01 = "01_softmax"
TOPIC = ("layers", "losses", "nets")

# An implementation of the layer and loss functions written independently of the reference (loops, other numpy
# calls, other structure); nets.py is left as the stub.
OWN = {
    "affine_forward": """
flat = np.reshape(x, (len(x), int(np.prod(x.shape[1:]))))
out = np.einsum("nd,dm->nm", flat, w)
for j in range(out.shape[1]):
    out[:, j] += b[j]
return out, (x, w, b)""",
    "affine_backward": """
n = x.shape[0]
flat = x.reshape(n, -1)
grad_w = np.zeros_like(w)
for i in range(n):
    grad_w += np.outer(flat[i], dout[i])
grad_x = np.einsum("nm,dm->nd", dout, w).reshape(x.shape)
return grad_x, grad_w, np.add.reduce(dout, axis=0)""",
    "relu_forward": """
y = np.where(x > 0, x, np.zeros_like(x))
return y, x""",
    "relu_backward": """
mask = np.greater(x, 0).astype(dout.dtype)
return mask * dout""",
    "softmax": """
m = np.amax(z, axis=-1, keepdims=True)
ex = np.exp(np.subtract(z, m))
tot = np.sum(ex, axis=-1, keepdims=True)
return np.divide(ex, tot)""",
    "log_softmax": """
top = np.amax(z, axis=-1, keepdims=True)
lse = top + np.log(np.sum(np.exp(z - top), axis=-1, keepdims=True))
return z - lse""",
    "cross_entropy": """
total = 0.0
for i, label in enumerate(y):
    total -= np.log(max(probs[i, label], 1e-300))
return float(total / len(y))""",
    "softmax_loss": """
count = len(y)
p = softmax(scores)
picked = p[np.arange(count), y]
value = -np.sum(np.log(picked)) / count
g = p.copy()
for i in range(count):
    g[i, y[i]] -= 1
return float(value), g / count""",
}


def fill(stub: str, bodies: dict[str, str]) -> str:
    """The stub with each ``raise NotImplementedError("... implement f ...")`` replaced by ``bodies[f]``."""

    def repl(m):
        body = bodies.get(m.group(2))
        if body is None:
            return m.group(0)
        return "\n".join(m.group(1) + line for line in body.strip().splitlines())

    return re.sub(r"^( +)raise NotImplementedError\(\"Exercise \w+: implement (\w+) in [^\"]+\"\)$", repl, stub,
                  flags=re.M)  # fmt: skip


def disguise(src: str) -> str:
    """A copy as students disguise it: names changed, comments added, blank lines moved."""
    for old, new in (("dx", "grad_input"), ("dw", "grad_weights"), ("db", "grad_bias"), ("shifted", "centred"),
                     ("logp", "log_probs"), ("rows", "idx"), ("e ", "expo "), ("out", "result")):  # fmt: skip
        src = re.sub(rf"\b{old.strip()}\b", new.strip(), src)
    return src.replace("    return", "    # done, hand back the values\n\n    return")


def _put(course: Course, sid: str, sources: dict[str, str]) -> None:
    lib = course.submitted / sid / A01 / "lib" / "deepkit"
    lib.mkdir(parents=True)
    for m, text in sources.items():
        (lib / f"{m}.py").write_text(text)


def test_copies_flagged_stub_ignored_independent_work_not(tmp_path):
    course = Course(work=tmp_path / "work")
    ref = {m: (REF_LIB / "deepkit" / f"{m}.py").read_text() for m in TOPIC}
    stub = {m: (STUB_LIB / "deepkit" / f"{m}.py").read_text() for m in TOPIC}
    _put(course, "alice", ref)
    _put(course, "bob", {m: disguise(t) for m, t in ref.items()})
    _put(course, "carol", stub)
    _put(course, "dave", stub)
    own = {m: fill(t, OWN) for m, t in stub.items()}
    _put(course, "erin", own)
    _put(course, "frank", {m: disguise(t) for m, t in own.items()})
    out = tmp_path / "report.html"
    res = report(course, A01, out, threshold=0.6)
    sim = {frozenset((p.a, p.b)): p.similarity for p in res.pairs}
    print({"~".join(sorted(k)): round(v, 2) for k, v in sim.items()})
    assert sim[frozenset(("alice", "bob"))] >= 0.9
    assert sim[frozenset(("erin", "frank"))] >= 0.9
    assert sim[frozenset(("alice", REFERENCE))] >= 0.9
    assert sim[frozenset(("alice", "erin"))] < 0.6, sim  # independent work is not flagged
    assert sim[frozenset(("erin", REFERENCE))] < 0.6, sim
    assert set(res.skipped) == {"carol", "dave"}  # the unchanged stub is nothing to compare
    flagged = {frozenset((p.a, p.b)) for p in res.flagged}
    assert frozenset(("alice", "erin")) not in flagged and frozenset(("alice", "bob")) in flagged
    page = out.read_text()
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    assert "<mark>" in page
    assert not (course.work / "gradebook.db").exists()  # it flags, never grades


def test_report_escapes_student_code_and_names(tmp_path, capsys):
    course = Course(work=tmp_path / "work")
    evil = (REF_LIB / "deepkit" / "layers.py").read_text() + '\n\nX = "</pre><script>alert(1)</script>"\n'
    _put(course, "alice", {"layers": evil})
    _put(course, "bob", {"layers": evil})
    assert main(["--work", str(course.work), "similarity", "--assignment", "01", "--threshold", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "alice  ~  bob" in out
    page = Path(course.exports / f"similarity-{A01}.html").read_text()
    assert "<script>alert" not in page and "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
