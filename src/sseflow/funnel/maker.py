"""The screening funnel Maker: ingest, then a list of stages, each tier Makers plus a gate.

The funnel moves tier by tier. A stage runs its Makers on every surviving candidate
(one job per candidate for ordinary tiers, one job for all candidates for batch tiers),
then a gate job judges each candidate, writes the tier documents into the candidate
records and, if anyone passed, adds the next stage for the survivors with
``Response(addition=...)``; when nobody is left it stops with
``Response(stop_children=True)``. Stages are data: adding one means passing another
:class:`Stage`; the funnel code does not change (the jobs are in
:mod:`sseflow.funnel.jobs`).

Re-running the funnel on the same inputs with the same settings reuses finished work:
a tier whose stored document has the same settings hash (and did not fail) is not
recomputed; its stored document is judged again by the (possibly new) gate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jobflow import Flow, Maker
from monty.json import MSONable
from pymatgen.core import Structure

from sseflow.bvse.jobs import BVSEMaker
from sseflow.common.maker import TierMaker
from sseflow.funnel.gates import PassAllGate, bvse_gate
from sseflow.funnel.jobs import ingest_inputs, run_stage
from sseflow.ingest.validation import IngestSettings


@dataclass
class Stage(MSONable):
    """One tier (or several tiers run side by side) and the gate that judges them.

    Parameters
    ----------
    makers
        Tier Makers of this stage (see :mod:`sseflow.common.maker`).
    gate
        A :class:`~sseflow.funnel.gates.Gate` (``evaluate(docs) -> GateDecision``);
        default passes every candidate whose tiers did not fail. A
        :class:`~sseflow.funnel.gates.BatchGate` (also ``evaluate_batch(docs_list)``)
        judges all candidates of the stage together (e.g. a rank).
    """

    makers: list[TierMaker]
    gate: Any = field(default_factory=PassAllGate)

    @property
    def tiers(self) -> list[str]:
        """Tier names of this stage."""
        return [maker.tier for maker in self.makers]


def default_stages() -> list[Stage]:
    """Return the default funnel: the BVSE tier gated at E_1D <= 0.6 eV."""
    return [Stage(makers=[BVSEMaker()], gate=bvse_gate(0.6, "1D"))]


def ml_stage(gate: Any = None) -> Stage:
    """Return the ML screening stage: the shipped P_SI model, gated by ``MLPolicyGate()``.

    The gate's defaults were chosen from out-of-fold numbers of the shipped model's
    recipe (docs/atomsets.md). The SOAP clustering tier runs only when the gate's policy
    uses its selection, and band gaps are predicted only when the gate tests them.

    Parameters
    ----------
    gate
        An :class:`~sseflow.funnel.gates.MLPolicyGate`; its defaults when None.

    Examples
    --------
    >>> stage = ml_stage()
    >>> stage.tiers, stage.makers[0].shipped_model, stage.gate.policy
    (['atomsets'], 'psi_v2', 'p_si_only')
    """
    from sseflow.funnel.gates import MLPolicyGate
    from sseflow.ml.atomsets.jobs import AtomSetsMaker

    gate = MLPolicyGate() if gate is None else gate
    gap_mode = "off" if gate.band_gap_min_ev is None else "predict"
    makers: list[TierMaker] = [AtomSetsMaker(band_gap_mode=gap_mode)]
    if gate.policy != "p_si_only":
        from sseflow.ml.soap.jobs import SOAPClusteringMaker

        makers.insert(0, SOAPClusteringMaker())
    return Stage(makers=makers, gate=gate)


@dataclass
class ScreeningFunnelMaker(Maker):
    """Build the funnel Flow: ingest, then each :class:`Stage` in turn.

    Parameters
    ----------
    name
        Flow name.
    stages
        Ordered stages; default: BVSE gated at E_1D <= 0.6 eV.
    ingest_settings
        Validation rules for inputs (atom limit, distances, charge tolerance).

    Examples
    --------
    >>> from sseflow import ScreeningFunnelMaker
    >>> flow = ScreeningFunnelMaker().make(["examples/structures/Li2S_antifluorite.cif"])
    >>> [job.name for job in flow.jobs]
    ['ingest', 'stage 0']
    """

    name: str = "screening funnel"
    stages: list[Stage] = field(default_factory=default_stages)
    ingest_settings: IngestSettings = field(default_factory=IngestSettings)

    def make(self, inputs: list[str | Path | Structure]) -> Flow:
        """Return the funnel Flow for structure files, folders or Structures."""
        resolved = [x if isinstance(x, Structure) else str(Path(x).resolve()) for x in inputs]
        ingest_job = ingest_inputs(resolved, asdict(self.ingest_settings))
        ingest_job.name = "ingest"
        first = run_stage(ingest_job.output.accepted, self.stages, 0)
        first.name = "stage 0"
        return Flow([ingest_job, first], output=first.output, name=self.name)
