"""Stored candidates as ingest's duplicate look-up, indexed by formula + fingerprint.

Ingest asks, for each new input, which stored candidates have the same reduced formula
and structure fingerprint (:func:`~sseflow.ingest.identity.structure_fingerprint`),
then compares the input with those structures only. This class reads the
``(candidate_id, formula, fingerprint)`` of the stored records once per batch (one
query with a small projection); an input whose id is already stored needs no
structure at all, and otherwise a stored structure is loaded (by key, one record) only
when an input shares its formula and fingerprint. Records written before fingerprints
existed get theirs computed from their structure when their formula first comes up.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Iterable

from pymatgen.core import Structure

from sseflow.ingest.identity import structure_fingerprint
from sseflow.store.candidates import CandidateRepository


class StoredCandidates:
    """Callable ``(formula, fingerprint, candidate_id) -> [(id, structure), ...]`` on a store.

    Parameters
    ----------
    repository
        The candidate records.
    cache_size
        Stored structures kept in memory (most recently used).
    """

    def __init__(self, repository: CandidateRepository, cache_size: int = 2048):
        self.repository = repository
        self.cache_size = cache_size
        self._index: dict[tuple[str, str], list[str]] | None = None
        self._unprinted: dict[str, list[str]] = defaultdict(list)  # formula -> ids
        self._structures: OrderedDict[str, Structure] = OrderedDict()
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
        if candidate_id in self._structures:
            self._structures.move_to_end(candidate_id)
            return self._structures[candidate_id]
        record = self.repository.get(candidate_id)
        if not record or not record.get("structure"):
            return None
        structure = Structure.from_dict(record["structure"])
        self.n_loaded += 1
        self._structures[candidate_id] = structure
        if len(self._structures) > self.cache_size:
            self._structures.popitem(last=False)
        return structure

    def __call__(
        self, formula: str, fingerprint: str, candidate_id: str | None = None
    ) -> Iterable[tuple[str, Structure | None]]:
        """Yield the stored candidates of this formula and fingerprint.

        The one whose id is ``candidate_id`` (an exact repeat) comes first, without its
        structure; the others are loaded as they are asked for.
        """
        if self._index is None:
            self._index = self._load_index()
        for cid in self._unprinted.pop(formula, []):  # old records: fingerprint them now
            structure = self._structure(cid)
            if structure is not None:
                key = (formula, structure_fingerprint(structure))
                self._index.setdefault(key, []).append(cid)
        ids = self._index.get((formula, fingerprint), [])
        if candidate_id in ids:
            yield candidate_id, None
        for cid in ids:
            if cid != candidate_id:
                structure = self._structure(cid)
                if structure is not None:
                    yield cid, structure
