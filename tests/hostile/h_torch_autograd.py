"""Topic 04 done through torch autograd (once 14/14): deepkit is a NumPy library, so the module that imports
torch does not import in the grading sandbox, every part that uses it scores 0 and the reason says why."""

from tests.hostile import append

ASSIGNMENT = "04_normalization"
NOTEBOOK = False
PARTS = ["bn_forward", "bn_running_eval", "bn_backward", "bn_backward_alt", "spatial_bn_forward"]
EXPECT = {
    "full": [],
    "zero": PARTS,
    "reason": {p: "imports torch, an autodiff library" for p in PARTS},
}


def build(sub):
    append(
        sub,
        "norm",
        """
import torch as _torch

_forward_numpy = batchnorm_forward


def batchnorm_backward(dout, cache):
    x, gamma, beta, eps = cache["x"], cache["gamma"], cache["beta"], cache["eps"]
    tx, tg, tb = (_torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    mu, var = tx.mean(0), tx.var(0, unbiased=False)
    out = tg * (tx - mu) / _torch.sqrt(var + eps) + tb
    out.backward(_torch.tensor(dout))
    return tx.grad.numpy(), tg.grad.numpy(), tb.grad.numpy()
""",
    )
