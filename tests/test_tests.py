"""No test module imports another: what tests share lives in conftest.py or tests/support.py, so that a
test module can be moved, renamed or run alone."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_test_modules(source: str) -> list[str]:
    """The `test_*` modules an import of this source names (absolute or relative)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            names = [base] if base else [alias.name for alias in node.names]
        else:
            continue
        found.extend(name for name in names if any(part.startswith("test_") for part in name.split(".")))
    return found


def test_no_test_module_imports_another() -> None:
    offenders = {str(path.relative_to(TESTS)): imported for path in sorted(TESTS.rglob("test_*.py"))
                 if (imported := imported_test_modules(path.read_text(encoding="utf-8")))}
    assert offenders == {}


def test_an_import_of_a_test_module_is_caught() -> None:
    source = ("import os\nfrom conftest import Server\nfrom support import CHROME\nfrom test_ingest import make_mmdb\n"
              "from .test_privacy import local_storage\nfrom . import test_forms\nimport tests.collector.test_ops\n")
    assert imported_test_modules(source) == ["test_ingest", "test_privacy", "test_forms",
                                             "tests.collector.test_ops"]
