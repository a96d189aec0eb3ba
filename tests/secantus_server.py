"""Run the test MongoDB-protocol server (secantusdb) with ``findAndModify`` made atomic.

Test harness only: the product talks to whatever MongoDB its users run.

secantusdb 0.7.0b3 answers ``findAndModify`` with ``new: false`` (the pre-image) from a
read taken before its write, outside the write's lock, and re-checks only the query
before writing; with the query ``{}`` and an ``$inc`` two clients can be handed the same
pre-image. FireWorks takes every Firework and Launch id that way
(``find_one_and_update({}, {"$inc": ...})``), so two ``rlaunch`` workers were sometimes
given the same launch id and one Firework's launch document overwrote another's (seen
in ``tests/hpc/test_fireworks_funnel.py``, about one run in twenty). mongod does this
atomically; here every ``findAndModify`` runs under one lock, which makes it so
(``tests/test_secantus_server.py`` checks it). Usage is that of ``secantusd-py``.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from secantus import commands
from secantus.cli import main

_FIND_AND_MODIFY_LOCK = threading.Lock()
_find_and_modify_unlocked = commands._find_and_modify


def _find_and_modify_atomic(doc: dict[str, Any], ctx: Any) -> dict[str, Any]:
    with _FIND_AND_MODIFY_LOCK:
        return _find_and_modify_unlocked(doc, ctx)


for _name in ("findAndModify", "findandmodify"):
    assert commands._HANDLERS[_name] is _find_and_modify_unlocked, "secantusdb changed"
    commands._HANDLERS[_name] = _find_and_modify_atomic

if __name__ == "__main__":
    sys.exit(main())
