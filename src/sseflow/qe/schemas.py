"""Document of a Quantum ESPRESSO relaxation stage."""

from __future__ import annotations

from typing import Any

from emmet.core.types.pymatgen_types.structure_adapter import StructureType
from pydantic import Field

from sseflow.common.document import TierDocument


class QERelaxDocument(TierDocument):
    """Result of a pw.x relaxation (positions, optionally the cell) of one candidate."""

    energy_ev: float | None = Field(None, description="Final total energy (eV).")
    energy_per_atom_ev: float | None = Field(None, description="Final energy per atom (eV).")
    max_force_ev_per_angstrom: float | None = Field(None, description="Largest final force.")
    volume_change_percent: float | None = Field(None, description="100 (V_final/V_0 - 1).")
    n_steps: int | None = Field(None, description="Optimizer steps.")
    converged: bool | None = Field(None, description="Force threshold reached.")
    structure: StructureType | None = Field(None, description="Relaxed structure.")
    pseudopotentials: dict[str, str] = Field(default_factory=dict)
    calculator_settings: dict[str, Any] = Field(default_factory=dict)
    ordering: dict[str, Any] | None = Field(
        None,
        description="How a disordered input was ordered (see NEBDocument.ordering); None "
        "if the input was already ordered.",
    )
    qe_version: str | None = Field(
        None, description="pw.x version from its output header; 'unknown' if unreadable."
    )
