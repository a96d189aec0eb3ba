"""The candidate: a structure accepted at ingest, as handed from tier to tier."""

from __future__ import annotations

import base64
import gc
import json
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, overload

from pydantic import BaseModel, Field
from pymatgen.core import Structure


class SourceInfo(BaseModel):
    """Where an input structure came from."""

    path: str = Field(..., description="File the structure was read from (or '<memory>').")
    format: str = Field(..., description="cif, poscar, json or structure.")
    index: int = Field(0, description="Index of the structure inside a multi-block file.")
    path_bytes_hex: str | None = Field(
        None,
        description="The file name's bytes in hex when they are not valid UTF-8 (``path`` "
        "then shows them as \\x.. escapes); see :meth:`original_path`.",
    )

    @classmethod
    def from_path(cls, path: str | Path, format: str, index: int = 0) -> SourceInfo:
        """Return the source of a file, storable whatever bytes its name holds."""
        raw = os.fsencode(path)
        try:
            return cls(path=raw.decode("utf-8"), format=format, index=index)
        except UnicodeDecodeError:
            shown = raw.decode("utf-8", errors="backslashreplace")
            return cls(path=shown, format=format, index=index, path_bytes_hex=raw.hex())

    def original_path(self) -> str:
        """Return the path as the operating system names it (``os.fsdecode`` form)."""
        if self.path_bytes_hex:
            return os.fsdecode(bytes.fromhex(self.path_bytes_hex))
        return self.path


class Candidate(BaseModel):
    """A structure accepted at ingest, as handed from tier to tier.

    ``structure`` keeps partial occupancies and carries oxidation states guessed from
    the composition.
    """

    candidate_id: str = Field(..., description="Stable id (same structure -> same id).")
    formula: str = Field(..., description="Reduced formula, e.g. 'Li3N'.")
    structure: Structure = Field(..., description="Oxidation-state decorated structure.")
    oxidation_states: dict[str, float] = Field(
        ..., description="Element -> oxidation state guessed from the composition."
    )
    source: SourceInfo
    fingerprint: str | None = Field(
        None, description="Structure fingerprint (space group) indexing duplicate search."
    )

    @classmethod
    def from_structure(
        cls, structure: Structure, source: SourceInfo | None = None, **ingest_settings: Any
    ) -> Candidate:
        """Return the candidate ingest makes of ``structure`` (same id, same checks).

        Parameters
        ----------
        structure
            A pymatgen Structure (partial occupancies allowed).
        source
            Where it came from; default ``<memory>``.
        ingest_settings
            Fields of :class:`~sseflow.ingest.validation.IngestSettings`.

        Raises
        ------
        ValueError
            When ingest would reject the structure (the message is its reason).

        Examples
        --------
        >>> from pymatgen.core import Lattice, Structure
        >>> li2s = Structure.from_spacegroup(
        ...     "Fm-3m", Lattice.cubic(5.71), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]]
        ... )
        >>> candidate = Candidate.from_structure(li2s)
        >>> candidate.formula, candidate.oxidation_states
        ('Li2S', {'Li': 1.0, 'S': -2.0})
        """
        from sseflow.ingest.batch import ingest
        from sseflow.ingest.validation import IngestSettings

        doc = ingest([structure], IngestSettings(**ingest_settings))
        if not doc.accepted:
            raise ValueError(f"not a candidate: {doc.rejected[0].reason}")
        candidate = doc.accepted[0]
        return candidate if source is None else candidate.model_copy(update={"source": source})

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Candidate:
        """Return the candidate of a stored candidate record (to run more tiers on it).

        Raises
        ------
        ValueError
            For a record without a structure (an input rejected at ingest).
        """
        if not record.get("structure"):
            raise ValueError(f"record {record.get('candidate_id')} has no structure")
        sources = record.get("sources") or [{"path": "<store>", "format": "structure"}]
        return cls(
            candidate_id=record["candidate_id"],
            formula=record["formula"],
            structure=Structure.from_dict(record["structure"]),
            oxidation_states=record.get("oxidation_states") or {},
            source=SourceInfo(**sources[0]),
            fingerprint=record.get("fingerprint"),
        )


#: Bytes of decompressed rows read at a time when a packed batch is decoded.
_UNPACK_CHUNK = 1 << 18


def _pack(rows: Iterable[dict[str, Any] | bytes]) -> str:
    """JSON rows -> one zlib-compressed, base64 string (storable anywhere JSON goes).

    One JSON object per line, compressed as a stream: rows are built, encoded and
    dropped one at a time, never held all at once (a structure as Python dicts is
    ~0.5 MB for 120 sites: 20,000 of them at once took ~12 GB). ``bytes`` rows are
    lines already encoded (see :meth:`CandidateBatch.subset`). Substituted or related
    structures compress well: 25 kB of JSON per candidate became 0.6 kB (zlib level 6,
    500 candidates of the 26,000-structure benchmark).
    """
    compressor = zlib.compressobj(6)
    chunks = []
    for row in rows:
        line = row if isinstance(row, bytes) else json.dumps(row, separators=(",", ":")).encode()
        chunks.append(compressor.compress(line + b"\n"))
    chunks.append(compressor.flush())
    return base64.b64encode(b"".join(chunks)).decode("ascii")


def _packed_lines(packed: str) -> Iterator[bytes]:
    """Yield the encoded rows of a packed batch one at a time.

    The rows are decompressed as a stream, at most :data:`_UNPACK_CHUNK` bytes at a
    time beyond the current row. Batches packed by sseflow before the line format (one
    JSON array) are read whole.
    """
    decompressor = zlib.decompressobj()
    tail = base64.b64decode(packed)
    pending = b""
    while tail:
        pending += decompressor.decompress(tail, _UNPACK_CHUNK)
        tail = decompressor.unconsumed_tail
        if pending.startswith(b"["):  # the earlier format: one JSON array
            pending += decompressor.decompress(tail) + decompressor.flush()
            for row in json.loads(pending):
                yield json.dumps(row, separators=(",", ":")).encode()
            return
        *lines, pending = pending.split(b"\n")
        yield from lines
    pending += decompressor.flush()
    yield from (line for line in pending.split(b"\n") if line)


def _unpack(packed: str) -> Iterator[dict[str, Any]]:
    """Yield the JSON rows packed by :func:`_pack`, one at a time (under :func:`_no_gc`)."""
    for line in _packed_lines(packed):
        row: dict[str, Any] = json.loads(line)
        yield row


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while many small objects are built.

    Decoding a batch of thousands of structures builds millions of dicts and lists,
    and the collector's full passes revisit everything already in memory: with 500
    candidates loaded beside, ``json.loads`` of 500 more took 16.7 s with the collector
    on and 0.1 s with it off.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class CandidateBatch(Sequence[Candidate]):
    """The candidates of a funnel stage, handed between jobs as one packed value.

    jobflow walks, serialises and compares every argument of a job several times
    (``Job.__init__``, the flow graph, reference resolution, sending a job to a worker);
    with a list of thousands of Candidates each walk re-serialises every Structure
    (~100 ms of bookkeeping per candidate and stage, measured on 1,000). A batch
    serialises to its candidate ids plus one compressed JSON string, built once and
    kept, so those walks cost nothing; candidates are decoded only when a job reads
    them (a job in another process gets its own copies, as with a list).

    It reads as a sequence of :class:`Candidate`; deserialised (``from_dict``) it
    becomes a batch again, which batch tiers take as they take a list.

    Examples
    --------
    >>> from pymatgen.core import Lattice, Structure
    >>> li2s = Structure.from_spacegroup(
    ...     "Fm-3m", Lattice.cubic(5.71), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]]
    ... )
    >>> batch = CandidateBatch([Candidate.from_structure(li2s)])
    >>> batch.candidate_ids == [batch[0].candidate_id], batch[0].formula
    (True, 'Li2S')
    >>> CandidateBatch.from_dict(batch.as_dict())[0] == batch[0]
    True
    """

    def __init__(self, candidates: Iterable[Candidate | Mapping[str, Any]] = ()) -> None:
        items = list(stream_candidates(candidates))
        self.candidate_ids: list[str] = [c.candidate_id for c in items]
        self.formulas: list[str] = [c.formula for c in items]
        self._items: list[Candidate] | None = items
        self._packed: str | None = None

    @classmethod
    def of(cls, candidates: Sequence[Candidate]) -> CandidateBatch:
        """Return ``candidates`` as a batch (itself when it is one already)."""
        return candidates if isinstance(candidates, CandidateBatch) else cls(candidates)

    @classmethod
    def _from_packed(
        cls, candidate_ids: list[str], formulas: list[str], packed: str
    ) -> CandidateBatch:
        batch = cls()
        batch.candidate_ids = list(candidate_ids)
        batch.formulas = list(formulas)
        batch._items = None
        batch._packed = packed
        return batch

    def _candidates(self) -> list[Candidate]:
        if self._items is None:
            assert self._packed is not None
            with _no_gc():
                self._items = [Candidate.model_validate(row) for row in _unpack(self._packed)]
        return self._items

    def __len__(self) -> int:
        return len(self.candidate_ids)

    @overload
    def __getitem__(self, index: int) -> Candidate: ...

    @overload
    def __getitem__(self, index: slice) -> list[Candidate]: ...

    def __getitem__(self, index: int | slice) -> Candidate | list[Candidate]:
        return self._candidates()[index]

    def __iter__(self) -> Iterator[Candidate]:
        return iter(self._candidates())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CandidateBatch):
            return NotImplemented
        return self.candidate_ids == other.candidate_ids and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CandidateBatch({len(self)} candidates)"

    def stream(self) -> Iterator[Candidate]:
        """Yield the candidates one at a time without keeping them.

        For jobs that read each candidate once (scoring in chunks, featurizing): a
        batch not yet decoded is decoded row by row and nothing stays in the batch, so
        memory holds the candidates the caller keeps, not all of them. A batch already
        decoded yields its candidates.
        """
        if self._items is not None:
            yield from self._items
            return
        assert self._packed is not None
        for line in _packed_lines(self._packed):
            with _no_gc():  # as in a whole decode; the caller's own work runs with it on
                candidate = Candidate.model_validate(json.loads(line))
            yield candidate

    def subset(self, candidate_ids: Iterable[str]) -> CandidateBatch:
        """Return the batch of these candidates (in this batch's order).

        A batch not yet decoded stays so: its rows are filtered and packed again.
        """
        wanted = set(candidate_ids)
        if self._items is not None:
            return CandidateBatch(c for c in self._items if c.candidate_id in wanted)
        assert self._packed is not None
        ids: list[str] = []
        formulas: list[str] = []

        def kept() -> Iterator[bytes]:  # rows stay encoded: one decoded at a time
            for line in _packed_lines(self._packed):  # type: ignore[arg-type]
                row = json.loads(line)
                if row["candidate_id"] in wanted:
                    ids.append(row["candidate_id"])
                    formulas.append(row["formula"])
                    yield line

        with _no_gc():
            packed = _pack(kept())
        return CandidateBatch._from_packed(ids, formulas, packed)

    def as_dict(self) -> dict[str, Any]:
        """Return the batch as JSON: ids, formulas and the candidates as one compressed string."""
        if self._packed is None:
            rows = (
                {
                    **c.model_dump(mode="json", exclude={"structure"}),
                    "structure": c.structure.as_dict(),
                }
                for c in self._candidates()
            )
            self._packed = _pack(rows)
        return {
            "@module": type(self).__module__,
            "@class": type(self).__name__,
            "candidate_ids": list(self.candidate_ids),
            "formulas": list(self.formulas),
            "packed": self._packed,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CandidateBatch:
        """Rebuild a batch from :meth:`as_dict` (candidates decoded when first read)."""
        return cls._from_packed(d["candidate_ids"], d["formulas"], d["packed"])

    def to_json(self) -> str:
        """Return :meth:`as_dict` as a JSON string (MSONable-style)."""
        return json.dumps(self.as_dict())


def as_candidates(value: Any) -> Any:
    """Return ``value`` with pymatgen Structures turned into Candidates (lists too).

    Candidates, their dicts and jobflow output references pass unchanged, so a tier
    Maker's ``make`` can take either (see :class:`~sseflow.common.maker.TierMaker`).
    """
    if isinstance(value, Structure):
        return Candidate.from_structure(value)
    if isinstance(value, list | tuple) and any(isinstance(v, Structure) for v in value):
        return [as_candidates(v) for v in value]
    return value


def stream_candidates(candidates: Iterable[Candidate | Mapping[str, Any]]) -> Iterator[Candidate]:
    """Yield ``candidates`` as Candidates, one at a time (a batch is not kept decoded).

    Batch tiers read their input through this, so a worker holds the candidates of the
    chunk it works on rather than the whole decoded batch.
    """
    rows = candidates.stream() if isinstance(candidates, CandidateBatch) else candidates
    for c in rows:
        yield c if isinstance(c, Candidate) else Candidate.model_validate(c)


def candidate_chunks(
    candidates: Iterable[Candidate | Mapping[str, Any]], size: int
) -> Iterator[list[Candidate]]:
    """Yield lists of at most ``size`` Candidates (see :func:`stream_candidates`)."""
    chunk: list[Candidate] = []
    for candidate in stream_candidates(candidates):
        chunk.append(candidate)
        if len(chunk) >= max(size, 1):
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def candidate_ids_of(candidates: Iterable[Candidate | Mapping[str, Any] | None]) -> list[str]:
    """Return the ids of ``candidates`` in order (a batch's without decoding it; None skipped)."""
    if isinstance(candidates, CandidateBatch):
        return list(candidates.candidate_ids)
    return [
        c.candidate_id if isinstance(c, Candidate) else str(c["candidate_id"])
        for c in candidates
        if c is not None
    ]
