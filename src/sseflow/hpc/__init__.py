"""Run the funnel on a cluster through FireWorks (LaunchPad on MongoDB, rlaunch/qlaunch)."""

from sseflow.hpc.launchpad import LaunchPadConfigError, describe_launchpad, load_launchpad
from sseflow.hpc.submit import SubmitResult, submit_funnel
from sseflow.hpc.worker_store import WorkerStoreError, check_worker_store

__all__ = [
    "LaunchPadConfigError",
    "SubmitResult",
    "WorkerStoreError",
    "check_worker_store",
    "describe_launchpad",
    "load_launchpad",
    "submit_funnel",
]
