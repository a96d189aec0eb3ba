"""Progress of a funnel run: stage bars from jobflow's job events, NEB live line."""

import json

from ase import Atoms
from ase.calculators.emt import EMT
from ase.io import Trajectory
from rich.console import Console

from sseflow.cli._progress import FunnelProgress, neb_status
from sseflow.funnel.defaults import default_stages


def test_neb_status_reads_stage_step_and_force(tmp_path):
    assert neb_status(tmp_path) == "relaxing the endpoints"
    (tmp_path / "neb_state.json").write_text(json.dumps({"stage": "ci", "n_steps_ci": 7}))
    images = []
    for x in (0.0, 0.4, 1.0):  # a Cu atom hopping along x in a small cell
        atoms = Atoms("Cu2", positions=[[0, 0, 0], [2.5 + x, 0, 0]], cell=[8, 8, 8], pbc=True)
        atoms.calc = EMT()
        atoms.get_forces()
        images.append(atoms)
    with Trajectory(str(tmp_path / "neb_images.traj"), "w") as traj:
        for atoms in images:
            traj.write(atoms)
    text = neb_status(tmp_path, band_size=3)
    assert text.startswith("climbing image step 7, max force ") and text.endswith(" eV/A")
    assert float(text.split("max force ")[1].split()[0]) > 0
    (tmp_path / "neb_state.json").write_text(json.dumps({"stage": "done"}))
    assert neb_status(tmp_path, band_size=3) == "finished"


class OutputStore:
    """Job outputs by uuid, as the job store answers ``query_one``."""

    def __init__(self, outputs):
        self.outputs = outputs

    def query_one(self, criteria, properties=None, load=None):
        return {"output": self.outputs.get(criteria["uuid"])}


def test_stage_bars_follow_the_jobs():
    stages = default_stages()[:2]
    outputs = {
        "u-ingest": {
            "accepted": [{"candidate_id": f"sse-{i}", "formula": "Li2S"} for i in range(3)]
        },
        "u-gate0": {"passed": ["sse-0", "sse-1"], "rejected": ["sse-2"]},
        "u-gate1": {"passed": ["sse-0"], "rejected": ["sse-1"], "reused": ["sse-1"]},
    }
    console = Console(record=True, width=100)
    with FunnelProgress(stages, OutputStore(outputs), console) as progress:
        events = [
            ("start", "ingest", "u-ingest"),
            ("done", "ingest", "u-ingest"),
            ("start", "stage 0", "s0"),
            ("done", "soap clustering", "j1"),  # batch tiers: all candidates at once
            ("done", "atomsets (3 candidates)", "j2"),
            ("done", "gate 0 (soap_clustering, atomsets)", "u-gate0"),
            ("start", "stage 1", "s1"),
            ("done", "bvse Li2S sse-0", "j3"),
            ("done", "record bvse sse-0", "j4"),  # bookkeeping jobs do not count
            ("done", "gate 1 (bvse)", "u-gate1"),
        ]
        for event, name, uuid in events:
            progress.job_event(event, name, uuid)
        tasks = progress.progress.tasks
        assert [(t.completed, t.total) for t in tasks] == [(3, 3), (3, 3), (2, 2)]
        assert tasks[0].fields["note"] == "3 accepted"
        assert tasks[1].fields["note"] == "2 passed, 1 rejected"
        assert tasks[2].fields["note"] == "1 passed, 1 rejected, 1 reused"
    text = console.export_text()
    assert "1/2 ML" in text and "2/2 BVSE" in text
