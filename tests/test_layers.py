"""The tree's shape, checked: the apps stack as classifier ← ingest ← journal ← web (bench above
them all), no module imports one above its own app, and no modules import each other in a
cycle — at module level or inside a function."""

import ast
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["classifier", "ingest", "journal", "web", "bench"]


def import_graph() -> dict[str, set[str]]:
    """Every module of the apps → the modules of the apps it imports."""
    modules = {}
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            if "migrations" not in path.parts:
                name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            graph[name] |= {target for target in targets if target in modules and target != name}
    return graph


def test_no_module_imports_a_layer_above_its_own():
    upward = defaultdict(list)
    for importer, imported in import_graph().items():
        for module in imported:
            if LAYERS.index(module.split(".")[0]) > LAYERS.index(importer.split(".")[0]):
                upward[importer].append(module)
    assert dict(upward) == {}


def test_no_import_cycles():
    try:
        TopologicalSorter(import_graph()).prepare()
    except CycleError as error:
        raise AssertionError(f"import cycle: {' → '.join(error.args[1])}") from None


def test_the_classifier_imports_no_django():
    for path in (ROOT / "classifier").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert "django" not in names and "config" not in names, path
