"""Deprecated package: the funnel is in :mod:`sseflow.funnel`, training in :mod:`sseflow.ml`."""
