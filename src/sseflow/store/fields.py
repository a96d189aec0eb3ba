"""Names of candidate-record fields used by queries, sorting, indexes and reports.

Short aliases (``ea``, ``p_si``, ``neb``, ``id``, ...) map to dotted record paths
(``tiers.bvse.ea_1d_ev``, ...); any other dotted path is used as given.
"""

from __future__ import annotations

import re
from typing import Any

#: Tiers sseflow ships, in funnel order (the order of the README's full funnel).
KNOWN_TIERS = (
    "ingest",
    "soap_clustering",
    "atomsets",
    "bvse",
    "neb_mlip",
    "qe_relax",
    "neb_dft",
)
NEB_TIERS = ("neb_mlip", "neb_dft")
BVSE_DIMENSIONS = ("1D", "2D", "3D")
#: Default NEB tier of ``--min-neb/--max-neb`` and the ``neb`` alias: the DFT barrier
#: is the funnel's final answer; ``neb_mlip`` (CHGNet) is the cheaper pre-tier.
DEFAULT_NEB_TIER = "neb_dft"

#: The funnel rank (1 = best, :mod:`sseflow.store.rank`): computed from the records
#: when listed, not stored, so it is sorted on and filtered in Python, not in the database.
RANK_FIELD = "rank"
#: Fields computed from records rather than stored in them.
COMPUTED_FIELDS = (RANK_FIELD,)

#: alias -> record path (aliases that depend on options are resolved in field_path).
FIELD_ALIASES = {
    "rank": RANK_FIELD,
    "id": "candidate_id",
    "formula": "formula",
    "chemsys": "chemsys",
    "elements": "elements",
    "nsites": "nsites",
    "status": "status",
    "tier": "last_tier",
    "reason": "reason",
    "created": "created_at",
    "updated": "updated_at",
    "p_si": "tiers.atomsets.p_si",
    "p_si_std": "tiers.atomsets.p_si_std",
    "band_gap": "tiers.atomsets.band_gap_ev",
    "ea_1d": "tiers.bvse.ea_1d_ev",
    "ea_2d": "tiers.bvse.ea_2d_ev",
    "ea_3d": "tiers.bvse.ea_3d_ev",
    "neb_mlip": "tiers.neb_mlip.barrier_forward_ev",
    "neb_dft": "tiers.neb_dft.barrier_forward_ev",
}

#: Table headers of common paths.
FIELD_LABELS = {
    RANK_FIELD: "#",
    "candidate_id": "candidate_id",
    "last_tier": "tier",
    "tiers.atomsets.p_si": "P_SI",
    "tiers.atomsets.band_gap_ev": "gap",
    "tiers.bvse.ea_1d_ev": "E_1D",
    "tiers.bvse.ea_2d_ev": "E_2D",
    "tiers.bvse.ea_3d_ev": "E_3D",
    "tiers.neb_mlip.barrier_forward_ev": "MLIP",
    "tiers.neb_dft.barrier_forward_ev": "DFT",
}

_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")


class FieldNameError(ValueError):
    """Raised for a field name that is neither an alias nor a dotted record path."""


def bvse_path(dimension: str = "1D") -> str:
    """Return the record path of the BVSE barrier in ``dimension`` (1D, 2D or 3D)."""
    if dimension.upper() not in BVSE_DIMENSIONS:
        raise FieldNameError(f"BVSE dimension must be 1D, 2D or 3D, not {dimension!r}")
    return f"tiers.bvse.ea_{dimension.lower()}_ev"


def neb_path(neb_tier: str = DEFAULT_NEB_TIER) -> str:
    """Return the record path of the forward NEB barrier of ``neb_tier``."""
    if not _PATH.match(neb_tier) or "." in neb_tier:
        raise FieldNameError(f"not a tier name: {neb_tier!r}")
    return f"tiers.{neb_tier}.barrier_forward_ev"


def field_path(name: str, dimension: str = "1D", neb_tier: str = DEFAULT_NEB_TIER) -> str:
    """Return the record path of an alias or dotted path.

    Parameters
    ----------
    name
        An alias (``id``, ``formula``, ``status``, ``tier``, ``updated``, ``p_si``, ``ea``,
        ``ea_1d``, ``neb``, ``neb_mlip``, ...) or a dotted path such as
        ``tiers.bvse.wall_time_s``.
    dimension
        BVSE dimension of the ``ea`` alias.
    neb_tier
        Tier of the ``neb`` alias.

    Raises
    ------
    FieldNameError
        If ``name`` is not an alias and not a plain dotted path (no ``$`` operators).
    """
    name = name.strip()
    if name == "ea":
        return bvse_path(dimension)
    if name == "neb":
        return neb_path(neb_tier)
    if name in FIELD_ALIASES:
        return FIELD_ALIASES[name]
    if not _PATH.match(name):
        raise FieldNameError(
            f"{name!r} is not a field: use an alias ({', '.join(sorted(FIELD_ALIASES))}, "
            "ea, neb) or a dotted record path such as tiers.bvse.wall_time_s"
        )
    return name


def field_label(path: str) -> str:
    """Return a short table header for a record path."""
    return FIELD_LABELS.get(path, path.removeprefix("tiers."))


def indexed_fields(tiers: tuple[str, ...] = KNOWN_TIERS) -> list[str]:
    """Return the record paths sseflow indexes (besides the unique ``candidate_id``).

    Parameters
    ----------
    tiers
        Tiers whose ``status`` is indexed.
    """
    fields = ["formula", "elements", "chemsys", "status", "last_tier", "updated_at"]
    fields += [f"tiers.{tier}.status" for tier in tiers]
    fields += ["tiers.bvse.ea_ev", *(bvse_path(d) for d in BVSE_DIMENSIONS)]
    fields += ["tiers.atomsets.p_si"]
    fields += [neb_path(tier) for tier in NEB_TIERS]
    return list(dict.fromkeys(fields))


def record_value(record: dict[str, Any], path: str) -> Any:
    """Return the value at a dotted ``path`` of a record, or None when missing.

    A list met on the way is mapped over (``sources.path`` gives every source's path).
    """
    value: Any = record
    keys = path.split(".")
    for i, key in enumerate(keys):
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list):
            rest = ".".join(keys[i:])
            return [record_value(item, rest) for item in value if isinstance(item, dict)]
        else:
            return None
    return value
