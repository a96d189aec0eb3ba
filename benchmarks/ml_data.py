"""Cached inputs of the ML benchmarks: OBELiX labels and every feature set, computed once.

The features of the 254 OBELiX training structures (MEGNet V0/V1 on CAN/CAMN/CAMNS
simplifications, SOAP, Sendek features, predicted band gaps) take minutes to compute on
the shared 2-core machine, and every benchmark needs them, so they are cached outside
the repository in ``$SSEFLOW_ML_CACHE`` (default ``/tmp/ml/cache``), keyed by the
sseflow feature settings and the training ids. Delete the folder to recompute.

Run ``PYTHONPATH=src python benchmarks/ml_data.py`` to fill the cache (nice it).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from sseflow.ml.labels import LabelTable, load_obelix_labels, load_obelix_table

CACHE = Path(os.environ.get("SSEFLOW_ML_CACHE", "/tmp/ml/cache"))
#: The feature variants compared for the structure model (thesis chapter 4).
MEGNET_VARIANTS = tuple((level, s) for s in ("CAN", "CAMN", "CAMNS") for level in (0, 1))


def _key(table: LabelTable, *parts: object) -> str:
    text = json.dumps([table.ids, [str(p) for p in parts]])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def structures() -> LabelTable:
    """The 254 OBELiX training rows with a CIF (shared order of every structure feature)."""
    return load_obelix_labels()


def everything() -> LabelTable:
    """All 478 OBELiX training rows (224 with a composition only)."""
    return load_obelix_table()


def megnet_features(level: int, simplification: str) -> list[np.ndarray]:
    """MEGNet atom features of the 254 structures (one ``(n_sites, d)`` array each)."""
    from sseflow.ml.atomsets.featurization import FeatureSettings, featurize

    table = structures()
    path = CACHE / f"megnet_v{level}_{simplification}_{_key(table, level, simplification)}.npz"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        feats = featurize(table.structures, FeatureSettings(level, simplification))
        np.savez_compressed(path, **{f"s{i:04d}": f for i, f in enumerate(feats)})
        print(f"  MEGNet V{level} {simplification}: {time.perf_counter() - t0:.1f} s -> {path}")
    with np.load(path) as arrays:
        return [arrays[k] for k in sorted(arrays.files)]


def soap_matrix(spec: str = "CAN:3:5:3") -> np.ndarray:
    """SOAP vectors of the 254 structures (rows in :func:`structures` order)."""
    from sseflow.cli.cluster import parse_descriptor
    from sseflow.ml.soap.descriptor import featurize

    table = structures()
    featurized = featurize(
        list(zip(table.ids, table.structures, strict=True)),
        parse_descriptor(spec),
        cache_dir=CACHE / "soap",
    )
    if featurized.failed:
        raise RuntimeError(f"SOAP failed for {featurized.failed}")
    row = {i: k for k, i in enumerate(featurized.ids)}
    return featurized.matrix[[row[i] for i in table.ids]]


def sendek_matrix() -> np.ndarray:
    """The five Sendek features of the 254 structures (NaN where undefined)."""
    from sseflow.ml.sendek import sendek_feature_matrix

    table = structures()
    path = CACHE / f"sendek_{_key(table)}.npy"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, sendek_feature_matrix(table.structures))
    return np.load(path)


def band_gaps_ev() -> np.ndarray:
    """Predicted experimental-fidelity band gaps (eV) of the 254 structures (NaN: failed)."""
    from sseflow.ml.bandgap import predict_band_gaps

    table = structures()
    path = CACHE / f"bandgap_{_key(table)}.npy"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        out = np.full(len(table), np.nan)
        for i, s in enumerate(table.structures):
            try:
                out[i] = predict_band_gaps([s]).band_gap_ev[0]
            except Exception as exc:  # recorded as NaN, reported
                print(f"  band gap failed for {table.ids[i]}: {exc}")
        np.save(path, out)
    return np.load(path)


def main() -> None:
    """Fill the cache."""
    t0 = time.perf_counter()
    for level, simplification in MEGNET_VARIANTS:
        megnet_features(level, simplification)
    soap_matrix()
    sendek_matrix()
    band_gaps_ev()
    print(f"cache filled in {time.perf_counter() - t0:.0f} s ({CACHE})")


if __name__ == "__main__":
    main()
