import pytest

from sseflow.store.fields import FieldNameError, field_path, indexed_fields, record_value
from sseflow.store.queries import (
    QueryError,
    candidate_query,
    inclusion_projection,
    parse_where,
)


def test_field_aliases_and_paths():
    assert field_path("id") == "candidate_id"
    assert field_path("ea") == "tiers.bvse.ea_1d_ev"
    assert field_path("ea", dimension="3D") == "tiers.bvse.ea_3d_ev"
    assert field_path("neb") == "tiers.neb_dft.barrier_forward_ev"
    assert field_path("neb", neb_tier="neb_mlip") == "tiers.neb_mlip.barrier_forward_ev"
    assert field_path("p_si") == "tiers.atomsets.p_si"
    assert field_path("updated") == "updated_at"
    assert field_path("tiers.bvse.wall_time_s") == "tiers.bvse.wall_time_s"
    for bad in ("$where", "tiers.$bvse", "a..b", "ea ev", ""):
        with pytest.raises(FieldNameError):
            field_path(bad)
    with pytest.raises(FieldNameError):
        field_path("ea", dimension="4D")


def test_parse_where_reads_operators_and_json_values():
    assert parse_where("p_si>=0.5") == ("tiers.atomsets.p_si", "$gte", 0.5)
    assert parse_where(" ea < 0.3 ", dimension="2D") == ("tiers.bvse.ea_2d_ev", "$lt", 0.3)
    assert parse_where("tiers.bvse.dimension=1D") == ("tiers.bvse.dimension", "$eq", "1D")
    assert parse_where("is_ordered==false") == ("is_ordered", "$eq", False)
    assert parse_where("reason!=null") == ("reason", "$ne", None)
    assert parse_where('formula="Li3N"') == ("formula", "$eq", "Li3N")
    for bad in ("p_si", "p_si>>3", "p_si<", "$where=1", "<=3"):
        with pytest.raises(QueryError):
            parse_where(bad)


def test_candidate_query_combines_filters():
    query = candidate_query(
        tier="bvse",
        status="passed",
        formula="Li3N",
        elements=["N", "Li", "Li"],
        ranges={"tiers.bvse.ea_1d_ev": (None, 0.4), "tiers.atomsets.p_si": (0.5, None)},
        exclude_elements=["S"],
        conditions=[("tiers.bvse.ea_1d_ev", "$gt", 0.1), ("tiers.bvse.ea_1d_ev", "$lte", 0.3)],
    )
    assert query["tiers.bvse"] == {"$exists": True}
    assert query["tiers.bvse.status"] == "passed"
    assert query["elements"] == {"$all": ["Li", "N"], "$nin": ["S"]}
    assert query["tiers.atomsets.p_si"] == {"$gte": 0.5}
    # a second bound on the same operator goes into $and instead of overwriting
    assert query["tiers.bvse.ea_1d_ev"] == {"$lte": 0.4, "$gt": 0.1}
    assert query["$and"] == [{"tiers.bvse.ea_1d_ev": {"$lte": 0.3}}]
    assert candidate_query(status="failed") == {"status": "failed"}


def test_candidate_query_rejects_contradictions():
    with pytest.raises(QueryError, match="unknown status"):
        candidate_query(status="done")
    with pytest.raises(QueryError, match="above maximum"):
        candidate_query(ranges={"tiers.bvse.ea_1d_ev": (0.5, 0.2)})
    with pytest.raises(QueryError, match="required and excluded"):
        candidate_query(elements=["S"], exclude_elements=["S"])


def test_inclusion_projection_drops_overlapping_paths():
    projection = inclusion_projection(["tiers.bvse", "tiers.bvse.ea_1d_ev", "formula"])
    assert projection == {"candidate_id": 1, "formula": 1, "tiers.bvse": 1}


def test_record_value_walks_dicts_and_lists():
    record = {"tiers": {"bvse": {"ea_1d_ev": 0.3}}, "sources": [{"path": "a"}, {"path": "b"}]}
    assert record_value(record, "tiers.bvse.ea_1d_ev") == 0.3
    assert record_value(record, "tiers.neb_dft.barrier_forward_ev") is None
    assert record_value(record, "sources.path") == ["a", "b"]


def test_indexed_fields_cover_the_query_fields():
    fields = indexed_fields()
    for path in (
        "formula",
        "elements",
        "status",
        "last_tier",
        "tiers.bvse.status",
        "tiers.bvse.ea_1d_ev",
        "tiers.atomsets.p_si",
        "tiers.neb_dft.barrier_forward_ev",
        "tiers.neb_mlip.barrier_forward_ev",
    ):
        assert path in fields
    assert len(fields) == len(set(fields))
