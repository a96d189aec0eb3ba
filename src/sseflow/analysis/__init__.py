"""Deprecated package: the science now lives in one package per tier (see docs/architecture.md)."""
