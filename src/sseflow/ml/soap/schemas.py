"""Result of the semi-supervised SOAP clustering tier for one candidate."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sseflow.common.document import TierDocument


class ClusteringDocument(TierDocument):
    """Where a candidate sits after Ward clustering with the reference labels.

    The funnel's gate decides passed/rejected from ``selected`` (the tier leaves the
    status "pending"). log10 sigma values are log10 of the conductivity in S/cm.
    """

    descriptor: str | None = Field(None, description="Descriptor name, e.g. SOAP-CAN(r3,n5,l3).")
    descriptor_settings: dict[str, Any] = Field(
        default_factory=dict, description="Simplification and SOAP settings used."
    )
    descriptor_settings_hash: str | None = Field(
        None, description="Hash of descriptor_settings (key of the descriptor cache)."
    )
    depth: int | None = Field(None, description="Number of clusters at the selection cut.")
    cluster_id: int | None = Field(None, description="Cluster of the candidate at ``depth``.")
    n_structures_in_cluster: int | None = Field(
        None, description="Structures (candidates and labels) in the cluster."
    )
    n_labels_in_cluster: int | None = Field(None, description="Labelled structures in it.")
    mean_log10_sigma_in_cluster: float | None = Field(
        None, description="Mean log10 sigma (S/cm) of its labels; None without labels."
    )
    max_log10_sigma_in_cluster: float | None = Field(
        None, description="Max log10 sigma (S/cm) of its labels; None without labels."
    )
    cluster_has_high_sigma_label: bool | None = Field(
        None, description="The cluster holds a label with sigma > high_sigma_s_per_cm."
    )
    adjacent_to_high_sigma_cluster: bool | None = Field(
        None, description="The cluster is the nearest (centroid) cluster of a high cluster."
    )
    distance_to_high_sigma_cluster: float | None = Field(
        None,
        description="Euclidean centroid distance to the nearest high cluster (descriptor "
        "units); 0 inside one; None when no cluster is high.",
    )
    selected: bool | None = Field(
        None,
        description="Selected by ``selection_rule`` (default: in a high cluster or in "
        "the nearest cluster of one).",
    )
    selection_rule: str | None = Field(
        None, description="high_or_adjacent, high, adjacent or density (see the clustering)."
    )
    high_sigma_s_per_cm: float | None = Field(None, description="Threshold of a high label.")
    n_clustered_structures: int | None = Field(
        None, description="Structures clustered together (candidates + labels)."
    )
    n_reference_labels: int | None = Field(None, description="Labels used.")
    label_source: str | None = Field(None, description="Where the labels came from.")
    batch_wall_time_s: float | None = Field(
        None, description="Wall time of featurizing and clustering the whole batch, s."
    )
