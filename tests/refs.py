"""The reference deepkit (reference) for the repository's own tests: ``from tests.refs import dk``."""

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REF_LIB = ROOT / "reference"
STUB_LIB = ROOT / "lib"
if str(REF_LIB) not in sys.path:
    sys.path.insert(0, str(REF_LIB))

dk = importlib.import_module("deepkit")
assert Path(dk.__file__).resolve().parent.parent == REF_LIB, f"deepkit imported from {dk.__file__}"
