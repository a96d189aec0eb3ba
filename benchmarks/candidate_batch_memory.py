"""Peak memory of packing and decoding a stage's candidates, before and after streaming.

A funnel stage hands its candidates on as one :class:`~sseflow.common.candidate.CandidateBatch`
(ids, formulas and one compressed string). Until 2026-11-29 the batch was packed by
building every candidate's JSON rows as Python dicts, then one JSON array; decoding
read that array whole before building the Structures. A structure as dicts is several
times its pymatgen size, and in the 26,000-structure benchmark the ML stage's processes
peaked at 19.8 GB together. Now the rows are one JSON object per line, compressed and
decompressed as a stream, one row held at a time.

Inputs: the 254 OBELiX training structures as candidates, repeated ``--copies`` times
(new ids). Each measurement runs in its own fresh process (same inputs, side by side in
one run): the process's resident memory just before the operation (or its earlier peak,
if higher) against its peak after it: what the operation added at its peak. Decoding
processes only read the packed batch from a file.

- ``pack``: the previous packing (all rows, one array; kept here as the reference) and
  the current :meth:`CandidateBatch.as_dict`;
- ``decode``: the previous decoding (a batch packed in the array format, which the
  current code still reads whole) and the current line format, both into Candidates;
- ``atomsets`` and ``soap`` (``--tiers``): the ML stage's two batch tiers (P_SI without
  band gaps; SOAP clustering with the 254 labels) on the packed batch, as a worker gets
  it: ``decoded``, the whole batch decoded first and P_SI scored in chunks of 2000
  structures (what the tiers did until 2026-11-29), against ``streamed``, the current
  tiers: P_SI reads and scores 500 candidates at a time, SOAP reads one at a time and
  keeps only its descriptor. The model and the imports are warmed up on two candidates
  and the peak is reset (``/proc/self/clear_refs``) before measuring.

Writes ``benchmarks/results/candidate_batch_memory.json`` (the tier measurements under
``tiers``).

Usage::

    PYTHONPATH=src:. python benchmarks/candidate_batch_memory.py [--copies 20] [--tiers]
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "candidate_batch_memory.json"
MODES = ("pack_array", "pack_lines", "decode_array", "decode_lines")
TIER_MODES = ("atomsets_decoded", "atomsets_streamed", "soap_decoded", "soap_streamed")


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 1e6


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux


def _reset_peak() -> bool:
    """Reset the process's peak resident memory (Linux: ``/proc/self/clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _hwm_mb() -> float:
    """Peak resident memory since the last :func:`_reset_peak` (``VmHWM``), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e3  # kB
    return _peak_mb()


def _candidates(copies: int) -> list[Any]:
    import warnings

    from sseflow.common.candidate import Candidate
    from sseflow.ingest.batch import ingest
    from sseflow.ml.labels import load_obelix_labels

    warnings.filterwarnings("ignore")
    doc = ingest(list(load_obelix_labels().structures))
    base: list[Candidate] = list(doc.accepted)
    return [
        c.model_copy(update={"candidate_id": f"{c.candidate_id}-{k}"})
        for k in range(copies)
        for c in base
    ]


def _rows(candidates: list[Any]) -> list[dict[str, Any]]:
    return [
        {**c.model_dump(mode="json", exclude={"structure"}), "structure": c.structure.as_dict()}
        for c in candidates
    ]


def _array_packed(candidates: list[Any]) -> str:
    """The previous packing: every row as dicts, then one JSON array."""
    data = json.dumps(_rows(candidates), separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(data, 6)).decode("ascii")


def prepare(copies: int, folder: Path) -> None:
    """Write the batch in both formats (decoding children read only these files)."""
    from sseflow.common.candidate import CandidateBatch

    candidates = _candidates(copies)
    ids = {
        "candidate_ids": [c.candidate_id for c in candidates],
        "formulas": [c.formula for c in candidates],
    }
    lines = CandidateBatch(candidates).as_dict()["packed"]
    for name, packed in (("array", _array_packed(candidates)), ("lines", lines)):
        (folder / f"{name}.json").write_text(json.dumps({**ids, "packed": packed}))


def child(mode: str, copies: int, folder: Path) -> dict[str, Any]:
    """Measure one operation in this (fresh) process."""
    import gc

    from sseflow.common.candidate import Candidate, CandidateBatch

    if mode in TIER_MODES:
        return tier_child(mode, folder)
    if mode.startswith("decode"):
        packed = json.loads((folder / f"{mode.split('_')[1]}.json").read_text())
    else:
        candidates = _candidates(copies)
    gc.collect()
    before, peak_before = _rss_mb(), _peak_mb()
    t0 = time.perf_counter()
    if mode == "pack_array":
        out: Any = _array_packed(candidates)
    elif mode == "pack_lines":
        out = CandidateBatch(candidates).as_dict()["packed"]
    else:
        out = list(CandidateBatch.from_dict(packed))
        assert all(isinstance(c, Candidate) for c in out)
    wall = time.perf_counter() - t0
    peak = _peak_mb()
    return {
        "mode": mode,
        "candidates": len(out) if isinstance(out, list) else len(candidates),
        "rss_before_mb": round(before, 1),
        "peak_before_mb": round(peak_before, 1),
        "peak_mb": round(peak, 1),
        "added_at_peak_mb": round(peak - max(before, peak_before), 1),
        "rss_after_mb": round(_rss_mb(), 1),
        "wall_s": round(wall, 2),
        "packed_mb": round(len(out if isinstance(out, str) else packed["packed"]) / 1e6, 2),
    }


def tier_child(mode: str, folder: Path) -> dict[str, Any]:
    """Run one ML batch tier on the packed batch in this (fresh) process."""
    import gc
    import warnings

    from sseflow.common.candidate import CandidateBatch
    from sseflow.ml.atomsets.jobs import AtomSetsMaker
    from sseflow.ml.soap.jobs import SOAPClusteringMaker

    warnings.filterwarnings("ignore")
    tier, how = mode.split("_")
    packed = json.loads((folder / "lines.json").read_text())
    maker = AtomSetsMaker(band_gap_mode="off") if tier == "atomsets" else SOAPClusteringMaker()
    run = maker.score if isinstance(maker, AtomSetsMaker) else maker.cluster
    run(CandidateBatch.from_dict(packed)[:2])  # warm up: model, imports, label descriptors
    batch = CandidateBatch.from_dict(packed)
    gc.collect()
    # the warm-up's own peak is forgotten, so the peak below is this run's
    reset = _reset_peak()
    before = _rss_mb()
    t0 = time.perf_counter()
    if how == "decoded":
        from sseflow.ml.atomsets import scoring

        scoring.DEFAULT_CHUNK_SIZE = 2000  # the chunk of the earlier code
        list(batch)  # the whole batch decoded, as the tiers read it before streaming
    docs = run(batch)
    wall = time.perf_counter() - t0
    peak = _hwm_mb()
    return {
        "mode": mode,
        "candidates": len(docs),
        "failed": sum(d.status == "failed" for d in docs),
        "rss_before_mb": round(before, 1),
        "peak_reset": reset,
        "peak_mb": round(peak, 1),
        "added_at_peak_mb": round(peak - before, 1),
        "wall_s": round(wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument(
        "--tiers", action="store_true", help="Measure the ML batch tiers (see above) only."
    )
    parser.add_argument("--child", choices=(*MODES, *TIER_MODES, "prepare"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "prepare":
        prepare(args.copies, args.folder)
        return
    if args.child:
        print(json.dumps(child(args.child, args.copies, args.folder)))
        return
    results = []
    modes = TIER_MODES if args.tiers else MODES
    with tempfile.TemporaryDirectory() as folder:
        for mode in ("prepare", *modes):
            command = [sys.executable, __file__, "--child", mode, "--folder", folder]
            proc = subprocess.run(
                [*command, "--copies", str(args.copies)],
                capture_output=True,
                text=True,
                check=True,
            )
            if mode != "prepare":
                results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                print(results[-1], flush=True)
    by_mode = {r["mode"]: r for r in results}
    if args.tiers:
        tiers = {
            tier: {
                "added_ratio_streamed_over_decoded": round(
                    by_mode[f"{tier}_streamed"]["added_at_peak_mb"]
                    / by_mode[f"{tier}_decoded"]["added_at_peak_mb"],
                    3,
                ),
                "results": [by_mode[f"{tier}_decoded"], by_mode[f"{tier}_streamed"]],
            }
            for tier in ("atomsets", "soap")
        }
        stored = json.loads(OUT.read_text()) if OUT.is_file() else {}
        stored["tiers"] = {
            "copies": args.copies,
            "n_candidates": by_mode["atomsets_decoded"]["candidates"],
            **tiers,
            "date": time.strftime("%Y-%m-%d"),
        }
        OUT.write_text(json.dumps(stored, indent=2) + "\n")
        print({t: v["added_ratio_streamed_over_decoded"] for t, v in tiers.items()})
        return
    summary = {
        "pack_added_ratio_lines_over_array": round(
            by_mode["pack_lines"]["added_at_peak_mb"] / by_mode["pack_array"]["added_at_peak_mb"], 3
        ),
        "decode_added_ratio_lines_over_array": round(
            by_mode["decode_lines"]["added_at_peak_mb"]
            / by_mode["decode_array"]["added_at_peak_mb"],
            3,
        ),
    }
    stored = json.loads(OUT.read_text()) if OUT.is_file() else {}
    OUT.write_text(
        json.dumps(
            {
                **({"tiers": stored["tiers"]} if "tiers" in stored else {}),
                "copies": args.copies,
                "results": results,
                "summary": summary,
                "machine": {"python": platform.python_version(), "cpus": 2},
                "date": time.strftime("%Y-%m-%d"),
            },
            indent=2,
        )
        + "\n"
    )
    print(summary)


if __name__ == "__main__":
    main()
