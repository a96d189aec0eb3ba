"""``sseflow cluster`` and ``sseflow compare-descriptors``: semi-supervised SOAP clustering.

Register with :func:`register` (``register(app)`` adds both commands to a typer app).
:func:`store_clustering_documents` writes results to candidate records and can be called
by other code (e.g. the funnel CLI).
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sseflow.cli.app import console, err_console, fail
from sseflow.common.candidate import Candidate
from sseflow.common.document import TierStatus
from sseflow.ml.labels import LabelTable, LabelTableError, load_label_table, load_obelix_labels
from sseflow.ml.soap.clustering import (
    HIGH_SIGMA_S_PER_CM,
    ClusteringError,
    ClusteringResult,
    WSigmaCurve,
    compare_descriptors,
)
from sseflow.ml.soap.descriptor import SOAPSettings
from sseflow.ml.soap.schemas import ClusteringDocument
from sseflow.store.candidates import identity_fields

#: Columns of the ``sseflow cluster`` table.
CLUSTER_COLUMNS = (
    "candidate_id",
    "formula",
    "cluster",
    "size",
    "labels",
    "mean lg s",
    "max lg s",
    "d(high)",
    "selected",
)
LabelsOption = Annotated[
    Path | None,
    typer.Option(
        help="Label CSV: OBELiX form (ID, 'Ionic conductivity (S cm-1)', CIFs beside it or "
        "in cifs/) or simple form (id, sigma_s_per_cm, cif_path). Default: the shipped "
        "OBELiX training split."
    ),
]

DEFAULT_DESCRIPTORS = (
    "CAN:3:5:3",
    "CAN:2:4:2",
    "CAN:4:2:2",
    "CAMN:3:5:3",
    "AM:3:5:3",
    "A:3:5:3",
    "CAN-40:3:5:3",
    "A-40:3:5:3",
)


def parse_descriptor(spec: str) -> SOAPSettings:
    """Parse ``SCHEME[:r_cut:n_max:l_max][+sine[:alpha]]`` into SOAP settings.

    Examples: ``CAN``, ``CAN:2:4:2``, ``CAN:3:5:3+sine:3e-6``.

    Raises
    ------
    ValueError
        On a malformed spec or invalid settings.
    """
    base, _, extra = spec.partition("+")
    parts = base.split(":")
    kwargs: dict[str, Any] = {"scheme": parts[0]}
    if len(parts) == 4:
        kwargs.update(r_cut_angstrom=float(parts[1]), n_max=int(parts[2]), l_max=int(parts[3]))
    elif len(parts) != 1:
        raise ValueError(f"descriptor {spec!r}: use SCHEME or SCHEME:r_cut:n_max:l_max")
    if extra:
        name, _, alpha = extra.partition(":")
        if name != "sine":
            raise ValueError(f"descriptor {spec!r}: only '+sine[:alpha]' is supported")
        kwargs["second_order"] = "sine_coulomb"
        if alpha:
            kwargs["alpha"] = float(alpha)
    return SOAPSettings(**kwargs)


def _labels(path: Path | None) -> LabelTable:
    try:
        return load_label_table(path) if path else load_obelix_labels()
    except LabelTableError as exc:
        fail(str(exc))


def read_candidates(paths: list[Path]) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Read structure files into candidates with the funnel's stable ids.

    Returns
    -------
    candidates, rejected
        Accepted candidates and ``(path, reason)`` of inputs rejected at ingest.
    """
    from sseflow.ingest.batch import ingest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        doc = ingest(list(paths))
    return list(doc.accepted), [(r.source.path, r.reason) for r in doc.rejected]


def store_clustering_documents(
    repository: Any, candidates: list[Candidate], docs: list[ClusteringDocument]
) -> int:
    """Write clustering results into candidate records.

    Sets ``tiers.soap_clustering`` of each record (creating the record with formula,
    structure and oxidation states when it does not exist). The record's overall
    ``status``/``last_tier`` are left to the funnel: this is a side analysis.

    Parameters
    ----------
    repository
        A :class:`sseflow.store.CandidateRepository`.
    candidates, docs
        Same order, as returned by the Maker.

    Returns
    -------
    int
        Number of records written.
    """
    for candidate, doc in zip(candidates, docs, strict=True):
        repository.upsert_candidate(
            candidate.candidate_id, identity_fields(candidate), candidate.source
        )
        repository.set_tier(doc, overall=False)
    return len(docs)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _cluster_table(
    title: str, candidates: list[Candidate], docs: list[ClusteringDocument]
) -> Table:
    """Return one row per candidate: its cluster, the labels in it and the decision."""
    table = Table(title=title)
    for column in CLUSTER_COLUMNS:
        table.add_column(column, no_wrap=column == "candidate_id")
    for candidate, doc in zip(candidates, docs, strict=True):
        if doc.status == TierStatus.FAILED:
            cells = ["failed", "", "", "", "", "", (doc.reason or "")[:50]]
        else:
            cells = [
                str(doc.cluster_id),
                str(doc.n_structures_in_cluster),
                str(doc.n_labels_in_cluster),
                _fmt(doc.mean_log10_sigma_in_cluster),
                _fmt(doc.max_log10_sigma_in_cluster),
                _fmt(doc.distance_to_high_sigma_cluster, 1),
                "yes" if doc.selected else "no",
            ]
        table.add_row(candidate.candidate_id, candidate.formula, *cells)
    return table


def _write_plots(
    result: ClusteringResult,
    candidates: list[Candidate],
    folder: Path,
    high_sigma_s_per_cm: float,
    label: str,
) -> None:
    """Write the dendrogram (candidates marked) and the W_sigma curve into ``folder``."""
    from sseflow.ml.soap.plots import plot_dendrogram

    rows = [result.ids.index(c.candidate_id) for c in candidates if c.candidate_id in result.ids]
    out = plot_dendrogram(
        result.tree.linkage,
        result.label_rows,
        result.log10_sigma,
        folder / "dendrogram.png",
        depth=result.depth,
        high_sigma_s_per_cm=high_sigma_s_per_cm,
        candidate_rows=rows,
    )
    console.print(f"dendrogram written to {out}")
    if len(result.label_rows) and result.depth >= 2:
        from sseflow.ml.soap.clustering import w_sigma_curve
        from sseflow.ml.soap.plots import plot_w_sigma_curves

        curve = w_sigma_curve(result.tree, result.label_rows, result.log10_sigma, label=label)
        out = plot_w_sigma_curves([curve], folder / "w_sigma.png")
        console.print(f"W_sigma curve written to {out}")


def _store_documents(
    candidates: list[Candidate],
    docs: list[ClusteringDocument],
    data_dir: Path | None,
    db_uri: str | None,
) -> None:
    from sseflow.cli._store import open_store
    from sseflow.store import candidate_repository

    job_store = open_store(data_dir, db_uri, write=True)
    n = store_clustering_documents(candidate_repository(job_store), candidates, docs)
    console.print(f"{n} candidate record(s) updated (tiers.soap_clustering)")


def cluster_command(
    paths: Annotated[list[Path], typer.Argument(help="CIF/POSCAR/JSON files or folders.")],
    depth: Annotated[int, typer.Option(help="Number of clusters at the selection cut.")] = 50,
    descriptor: Annotated[
        str, typer.Option(help="SCHEME[:r_cut:n_max:l_max][+sine[:alpha]], e.g. CAN:3:5:3.")
    ] = "CAN:3:5:3",
    labels: LabelsOption = None,
    high_sigma: Annotated[
        float, typer.Option(help="A label above this (S/cm) makes its cluster high.")
    ] = HIGH_SIGMA_S_PER_CM,
    plots: Annotated[
        Path | None, typer.Option(help="Folder for the dendrogram and W_sigma plots.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the documents as JSON to this file.")
    ] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Descriptor cache folder.")] = None,
    n_jobs: Annotated[int, typer.Option(help="Processes for SOAP.")] = 1,
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Write results to candidate records.")
    ] = False,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Embedded store folder (with --store).")
    ] = None,
    db_uri: Annotated[
        str | None, typer.Option("--db-uri", help="MongoDB URI (with --store).")
    ] = None,
) -> None:
    """Cluster structure files with the reference labels and print each one's cluster.

    A structure is selected when its cluster (at DEPTH clusters) holds a label with
    sigma > --high-sigma or is the nearest cluster to one that does.
    """
    from sseflow.ml.soap.jobs import SOAPClusteringMaker

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"no such file or folder: {', '.join(missing)}")
    try:
        settings = parse_descriptor(descriptor)
    except ValueError as exc:
        fail(str(exc))
    label_table = _labels(labels)
    candidates, rejected = read_candidates(paths)
    for path, reason in rejected:
        err_console.print(f"[yellow]skipped[/] {path}: {reason}")
    if not candidates:
        fail("no structure could be read from the inputs")
    maker = SOAPClusteringMaker(
        soap=settings,
        depth=depth,
        high_sigma_s_per_cm=high_sigma,
        cache_dir=str(cache_dir) if cache_dir else None,
        n_jobs=n_jobs,
    )
    # the label table is passed in memory (a user CSV is read once)
    docs, result = maker.run(candidates, labels=label_table)
    title = f"{settings.label}, {len(label_table)} labels, depth {docs[0].depth}"
    console.print(_cluster_table(title, candidates, docs))
    n_selected = sum(bool(d.selected) for d in docs)
    console.print(f"{n_selected} of {len(docs)} selected (sigma > {high_sigma:g} S/cm clusters).")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps([d.model_dump(mode="json") for d in docs], indent=1))
        console.print(f"documents written to {json_out}")
    if plots is not None and result is not None:
        _write_plots(result, candidates, plots, high_sigma, settings.label)
    if store:
        _store_documents(candidates, docs, data_dir, db_uri)


def compare_descriptors_command(
    descriptor: Annotated[
        list[str] | None,
        typer.Option(
            help="Descriptor to compare (repeat); SCHEME[:r_cut:n_max:l_max][+sine[:alpha]]. "
            f"Default: {', '.join(DEFAULT_DESCRIPTORS)}."
        ),
    ] = None,
    labels: LabelsOption = None,
    min_depth: Annotated[int, typer.Option(help="First depth of the mean.")] = 2,
    max_depth: Annotated[int, typer.Option(help="Last depth of the mean.")] = 50,
    draws: Annotated[int, typer.Option(help="Random-control draws.")] = 100,
    out: Annotated[
        Path, typer.Option(help="Folder for ranking.csv, ranking.json, w_sigma.png.")
    ] = Path("soap-comparison"),
    cache_dir: Annotated[Path | None, typer.Option(help="Descriptor cache folder.")] = None,
    n_jobs: Annotated[int, typer.Option(help="Processes for SOAP.")] = 1,
) -> None:
    """Rank descriptors by mean W_sigma over a depth range against the random control."""
    from sseflow.ml.soap.plots import plot_w_sigma_curves

    try:
        settings = [parse_descriptor(d) for d in (descriptor or DEFAULT_DESCRIPTORS)]
    except ValueError as exc:
        fail(str(exc))
    label_table = _labels(labels)
    try:
        curves = compare_descriptors(
            label_table,
            settings,
            min_depth=min_depth,
            max_depth=max_depth,
            n_draws=draws,
            cache_dir=cache_dir,
            n_jobs=n_jobs,
        )
    except ClusteringError as exc:
        fail(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    rows = _ranking_rows(curves)
    table = Table(
        title=f"W_sigma, depths {min_depth}-{curves[0].depths[-1]}, {curves[0].n_labels} labels"
    )
    for column in ("rank", "descriptor", "mean W_sigma", "mean control", "ratio"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["rank"]),
            row["descriptor"],
            f"{row['mean_w_sigma']:.1f}",
            f"{row['mean_control']:.1f}",
            f"{row['ratio_to_control']:.2f}",
        )
    console.print(table)
    _write_ranking(rows, out)
    plot = plot_w_sigma_curves(curves, out / "w_sigma.png")
    console.print(f"ranking written to {out / 'ranking.csv'}, plot to {plot}")


def _ranking_rows(curves: list[WSigmaCurve]) -> list[dict[str, Any]]:
    """Return one JSON-ready row per descriptor, best (lowest mean W_sigma) first."""
    return [
        {
            "rank": rank,
            "descriptor": curve.label,
            "mean_w_sigma": curve.mean_w_sigma,
            "mean_control": curve.mean_control,
            "ratio_to_control": curve.mean_w_sigma / curve.mean_control,
            "n_labels": curve.n_labels,
            "n_structures": curve.n_structures,
            "settings": curve.settings,
            "depths": curve.depths.tolist(),
            "w_sigma": curve.w_sigma.tolist(),
            "control": curve.control.tolist(),
        }
        for rank, curve in enumerate(curves, start=1)
    ]


def _write_ranking(rows: list[dict[str, Any]], out: Path) -> None:
    """Write ``ranking.json`` (everything) and ``ranking.csv`` (the summary) into ``out``."""
    (out / "ranking.json").write_text(json.dumps(rows, indent=1))
    columns = ("rank", "descriptor", "mean_w_sigma", "mean_control", "ratio_to_control")
    with open(out / "ranking.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(
                [
                    row["rank"],
                    row["descriptor"],
                    f"{row['mean_w_sigma']:.3f}",
                    f"{row['mean_control']:.3f}",
                    f"{row['ratio_to_control']:.4f}",
                ]
            )


def register(app: typer.Typer) -> None:
    """Add the ``cluster`` and ``compare-descriptors`` commands to ``app``."""
    app.command("cluster")(cluster_command)
    app.command("compare-descriptors")(compare_descriptors_command)
