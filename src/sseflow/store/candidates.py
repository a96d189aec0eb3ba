"""Read and write candidate records (one document per structure).

Writes use partial ``$set`` updates on the raw collection rather than maggma's
whole-document ``Store.update``: different tiers (and different workers) update different
parts of the same record, and a whole-document replace would lose a concurrent write.
The collection is a pymongo collection on MongoDB or a montydb collection on the embedded
store; only operations both support are used here (no aggregation, no unique indexes).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jobflow import JobStore
from maggma.core import Store

from sseflow import __version__
from sseflow.provenance import utc_now
from sseflow.schemas.candidate import Candidate, SourceInfo
from sseflow.schemas.tier import TierDocument, TierStatus
from sseflow.store.jobstore import CANDIDATES_STORE

#: Fields that queries filter or sort on; indexed where the backend supports it.
INDEXED_FIELDS = (
    "candidate_id",
    "formula",
    "elements",
    "status",
    "last_tier",
)


def identity_fields(candidate: Candidate) -> dict[str, Any]:
    """Return the record fields that identify a candidate (formula, structure, ...)."""
    structure = candidate.structure
    elements = sorted(el.symbol for el in structure.composition.elements)
    return {
        "formula": candidate.formula,
        "chemsys": "-".join(elements),
        "elements": elements,
        "nsites": len(structure),
        "is_ordered": structure.is_ordered,
        "structure": structure.as_dict(),
        "oxidation_states": candidate.oxidation_states,
    }


class CandidateRepository:
    """Candidate records in a maggma store (connected on first use)."""

    def __init__(self, store: Store):
        self.store = store

    @property
    def collection(self) -> Any:
        """Return the raw (pymongo or montydb) collection, connecting if needed."""
        try:
            return self.store._collection
        except Exception:
            self.store.connect()
            return self.store._collection

    def ensure_indexes(self, extra_fields: tuple[str, ...] = ()) -> list[str]:
        """Create indexes on queried fields; return those created.

        montydb (embedded) supports few index types; a backend that refuses an index
        is skipped silently, queries still work without it.
        """
        made = []
        for field in (*INDEXED_FIELDS, *extra_fields):
            try:
                self.collection.create_index(field)
                made.append(field)
            except Exception:
                continue
        return made

    def upsert_candidate(
        self,
        candidate_id: str,
        fields: Mapping[str, Any],
        source: SourceInfo | None = None,
    ) -> None:
        """Create or update the identity part of a record (formula, structure, ...)."""
        now = utc_now()
        update: dict[str, Any] = {
            "$set": {**fields, "updated_at": now, "sseflow_version": __version__},
            "$setOnInsert": {"created_at": now, "tiers": {}},
        }
        if source is not None:
            update["$addToSet"] = {"sources": source.model_dump()}
        self.collection.update_one({"candidate_id": candidate_id}, update, upsert=True)

    def set_tier(self, doc: TierDocument | Mapping[str, Any]) -> None:
        """Store a tier's document under ``tiers.<tier>`` and update the overall status."""
        data = doc.record_dump() if isinstance(doc, TierDocument) else dict(doc)
        tier = data["tier"]
        status = TierStatus(data["status"])
        update: dict[str, Any] = {
            f"tiers.{tier}": data,
            "last_tier": tier,
            "status": status.value,
            "reason": data.get("reason"),
            "updated_at": utc_now(),
        }
        self.collection.update_one(
            {"candidate_id": data["candidate_id"]}, {"$set": update}, upsert=True
        )

    def get(self, candidate_id: str) -> dict[str, Any] | None:
        """Return one record (without Mongo's ``_id``), or None."""
        return self.collection.find_one({"candidate_id": candidate_id}, {"_id": 0})

    def get_tier(self, candidate_id: str, tier: str) -> dict[str, Any] | None:
        """Return ``tiers.<tier>`` of a record, or None."""
        record = self.get(candidate_id)
        return None if record is None else record.get("tiers", {}).get(tier)

    def find(
        self,
        query: Mapping[str, Any] | None = None,
        sort: list[tuple[str, int]] | None = None,
        limit: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield records matching a plain Mongo query."""
        proj = {"_id": 0, **(projection or {})}
        cursor = self.collection.find(dict(query or {}), proj)
        if sort:
            cursor = cursor.sort(sort)
        if limit:
            cursor = cursor.limit(limit)
        for doc in cursor:
            doc.pop("_id", None)
            yield doc

    def count(self, query: Mapping[str, Any] | None = None) -> int:
        """Return the number of records matching ``query``."""
        return int(self.collection.count_documents(dict(query or {})))


def candidate_repository(job_store: JobStore) -> CandidateRepository:
    """Return the candidate repository of a JobStore built by :func:`get_job_store`.

    Raises
    ------
    KeyError
        If the JobStore has no ``candidates`` additional store.
    """
    try:
        store = job_store.additional_stores[CANDIDATES_STORE]
    except KeyError as exc:
        raise KeyError(
            "This JobStore has no 'candidates' store; build it with "
            "sseflow.store.get_job_store() or add additional_stores.candidates "
            "to your jobflow config."
        ) from exc
    return CandidateRepository(store)
