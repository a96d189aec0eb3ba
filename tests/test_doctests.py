"""The examples in the public API's docstrings run (jobflow habit: doctest examples)."""

import doctest
import importlib

import pytest

from tests.conftest import REPO

MODULES = [
    "sseflow",
    "sseflow.provenance",
    "sseflow.common.maker",
    "sseflow.common.paths",
    "sseflow.bvse.jobs",
    "sseflow.funnel.maker",
    "sseflow.funnel.defaults",
    "sseflow.funnel.options",
    "sseflow.funnel.deferred",
    "sseflow.common.candidate",
    "sseflow.store.rank",
    "sseflow.store.queries",
    "sseflow.cli._shortlist",
    "sseflow.noise",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch):
    monkeypatch.chdir(REPO)  # examples name files relative to the repository
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
