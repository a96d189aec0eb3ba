"""Quantum ESPRESSO through ASE: pw.x settings and checks, convergence, DFT tiers."""

from sseflow.qe.calculator import QESettings, QESetupError
from sseflow.qe.jobs import QENEBMaker, QERelaxMaker
from sseflow.qe.schemas import QERelaxDocument

__all__ = ["QENEBMaker", "QERelaxDocument", "QERelaxMaker", "QESettings", "QESetupError"]
