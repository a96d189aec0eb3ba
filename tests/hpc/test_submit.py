"""``sseflow submit`` pieces: LaunchPad files, worker store check, Firework options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fireworks import FWorker
from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter
from jobflow import JobStore
from jobflow.settings import JobflowSettings
from maggma.stores import MemoryStore, MongoStore

from sseflow.funnel.maker import ScreeningFunnelMaker
from sseflow.hpc import (
    LaunchPadConfigError,
    WorkerStoreError,
    check_worker_store,
    describe_launchpad,
    load_launchpad,
    submit_funnel,
)
from sseflow.hpc.launchpad import launchpad_file
from tests.conftest import EXAMPLES, REPO
from tests.hpc.conftest import FireWorksSite

TEMPLATES = REPO / "config" / "fireworks"


def test_launchpad_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(LaunchPadConfigError, match="does not exist"):
        launchpad_file(tmp_path / "nope.yaml")


def test_no_configured_launchpad_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import fireworks.fw_config

    monkeypatch.setattr(fireworks.fw_config, "LAUNCHPAD_LOC", None)
    with pytest.raises(LaunchPadConfigError, match="--launchpad"):
        launchpad_file(None)


def test_unreachable_server_is_reported_without_password(tmp_path: Path) -> None:
    config = {
        "host": "127.0.0.1",
        "port": 9,  # discard port: nothing listens
        "name": "fw",
        "username": "ann",
        "password": "s3cret-pw",
        "mongoclient_kwargs": {"serverSelectionTimeoutMS": 300},
    }
    file = tmp_path / "my_launchpad.yaml"
    file.write_text(yaml.safe_dump(config))
    with pytest.raises(LaunchPadConfigError, match="does not answer") as err:
        load_launchpad(file)
    assert "s3cret-pw" not in str(err.value)
    assert "127.0.0.1:9/fw" in str(err.value)


def test_memory_job_store_is_refused() -> None:
    with pytest.raises(WorkerStoreError, match="candidates"):
        check_worker_store(JobStore(MemoryStore()))
    local = JobStore(
        MemoryStore(), additional_stores={"candidates": MemoryStore(), "data": MemoryStore()}
    )
    with pytest.raises(WorkerStoreError, match="MemoryStore"):
        check_worker_store(local)


def test_shipped_jobflow_template_passes_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBFLOW_CONFIG_FILE", str(REPO / "config" / "jobflow.yaml"))
    store = check_worker_store(JobflowSettings().JOB_STORE)  # as jobflow reads it
    assert isinstance(store.docs_store, MongoStore)
    assert {s.collection_name for s in store.additional_stores.values()} == {"candidates", "data"}


def test_shipped_fireworks_templates_load() -> None:
    for setup in ("local", "slurm"):
        worker = FWorker.from_file(str(TEMPLATES / setup / "my_fworker.yaml"))
        assert worker.name
        lp = yaml.safe_load((TEMPLATES / setup / "my_launchpad.yaml").read_text())
        assert {"host", "port", "name", "username", "password"} <= set(lp)
        assert lp["password"] is None  # templates never carry a credential
        fw_config = yaml.safe_load((TEMPLATES / setup / "FW_config.yaml").read_text())
        assert "CONFIG_FILE_DIR" in fw_config
    adapter = CommonAdapter.from_file(str(TEMPLATES / "slurm" / "my_qadapter.yaml"))
    script = adapter.get_script_str("/scratch/launch")
    assert "#SBATCH --time=24:00:00" in script
    assert "rlaunch -w" in script and "JOBFLOW_CONFIG_FILE" in script
    assert "cd /scratch/launch" in script


def test_submit_adds_workflow_with_options_and_no_store(fireworks_site: FireWorksSite) -> None:
    launchpad = load_launchpad(fireworks_site.launchpad_file)
    assert describe_launchpad(launchpad).endswith(f"/{fireworks_site.launchpad_db}")
    result = submit_funnel(
        [EXAMPLES / "Li2O_antifluorite.cif"],
        launchpad,
        funnel=ScreeningFunnelMaker(name="test funnel"),
        category="bvse-nodes",
        priority=7,
    )
    assert result.workflow_name == "test funnel" and len(result.fw_ids) == 2
    assert len(result.root_fw_ids) == 1
    root = launchpad.get_fw_by_id(result.root_fw_ids[0])
    assert root.name == "ingest"
    for fw_id in result.fw_ids:
        fw = launchpad.get_fw_by_id(fw_id)
        assert fw.spec["_category"] == "bvse-nodes" and fw.spec["_priority"] == 7
        task = fw.tasks[0]
        assert task["store"] is None  # workers use their own JOB_STORE: no credentials here
        job = task["job"]
        assert job.metadata["sseflow_version"]
        # the options reach the stages the funnel adds at run time
        updates = json.dumps(job.config_updates, default=str)
        assert "bvse-nodes" in updates


def test_cli_refuses_a_memory_job_store(tmp_path: Path) -> None:
    env_file = tmp_path / "jobflow.yaml"
    env_file.write_text("JOB_STORE:\n  docs_store:\n    type: MemoryStore\n")
    done = subprocess.run(
        [sys.executable, "-m", "sseflow", "submit", str(EXAMPLES / "Li3N_alpha.cif")],
        env={**FireWorksSite.env_for(env_file)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert "candidates" in done.stderr and "--no-store-check" in done.stderr
