"""2-D test functions for optimizers (given code): Beale, Rosenbrock, a saddle and an ill-conditioned quadratic.

Each function is vectorized: ``f(x, y)`` and ``grad(x, y) -> (df/dx, df/dy)`` accept scalars or arrays of any
(broadcastable) shape, so the same code evaluates one point or a whole contour grid. A ``Surface`` bundles a
function with its gradient, a plotting window, its minimum and a default start point, and works on points
``w`` of shape (2,) for the optimizers: ``surface.value(w)``, ``surface.gradient(w)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deepkit.validate import as_float_array, check_int, check_positive

KAPPA = 20.0  # condition number of the ill-conditioned quadratic


def _num(v):
    """A Python float stays one (scalar arithmetic on floats is ~20x faster than on 0-d arrays, which matters
    for an optimizer's thousands of one-point gradients); anything else becomes a float64 array."""
    return v if isinstance(v, float) else np.asarray(v, dtype=np.float64)


def beale(x, y):
    """Beale: (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2; minimum 0 at (3, 0.5)."""
    x, y = _num(x), _num(y)
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def beale_grad(x, y):
    """Gradient of ``beale``: (df/dx, df/dy), each of the broadcast shape of x and y."""
    x, y = _num(x), _num(y)
    a, b, c = 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3
    dx = 2 * a * (y - 1) + 2 * b * (y**2 - 1) + 2 * c * (y**3 - 1)
    dy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y**2
    return dx, dy


def rosenbrock(x, y):
    """Rosenbrock's banana: (1 - x)^2 + 100 (y - x^2)^2; minimum 0 at (1, 1) in a long curved valley."""
    x, y = _num(x), _num(y)
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def rosenbrock_grad(x, y):
    """Gradient of ``rosenbrock``."""
    x, y = _num(x), _num(y)
    return -2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)


def saddle(x, y):
    """The saddle x^2 - y^2: a stationary point at (0, 0) that is not a minimum (unbounded below in y)."""
    x, y = _num(x), _num(y)
    return x**2 - y**2


def saddle_grad(x, y):
    """Gradient of ``saddle``: (2x, -2y)."""
    x, y = _num(x), _num(y)
    return 2 * x, -2 * y


def quadratic(x, y, kappa: float = KAPPA):
    """Ill-conditioned quadratic (x^2 + kappa y^2) / 2: Hessian diag(1, kappa), minimum 0 at the origin."""
    x, y = _num(x), _num(y)
    return 0.5 * (x**2 + kappa * y**2)


def quadratic_grad(x, y, kappa: float = KAPPA):
    """Gradient of ``quadratic``: (x, kappa y)."""
    x, y = _num(x), _num(y)
    return x, kappa * y


@dataclass(frozen=True)
class Surface:
    """A 2-D test function with its gradient and a plotting window.

    f, grad: vectorized (x, y) -> value and (x, y) -> (dx, dy); xlim, ylim: window; minimum: (x*, y*) or None;
    start: default start point; log_levels: contour levels on a log scale (for steep functions).
    """

    name: str
    f: Callable
    grad: Callable
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    minimum: tuple[float, float] | None
    start: tuple[float, float]
    log_levels: bool = False

    def value(self, w) -> float:
        """f at a point w of shape (2,)."""
        w = as_float_array(w, "w", ndim=1, shape_doc="(2,)")
        if w.shape != (2,):
            raise ValueError(f"w must have shape (2,), got {w.shape}")
        return float(self.f(float(w[0]), float(w[1])))

    def gradient(self, w) -> np.ndarray:
        """The gradient at a point w of shape (2,), as an array of shape (2,)."""
        w = as_float_array(w, "w", ndim=1, shape_doc="(2,)")
        if w.shape != (2,):
            raise ValueError(f"w must have shape (2,), got {w.shape}")
        return np.array(self.grad(float(w[0]), float(w[1])), dtype=np.float64)

    def grid(self, n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(X, Y, Z) on an n x n grid over the window, for contour plots."""
        n = check_int(n, "n", minimum=2)
        X, Y = np.meshgrid(np.linspace(*self.xlim, n), np.linspace(*self.ylim, n))
        return X, Y, self.f(X, Y)


SURFACES: dict[str, Surface] = {
    "beale": Surface("Beale", beale, beale_grad, (-4.5, 4.5), (-4.5, 4.5), (3.0, 0.5), (1.0, 1.5), log_levels=True),
    "saddle": Surface("saddle x² − y²", saddle, saddle_grad, (-1.5, 1.5), (-1.5, 1.5), None, (-1.0, 1e-3)),
    "rosenbrock": Surface(
        "Rosenbrock", rosenbrock, rosenbrock_grad, (-2.0, 2.0), (-1.0, 3.0), (1.0, 1.0), (-1.5, 2.0), log_levels=True
    ),
    "quadratic": Surface(
        f"quadratic, κ = {KAPPA:g}", quadratic, quadratic_grad, (-4.0, 4.0), (-2.0, 2.0), (0.0, 0.0), (-3.5, 1.5)
    ),
}


def get(name: str) -> Surface:
    """The surface called ``name`` (one of SURFACES' keys)."""
    if name not in SURFACES:
        raise ValueError(f"name must be one of {sorted(SURFACES)}, got {name!r}")
    return SURFACES[name]


def scaled(s: Surface, scale: float) -> Surface:
    """The same surface with f multiplied by ``scale`` (to see which optimizers care about gradient size)."""
    check_positive(scale, "scale")
    return Surface(
        s.name,
        lambda x, y: scale * s.f(x, y),
        lambda x, y: tuple(scale * g for g in s.grad(x, y)),
        s.xlim,
        s.ylim,
        s.minimum,
        s.start,
        s.log_levels,
    )
