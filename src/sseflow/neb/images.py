"""Vacancy-hop endpoints and NEB images seeded from the BVSE path.

Convention: the moving Li sits at site A in the initial endpoint and at site B in the
final one; site B is vacant in the initial endpoint and site A in the final one. Both
endpoints (and every image) have the same number and order of sites, with the moving Li
at ``moving_index``, so a NEB code can pair atoms by index. Coordinates are kept
continuous (not wrapped into the cell) from image to image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pymatgen.analysis.diffusion.neb.pathfinder import IDPPSolver
from pymatgen.core import Structure

from sseflow.neb.hops import LiHop


class ImageError(ValueError):
    """Endpoints or images cannot be built."""


@dataclass
class VacancyHopEndpoints:
    """The two endpoints of a vacancy-mediated hop in a supercell.

    Attributes
    ----------
    initial, final
        Endpoint structures (same site order; one Li fewer than the supercell).
    moving_index
        Index of the moving Li in both endpoints.
    start_site_index, end_site_index
        Indices of sites A and B in the perfect supercell.
    start_cart, end_cart
        Cartesian positions of A and of the image of B reached (Angstrom).
    """

    initial: Structure
    final: Structure
    moving_index: int
    start_site_index: int
    end_site_index: int
    start_cart: NDArray[np.float64]
    end_cart: NDArray[np.float64]


def _nearest_site(structure: Structure, cart: NDArray[np.float64], element: str) -> int:
    frac = structure.lattice.get_fractional_coords(cart)
    candidates = [i for i, s in enumerate(structure) if s.specie.symbol == element]
    distances = structure.lattice.get_all_distances(frac, structure.frac_coords[candidates]).ravel()
    best = int(np.argmin(distances))
    if distances[best] > 0.3:
        raise ImageError(
            f"no {element} site within 0.3 A of hop endpoint {np.round(cart, 3).tolist()} "
            f"(nearest {distances[best]:.2f} A); the supercell and hop do not match"
        )
    return candidates[best]


def vacancy_hop_endpoints(
    supercell: Structure, hop: LiHop, mobile_element: str = "Li"
) -> VacancyHopEndpoints:
    """Build the initial and final endpoints of ``hop`` in ``supercell``.

    Parameters
    ----------
    supercell
        Ordered supercell sharing the Cartesian frame of the cell the hop was found in.
    hop
        The hop (Cartesian start and end positions are used).
    mobile_element
        Element of the moving ion.
    """
    start_cart = np.asarray(hop.start_cart, dtype=float)
    end_cart = np.asarray(hop.end_cart, dtype=float)
    i_start = _nearest_site(supercell, start_cart, mobile_element)
    i_end = _nearest_site(supercell, end_cart, mobile_element)
    if i_start == i_end:
        raise ImageError(
            "hop start and end are the same site of the supercell (the hop connects a site "
            "to its own periodic image): use a larger supercell"
        )
    initial = supercell.copy()
    initial.remove_sites([i_end])
    moving = i_start if i_start < i_end else i_start - 1
    initial.replace(
        moving,
        initial[moving].species,
        coords=start_cart,
        coords_are_cartesian=True,
        properties=initial[moving].properties,
    )
    final = initial.copy()
    final.replace(
        moving,
        final[moving].species,
        coords=end_cart,
        coords_are_cartesian=True,
        properties=final[moving].properties,
    )
    return VacancyHopEndpoints(
        initial=initial,
        final=final,
        moving_index=moving,
        start_site_index=i_start,
        end_site_index=i_end,
        start_cart=start_cart,
        end_cart=end_cart,
    )


def resample_path(path_cart: NDArray[np.float64], n_points: int) -> NDArray[np.float64]:
    """Return ``n_points`` points equally spaced in arc length along a polyline."""
    path = np.asarray(path_cart, dtype=float)
    if len(path) < 2:
        raise ImageError("a path needs at least two points")
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])
    targets = np.linspace(0.0, arc[-1], n_points)
    return np.stack([np.interp(targets, arc, path[:, k]) for k in range(3)], axis=1)


def images_along_path(
    initial: Structure,
    final: Structure,
    moving_index: int,
    path_cart: NDArray[np.float64] | None,
    n_images: int = 5,
) -> list[Structure]:
    """Return ``n_images + 2`` structures from ``initial`` to ``final`` inclusive.

    The framework (every site but the moving ion) is interpolated linearly (shortest
    periodic displacement). The moving ion follows ``path_cart`` (resampled at equal arc
    length), shifted smoothly so it starts and ends exactly at its positions in the
    (possibly relaxed) endpoints. With ``path_cart=None`` it moves linearly too.

    Parameters
    ----------
    initial, final
        Endpoints with identical site order.
    moving_index
        Index of the moving ion.
    path_cart
        Seed path of the moving ion (Angstrom), from the unrelaxed hop start to end.
    n_images
        Number of intermediate images.
    """
    if len(initial) != len(final):
        raise ImageError("endpoints have different numbers of sites")
    if n_images < 1:
        raise ImageError("n_images must be >= 1")
    lattice = initial.lattice
    frac_initial = initial.frac_coords
    delta = final.frac_coords - frac_initial
    delta -= np.round(delta)
    fractions = np.linspace(0.0, 1.0, n_images + 2)
    moving_start = initial[moving_index].coords
    moving_end = lattice.get_cartesian_coords(frac_initial[moving_index] + delta[moving_index])
    if path_cart is not None:
        seed = resample_path(path_cart, n_images + 2)
        start_shift = moving_start - seed[0]
        end_shift = moving_end - seed[-1]
        moving_positions = seed + (
            (1 - fractions)[:, None] * start_shift + fractions[:, None] * end_shift
        )
    else:
        moving_positions = moving_start + fractions[:, None] * (moving_end - moving_start)
    images = []
    for t, moving_cart in zip(fractions, moving_positions, strict=True):
        frac = frac_initial + t * delta
        frac[moving_index] = lattice.get_fractional_coords(moving_cart)
        images.append(
            Structure(
                lattice,
                initial.species,
                frac,
                site_properties=initial.site_properties or None,
            )
        )
    return images


def idpp_images(initial: Structure, final: Structure, n_images: int = 5) -> list[Structure]:
    """Return ``n_images + 2`` images by the IDPP method (pymatgen-analysis-diffusion)."""
    solver = IDPPSolver.from_endpoints([initial, final], nimages=n_images, sort_tol=0.0)
    return solver.run(maxiter=1000, tol=1e-5, gtol=1e-3)


def moving_ion_path_deviation(
    images: list[Structure], moving_index: int, path_cart: NDArray[np.float64]
) -> float:
    """Return the largest distance (Angstrom) of the moving ion from the seed path."""
    path = resample_path(path_cart, 400)
    worst = 0.0
    for image in images:
        distance = np.linalg.norm(path - image[moving_index].coords, axis=1).min()
        worst = max(worst, float(distance))
    return worst
