"""The feedback channel: exceptions whose text carries the hidden inputs (digits spelled as words, which a
filter of numbers does not catch), the probe's source, the sandbox's /etc/passwd, mount table and environment;
an exception class named with the data; a function renamed at run time; a class whose name and text never
return. Reasons carry only the type, the student's file, function and line, never the text."""

from tests.hostile import LAYERS, SPELL, append

NOTEBOOK = False
EXPECT = {
    "full": LAYERS,
    "zero": ["softmax", "log_softmax", "cross_entropy", "softmax_loss", "two_layer_loss"],
    "reason": {
        "softmax": "ValueError in lib/deepkit/losses.py, softmax, line",
        "log_softmax": "a RuntimeError subclass in lib/deepkit/losses.py, log_softmax, line",
        "cross_entropy": "ZeroDivisionError in lib/deepkit/losses.py, line",
        "softmax_loss": "KeyError in lib/deepkit/losses.py, softmax_loss, line",
    },
    "not_in_reasons": ["point", "root:x", "student:x", "def softmax(dk", "/box", "mountinfo", "Seven", "PATH="],
    "max_seconds": 60,
}


def build(sub):
    append(
        sub,
        "losses",
        SPELL
        + """
import os as _os


def _everything(z):
    words = " ".join(spell(v) for v in z.ravel()[:6])
    for path in ("/etc/passwd", "/proc/self/mountinfo", "/box/run/probes.py", "/proc/self/environ"):
        try:
            words += " " + open(path, errors="replace").read()[:400]
        except OSError as exc:
            words += " " + str(exc)
    return words


def softmax(z):
    raise ValueError(_everything(z))


class _Loop(type):
    @property
    def __name__(cls):
        while True:
            pass


def log_softmax(z):
    cls = _Loop("Seven" + spell(z.ravel()[0]).title().replace(" ", ""), (RuntimeError,), {})
    cls.__str__ = lambda self: str(self)  # never returns either
    raise cls(_everything(z))


def cross_entropy(probs, y):
    f = lambda: 1 / 0  # noqa: E731
    f.__code__ = f.__code__.replace(co_name=spell(probs.ravel()[0]).replace(" ", "_"))
    return f()


def softmax_loss(scores, y):
    return {}[spell(scores.ravel()[0])]
""",
    )
