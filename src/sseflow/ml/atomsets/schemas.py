"""AtomSets tier document: P_SI, its uncertainty, its domain distances and the band gap."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sseflow.common.document import TierDocument


class AtomSetsDocument(TierDocument):
    """Result of the AtomSets classifier tier for one candidate.

    ``status`` is "pending" on success: the ML gate
    (:class:`sseflow.funnel.gates.MLPolicyGate`)
    decides from P_SI, the band gap and the SOAP clustering tier.
    """

    p_si: float | None = Field(
        None,
        description="Calibrated probability of sigma_RT >= 1e-4 S/cm (0-1): composition and "
        "structure components combined (see sseflow.ml.atomsets.stack).",
    )
    p_si_std: float | None = Field(
        None, description="Spread of P_SI over the members of the model's components."
    )
    p_si_composition: float | None = Field(
        None, description="Probability from the composition component alone (uncalibrated)."
    )
    p_si_structure: float | None = Field(
        None, description="Probability from the structure component alone (uncalibrated)."
    )
    d_training: float | None = Field(
        None,
        description=(
            "Distance to the nearest training structure in whitened-PCA space of "
            "mean-pooled atom features (dimensionless; see the model manifest)."
        ),
    )
    d_composition: float | None = Field(
        None,
        description=(
            "Distance to the nearest training composition in whitened-PCA space of the "
            "composition features (dimensionless); beyond the model's far_distance a gated "
            "combiner uses its far weight (see the model manifest). None: the model "
            "stores no composition domain."
        ),
    )
    band_gap_ev: float | None = Field(None, description="Band gap used by the gate, eV.")
    band_gap_std_ev: float | None = Field(
        None, description="Spread of the band-gap model ensemble, eV (predictions only)."
    )
    band_gap_source: str | None = Field(
        None, description="'user' or the name of the band-gap model; None when skipped."
    )
    is_ordered: bool | None = Field(None, description="False when any site is partial.")
    n_sites_featurized: int | None = Field(
        None, description="Sites of the simplified structure fed to the model."
    )
    model_version: str | None = Field(None, description="P_SI model artifact model_version.")
    model_data_sha256: str | None = Field(None, description="Hash of the model's training data.")
    features: dict[str, Any] = Field(
        default_factory=dict, description="Feature settings (level, simplification, parent)."
    )
