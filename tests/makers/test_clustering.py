from importlib.resources import files

import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Lattice, Structure

from sseflow.analysis.oxidation import decorate_with_oxidation_states, guess_oxidation_states
from sseflow.makers.clustering import SOAPClusteringMaker
from sseflow.schemas.candidate import Candidate, SourceInfo
from sseflow.schemas.clustering import ClusteringDocument
from sseflow.schemas.tier import TierStatus

CIFS = files("sseflow") / "data" / "obelix" / "cifs"
LABELS = {
    "gvd": 5.767e-4,
    "11b": 7.03e-4,
    "fft": 2.085e-4,
    "qbb": 1.1e-6,
    "b4c": 1.59e-8,
    "qa9": 1.6e-10,
    "0iv": 2.38e-7,
    "bv2": 1.8e-8,
    "n27": 1e-8,
    "mq1": 4.8e-9,
}


def _candidate(
    candidate_id: str, structure: Structure, states: dict[str, float] | None = None
) -> Candidate:
    states = states or guess_oxidation_states(structure.composition)
    return Candidate(
        candidate_id=candidate_id,
        formula=structure.composition.reduced_formula,
        structure=decorate_with_oxidation_states(structure, states),
        oxidation_states=states,
        source=SourceInfo(path="<memory>", format="structure"),
    )


@pytest.fixture
def labels_csv(tmp_path):
    path = tmp_path / "labels.csv"
    rows = [f"{i},{s},{CIFS / f'{i}.cif'}" for i, s in LABELS.items()]
    path.write_text("id,sigma_s_per_cm,cif_path\n" + "\n".join(rows) + "\n")
    return str(path)


def test_maker_runs_with_jobflow(labels_csv, tmp_path):
    li3n = Structure.from_file(str(CIFS / "gvd.cif"))
    candidates = [
        _candidate("cand-li3n", li3n.make_supercell([2, 1, 1], in_place=False)),
        _candidate("cand-ligao2", Structure.from_file(str(CIFS / "bsa.cif"))),
        _candidate("cand-li2ps3", Structure.from_file(str(CIFS / "0iv.cif"))),
        _candidate("only-li", Structure(Lattice.cubic(3.5), ["Li"], [[0, 0, 0]]), {"Li": 1}),
    ]
    maker = SOAPClusteringMaker(depth=5, labels_csv=labels_csv, cache_dir=str(tmp_path / "cache"))
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


def test_batch_failure_is_recorded_on_every_document(tmp_path):
    bad = tmp_path / "labels.csv"
    bad.write_text("id,sigma_s_per_cm,cif_path\nx,1e-3,missing.cif\n")
    maker = SOAPClusteringMaker(labels_csv=str(bad))
    docs = maker.cluster([_candidate("a", Structure.from_file(str(CIFS / "gvd.cif")))])
    assert docs[0].status == TierStatus.FAILED
    assert "clustering of the batch failed" in docs[0].reason


def test_maker_as_a_gated_funnel_stage(labels_csv, tmp_path):
    from sseflow.flows.funnel import ScreeningFunnelMaker, Stage
    from sseflow.flows.gates import FlagGate
    from sseflow.store import candidate_repository, get_job_store

    store = get_job_store(data_dir=tmp_path / "db")
    funnel = ScreeningFunnelMaker(
        stages=[
            Stage(
                makers=[SOAPClusteringMaker(labels_csv=labels_csv, depth=5)],
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
