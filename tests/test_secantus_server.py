"""The test server hands out counters the way FireWorks needs: one value per caller."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import pymongo

N_CLIENTS = 4
N_EACH = 150


def _take_ids(uri: str, db_name: str, field: str) -> list[int]:
    counters = pymongo.MongoClient(uri)[db_name].counters
    # what LaunchPad.get_new_launch_id / get_new_fw_id do: $inc and read the pre-image
    return [counters.find_one_and_update({}, {"$inc": {field: 1}})[field] for _ in range(N_EACH)]


def test_find_and_modify_gives_each_client_its_own_counter_value(
    mongo_uri: str, mongo_db_name: str
) -> None:
    counters = pymongo.MongoClient(mongo_uri)[mongo_db_name].counters
    counters.insert_one({"_id": -1, "next_fw_id": 1, "next_launch_id": 1})
    fields = ["next_launch_id", "next_launch_id", "next_fw_id", "next_fw_id"]
    with ProcessPoolExecutor(N_CLIENTS) as pool:
        taken = list(
            pool.map(_take_ids, [mongo_uri] * N_CLIENTS, [mongo_db_name] * N_CLIENTS, fields)
        )
    for field in ("next_launch_id", "next_fw_id"):
        values = [v for f, got in zip(fields, taken, strict=True) if f == field for v in got]
        assert sorted(values) == list(range(1, 2 * N_EACH + 1)), f"{field} handed out twice"
