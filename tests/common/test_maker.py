"""The tier contract: document class, record exclusions, settings held whole and hashed."""

from dataclasses import dataclass
from typing import ClassVar

import pytest
from jobflow import CURRENT_JOB, job, run_locally
from pydantic import Field

from sseflow.bvse.jobs import BVSEMaker
from sseflow.bvse.settings import BVSESettings
from sseflow.common.document import TierDocument
from sseflow.common.maker import TierMaker
from sseflow.funnel.gates.base import PassAllGate
from sseflow.funnel.maker import ScreeningFunnelMaker, Stage
from sseflow.neb.jobs import CHGNetNEBMaker
from sseflow.neb.runner import NEBRunSettings
from sseflow.store import candidate_repository, get_job_store
from tests.conftest import EXAMPLES


class BulkyDocument(TierDocument):
    tier: str = "bulky"
    n_sites: int | None = None
    big_array: list[float] | None = Field(None, description="kept out of the record")
    record_exclude: ClassVar[set[str]] = {"big_array"}


@dataclass
class BulkyMaker(TierMaker):
    name: str = "bulky"
    tier: ClassVar[str] = "bulky"
    document_class: ClassVar[type[BulkyDocument]] = BulkyDocument

    def make(self, candidate):
        return bulky_job(candidate, self)


@job
def bulky_job(candidate, maker):
    assert CURRENT_JOB.job is not None
    return maker.tier_document(
        BulkyDocument,
        candidate.candidate_id,
        lambda: {"n_sites": len(candidate.structure), "big_array": [1.0] * 1000},
    )


def test_excluded_field_of_a_tier_never_reaches_the_record(store_dir):
    funnel = ScreeningFunnelMaker(stages=[Stage(makers=[BulkyMaker()], gate=PassAllGate())])
    store = get_job_store(data_dir=store_dir)
    run_locally(
        funnel.make([EXAMPLES / "Li2S_antifluorite.cif"]),
        store=store,
        create_folders=False,
        log=False,
    )
    store.connect()
    (record,) = candidate_repository(store, read_only=True).find({})
    bulky = record["tiers"]["bulky"]
    assert bulky["status"] == "passed" and bulky["n_sites"] == record["nsites"]
    assert "big_array" not in bulky
    # the ingest document is built through the same provenance path as every tier
    ingest = record["tiers"]["ingest"]
    assert ingest["settings_hash"] and ingest["software"]["pymatgen"] and ingest["host"]


def test_makers_declare_their_document_class():
    from sseflow.bvse.schemas import BVSEDocument
    from sseflow.ml.atomsets.jobs import AtomSetsMaker
    from sseflow.ml.atomsets.schemas import AtomSetsDocument
    from sseflow.ml.soap.jobs import SOAPClusteringMaker
    from sseflow.ml.soap.schemas import ClusteringDocument
    from sseflow.neb.schemas import NEBDocument
    from sseflow.qe.jobs import QENEBMaker, QERelaxMaker
    from sseflow.qe.schemas import QERelaxDocument

    assert BVSEMaker.document_class is BVSEDocument and "grid" in BVSEDocument.record_exclude
    assert CHGNetNEBMaker.document_class is QENEBMaker.document_class is NEBDocument
    assert QERelaxMaker.document_class is QERelaxDocument
    assert SOAPClusteringMaker.document_class is ClusteringDocument
    assert AtomSetsMaker.document_class is AtomSetsDocument


def test_settings_objects_are_held_whole_and_may_be_given_flat():
    whole = BVSEMaker(bvse=BVSESettings(resolution_angstrom=0.3, occupancy_mode="majority"))
    assert BVSEMaker(resolution_angstrom=0.3, occupancy_mode="majority") == whole
    assert BVSEMaker(bvse={"resolution_angstrom": 0.3, "occupancy_mode": "majority"}) == whole
    assert isinstance(whole.bvse, BVSESettings)
    # recorded flat, as before the settings object was held whole
    settings = whole.tier_settings()
    assert settings["resolution_angstrom"] == 0.3 and "bvse" not in settings
    neb = CHGNetNEBMaker(n_images=3, min_length_angstrom=6.0)
    assert neb.neb == NEBRunSettings(n_images=3) and neb.min_length_angstrom == 6.0
    with pytest.raises(TypeError):
        BVSEMaker(resolution=0.3)  # a typo is an error, not a silent default


def test_settings_added_later_change_the_hash_only_away_from_their_default():
    default = CHGNetNEBMaker()
    assert "climb" not in default.tier_settings()
    assert CHGNetNEBMaker(climb=False).tier_settings()["climb"] is False
    assert CHGNetNEBMaker(climb=False).tier_settings_hash() != default.tier_settings_hash()


def test_round_trip_through_mson_keeps_the_maker():
    maker = CHGNetNEBMaker(n_images=3)
    assert CHGNetNEBMaker.from_dict(maker.as_dict()) == maker
    bvse = BVSEMaker(resolution_angstrom=0.25)
    assert BVSEMaker.from_dict(bvse.as_dict()) == bvse
