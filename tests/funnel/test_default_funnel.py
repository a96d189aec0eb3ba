"""The default funnel end to end at test size, as a user runs it from the shell.

Two small structures (Li2S, Li2O) go through ML (SOAP selection + P_SI + band gap),
BVSE and MLIP CI-NEB; the DFT stage has no Quantum ESPRESSO set-up, so the best MLIP
candidate is recorded ``pending`` with the command that runs the stage later. That
command, run with the test pseudopotentials, computes the DFT CI-NEB on the same store
without running anything before it again. Output is checked for third-party noise.
"""

import json
import os
import shlex
import subprocess
import sys

import pytest
from pymatgen.core import Structure

from sseflow.ingest.batch import ingest
from sseflow.store import candidate_repository, get_job_store
from tests.conftest import EXAMPLES, REPO

TINY = REPO / "tests" / "data" / "funnel" / "tiny_default.yaml"
PSEUDO = REPO / "tests" / "data" / "pseudo"
NOISE = (
    "CHGNet will run on",
    "CHGNet v",
    "oneDNN",
    "cuda",
    "absl",
    "Starting job",
    "WARNING:",
    "UserWarning",
)


def sseflow(*args, env):
    done = subprocess.run(
        [sys.executable, "-m", "sseflow", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        cwd=env["SSEFLOW_WORK_DIR"],
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def records(data_dir):
    store = get_job_store(data_dir=data_dir)
    store.connect()
    return {r["formula"]: r for r in candidate_repository(store, read_only=True).find({})}


@pytest.mark.slow
def test_default_funnel_pending_dft_then_resume(tmp_path):
    data = tmp_path / "db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSEFLOW_")}
    env.update(SSEFLOW_WORK_DIR=str(tmp_path), COLUMNS="80")
    inputs = [EXAMPLES / "Li2S_antifluorite.cif", EXAMPLES / "Li2O_antifluorite.cif"]
    out = sseflow("screen", *inputs, "--config", TINY, "--data-dir", data, env=env)
    assert not [word for word in NOISE if word in out], out
    assert "4/4 DFT CI-NEB" in out and "ranked shortlist" in out
    assert max(len(line) for line in out.splitlines() if not line.startswith("  sseflow")) <= 80

    before = records(data)
    li2s, li2o = before["Li2S"], before["Li2O"]
    for rec in (li2s, li2o):  # ML, BVSE and MLIP CI-NEB ran on both
        tiers = rec["tiers"]
        assert isinstance(tiers["soap_clustering"]["selected"], bool)
        assert 0 <= tiers["atomsets"]["p_si"] <= 1 and tiers["atomsets"]["band_gap_ev"] > 1
        assert tiers["bvse"]["status"] == "passed" and tiers["bvse"]["ea_1d_ev"] < 0.6
        assert 0.05 < tiers["neb_mlip"]["barrier_forward_ev"] < 0.6
    # the lower MLIP barrier goes to DFT, which cannot run here: it waits
    assert (
        li2o["tiers"]["neb_mlip"]["barrier_forward_ev"]
        < li2s["tiers"]["neb_mlip"]["barrier_forward_ev"]
    )
    assert li2s["status"] == "rejected" and "top 1 pass" in li2s["reason"]
    waiting = li2o["tiers"]["neb_dft"]
    assert li2o["status"] == "pending" and li2o["last_tier"] == "neb_dft"
    assert waiting["deferred"] and "pseudopotential folder" in li2o["reason"]
    command = waiting["resume_command"]
    assert command in out and "--qe-pseudo-dir PSEUDO_DIR" in command
    assert f"--config {TINY}" in command and f"--data-dir {data}" in command

    # the recorded command, with the pseudopotential folder filled in, resumes at DFT
    args = shlex.split(command.replace("PSEUDO_DIR", str(PSEUDO)))
    assert args[:2] == ["sseflow", "resume"]
    out = sseflow(*args[1:], env=env)
    assert not [word for word in NOISE if word in out], out
    after = records(data)
    dft = after["Li2O"]["tiers"]["neb_dft"]
    assert not dft.get("deferred") and dft["status"] in ("passed", "rejected", "failed")
    assert dft["calculator"].startswith("Quantum ESPRESSO") and dft["qe_version"]
    assert dft["pseudopotentials"] == {"Li": "Li_ONCV_PBE-1.2.upf", "O": "O_ONCV_PBE-1.2.upf"}
    assert after["Li2O"]["status"] != "pending"
    for tier in ("soap_clustering", "atomsets", "bvse", "neb_mlip"):  # nothing rerun
        assert after["Li2O"]["tiers"][tier]["job_uuid"] == li2o["tiers"][tier]["job_uuid"]
    assert after["Li2S"]["tiers"] == li2s["tiers"]

    # export: input, ordered cell, NEB supercell, endpoints and images of both NEB tiers
    xyz = tmp_path / "xyz"
    sseflow("export", "--top", "2", "--format", "extxyz", "--out", xyz, "--data-dir", data, env=env)
    (folder,) = [p for p in xyz.iterdir() if "Li2O" in p.name]
    for tier in ("neb_mlip", "neb_dft"):
        (hop,) = (folder / tier).iterdir()
        assert {"supercell.extxyz", "initial.extxyz", "final.extxyz", "images.extxyz"} <= {
            p.name for p in hop.iterdir()
        }
    cif = tmp_path / "cif"
    sseflow("export", "--top", "1", "--out", cif, "--data-dir", data, env=env)
    (folder,) = [p for p in cif.iterdir() if p.is_dir()]
    back = ingest([Structure.from_file(folder / "input.cif")]).accepted[0]
    assert back.candidate_id == after["Li2O"]["candidate_id"]
    report = tmp_path / "report"
    sseflow("report", "--out", report, "--data-dir", data, env=env)
    assert (report / "neb_profiles.png").exists()
    summary = json.loads((report / "summary.json").read_text())
    ml = next(s for s in summary["stages"] if "atomsets" in s["tiers"])
    assert (ml["entered"], ml["passed"]) == (2, 2)
