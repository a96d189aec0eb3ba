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

from sseflow.common.candidate import Candidate
from sseflow.common.maker import TierMaker
from sseflow.funnel.gates import PassAllGate
from sseflow.funnel.jobs import ingest_inputs, run_stage
from sseflow.funnel.qe_setup import configure_qe_stages
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


def _default_stages() -> list[Stage]:
    from sseflow.funnel.defaults import default_stages

    return default_stages()


@dataclass
class ScreeningFunnelMaker(Maker):
    """Build the funnel Flow: ingest, then each :class:`Stage` in turn.

    Parameters
    ----------
    name
        Flow name.
    stages
        Ordered stages; default: the default funnel of :mod:`sseflow.funnel.defaults`
        (ML -> BVSE -> MLIP CI-NEB -> Quantum ESPRESSO CI-NEB).
    ingest_settings
        Validation rules for inputs (atom limit, distances, charge tolerance).
    resume_command
        Command that resumes this funnel on its store (``sseflow resume --data-dir
        ...``), recorded with candidates that wait for a stage that cannot run here
        (see :mod:`sseflow.funnel.qe_setup`); default: from the environment.

    Examples
    --------
    >>> from sseflow import ScreeningFunnelMaker
    >>> flow = ScreeningFunnelMaker().make(["examples/structures/Li2S_antifluorite.cif"])
    >>> [job.name for job in flow.jobs]
    ['ingest', 'stage 0']
    """

    name: str = "screening funnel"
    stages: list[Stage] = field(default_factory=_default_stages)
    ingest_settings: IngestSettings = field(default_factory=IngestSettings)
    resume_command: str | None = None

    def runnable_stages(self) -> list[Stage]:
        """Return the stages as they run here.

        Quantum ESPRESSO stages are filled from the machine settings, or deferred when
        QE is not set up (:func:`~sseflow.funnel.qe_setup.configure_qe_stages`).
        """
        return configure_qe_stages(self.stages, self.resume_command)

    def make(self, inputs: list[str | Path | Structure]) -> Flow:
        """Return the funnel Flow for structure files, folders or Structures."""
        resolved = [x if isinstance(x, Structure) else str(Path(x).resolve()) for x in inputs]
        ingest_job = ingest_inputs(resolved, asdict(self.ingest_settings))
        ingest_job.name = "ingest"
        first = run_stage(ingest_job.output.accepted, self.runnable_stages(), 0)
        first.name = "stage 0"
        return Flow([ingest_job, first], output=first.output, name=self.name)

    def stage_index(self, tier: str) -> int:
        """Return the index of the stage that runs ``tier``.

        Raises
        ------
        ValueError
            If no stage runs it.
        """
        for i, stage in enumerate(self.stages):
            if tier in stage.tiers:
                return i
        raise ValueError(f"no stage of this funnel runs the tier {tier!r}")

    def resume(self, candidates: list[Candidate], tier: str) -> Flow:
        """Return a Flow running the funnel from the stage of ``tier`` for ``candidates``.

        Used for candidates that wait (``pending``) for a stage that could not run
        when they reached it (``sseflow resume``): the stages before it are not run
        again.
        """
        index = self.stage_index(tier)
        first = run_stage(candidates, self.runnable_stages(), index)
        first.name = f"stage {index}"
        return Flow([first], output=first.output, name=f"{self.name} (resumed at {tier})")
