"""Funnel tier: semi-supervised SOAP clustering with reference conductivity labels."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from jobflow import job

from sseflow.common.candidate import Candidate, candidate_ids_of, stream_candidates
from sseflow.common.maker import TierFailure, TierMaker
from sseflow.ml.labels import LabelTable, load_label_table, load_obelix_labels
from sseflow.ml.soap.clustering import (
    DEFAULT_DEPTH,
    DEFAULT_HIGH_SIGMA_S_PER_CM,
    DEFAULT_RULE,
    ClusteringResult,
    cluster_with_labels,
)
from sseflow.ml.soap.descriptor import SOAPSettings
from sseflow.ml.soap.schemas import ClusteringDocument


@dataclass
class SOAPClusteringMaker(TierMaker):
    """Cluster a batch of candidates with labelled references (Laskowski et al. 2023).

    All candidates of the batch and the reference labels are featurized (SOAP on the
    simplified structures), Ward-clustered together, and each candidate is marked
    ``selected`` by ``rule`` at ``depth``: by default when its cluster holds a label with
    sigma > ``high_sigma_s_per_cm``. The output is one
    :class:`~sseflow.ml.soap.schemas.ClusteringDocument` per candidate, same order,
    status "pending" (the funnel's gate reads ``selected``).

    The defaults (depth 70, rule ``"high"``, fast label > 1e-4 S/cm) were chosen by
    leave-labels-out CV on the 254 OBELiX training structures
    (``benchmarks/soap_selection.py``, docs/soap_clustering.md): they kept 92 % of the
    hidden superionic structures while selecting 54 % of all hidden structures (the
    paper's rule at depth 50 selected 74 % for 94 %). They were measured with batches
    small beside the 254 labels; a batch of thousands of candidates makes clusters at a
    fixed depth coarser, so re-validate the depth for large screens.

    Parameters
    ----------
    name
        Job name.
    soap
        Descriptor settings (simplification scheme, default CAN, the paper's best with
        SOAP; r_cut/n_max/l_max, paper's best CAN runs 3/5/3, 2/4/2, 4/2/2; optional
        second-order sine Coulomb term). A mapping is accepted, and its fields may be
        given flat (``SOAPClusteringMaker(r_cut_angstrom=4.0)``).
    depth
        Number of clusters at the selection cut (capped at the number of structures).
        The paper cut ~26,000 structures at 241 clusters.
    high_sigma_s_per_cm
        A label above this makes its cluster high (paper: 1e-5 S/cm; default 1e-4).
    rule
        Selection rule: ``"high"`` (default), ``"high_or_adjacent"`` (the paper's),
        ``"adjacent"`` or ``"density"`` (see :mod:`sseflow.ml.soap.clustering`).
    min_high_fraction
        For ``rule="density"``: smallest fraction of high labels in a selected cluster.
    labels_csv
        User label table (see :func:`sseflow.ml.labels.load_label_table`); None uses
        the shipped OBELiX training labels.
    cache_dir
        Descriptor cache folder (None: no cache).
    n_jobs
        dscribe processes.
    """

    name: str = "soap clustering"
    soap: SOAPSettings = field(default_factory=SOAPSettings)
    depth: int = DEFAULT_DEPTH
    high_sigma_s_per_cm: float = DEFAULT_HIGH_SIGMA_S_PER_CM
    rule: str = DEFAULT_RULE
    min_high_fraction: float = 0.5
    labels_csv: str | None = None
    cache_dir: str | None = None
    n_jobs: int = 1

    tier: ClassVar[str] = "soap_clustering"
    batch: ClassVar[bool] = True
    document_class: ClassVar[type[ClusteringDocument]] = ClusteringDocument
    packages: ClassVar[tuple[str, ...]] = ("pymatgen", "dscribe", "scipy", "numpy")
    flat_settings: ClassVar[tuple[str, ...]] = ("soap",)
    runtime_fields: ClassVar[tuple[str, ...]] = ("cache_dir", "n_jobs")
    #: SOAPSettings fields the Maker did not expose before it held them whole, and the
    #: selection options added later: hashed only when changed from the old behaviour.
    hashed_if_changed: ClassVar[dict[str, Any]] = {
        "sigma_angstrom": 1.0,
        "sine_n_atoms_max": 200,
        "rule": "high_or_adjacent",
        "min_high_fraction": 0.5,
    }
    #: A Maker serialised before ``rule`` existed selected by the paper's rule.
    legacy_defaults: ClassVar[dict[str, Any]] = {"rule": "high_or_adjacent"}

    @job
    def make(self, candidates: list[Candidate]) -> list[ClusteringDocument]:
        """Cluster ``candidates`` with the reference labels.

        Parameters
        ----------
        candidates
            The batch (Candidate objects or their dicts).

        Returns
        -------
        list of ClusteringDocument
            One per candidate, same order.
        """
        return self.cluster(candidates)

    def cluster(self, candidates: list[Candidate]) -> list[ClusteringDocument]:
        """Do the work of :meth:`make` without jobflow (same output)."""
        return self.run(candidates)[0]

    def run(
        self, candidates: list[Candidate], labels: LabelTable | None = None
    ) -> tuple[list[ClusteringDocument], ClusteringResult | None]:
        """Cluster and also return the full clustering (for plots).

        Parameters
        ----------
        candidates
            The batch.
        labels
            Label table to use instead of loading ``labels_csv`` / the shipped labels.

        Returns
        -------
        docs, result
            One document per candidate (same order) and the clustering result (None
            when the whole batch failed).
        """
        if not isinstance(candidates, Sequence):  # read twice below: ids, then structures
            candidates = list(candidates)
        ids = candidate_ids_of(candidates)
        t0 = time.perf_counter()
        shared: dict[str, Any] = {}
        batch_error: str | None = None
        try:
            if labels is None:
                labels = (
                    load_label_table(self.labels_csv) if self.labels_csv else load_obelix_labels()
                )
            descriptor = self.soap
            # candidates are read one at a time: only their descriptors are kept
            result = cluster_with_labels(
                ((c.candidate_id, c.structure) for c in stream_candidates(candidates)),
                labels,
                settings=descriptor,
                depth=self.depth,
                high_sigma_s_per_cm=self.high_sigma_s_per_cm,
                cache_dir=self.cache_dir,
                n_jobs=self.n_jobs,
                rule=self.rule,
                min_high_fraction=self.min_high_fraction,
            )
            shared = {
                "descriptor": descriptor.label,
                "descriptor_settings": descriptor.as_dict(),
                "descriptor_settings_hash": descriptor.settings_hash,
                "depth": result.depth,
                "high_sigma_s_per_cm": self.high_sigma_s_per_cm,
                "selection_rule": self.rule,
                "n_clustered_structures": len(result.ids),
                "n_reference_labels": len(result.label_rows),
                "label_source": labels.source,
            }
        except Exception as exc:  # the whole batch failed: every document says why
            batch_error = f"{type(exc).__name__}: {exc}"
            result = None
        batch_wall_time_s = round(time.perf_counter() - t0, 3)

        def compute_for(candidate_id: str) -> dict[str, Any]:
            if result is None:
                raise TierFailure(f"clustering of the batch failed: {batch_error}")
            if candidate_id in result.failed:
                raise TierFailure(result.failed[candidate_id])
            membership = result.memberships[candidate_id]
            return {
                **shared,
                **vars(membership),
                "batch_wall_time_s": batch_wall_time_s,
            }

        docs = [
            self.tier_document(ClusteringDocument, cid, functools.partial(compute_for, cid))
            for cid in ids
        ]
        return docs, result
