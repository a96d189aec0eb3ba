"""Index creation on a real MongoDB-protocol server (secantusdb, ``mongo_uri`` fixture)."""

import pymongo

from sseflow.store import candidate_repository, get_job_store
from sseflow.store.indexes import UNIQUE_ID_INDEX, ensure_indexes


def test_duplicates_already_present_degrade_to_a_plain_index(mongo_uri, mongo_db_name, caplog):
    collection = pymongo.MongoClient(mongo_uri)[mongo_db_name]["candidates"]
    collection.insert_many([{"candidate_id": "sse-x"}, {"candidate_id": "sse-x"}])
    result = ensure_indexes(collection)
    assert not result.unique_candidate_id
    assert "candidate_id" in result.created and "duplicate key" in result.skipped[UNIQUE_ID_INDEX]
    assert "tiers.bvse.ea_1d_ev" in result.created
    assert UNIQUE_ID_INDEX not in collection.index_information()
    assert "duplicate records cannot be ruled out" in caplog.text


def test_funnel_repository_creates_indexes_on_mongodb(mongo_uri, mongo_db_name):
    store = get_job_store(uri=mongo_uri, db_name=mongo_db_name)
    store.connect()
    repo = candidate_repository(store, read_only=False)
    repo.ensure_indexes()
    plan = repo.collection.find({"tiers.bvse.ea_1d_ev": {"$lt": 0.4}}).explain()
    assert "tiers.bvse.ea_1d_ev_1" in str(plan)  # the server uses the index
