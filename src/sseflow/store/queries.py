"""Build Mongo queries on candidate records from command-line style filters."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from sseflow.common.document import TierStatus
from sseflow.store.fields import COMPUTED_FIELDS, FieldNameError, field_path

#: ``--where`` operators -> Mongo operators (longest first for parsing).
WHERE_OPERATORS = {
    "<=": "$lte",
    ">=": "$gte",
    "!=": "$ne",
    "==": "$eq",
    "=": "$eq",
    "<": "$lt",
    ">": "$gt",
}
_WHERE = re.compile(r"^\s*([^<>=!\s]+)\s*(<=|>=|!=|==|=|<|>)\s*(.*?)\s*$")


class QueryError(ValueError):
    """Raised for a filter that cannot be turned into a query (with the reason)."""


def parse_value(text: str) -> Any:
    """Return ``text`` as a JSON value (number, true/false/null, "quoted") or a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_where(
    condition: str, dimension: str = "1D", neb_tier: str = "neb_dft"
) -> tuple[str, str, Any]:
    """Parse ``FIELD<op>VALUE`` (op one of ``<= >= != == = < >``).

    ``FIELD`` is an alias or dotted path (see :func:`sseflow.store.fields.field_path`);
    ``VALUE`` is read as JSON when it parses (``0.5``, ``true``, ``null``, ``"1D"``),
    else as a string.

    Returns
    -------
    path, operator, value
        Record path, Mongo operator (``$lte``, ...) and value.

    Raises
    ------
    QueryError
        On a malformed condition or an unknown field.
    """
    match = _WHERE.match(condition)
    if not match or not match.group(3) or match.group(3)[0] in "<>=!":
        raise QueryError(
            f"--where {condition!r}: use FIELD<op>VALUE with op one of "
            f"{' '.join(WHERE_OPERATORS)}, e.g. 'p_si>=0.5' or 'tiers.bvse.dimension=1D'"
        )
    name, op, raw = match.groups()
    try:
        path = field_path(name, dimension, neb_tier)
    except FieldNameError as exc:
        raise QueryError(f"--where {condition!r}: {exc}") from exc
    return path, WHERE_OPERATORS[op], parse_value(raw)


def _merge(query: dict[str, Any], path: str, ops: dict[str, Any]) -> None:
    """Add operator conditions on ``path``; several on one path are all required."""
    existing = query.get(path)
    if existing is None:
        query[path] = dict(ops)
        return
    if not isinstance(existing, dict) or any(k in existing for k in ops):
        query.setdefault("$and", []).append({path: dict(ops)})
        return
    existing.update(ops)


def candidate_query(
    tier: str | None = None,
    status: str | None = None,
    formula: str | None = None,
    elements: Iterable[str] | None = None,
    ranges: dict[str, tuple[float | None, float | None]] | None = None,
    exclude_elements: Iterable[str] | None = None,
    conditions: Iterable[tuple[str, str, Any]] | None = None,
) -> dict[str, Any]:
    """Return a Mongo filter for candidate records.

    Parameters
    ----------
    tier
        Only candidates that reached this tier (``tiers.<tier>`` exists).
    status
        With ``tier``: that tier's status; without: the overall status.
    formula
        Reduced formula, e.g. ``Li3N``.
    elements
        Candidates containing all of these elements.
    ranges
        Field path -> (min, max), inclusive; either bound may be None, e.g.
        ``{"tiers.bvse.ea_1d_ev": (None, 0.4)}``.
    exclude_elements
        Candidates containing none of these elements.
    conditions
        ``(path, mongo_operator, value)`` triples, e.g. from :func:`parse_where`.

    Raises
    ------
    QueryError
        On an unknown status or a range whose minimum exceeds its maximum.
    """
    query: dict[str, Any] = {}
    if tier:
        query[f"tiers.{tier}"] = {"$exists": True}
    if status:
        if status not in {s.value for s in TierStatus}:
            raise QueryError(
                f"unknown status {status!r}: use one of {', '.join(s.value for s in TierStatus)}"
            )
        query[f"tiers.{tier}.status" if tier else "status"] = status
    if formula:
        query["formula"] = formula
    elements = sorted(set(elements or ()))
    excluded = sorted(set(exclude_elements or ()))
    if set(elements) & set(excluded):
        raise QueryError(f"elements both required and excluded: {set(elements) & set(excluded)}")
    if elements:
        query["elements"] = {"$all": elements}
    if excluded:
        _merge(query, "elements", {"$nin": excluded})
    for path, (low, high) in (ranges or {}).items():
        if low is not None and high is not None and low > high:
            raise QueryError(f"{path}: minimum {low} is above maximum {high}")
        bounds: dict[str, float] = {}
        if low is not None:
            bounds["$gte"] = low
        if high is not None:
            bounds["$lte"] = high
        if bounds:
            _merge(query, path, bounds)
    for path, op, value in conditions or ():
        _merge(query, path, {op: value})
    return query


def inclusion_projection(paths: Iterable[str]) -> dict[str, int]:
    """Return a Mongo projection including ``paths`` (and ``candidate_id``).

    A path inside another included path is dropped: MongoDB refuses overlapping
    projection paths.
    """
    unique = sorted(set(["candidate_id", *paths]))
    kept = [p for p in unique if not any(p.startswith(q + ".") for q in unique if q != p)]
    return dict.fromkeys(kept, 1)


def split_computed(
    conditions: Iterable[tuple[str, str, Any]],
) -> tuple[list[tuple[str, str, Any]], list[tuple[str, str, Any]]]:
    """Split ``--where`` conditions into database ones and ones on computed fields (rank)."""
    stored: list[tuple[str, str, Any]] = []
    computed: list[tuple[str, str, Any]] = []
    for condition in conditions:
        (computed if condition[0] in COMPUTED_FIELDS else stored).append(condition)
    return stored, computed


_COMPARE = {
    "$lte": lambda a, b: a <= b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$gt": lambda a, b: a > b,
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
}


def matches(value: Any, operator: str, target: Any) -> bool:
    """Evaluate one ``(operator, target)`` condition in Python (None never orders).

    Examples
    --------
    >>> matches(3, "$lte", 10), matches(None, "$lt", 10), matches(None, "$ne", 1)
    (True, False, True)
    """
    if value is None and operator not in ("$eq", "$ne"):
        return False
    try:
        return bool(_COMPARE[operator](value, target))
    except TypeError:
        return False
