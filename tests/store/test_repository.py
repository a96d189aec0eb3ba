import pytest
from pymongo.errors import DuplicateKeyError

from sseflow.common.document import TierDocument
from sseflow.store import ReadOnlyStoreError, candidate_repository
from sseflow.store.indexes import UNIQUE_ID_INDEX, is_embedded, list_indexes
from sseflow.store.queries import candidate_query


def _ids(records):
    return [r["candidate_id"] for r in records]


def test_sort_in_database_with_missing_values_last(repo):
    ea = "tiers.bvse.ea_1d_ev"
    assert _ids(repo.find_sorted({}, ea)) == ["sse-a", "sse-b", "sse-c", "sse-d", "sse-e"]
    assert _ids(repo.find_sorted({}, ea, descending=True)) == [
        "sse-c",
        "sse-b",
        "sse-a",
        "sse-d",
        "sse-e",
    ]
    assert _ids(repo.find_sorted({}, ea, limit=2)) == ["sse-a", "sse-b"]
    assert _ids(repo.find_sorted({}, ea, limit=4)) == ["sse-a", "sse-b", "sse-c", "sse-d"]
    assert _ids(repo.find_sorted({}, "tiers.atomsets.p_si", descending=True)) == [
        "sse-a",
        "sse-b",
        "sse-c",
        "sse-d",
        "sse-e",
    ]
    assert _ids(repo.find_sorted({}, "formula")) == ["sse-e", "sse-b", "sse-a", "sse-d", "sse-c"]
    assert _ids(repo.find_sorted({}, "candidate_id", descending=True))[0] == "sse-e"


def test_filters_run_on_the_backend(repo):
    def ids(**kwargs):
        return sorted(_ids(repo.find(candidate_query(**kwargs))))

    assert ids(elements=["S"]) == ["sse-b", "sse-d"]
    assert ids(elements=["Li"], exclude_elements=["S", "Bi"]) == ["sse-a", "sse-e"]
    assert ids(tier="bvse", status="rejected") == ["sse-c"]
    assert ids(status="failed") == ["sse-d"]
    assert ids(tier="neb_mlip") == ["sse-a"]
    assert ids(ranges={"tiers.bvse.ea_1d_ev": (0.2, 0.61)}) == ["sse-b", "sse-c"]
    assert ids(ranges={"tiers.atomsets.p_si": (0.5, None)}) == ["sse-a"]
    # last_tier is the tier written last: sse-a reached neb_mlip, sse-b atomsets
    assert ids(conditions=[("tiers.bvse.ea_1d_ev", "$gt", 0.1), ("last_tier", "$eq", "bvse")]) == [
        "sse-c"
    ]
    assert ids(conditions=[("last_tier", "$ne", "bvse")]) == ["sse-a", "sse-b", "sse-e"]


def test_read_only_repository_refuses_every_write(job_store, repo):
    before = list(repo.find({}))
    ro = candidate_repository(job_store, read_only=True)
    doc = TierDocument(tier="bvse", candidate_id="sse-a", status="failed")
    for write in (
        lambda: ro.set_tier(doc),
        lambda: ro.upsert_candidate("sse-z", {"formula": "Li"}),
        lambda: ro.ensure_indexes(),
        lambda: ro.collection.update_one({}, {"$set": {"x": 1}}),
        lambda: ro.collection.insert_one({"candidate_id": "sse-z"}),
        lambda: ro.collection.delete_many({}),
        lambda: ro.collection.drop(),
        lambda: ro.collection.create_index("x"),
        lambda: ro.collection.aggregate([{"$match": {}}, {"$out": "copy"}]),
        lambda: ro.collection.find_one_and_update({}, {"$set": {"x": 1}}),
        lambda: ro.collection.with_options().insert_one({"candidate_id": "sse-z"}),
    ):
        with pytest.raises(ReadOnlyStoreError, match="read-only mode"):
            write()
    # reads work and nothing changed
    assert ro.get("sse-a")["tiers"]["bvse"]["ea_1d_ev"] == 0.19
    assert ro.count({}) == 5 and list(ro.find({})) == before
    assert _ids(ro.find_sorted({}, "tiers.bvse.ea_1d_ev", limit=1)) == ["sse-a"]


def test_read_only_setting_is_the_default(job_store, monkeypatch):
    monkeypatch.setenv("SSEFLOW_READ_ONLY", "1")
    assert candidate_repository(job_store).read_only
    with pytest.raises(ReadOnlyStoreError):
        candidate_repository(job_store).upsert_candidate("sse-z", {"formula": "Li"})
    monkeypatch.setenv("SSEFLOW_READ_ONLY", "false")
    assert not candidate_repository(job_store).read_only


def test_ensure_indexes_never_fails(repo):
    result = repo.ensure_indexes(["tiers.my_tier.status"])
    if is_embedded(repo.collection):  # montydb: create_index always raises
        assert result.created == [] and not result.unique_candidate_id
        assert "tiers.bvse.ea_1d_ev" in result.skipped and list_indexes(repo.collection) == {}
        return
    assert result.unique_candidate_id and not result.skipped
    indexes = repo.collection.index_information()
    assert indexes[UNIQUE_ID_INDEX]["unique"]
    keys = {info["key"][0][0] for info in indexes.values()}
    for field in ("formula", "elements", "tiers.bvse.ea_1d_ev", "tiers.my_tier.status"):
        assert field in keys
    assert repo.ensure_indexes().unique_candidate_id  # idempotent
    with pytest.raises(DuplicateKeyError):
        repo.collection.insert_one({"candidate_id": "sse-a"})
