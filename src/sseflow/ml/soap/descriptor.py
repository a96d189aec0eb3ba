"""SOAP descriptors of simplified structures, with an optional second-order part and a disk cache.

The descriptor of Laskowski, McHaffie & See (2023): dscribe's SOAP power spectrum of the
simplified structure (default CAN: mobile Li removed, cations -> Al, anions -> S,
neutral -> Mg), periodic, averaged over all sites (``average="outer"``: the mean of the
per-site power spectra). Because the simplification fixes the species set (e.g. Al, Mg,
S for CAN), every structure's vector has the same layout.

Disordered sites
----------------
dscribe needs ordered atoms. After simplification, species on one site are already
merged into few representatives (usually one). Each simplified site becomes **one atom
of its majority representative** (ties broken alphabetically) at the site position, and
the average over sites is **weighted by the site's total occupancy**: we compute the
per-site spectra (``average="off"``) and take the occupancy-weighted mean, which equals
dscribe's ``average="outer"`` exactly for ordered structures. As neighbours, all kept
sites count fully (dscribe has no per-atom density weights), so a split position (two
half-occupied sites close together) adds more density than it should; this is a known
limitation.

Second-order descriptor
-----------------------
Optionally (``second_order="sine_coulomb"``) the vector is ``[soap, alpha * sine]`` with
``sine`` the eigenvalue spectrum of dscribe's sine Coulomb matrix of the *non-simplified*
structure (as in thesis appendix A.3; the paper's best ``alpha`` is 2e-6 to 4e-6). The
spectrum is sorted by decreasing absolute value and zero padded or truncated to
``sine_n_atoms_max`` entries (larger cells keep their largest eigenvalues). The sine
matrix uses one atom per site (majority species, Li included) and depends on the cell
choice (a supercell changes it), unlike the averaged SOAP part.

Cache
-----
:func:`featurize` stores one ``.npy`` per candidate in ``<cache_dir>/<settings_hash>/``
(with ``settings.json`` describing the settings), so re-runs and larger screens only
compute new structures. 26,000 CAN vectors of 480 floats take ~100 MB.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pymatgen.core import Structure

from sseflow.ml.simplify import scheme_species, simplify_structure
from sseflow.provenance import settings_hash

if TYPE_CHECKING:  # ase comes with dscribe (the ``ml`` extra); imported when used
    from ase import Atoms

SECOND_ORDER_OPTIONS = (None, "sine_coulomb")


@dataclass(frozen=True)
class SOAPSettings:
    """Settings of the (optionally second-order) SOAP descriptor.

    Parameters
    ----------
    scheme
        Simplification scheme (:data:`sseflow.ml.simplify.SCHEMES`); the
        species are always substituted by their representatives.
    r_cut_angstrom
        SOAP radial cutoff, A (paper's best CAN runs: 3, 2 or 4).
    n_max
        Number of radial basis functions (5, 4 or 2).
    l_max
        Maximum degree of spherical harmonics (3, 2 or 2).
    sigma_angstrom
        Width of the Gaussians smearing the atoms, A (dscribe default 1.0).
    second_order
        ``None`` or ``"sine_coulomb"`` (see module docstring).
    alpha
        Mixing ratio of the second descriptor.
    sine_n_atoms_max
        Length of the sine Coulomb eigenvalue spectrum.
    """

    scheme: str = "CAN"
    r_cut_angstrom: float = 3.0
    n_max: int = 5
    l_max: int = 3
    sigma_angstrom: float = 1.0
    second_order: str | None = None
    alpha: float = 3e-6
    sine_n_atoms_max: int = 200

    def __post_init__(self) -> None:
        """Validate the settings early, with readable messages."""
        scheme_species(self.scheme)  # raises on an unknown scheme
        if self.second_order not in SECOND_ORDER_OPTIONS:
            raise ValueError(
                f"second_order must be one of {SECOND_ORDER_OPTIONS}, got {self.second_order!r}"
            )
        if self.r_cut_angstrom <= 1.0:
            raise ValueError("r_cut_angstrom must be > 1 A (dscribe GTO basis)")
        if self.n_max < 1 or self.l_max < 0:
            raise ValueError("n_max must be >= 1 and l_max >= 0")

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as a plain dict (JSON-serialisable)."""
        return asdict(self)

    @property
    def settings_hash(self) -> str:
        """Short stable hash of the settings (cache key)."""
        return settings_hash({"descriptor": "soap", **self.as_dict()})

    @property
    def label(self) -> str:
        """Human-readable name, e.g. ``SOAP-CAN(r3,n5,l3)+sine(3e-06)``."""
        name = f"SOAP-{self.scheme}(r{self.r_cut_angstrom:g},n{self.n_max},l{self.l_max})"
        if self.second_order:
            name += f"+sine({self.alpha:g})"
        return name


@dataclass
class Featurized:
    """Descriptor matrix of the structures that could be featurized.

    Attributes
    ----------
    ids
        Ids of the featurized structures, in input order (failures left out).
    matrix
        ``(len(ids), n_features)`` float64 array, rows in ``ids`` order.
    failed
        Id -> reason for structures that could not be featurized.
    n_from_cache
        How many rows came from the cache.
    """

    ids: list[str]
    matrix: np.ndarray
    failed: dict[str, str] = field(default_factory=dict)
    n_from_cache: int = 0


def _soap(settings: SOAPSettings, average: str) -> Any:
    from dscribe.descriptors import SOAP  # heavy import, only when needed

    return SOAP(
        species=scheme_species(settings.scheme),
        r_cut=settings.r_cut_angstrom,
        n_max=settings.n_max,
        l_max=settings.l_max,
        sigma=settings.sigma_angstrom,
        periodic=True,
        average=average,
        sparse=False,
    )


def n_features(settings: SOAPSettings) -> int:
    """Return the length of the descriptor vector for ``settings``."""
    n = int(_soap(settings, "outer").get_number_of_features())
    if settings.second_order == "sine_coulomb":
        n += settings.sine_n_atoms_max
    return n


def ordered_atoms(structure: Structure) -> tuple[Atoms, np.ndarray]:
    """Return one atom per site (majority species) and the sites' total occupancies.

    Parameters
    ----------
    structure
        Possibly disordered structure.

    Returns
    -------
    atoms
        Periodic ASE Atoms, one atom per site, majority element (ties: alphabetical).
    occupancy
        Total occupancy of each site (1 for ordered sites).
    """
    from ase import Atoms

    symbols = []
    occupancy = []
    for site in structure:
        amounts = site.species.get_el_amt_dict()
        symbols.append(max(sorted(amounts), key=lambda el: amounts[el]))
        occupancy.append(sum(amounts.values()))
    atoms = Atoms(
        symbols=symbols,
        positions=structure.cart_coords,
        cell=structure.lattice.matrix,
        pbc=True,
    )
    return atoms, np.asarray(occupancy, dtype=float)


def sine_coulomb_spectrum(structure: Structure, n_atoms_max: int) -> np.ndarray:
    """Eigenvalue spectrum of the sine Coulomb matrix (Faber et al. 2015).

    Same formula as dscribe's ``SineMatrix(permutation="eigenspectrum")``, which cannot be
    used here: dscribe 2.1.2 builds its ``System`` with arguments ASE 3.29 rejects
    ("Use only one of momenta and velocities").

    Parameters
    ----------
    structure
        Structure (one atom per site, majority species, see :func:`ordered_atoms`).
    n_atoms_max
        Length of the returned spectrum (zero padded or truncated).

    Returns
    -------
    numpy.ndarray
        Eigenvalues sorted by decreasing absolute value, length ``n_atoms_max``
        (units e^2/A, as dscribe).
    """
    atoms, _ = ordered_atoms(structure)
    cell = np.asarray(atoms.get_cell())
    positions = atoms.get_positions()
    charges = atoms.get_atomic_numbers().astype(float)
    diff = positions[:, None, :] - positions[None, :, :]
    frac = diff @ np.linalg.inv(cell)
    phi = np.linalg.norm((np.sin(np.pi * frac) ** 2) @ cell, axis=2)
    np.fill_diagonal(phi, 1.0)
    matrix = np.outer(charges, charges) / phi
    np.fill_diagonal(matrix, 0.5 * charges**2.4)
    eigenvalues = np.linalg.eigvalsh(matrix)
    eigenvalues = eigenvalues[np.argsort(-np.abs(eigenvalues), kind="stable")][:n_atoms_max]
    return np.pad(eigenvalues, (0, n_atoms_max - len(eigenvalues)))


def soap_vectors(
    structures: list[Structure], settings: SOAPSettings | None = None, n_jobs: int = 1
) -> np.ndarray:
    """Compute descriptor vectors of structures (no cache, fails on the first bad one).

    Parameters
    ----------
    structures
        Input structures (not simplified; disorder allowed).
    settings
        Descriptor settings; defaults to SOAP-CAN r_cut 3 A, n_max 5, l_max 3.
    n_jobs
        Processes used by dscribe (each new pool costs a few seconds of start-up).

    Returns
    -------
    numpy.ndarray
        ``(len(structures), n_features(settings))``.

    Raises
    ------
    sseflow.ml.simplify.SimplificationError
        When a structure cannot be simplified.
    """
    settings = settings or SOAPSettings()
    if not structures:
        return np.zeros((0, n_features(settings)))
    systems, weights = [], []
    for structure in structures:
        atoms, occupancy = ordered_atoms(simplify_structure(structure, settings.scheme))
        systems.append(atoms)
        weights.append(occupancy)
    per_site = _soap(settings, "off").create(systems, n_jobs=n_jobs)
    if isinstance(per_site, np.ndarray) and per_site.ndim == 2:  # one system
        per_site = [per_site]
    elif isinstance(per_site, np.ndarray) and per_site.ndim == 3:  # equal sizes
        per_site = list(per_site)
    rows = [
        np.average(np.asarray(p, dtype=float), axis=0, weights=w)
        for p, w in zip(per_site, weights, strict=True)
    ]
    matrix = np.vstack(rows)
    if settings.second_order == "sine_coulomb":
        sine = np.vstack([sine_coulomb_spectrum(s, settings.sine_n_atoms_max) for s in structures])
        matrix = np.hstack([matrix, settings.alpha * sine])
    return matrix


def _safe_name(candidate_id: str) -> str:
    """File name for an id: the id itself when safe, else a readable prefix + hash."""
    if re.fullmatch(r"[A-Za-z0-9._-]{1,100}", candidate_id) and not candidate_id.startswith("."):
        return candidate_id
    digest = hashlib.sha256(candidate_id.encode()).hexdigest()[:16]
    return re.sub(r"[^A-Za-z0-9._-]", "_", candidate_id)[:40] + "-" + digest


class DescriptorCache:
    """One ``.npy`` per id under ``<root>/<settings_hash>/``.

    Parameters
    ----------
    root
        Cache folder (created when needed).
    settings
        Descriptor settings; their hash names the sub-folder.
    """

    def __init__(self, root: str | Path, settings: SOAPSettings) -> None:
        self.folder = Path(root) / settings.settings_hash
        self.folder.mkdir(parents=True, exist_ok=True)
        info = self.folder / "settings.json"
        if not info.exists():
            info.write_text(json.dumps({"label": settings.label, **settings.as_dict()}, indent=1))
        self.n_features = n_features(settings)

    def path(self, candidate_id: str) -> Path:
        """Return the file of one id."""
        return self.folder / f"{_safe_name(candidate_id)}.npy"

    def get(self, candidate_id: str) -> np.ndarray | None:
        """Return the cached vector of ``candidate_id`` or None."""
        path = self.path(candidate_id)
        if not path.exists():
            return None
        try:
            vector = np.load(path)
        except (OSError, ValueError):  # truncated file from a killed run: recompute
            return None
        return vector if vector.shape == (self.n_features,) else None

    def put(self, candidate_id: str, vector: np.ndarray) -> None:
        """Store a vector atomically (write to a temporary file, then rename)."""
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, np.asarray(vector, dtype=float))
        Path(tmp).replace(self.path(candidate_id))


def _batches(items: Iterable[tuple[str, Structure]], size: int) -> Iterator[list]:
    batch: list[tuple[str, Structure]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def featurize(
    items: Iterable[tuple[str, Structure]],
    settings: SOAPSettings | None = None,
    cache_dir: str | Path | None = None,
    n_jobs: int = 1,
    batch_size: int = 500,
) -> Featurized:
    """Featurize many structures in batches, with an optional disk cache.

    Parameters
    ----------
    items
        ``(id, structure)`` pairs; may be a generator, so structures need not all be
        in memory at once. Ids must be unique.
    settings
        Descriptor settings (default SOAP-CAN 3/5/3).
    cache_dir
        Folder of the descriptor cache; ``None`` disables caching.
    n_jobs
        dscribe processes per batch (use 1 for small inputs: a pool costs seconds).
    batch_size
        Structures per dscribe call.

    Returns
    -------
    Featurized
        Rows for the structures that worked; failures (with reasons) in ``failed``.
    """
    settings = settings or SOAPSettings()
    cache = DescriptorCache(cache_dir, settings) if cache_dir is not None else None
    ids: list[str] = []
    rows: list[np.ndarray] = []
    failed: dict[str, str] = {}
    n_cached = 0
    seen: set[str] = set()
    for batch in _batches(items, batch_size):
        vectors: dict[str, np.ndarray] = {}
        todo: list[tuple[str, Structure]] = []
        for candidate_id, structure in batch:
            if candidate_id in seen:
                raise ValueError(f"duplicate id {candidate_id!r} in featurize input")
            seen.add(candidate_id)
            cached = cache.get(candidate_id) if cache else None
            if cached is not None:
                vectors[candidate_id] = cached
                n_cached += 1
            else:
                todo.append((candidate_id, structure))
        for candidate_id, vector in _compute_batch(todo, settings, n_jobs, failed):
            if cache:
                cache.put(candidate_id, vector)
            vectors[candidate_id] = vector
        for candidate_id, _ in batch:  # keep input order
            if candidate_id in vectors:
                ids.append(candidate_id)
                rows.append(vectors[candidate_id])
    matrix = np.vstack(rows) if rows else np.zeros((0, n_features(settings)))
    return Featurized(ids=ids, matrix=matrix, failed=failed, n_from_cache=n_cached)


def _compute_batch(
    todo: list[tuple[str, Structure]],
    settings: SOAPSettings,
    n_jobs: int,
    failed: dict[str, str],
) -> list[tuple[str, np.ndarray]]:
    """Vectors of one batch; a structure that fails is recorded and skipped."""
    if not todo:
        return []
    try:
        matrix = soap_vectors([s for _, s in todo], settings, n_jobs=n_jobs)
        return [(cid, row) for (cid, _), row in zip(todo, matrix, strict=True)]
    except Exception:  # find the culprits one by one, keep the rest
        out = []
        for candidate_id, structure in todo:
            try:
                out.append((candidate_id, soap_vectors([structure], settings)[0]))
            except Exception as exc:
                failed[candidate_id] = f"{type(exc).__name__}: {exc}"
        return out
