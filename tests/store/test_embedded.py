"""The embedded store with many processes at once, read-only opening, legacy stores."""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing as mp
import os
import signal
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from maggma.stores import MontyStore

from sseflow.common.candidate import SourceInfo
from sseflow.common.document import TierStatus
from sseflow.store import candidate_repository, get_job_store, sqlite_engine
from sseflow.store.embedded import CONFIG_FILE, EmbeddedStore, EmbeddedStoreError

N_RECORDS = 12


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (names included) and the hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _journal_mode(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]


def _writer(folder: str, k: int, start, out) -> None:
    start.wait()
    try:
        store = get_job_store(data_dir=folder)
        store.connect()
        repo = candidate_repository(store)
        for i in range(N_RECORDS):
            cid = f"sse-{i:012d}"
            repo.upsert_candidate(cid, {"formula": "Li2S"})
            repo.set_tier({"tier": f"w{k}", "candidate_id": cid, "status": "passed"}, False)
        out.put(("ok", k))
    except Exception as exc:  # reported to the test, which fails with it
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def _reader(folder: str, start, out) -> None:
    start.wait()
    failures, queries = [], 0
    for _ in range(15):
        try:
            store = get_job_store(data_dir=folder, read_only=True)
            store.connect()
            list(candidate_repository(store, read_only=True).find({}))
            queries += 1
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
    out.put(("reader", queries, failures))


def test_concurrent_writers_and_readers_lose_nothing(tmp_path: Path) -> None:
    """Four writers upsert the same records at once while a reader queries: every
    open succeeds, each record exists once and carries every writer's tier."""
    folder = tmp_path / "db"
    get_job_store(data_dir=folder).connect()  # the reader needs a store to open
    config = (folder / CONFIG_FILE).stat().st_mtime_ns
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(folder), k, start, out)) for k in range(4)]
    procs.append(ctx.Process(target=_reader, args=(str(folder), start, out)))
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(180)
        assert p.exitcode == 0
    messages = [out.get(timeout=5) for _ in procs]
    assert [m for m in messages if m[0] == "error"] == []
    (reader,) = [m for m in messages if m[0] == "reader"]
    assert reader[2] == [] and reader[1] == 15
    store = get_job_store(data_dir=folder)
    store.connect()
    records = list(candidate_repository(store).find({}))
    ids = Counter(r["candidate_id"] for r in records)
    assert len(ids) == N_RECORDS and set(ids.values()) == {1}, "duplicate records"
    for record in records:
        assert set(record["tiers"]) == {"w0", "w1", "w2", "w3"}, "lost update"
    # connecting never rewrote montydb's configuration
    assert (folder / CONFIG_FILE).stat().st_mtime_ns == config


def test_read_only_opening_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    store = get_job_store(data_dir=folder)
    store.connect()
    repo = candidate_repository(store)
    repo.upsert_candidate("sse-a", {"formula": "Li2S"})
    store.docs_store.update({"uuid": "u", "index": 1, "output": {"x": 1}}, key=["uuid", "index"])
    before = _snapshot(folder)

    reader = get_job_store(data_dir=folder, read_only=True)
    reader.connect()
    ro = candidate_repository(reader, read_only=True)
    assert ro.get("sse-a")["formula"] == "Li2S"
    assert [r["candidate_id"] for r in ro.find({"formula": "Li2S"})] == ["sse-a"]
    assert ro.count() == 1
    assert reader.docs_store.query_one({"uuid": "u"})["output"] == {"x": 1}
    with pytest.raises(EmbeddedStoreError):
        reader.additional_stores["candidates"].update({"candidate_id": "sse-b"})
    assert _snapshot(folder) == before  # not a byte changed, no file created

    missing = tmp_path / "missing"
    with pytest.raises(EmbeddedStoreError, match="no sseflow store"):
        get_job_store(data_dir=missing, read_only=True).connect()
    assert not missing.exists()


def test_store_written_by_montystore_is_adopted(tmp_path: Path) -> None:
    """A store made by maggma's MontyStore (WAL journal, no key index) keeps working."""
    folder = tmp_path / "db"
    legacy = MontyStore("candidates", database_path=str(folder), database_name="sseflow")
    legacy.connect()
    legacy._collection.insert_many(
        [{"candidate_id": f"sse-{i}", "formula": "Li3N"} for i in range(5)]
    )
    legacy._collection.insert_one({"candidate_id": "sse-0", "formula": "dup"})  # old race
    path = folder / "sseflow" / "candidates.collection"
    assert _journal_mode(path) == "wal"

    store = get_job_store(data_dir=folder)
    store.connect()
    repo = candidate_repository(store)
    assert _journal_mode(path) == "delete"  # readers write nothing in this mode
    assert repo.get("sse-3")["formula"] == "Li3N"
    repo.set_tier({"tier": "bvse", "candidate_id": "sse-3", "status": "passed"})
    assert repo.get("sse-3")["tiers"]["bvse"]["status"] == "passed"
    assert repo.count() == 6  # nothing lost; the old duplicate is still visible to queries
    # and MontyStore still reads what EmbeddedStore wrote
    assert legacy._collection.find_one({"candidate_id": "sse-3"})["status"] == "passed"


def test_keyed_queries_agree_with_montydb(tmp_path: Path) -> None:
    store = EmbeddedStore("outputs", str(tmp_path), "db", index_key=["uuid", "index"])
    store.connect()
    docs = [
        {"uuid": u, "index": i, "output": {"v": 10 * i}, "name": f"{u}{i}"}
        for u in ("a", "b")
        for i in (1, 2, 3)
    ]
    store.update(docs, key=["uuid", "index"])
    store.update({"uuid": "a", "index": 2, "output": {"v": -1}}, key=["uuid", "index"])
    plain = MontyStore("outputs", database_path=str(tmp_path), database_name="db")
    plain.connect()
    for criteria, properties, sort in [
        ({"uuid": "a"}, None, {"index": -1}),
        ({"uuid": "b", "index": 2}, ["output"], None),
        ({"uuid": {"$in": ["a", "b"]}, "index": {"$gte": 2}}, ["name"], {"name": 1}),
    ]:
        fast = list(store.query(criteria, properties, sort))
        slow = list(plain.query(criteria, properties, sort))
        assert fast == slow and fast
    assert store.count() == 6
    # a raw montydb write (not through the key index) is seen by keyed reads
    store._collection.insert_one({"uuid": "c", "index": 1, "output": {"v": 7}})
    assert store.get_by_key(["c", 1])["output"] == {"v": 7}


def test_streamed_queries_agree_with_montydb(tmp_path: Path, monkeypatch) -> None:
    """Unsorted candidate queries stream (a page of rows at a time) and return what
    montydb's find returns: same records, same order, same projections."""
    from sseflow.store import sqlite_engine as engine

    store = get_job_store(data_dir=tmp_path / "db")
    store.connect()
    repo = candidate_repository(store)
    for i in range(7):
        tier = {"tier": "bvse", "candidate_id": f"sse-{i}", "status": "passed", "ea_ev": i / 10}
        fields = {"formula": "Li2S" if i % 2 else "Li3N", "structure": {"n": i}}
        source = SourceInfo(path=f"in/{i}.cif", format="cif") if i % 3 else None
        repo.upsert_candidate(f"sse-{i}", fields, source, tier)
    repo.upsert_candidate("sse-1", {}, SourceInfo(path="in/again.cif", format="cif"))
    repo.set_status(["sse-3"], TierStatus.REJECTED, "bvse", "too high")
    pages: list[int] = []
    scan = engine.KeyIndex.scan

    def small_pages(self, page_rows: int = 200):
        pages.append(page_rows)
        return scan(self, page_rows=3)

    monkeypatch.setattr(engine.KeyIndex, "scan", small_pages)
    queries = [
        ({}, None),
        ({"formula": "Li2S"}, {"structure": 0}),
        (
            {"tiers.bvse.ea_ev": {"$lt": 0.35}, "status": "passed"},
            {"candidate_id": 1, "tiers.bvse.ea_ev": 1},
        ),
        (
            {"candidate_id": {"$in": ["sse-5", "sse-1", "sse-9"]}},
            {"structure": 0, "tiers.bvse.settings": 0},
        ),
        ({"candidate_id": "sse-2"}, None),
        ({"status": "rejected"}, {"reason": 1}),
        ({}, {"sources.path": 1, "tiers.bvse.ea_ev": 1, "tiers.nothing": 1}),  # into arrays
        ({}, {"sources.format": 0, "structure": 0, "tiers.bvse.settings": 0}),
        ({"sources.path": "in/again.cif"}, {"candidate_id": 1, "_id": 0}),
    ]
    for query, projection in queries:
        streamed = list(repo.find(query, projection=projection))
        proj = {"_id": 0, **(projection or {})}
        montydb = [dict(d) for d in repo.collection.find(query, proj)]
        assert streamed == montydb and streamed, query
    assert pages  # the scan ran
    for query, _ in queries:
        assert repo.count(query) == repo.collection.count_documents(query) > 0
    assert repo.count() == 7 and repo.count({"formula": "none"}) == 0
    # (query, sort, limit, projection, sorted here): montydb sorts only when the
    # projection drops a sort key
    sorted_queries = [
        ({}, [("tiers.bvse.ea_ev", -1), ("candidate_id", 1)], 0, {"structure": 0}, True),
        ({"formula": "Li3N"}, [("candidate_id", -1)], 2, None, True),
        ({}, [("status", 1), ("tiers.bvse.ea_ev", 1)], 0, {"status": 1, "tiers.bvse": 1}, True),
        ({}, [("reason", 1), ("candidate_id", 1)], 0, {"structure": 0}, True),  # nulls first
        ({}, [("status", 1), ("candidate_id", 1)], 0, {"formula": 1}, True),  # key dropped
        ({}, [("tiers.bvse.ea_ev", 1), ("candidate_id", 1)], 3, {"tiers": 0, "structure": 0}, True),
        ({}, [("structure", 1)], 0, {"formula": 1}, False),  # documents: montydb orders them
    ]
    for query, sort, limit, projection, here in sorted_queries:
        if here:
            monkeypatch.setattr(type(repo.collection), "find", _refuse)
        streamed = list(repo.find(query, sort=sort, limit=limit, projection=projection))
        monkeypatch.undo()
        proj = {"_id": 0, **(projection or {})}
        cursor = repo.collection.find(query, proj).sort(sort)
        montydb = [dict(d) for d in (cursor.limit(limit) if limit else cursor)]
        assert streamed == montydb and streamed, sort


def test_store_queries_stream_and_agree_with_montydb(tmp_path: Path, monkeypatch) -> None:
    """``EmbeddedStore.query``/``count`` with any criteria (jobflow's and users' own
    queries of the output store) give montydb's answers without asking montydb."""
    store = EmbeddedStore("outputs", str(tmp_path), "db", index_key=["uuid", "index"])
    store.connect()
    store.update(
        [
            {
                "uuid": f"u{i % 4}",
                "index": i,
                "name": ["ingest", "bvse", "neb"][i % 3],
                "output": {"ea_ev": None if i == 5 else (7 * i % 10) / 10, "n": {"k": i}},
            }
            for i in range(12)
        ],
        key=["uuid", "index"],
    )
    plain = MontyStore("outputs", database_path=str(tmp_path), database_name="db")
    plain.connect()
    queries = [  # (criteria, properties, sort, skip, limit)
        ({"name": "bvse"}, None, None, 0, 0),
        ({"output.ea_ev": {"$lt": 0.5}}, ["uuid", "output.ea_ev"], {"output.ea_ev": -1}, 0, 0),
        ({}, {"output": 0}, {"name": 1, "index": -1}, 2, 5),  # exclusion, skip, limit
        ({"name": {"$in": ["neb", "ingest"]}}, ["index"], {"output.ea_ev": 1}, 0, 3),  # dropped
        ({"uuid": "u1"}, ["name"], {"index": -1}, 1, 0),  # key criteria
        ({}, None, None, 3, 4),
    ]
    monkeypatch.setattr(type(store._collection), "find", _refuse)
    answers = [list(store.query(c, p, s, skip=k, limit=n)) for c, p, s, k, n in queries]
    counts = [store.count(c) for c, *_ in queries]
    monkeypatch.undo()
    for (criteria, properties, sort, skip, limit), answer, count in zip(
        queries, answers, counts, strict=True
    ):
        assert answer == list(plain.query(criteria, properties, sort, skip=skip, limit=limit))
        assert answer, criteria
        assert count == plain.count(criteria)
    # a sort on documents is left to montydb, with the same answer
    by_document = list(store.query({}, ["index"], {"output.n": -1}))
    assert by_document == list(plain.query({}, ["index"], {"output.n": -1}))
    assert [d["index"] for d in by_document] == list(range(11, -1, -1))


def _refuse(*args, **kwargs):
    raise AssertionError("montydb was asked")


def _killed_inside_a_transaction(path: str) -> None:
    """Rewrite every row of ``path`` inside a transaction, then die by SIGKILL."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA cache_size=1")  # spill changed pages into the file at once
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE documents SET v = v || v")
    os.kill(os.getpid(), signal.SIGKILL)


def _folder_with_an_interrupted_write(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "db"
    store = get_job_store(data_dir=folder)
    store.connect()
    repo = candidate_repository(store)
    for i in range(300):
        repo.upsert_candidate(f"sse-{i:03d}", {"formula": "Li2S", "note": "x" * 2000})
    (path,) = folder.rglob("candidates.collection")
    child = mp.get_context("spawn").Process(target=_killed_inside_a_transaction, args=(str(path),))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    assert Path(f"{path}-journal").stat().st_size > 0  # the hot journal is there
    return folder, path


def test_a_query_after_a_writer_was_killed_mid_transaction(tmp_path: Path) -> None:
    """A reader finds a hot journal (a writer killed inside a transaction): SQLite
    cannot roll it back through a mode=ro connection, so every query failed with
    "attempt to write a readonly database" until a writer came. The read-only opening
    now lets SQLite roll it back and reads the last committed state."""
    folder, path = _folder_with_an_interrupted_write(tmp_path)
    uri = f"file:{path}?mode=ro"
    with (
        contextlib.closing(sqlite3.connect(uri, uri=True)) as plain,
        pytest.raises(sqlite3.OperationalError, match="readonly"),
    ):
        plain.execute("SELECT count(*) FROM documents").fetchone()

    reader = get_job_store(data_dir=folder, read_only=True)
    reader.connect()
    ro = candidate_repository(reader, read_only=True)
    assert ro.count() == 300
    assert {len(r["note"]) for r in ro.find({})} == {2000}  # the committed values
    assert not Path(f"{path}-journal").exists()


def test_an_interrupted_write_that_cannot_be_rolled_back_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = _folder_with_an_interrupted_write(tmp_path)
    real_connect = sqlite3.connect

    def no_write_access(database: str, *args, **kwargs):  # as for a user without permission
        if not str(database).startswith("file:"):
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite_engine.sqlite3, "connect", no_write_access)
    with pytest.raises(sqlite3.OperationalError, match="killed process left unfinished"):
        sqlite_engine.connect(path, read_only=True)
