"""Imported by the first cell of every lecture: the reference deepkit on the path, tidy printing and figures.

Lectures never depend on a student's progress, so they use ``reference/`` (the reference deepkit), not ``lib/``.
"""

import os
import sys
import warnings
from pathlib import Path

# One BLAS/torch thread: on a 2-core laptop (and in CI, where notebooks run side by side) oversubscribed
# threads make small tensor ops many times slower. Must be set before numpy/torch are imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import matplotlib  # noqa: E402  (after the thread settings above)
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "reference"))

np.set_printoptions(precision=6, suppress=True, linewidth=110)
matplotlib.rcParams.update({"figure.dpi": 90, "figure.figsize": (8, 3.2), "axes.grid": True, "grid.alpha": 0.3})
warnings.filterwarnings("ignore", category=UserWarning, module="torch")
