"""Add the screening funnel to a FireWorks LaunchPad (``sseflow submit``).

The funnel Flow is converted with jobflow's ``flow_to_workflow`` without a store: each
worker uses its own jobflow ``JOB_STORE`` (see :mod:`sseflow.hpc.worker_store`), so no
database credentials are written into the LaunchPad. Dynamic stages (``Response``
replace/addition) become FireWorks detours and additions at run time; the FireWorks
options given here (category, priority) are applied to them as well through jobflow's
dynamic config updates.

Input files are read by the ``ingest`` job on the worker, so their paths must be
readable there (a shared filesystem, as on most clusters).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fireworks import LaunchPad
from jobflow.managers.fireworks import flow_to_workflow
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from sseflow import __version__
from sseflow.funnel.maker import ScreeningFunnelMaker


class SubmitResult(BaseModel):
    """What ``sseflow submit`` added to the LaunchPad."""

    workflow_name: str
    fw_ids: list[int] = Field(..., description="Firework ids of the new workflow.")
    root_fw_ids: list[int] = Field(..., description="Fireworks ready to run first.")
    flow_uuid: str = Field(..., description="jobflow uuid of the funnel Flow.")
    n_inputs: int


def firework_options(
    category: str | None = None, priority: int | None = None, fworker_name: str | None = None
) -> dict[str, Any]:
    """Return the Firework spec keys (``_category``, ``_priority``, ``_fworker``) to set."""
    spec: dict[str, Any] = {}
    if category:
        spec["_category"] = category
    if priority is not None:
        spec["_priority"] = priority
    if fworker_name:
        spec["_fworker"] = fworker_name
    return spec


def submit_funnel(
    inputs: Sequence[str | Path | Structure],
    launchpad: LaunchPad,
    funnel: ScreeningFunnelMaker | None = None,
    category: str | None = None,
    priority: int | None = None,
    fworker_name: str | None = None,
    workflow_name: str | None = None,
) -> SubmitResult:
    """Build the funnel Flow for ``inputs`` and add it to ``launchpad``.

    Parameters
    ----------
    inputs
        Structure files, folders or Structures (as for ``sseflow screen``).
    launchpad
        The FireWorks LaunchPad.
    funnel
        Funnel Maker; default :class:`ScreeningFunnelMaker` with its default stages.
    category
        FireWorks ``_category``: only workers whose ``my_fworker.yaml`` has this
        category run the jobs (e.g. separate DFT nodes).
    priority
        FireWorks ``_priority`` (higher runs first).
    fworker_name
        FireWorks ``_fworker``: only the worker of this name runs the jobs.
    workflow_name
        Name of the workflow on the LaunchPad; default the funnel's name.

    Returns
    -------
    SubmitResult
        The new Firework ids.
    """
    funnel = funnel or ScreeningFunnelMaker()
    flow = funnel.make(list(inputs))
    spec = firework_options(category, priority, fworker_name)
    if spec:
        flow.update_config({"manager_config": spec}, attributes="manager_config", dynamic=True)
    flow.update_metadata({"sseflow_version": __version__}, dynamic=True)
    # jobflow documents store=None (workers use their JOB_STORE) but types it JobStore
    workflow = flow_to_workflow(
        flow,
        store=None,  # type: ignore[arg-type]
        name=workflow_name or funnel.name,
    )
    # ids before add_wf (negative placeholders); add_wf renumbers the Fireworks in place
    roots = [fw.fw_id for fw in workflow.fws if not workflow.links.parent_links.get(fw.fw_id)]
    old_to_new = launchpad.add_wf(workflow)
    fw_ids = sorted(old_to_new.values())
    root_ids = sorted(old_to_new[fw_id] for fw_id in roots)
    return SubmitResult(
        workflow_name=workflow.name,
        fw_ids=fw_ids,
        root_fw_ids=root_ids,
        flow_uuid=flow.uuid,
        n_inputs=len(inputs),
    )
