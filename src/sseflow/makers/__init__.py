"""Deprecated package: tier Makers now live in their tier's package (see docs/architecture.md)."""
