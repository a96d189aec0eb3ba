"""Run-time settings, read from ``SSEFLOW_*`` environment variables (quacc style).

Every field can be overridden by an environment variable of the same name with the
``SSEFLOW_`` prefix, e.g. ``SSEFLOW_DATA_DIR=/scratch/me/sseflow``. Command-line options
take precedence over the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SseflowSettings(BaseSettings):
    """Where results and scratch files go, how big an input may be, how to reach MongoDB."""

    model_config = SettingsConfigDict(env_prefix="SSEFLOW_", extra="ignore")

    data_dir: Path = Field(
        Path("sseflow-data"),
        description="Folder of the embedded (montydb) store, used when no db_uri is given.",
    )
    work_dir: Path = Field(
        Path("sseflow-work"),
        description="Scratch folder of file-based calculations (NEB images, pw.x runs), "
        "one sub-folder per tier and candidate; a re-run resumes from it. Relative paths "
        "are taken from the current directory: on a cluster use an absolute path on a "
        "filesystem every worker sees.",
    )
    qe_pw_command: str = Field(
        "pw.x",
        description="Quantum ESPRESSO pw.x executable (name on PATH or absolute path) of the "
        "funnel's DFT stage.",
    )
    qe_mpi_command: str | None = Field(
        None,
        description="MPI launcher prefix of pw.x, e.g. ``mpirun -np 16`` or ``srun``; None "
        "runs pw.x serially.",
    )
    qe_pseudo_dir: Path | None = Field(
        None,
        description="Folder of the UPF pseudopotentials of the DFT stage. Without it the "
        "DFT stage is not run: its candidates are recorded ``pending`` with the command "
        "that runs it later (``sseflow resume``).",
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
    # Connection options for a MongoDB server, passed through to pymongo.MongoClient.
    # Credentials come from here (environment or a .env-style deployment secret) or from
    # the URI; sseflow never logs them or writes them into records.
    db_username: str | None = Field(None, description="MongoDB user (pymongo ``username``).")
    db_password: SecretStr | None = Field(
        None, description="MongoDB password (pymongo ``password``); never printed."
    )
    db_auth_source: str | None = Field(
        None, description="Database holding the user (pymongo ``authSource``)."
    )
    db_tls: bool | None = Field(None, description="Use TLS (pymongo ``tls``).")
    db_tls_ca_file: Path | None = Field(
        None, description="CA bundle for the server certificate (pymongo ``tlsCAFile``)."
    )
    db_tls_certificate_key_file: Path | None = Field(
        None,
        description="Client certificate + key, for X.509 auth (``tlsCertificateKeyFile``).",
    )
    db_client_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Any other pymongo.MongoClient keyword arguments, as JSON, e.g. "
        '``{"replicaSet": "rs0", "serverSelectionTimeoutMS": 5000}``.',
    )

    def mongo_client_kwargs(self) -> dict[str, Any]:
        """Return the pymongo ``MongoClient`` keyword arguments of these settings.

        Only options that are set are returned, so a URI's own options are not
        overridden by defaults.
        """
        kwargs: dict[str, Any] = {}
        if self.db_username is not None:
            kwargs["username"] = self.db_username
        if self.db_password is not None:
            kwargs["password"] = self.db_password.get_secret_value()
        if self.db_auth_source is not None:
            kwargs["authSource"] = self.db_auth_source
        if self.db_tls is not None:
            kwargs["tls"] = self.db_tls
        if self.db_tls_ca_file is not None:
            kwargs["tlsCAFile"] = str(self.db_tls_ca_file)
        if self.db_tls_certificate_key_file is not None:
            kwargs["tlsCertificateKeyFile"] = str(self.db_tls_certificate_key_file)
        return {**kwargs, **self.db_client_options}


def get_settings() -> SseflowSettings:
    """Return settings freshly read from the environment."""
    return SseflowSettings()
