"""Hidden checks for topic 07 (optimizers): one part per update rule, one for the schedules.

Each rule runs 30 steps on a seeded noisy quadratic (w of shape (2, 3), gradient A w - b + noise, torch-style
weight decay 0.01..0.1) and the whole trajectory of w must match the reference, itself equal to
torch.optim in float64 (tests/topics/test_optimizers.py). eps is drawn large (0.05..0.5) so that where eps sits
(inside or outside the square root) changes the trajectory by far more than the tolerance.
"""

import numpy as np

from autograder.spec import Part

STEPS = 30
SHAPE = (2, 3)


def _problem(rng: np.random.Generator) -> dict:
    d = int(np.prod(SHAPE))
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    A = (q * rng.uniform(0.2, 2.0, size=d)) @ q.T
    return {
        "w0": rng.normal(size=SHAPE),
        "A": A,
        "b": rng.normal(size=d),
        "noise": rng.normal(scale=0.5, size=(STEPS,) + SHAPE),
        "weight_decay": float(rng.uniform(0.01, 0.1)),
    }


def _inputs(**draws):
    """inputs(rng): the problem plus hyper-parameters drawn uniformly from the given (low, high) ranges."""

    def inputs(rng: np.random.Generator) -> dict:
        inp = _problem(rng)
        inp.update({k: float(rng.uniform(lo, hi)) for k, (lo, hi) in draws.items()})
        return inp

    return inputs


def _schedule_inputs(rng: np.random.Generator) -> dict:
    total = int(rng.integers(10, 40))
    return {
        "t": np.arange(0, 60),
        "t_scalar": int(rng.integers(0, 60)),
        "lr0": float(rng.uniform(0.01, 1.0)),
        "step_size": int(rng.integers(2, 15)),
        "gamma_step": float(rng.uniform(0.1, 0.9)),
        "gamma_exp": float(rng.uniform(0.8, 0.99)),
        "total": total,
        "lr_min": float(rng.uniform(0.0, 0.005)),
        "k": float(rng.uniform(0.01, 0.5)),
    }


EPS = (0.05, 0.5)
_TOL = dict(rtol=1e-6, atol=1e-9)

PARTS = (
    Part("sgd", 1, "sgd", _inputs(lr=(0.05, 0.4)), description="sgd_step: 30-step trajectory", **_TOL),
    Part(
        "sgd_momentum",
        2,
        "sgd_momentum",
        _inputs(lr=(0.02, 0.1), momentum=(0.5, 0.95)),
        description="sgd_momentum_step: trajectory (torch convention v = mu v + g)",
        **_TOL,
    ),
    Part(
        "nesterov",
        2,
        "nesterov",
        _inputs(lr=(0.02, 0.1), momentum=(0.5, 0.95)),
        description="nesterov_step: trajectory (torch's Nesterov form)",
        **_TOL,
    ),
    Part(
        "adagrad",
        2,
        "adagrad",
        _inputs(lr=(0.1, 0.5), eps=EPS),
        description="adagrad_step: trajectory (accumulated squared gradients)",
        **_TOL,
    ),
    Part(
        "adadelta",
        2,
        "adadelta",
        _inputs(lr=(0.5, 1.0), rho=(0.8, 0.95), eps=EPS),
        description="adadelta_step: trajectory",
        **_TOL,
    ),
    Part(
        "rmsprop",
        2,
        "rmsprop",
        _inputs(lr=(0.01, 0.1), alpha=(0.8, 0.99), eps=EPS),
        description="rmsprop_step: trajectory (eps outside the square root)",
        **_TOL,
    ),
    Part(
        "adam",
        3,
        "adam",
        _inputs(lr=(0.02, 0.2), beta1=(0.7, 0.95), beta2=(0.9, 0.999), eps=EPS),
        description="adam_step: trajectory with bias correction",
        **_TOL,
    ),
    Part(
        "adamax",
        2,
        "adamax",
        _inputs(lr=(0.02, 0.2), beta1=(0.7, 0.95), beta2=(0.9, 0.999), eps=EPS),
        description="adamax_step: trajectory",
        **_TOL,
    ),
    Part(
        "schedules",
        2,
        "schedules",
        _schedule_inputs,
        description="step, exponential, cosine and 1/t learning-rate schedules",
        rtol=1e-9,
        atol=1e-12,
    ),
)
