"""``python -m sseflow`` runs the command line."""

from sseflow.cli import main

# guarded: worker processes started with "spawn" import this module again
if __name__ == "__main__":
    main()
