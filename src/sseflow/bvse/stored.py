"""Fetch a candidate's BVSE energy grid stored by the BVSE tier, from inside a job.

The BVSE tier (:mod:`sseflow.bvse.jobs`) offloads its energy grid to the JobStore's
``data`` store (``@job(data="grid")``) and the funnel writes the tier's document, with
the BVSE ``job_uuid``, into the candidate record. A job that runs with
``JobConfig(expose_store=True)`` can follow candidate record -> ``tiers.bvse.job_uuid``
-> BVSE job output -> grid. Every way this can fail is returned as a reason, never
raised: the caller falls back to computing the landscape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from sseflow.bvse.landscape import BVSELandscape
from sseflow.store.candidates import candidate_repository


@dataclass
class StoredLandscape:
    """Outcome of the look-up.

    Attributes
    ----------
    landscape
        The stored landscape, or None when it could not be used.
    job_uuid
        uuid of the BVSE job whose grid this is (None when none was found).
    reason
        Why no stored landscape is returned (None on success).
    """

    landscape: BVSELandscape | None
    job_uuid: str | None = None
    reason: str | None = None


def stored_bvse_landscape(
    job_store: Any, candidate_id: str, lattice: ArrayLike, bvse_tier: str = "bvse"
) -> StoredLandscape:
    """Return the stored BVSE landscape of ``candidate_id`` if it fits ``lattice``.

    Parameters
    ----------
    job_store
        The running job's store (``CURRENT_JOB.store``); None outside the funnel.
    candidate_id
        Candidate whose record is read.
    lattice
        Lattice matrix (rows, Angstrom) of the structure the NEB tier starts from; the
        grid must be of this cell or of a cell it is a supercell of, in the same frame.
    bvse_tier
        Tier name of the BVSE document in the candidate record.
    """
    if job_store is None:
        return StoredLandscape(None, reason="no job store (Maker run outside the funnel)")
    try:
        record = candidate_repository(job_store, read_only=True).get_tier(candidate_id, bvse_tier)
    except KeyError:
        return StoredLandscape(None, reason="the job store has no candidate records")
    if not record:
        return StoredLandscape(None, reason=f"candidate has no '{bvse_tier}' record")
    uuid = record.get("job_uuid")
    if not uuid:
        return StoredLandscape(None, reason=f"'{bvse_tier}' record has no job_uuid")
    try:
        output = job_store.get_output(uuid, load=True)
    except Exception as exc:  # missing output or unreachable data store
        return StoredLandscape(None, uuid, f"BVSE output {uuid} not readable: {exc}")
    grid = output.get("grid") if isinstance(output, dict) else getattr(output, "grid", None)
    if grid is None:
        return StoredLandscape(None, uuid, f"BVSE job {uuid} kept no grid (keep_grid=False)")
    try:
        landscape = BVSELandscape.from_bvse_grid(grid)
    except Exception as exc:
        return StoredLandscape(None, uuid, f"stored grid of {uuid} unreadable: {exc}")
    if not landscape.fits_lattice(np.asarray(lattice, dtype=float)):
        return StoredLandscape(
            None, uuid, f"stored grid of {uuid} is for another cell than the structure's"
        )
    return StoredLandscape(landscape, uuid)
