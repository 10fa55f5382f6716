"""Crash safety with real ``kill -9``: wherever a sync dies, learners keep the previous
version, the store holds only whole blobs, and the next run sweeps and imports cleanly.

Each test starts from the same facility — v1 of a course live, v2 (4 MB of new media)
signed and waiting in the NGO's repository — copied into its own folder, then runs
``stepstone sync`` in a separate process that is killed with SIGKILL: at planted moments
(``tests/crash_driver.py``) or at random moments from outside.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from content.importing.store import ContentStore
from content.package.reader import inspect_package
from content.tuf import repository
from server.catalog.library import CatalogHooks
from server.catalog.sync import sync_all
from server.catalog.sync_runs import INTERRUPTED
from server.cli.main import cli, initialize
from server.core.settings import load_settings
from server.web.app import create_app
from tests.content.tuf.helpers import make_repo
from tests.crash_driver import ADOPT_RENAMES, NEVER_REACHED
from tests.facility import (
    ADMIN,
    assert_store_whole,
    catalog_dump,
    course_package,
    integrity_check,
    live_version,
    query,
    trust_ngo,
    version_blobs,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
RUN_TIMEOUT = 60


@dataclass(frozen=True)
class Template:
    """A facility data folder with v1 live; v2 published; what each version must hold."""

    data: Path
    expected: dict[int, tuple[set[str], int]]  # version → (asset paths, lesson count)
    v1_blobs: dict[str, str]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    base = tmp_path_factory.mktemp("facility")
    repo = make_repo(base, "ngo")
    settings = load_settings(environ={}, data_dir=base / "data")
    database = initialize(settings)
    trust_ngo(database, repo, auto_publish=True)
    v1 = course_package(base, 1)
    repository.add_packages(repo, [v1])
    [report] = sync_all(database, settings, CatalogHooks(), ADMIN)
    assert report.status == "ok", report.message
    database.close()
    v2 = course_package(base, 2, photos=10, photo_bytes=400_000)
    repository.add_packages(repo, [v2])
    expected = {number: _contents(package) for number, package in ((1, v1), (2, v2))}
    return Template(base / "data", expected, version_blobs(base / "data" / "stepstone.db", 1))


def _contents(package: Path) -> tuple[set[str], int]:
    manifest = inspect_package(package).manifest
    media = {f["path"] for f in manifest["files"] if not f["path"].startswith("lessons/")}
    return media, len(manifest["lessons"])


def fresh_copy(template: Template, folder: Path) -> Path:
    data = folder / "data"
    shutil.copytree(template.data, data, symlinks=True)
    return data


def stepstone(data: Path, *arguments: str, driver: str | None = None) -> list[str]:
    """The command line of a fresh ``stepstone`` process (through the kill driver if asked)."""
    if driver is None:
        return [sys.executable, "-m", "server", "--data-dir", str(data), *arguments]
    return [sys.executable, "-m", "tests.crash_driver", driver, str(data), *arguments]


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )


def assert_consistent(data: Path, template: Template) -> int:
    """The invariants that must hold after any crash; returns the live version."""
    database = data / "stepstone.db"
    assert integrity_check(database) == ["ok"]
    recorded = query(
        database,
        "SELECT v.version, (SELECT count(*) FROM lessons WHERE version_id = v.id),"
        " c.high_water_version FROM course_versions v JOIN courses c ON c.id = v.course_pk",
    )
    for version, lessons, _ in recorded:
        media, lesson_count = template.expected[version]
        assets = {path for path in version_blobs(database, version) if path.startswith("media/")}
        assert (assets, lessons) == (media, lesson_count), f"v{version} is half-written"
    versions = sorted(row[0] for row in recorded)
    assert versions in ([1], [1, 2])
    live = live_version(database)
    assert live is not None and live == versions[-1]  # the publisher auto-publishes
    assert recorded[0][2] == versions[-1]  # the high-water mark moves with the version row
    whole = assert_store_whole(data / "store")
    assert set(template.v1_blobs.values()) <= whole, "a blob of the live v1 went missing"
    for version in versions:
        assert set(version_blobs(database, version).values()) <= whole
    return live


def assert_next_sync_recovers(data: Path, template: Template) -> None:
    """A normal run after the killed one sweeps what was left and ends with v2 live.

    It runs in this process: the killed process is gone, so what the run finds is only
    what that process left on disk, and a fresh interpreter for it would only cost time.
    """
    imports = live_version(data / "stepstone.db") == 1
    leftovers = len(list((data / "staging").iterdir()))
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "sync"])
    assert result.exit_code == 0, result.output
    assert f"imported {int(imports)}" in result.stdout
    if leftovers:
        assert f"Removed {leftovers} staging folder(s)" in result.stdout
    assert list((data / "staging").iterdir()) == []
    assert assert_consistent(data, template) == 2
    verified = CliRunner().invoke(cli, ["--data-dir", str(data), "content", "verify"])
    assert verified.exit_code == 0, verified.output


@dataclass(frozen=True)
class Point:
    name: str
    committed: bool  # the kill comes after v2's transaction committed
    staging_left: bool  # the kill leaves a staging folder for the next start to sweep
    blobs_in: str = "none"  # v2's new blobs already in the store: none, some or all


POINTS = [
    Point("extract", committed=False, staging_left=True),
    Point("adopt", committed=False, staging_left=True, blobs_in="some"),
    Point("in-transaction", committed=False, staging_left=False, blobs_in="all"),
    Point("at-commit", committed=False, staging_left=False, blobs_in="all"),
    Point("after-commit", committed=True, staging_left=False, blobs_in="all"),
]


@pytest.mark.parametrize("point", POINTS, ids=lambda p: p.name)
def test_kill_at_each_moment_of_an_import(point: Point, template: Template, tmp_path: Path) -> None:
    data = fresh_copy(template, tmp_path)
    rows_before = catalog_dump(data / "stepstone.db")
    blobs_before = assert_store_whole(data / "store")
    killed = run(stepstone(data, "sync", driver=point.name))
    assert killed.returncode != NEVER_REACHED, killed.stderr
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr

    live = assert_consistent(data, template)
    assert live == (2 if point.committed else 1)
    if not point.committed:
        assert catalog_dump(data / "stepstone.db") == rows_before
    assert bool(list((data / "staging").iterdir())) == point.staging_left
    runs = query(data / "stepstone.db", "SELECT id, status FROM sync_runs ORDER BY id")
    assert runs[-1]["status"] == "running"  # nothing got to finish the run: the kill was real
    added = assert_store_whole(data / "store") - blobs_before
    checked = CliRunner().invoke(cli, ["--data-dir", str(data), "check"])
    assert "stopped before it ended" in checked.output, checked.output

    assert_next_sync_recovers(data, template)
    killed = runs[-1]["id"]
    [killed_run] = query(data / "stepstone.db", "SELECT * FROM sync_runs WHERE id = ?", (killed,))
    assert (killed_run["status"], killed_run["message"]) == ("failed", INTERRUPTED)
    needed = set(version_blobs(data / "stepstone.db", 2).values()) - blobs_before
    if point.blobs_in == "some":
        assert len(added) == ADOPT_RENAMES and added < needed
    else:
        assert added == (needed if point.blobs_in == "all" else set())


def test_kill_at_random_moments_of_a_larger_import(template: Template, tmp_path: Path) -> None:
    """SIGKILL from outside, at times spread over the whole import and its commit."""
    seed = int(os.environ.get("STEPSTONE_CRASH_SEED", random.randrange(1 << 30)))  # noqa: S311
    rng = random.Random(seed)  # noqa: S311 - timing, not secrets
    window = _import_window(fresh_copy(template, tmp_path / "calibrate"))
    iterations = 5
    outcomes = []
    for index in range(iterations):
        data = fresh_copy(template, tmp_path / f"kill-{index}")
        delay = window * (index + rng.random()) / iterations  # one kill in each fifth
        process = subprocess.Popen(
            stepstone(data, "sync"),
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_import(data, process)
        time.sleep(delay)
        process.kill()
        returncode = process.wait(timeout=RUN_TIMEOUT)
        context = f"seed {seed}, kill {index} after {delay * 1000:.0f} ms"
        assert returncode in (-signal.SIGKILL, 0), context
        live = assert_consistent(data, template)
        outcomes.append((returncode, live))
        assert_next_sync_recovers(data, template)
    killed_before_commit = [o for o in outcomes if o == (-signal.SIGKILL, 1)]
    assert killed_before_commit, f"seed {seed}: no kill landed before the commit: {outcomes}"


def _import_window(data: Path) -> float:
    """Seconds a sync that is left to finish spends importing (its staging folder exists
    from the first byte read until the blobs are in the store), plus a third for the
    commit that follows and the moments around it."""
    process = subprocess.Popen(stepstone(data, "sync"), cwd=REPO_ROOT)
    _wait_for_import(data, process)
    start = time.monotonic()
    while any((data / "staging").iterdir()):
        time.sleep(0.0005)
    window = time.monotonic() - start
    assert process.wait(timeout=RUN_TIMEOUT) == 0
    return window * 1.3


def _wait_for_import(data: Path, process: subprocess.Popen[bytes]) -> None:
    """Until the sync has made its staging folder: the import has begun."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while not any((data / "staging").iterdir()):
        assert process.poll() is None, "the sync ended before it imported anything"
        assert time.monotonic() < deadline, "the sync never started an import"
        time.sleep(0.0005)


def test_staging_folder_survives_a_sweep_racing_its_creation(tmp_path: Path) -> None:
    """A server starting (and sweeping) just as `stepstone sync` makes its staging folder
    must not pull the folder away from under the import."""
    store = ContentStore(tmp_path / "store")
    store.ensure()
    real_open = os.open
    swept: list[int] = []

    def sweep_first(
        path: str | os.PathLike[str], flags: int, mode: int = 0o777, *, dir_fd: int | None = None
    ) -> int:
        if not swept and Path(str(path)).parent == store.staging_root:
            swept.append(-1)  # the sweep below opens the folder too
            swept[0] = store.sweep_staging()
        return real_open(path, flags, mode, dir_fd=dir_fd)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "open", sweep_first)
        with store.staging() as folder:
            (folder / "member").write_bytes(b"still here")
            assert (folder / "member").read_bytes() == b"still here"
    assert swept == [1]  # the sweep did remove the first, unlocked folder
    assert list(store.staging_root.iterdir()) == []


def test_server_start_sweeps_staging_but_keeps_a_running_import(
    template: Template, tmp_path: Path
) -> None:
    data = fresh_copy(template, tmp_path)
    leftover = data / "staging" / "import-0123456789abcdef"
    (leftover / "package" / "media").mkdir(parents=True)
    (leftover / "package" / "media" / "half.png").write_bytes(b"\x89PNG")
    store = ContentStore(data / "store")
    with store.staging() as running:
        with TestClient(create_app(load_settings(environ={}, data_dir=data))) as client:
            assert client.get("/signin").status_code == 200
        assert not leftover.exists()
        assert running.is_dir()
    assert list((data / "staging").iterdir()) == []
