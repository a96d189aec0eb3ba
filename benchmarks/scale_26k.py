"""~26,000 element-substituted copies of the OBELiX training structures through ingest and ML.

The reference work screened ~26,000 Li-containing ICSD/Materials Project structures.
This benchmark builds a set of that size from the 254 OBELiX training CIFs: each
structure is copied with one or two of its non-Li elements replaced by chemically
similar ones (same group of the table below; the lattice is kept), written as CIF into
a scratch folder (not committed). The stages, each in its own process (time and the
peak resident memory of the process tree, sampled every 0.5 s):

``generate``
    write the CIF files.
``ingest``
    the funnel's ingest job (``sseflow.funnel.jobs.ingest_inputs``: read, validate,
    identify, de-duplicate, record every input) on the whole folder, into an empty
    embedded store.
``reingest``
    the same inputs again into the now full store: every input is looked up against
    the stored candidates (formula + fingerprint index), the path of a second batch.
``ml``
    the ML stage on every accepted candidate, as the default funnel runs it
    (:func:`sseflow.funnel.defaults.ml_stage`: SOAP clustering and P_SI batch tiers,
    ``MLPolicyGate()``), through :func:`sseflow.funnel.run.run_funnel` with two workers;
    the candidates are loaded from the store's records first (``load_records_s``), and
    each job's wall time is recorded (``job_wall_s``).

Usage::

    python benchmarks/scale_26k.py [generate ingest reingest ml] [--n 26000]
        [--folder /tmp/sseflow-26k]

Results are merged into ``benchmarks/results/scale_26k.json`` (one entry per stage:
wall time, CPU time of the stage's processes, peak resident memory, counts).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
OBELIX = HERE.parent / "src" / "sseflow" / "data" / "obelix" / "cifs"
OUT = HERE / "results" / "scale_26k.json"

#: Substitution groups: an element is replaced only by another of its group.
GROUPS = [
    ["O", "S", "Se", "Te"],
    ["F", "Cl", "Br", "I"],
    ["N", "P", "As"],
    ["Be", "Mg", "Ca", "Sr", "Ba", "Zn", "Cd"],
    ["B", "Al", "Ga", "In", "Sc", "Y", "La", "Lu", "Gd", "Nd"],
    ["C", "Si", "Ge", "Sn", "Ti", "Zr", "Hf"],
    ["V", "Nb", "Ta", "Sb", "Bi"],
    ["Cr", "Mo", "W"],
    ["Mn", "Fe", "Co", "Ni", "Cu"],
    ["Na", "K", "Rb", "Cs", "Ag"],
]
GROUP_OF = {el: group for group in GROUPS for el in group}


# --- stages (each run in its own process) -------------------------------------------


def _substitutions(structure: Any) -> list[tuple[tuple[str, str], ...]]:
    """Every swap of one, two or three non-Li elements within their groups."""
    elements = sorted(
        ({el.symbol for el in structure.composition.elements} - {"Li"}) & set(GROUP_OF)
    )
    options = [[(el, alt) for alt in GROUP_OF[el] if alt != el] for el in elements]
    out: list[tuple[tuple[str, str], ...]] = []
    for size in (1, 2, 3):
        for chosen in itertools.combinations(options, size):
            out.extend(itertools.product(*chosen))
    return out


def substituted_copies(n: int, stats: dict[str, Any] | None = None) -> Iterator[tuple[str, Any]]:
    """Yield n ``(name, structure)`` element-substituted copies of the OBELiX structures.

    Copies are spread evenly: round after round, each structure that still has an
    unused substitution (one element first, then two, then three) gives one more copy,
    named ``<cif stem>_<k>``. ``stats``, if given, receives the number of unreadable
    CIFs (``unreadable``) and the copies per structure (``counts``).
    """
    from pymatgen.core import Element
    from pymatgen.io.cif import CifParser

    pending: list[tuple[str, Any, Iterator[tuple[tuple[str, str], ...]]]] = []
    unreadable = 0
    for path in sorted(OBELIX.glob("*.cif")):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                structure = CifParser(path, occupancy_tolerance=1.0).parse_structures(
                    primitive=False
                )[0]
            structure.remove_oxidation_states()
        except Exception:
            unreadable += 1
            continue
        pending.append((path.stem, structure, iter(_substitutions(structure))))
    counts: dict[str, int] = {}
    if stats is not None:
        stats["unreadable"] = unreadable
        stats["counts"] = counts
    written = 0
    while written < n and pending:
        still = []
        for stem, structure, swaps in pending:
            if written >= n:
                break
            try:
                swap = next(swaps)
            except StopIteration:
                continue
            copy = structure.copy()
            copy.replace_species({Element(a): Element(b) for a, b in swap})
            k = counts.get(stem, 0)
            counts[stem] = k + 1
            written += 1
            yield f"{stem}_{k:04d}", copy
            still.append((stem, structure, swaps))
        pending = still


def generate(folder: Path, n: int) -> dict[str, Any]:
    """Write n substituted copies of the OBELiX training structures as CIF files."""
    from pymatgen.io.cif import CifWriter

    inputs = folder / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    stats: dict[str, Any] = {}
    written = 0
    for name, copy in substituted_copies(n, stats):
        (inputs / f"{name}.cif").write_text(str(CifWriter(copy)))
        written += 1
    counts = stats["counts"]
    return {
        "files": written,
        "obelix_structures": len(counts),
        "obelix_unreadable": stats["unreadable"],
        "copies_per_structure_max": max(counts.values(), default=0),
        "copies_per_structure_min": min(counts.values(), default=0),
    }


def _ingest(folder: Path) -> dict[str, Any]:
    from sseflow.funnel.jobs import ingest_inputs
    from sseflow.funnel.run import run_funnel
    from sseflow.store import candidate_repository, get_job_store

    store = get_job_store(data_dir=folder / "store")
    job = ingest_inputs([str(folder / "inputs")], {})
    result = run_funnel(job, store, workers=0)
    assert result.ok, result.errors
    doc = result.responses[job.uuid][1].output
    repo = candidate_repository(store)
    return {
        "inputs": len(doc.accepted) + len(doc.rejected) + len(doc.duplicates),
        "accepted": len(doc.accepted),
        "rejected": len(doc.rejected),
        "duplicates": len(doc.duplicates),
        "stored_structures_loaded": doc.stored_structures_loaded,
        "records_in_store": repo.count(),
    }


def ingest(folder: Path) -> dict[str, Any]:
    """The funnel's ingest job on every generated file, into an empty store."""
    return _ingest(folder)


def reingest(folder: Path) -> dict[str, Any]:
    """The same inputs again, de-duplicated against the full store."""
    return _ingest(folder)


def ml(folder: Path) -> dict[str, Any]:
    """The ML stage (SOAP clustering + AtomSets, MLPolicyGate) on every accepted candidate."""
    from pymatgen.core import Structure

    from sseflow.common.candidate import Candidate, CandidateBatch, SourceInfo
    from sseflow.funnel.defaults import ml_stage
    from sseflow.funnel.jobs import run_stage
    from sseflow.funnel.run import run_funnel
    from sseflow.store import candidate_repository, get_job_store

    store = get_job_store(data_dir=folder / "store")
    store.connect()
    repo = candidate_repository(store)
    t_load = time.perf_counter()
    candidates = [
        Candidate(
            candidate_id=rec["candidate_id"],
            formula=rec["formula"],
            structure=Structure.from_dict(rec["structure"]),
            oxidation_states=rec["oxidation_states"],
            source=SourceInfo(**rec["sources"][0]),
            fingerprint=rec.get("fingerprint"),
        )
        for rec in repo.find({"tiers.ingest.status": "passed"})
    ]
    load_s = time.perf_counter() - t_load
    stage = ml_stage()  # the default funnel's ML stage (SOAP selection + P_SI, its gate)
    # handed over as run_stage hands candidates on (a list would cost the harness
    # jobflow's walks over 20,000 structures before the stage starts)
    job = run_stage(CandidateBatch(candidates), [stage], 0)
    t0 = time.perf_counter()
    job_s: dict[str, float] = {}
    started: dict[str, float] = {}

    def timing(event: str, one: Any) -> None:
        if event == "start":
            started[one.name] = time.perf_counter()
        elif one.name in started:
            job_s[one.name] = round(time.perf_counter() - started[one.name], 1)

    result = run_funnel(job, store, workers=2, progress=timing)
    return {
        "candidates": len(candidates),
        "load_records_s": round(load_s, 1),
        "job_wall_s": job_s,
        "ok": result.ok,
        "errors": [f"{e.name}: {e.reason}" for e in result.errors],
        "stage_wall_s": round(time.perf_counter() - t0, 1),
        "passed": repo.count({"tiers.atomsets.status": "passed"}),
        "failed": repo.count({"status": "failed"}),
    }


STAGES = {"generate": generate, "ingest": ingest, "reingest": reingest, "ml": ml}


# --- orchestration: each stage in a child process, measured from outside ------------


def _peak_rss(proc: subprocess.Popen, peak: list[float], stop: threading.Event) -> None:
    import psutil

    try:
        root = psutil.Process(proc.pid)
    except psutil.NoSuchProcess:
        return
    while not stop.is_set():
        try:
            tree = [root, *root.children(recursive=True)]
            total = 0
            for p in tree:
                try:
                    total += p.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            peak[0] = max(peak[0], total / 1e9)
        except psutil.NoSuchProcess:
            return
        stop.wait(0.5)


def run_stage_process(name: str, folder: Path, n: int) -> dict[str, Any]:
    import resource

    command = [sys.executable, __file__, "--child", name, "--folder", str(folder), "--n", str(n)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = [0.0]
    stop = threading.Event()
    sampler = threading.Thread(target=_peak_rss, args=(proc, peak, stop), daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    stop.set()
    sampler.join()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    detail = json.loads(lines[-1]) if lines and proc.returncode == 0 else {"error": out[-2000:]}
    return {
        "stage": name,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),  # the stage's processes (the machine is shared: wall varies)
        "peak_rss_gb": round(peak[0], 2),
        "exit_code": proc.returncode,
        **detail,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stages", nargs="*", default=["generate", "ingest", "reingest", "ml"])
    parser.add_argument("--n", type=int, default=26000)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/sseflow-26k"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        warnings.simplefilter("ignore")
        print(
            json.dumps(
                STAGES[args.child](args.folder, args.n)
                if args.child == "generate"
                else STAGES[args.child](args.folder)
            )
        )
        return
    results = json.loads(OUT.read_text()) if OUT.exists() else {"stages": {}}
    for name in args.stages:
        row = run_stage_process(name, args.folder, args.n)
        row["machine"] = {
            "cores": os.cpu_count(),
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
        }
        row["date"] = time.strftime("%Y-%m-%d")
        print(json.dumps(row), flush=True)
        results["stages"][name] = row
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
