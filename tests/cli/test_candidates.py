"""``sseflow candidates`` / ``show`` on a real funnel run (embedded store)."""

import csv
import hashlib
import io
import json

from typer.testing import CliRunner

from sseflow.cli import app
from sseflow.ml.atomsets.schemas import AtomSetsDocument
from sseflow.neb.schemas import NEBDocument
from sseflow.store import candidate_repository, get_job_store
from tests.conftest import TEST_GATE_EV

runner = CliRunner()


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def rows(result):
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def collection_hashes(data_dir):
    """Content hashes of the embedded store's collection files."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data_dir.rglob("*.collection"))
    }


def test_default_table_sorted_by_bvse_barrier(screened_store):
    result = run("candidates", "--data-dir", screened_store)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("Li3N") < out.index("Li2S") < out.index("Li7BiO6")
    assert "E_1D (eV)" in out and "P_SI" not in out  # optional columns only with values
    assert "4 candidate(s)" in out
    limited = run("candidates", "--data-dir", screened_store, "--limit", "2")
    assert "2 of 4 candidate(s)" in limited.stdout


def test_json_sorting_missing_last_and_desc(screened_store):
    records = rows(run("candidates", "--data-dir", screened_store, "--json"))
    assert [r["formula"] for r in records] == ["Li3N", "Li2S", "Li7BiO6", None]
    assert "structure" not in records[0] and len(records[0]["sources"]) == 2  # merged
    desc = rows(
        run(
            "candidates", "--data-dir", screened_store, "--format", "json", "--sort", "ea", "--desc"
        )
    )
    assert [r["formula"] for r in desc] == ["Li7BiO6", "Li2S", "Li3N", None]
    by_formula = rows(
        run("candidates", "--data-dir", screened_store, "--json", "--sort", "formula")
    )
    assert [r["formula"] for r in by_formula] == ["Li2S", "Li3N", "Li7BiO6", None]
    with_structure = rows(
        run(
            "candidates", "--data-dir", screened_store, "--json", "--structure", "--formula", "Li2S"
        )
    )
    assert with_structure[0]["structure"]["lattice"]


def test_csv_with_chosen_fields(screened_store):
    result = run(
        "candidates",
        "--data-dir",
        screened_store,
        "--format",
        "csv",
        "--fields",
        "id,formula,ea,tiers.bvse.status,sources.path",
        "--sort",
        "ea",
        "--desc",
    )
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(table[0]) == [
        "candidate_id",
        "formula",
        "tiers.bvse.ea_1d_ev",
        "tiers.bvse.status",
        "sources.path",
    ]
    assert [r["formula"] for r in table] == ["Li7BiO6", "Li2S", "Li3N", ""]
    assert (
        table[0]["tiers.bvse.status"] == "rejected"
        and float(table[0]["tiers.bvse.ea_1d_ev"]) > TEST_GATE_EV
    )
    assert table[-1]["tiers.bvse.ea_1d_ev"] == "" and table[-1]["sources.path"].endswith(".cif")
    assert table[2]["sources.path"].count(";") == 1  # two merged inputs
    nested = rows(run("candidates", "--data-dir", screened_store, "--json", "--fields", "id,ea"))
    assert set(nested[0]) == {"candidate_id", "tiers"} and set(nested[0]["tiers"]) == {"bvse"}


def test_filters(screened_store):
    def formulas(*args):
        return [
            r["formula"]
            for r in rows(run("candidates", "--data-dir", screened_store, "--json", *args))
        ]

    assert formulas("-e", "S") == ["Li2S"]
    assert formulas("--tier", "bvse", "-x", "S", "-x", "Bi") == ["Li3N"]
    assert formulas("--tier", "ingest", "--status", "rejected") == [None]
    assert formulas("--status", "rejected") == ["Li7BiO6", None]
    assert formulas("--min-ea", "0.3", "--max-ea", "0.7") == ["Li2S", "Li7BiO6"]
    assert formulas("--where", "tiers.bvse.wall_time_s>0", "--where", "formula!=Li2S") == [
        "Li3N",
        "Li7BiO6",
    ]
    assert formulas("--formula", "Li3N", "--where", "nsites<=8") == ["Li3N"]
    # barriers in another dimension are stored too
    assert formulas("--dimension", "3d", "--max-ea", "5") == formulas("--where", "ea_3d<=5")


def test_usage_errors_exit_2_and_missing_store_exits_1(screened_store, tmp_path):
    for args in (
        ["--where", "p_si>>1"],
        ["--sort", "$natural"],
        ["--status", "done"],
        ["--format", "xml"],
        ["--dimension", "4D"],
        ["--min-ea", "0.5", "--max-ea", "0.1"],
        ["--fields", "id,tiers..x"],
    ):
        result = run("candidates", "--data-dir", screened_store, *args)
        assert result.exit_code == 2, (args, result.output)
    missing = tmp_path / "nothing-here"
    result = run("candidates", "--data-dir", missing)
    assert result.exit_code == 1 and "no sseflow store" in result.output
    assert not missing.exists()  # a query never creates a store
    assert run("show", "sse-000000000000", "--data-dir", screened_store).exit_code == 1


def test_p_si_and_neb_filters(screened_copy):
    store = get_job_store(data_dir=screened_copy, uri="")
    store.connect()
    repo = candidate_repository(store, read_only=False)
    ids = {r["formula"]: r["candidate_id"] for r in repo.find({"formula": {"$ne": None}})}
    for formula, p_si in (("Li3N", 0.81), ("Li2S", 0.42), ("Li7BiO6", 0.66)):
        repo.set_tier(
            AtomSetsDocument(tier="atomsets", candidate_id=ids[formula], status="passed", p_si=p_si)
        )
    for formula, barrier in (("Li3N", 0.28), ("Li2S", 0.45)):
        repo.set_tier(
            NEBDocument(
                tier="neb_mlip",
                candidate_id=ids[formula],
                status="passed",
                barrier_forward_ev=barrier,
            )
        )

    def formulas(*args):
        return [
            r["formula"]
            for r in rows(run("candidates", "--data-dir", screened_copy, "--json", *args))
        ]

    assert formulas("--min-p-si", "0.5") == ["Li3N", "Li7BiO6"]
    assert formulas("--min-p-si", "0.5", "--max-p-si", "0.7") == ["Li7BiO6"]
    assert formulas("--sort", "p_si", "--desc", "--tier", "atomsets") == ["Li3N", "Li7BiO6", "Li2S"]
    assert formulas("--max-neb", "0.3", "--neb-tier", "neb_mlip") == ["Li3N"]
    # without a value: last, by id (file-... before sse-...)
    assert formulas("--sort", "neb_mlip", "--desc") == ["Li2S", "Li3N", None, "Li7BiO6"]
    assert formulas("--where", "neb_mlip<0.5", "--where", "p_si>=0.8") == ["Li3N"]
    none = run("candidates", "--data-dir", screened_copy, "--max-neb", "0.3")  # default: neb_dft
    assert none.exit_code == 0 and "0 candidate(s)" in none.stdout
    assert "--neb-tier neb_mlip" in none.stderr
    table = run("candidates", "--data-dir", screened_copy).stdout
    assert "0.810" in table and "0.280" in table  # P_SI and NEB mlip columns appear


def test_query_commands_never_write(screened_copy, tmp_path):
    before = collection_hashes(screened_copy)
    assert before  # the store has collection files
    assert run("candidates", "--data-dir", screened_copy, "--json").exit_code == 0
    assert run("candidates", "--data-dir", screened_copy, "--format", "csv").exit_code == 0
    first = rows(run("candidates", "--data-dir", screened_copy, "--json", "--limit", "1"))[0]
    assert run("show", first["candidate_id"], "--data-dir", screened_copy).exit_code == 0
    assert run("report", "--data-dir", screened_copy, "--out", tmp_path / "rep").exit_code == 0
    assert collection_hashes(screened_copy) == before


def test_read_only_mode_refuses_screen_and_index(screened_copy):
    from tests.conftest import EXAMPLES

    before = collection_hashes(screened_copy)
    env = {"SSEFLOW_READ_ONLY": "1"}
    result = run("screen", EXAMPLES / "Li2O_antifluorite.cif", "--data-dir", screened_copy, env=env)
    assert result.exit_code == 1 and "read-only mode" in result.output
    result = run("index", "--data-dir", screened_copy, env=env)
    assert result.exit_code == 1 and "read-only mode" in result.output
    # queries still work in read-only mode
    assert len(rows(run("candidates", "--data-dir", screened_copy, "--json", env=env))) == 4
    assert collection_hashes(screened_copy) == before
