"""Flows that chain the tiers of the funnel."""
