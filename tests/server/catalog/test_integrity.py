"""`stepstone content verify`: every blob the catalog needs, re-hashed against the store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from content.importing.store import ContentStore
from content.tuf import repository
from server.catalog import integrity
from server.catalog.library import CatalogHooks
from server.catalog.sync import content_store, sync_all
from server.cli.main import cli
from server.core import clock
from server.core.db import Database
from server.core.settings import Settings
from tests.content.tuf.helpers import make_repo
from tests.facility import ADMIN, course_package, query, trust_ngo, version_blobs

V1 = "org.example.course v1 (approved)"
V2 = "org.example.course v2 (approved, live)"
SHARED = "media/v.webm"  # the same file in both versions: one blob


@dataclass
class Facility:
    settings: Settings
    database: Database
    store: ContentStore

    def blobs(self, version: int) -> dict[str, str]:
        return version_blobs(self.settings.database_path, version)

    def blob(self, version: int, path: str) -> Path:
        """The store file behind one file of a course version."""
        return self.store.path_for(self.blobs(version)[path])

    def verify(self, runner: CliRunner, *options: str) -> tuple[int, list[str], str]:
        """Run the command: its exit status, the lines of its report, what went to stderr."""
        result = runner.invoke(
            cli, ["--data-dir", str(self.settings.data_dir), "content", "verify", *options]
        )
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result.exit_code, result.stdout.splitlines(), result.stderr


@pytest.fixture
def facility(tmp_path: Path, settings: Settings, database: Database) -> Facility:
    """v1 and v2 of a course synced (v2 live); the two default lessons and their media are
    shared, each version has its own photos lesson and photos."""
    repo = make_repo(tmp_path, "ngo")
    trust_ngo(database, repo, auto_publish=True)
    repository.add_packages(repo, [course_package(tmp_path, 1), course_package(tmp_path, 2)])
    [report] = sync_all(database, settings, CatalogHooks(), ADMIN)
    assert report.imported == ["org.example.course v1", "org.example.course v2"]
    return Facility(settings, database, content_store(settings))


def rewrite(path: Path, data: bytes) -> None:
    """Change a read-only blob in place, as a failing disk or a careless hand would."""
    path.chmod(0o644)
    path.write_bytes(data)
    path.chmod(0o444)


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    rewrite(path, bytes(data))


def test_a_clean_store_passes_and_the_check_is_audited(
    facility: Facility, runner: CliRunner
) -> None:
    needed = set(facility.blobs(1).values()) | set(facility.blobs(2).values())
    size = sum(facility.store.path_for(sha256).stat().st_size for sha256 in needed)
    status, lines, _ = facility.verify(runner, "--progress")
    assert (status, lines) == (
        0,
        [
            f"Every course file is whole: checked {len(needed)} file(s), {size:,} bytes, "
            "of 2 course version(s)."
        ],
    )
    [entry] = query(
        facility.settings.database_path,
        "SELECT actor, detail FROM audit_log WHERE action = 'content.verify'",
    )
    detail = json.loads(entry["detail"])
    assert entry["actor"] == "cli" and (detail["blobs"], detail["problems"]) == (len(needed), 0)


def test_a_flipped_byte_is_named_with_course_version_and_file(
    facility: Facility, runner: CliRunner
) -> None:
    blob = facility.blob(2, "media/photo-2-1.png")
    flip_byte(blob)
    status, lines, _ = facility.verify(runner)
    assert status == 1
    assert lines[0].startswith(f"{V2}: media/photo-2-1.png: changed bytes: now hashes to ")
    assert lines[0].endswith(f"(blob {blob.name})")
    assert lines[1].startswith("Content store DAMAGED: 1 problem(s) in 1 course version(s).")
    assert len(lines) == 2


def test_a_missing_blob_and_a_wrong_size_are_named(facility: Facility, runner: CliRunner) -> None:
    facility.blob(1, "lesson photos").unlink()
    grown = facility.blob(1, "media/photo-1-0.png")
    rewrite(grown, grown.read_bytes() + b"\0")
    status, lines, _ = facility.verify(runner)
    assert status == 1
    assert lines[0].startswith(f"{V1}: lessons/photos.html: missing from the store (blob ")
    size = grown.stat().st_size
    assert lines[1].startswith(
        f"{V1}: media/photo-1-0.png: wrong size: {size:,} bytes in the store, {size - 1:,} expected"
    )


def test_a_shared_blob_is_read_once_and_reported_for_each_version(
    facility: Facility,
) -> None:
    """The function behind the command (and the admin health page)."""
    facility.blob(2, SHARED).unlink()
    check = integrity.StoreCheck(facility.database, facility.store)
    seen: list[int] = []
    report = check.run(seen.append)
    assert sum(seen) == check.total_bytes == report.bytes_checked
    assert [(d.ref.version_label, d.ref.path, d.problem) for d in report.drift] == [
        (V1, SHARED, "missing"),
        (V2, SHARED, "missing"),
    ]
    assert not report.ok and report.orphans is None


def test_all_blobs_lists_unreferenced_and_damaged_ones(
    facility: Facility, runner: CliRunner
) -> None:
    intact = facility.store.add_bytes(b"left behind by a refused import")
    damaged = facility.store.add_bytes(b"left behind, then hit by a bad sector")
    flip_byte(facility.store.path_for(damaged))
    status, lines, _ = facility.verify(runner, "--all-blobs")
    assert status == 1  # every course file is fine, but the disk is damaging files
    assert sorted(lines[:2]) == sorted(
        [
            f"unreferenced: blob {intact} (31 bytes)",
            f"unreferenced and DAMAGED: blob {damaged} (37 bytes)",
        ]
    )
    assert lines[2].startswith("Every course file is whole")
    assert lines[3] == "2 unreferenced file(s), 68 bytes; 1 of them DAMAGED (check the disk)."


def test_gc_keeps_recent_blobs_and_every_referenced_one(
    facility: Facility, runner: CliRunner
) -> None:
    orphan = facility.store.add_bytes(b"an orphan of a moment ago")
    status, lines, _ = facility.verify(runner, "--gc")
    assert status == 0
    assert lines[-1] == "Removed 0 unreferenced file(s), 0 bytes; kept 1 younger than an hour."
    assert facility.store.has(orphan)
    done = integrity.collect_garbage(facility.database, facility.store, ADMIN, min_age_seconds=0)
    assert (done.removed, done.removed_bytes) == (1, 25)
    assert set(facility.store.blobs()) == set(facility.blobs(1).values()) | set(
        facility.blobs(2).values()
    )
    status, _, _ = facility.verify(runner)
    assert status == 0


def test_gc_is_refused_while_a_sync_runs(facility: Facility, runner: CliRunner) -> None:
    orphan = facility.store.add_bytes(b"maybe about to be recorded by that sync")
    with facility.database.write() as db:
        db.execute(
            "INSERT INTO sync_runs (publisher_id, trigger, started_at, status)"
            " VALUES (1, 'cli', ?, 'running')",
            ["2000-01-01T00:00:00+00:00"],  # interrupted long ago: does not count
        )
        db.execute(
            "INSERT INTO sync_runs (publisher_id, trigger, started_at, status)"
            " SELECT 1, 'admin', ?, 'running'",
            [clock.iso()],
        )
    with pytest.raises(integrity.GarbageCollectionRefused, match="A sync of example-ngo is"):
        integrity.collect_garbage(facility.database, facility.store, ADMIN, min_age_seconds=0)
    status, _, errors = facility.verify(runner, "--gc")
    assert status == 1 and "unreferenced blobs are only removed when no sync runs" in errors
    assert facility.store.has(orphan)
    with facility.database.write() as db:
        db.execute("UPDATE sync_runs SET status = 'ok' WHERE trigger = 'admin'")
    integrity.collect_garbage(facility.database, facility.store, ADMIN, min_age_seconds=0)
    assert not facility.store.has(orphan)
