"""A guard that keeps sseflow from writing to the database in read-only mode.

This is a safety net for query sessions (``SSEFLOW_READ_ONLY=1``), not access control:
on a shared MongoDB the real protection is a database user with the ``read`` role only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Method-name prefixes of pymongo/montydb collection methods that modify data or indexes.
WRITE_METHOD_PREFIXES = (
    "insert",
    "update",
    "replace",
    "delete",
    "remove",
    "save",
    "bulk_write",
    "find_one_and_",
    "create_",
    "drop",
    "rename",
    "ensure_index",
    "reindex",
)

#: Aggregation stages that write their result into a collection.
WRITE_STAGES = ("$out", "$merge")


class ReadOnlyStoreError(PermissionError):
    """Raised when sseflow is asked to write while in read-only mode."""


def read_only_message(action: str) -> str:
    """Return the error message for a refused write ``action``."""
    return (
        f"read-only mode: refusing to {action}. Query commands never write; to run the "
        "funnel or change the database unset SSEFLOW_READ_ONLY (on a shared MongoDB, "
        "use a database user with write permission for that)."
    )


class ReadOnlyCollection:
    """Wrap a pymongo or montydb collection and refuse every write method.

    Reads (``find``, ``find_one``, ``count_documents``, ``distinct``, aggregations
    without ``$out``/``$merge``, index listings) pass through unchanged. A guard against
    mistakes, not access control: ``collection.database`` still reaches the raw database.
    """

    def __init__(self, collection: Any):
        self._wrapped = collection

    def __getattr__(self, name: str) -> Any:
        if name.startswith(WRITE_METHOD_PREFIXES):
            raise ReadOnlyStoreError(read_only_message(f"call {name}() on the database"))
        return getattr(self._wrapped, name)

    def with_options(self, *args: Any, **kwargs: Any) -> ReadOnlyCollection:
        """Return the collection with other options, still read-only."""
        return ReadOnlyCollection(self._wrapped.with_options(*args, **kwargs))

    def aggregate(self, pipeline: Sequence[Mapping[str, Any]], *args: Any, **kwargs: Any) -> Any:
        """Run a read-only aggregation; pipelines that write a collection are refused."""
        for stage in pipeline:
            if any(key in WRITE_STAGES for key in stage):
                raise ReadOnlyStoreError(read_only_message("run an aggregation that writes"))
        return self._wrapped.aggregate(pipeline, *args, **kwargs)

    def __repr__(self) -> str:
        return f"ReadOnlyCollection({self._wrapped!r})"
