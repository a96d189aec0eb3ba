"""Provenance helpers: software versions, host, and a stable hash of tier settings."""

from __future__ import annotations

import hashlib
import json
import platform
import socket
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sseflow import __version__


def software_versions(packages: Iterable[str]) -> dict[str, str]:
    """Return installed versions of ``packages`` (plus sseflow and Python).

    Parameters
    ----------
    packages
        Distribution names, e.g. ``["pymatgen", "bvlain"]``.

    Returns
    -------
    dict
        Package name -> version string; ``"not installed"`` when missing.
    """
    versions = {"sseflow": __version__, "python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def host_name() -> str:
    """Return the short host name of the machine running the job."""
    return socket.gethostname()


def utc_now() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


def plain_settings(value: Any) -> Any:
    """Return ``value`` without MSON bookkeeping keys (``@module``, ``@class``, ...).

    Settings are recorded and hashed by their values only, so moving a settings class
    to another module or releasing a new sseflow version does not change a hash.
    """
    if isinstance(value, Mapping):
        return {k: plain_settings(v) for k, v in value.items() if not str(k).startswith("@")}
    if isinstance(value, list | tuple):
        return [plain_settings(v) for v in value]
    return value


def settings_hash(settings: Mapping[str, Any]) -> str:
    """Return a short, order-independent hash of a settings mapping.

    Two runs with equal settings produce the same hash, so a re-run can recognise
    finished work (candidate id + tier + settings hash). MSON bookkeeping keys
    (``@module``, ``@class``, ``@version``) are ignored (:func:`plain_settings`).

    Examples
    --------
    >>> settings_hash({"a": 1, "b": 2}) == settings_hash({"b": 2, "a": 1})
    True
    >>> settings_hash({"qe": {"@version": "0.1", "ecutwfc_ry": 40.0}}) == settings_hash(
    ...     {"qe": {"ecutwfc_ry": 40.0}})
    True
    """
    canonical = json.dumps(
        plain_settings(settings), sort_keys=True, default=str, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
