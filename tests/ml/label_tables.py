"""Small label tables in both accepted forms, built from real OBELiX training rows."""

import csv
import shutil
from pathlib import Path

from sseflow.ml.labels import OBELIX_SIGMA_COLUMN, default_training_table

OBELIX_DIR = default_training_table().parent


def obelix_rows(ids: list[str]) -> tuple[list[str], list[dict[str, str]]]:
    """Return the OBELiX header and the rows of ``ids`` (in that order)."""
    with open(default_training_table(), newline="") as handle:
        reader = csv.DictReader(handle)
        rows = {r["ID"]: r for r in reader}
        return list(reader.fieldnames or []), [rows[i] for i in ids]


def obelix_form(folder: Path, ids: list[str]) -> Path:
    """Write ``train.csv`` with OBELiX's own columns and copy the CIFs into ``cifs/``."""
    fields, rows = obelix_rows(ids)
    (folder / "cifs").mkdir(parents=True, exist_ok=True)
    for i in ids:
        cif = OBELIX_DIR / "cifs" / f"{i}.cif"
        if cif.is_file():
            shutil.copy(cif, folder / "cifs")
    path = folder / "train.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def simple_form(folder: Path, ids: list[str]) -> Path:
    """Write ``labels.csv`` as ``id, sigma_s_per_cm, cif_path`` (absolute CIF paths)."""
    _, rows = obelix_rows(ids)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "labels.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "sigma_s_per_cm", "cif_path"])
        for row in rows:
            writer.writerow(
                [row["ID"], row[OBELIX_SIGMA_COLUMN], OBELIX_DIR / "cifs" / f"{row['ID']}.cif"]
            )
    return path
