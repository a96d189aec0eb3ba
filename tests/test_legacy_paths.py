"""Import paths and stored results from before the layout by tier keep working."""

import importlib
import json
import sys
from pathlib import Path

import pytest
from jobflow import Flow, run_locally
from monty.json import MontyDecoder

from sseflow.funnel.config import funnel_from_dict
from sseflow.provenance import settings_hash
from sseflow.store import candidate_repository, get_job_store
from tests.conftest import EXAMPLES

LEGACY = Path(__file__).parent / "data" / "legacy"

#: old path -> (a name it exported, the module that defines it now)
MOVED = {
    "sseflow.makers.base": ("TierMaker", "sseflow.common.maker"),
    "sseflow.makers.bvse": ("BVSEMaker", "sseflow.bvse.jobs"),
    "sseflow.makers.neb": ("CHGNetNEBMaker", "sseflow.neb.jobs"),
    "sseflow.makers.qe": ("QERelaxMaker", "sseflow.qe.jobs"),
    "sseflow.makers.clustering": ("SOAPClusteringMaker", "sseflow.ml.soap.jobs"),
    "sseflow.makers.atomsets": ("AtomSetsMaker", "sseflow.ml.atomsets.jobs"),
    "sseflow.makers.stored_bvse": ("stored_bvse_landscape", "sseflow.bvse.stored"),
    "sseflow.flows.funnel": ("ScreeningFunnelMaker", "sseflow.funnel.maker"),
    "sseflow.flows.gates": ("ThresholdGate", "sseflow.funnel.gates.threshold"),
    "sseflow.flows.rank_gate": ("RankGate", "sseflow.funnel.gates.rank"),
    "sseflow.flows.ml_gate": ("MLPolicyGate", "sseflow.funnel.gates.ml_policy"),
    "sseflow.flows.config": ("load_funnel", "sseflow.funnel.config"),
    "sseflow.flows.training": ("AtomSetsTrainingMaker", "sseflow.ml.atomsets.training"),
    "sseflow.schemas.tier": ("TierDocument", "sseflow.common.document"),
    "sseflow.schemas.candidate": ("Candidate", "sseflow.common.candidate"),
    "sseflow.schemas.bvse": ("BVSEGrid", "sseflow.bvse.schemas"),
    "sseflow.schemas.neb": ("NEBDocument", "sseflow.neb.schemas"),
    "sseflow.schemas.ingest": ("IngestDocument", "sseflow.ingest.schemas"),
    "sseflow.analysis.ingest": ("IngestSettings", "sseflow.ingest.validation"),
    "sseflow.analysis.bvse": ("prepare_bvse_framework", "sseflow.bvse.framework"),
    "sseflow.analysis.qe_calc": ("converge_cutoff_and_kpoints", "sseflow.qe.convergence"),
    "sseflow.analysis.neb_run": ("run_neb", "sseflow.neb.runner"),
    "sseflow.analysis.soap": ("SOAPSettings", "sseflow.ml.soap.descriptor"),
}


def _forget_legacy_modules():
    """Unload the shims, so that importing one again warns again."""
    old_packages = {"makers", "flows", "schemas", "analysis"}
    for name in list(sys.modules):
        parts = name.split(".")
        if parts[0] == "sseflow" and len(parts) > 2 and parts[1] in old_packages:
            del sys.modules[name]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_warns_and_re_exports_the_same_object(old):
    name, new = MOVED[old]
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.rsplit(".", 1)[0]):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_renamed_private_names_still_resolve():
    from sseflow.neb.base import NEBTierMaker

    with pytest.warns(DeprecationWarning):
        sys.modules.pop("sseflow.makers.neb", None)
        legacy = importlib.import_module("sseflow.makers.neb")
    assert legacy._NEBTierMaker is NEBTierMaker


def test_yaml_funnel_with_old_class_paths_and_flat_settings():
    config = {
        "stages": [
            {
                "makers": [
                    {
                        "class": "sseflow.makers.bvse.BVSEMaker",
                        "settings": {"resolution_angstrom": 0.3, "occupancy_mode": "majority"},
                    }
                ],
                "gate": {
                    "class": "sseflow.flows.gates.ThresholdGate",
                    "settings": {"tier": "bvse", "field": "ea_1d_ev", "max_value": 0.6},
                },
            },
            {
                "makers": [
                    {
                        "class": "sseflow.makers.neb.CHGNetNEBMaker",
                        "settings": {"min_length_angstrom": 6.0, "n_images": 3},
                    }
                ],
                "gate": {
                    "class": "sseflow.flows.rank_gate.RankGate",
                    "settings": {"tier": "neb_mlip", "field": "barrier_forward_ev", "top_n": 2},
                },
            },
        ]
    }
    _forget_legacy_modules()
    with pytest.warns(DeprecationWarning):
        funnel = funnel_from_dict(config)
    bvse, neb = (stage.makers[0] for stage in funnel.stages)
    assert bvse.bvse.resolution_angstrom == 0.3 and bvse.bvse.occupancy_mode == "majority"
    assert neb.neb.n_images == 3 and neb.min_length_angstrom == 6.0


def test_stored_makers_keep_their_settings_hash():
    """Makers serialised by sseflow 0.1 (flat fields, old modules) load with equal hashes."""
    legacy = json.loads((LEGACY / "sseflow-0.1-layout.json").read_text())
    for key, entry in legacy["makers"].items():
        maker = MontyDecoder().process_decoded(entry["dict"])
        if key.startswith("qe_"):
            # QE settings were hashed with their MSON keys (module path, sseflow
            # version); values are unchanged, so stored results are still recognised
            # by their settings (see the reuse test below)
            continue
        assert maker.tier_settings_hash() == entry["hash"], key


def test_qe_results_stored_with_mson_keys_are_recognised():
    from sseflow.qe.jobs import QERelaxMaker

    stored_settings = {
        "qe": {
            "@module": "sseflow.analysis.qe_calc",
            "@class": "QESettings",
            "@version": "0.1.0",
            "pw_command": "pw.x",
            "mpi_command": None,
            "pseudo_dir": ".",
            "pseudopotentials": {},
            "ecutwfc_ry": 30.0,
            "ecutrho_ry": None,
            "kpoints": None,
            "kspacing_per_angstrom": None,
            "conv_thr_ry": 1e-08,
            "mixing_beta": 0.5,
            "input_data": {},
        },
        "relax_cell": False,
        "fmax_ev_per_angstrom": 0.05,
        "max_steps": 100,
        "work_dir": None,
    }
    maker = QERelaxMaker(qe={"ecutwfc_ry": 30.0})
    assert settings_hash({"tier": "qe_relax", **stored_settings}) == maker.tier_settings_hash()


def test_workflow_stored_by_0_1_deserialises_with_its_makers():
    legacy = json.loads((LEGACY / "sseflow-0.1-layout.json").read_text())
    _forget_legacy_modules()
    with pytest.warns(DeprecationWarning):
        flow = Flow.from_dict(legacy["flow"])
    stages = flow.jobs[1].function_args[1]
    tiers = [stage.tiers for stage in stages]
    assert tiers == [["soap_clustering", "atomsets"], ["bvse"], ["neb_mlip"], ["neb_dft"]]
    assert stages[1].makers[0].bvse.resolution_angstrom == 0.3
    assert stages[0].makers[1].shipped_model == "atomsets_v1_camns"  # the default of 0.1
    assert stages[2].makers[0].min_length_angstrom == 6.0


def test_workflow_stored_by_0_1_runs_and_reuses_its_stored_result(store_dir):
    """A 0.1 workflow runs, and a 0.1 record (same settings) is reused, not recomputed."""
    record = json.loads((LEGACY / "sseflow-0.1-bvse-record.json").read_text())[0]
    store = get_job_store(data_dir=store_dir)
    store.connect()
    candidate_repository(store).collection.insert_one(record)
    text = (LEGACY / "sseflow-0.1-bvse-flow.json").read_text()
    text = text.replace("/SSEFLOW_EXAMPLES", str(EXAMPLES))
    _forget_legacy_modules()
    with pytest.warns(DeprecationWarning):
        flow = Flow.from_dict(json.loads(text))
    responses = run_locally(flow, store=store, create_folders=False, log=False)
    summaries = [r[1].output for r in responses.values() if hasattr(r[1].output, "reused")]
    assert summaries and summaries[-1].reused == [record["candidate_id"]]
    store.connect()
    (after,) = candidate_repository(store, read_only=True).find({})
    assert after["tiers"]["bvse"]["job_uuid"] == record["tiers"]["bvse"]["job_uuid"]
    assert after["tiers"]["bvse"]["status"] == "passed"
