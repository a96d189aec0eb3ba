"""``python -m sseflow`` runs the command line."""

from sseflow.cli import main

main()
