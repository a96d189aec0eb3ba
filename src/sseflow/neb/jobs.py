"""CI-NEB with a universal machine-learned potential (CHGNet), the MLIP pre-tier.

The Quantum ESPRESSO NEB Maker is in :mod:`sseflow.qe.jobs`; both share
:class:`~sseflow.neb.base.NEBTierMaker`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ase.calculators.calculator import Calculator
from jobflow import job
from pymatgen.core import Structure

from sseflow.bvse.landscape import BVSELandscape
from sseflow.common.candidate import Candidate
from sseflow.neb.base import NEB_JOB_CONFIG, NEBTierMaker, landscape_from
from sseflow.neb.schemas import NEBDocument


@dataclass
class CHGNetNEBMaker(NEBTierMaker):
    """CI-NEB with the CHGNet universal potential (weights ship with chgnet 0.4.2).

    The vacancy is a removed Li atom: CHGNet has no notion of cell charge, so
    ``vacancy_charge_e`` is None.
    """

    name: str = "neb_mlip"
    torch_threads: int = 1

    tier: ClassVar[str] = "neb_mlip"
    batch: ClassVar[bool] = False
    packages: ClassVar[tuple[str, ...]] = (*NEBTierMaker.packages, "chgnet", "torch")

    def calculator_factory(self, hop_dir: Path) -> Callable[[str], Calculator]:
        """Return a factory of CHGNet calculators sharing one loaded model."""
        import torch
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator

        torch.set_num_threads(self.torch_threads)
        model = CHGNet.load(verbose=False)
        return lambda label: CHGNetCalculator(model=model, use_device="cpu")

    def preflight(
        self, candidate: Candidate, landscape: BVSELandscape | None
    ) -> tuple[NEBTierMaker, Structure, BVSELandscape | None, dict[str, Any]]:
        """Return self, the candidate's structure and the calculator description."""
        from importlib.metadata import version

        return (
            self,
            candidate.structure,
            landscape,
            {
                "calculator": f"CHGNet {version('chgnet')}",
                "calculator_settings": {"model": "chgnet package default (CHGNet.load())"},
                "vacancy_charge_e": None,
            },
        )

    @job(config=NEB_JOB_CONFIG)
    def make(
        self, candidate: Candidate, bvse_landscape: BVSELandscape | dict | None = None
    ) -> NEBDocument:
        """Run the CHGNet CI-NEB tier for one candidate."""
        return self._run(candidate, landscape_from(bvse_landscape))
