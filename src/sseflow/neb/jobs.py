"""CI-NEB with a universal machine-learned potential, the MLIP pre-tier (``neb_mlip``).

:class:`MLIPNEBMaker` takes the potential by name (or model file,
:mod:`sseflow.neb.potentials`); :class:`CHGNetNEBMaker` is the same Maker with CHGNet,
kept for funnels and stored workflows that name it. The Quantum ESPRESSO NEB Maker is
in :mod:`sseflow.qe.jobs`; all share :class:`~sseflow.neb.base.NEBTierMaker`.

Every potential shares the tier ``neb_mlip``: a funnel has one MLIP stage, whose record
says which potential computed it (``potential``) and whose settings hash includes the
potential, so a result of another potential is never reused. A second opinion runs in
the same job (``cross_check_potentials``) on the same hops and supercell: the record
keeps each potential's barrier, their spread and a flag when they disagree.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from ase.calculators.calculator import Calculator
from jobflow import job
from pymatgen.core import Structure

from sseflow.bvse.landscape import BVSELandscape
from sseflow.common.candidate import Candidate
from sseflow.neb.base import NEB_JOB_CONFIG, NEBTierMaker, landscape_from
from sseflow.neb.calibration import CalibrationError, CalibrationSet, load_calibration
from sseflow.neb.ordering_samples import representative_ordering
from sseflow.neb.potentials import LoadedPotential, PotentialError, load_potential
from sseflow.neb.schemas import NEBDocument

#: The potential :class:`MLIPNEBMaker` uses by default: the one closest to DFT in the
#: shipped benchmark (``benchmarks/neb_mlip_dft.py``, ``docs/neb.md``).
DEFAULT_POTENTIAL = "SevenNet-l3i5"
#: Two potentials whose (calibrated) barriers differ by more than this disagree (eV).
DISAGREEMENT_THRESHOLD_EV = 0.1


@lru_cache(maxsize=4)
def _loaded(potential: str, threads: int) -> LoadedPotential:
    """Load a potential once per process (models are reused across jobs)."""
    with contextlib.redirect_stdout(io.StringIO()):  # CHGNet prints on load
        return load_potential(potential, threads=threads)


def _quiet(make: Callable[[], Calculator]) -> Callable[[str], Calculator]:
    def factory(label: str) -> Calculator:
        with contextlib.redirect_stdout(io.StringIO()):  # CHGNetCalculator prints
            return make()

    return factory


def _folder_name(potential: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(potential).name)


@dataclass
class MLIPNEBMaker(NEBTierMaker):
    """CI-NEB with a universal potential chosen by name or model file (tier ``neb_mlip``).

    The vacancy is a removed Li atom: the potentials have no notion of cell charge, so
    ``vacancy_charge_e`` is None.

    Parameters
    ----------
    potential
        A potential shipped in an installed wheel (``"SevenNet-l3i5"``, the default;
        ``"SevenNet-0"``; ``"CHGNet"``; see
        :data:`~sseflow.neb.potentials.SHIPPED_POTENTIALS`), or a local model file
        (``"/models/mace.model"``, ``"sevennet:/models/ft.pth"``,
        ``"python:pkg.module:function@/models/file"``; see :mod:`sseflow.neb.potentials`).
    cross_check_potentials
        Further potentials run on the same hops and supercell; their barriers, the
        spread and ``potentials_disagree`` are recorded.
    disagreement_threshold_ev
        Spread of the (calibrated) barriers above which the potentials disagree.
    calibration
        ``"shipped"`` (the fit on sseflow's MLIP-vs-QE benchmark), the path of a file
        written by ``sseflow calibrate-neb`` (fitted on your own ``neb_dft`` records), or
        None. Gives ``barrier_calibrated_ev`` and its provenance (``calibration``).
    torch_threads
        CPU threads of the potential.

    Examples
    --------
    >>> MLIPNEBMaker().potential
    'SevenNet-l3i5'
    >>> chgnet = MLIPNEBMaker(potential="CHGNet")
    >>> chgnet.tier_settings_hash() == CHGNetNEBMaker().tier_settings_hash()
    True
    """

    name: str = "neb_mlip"
    potential: str = DEFAULT_POTENTIAL
    cross_check_potentials: list[str] = field(default_factory=list)
    disagreement_threshold_ev: float = DISAGREEMENT_THRESHOLD_EV
    calibration: str | None = "shipped"
    torch_threads: int = 1

    tier: ClassVar[str] = "neb_mlip"
    batch: ClassVar[bool] = False
    packages: ClassVar[tuple[str, ...]] = (*NEBTierMaker.packages, "torch", "chgnet", "sevenn")
    expected_errors: ClassVar[tuple[type[Exception], ...]] = (
        *NEBTierMaker.expected_errors,
        PotentialError,
        CalibrationError,
    )
    #: Settings added with the choice of potential: their defaults reproduce what the
    #: CHGNet Maker computed before, so its stored results keep their settings hash
    #: (the calibration adds a field, it does not change the barrier).
    hashed_if_changed: ClassVar[dict[str, Any]] = {
        **NEBTierMaker.hashed_if_changed,
        "potential": "CHGNet",
        "cross_check_potentials": [],
        "disagreement_threshold_ev": DISAGREEMENT_THRESHOLD_EV,
        "calibration": "shipped",
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        self.cross_check_potentials = list(self.cross_check_potentials)

    def loaded(self, potential: str | None = None) -> LoadedPotential:
        """Return the loaded potential (``self.potential`` by default)."""
        return _loaded(potential or self.potential, self.torch_threads)

    def calculator_factory(self, hop_dir: Path) -> Callable[[str], Calculator]:
        """Return a factory of calculators sharing one loaded model."""
        return _quiet(self.loaded().make_calculator)

    def calculator_identity(self) -> dict[str, Any]:
        """Return the potential's name, package version and model checksum."""
        return {"potential": self.loaded().info}

    def preflight(
        self, candidate: Candidate, landscape: BVSELandscape | None
    ) -> tuple[NEBTierMaker, Structure, BVSELandscape | None, dict[str, Any]]:
        """Load the potential (and the calibration) before any NEB runs."""
        loaded = self.loaded()
        for other in self.cross_check_potentials:
            self.loaded(other)
        load_calibration(self.calibration)  # a bad file fails here, before the NEB
        return (
            self,
            candidate.structure,
            landscape,
            {
                "calculator": loaded.label,
                "calculator_settings": {"potential": loaded.info},
                "potential": loaded.info,
                "vacancy_charge_e": None,
            },
        )

    def more_fields(
        self,
        structure: Structure,
        landscape: BVSELandscape | None,
        values: dict[str, Any],
        work_dir: Path,
    ) -> dict[str, Any]:
        """Calibrate the barrier and run the cross-check potentials on the same hops."""
        calibrations = load_calibration(self.calibration)
        name = self.loaded().spec.name
        out = calibrated_fields(calibrations, name, values.get("barrier_forward_ev"))
        if not self.cross_check_potentials:
            return out
        barriers = {name: _summary(values, out.get("barrier_calibrated_ev"))}
        for other in self.cross_check_potentials:
            loaded = self.loaded(other)
            folder = work_dir / "cross_check" / _folder_name(other)
            try:

                def factory(_d: Path, lp: LoadedPotential = loaded) -> Callable[[str], Calculator]:
                    return _quiet(lp.make_calculator)

                result = self.run_neb_with(
                    structure,
                    factory,
                    folder,
                    landscape,
                    {"potential": loaded.info},
                    ordering=representative_ordering(values, self.ordering),
                )
            except self.expected_errors as exc:
                barriers[loaded.spec.name] = {"converged": False, "reason": str(exc)}
                continue
            calibrated = calibrated_fields(
                calibrations, loaded.spec.name, result.get("barrier_forward_ev")
            ).get("barrier_calibrated_ev")
            barriers[loaded.spec.name] = _summary(result, calibrated)
        out.update(disagreement(barriers, self.disagreement_threshold_ev))
        return out

    @job(config=NEB_JOB_CONFIG)
    def make(
        self, candidate: Candidate, bvse_landscape: BVSELandscape | dict | None = None
    ) -> NEBDocument:
        """Run the MLIP CI-NEB tier for one candidate."""
        return self._run(candidate, landscape_from(bvse_landscape))


def _summary(values: dict[str, Any], calibrated: float | None) -> dict[str, Any]:
    return {
        "barrier_forward_ev": values.get("barrier_forward_ev"),
        "barrier_calibrated_ev": calibrated,
        "converged": values.get("converged"),
        "hop_lengths_angstrom": [h.hop["length_angstrom"] for h in values.get("hops", [])],
    }


def calibrated_fields(
    calibrations: CalibrationSet | None, potential: str, barrier_ev: float | None
) -> dict[str, Any]:
    """Return ``barrier_calibrated_ev`` and the calibration's provenance for the record."""
    if calibrations is None:
        return {"barrier_calibrated_ev": None, "calibration": None}
    found = calibrations.get(potential)
    if found is None:
        note = f"no calibration for potential {potential!r} in this calibration set"
        return {"barrier_calibrated_ev": None, "calibration": {"note": note}}
    value = None if barrier_ev is None else round(found.apply(barrier_ev), 6)
    provenance = {**found.provenance(), "set": calibrations.description}
    return {"barrier_calibrated_ev": value, "calibration": provenance}


def disagreement(barriers: dict[str, dict[str, Any]], threshold_ev: float) -> dict[str, Any]:
    """Return the spread of the potentials' barriers and whether they disagree.

    Calibrated barriers are compared when every converged potential has one (each is
    then on the DFT scale), raw barriers otherwise. Fewer than two converged potentials:
    no spread, and ``potentials_disagree`` is None.

    Examples
    --------
    >>> disagreement({"A": {"barrier_forward_ev": 0.2, "barrier_calibrated_ev": None,
    ...                     "converged": True},
    ...               "B": {"barrier_forward_ev": 0.45, "barrier_calibrated_ev": None,
    ...                     "converged": True}}, 0.1)["potentials_disagree"]
    True
    """
    ok = {k: v for k, v in barriers.items() if v.get("converged")}
    calibrated = all(v.get("barrier_calibrated_ev") is not None for v in ok.values())
    key = "barrier_calibrated_ev" if calibrated else "barrier_forward_ev"
    values = [v[key] for v in ok.values()]
    spread = max(values) - min(values) if len(values) >= 2 else None
    return {
        "cross_check": barriers,
        "potential_spread_ev": None if spread is None else round(spread, 6),
        "potential_spread_of": key if spread is not None else None,
        "potentials_disagree": None if spread is None else spread > threshold_ev,
    }


@dataclass
class CHGNetNEBMaker(MLIPNEBMaker):
    """CI-NEB with the CHGNet universal potential (weights ship with chgnet 0.4.2).

    :class:`MLIPNEBMaker` with ``potential="CHGNet"``; kept so funnels and stored
    workflows naming ``CHGNetNEBMaker`` load and keep their settings hash.
    """

    potential: str = "CHGNet"
