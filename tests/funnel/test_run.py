"""The local runner: tier jobs on worker processes, failures recorded with their cause."""

from __future__ import annotations

import os

import pytest
from jobflow import Flow, job, run_locally

from sseflow.funnel.gates.base import PassAllGate
from sseflow.funnel.gates.threshold import ThresholdGate
from sseflow.funnel.maker import ScreeningFunnelMaker, Stage
from sseflow.funnel.run import run_funnel
from sseflow.store import candidate_repository, get_job_store
from tests.conftest import antifluorite
from tests.funnel.plugins import BrokenMaker, PidMaker, RaisingGate

INPUTS = {
    "Li2O": antifluorite(4.61, "O"),
    "Li2S": antifluorite(5.71, "S"),
    "Li2Se": antifluorite(6.00, "Se"),
    "Li2Te": antifluorite(6.517, "Te"),
}


def _records(store):
    store.connect()
    return {r["formula"]: r for r in candidate_repository(store).find({})}


def _funnel(*stages: Stage) -> ScreeningFunnelMaker:
    return ScreeningFunnelMaker(stages=list(stages))


def test_two_workers_share_the_tier_jobs(tmp_path) -> None:
    store = get_job_store(data_dir=tmp_path / "db")
    funnel = _funnel(Stage([PidMaker(sleep_s=1.0)], PassAllGate()))
    result = run_funnel(funnel.make(list(INPUTS.values())), store, workers=2)
    assert result.ok and not result.tier_failures
    records = _records(store)
    pids = {r["tiers"]["pid"]["pid"] for r in records.values()}
    assert len(pids) == 2 and os.getpid() not in pids  # both workers computed tiers
    assert {r["status"] for r in records.values()} == {"passed"}
    # the same funnel in one process gives the same records
    alone = get_job_store(data_dir=tmp_path / "alone")
    assert run_funnel(funnel.make(list(INPUTS.values())), alone, workers=0).ok
    for formula, record in _records(alone).items():
        assert record["tiers"]["pid"]["pid"] == os.getpid()
        assert record["tiers"]["pid"]["density_g_per_cm3"] == pytest.approx(
            records[formula]["tiers"]["pid"]["density_g_per_cm3"]
        )


@pytest.mark.parametrize("workers", [0, 2])
def test_tier_job_without_output_fails_its_candidate_only(tmp_path, workers) -> None:
    store = get_job_store(data_dir=tmp_path / "db")
    kill = ["Li2Te"] if workers else []  # in-process, a kill would end the test itself
    funnel = _funnel(Stage([PidMaker(crash=["Li2O"], kill=kill)], PassAllGate()))
    result = run_funnel(funnel.make(list(INPUTS.values())), store, workers=workers)
    assert result.ok  # candidate failures are results, not errors of the run
    records = _records(store)
    crashed = records["Li2O"]
    assert crashed["status"] == "failed" and crashed["last_tier"] == "pid"
    assert "deliberate crash on Li2O" in crashed["reason"]
    assert crashed["tiers"]["pid"]["status"] == "failed"
    if workers:
        killed = records["Li2Te"]
        assert killed["status"] == "failed" and "SIGKILL" in killed["reason"], killed["reason"]
    for formula in ("Li2S", "Li2Se") + (() if workers else ("Li2Te",)):
        assert records[formula]["status"] == "passed", records[formula]["reason"]
    assert {f.name for f in result.tier_failures} >= {"pid Li2O"}


def test_stage_that_cannot_start_fails_its_candidates_with_the_cause(tmp_path) -> None:
    store = get_job_store(data_dir=tmp_path / "db")
    funnel = _funnel(Stage([BrokenMaker()], PassAllGate()))
    result = run_funnel(funnel.make(list(INPUTS.values())[:2]), store, workers=2)
    assert not result.ok
    (error,) = result.errors
    assert "could not start" in error.reason and "unexpected keyword argument" in error.reason
    for record in _records(store).values():
        assert record["status"] == "failed" and record["last_tier"] == "broken"
        assert "unexpected keyword argument" in record["reason"]
        assert record["tiers"]["broken"]["status"] == "failed"  # queries by tier find it


def test_gate_that_crashes_fails_its_candidates_with_the_cause(tmp_path) -> None:
    store = get_job_store(data_dir=tmp_path / "db")
    funnel = _funnel(Stage([PidMaker()], RaisingGate()))
    result = run_funnel(funnel.make(list(INPUTS.values())[:2]), store, workers=0)
    assert [e.name for e in result.errors] == ["gate 0 (pid)"]
    for record in _records(store).values():
        assert record["status"] == "failed" and "deliberate gate bug" in record["reason"]
        assert record["tiers"]["pid"]["pid"] == os.getpid()  # the tier result is kept


@job
def after_funnel(summary):
    return "ran"


@pytest.mark.parametrize("runner", ["run_funnel", "run_locally"])
def test_stage_rejecting_everyone_stops_what_follows(tmp_path, runner) -> None:
    store = get_job_store(data_dir=tmp_path / "db")
    nobody = ThresholdGate("pid", "density_g_per_cm3", max_value=0.0)
    funnel_flow = _funnel(Stage([PidMaker()], nobody), Stage([PidMaker()])).make(
        list(INPUTS.values())[:2]
    )
    follow = after_funnel(funnel_flow.output)
    flow = Flow([funnel_flow, follow])
    if runner == "run_funnel":
        responses = run_funnel(flow, store, workers=0).responses
    else:
        responses = run_locally(flow, store=store, log=False)
    assert follow.uuid not in responses  # stop_children reached the job after the funnel
    records = _records(store)
    assert {r["status"] for r in records.values()} == {"rejected"}
    assert all("density_g_per_cm3" in r["reason"] for r in records.values())


def test_workers_refuse_an_in_memory_store() -> None:
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    store = JobStore(MemoryStore(), additional_stores={"candidates": MemoryStore()})
    flow = _funnel(Stage([PidMaker()])).make([INPUTS["Li2S"]])
    with pytest.raises(ValueError, match="in-memory store"):
        run_funnel(flow, store, workers=2)
