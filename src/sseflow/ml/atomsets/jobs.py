"""The AtomSets tier: P_SI from the shipped (or a user) ensemble, plus the band gap."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from jobflow import Job, job

from sseflow.common.candidate import Candidate, candidate_chunks
from sseflow.common.maker import TierFailure, TierMaker
from sseflow.ml.atomsets.schemas import AtomSetsDocument

BandGapMode = Literal["predict", "user", "off"]
#: The model shipped before the default model was recorded in the settings hash.
FIRST_DEFAULT_MODEL = "atomsets_v1_camns"


def _default_shipped_model() -> str:
    from sseflow.ml.atomsets.scoring import DEFAULT_MODEL_NAME

    return DEFAULT_MODEL_NAME


@dataclass
class AtomSetsMaker(TierMaker):
    """Score a batch of candidates with the P_SI model (one job for all).

    Parameters
    ----------
    name
        Job name.
    model_dir
        P_SI model artifact directory (:class:`~sseflow.ml.atomsets.stack.PSIModel`, or a
        bare AtomSets ensemble); ``None`` uses the shipped model ``shipped_model``.
    shipped_model
        Name of the model shipped in ``sseflow/data/models`` used when ``model_dir`` is
        None (default: :data:`~sseflow.ml.atomsets.scoring.DEFAULT_MODEL_NAME`). A Maker
        serialised before this field existed deserialises with ``atomsets_v1_camns``,
        the default of that time, so an old workflow keeps its model and its hash.
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
    shipped_model: str = field(default_factory=_default_shipped_model)

    tier: ClassVar[str] = "atomsets"
    batch: ClassVar[bool] = True
    document_class: ClassVar[type[AtomSetsDocument]] = AtomSetsDocument
    legacy_defaults: ClassVar[dict[str, Any]] = {"shipped_model": FIRST_DEFAULT_MODEL}
    packages: ClassVar[tuple[str, ...]] = (
        "pymatgen",
        "tensorflow",
        "tf-keras",
        "megnet",
        "maml",
        "numpy",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        from sseflow.common.paths import shipped_data

        if not (shipped_data("models", self.shipped_model) / "manifest.json").is_file():
            known = sorted(p.parent.name for p in shipped_data("models").glob("*/manifest.json"))
            raise ValueError(f"no shipped model {self.shipped_model!r}; shipped: {known}")

    def tier_settings(self) -> dict[str, Any]:
        """Return the hashed settings; with a shipped model, which one it is.

        The first shipped model (``atomsets_v1_camns``) was not recorded, so results
        computed with it keep their hash; any later shipped model enters the hash (as
        ``default_model``), so results of another model are not reused. With
        ``model_dir`` set, ``shipped_model`` plays no part.
        """
        out = super().tier_settings()
        shipped = out.pop("shipped_model", None)
        if self.model_dir is None and shipped != FIRST_DEFAULT_MODEL:
            out["default_model"] = shipped
        return out

    def _model(self) -> Any:
        from sseflow.common.paths import shipped_data
        from sseflow.ml.atomsets.scoring import DEFAULT_MODEL_NAME, load_model

        if self.model_dir is not None:
            return load_model(self.model_dir)
        if self.shipped_model == DEFAULT_MODEL_NAME:
            return load_model(None)  # the same cached object as load_default_model()
        return load_model(shipped_data("models", self.shipped_model))

    def make(self, candidates: list[Candidate]) -> Job:
        """Return one job whose output is a list of AtomSetsDocuments (input order)."""
        new_job = atomsets_scores(candidates, self)
        new_job.name = f"{self.name} ({len(candidates)} candidates)"
        return new_job

    def score(self, candidates: Sequence[Candidate]) -> list[AtomSetsDocument]:
        """Do the work of :meth:`make` without jobflow (same documents, input order).

        The batch API of the ML stage for large screens: the model is loaded once per
        process, candidates are read and featurized (as batched graphs) a chunk at a
        time, so a worker holds one chunk's structures, not the whole batch; a candidate
        that cannot be scored gets a failed document with the reason.
        """
        from sseflow.ml.atomsets.scoring import DEFAULT_CHUNK_SIZE, score_structures

        t0 = time.perf_counter()
        model = self._model()
        features = model.feature_settings.as_dict()
        docs = []
        for chunk in candidate_chunks(candidates, DEFAULT_CHUNK_SIZE):
            scores = score_structures([c.structure for c in chunk], model, DEFAULT_CHUNK_SIZE)
            gaps = _band_gaps(chunk, self)
            for cand, score, gap in zip(chunk, scores, gaps, strict=True):
                compute = functools.partial(_document_fields, score, gap, model, features)
                docs.append(self.tier_document(AtomSetsDocument, cand.candidate_id, compute))
        # The work is done once for the batch: record each candidate's share of it.
        amortised_s = round((time.perf_counter() - t0) / max(len(docs), 1), 3)
        for doc in docs:
            doc.wall_time_s = amortised_s
        return docs


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


def _document_fields(
    score: Any, gap: dict[str, Any], model: Any, features: dict[str, Any]
) -> dict[str, Any]:
    if isinstance(score, Exception):
        raise TierFailure(f"AtomSets featurization failed: {score}")
    if gap.get("band_gap_error"):
        raise TierFailure(gap["band_gap_error"])
    return {
        **score.rounded(),
        "is_ordered": score.is_ordered,
        "n_sites_featurized": score.n_sites_featurized,
        "band_gap_ev": gap.get("band_gap_ev"),
        "band_gap_std_ev": gap.get("band_gap_std_ev"),
        "band_gap_source": gap.get("band_gap_source"),
        "model_version": model.model_version,
        "model_data_sha256": model.training.get("data_sha256"),
        "features": features,
    }


@job
def atomsets_scores(candidates: list[Candidate], maker: AtomSetsMaker) -> list[AtomSetsDocument]:
    """Run the AtomSets tier on a batch of candidates (see :class:`AtomSetsMaker`)."""
    return maker.score(candidates)
