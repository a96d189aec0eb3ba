"""Documents of the CI-NEB tiers (universal potential and Quantum ESPRESSO).

Both NEB tiers (``neb_mlip``, ``neb_dft``) return a :class:`NEBDocument` with one
:class:`NEBHopResult` per computed hop. The top-level barrier fields repeat those of the
rate-limiting hop (the computed hop with the highest forward barrier), so a gate can use
``tiers.neb_mlip.barrier_forward_ev`` directly.
"""

from __future__ import annotations

from typing import Any

from emmet.core.types.pymatgen_types.structure_adapter import StructureType
from pydantic import BaseModel, Field

from sseflow.common.document import TierDocument


class NEBHopResult(BaseModel):
    """One vacancy-hop CI-NEB calculation."""

    hop: dict[str, Any] = Field(
        ...,
        description="Hop chosen: unit-cell label, site indices, Cartesian endpoints (A), "
        "length_angstrom, n_equivalent, bvse_barrier_ev.",
    )
    supercell_site_indices: list[int] = Field(
        ..., description="Indices of hop sites A and B in the perfect supercell."
    )
    moving_index: int = Field(..., description="Index of the moving Li in every image.")
    seed_method: str = Field(..., description="'bvse' (BVSE path), 'idpp' or 'linear'.")
    barrier_forward_ev: float = Field(
        ...,
        description="max(E_image) - E_initial (eV); for a split band the largest energy "
        "rise along the path from the initial end.",
    )
    barrier_reverse_ev: float = Field(
        ..., description="max(E_image) - E_final (eV); for a split band the same backward."
    )
    energies_ev: list[float] = Field(..., description="Total energy of every image (eV).")
    relative_energies_ev: list[float] = Field(
        ..., description="Image energies minus the initial endpoint energy (eV)."
    )
    images: list[StructureType] = Field(
        ..., description="Final images (pymatgen Structures), endpoints included."
    )
    climbing_image_index: int | None = Field(None, description="Index of the climbing image.")
    max_force_ev_per_angstrom: float = Field(..., description="Largest NEB force at the end.")
    converged: bool = Field(..., description="CI stage reached the force threshold.")
    termination: str = Field(..., description="'converged' or why the run stopped.")
    n_steps_neb: int = Field(..., description="Optimizer steps of the plain NEB stage.")
    n_steps_ci: int = Field(..., description="Optimizer steps of the climbing-image stage.")
    endpoint_relax_steps: list[int] = Field(default_factory=list)
    endpoints_converged: bool = Field(..., description="Both endpoints met their threshold.")
    resumed: bool = Field(False, description="Run continued from images on disk.")
    barrier_analysis: dict[str, Any] = Field(
        default_factory=dict, description="emmet BarrierAnalysis (cubic-spline TS estimate)."
    )
    work_dir: str = Field(..., description="Directory with the trajectory and calculator files.")
    timings_s: dict[str, float] = Field(default_factory=dict, description="Stage wall times (s).")
    split_reason: str | None = Field(
        None,
        description="Why the band was split into two half-hops (its intermediate "
        "minimum); None for a hop computed as one band.",
    )
    segments: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The two half-hops of a split band (barriers, converged, termination, "
        "n_images, work_dir); images and energies above are the halves joined and the "
        "barriers the largest energy rise along the whole path. Empty for one band.",
    )


class NEBDocument(TierDocument):
    """Result of a CI-NEB tier for one candidate."""

    barrier_forward_ev: float | None = Field(
        None, description="Forward barrier of the rate-limiting computed hop (eV)."
    )
    barrier_reverse_ev: float | None = Field(
        None, description="Reverse barrier of the rate-limiting computed hop (eV)."
    )
    bvse_hop_barrier_ev: float | None = Field(
        None, description="BVSE barrier of the rate-limiting hop (eV)."
    )
    converged: bool | None = Field(None, description="All computed hops converged.")
    n_steps: int | None = Field(None, description="Total NEB + CI optimizer steps, all hops.")
    hops: list[NEBHopResult] = Field(default_factory=list, description="Every computed hop.")
    n_hops_distinct: int | None = Field(None, description="Symmetry-distinct hops found.")
    percolating_hop_labels: list[int] = Field(
        default_factory=list, description="Hop families on the BVSE percolation path."
    )
    hop_search: dict[str, Any] = Field(
        default_factory=dict,
        description="shortest_li_li_angstrom, li_network_percolation_angstrom, "
        "limit_angstrom and limit_source (how far hops were searched, derived from the "
        "structure unless max_hop_angstrom was set), labels_through_li_sites (hop "
        "families dropped: their BVSE path runs through another Li site).",
    )
    was_ordered: bool | None = Field(
        None, description="True when a disordered input was ordered (lowest Ewald energy)."
    )
    ordering_ewald_energy_ev: float | None = Field(
        None, description="Ewald energy of the chosen ordering (eV, whole ordered cell)."
    )
    ordering_samples: list[dict[str, Any]] | None = Field(
        None,
        description="With ordering_samples > 1 on the Maker: one row per distinct ordering "
        "the NEB ran on - seed, ewald_energy_ev, status ('ran' or 'failed'), "
        "barrier_forward_ev (eV, uncalibrated), converged, reason, representative (True for "
        "the run this document holds: the median barrier of the converged runs). None with "
        "one ordering.",
    )
    ordering_samples_note: str | None = Field(
        None, description="Why fewer distinct orderings ran than were asked for."
    )
    barrier_spread_ev: float | None = Field(
        None,
        description="Largest minus smallest forward barrier over the orderings that ran "
        "and converged (all that ran when none converged; eV, uncalibrated); None with "
        "fewer than two.",
    )
    ordering: dict[str, Any] | None = Field(
        None,
        description="How a disordered input was ordered (None if the input was already "
        "ordered): method ('exact' or 'approximate'), supercell_multiple, n_sites, "
        "reported_composition (input amounts scaled to the ordered cell), "
        "rounded_composition, composition_deviation (|rounded - reported| / reported per "
        "species), max_composition_deviation, max_deviation_species, "
        "mobile_count_change_for_neutrality, n_arrangements, ewald_energy_ev, "
        "ewald_energy_spread_ev (over the arrangements tried), n_close_pairs (occupied "
        "split sites < 2 A apart left), min_distance_angstrom.",
    )
    unit_cell: StructureType | None = Field(
        None, description="Ordered (and possibly relaxed) unit cell."
    )
    supercell: dict[str, Any] = Field(
        default_factory=dict,
        description="scaling_matrix, n_sites_perfect, abc_angstrom, "
        "perpendicular_widths_angstrom, min_image_distance_angstrom.",
    )
    vacancy_charge_e: float | None = Field(
        None, description="Cell charge (e): -1 charged vacancy, 0 neutral, None for MLIPs."
    )
    bvse_landscape_source: str | None = Field(
        None,
        description="Where the BVSE landscape came from: 'stored grid <BVSE job uuid>', "
        "'given (make argument)' or 'recomputed (bvlain, <resolution> A)'.",
    )
    bvse_landscape_note: str | None = Field(
        None, description="Why the BVSE tier's stored grid was not used (None if it was)."
    )
    bvse_grid_job_uuid: str | None = Field(
        None, description="uuid of the BVSE job whose stored grid was found."
    )
    calculator: str | None = Field(
        None, description="e.g. 'CHGNet 0.4.2' or 'Quantum ESPRESSO pw.x 6.7MaX (ASE Espresso)'."
    )
    qe_version: str | None = Field(
        None, description="pw.x version from its output header; 'unknown' if unreadable."
    )
    calculator_settings: dict[str, Any] = Field(default_factory=dict)
    pseudopotentials: dict[str, str] = Field(
        default_factory=dict, description="Element -> UPF file (DFT only)."
    )
    convergence_test: dict[str, Any] | None = Field(
        None, description="Cutoff/k-point convergence record when run."
    )
    potential: dict[str, Any] | None = Field(
        None,
        description="MLIP tier: name, family, package and version, model (pretrained id "
        "or file), model_file and its model_sha256, modal. None for DFT.",
    )
    barrier_calibrated_ev: float | None = Field(
        None,
        description="MLIP tier: barrier_forward_ev mapped to the DFT scale by the "
        "calibration (see calibration); None without one.",
    )
    calibration: dict[str, Any] | None = Field(
        None,
        description="Provenance of barrier_calibrated_ev: source (data fitted), slope, "
        "intercept, n_pairs, residual_rms_ev, leave-one-out loo_mae_ev, loo_max_error_ev, "
        "loo_spearman, raw_mae_ev; or a note why there is none.",
    )
    cross_check: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="MLIP tier with cross_check_potentials: per potential (the main one "
        "included) barrier_forward_ev, barrier_calibrated_ev, converged, hop lengths.",
    )
    potential_spread_ev: float | None = Field(
        None, description="Largest minus smallest barrier of the converged potentials (eV)."
    )
    potential_spread_of: str | None = Field(
        None, description="Which barrier the spread compares (calibrated when all have one)."
    )
    potentials_disagree: bool | None = Field(
        None,
        description="The spread exceeds disagreement_threshold_ev: a sign that DFT is "
        "needed. None when fewer than two potentials converged.",
    )
