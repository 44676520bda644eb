"""deepkit: the course's NumPy deep-learning library.

Submodules are imported lazily (``deepkit.losses``, ``deepkit.norm``, ...), so one broken or unfinished
module never stops the others from loading.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"


def __getattr__(name: str) -> ModuleType:
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            raise AttributeError(f"deepkit has no module {name!r}") from None
        raise
