"""sseflow: a tiered jobflow funnel that screens Li-containing crystals as solid electrolytes."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sseflow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
