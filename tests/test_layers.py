"""What import-linter's contracts (pyproject.toml) cannot say: no module reaches for a
private name or a private module of another module of ours."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "content", "search_index")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _reaches() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            where = path.relative_to(ROOT)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ImportFrom) or not node.module:
                    continue
                if node.module.split(".")[0] not in PACKAGES:
                    continue  # a library's internals are its own business
                if any(_private(part) for part in node.module.split(".")):
                    found.append(f"{where}:{node.lineno} imports the private module {node.module}")
                for alias in node.names:
                    if _private(alias.name):
                        found.append(
                            f"{where}:{node.lineno} imports {alias.name} from {node.module}"
                        )
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    assert _reaches() == [], "make the name public (and say so in its docstring), or move it"
