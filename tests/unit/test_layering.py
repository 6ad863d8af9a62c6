"""Imports go one way: ``schemas`` at the bottom, ``sinks`` above it, ``streams`` on top.

Every module of the three packages is parsed and each of its imports (at module level or
inside a function, absolute or relative, or ``importlib.import_module`` of a literal name)
is resolved to the package it reaches; a package may import only itself and those below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("schemas", "sinks", "streams")  # bottom to top


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``tree``, at any depth."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            found.append((node.lineno, name))
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and (ast.unparse(node.func) in ("importlib.import_module", "import_module",
                                              "__import__"))):
            found.append((node.lineno, node.args[0].value))
    return found


def upward_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """Imports in ``source`` (the code of ``module``) that reach a higher layer."""
    layer = LAYERS.index(module.split(".")[0])
    return [f"{module}:{line} imports {name}"
            for line, name in imported_modules(ast.parse(source), module, is_package)
            if name.split(".")[0] in LAYERS[layer + 1:]]


def project_modules() -> list[tuple[Path, str, bool]]:
    """(file, module name, is a package's __init__) of every module of the three packages."""
    modules = []
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            modules.append((path, ".".join(parts[:-1] if is_package else parts), is_package))
    return modules


def test_no_module_imports_a_higher_layer():
    modules = project_modules()
    assert {m.split(".")[0] for _, m, _ in modules} == set(LAYERS)
    assert len(modules) > 50
    upward = [v for path, module, is_package in modules
              for v in upward_imports(path.read_text(), module, is_package)]
    assert upward == []


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("sinks.report", "from streams.core.attribution import MODELS\n",
     ["sinks.report:1 imports streams.core.attribution"]),
    ("sinks.runner", "import json\n\ndef run():\n    import streams.metrics\n",
     ["sinks.runner:4 imports streams.metrics"]),
    ("schemas.codec", "def f():\n    from sinks import base\n",
     ["schemas.codec:2 imports sinks"]),
    ("schemas.codec", "import importlib\nimportlib.import_module('streams.app')\n",
     ["schemas.codec:2 imports streams.app"]),
    ("sinks.rows", "from schemas.epoch import from_millis\nfrom .tables import Table\n", []),
    ("streams.commands.pipeline", "from ..sink_runner import run_sink\nfrom sinks import rows\n",
     []),
])
def test_the_check_sees_imports_at_any_depth(module, source, expected):
    assert upward_imports(source, module) == expected


def test_relative_imports_resolve_against_their_package():
    tree = ast.parse("from . import a\nfrom ..b import c\n")
    assert imported_modules(tree, "streams.commands.pipeline", False) == [
        (1, "streams.commands"), (2, "streams.b")]
    assert imported_modules(tree, "streams.commands", True) == [
        (1, "streams.commands"), (2, "streams.b")]
