"""A real MongoDB-protocol server (secantusdb) and FireWorks files pointing at it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """Start ``secantusd-py`` on a free loopback port; yield (host, port)."""
    exe = shutil.which("secantusd-py", path=str(BIN)) or shutil.which("secantusd-py")
    if exe is None:
        pytest.skip("secantusdb is not installed (pip install secantusdb, a test dependency)")
    import pymongo

    port = _free_port()
    folder = tmp_path_factory.mktemp("secantus")
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--storage-path", str(folder / "db")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = pymongo.MongoClient("127.0.0.1", port, serverSelectionTimeoutMS=500)
    deadline = time.monotonic() + 60
    while True:
        try:
            client.admin.command("ping")
            break
        except pymongo.errors.PyMongoError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"secantusd-py did not start: {(folder / 'server.log').read_text()}")
            time.sleep(0.2)
    client.close()
    yield "127.0.0.1", port
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


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
        env = dict(os.environ)
        env["JOBFLOW_CONFIG_FILE"] = str(self.jobflow_file)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
        env.pop("FW_CONFIG_FILE", None)
        env["OMP_NUM_THREADS"] = "1"
        env["PYTHONUNBUFFERED"] = "1"  # worker logs are read while the worker runs
        return env

    def launchpad(self):  # noqa: ANN201 - fireworks is untyped
        from fireworks import LaunchPad

        return LaunchPad.from_file(str(self.launchpad_file))

    def start_worker(self, name: str) -> subprocess.Popen:
        """Start ``rlaunch rapidfire`` (polling every second) in its own folder."""
        workdir = self.folder / name
        workdir.mkdir(exist_ok=True)
        log = (workdir / "rlaunch.log").open("w")
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
            ],
            cwd=workdir,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

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
def fireworks_site(mongo_server: tuple[str, int], tmp_path: Path) -> FireWorksSite:
    """LaunchPad, FWorker and jobflow files (from the shipped templates) for one test."""
    host, port = mongo_server
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
