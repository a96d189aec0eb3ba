"""The AtomSets tier: P_SI from the shipped (or a user) ensemble, plus the band gap."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from jobflow import Job, job

from sseflow.common.candidate import Candidate
from sseflow.common.maker import TierFailure, TierMaker
from sseflow.ml.atomsets.schemas import AtomSetsDocument

BandGapMode = Literal["predict", "user", "off"]


@dataclass
class AtomSetsMaker(TierMaker):
    """Score a batch of candidates with the AtomSets ensemble (one job for all).

    Parameters
    ----------
    name
        Job name.
    model_dir
        Ensemble artifact directory; ``None`` uses the model shipped with sseflow
        (``atomsets_v1_camns``).
    band_gap_mode
        ``"predict"``: MEGNet multi-fidelity band-gap models (a user value, when given,
        takes precedence); ``"user"``: only values from ``user_band_gaps_ev``;
        ``"off"``: no band gap (the gate then skips its band-gap test).
    user_band_gaps_ev
        Candidate id -> band gap (eV) supplied by the user (e.g. from DFT).
    """

    name: str = "atomsets"
    model_dir: str | None = None
    band_gap_mode: BandGapMode = "predict"
    user_band_gaps_ev: dict[str, float] = field(default_factory=dict)

    tier: ClassVar[str] = "atomsets"
    batch: ClassVar[bool] = True
    document_class: ClassVar[type[AtomSetsDocument]] = AtomSetsDocument
    packages: ClassVar[tuple[str, ...]] = (
        "pymatgen",
        "tensorflow",
        "tf-keras",
        "megnet",
        "maml",
        "numpy",
    )

    def make(self, candidates: list[Candidate]) -> Job:
        """Return one job whose output is a list of AtomSetsDocuments (input order)."""
        new_job = atomsets_scores(candidates, self)
        new_job.name = f"{self.name} ({len(candidates)} candidates)"
        return new_job


def _band_gaps(candidates: list[Candidate], maker: AtomSetsMaker) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{} for _ in candidates]
    todo = []
    for i, cand in enumerate(candidates):
        user = maker.user_band_gaps_ev.get(cand.candidate_id)
        if user is not None:
            out[i] = {"band_gap_ev": float(user), "band_gap_source": "user"}
        elif maker.band_gap_mode == "predict":
            todo.append(i)
    if todo:
        from sseflow.ml.bandgap import MODEL_NAME, predict_band_gaps

        try:
            pred = predict_band_gaps([candidates[i].structure for i in todo])
            for k, i in enumerate(todo):
                out[i] = {
                    "band_gap_ev": round(float(pred.band_gap_ev[k]), 4),
                    "band_gap_std_ev": round(float(pred.band_gap_std_ev[k]), 4),
                    "band_gap_source": MODEL_NAME,
                }
        except Exception:  # one bad structure fails the batch: retry one by one
            for i in todo:
                try:
                    pred = predict_band_gaps([candidates[i].structure])
                    out[i] = {
                        "band_gap_ev": round(float(pred.band_gap_ev[0]), 4),
                        "band_gap_std_ev": round(float(pred.band_gap_std_ev[0]), 4),
                        "band_gap_source": MODEL_NAME,
                    }
                except Exception as exc:
                    out[i] = {"band_gap_error": f"band gap prediction failed: {exc}"}
    return out


@job
def atomsets_scores(candidates: list[Candidate], maker: AtomSetsMaker) -> list[AtomSetsDocument]:
    """Run the AtomSets tier on a batch of candidates (see :class:`AtomSetsMaker`)."""
    from sseflow.ml.atomsets.ensemble import AtomSetsEnsemble
    from sseflow.ml.atomsets.scoring import load_default_ensemble, score_structures

    t0 = time.perf_counter()
    ensemble = (
        load_default_ensemble()
        if maker.model_dir is None
        else AtomSetsEnsemble.load(maker.model_dir)
    )
    scores = score_structures([c.structure for c in candidates], ensemble)
    gaps = _band_gaps(candidates, maker)
    features = ensemble.feature_settings.as_dict()
    amortised_s = (time.perf_counter() - t0) / max(len(candidates), 1)
    docs = []
    for cand, score, gap in zip(candidates, scores, gaps, strict=True):

        def compute(score: Any = score, gap: dict[str, Any] = gap) -> dict[str, Any]:
            if isinstance(score, Exception):
                raise TierFailure(f"AtomSets featurization failed: {score}")
            if gap.get("band_gap_error"):
                raise TierFailure(gap["band_gap_error"])
            return {
                "p_si": round(score.p_si, 6),
                "p_si_std": round(score.p_si_std, 6),
                "d_training": round(score.d_training, 4),
                "is_ordered": score.is_ordered,
                "n_sites_featurized": score.n_sites_featurized,
                "band_gap_ev": gap.get("band_gap_ev"),
                "band_gap_std_ev": gap.get("band_gap_std_ev"),
                "band_gap_source": gap.get("band_gap_source"),
                "model_version": ensemble.model_version,
                "model_data_sha256": ensemble.training.get("data_sha256"),
                "features": features,
            }

        doc = maker.tier_document(AtomSetsDocument, cand.candidate_id, compute)
        # The work is done once for the batch: record each candidate's share of it.
        doc.wall_time_s = round(amortised_s, 3)
        docs.append(doc)
    return docs
