"""Correct code that sleeps in every call, just under any per-call limit: CPU limits do not see it, the
submission's idle budget does. It cannot hold a grading slot for long; the parts it finished keep their marks."""

from tests.hostile import LOSSES, append

NOTEBOOK = False
EXPECT = {
    "full": ["affine_forward"],
    "zero": ["relu_forward", "relu_backward"] + LOSSES + ["two_layer_loss"],
    "reason": {"softmax": "asleep or blocked", "relu_forward": "asleep or blocked"},
    "max_seconds": 40,
}


def build(sub):
    for module, names in (
        ("layers", ("affine_forward", "affine_backward", "relu_forward", "relu_backward")),
        ("losses", ("softmax", "log_softmax", "cross_entropy", "softmax_loss")),
    ):
        code = "import time as _time\n"
        for name in names:
            code += (
                f"\n_{name} = {name}\n\n\ndef {name}(*args, **kwargs):\n"
                f"    _time.sleep(0.6)\n    return _{name}(*args, **kwargs)\n"
            )
        append(sub, module, code)
