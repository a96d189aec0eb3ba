"""Stored candidates as ingest's duplicate look-up, indexed by formula + fingerprint.

Ingest asks, for each new input, which stored candidates have the same reduced formula
and structure fingerprint (:func:`~sseflow.ingest.identity.structure_fingerprint`),
then compares the input with those structures only. This class reads the
``(candidate_id, formula, fingerprint)`` of the stored records once per batch (one
query with a small projection) and loads a stored structure only when a new input
shares its formula and fingerprint, once. Records written before fingerprints existed
get theirs computed from their structure when their formula first comes up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from pymatgen.core import Structure

from sseflow.ingest.identity import structure_fingerprint
from sseflow.store.candidates import CandidateRepository


class StoredCandidates:
    """Callable ``(formula, fingerprint) -> [(candidate_id, structure), ...]`` over a store.

    Parameters
    ----------
    repository
        The candidate records.
    """

    def __init__(self, repository: CandidateRepository):
        self.repository = repository
        self._index: dict[tuple[str, str], list[str]] | None = None
        self._unprinted: dict[str, list[str]] = defaultdict(list)  # formula -> ids
        self._structures: dict[str, Structure] = {}
        #: Number of stored structures loaded (the cost ingest paid for de-duplication).
        self.n_loaded = 0

    def _load_index(self) -> dict[tuple[str, str], list[str]]:
        index: dict[tuple[str, str], list[str]] = defaultdict(list)
        query = {"structure": {"$ne": None}, "formula": {"$ne": None}}
        fields = {"candidate_id": 1, "formula": 1, "fingerprint": 1}
        for rec in self.repository.find(query, projection=fields):
            if rec.get("fingerprint"):
                index[(rec["formula"], rec["fingerprint"])].append(rec["candidate_id"])
            else:
                self._unprinted[rec["formula"]].append(rec["candidate_id"])
        return index

    def _structure(self, candidate_id: str) -> Structure | None:
        if candidate_id not in self._structures:
            record = self.repository.get(candidate_id)
            if not record or not record.get("structure"):
                return None
            self._structures[candidate_id] = Structure.from_dict(record["structure"])
            self.n_loaded += 1
        return self._structures[candidate_id]

    def __call__(self, formula: str, fingerprint: str) -> Iterable[tuple[str, Structure]]:
        """Yield the stored candidates of this formula and fingerprint."""
        if self._index is None:
            self._index = self._load_index()
        for cid in self._unprinted.pop(formula, []):  # old records: fingerprint them now
            structure = self._structure(cid)
            if structure is not None:
                self._index.setdefault((formula, structure_fingerprint(structure)), []).append(cid)
        for cid in self._index.get((formula, fingerprint), []):
            structure = self._structure(cid)
            if structure is not None:
                yield cid, structure
