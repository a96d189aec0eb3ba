"""Shared fixtures: small real structures, an embedded store in a temp folder, and a
real MongoDB-protocol server (``mongo_uri``)."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from sseflow.common.candidate import Candidate, SourceInfo
from sseflow.ingest.oxidation import decorate_with_oxidation_states, guess_oxidation_states

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "structures"
OBELIX_CIFS = REPO / "src" / "sseflow" / "data" / "obelix" / "cifs"

warnings.filterwarnings("ignore", category=FutureWarning)


def antifluorite(a: float, anion: str) -> Structure:
    """Conventional antifluorite Li2X cell (Fm-3m, Li 8c, X 4a), lattice a in A."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), ["Li", anion], [[0.25, 0.25, 0.25], [0, 0, 0]]
    )


def copy_examples(folder: Path, names: list[str] | tuple[str, ...]) -> list[Path]:
    """Copy example structures into ``folder`` (created); return the copies, sorted."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(EXAMPLES / name, folder / name)
    return sorted(p for p in folder.iterdir() if p.is_file())


@pytest.fixture
def li2s() -> Structure:
    return antifluorite(5.71, "S")


@pytest.fixture
def li2te() -> Structure:
    return antifluorite(6.517, "Te")


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "sseflow-data"


def memory_candidate(
    candidate_id: str, structure: Structure, states: dict[str, float] | None = None
) -> Candidate:
    """A Candidate built in memory, decorated with ``states`` (default: guessed)."""
    states = states or guess_oxidation_states(structure.composition)
    return Candidate(
        candidate_id=candidate_id,
        formula=structure.composition.reduced_formula,
        structure=decorate_with_oxidation_states(structure, states),
        oxidation_states=states,
        source=SourceInfo(path="<memory>", format="structure"),
    )


#: Ten shipped OBELiX training entries and their measured conductivities (S/cm).
OBELIX_LABELS = {
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


@pytest.fixture
def labels_csv(tmp_path: Path) -> Path:
    """Label CSV (id, sigma_s_per_cm, cif_path) of :data:`OBELIX_LABELS`."""
    path = tmp_path / "labels.csv"
    rows = [f"{i},{s},{OBELIX_CIFS / f'{i}.cif'}" for i, s in OBELIX_LABELS.items()]
    path.write_text("id,sigma_s_per_cm,cif_path\n" + "\n".join(rows) + "\n")
    return path


# --- a real MongoDB-wire-protocol server (secantusdb) for the MongoDB code paths ---

SECANTUS_START_TIMEOUT_S = 60.0


def _secantus_command() -> list[str] | None:
    """``secantusd-py`` with findAndModify made atomic (see tests/secantus_server.py)."""
    if importlib.util.find_spec("secantus") is None:
        return None
    return [sys.executable, str(Path(__file__).with_name("secantus_server.py"))]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, n_chars: int = 2000) -> str:
    return path.read_text(errors="replace")[-n_chars:] if path.exists() else "(no log)"


def _start_secantus(command: list[str], folder: Path) -> tuple[subprocess.Popen, str, Path]:
    """Start a server on a free loopback port; retry on a port taken in between."""
    import pymongo

    config = folder / "secantusd.toml"
    config.write_text("# empty: passing --config turns off the search for other config files\n")
    for attempt in range(3):
        port = _free_port()
        log = folder / f"secantusd-{attempt}.log"
        with open(log, "w") as handle:
            proc = subprocess.Popen(
                [
                    *command,
                    "--config",
                    str(config),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--storage-path",
                    str(folder / f"data-{attempt}"),
                    "--log-level",
                    "WARNING",
                ],
                stdout=handle,
                stderr=subprocess.STDOUT,
                cwd=folder,
            )
        uri = f"mongodb://127.0.0.1:{port}/"
        deadline = time.monotonic() + SECANTUS_START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500)
            try:
                client.admin.command("ping")
                return proc, uri, log
            except pymongo.errors.PyMongoError:
                time.sleep(0.2)
            finally:
                client.close()
        _stop(proc)
        if time.monotonic() >= deadline:
            pytest.fail(
                f"secantusd-py did not answer within {SECANTUS_START_TIMEOUT_S} s:\n"
                + _log_tail(log)
            )
    pytest.fail("secantusd-py exited at start three times; last log:\n" + _log_tail(log))


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URI of a MongoDB-protocol server (secantusdb) running for the test session.

    The server listens on a free loopback port with its own data folder and is stopped
    at the end of the session. Tests share it: give each test its own database (see
    ``mongo_db_name``). Its ``findAndModify`` is atomic, as mongod's is (secantusdb's
    is not: tests/secantus_server.py). Skipped when secantusdb is not installed.
    """
    command = _secantus_command()
    if command is None:
        pytest.skip("secantusdb not installed: `pip install secantusdb` to run MongoDB tests")
    proc, uri, _ = _start_secantus(command, tmp_path_factory.mktemp("secantus"))
    try:
        yield uri
    finally:
        _stop(proc)


@pytest.fixture
def mongo_db_name(mongo_uri: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database name of this test alone on the ``mongo_uri`` server (dropped after)."""
    import pymongo

    name = "t_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:16]
    client = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=5000)
    client.drop_database(name)
    try:
        yield name
    finally:
        client.drop_database(name)
        client.close()


# --- one real funnel run (BVSE tier) on the example structures, shared by query tests ---

#: BVSE gate of the shared funnel runs, eV: ~0.1 eV from every barrier below, so a
#: change of the BVSE engine within its 0.01 eV tolerance changes no verdict (the
#: default 0.6 eV gate sits 0.006 eV under Li7BiO6's barrier).
TEST_GATE_EV = 0.5


def bvse_funnel():
    """The BVSE stage alone, gated at E_1D <= TEST_GATE_EV (``sseflow screen --skip ml
    --until bvse --max-ea 0.5``): what sseflow ran by default before the ML and NEB
    stages joined it."""
    from sseflow.bvse.jobs import BVSEMaker
    from sseflow.funnel.gates.threshold import bvse_gate
    from sseflow.funnel.maker import ScreeningFunnelMaker, Stage

    return ScreeningFunnelMaker(stages=[Stage([BVSEMaker()], bvse_gate(TEST_GATE_EV, "1D"))])


SCREENED_INPUTS = (
    "Li2S_antifluorite.cif",  # passes BVSE (E_1D ~0.34 eV)
    "Li3N_alpha.cif",  # passes BVSE (E_1D ~0.19 eV)
    "obelix_gvd.cif",  # the same crystal as Li3N_alpha: merged into its record
    "obelix_jqc.cif",  # Li7BiO6: rejected at BVSE (E_1D ~0.61 eV > TEST_GATE_EV)
)


@pytest.fixture(scope="session")
def screened_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Embedded store folder after the BVSE funnel ran on four examples + a bad file.

    Read-only for tests: copy it (``screened_copy``) before writing to it.
    """
    from jobflow import run_locally

    from sseflow.store import get_job_store

    folder = tmp_path_factory.mktemp("screened")
    broken = folder / "broken.cif"
    broken.write_text("data_broken\n_this is not a cif\n")
    inputs = [EXAMPLES / name for name in SCREENED_INPUTS] + [broken]
    data_dir = folder / "sseflow-data"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_locally(
            bvse_funnel().make(inputs),
            store=get_job_store(data_dir=data_dir),
            create_folders=False,
            log=False,
        )
    return data_dir


@pytest.fixture
def screened_copy(screened_store: Path, tmp_path: Path) -> Path:
    """A private, writable copy of ``screened_store``."""
    return Path(shutil.copytree(screened_store, tmp_path / "sseflow-data"))
