"""Build Mongo queries on candidate records from command-line style filters."""

from __future__ import annotations

from typing import Any


def candidate_query(
    tier: str | None = None,
    status: str | None = None,
    formula: str | None = None,
    elements: list[str] | None = None,
    ranges: dict[str, tuple[float | None, float | None]] | None = None,
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
    """
    query: dict[str, Any] = {}
    if tier:
        query[f"tiers.{tier}"] = {"$exists": True}
    if status:
        query[f"tiers.{tier}.status" if tier else "status"] = status
    if formula:
        query["formula"] = formula
    if elements:
        query["elements"] = {"$all": sorted(elements)}
    for path, (low, high) in (ranges or {}).items():
        bounds: dict[str, float] = {}
        if low is not None:
            bounds["$gte"] = low
        if high is not None:
            bounds["$lte"] = high
        if bounds:
            query[path] = bounds
    return query
