"""Run-time settings, read from ``SSEFLOW_*`` environment variables (quacc style).

Every field can be overridden by an environment variable of the same name with the
``SSEFLOW_`` prefix, e.g. ``SSEFLOW_DATA_DIR=/scratch/me/sseflow``. Command-line options
take precedence over the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SseflowSettings(BaseSettings):
    """Where results are stored and how big an input may be."""

    model_config = SettingsConfigDict(env_prefix="SSEFLOW_", extra="ignore")

    data_dir: Path = Field(
        Path("sseflow-data"),
        description="Folder of the embedded (montydb) store, used when no db_uri is given.",
    )
    db_uri: str | None = Field(
        None,
        description="mongodb:// or mongodb+srv:// URI of a MongoDB server; overrides data_dir.",
    )
    db_name: str = Field("sseflow", description="Database name used for all collections.")
    max_atoms: int = Field(
        1000, description="Inputs with more sites than this are rejected at ingest."
    )
    read_only: bool = Field(
        False,
        description="Refuse every write to the database (a guard for query sessions; on a "
        "shared MongoDB use a read-only database user for real protection).",
    )


def get_settings() -> SseflowSettings:
    """Return settings freshly read from the environment."""
    return SseflowSettings()
