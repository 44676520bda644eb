"""The autodiff refusal cannot be switched off: affine_backward removes the sandbox's import finder and
imports torch by a computed name. The package's files are hidden too: the import still fails, and says why."""

from tests.hostile import LOSSES, append

NOTEBOOK = False
EXPECT = {
    "full": ["affine_forward", "relu_forward", "relu_backward"] + LOSSES,
    "zero": ["affine_backward", "two_layer_loss"],
    "reason": {"affine_backward": "lib/deepkit/layers.py imports torch, an autodiff library"},
}


def build(sub):
    append(
        sub,
        "layers",
        """
import importlib as _importlib
import sys as _sys


def affine_backward(dout, cache):
    _sys.meta_path[:] = [f for f in _sys.meta_path if type(f).__module__ != "__main__"]
    torch = _importlib.import_module("to" + "rch")
    x, w, b = (torch.tensor(a, requires_grad=True) for a in cache[:3])
    out = x.reshape(x.shape[0], -1) @ w + b
    out.backward(torch.tensor(dout))
    return x.grad.numpy(), w.grad.numpy(), b.grad.numpy()
""",
    )
