"""Paths of the real files in ../shared/data (beside the checkout)."""
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def real_files(pattern):
    """Every real file matching `pattern` under shared/data, sorted; new files are picked up."""
    return sorted(SHARED_DATA.glob(pattern))
