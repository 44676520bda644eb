"""Imported by the first cell of every lecture of the student edition: YOUR deepkit on the path, tidy printing.

The lectures of this edition come already run with the course's reference implementation (their outputs are
snapshots of that run). When you re-run a cell, it uses your own ``lib/deepkit``: a function you have not written
yet raises ``NotImplementedError``; once you have, the lecture's checks test your code.
"""

import os
import sys
import warnings
from pathlib import Path

# One BLAS/torch thread: on a 2-core laptop oversubscribed threads make small tensor ops many times slower.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import matplotlib  # noqa: E402  (after the thread settings above)
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))

np.set_printoptions(precision=6, suppress=True, linewidth=110)
matplotlib.rcParams.update({"figure.dpi": 90, "figure.figsize": (8, 3.2), "axes.grid": True, "grid.alpha": 0.3})
warnings.filterwarnings("ignore", category=UserWarning, module="torch")
