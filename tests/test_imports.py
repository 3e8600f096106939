"""Import contract: the core imports no framework; integrations never import each other."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "agent_tracing"
FRAMEWORKS = ("fastapi", "starlette", "celery", "kombu", "langchain_core", "langgraph",
              "sqlalchemy", "freqtrade", "uvicorn", "httpx")  # fmt: skip
INTEGRATIONS = ("fastapi", "celery", "langchain", "freqtrade", "sqlalchemy")


def test_importing_the_core_loads_no_framework() -> None:
    """`import agent_tracing` (and its core modules) pulls in none of the frameworks."""
    code = (
        "import sys, agent_tracing, agent_tracing.testing, agent_tracing.pytest_plugin;"
        f"print(','.join(m for m in {FRAMEWORKS!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _integration_files(name: str) -> list[Path]:
    module, package = PACKAGE / f"{name}.py", PACKAGE / name
    return [module] if module.exists() else sorted(package.glob("**/*.py"))


def test_integrations_depend_on_the_core_only() -> None:
    """No integration (module or package) imports another integration."""
    offenders = []
    for name in INTEGRATIONS:
        for path in _integration_files(name):
            for imported in _imports(path):
                for other in INTEGRATIONS:
                    if other != name and imported.startswith(f"agent_tracing.{other}"):
                        offenders.append((path.name, imported))
    assert offenders == []


def test_every_integration_exists() -> None:
    """Each integration named in the contract is a module or a package of agent_tracing."""
    assert [name for name in INTEGRATIONS if not _integration_files(name)] == []


def test_core_modules_import_no_framework_statically() -> None:
    """Core modules (everything but the integrations) have no framework import statement."""
    offenders = []
    for path in PACKAGE.glob("**/*.py"):
        top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if top in INTEGRATIONS or top in ("cli", "pytest_plugin"):
            continue
        for imported in _imports(path):
            if imported.split(".")[0] in FRAMEWORKS:
                offenders.append((path.name, imported))
    assert offenders == []
