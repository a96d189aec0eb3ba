"""Ingest: read input files, validate structures, guess oxidation states, assign ids."""

from sseflow.ingest.batch import ingest
from sseflow.ingest.schemas import IngestDocument, IngestTierDocument, RejectedInput
from sseflow.ingest.validation import IngestSettings

__all__ = ["IngestDocument", "IngestSettings", "IngestTierDocument", "RejectedInput", "ingest"]
