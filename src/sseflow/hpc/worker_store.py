"""Check the jobflow JobStore that FireWorks workers will write to.

Under FireWorks each job runs in ``rlaunch`` with jobflow's ``JOB_STORE`` setting (from
``JOBFLOW_CONFIG_FILE`` or ``~/.jobflow.yaml``): ``sseflow submit`` deliberately does not
put a store (and so no database credentials) into the Firework specs. The funnel jobs
write candidate records to the store's ``candidates`` additional store and BVSE grids to
``data``, so that store must have both and must be a database every worker can reach.
"""

from __future__ import annotations

from jobflow import JobStore
from maggma.core import Store
from maggma.stores import MemoryStore, MontyStore

from sseflow.store.jobstore import CANDIDATES_STORE, DATA_STORE


class WorkerStoreError(RuntimeError):
    """The jobflow JobStore cannot hold sseflow's results on a cluster."""


def check_worker_store(store: JobStore | None = None) -> JobStore:
    """Raise if ``store`` (default: jobflow's ``JOB_STORE``) is unfit for FireWorks runs.

    Parameters
    ----------
    store
        JobStore to check; default ``jobflow.SETTINGS.JOB_STORE`` of this machine.

    Returns
    -------
    JobStore
        The checked store.

    Raises
    ------
    WorkerStoreError
        If it lacks the ``candidates`` or ``data`` additional store, or keeps results
        in memory or in a local embedded folder that other nodes cannot share.
    """
    if store is None:
        from jobflow import SETTINGS

        store = SETTINGS.JOB_STORE
    # jobflow's JobStore.__init__ leaves additional_stores unannotated (has-type)
    additional: dict[str, Store] = store.additional_stores  # type: ignore[has-type]
    missing = [name for name in (CANDIDATES_STORE, DATA_STORE) if name not in additional]
    if missing:
        raise WorkerStoreError(
            f"jobflow's JOB_STORE has no additional store(s) {missing}; the funnel writes "
            "candidate records and BVSE grids there. Use config/jobflow.yaml as "
            "JOBFLOW_CONFIG_FILE (on this machine and on the workers)."
        )
    stores = {"docs_store": store.docs_store, **additional}
    for name, sub in stores.items():
        if isinstance(sub, MemoryStore | MontyStore):
            raise WorkerStoreError(
                f"jobflow's JOB_STORE {name} is a {type(sub).__name__}: results would stay "
                "in one process or one node. Point it at the MongoDB server "
                "(config/jobflow.yaml)."
            )
    return store
