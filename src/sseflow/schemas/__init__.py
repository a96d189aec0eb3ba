"""Deprecated package: documents now live in their tier's package (see docs/architecture.md)."""
