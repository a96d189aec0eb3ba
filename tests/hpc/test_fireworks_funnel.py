"""The funnel through FireWorks against a real MongoDB-protocol server (secantusdb).

Two concurrent ``rlaunch rapidfire`` workers must run every Firework exactly once and
fill the same candidate records a local run does; a worker killed mid-job must leave
nothing lost or duplicated after ``detect_lostruns --rerun`` and a second pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pymongo
import pytest
from typer.testing import CliRunner

from sseflow.cli import app
from tests.conftest import EXAMPLES, copy_examples
from tests.hpc.conftest import FireWorksSite

pytestmark = pytest.mark.slow

SLOW_ONE = "Li6PS5Cl"  # ~6 s of BVSE with bvlain: the job killed mid-run
INPUTS = [
    "Li2O_antifluorite.cif",
    "Li2S_antifluorite.cif",
    "Li3N_alpha.cif",
    "obelix_122.cif",  # Li6PS5Cl argyrodite, disordered
]


@pytest.fixture
def inputs(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "inputs"
    copy_examples(folder, INPUTS)
    (folder / "broken.cif").write_text("data_broken\n_cell_length_a 5.0\nnot a cif at all\n")
    return sorted(folder.iterdir())


def submit(site: FireWorksSite, paths: list[Path], *options: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sseflow", "submit", "-l", str(site.launchpad_file), *options]
        # without a config: the BVSE funnel, whose workers run in seconds
        + ([] if "--config" in options else ["--skip", "ml", "--until", "bvse"])
        + [str(p) for p in paths],
        env=site.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def wait_all(workers: list[subprocess.Popen], site: FireWorksSite, timeout: float = 600) -> None:
    for i, worker in enumerate(workers):
        try:
            worker.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            worker.kill()
            pytest.fail(f"worker {i} did not finish")


def results_db(site: FireWorksSite) -> pymongo.database.Database:
    return pymongo.MongoClient(site.host, site.port)[site.results_db]


def fireworks(site: FireWorksSite) -> list[dict]:
    return list(site.launchpad().fireworks.find({}, {"spec": 0}))


def assert_records_complete(site: FireWorksSite, n_accepted: int) -> list[dict]:
    records = list(results_db(site).candidates.find({}, {"_id": 0, "structure": 0}))
    ids = Counter(r["candidate_id"] for r in records)
    assert all(n == 1 for n in ids.values()), f"duplicated records: {ids}"
    rejected = [r for r in records if r["last_tier"] == "ingest"]
    assert len(rejected) == 1 and rejected[0]["status"] == "rejected"
    assert "broken.cif" in rejected[0]["sources"][0]["path"]
    screened = [r for r in records if "bvse" in r["tiers"]]
    assert len(screened) == n_accepted
    for rec in screened:
        bvse = rec["tiers"]["bvse"]
        assert bvse["status"] in ("passed", "rejected"), bvse
        assert 0.0 < bvse["ea_1d_ev"] < 2.0
        assert bvse["job_uuid"] and bvse["host"] and bvse["wall_time_s"] > 0
        assert bvse["software"]["sseflow"] and bvse["settings_hash"]
        assert rec["tiers"]["ingest"]["status"] == "passed"
    outputs = Counter(
        (d["uuid"], d["index"]) for d in results_db(site).outputs.find({}, {"uuid": 1, "index": 1})
    )
    assert all(n == 1 for n in outputs.values()), "a job output was stored twice"
    return records


def launch_history(launchpad, fw_id: int) -> dict:
    """What FireWorks holds about one Firework's launches (for a failing assertion)."""
    fw = launchpad.fireworks.find_one(
        {"fw_id": fw_id}, {"state": 1, "launches": 1, "archived_launches": 1}
    )
    ids = set(fw.get("launches", [])) | set(fw.get("archived_launches", []))
    projection = {"launch_id": 1, "fw_id": 1, "state": 1, "launch_dir": 1, "state_history": 1}
    return {
        "firework": fw,
        "launches": list(
            launchpad.launches.find(
                {"$or": [{"fw_id": fw_id}, {"launch_id": {"$in": sorted(ids)}}]}, projection
            )
        ),
    }


def test_two_workers_run_every_firework_once(
    fireworks_site: FireWorksSite, inputs: list[Path], tmp_path: Path
) -> None:
    out = submit(fireworks_site, inputs)
    assert "Firework(s)" in out and "password" not in out
    # both keep polling until the workflow ends (a plain rapidfire worker may quit while
    # the other one runs a stage whose jobs do not exist yet)
    fireworks_site.run_until_done(["worker_a", "worker_b"])

    fws = fireworks(fireworks_site)
    assert {fw["state"] for fw in fws} == {"COMPLETED"}, [(f["name"], f["state"]) for f in fws]
    launchpad = fireworks_site.launchpad()
    (workflow,) = launchpad.workflows.find()
    assert workflow["state"] == "COMPLETED"
    launches = list(launchpad.launches.find())
    per_fw = Counter(launch["fw_id"] for launch in launches)
    assert sorted(per_fw) == sorted(fw["fw_id"] for fw in fws)
    assert set(per_fw.values()) == {1}, f"a Firework ran more than once: {per_fw}"
    by_worker = Counter(Path(launch["launch_dir"]).parent.name for launch in launches)
    assert set(by_worker) == {"worker_a", "worker_b"}, f"one worker ran everything: {by_worker}"
    bvse_fws = [fw for fw in fws if fw["name"].startswith("bvse ")]
    assert len(bvse_fws) == len(INPUTS)

    records = assert_records_complete(fireworks_site, n_accepted=len(INPUTS))

    # submitting the same inputs again reuses the finished BVSE results (id + settings hash)
    submit(fireworks_site, inputs)
    wait_all([fireworks_site.start_worker("again")], fireworks_site)
    again = [fw for fw in fireworks(fireworks_site) if fw["fw_id"] not in per_fw]
    assert again and {fw["state"] for fw in again} == {"COMPLETED"}
    assert not [fw for fw in again if fw["name"].startswith("bvse ")], "BVSE recomputed"
    rerun_records = assert_records_complete(fireworks_site, n_accepted=len(INPUTS))
    for before, after in zip(
        sorted(records, key=lambda r: r["candidate_id"]),
        sorted(rerun_records, key=lambda r: r["candidate_id"]),
        strict=True,
    ):
        assert before["tiers"].get("bvse", {}).get("job_uuid") == after["tiers"].get(
            "bvse", {}
        ).get("job_uuid")

    # the same input screened locally (embedded store) gives the same records
    data_dir = tmp_path / "local-store"
    local = CliRunner().invoke(
        app,
        [
            "screen",
            *map(str, inputs),
            "--data-dir",
            str(data_dir),
            "--skip",
            "ml",
            "--until",
            "bvse",
        ],
    )
    assert local.exit_code == 0, local.output
    listed = CliRunner().invoke(app, ["candidates", "--data-dir", str(data_dir), "--json"])
    local_records = {r["candidate_id"]: r for r in map(json.loads, listed.output.splitlines())}
    assert set(local_records) == {r["candidate_id"] for r in records}
    for rec in records:
        mine = local_records[rec["candidate_id"]]
        assert mine["status"] == rec["status"]
        if "bvse" in rec["tiers"]:
            assert mine["tiers"]["bvse"]["ea_1d_ev"] == pytest.approx(
                rec["tiers"]["bvse"]["ea_1d_ev"], abs=1e-6
            )


def test_killed_worker_is_rerun_without_loss_or_duplicates(
    fireworks_site: FireWorksSite, inputs: list[Path]
) -> None:
    # bvlain: its seconds-long BVSE job leaves time to kill the worker inside it (the
    # native engine's job can end between seeing it start and the kill)
    submit(fireworks_site, inputs, "--bvse-engine", "bvlain")
    launchpad = fireworks_site.launchpad()
    worker = fireworks_site.start_worker("doomed")
    deadline = time.monotonic() + 300
    while True:
        # kill inside the job itself, not while the worker holds the workflow lock
        # (FireWorks locks a workflow only while it updates it)
        running = launchpad.fireworks.find_one(
            {"state": "RUNNING", "name": {"$regex": f"^bvse {SLOW_ONE}"}}
        )
        if (
            running is not None
            and f"Starting job - bvse {SLOW_ONE}" in fireworks_site.worker_log("doomed")
            and launchpad.workflows.find_one({"locked": True}) is None
        ):
            break
        assert worker.poll() is None, fireworks_site.worker_log("doomed")
        assert time.monotonic() < deadline, "the slow BVSE job never started"
        time.sleep(0.1)
    fireworks_site.kill(worker)
    killed_id = running["fw_id"]
    assert launchpad.get_fw_dict_by_id(killed_id)["state"] == "RUNNING"  # stuck, as on a node crash
    finished_before = {
        fw["fw_id"] for fw in launchpad.fireworks.find({"state": "COMPLETED"}, {"fw_id": 1})
    }
    assert finished_before, "the worker finished nothing before it was killed"

    time.sleep(2)
    _, lost_fws, _ = launchpad.detect_lostruns(expiration_secs=1, rerun=True)
    assert lost_fws == [killed_id]

    workers = [fireworks_site.start_worker("rerun_a"), fireworks_site.start_worker("rerun_b")]
    wait_all(workers, fireworks_site)

    fws = fireworks(fireworks_site)
    assert {fw["state"] for fw in fws} == {"COMPLETED"}
    for fw in fws:
        launches = list(launchpad.launches.find({"fw_id": fw["fw_id"], "state": "COMPLETED"}))
        assert len(launches) == 1, (
            f"{fw['name']} completed {len(launches)} times; its launches "
            + repr(launch_history(launchpad, fw["fw_id"]))
        )
        where = Path(launches[0]["launch_dir"]).parent.name
        if fw["fw_id"] in finished_before:
            assert where == "doomed", f"{fw['name']} was recomputed after the kill"
        else:
            assert where in ("rerun_a", "rerun_b")
    assert_records_complete(fireworks_site, n_accepted=len(INPUTS))


def test_emptied_funnel_ends_defused_and_a_tier_without_output_is_recorded(
    fireworks_site: FireWorksSite, tmp_path: Path
) -> None:
    """A stage that rejects everyone defuses what follows (the workflow ends DEFUSED); a
    tier job that raises (no output at all) fizzles and its candidate is recorded failed."""
    nobody = (
        "    gate: {class: sseflow.funnel.gates.ThresholdGate,\n"
        "           settings: {tier: pid, field: density_g_per_cm3, max_value: 0.0}}\n"
    )
    rejecting = tmp_path / "rejecting.yaml"
    rejecting.write_text(
        "stages:\n  - makers: [{class: tests.funnel.plugins.PidMaker}]\n"
        + nobody
        + "  - makers: [{class: tests.funnel.plugins.PidMaker}]\n"
    )
    first = [EXAMPLES / "Li2O_antifluorite.cif", EXAMPLES / "Li2S_antifluorite.cif"]
    submit(fireworks_site, first, "--config", str(rejecting))
    wait_all([fireworks_site.start_worker("first")], fireworks_site)
    launchpad = fireworks_site.launchpad()
    (workflow,) = launchpad.workflows.find()
    assert workflow["state"] == "DEFUSED"
    states = {fw["name"]: fw["state"] for fw in fireworks(fireworks_site)}
    assert states["gate 0 (pid)"] == "COMPLETED" and "DEFUSED" in states.values(), states
    assert not any(name.startswith("stage 1") for name in states)
    records = {r["formula"]: r for r in results_db(fireworks_site).candidates.find({})}
    assert {records[f]["status"] for f in ("Li2O", "Li2S")} == {"rejected"}

    crashing = tmp_path / "crashing.yaml"
    crashing.write_text(
        "stages:\n  - makers: [{class: tests.funnel.plugins.PidMaker, settings: {crash: [Li3N]}}]\n"
    )
    second = [EXAMPLES / "Li2Te_antifluorite.cif", EXAMPLES / "Li3N_alpha.cif"]
    submit(fireworks_site, second, "--config", str(crashing))
    wait_all([fireworks_site.start_worker("second")], fireworks_site)
    states = {fw["name"]: fw["state"] for fw in fireworks(fireworks_site)}
    assert states["pid Li3N"] == "FIZZLED" and states["pid Li2Te"] == "COMPLETED", states
    records = {r["formula"]: r for r in results_db(fireworks_site).candidates.find({})}
    assert records["Li2Te"]["status"] == "passed"
    li3n = records["Li3N"]
    assert li3n["status"] == "failed" and "without a result" in li3n["reason"]
    assert li3n["tiers"]["pid"]["status"] == "failed" and li3n["last_tier"] == "pid"
