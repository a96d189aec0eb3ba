"""Funnel reports: summary of candidate records, Markdown, JSON and a funnel chart."""

from sseflow.report.summary import FunnelSummary, summarize
from sseflow.report.writer import REPORT_EXCLUDED_FIELDS, ReportFiles, write_report

__all__ = ["REPORT_EXCLUDED_FIELDS", "FunnelSummary", "ReportFiles", "summarize", "write_report"]
