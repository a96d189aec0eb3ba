"""jobflow Makers, one per tier or calculation."""
