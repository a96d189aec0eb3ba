"""Create the indexes candidate queries use, on whatever backend the store is.

On MongoDB: a unique index on ``candidate_id`` (it also makes concurrent upserts of the
same candidate safe) and single-field indexes on the filtered and sorted fields. The
embedded montydb store has no indexes at all (its ``create_index`` always raises), so
there every index is skipped and queries scan the collection, which is fine at the
sizes an embedded store is meant for. Index creation never fails a run: what could not
be created is logged and returned.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pymongo import ASCENDING, IndexModel

from sseflow.store.fields import indexed_fields

logger = logging.getLogger(__name__)

UNIQUE_ID_INDEX = "candidate_id_unique"


@dataclass
class IndexResult:
    """What :func:`ensure_indexes` did.

    Attributes
    ----------
    created
        Fields that now have an index (new or already there).
    skipped
        Field -> why no index was made (``candidate_id_unique`` when only the unique
        index on ``candidate_id`` failed, e.g. because of duplicate records).
    unique_candidate_id
        True when ``candidate_id`` has a unique index.
    """

    created: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    unique_candidate_id: bool = False


def is_embedded(collection: Any) -> bool:
    """Return True for a montydb (embedded) collection."""
    collection = getattr(collection, "_wrapped", collection)  # a ReadOnlyCollection
    return type(collection).__module__.startswith("montydb")


def ensure_indexes(collection: Any, extra_fields: Iterable[str] = ()) -> IndexResult:
    """Create sseflow's indexes on a candidates collection; never raises.

    Parameters
    ----------
    collection
        A pymongo or montydb collection.
    extra_fields
        More record paths to index (e.g. ``tiers.my_tier.status``).

    Returns
    -------
    IndexResult
        Indexed and skipped fields.
    """
    fields = list(dict.fromkeys([*indexed_fields(), *extra_fields]))
    result = IndexResult()
    if is_embedded(collection):
        reason = "the embedded store (montydb) does not support indexes"
        result.skipped = {name: reason for name in ["candidate_id", *fields]}
        logger.info("%s: %d indexes skipped, queries scan the collection", reason, len(fields) + 1)
        return result
    models = [IndexModel([("candidate_id", ASCENDING)], unique=True, name=UNIQUE_ID_INDEX)]
    models += [IndexModel([(name, ASCENDING)]) for name in fields]
    # ingest's duplicate search: stored candidates of one formula and fingerprint
    models.append(IndexModel([("formula", ASCENDING), ("fingerprint", ASCENDING)]))
    try:
        collection.create_indexes(models)
    except Exception as exc:  # one bad index fails the batch: retry one by one below
        logger.info(
            "creating indexes in one call failed (%s: %s); trying one at a time",
            type(exc).__name__,
            str(exc)[:200],
        )
    else:
        result.created = ["candidate_id", *fields]
        result.unique_candidate_id = True
        logger.debug("indexes ensured on %d fields", len(result.created))
        return result
    result.unique_candidate_id = _create_one(collection, "candidate_id", result, unique=True)
    if not result.unique_candidate_id:
        why = result.skipped.pop("candidate_id")
        logger.warning(
            "no unique index on candidate_id (%s); duplicate records cannot be ruled out", why
        )
        _create_one(collection, "candidate_id", result)
        result.skipped[UNIQUE_ID_INDEX] = why
    for name in fields:
        _create_one(collection, name, result)
    return result


def _create_one(collection: Any, name: str, result: IndexResult, unique: bool = False) -> bool:
    try:
        if unique:
            collection.create_index([(name, ASCENDING)], unique=True, name=UNIQUE_ID_INDEX)
        else:
            collection.create_index([(name, ASCENDING)])
    except Exception as exc:
        result.skipped[name] = f"{type(exc).__name__}: {str(exc)[:200]}"
        logger.info("index on %s skipped: %s", name, result.skipped[name])
        return False
    result.skipped.pop(name, None)
    if name not in result.created:
        result.created.append(name)
    return True


def list_indexes(collection: Any) -> dict[str, list[tuple[str, Any]]]:
    """Return index name -> key of a collection (empty on the embedded store)."""
    if is_embedded(collection):
        return {}
    return {name: info["key"] for name, info in collection.index_information().items()}
