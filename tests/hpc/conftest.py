"""FireWorks and jobflow files pointing at the test session's MongoDB-protocol server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.conftest import REPO

BIN = Path(sys.executable).parent


@dataclass
class FireWorksSite:
    """FireWorks + jobflow files for one test, each test with its own databases."""

    folder: Path
    host: str
    port: int
    launchpad_db: str
    results_db: str

    @property
    def launchpad_file(self) -> Path:
        return self.folder / "my_launchpad.yaml"

    @property
    def fworker_file(self) -> Path:
        return self.folder / "my_fworker.yaml"

    @property
    def jobflow_file(self) -> Path:
        return self.folder / "jobflow.yaml"

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment of a worker or submitting process."""
        return self.env_for(self.jobflow_file)

    @staticmethod
    def env_for(jobflow_file: Path) -> dict[str, str]:
        """Environment of an sseflow/rlaunch process using ``jobflow_file``."""
        env = dict(os.environ)
        env["JOBFLOW_CONFIG_FILE"] = str(jobflow_file)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
        env.pop("FW_CONFIG_FILE", None)
        env["OMP_NUM_THREADS"] = "1"
        env["PYTHONUNBUFFERED"] = "1"  # worker logs are read while the worker runs
        return env

    def launchpad(self):
        from fireworks import LaunchPad

        return LaunchPad.from_file(str(self.launchpad_file))

    def start_worker(self, name: str, keep_polling: bool = False) -> subprocess.Popen:
        """Start ``rlaunch rapidfire`` (polling every second) in its own folder.

        A plain rapidfire worker quits when nothing is ready and no running Firework has
        waiting children, which happens while another worker runs a funnel stage (its
        jobs are added only when it finishes). ``keep_polling`` starts it with
        ``--nlaunches infinite``: it polls until stopped (see :meth:`run_until_done`).
        """
        workdir = self.folder / name
        workdir.mkdir(exist_ok=True)
        log = (workdir / "rlaunch.log").open("w")
        polling = ["--nlaunches", "infinite"] if keep_polling else []
        return subprocess.Popen(
            [
                str(BIN / "rlaunch"),
                "-l",
                str(self.launchpad_file),
                "-w",
                str(self.fworker_file),
                "rapidfire",
                "--sleep",
                "1",
                "--timeout",
                "600",
                *polling,
            ],
            cwd=workdir,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def run_until_done(self, names: list[str], timeout_s: float = 600) -> None:
        """Run polling workers until every workflow has ended, then stop them."""
        import time

        workers = [self.start_worker(name, keep_polling=True) for name in names]
        launchpad = self.launchpad()
        deadline = time.monotonic() + timeout_s
        busy = ["READY", "RESERVED", "RUNNING", "WAITING"]
        try:
            while launchpad.fireworks.count_documents({"state": {"$in": busy}}):
                for worker in workers:
                    assert worker.poll() is None, f"a worker died: {worker.args}"
                assert time.monotonic() < deadline, "the workflow did not finish in time"
                time.sleep(0.5)
        finally:
            for worker in workers:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=30)

    @staticmethod
    def kill(worker: subprocess.Popen) -> None:
        """SIGKILL a worker and everything it started (as a node failure would)."""
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)

    def worker_log(self, name: str) -> str:
        return (self.folder / name / "rlaunch.log").read_text()


def _jobflow_config(host: str, port: int, database: str) -> dict:
    """The shipped config/jobflow.yaml template pointed at the test server."""
    config = yaml.safe_load((REPO / "config" / "jobflow.yaml").read_text())
    job_store = config["JOB_STORE"]
    for store in (job_store["docs_store"], *job_store["additional_stores"].values()):
        store.update(host=host, port=port, database=database)
    return config


@pytest.fixture
def fireworks_site(mongo_uri: str, tmp_path: Path) -> FireWorksSite:
    """LaunchPad, FWorker and jobflow files (from the shipped templates) for one test.

    Uses the session's secantusdb server (``mongo_uri`` in tests/conftest.py) with a
    LaunchPad database and a results database of this test alone.
    """
    parsed = urlsplit(mongo_uri)
    host, port = str(parsed.hostname), int(parsed.port or 27017)
    tag = uuid.uuid4().hex[:8]
    site = FireWorksSite(tmp_path, host, port, f"fw_{tag}", f"sseflow_{tag}")
    launchpad = yaml.safe_load(
        (REPO / "config" / "fireworks" / "local" / "my_launchpad.yaml").read_text()
    )
    launchpad.update(host=host, port=port, name=site.launchpad_db, strm_lvl="WARNING")
    site.launchpad_file.write_text(yaml.safe_dump(launchpad))
    shutil.copy(REPO / "config" / "fireworks" / "local" / "my_fworker.yaml", site.fworker_file)
    site.jobflow_file.write_text(yaml.safe_dump(_jobflow_config(host, port, site.results_db)))
    site.launchpad().reset("", require_password=False)
    return site
