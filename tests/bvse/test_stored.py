"""The NEB tiers find the BVSE tier's stored grid through the job store (real BVSE job)."""

import numpy as np
import pytest
from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from sseflow.bvse.jobs import BVSEMaker
from sseflow.bvse.stored import stored_bvse_landscape
from sseflow.common.candidate import Candidate, SourceInfo
from sseflow.store import candidate_repository, get_job_store


def li2s(a_angstrom: float = 5.71) -> Candidate:
    structure = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a_angstrom), ["S2-", "Li+"], [[0, 0, 0], [0.25, 0.25, 0.25]]
    )
    return Candidate(
        candidate_id="li2s",
        formula="Li2S",
        structure=structure,
        oxidation_states={"Li": 1.0, "S": -2.0},
        source=SourceInfo(path="<memory>", format="structure"),
    )


@pytest.fixture
def store_with_bvse(store_dir):
    """A JobStore holding one real BVSE job and the candidate record pointing at it."""
    store = get_job_store(data_dir=store_dir)
    candidate = li2s()
    job = BVSEMaker(resolution_angstrom=0.3).make(candidate)
    doc = run_locally(job, store=store, create_folders=False, log=False)[job.uuid][1].output
    store.connect()
    repo = candidate_repository(store)
    repo.upsert_candidate(candidate.candidate_id, {"formula": "Li2S"})
    repo.set_tier(doc)
    return store, candidate, job.uuid


def test_stored_grid_is_found_and_fits(store_with_bvse):
    store, candidate, uuid = store_with_bvse
    found = stored_bvse_landscape(store, "li2s", candidate.structure.lattice.matrix)
    assert found.reason is None and found.job_uuid == uuid
    assert np.allclose(found.landscape.lattice, candidate.structure.lattice.matrix)
    # a supercell of the same cell (what ordering a disordered structure gives) fits too
    assert found.landscape.fits_lattice(candidate.structure.lattice.matrix * [[2], [1], [1]])


def test_stored_grid_is_refused_with_a_reason(store_with_bvse):
    store, _, uuid = store_with_bvse
    other_cell = li2s(5.5).structure.lattice.matrix
    refused = stored_bvse_landscape(store, "li2s", other_cell)
    assert refused.landscape is None and refused.job_uuid == uuid
    assert "another cell" in refused.reason
    missing = stored_bvse_landscape(store, "nobody", other_cell)
    assert missing.reason == "candidate has no 'bvse' record"
    assert "outside the funnel" in stored_bvse_landscape(None, "li2s", other_cell).reason


def test_bvse_job_without_grid(store_dir):
    store = get_job_store(data_dir=store_dir)
    candidate = li2s()
    job = BVSEMaker(resolution_angstrom=0.3, keep_grid=False).make(candidate)
    doc = run_locally(job, store=store, create_folders=False, log=False)[job.uuid][1].output
    store.connect()
    candidate_repository(store).set_tier(doc)
    found = stored_bvse_landscape(store, "li2s", candidate.structure.lattice.matrix)
    assert found.landscape is None and "kept no grid" in found.reason
