"""Shared fixtures: small real structures and an embedded store in a temp folder."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "structures"
OBELIX_CIFS = REPO / "src" / "sseflow" / "data" / "obelix" / "cifs"

warnings.filterwarnings("ignore", category=FutureWarning)


def antifluorite(a: float, anion: str) -> Structure:
    """Conventional antifluorite Li2X cell (Fm-3m, Li 8c, X 4a), lattice a in A."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), ["Li", anion], [[0.25, 0.25, 0.25], [0, 0, 0]]
    )


@pytest.fixture
def li2s() -> Structure:
    return antifluorite(5.71, "S")


@pytest.fixture
def li2te() -> Structure:
    return antifluorite(6.517, "Te")


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "sseflow-data"
