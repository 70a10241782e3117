"""The store is sealed: the logs, audit and stats screens, the logs CLI commands, the exporter and the
importer use ``Store`` methods and the plain values they return: never SQLAlchemy, the engine, the tables."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "support_console"
CALLERS = [
    "ui/screens/logs.py",
    "ui/screens/audit.py",
    "ui/screens/stats.py",
    "ui/widgets/logs_filters.py",
    "ui/widgets/logs_tables.py",
    "cli/log_commands.py",
    "workflows/export.py",
    "workflows/importer.py",
]


@pytest.mark.parametrize("module", CALLERS)
def test_callers_use_only_the_store_facade(module: str) -> None:
    tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
    assert [m for m in imported if m.split(".")[0] in ("sqlalchemy", "sqlmodel")] == []
    assert [m for m in imported if m.startswith("support_console.store.")] == []
    touched = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not touched & {"engine", "__table__", "exec_driver_sql", "connect"}
