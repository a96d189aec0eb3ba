import json

import pytest
import typer
from typer.testing import CliRunner

from sseflow.cli.cluster import parse_descriptor, register
from tests.conftest import OBELIX_CIFS as CIFS

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test app."""

    register(app)
    return app


def test_parse_descriptor():
    s = parse_descriptor("CAN:2:4:2+sine:4e-6")
    assert (s.scheme, s.r_cut_angstrom, s.n_max, s.l_max) == ("CAN", 2.0, 4, 2)
    assert s.second_order == "sine_coulomb" and s.alpha == 4e-6
    assert parse_descriptor("A-40").scheme == "A-40"
    for bad in ("CAN:3", "XYZ", "CAN+ewald"):
        with pytest.raises(ValueError):
            parse_descriptor(bad)


def test_cluster_command(app, labels_csv, tmp_path):
    inputs = [str(CIFS / "gvd.cif"), str(CIFS / "bsa.cif")]
    result = runner.invoke(
        app,
        [
            "cluster",
            *inputs,
            "--labels",
            str(labels_csv),
            "--depth",
            "4",
            "--json",
            str(tmp_path / "out.json"),
            "--plots",
            str(tmp_path / "plots"),
            "--store",
            "--data-dir",
            str(tmp_path / "db"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Li3N" in result.output and "selected" in result.output
    docs = json.loads((tmp_path / "out.json").read_text())
    assert len(docs) == 2
    assert all(d["tier"] == "soap_clustering" for d in docs)
    by_formula = {d["candidate_id"]: d for d in docs}
    assert all(d["depth"] == 4 and d["n_reference_labels"] == 10 for d in by_formula.values())
    assert (tmp_path / "plots" / "dendrogram.png").stat().st_size > 5000
    assert (tmp_path / "plots" / "w_sigma.png").stat().st_size > 5000
    assert "2 candidate record(s) updated" in result.output

    from sseflow.store import candidate_repository, get_job_store

    store = get_job_store(data_dir=tmp_path / "db")
    store.connect()
    repo = candidate_repository(store)
    records = list(repo.find({}))
    assert len(records) == 2
    assert {r["formula"] for r in records} == {"Li3N", "LiGaO2"}
    for record in records:
        assert record["tiers"]["soap_clustering"]["cluster_id"] is not None
    # the Li3N input is its own labelled twin: a fast cluster
    li3n_record = next(r for r in records if r["formula"] == "Li3N")
    assert li3n_record["tiers"]["soap_clustering"]["selected"] is True


def test_cluster_command_errors(app, labels_csv, tmp_path):
    result = runner.invoke(app, ["cluster", str(tmp_path / "missing.cif")])
    assert result.exit_code == 1
    result = runner.invoke(
        app, ["cluster", str(CIFS / "gvd.cif"), "--descriptor", "XYZ", "--labels", str(labels_csv)]
    )
    assert result.exit_code == 1 and "unknown simplification scheme" in result.output


def test_compare_descriptors_command(app, labels_csv, tmp_path):
    out = tmp_path / "cmp"
    result = runner.invoke(
        app,
        [
            "compare-descriptors",
            "--labels",
            str(labels_csv),
            "--descriptor",
            "CAN:3:5:3",
            "--descriptor",
            "A:2:4:2",
            "--max-depth",
            "6",
            "--draws",
            "10",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    ranking = json.loads((out / "ranking.json").read_text())
    assert [r["rank"] for r in ranking] == [1, 2]
    assert ranking[0]["mean_w_sigma"] <= ranking[1]["mean_w_sigma"]
    assert (out / "ranking.csv").read_text().startswith("rank,descriptor")
    assert (out / "w_sigma.png").stat().st_size > 5000


def test_cluster_accepts_the_obelix_form(app, tmp_path):
    from tests.ml.label_tables import obelix_form

    labels = obelix_form(tmp_path / "obelix", ["gvd", "11b", "qbb", "b4c", "qa9", "7se"])
    json_out = tmp_path / "out.json"
    args = ["cluster", str(CIFS / "bsa.cif"), "--labels", str(labels), "--depth", "3"]
    result = runner.invoke(app, [*args, "--json", str(json_out)])
    assert result.exit_code == 0, result.output
    (doc,) = json.loads(json_out.read_text())
    assert doc["n_reference_labels"] == 5  # 7se has no CIF: not a clustering reference


def test_cluster_accepts_the_shipped_obelix_table(app, tmp_path):
    from sseflow.ml.labels import default_training_table

    json_out = tmp_path / "out.json"
    labels = str(default_training_table())
    args = ["cluster", str(CIFS / "bsa.cif"), "--labels", labels, "--json", str(json_out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(json_out.read_text())[0]["n_reference_labels"] == 254
