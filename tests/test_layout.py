"""The layout rule: a tier's science is plain functions on pymatgen/ASE objects.

Inside each tier package, every module except the jobflow layer (``jobs.py``, the NEB
Makers' ``base.py``, the stored-grid look-up ``stored.py`` and the training flow
``training.py``) is science: it must not import jobflow, directly or through another
sseflow module.
"""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
TIER_PACKAGES = ("ingest", "ml", "bvse", "neb", "qe")
JOBFLOW_LAYER = {"jobs.py", "base.py", "stored.py", "training.py", "__init__.py"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node that runs (``if TYPE_CHECKING:`` blocks do not)."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and getattr(child.test, "id", "") == "TYPE_CHECKING":
                todo.extend(child.orelse)
                continue
            todo.append(child)
    return out


def _imports(path: Path) -> set[str]:
    """Every module a file imports at run time (also inside functions: those run too)."""
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in (SRC / "sseflow").rglob("*.py")}


def _reaches_jobflow(module: str, graph: dict[str, set[str]], seen: set[str]) -> list[str]:
    """Return an import chain from ``module`` to jobflow (empty when there is none)."""
    if module in seen:
        return []
    seen.add(module)
    for name in sorted(graph.get(module, ())):
        if name == "jobflow" or name.startswith("jobflow."):
            return [module, name]
        if name in graph:
            chain = _reaches_jobflow(name, graph, seen)
            if chain:
                return [module, *chain]
    return []


def test_science_modules_do_not_import_jobflow():
    graph = _graph()
    science = [
        _module_name(p)
        for package in TIER_PACKAGES
        for p in sorted((SRC / "sseflow" / package).rglob("*.py"))
        if p.name not in JOBFLOW_LAYER
    ]
    assert len(science) > 20
    offenders = {m: chain for m in science if (chain := _reaches_jobflow(m, graph, set()))}
    assert not offenders, "science modules reaching jobflow:\n" + "\n".join(
        " -> ".join(chain) for chain in offenders.values()
    )


def test_every_tier_has_science_jobs_and_documents_together():
    for package in ("bvse", "neb", "qe", "ml/soap", "ml/atomsets"):
        folder = SRC / "sseflow" / package
        assert (folder / "jobs.py").is_file(), package
        assert (folder / "schemas.py").is_file(), package


def test_tests_mirror_the_source_layout():
    tests = Path(__file__).resolve().parent
    for package in (*TIER_PACKAGES, "common", "funnel", "store", "report", "hpc", "cli"):
        assert (tests / package).is_dir(), f"tests/{package} missing"
