"""The funnel, queries, report and indexes against a real MongoDB-protocol server."""

import csv
import io
import json

import pymongo
from typer.testing import CliRunner

from sseflow.cli import app
from sseflow.cli._store import describe_store, redact_uri
from sseflow.store.indexes import UNIQUE_ID_INDEX
from tests.conftest import EXAMPLES, TEST_GATE_EV

runner = CliRunner()


def test_screen_query_report_and_index_on_mongodb(mongo_uri, mongo_db_name, tmp_path):
    env = {"SSEFLOW_DB_NAME": mongo_db_name}

    def run(*args, extra_env=None):
        return runner.invoke(
            app, [str(a) for a in args] + ["--db-uri", mongo_uri], env={**env, **(extra_env or {})}
        )

    inputs = [EXAMPLES / "Li2S_antifluorite.cif", EXAMPLES / "obelix_jqc.cif"]
    result = run("screen", *inputs, "--max-ea", TEST_GATE_EV, "--workers", 0)
    assert result.exit_code == 0, result.output
    # the funnel created the indexes (unique candidate_id) when it wrote the records
    collection = pymongo.MongoClient(mongo_uri)[mongo_db_name]["candidates"]
    indexes = collection.index_information()
    assert indexes[UNIQUE_ID_INDEX]["unique"]
    assert {"tiers.bvse.ea_1d_ev_1", "tiers.atomsets.p_si_1", "formula_1"} <= set(indexes)

    listed = run("candidates", "--json", "--sort", "ea", "--desc")
    assert listed.exit_code == 0, listed.output
    assert [json.loads(x)["formula"] for x in listed.stdout.splitlines()] == ["Li7BiO6", "Li2S"]
    table = run("candidates", "--format", "csv", "--fields", "formula,ea", "--max-ea", TEST_GATE_EV)
    assert [r["formula"] for r in csv.DictReader(io.StringIO(table.stdout))] == ["Li2S"]
    passed = run("candidates", "--json", "--tier", "bvse", "--status", "passed", "-e", "S")
    assert [json.loads(x)["formula"] for x in passed.stdout.splitlines()] == ["Li2S"]

    docs_before = list(collection.find({}, {"_id": 0}))
    out = tmp_path / "report"
    result = run("report", "--out", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_candidates"] == 2 and summary["tiers"][1]["rejected"] == 1
    assert list(collection.find({}, {"_id": 0})) == docs_before  # queries wrote nothing

    result = run("index", "--tier", "my_tier")
    assert result.exit_code == 0, result.output
    assert "candidate_id unique: yes" in result.output
    assert "tiers.my_tier.status_1" in collection.index_information()
    refused = run("index", extra_env={"SSEFLOW_READ_ONLY": "true"})
    assert refused.exit_code == 1 and "read-only mode" in refused.output


def test_unreachable_server_is_a_clear_error(tmp_path):
    from tests.conftest import _free_port

    uri = f"mongodb://127.0.0.1:{_free_port()}/?serverSelectionTimeoutMS=300"
    result = runner.invoke(app, ["candidates", "--db-uri", uri])
    assert result.exit_code == 1 and "cannot open the store" in result.output


def test_credentials_are_redacted():
    uri = "mongodb://alice:s3cret@db.example.org:27017/?authSource=admin"
    assert redact_uri(uri) == "mongodb://***@db.example.org:27017/?authSource=admin"
    assert "s3cret" not in describe_store(None, uri)
    assert (
        redact_uri("mongodb+srv://u:p@cluster0.x.net/db") == "mongodb+srv://***@cluster0.x.net/db"
    )
