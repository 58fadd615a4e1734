"""The layers import downwards only (collector <- analytics <- dashboard <- command line) and no package's
modules import each other in a circle: import-linter's contracts in pyproject.toml, checked on the
repository's sources.

The sources are laid out in a temporary folder as the installed package is (cli/*.py in webleads/, each
other folder under it): in the repository cli/ is `webleads` and collector/ sits beside it, a mapping the
import graph cannot follow. PYTHONPATH puts that copy before any installed one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("collector", "analytics", "dashboard", "snippet")


def lay_out(into: Path) -> Path:
    package = into / "webleads"
    package.mkdir(parents=True)
    for module in (REPO / "cli").glob("*.py"):
        shutil.copy(module, package / module.name)
    for name in PACKAGES:
        shutil.copytree(REPO / name, package / name, ignore=shutil.ignore_patterns("__pycache__"))
    return package


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
         "--no-cache", "--config", str(REPO / "pyproject.toml")],
        capture_output=True, text=True, timeout=300, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})


def test_the_contracts_hold(tmp_path: Path) -> None:
    lay_out(tmp_path)
    result = lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout, result.stdout


def test_an_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    package = lay_out(tmp_path)
    registry = package / "collector" / "registry.py"
    registry.write_text(registry.read_text() + "\nfrom webleads.analytics import reports  # noqa: E402\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "Layers import downwards" in result.stdout and "BROKEN" in result.stdout
    assert "webleads.collector.registry -> webleads.analytics.reports" in result.stdout, result.stdout


def test_a_cycle_in_the_command_line_is_found(tmp_path: Path) -> None:
    package = lay_out(tmp_path)
    progress = package / "progress.py"
    progress.write_text(progress.read_text() + "\nfrom webleads import reports  # noqa: E402\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0 and "No import cycle" in result.stdout, result.stdout
