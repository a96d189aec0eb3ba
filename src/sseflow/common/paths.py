"""Where the data shipped inside the sseflow package lives (models, OBELiX labels)."""

from __future__ import annotations

from pathlib import Path

#: ``sseflow/data``: shipped models and the OBELiX training labels.
SHIPPED_DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def shipped_data(*parts: str) -> Path:
    """Return the path of a file or folder shipped in ``sseflow/data``.

    Examples
    --------
    >>> shipped_data("obelix", "train.csv").name
    'train.csv'
    """
    return SHIPPED_DATA_DIR.joinpath(*parts)
