"""Release habits: one version, release notes for it, a hashed lock file that matches
pyproject, and runtime dependencies declared exactly where the server imports them.

Everything here reads files of the checkout and the installed metadata; nothing reaches
a package index, so it runs offline, in about a second (most of it reading the imports).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import server
from server.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PACKAGES = ("server", "content", "search_index")

# Declared runtime dependencies that no module of ours imports by name, and why we need
# them anyway. Anything else declared but never imported is a dependency in the wrong place.
USED_WITHOUT_IMPORT = {
    "python-multipart": "Starlette parses forms and uploads with it",
}


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _runtime_requirements() -> list[Requirement]:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    return [Requirement(line) for line in project["dependencies"]]


# --- one version ---------------------------------------------------------------------


def test_the_command_the_installed_metadata_and_the_code_give_one_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"stepstone, version {server.__version__}\n"
    installed = importlib.metadata.version("stepstone")
    assert installed == server.__version__, (
        f"installed metadata says {installed}, server.__version__ says "
        f"{server.__version__}: reinstall (pip install -e '.[test]')"
    )


def test_pyproject_takes_its_version_from_the_code() -> None:
    pyproject = _pyproject()
    project = pyproject["project"]
    assert isinstance(project, dict)
    assert "version" not in project, "a second version number in pyproject.toml"
    assert "version" in project["dynamic"]
    tool = pyproject["tool"]
    assert isinstance(tool, dict)
    assert tool["setuptools"]["dynamic"]["version"] == {"attr": "server.__version__"}


# --- release notes -------------------------------------------------------------------


def test_the_changelog_has_notes_for_this_version_and_what_comes_next() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, flags=re.MULTILINE)
    assert headings[0] == "Unreleased"
    assert server.__version__ in headings, (
        f"CHANGELOG.md has no section for {server.__version__}: write the release notes "
        "before changing the version"
    )


def test_the_admin_guide_sends_admins_to_the_release_notes_before_an_upgrade() -> None:
    guide = (ROOT / "docs" / "admin-guide.md").read_text(encoding="utf-8")
    upgrade = guide.split("### Upgrade", 1)[1].split("### Rollback", 1)[0]
    assert "CHANGELOG.md" in upgrade


def test_the_sdist_carries_the_release_notes_and_the_lock_file() -> None:
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8").splitlines()
    assert "include CHANGELOG.md" in manifest
    assert "include requirements.lock" in manifest


# --- the lock file -------------------------------------------------------------------


def _lock() -> dict[str, tuple[str, int, set[str]]]:
    """Each pinned name: its version, how many hashes it has, and what needs it."""
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pins: dict[str, tuple[str, int, set[str]]] = {}
    blocks = re.split(r"\n(?=[A-Za-z0-9])", "\n" + text)
    for block in blocks:
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", block)
        if match is None:
            continue
        via = set(re.findall(r"^\s+#\s+(?:via\s+)?([A-Za-z0-9][^\s#]*)", block, re.MULTILINE))
        via.discard("via")
        hashes = len(re.findall(r"--hash=sha256:[0-9a-f]{64}", block))
        pins[canonicalize_name(match[1])] = (match[2], hashes, via)
    return pins


def test_the_lock_pins_every_runtime_dependency_with_hashes_in_its_range() -> None:
    pins = _lock()
    for requirement in _runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is a dependency in pyproject but not in requirements.lock"
        version, hashes, _ = pins[name]
        assert hashes >= 1, f"{name} has no --hash in requirements.lock"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, outside {requirement.specifier}"
        )
    assert all(hashes >= 1 for _, hashes, _ in pins.values())


def test_the_lock_pins_nothing_that_no_runtime_dependency_needs() -> None:
    pins = _lock()
    roots = {canonicalize_name(r.name) for r in _runtime_requirements()}
    needed: set[str] = set(roots)
    # A pin is needed when pyproject names it, or a needed pin needs it ("# via").
    changed = True
    while changed:
        changed = False
        for name, (_, _, via) in pins.items():
            parents = {canonicalize_name(p) for p in via if not p.startswith("stepstone")}
            if name not in needed and parents & needed:
                needed.add(name)
                changed = True
    assert set(pins) - needed == set(), "pinned in requirements.lock but needed by nothing"


def test_the_lock_names_no_index_or_folder_of_the_machine_that_made_it() -> None:
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    options = re.findall(r"^--(?:index-url|extra-index-url|find-links|trusted-host).*", text, re.M)
    assert options == []


# --- dependencies where they are used ------------------------------------------------


def _imported_top_level_modules() -> Iterator[tuple[str, Path]]:
    for package in RUNTIME_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        yield alias.name.partition(".")[0], path
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    yield node.module.partition(".")[0], path


def _imported_distributions() -> dict[str, Path]:
    """Each distribution the server's own code imports from, with one file that does."""
    owners = importlib.metadata.packages_distributions()
    found: dict[str, Path] = {}
    for module, path in _imported_top_level_modules():
        if module in sys.stdlib_module_names or module in RUNTIME_PACKAGES:
            continue
        assert module in owners, f"{path.name} imports {module}, which nothing installed provides"
        for distribution in owners[module]:
            found.setdefault(canonicalize_name(distribution), path)
    return found


@pytest.fixture(scope="module")
def imported() -> dict[str, Path]:
    return _imported_distributions()


def test_every_distribution_the_server_imports_is_a_declared_dependency(
    imported: dict[str, Path],
) -> None:
    declared = {canonicalize_name(r.name) for r in _runtime_requirements()}
    undeclared = {name: path.relative_to(ROOT).as_posix() for name, path in imported.items()}
    for name in declared:
        undeclared.pop(name, None)
    assert undeclared == {}, "imported by the server but not in pyproject's dependencies"


def test_every_declared_dependency_is_imported_by_the_server_or_says_why_not(
    imported: dict[str, Path],
) -> None:
    declared = {canonicalize_name(r.name) for r in _runtime_requirements()}
    unused = declared - set(imported) - set(USED_WITHOUT_IMPORT)
    assert unused == set(), "runtime dependencies no server module imports (test or bench only?)"
