from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Lattice, Structure

from sseflow.common.candidate import CandidateBatch
from sseflow.common.document import TierStatus
from sseflow.ml.soap.jobs import SOAPClusteringMaker
from sseflow.ml.soap.schemas import ClusteringDocument
from tests.conftest import OBELIX_CIFS as CIFS
from tests.conftest import memory_candidate


def test_maker_runs_with_jobflow(labels_csv, tmp_path):
    li3n = Structure.from_file(str(CIFS / "gvd.cif"))
    candidates = [
        memory_candidate("cand-li3n", li3n.make_supercell([2, 1, 1], in_place=False)),
        memory_candidate("cand-ligao2", Structure.from_file(str(CIFS / "bsa.cif"))),
        memory_candidate("cand-li2ps3", Structure.from_file(str(CIFS / "0iv.cif"))),
        memory_candidate("only-li", Structure(Lattice.cubic(3.5), ["Li"], [[0, 0, 0]]), {"Li": 1}),
    ]
    maker = SOAPClusteringMaker(
        depth=5, labels_csv=str(labels_csv), cache_dir=str(tmp_path / "cache")
    )
    assert maker.tier == "soap_clustering" and maker.batch
    job = maker.make(candidates)
    store = JobStore(MemoryStore())
    responses = run_locally(job, store=store, ensure_success=True)
    output = responses[job.uuid][1].output
    docs = [d if isinstance(d, ClusteringDocument) else ClusteringDocument(**d) for d in output]
    assert [d.candidate_id for d in docs] == [c.candidate_id for c in candidates]
    li3n_doc, _, li2ps3_doc, li_doc = docs
    assert li3n_doc.status == TierStatus.PENDING
    assert li3n_doc.selected and li3n_doc.cluster_has_high_sigma_label
    assert li3n_doc.max_log10_sigma_in_cluster >= -3.7
    assert li3n_doc.distance_to_high_sigma_cluster == 0.0
    assert li3n_doc.depth == 5 and li3n_doc.n_reference_labels == 10
    assert li3n_doc.n_clustered_structures == 13
    assert li3n_doc.descriptor == "SOAP-CAN(r3,n5,l3)"
    assert li3n_doc.settings["depth"] == 5 and li3n_doc.settings_hash
    assert li3n_doc.software["dscribe"]
    assert li3n_doc.job_uuid == job.uuid
    assert li2ps3_doc.n_labels_in_cluster >= 1  # it sits with its own labelled twin
    assert li_doc.status == TierStatus.FAILED and "no atoms left" in li_doc.reason
    # the stored output is the same list
    stored = store.get_output(job.uuid)
    assert len(stored) == 4
    # a packed batch is read one candidate at a time: same documents, nothing kept decoded
    batch = CandidateBatch.from_dict(CandidateBatch(candidates).as_dict())
    again = maker.cluster(batch)
    assert batch._items is None
    keep = ("candidate_id", "status", "reason", "selected", "cluster_id")
    assert [[getattr(d, k) for k in keep] for d in again] == [
        [getattr(d, k) for k in keep] for d in docs
    ]
    # so is a generator of candidates
    assert [d.candidate_id for d in maker.cluster(c for c in candidates)] == [
        c.candidate_id for c in candidates
    ]


def test_batch_failure_is_recorded_on_every_document(tmp_path):
    bad = tmp_path / "labels.csv"
    bad.write_text("id,sigma_s_per_cm,cif_path\nx,1e-3,missing.cif\n")
    maker = SOAPClusteringMaker(labels_csv=str(bad))
    docs = maker.cluster([memory_candidate("a", Structure.from_file(str(CIFS / "gvd.cif")))])
    assert docs[0].status == TierStatus.FAILED
    assert "clustering of the batch failed" in docs[0].reason


def test_maker_as_a_gated_funnel_stage(labels_csv, tmp_path):
    from sseflow.funnel.gates.threshold import FlagGate
    from sseflow.funnel.maker import ScreeningFunnelMaker, Stage
    from sseflow.store import candidate_repository, get_job_store

    store = get_job_store(data_dir=tmp_path / "db")
    funnel = ScreeningFunnelMaker(
        stages=[
            Stage(
                makers=[SOAPClusteringMaker(labels_csv=str(labels_csv), depth=5)],
                gate=FlagGate("soap_clustering", "selected"),
            )
        ]
    )
    flow = funnel.make([str(CIFS / "gvd.cif"), str(CIFS / "bsa.cif")])
    run_locally(flow, store=store, create_folders=False, log=False)
    records = {r["formula"]: r for r in candidate_repository(store).find({})}
    assert records["Li3N"]["status"] == "passed"
    assert records["Li3N"]["tiers"]["soap_clustering"]["selected"] is True
    assert records["LiGaO2"]["status"] == "rejected"
    assert records["LiGaO2"]["reason"] == "soap_clustering.selected is false"
