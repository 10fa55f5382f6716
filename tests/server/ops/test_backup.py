"""Backups taken while the server writes, restores that come back identical, damaged
backups refused, rotation, and upgrades that back up before they migrate.

The comparisons read SQLite and the files directly: they do not trust the code under
test to say what a database or a store holds.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from subprocess import PIPE
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from server.cli.main import cli, initialize
from server.core import clock
from server.core.db import Database
from server.core.settings import Settings, load_settings
from server.ops import backup, restore, upgrade
from server.ops.backup import BackupError
from server.people import accounts, audit
from server.people.accounts import Role
from server.people.audit import Actor
from server.web.app import create_app
from tests.conftest import add_migration, demo_facility, make_user, sign_in

SAFETY = "org.stepstone.demo.workplace-safety"
WRITER = "test.write"

# --- a facility with courses, made once and copied for each test ------------------------


@pytest.fixture(scope="module")
def facility_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("template") / "data"
    _settings, database = demo_facility(data)
    make_user(database, Role.LEARNER, "A100", "Alex Learner")
    database.close()
    return data


@pytest.fixture
def settings(tmp_path: Path, facility_template: Path) -> Settings:
    data = tmp_path / "data"
    shutil.copytree(facility_template, data, symlinks=True)
    return load_settings(environ={}, data_dir=data, demo=True)


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_path)
    yield database
    database.close()


def dump(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in rowid order."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        tables = [
            str(row[0])
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " ORDER BY name"
            )
        ]
        return {
            table: [dict(row) for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid')]  # noqa: S608 - names from sqlite_master
            for table in tables
        }
    finally:
        conn.close()


def files_under(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every regular file (symlinks and lock files left out)."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink() and not path.name.startswith(".")
    }


# --- backing up while the server writes --------------------------------------------------


class Writer(threading.Thread):
    """Keeps writing as the server would: transaction k adds a progress event and an audit
    entry, and sets the learner's `updated_at` to k — so any consistent snapshot has
    exactly k of each, and k in the users row."""

    def __init__(self, database: Database, user_id: int) -> None:
        super().__init__(daemon=True)
        self.database, self.user_id = database, user_id
        self.done = 0
        self.stop = threading.Event()
        self.progress = threading.Condition()

    def run(self) -> None:
        while not self.stop.is_set():
            k = self.done + 1
            with self.database.write() as db:
                db.execute(
                    "INSERT INTO progress_events (user_id, event_id, type, course_id,"
                    " lesson_key, received_at) VALUES (?, ?, 'open', ?, 'intro', ?)",
                    [self.user_id, f"w-{k:06d}", SAFETY, clock.iso()],
                )
                audit.record(db, Actor.system("writer"), WRITER, f"{k:06d}")
                db.execute(
                    "UPDATE users SET updated_at = ? WHERE id = ?", [f"{k:06d}", self.user_id]
                )
            with self.progress:
                self.done = k
                self.progress.notify_all()

    def wait_for(self, count: int) -> None:
        with self.progress:
            assert self.progress.wait_for(lambda: self.done >= count, timeout=30)


def as_of(source: dict[str, list[dict[str, Any]]], k: int, user_id: int) -> dict[str, Any]:
    """The source database as it was right after the writer's k-th transaction."""
    expected = dict(source)
    expected["progress_events"] = [
        row
        for row in source["progress_events"]
        if not (row["event_id"].startswith("w-") and int(row["event_id"][2:]) > k)
    ]
    expected["audit_log"] = [
        row
        for row in source["audit_log"]
        if not (row["action"] == WRITER and int(row["target"]) > k)
    ]
    expected["users"] = [
        row | {"updated_at": f"{k:06d}"} if row["id"] == user_id else row for row in source["users"]
    ]
    return expected


def test_a_backup_taken_during_writes_restores_to_the_database_as_of_one_commit(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    learner = database.query_one("SELECT id FROM users WHERE facility_id = 'A100'")
    assert learner is not None
    writer = Writer(database, learner["id"])
    writer.start()
    try:
        writer.wait_for(30)
        made = backup.create_backup(settings, tmp_path / "backups")
        after = writer.done
        writer.wait_for(after + 30)
    finally:
        writer.stop.set()
        writer.join(10)
    database.close()

    restored = tmp_path / "restored"
    restore.restore_backup(made.path, restored)
    copy = dump(restored / "stepstone.db")
    k = sum(1 for row in copy["audit_log"] if row["action"] == WRITER)
    assert 30 <= k <= after < writer.done, "the backup must fall between writes"
    assert copy == as_of(dump(settings.database_path), k, learner["id"])

    # Every blob the restored database refers to is there, whole, read-only, and the
    # same as in the live store; the trust metadata and keys came back byte for byte.
    needed = {
        str(row[0])
        for row in sqlite3.connect(restored / "stepstone.db").execute(
            "SELECT sha256 FROM assets WHERE pack_sha256 IS NULL"
            " UNION SELECT pack_sha256 FROM assets WHERE pack_sha256 IS NOT NULL"
            " UNION SELECT html_sha256 FROM lessons WHERE html_sha256 IS NOT NULL"
        )
    }
    store = files_under(restored / "store")
    assert {name.split("/")[1] for name in store} == needed
    for name, data in store.items():
        assert hashlib.sha256(data).hexdigest() == name.split("/")[1]
        assert (settings.data_dir / "store" / name).read_bytes() == data
        assert stat.S_IMODE((restored / "store" / name).stat().st_mode) == 0o444
    assert files_under(restored / "tuf") == files_under(settings.data_dir / "tuf")
    assert files_under(restored / "tuf")  # there was metadata to compare
    for name in ("secret.key", "pepper.key"):  # the PIN pepper too: learners sign in
        key = restored / name
        assert key.read_bytes() == (settings.data_dir / name).read_bytes()
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o700

    # A server started on the restored folder serves the course, its lessons and media.
    restored_settings = load_settings(environ={}, data_dir=restored, demo=True)
    with TestClient(create_app(restored_settings)) as client:
        people = Database(restored_settings.database_path)
        found = accounts.find_user(people, Role.LEARNER, "A100")
        people.close()
        assert found is not None and (found[1] or "").startswith("$pepper$")
        sign_in(client, found[0])
        assert "Workplace" in client.get(f"/learn/courses/{SAFETY}").text
        page = client.get(f"/learn/courses/{SAFETY}/lessons/four-safety-habits").text
        video = re.search(r'src="(/media/[0-9a-f]{64}/safety-habits\.webm)', page)
        assert video, "the lesson's video is not on the page"
        response = client.get(video.group(1))
        assert response.status_code == 200
        assert hashlib.sha256(response.content).hexdigest() == video.group(1).split("/")[2]


# --- damage, refusals ----------------------------------------------------------------


def flip_a_byte(path: Path) -> None:
    """Change one byte by writing a new file over the name: a hard-linked blob in the
    backup shares its bytes with the live store, which must stay whole."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    replacement = path.with_name(path.name + ".new")
    replacement.write_bytes(bytes(data))
    replacement.replace(path)


@pytest.mark.parametrize("victim", ["stepstone.db", "blob", "tuf"])
def test_a_damaged_backup_is_refused_with_the_file_named(
    settings: Settings, tmp_path: Path, victim: str
) -> None:
    made = backup.create_backup(settings, tmp_path / "backups")
    if victim == "blob":
        name = next(e.path for e in made.files if e.path.startswith("store/"))
    elif victim == "tuf":
        name = next(e.path for e in made.files if e.path.startswith("tuf/"))
    else:
        name = victim
    flip_a_byte(made.path / name)
    target = tmp_path / "restored"
    with pytest.raises(BackupError, match=re.escape(name)) as refused:
        restore.restore_backup(made.path, target)
    assert "damaged" in str(refused.value)
    assert not target.exists(), "nothing is written before the backup is checked"
    # The live store was not touched by the damage done to the backup.
    live = files_under(settings.data_dir / "store")
    assert all(hashlib.sha256(d).hexdigest() == n.split("/")[1] for n, d in live.items())


def test_a_manifest_naming_a_path_outside_the_backup_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    made = backup.create_backup(settings, tmp_path / "backups")
    manifest = json.loads((made.path / "manifest.json").read_text())
    manifest["files"].append({"path": "../evil", "size": 1, "sha256": "0" * 64})
    (made.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match=r"never holds: '\.\./evil'"):
        restore.restore_backup(made.path, tmp_path / "restored")


def test_a_backup_from_a_newer_version_is_refused(settings: Settings, tmp_path: Path) -> None:
    made = backup.create_backup(settings, tmp_path / "backups")
    manifest = json.loads((made.path / "manifest.json").read_text())
    manifest["schema"].append("9999_future")
    manifest["stepstone_version"] = "99.0"
    (made.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match=r"Stepstone 99\.0.*9999_future"):
        restore.restore_backup(made.path, tmp_path / "restored")


def test_a_folder_that_is_not_a_backup_lists_the_backups_in_it(
    settings: Settings, tmp_path: Path
) -> None:
    made = backup.create_backup(settings, tmp_path / "backups")
    with pytest.raises(BackupError, match=f"no manifest.json. Backups in it: {made.path.name}"):
        restore.restore_backup(tmp_path / "backups", tmp_path / "restored")


def test_restore_refuses_a_folder_in_use_unless_forced_and_then_keeps_the_old_contents(
    settings: Settings, tmp_path: Path
) -> None:
    made = backup.create_backup(settings, tmp_path / "backups")
    target = tmp_path / "target"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(BackupError, match="is not empty"):
        restore.restore_backup(made.path, target)
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    inside = backup.create_backup(settings, target / "backups")
    with pytest.raises(BackupError, match=r"is inside .* Restore into a new folder"):
        restore.restore_backup(inside.path, target, force=True)
    shutil.rmtree(target / "backups")
    done = restore.restore_backup(made.path, target, force=True)
    assert done.moved_aside is not None
    assert (done.moved_aside / "notes.txt").read_text() == "keep me"
    assert dump(target / "stepstone.db") == dump(made.path / "stepstone.db")


def test_a_missing_or_damaged_course_file_is_reported_and_the_rest_backed_up(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    store = settings.data_dir / "store"
    blobs = sorted(p for p in store.rglob("*") if p.is_file())
    blobs[0].unlink()
    damaged = blobs[1]
    damaged.chmod(0o644)
    damaged.write_bytes(b"not what it was")
    made = backup.create_backup(settings, tmp_path / "backups")
    assert sorted(made.problems) == sorted(
        [
            f"blob {blobs[0].name} is missing from the content store",
            f"blob {damaged.name} in the content store is damaged (its bytes changed)",
        ]
    )
    assert not (made.path / "store" / damaged.parent.name / damaged.name).exists()
    # What is in the backup restores cleanly; the problems travel with it.
    done = restore.restore_backup(made.path, tmp_path / "restored")
    assert done.manifest.problems == made.problems


def test_blobs_are_copied_once_then_linked_from_the_previous_backup(
    settings: Settings, tmp_path: Path
) -> None:
    dest = tmp_path / "backups"
    copied = backup.create_backup(settings, dest, allow_links=False)
    assert copied.linked == 0
    blob = next(e.path for e in copied.files if e.path.startswith("store/"))
    first, live = (copied.path / blob).stat(), (settings.data_dir / blob).stat()
    assert first.st_ino != live.st_ino
    assert stat.S_IMODE(first.st_mode) == 0o444
    # The next backup into the same folder links to the earlier backup's copy before the
    # live store: backups share their blobs even where the store cannot be linked to.
    again = backup.create_backup(settings, dest)
    assert again.linked == sum(1 for e in again.files if e.path.startswith("store/")) > 0
    assert (again.path / blob).stat().st_ino == first.st_ino
    elsewhere = backup.create_backup(settings, tmp_path / "elsewhere")
    assert (elsewhere.path / blob).stat().st_ino == live.st_ino


def test_rotation_keeps_the_newest_backups_and_nothing_else_is_touched(
    settings: Settings, tmp_path: Path
) -> None:
    dest = tmp_path / "backups"
    dest.mkdir()
    (dest / "my-notes").mkdir()
    (dest / ".stepstone-20000101T000000Z.partial").mkdir()  # a backup that was killed
    made = [backup.create_backup(settings, dest, keep=2) for _ in range(4)]
    assert backup.list_backups(dest) == [made[2].path, made[3].path]
    assert [p.name for p in made[3].removed] == [made[1].path.name]
    assert (dest / "my-notes").is_dir()
    assert not (dest / ".stepstone-20000101T000000Z.partial").exists()


# --- the command line --------------------------------------------------------------------


def test_backup_and_restore_commands(settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(settings.data_dir)]
    made = runner.invoke(cli, [*base, "backup", str(tmp_path / "b"), "--keep", "3"])
    assert made.exit_code == 0, made.output
    assert re.search(r"Backed up to .*stepstone-\d{8}T\d{6}Z: \d+ files", made.output)
    database = Database(settings.database_path)
    entry = database.query_one("SELECT target FROM audit_log WHERE action = 'backup.create'")
    database.close()
    assert entry is not None
    path = tmp_path / "b" / entry["target"]
    # The manifest and the command name the audit log's head at the snapshot; a restored
    # server (the audit key came along) checks its log against it.
    audit_head = json.loads((path / "manifest.json").read_text())["audit_head"]
    assert re.fullmatch(r"\d+:[0-9a-f]{64}", audit_head)
    assert f"Audit log head in this backup: {audit_head}" in made.output
    target = tmp_path / "restored"
    restored = runner.invoke(cli, ["restore", str(path), "--data-dir", str(target)])
    assert restored.exit_code == 0, restored.output
    assert "Every file matches the manifest; the database is intact." in restored.output
    checked = runner.invoke(
        cli, ["--data-dir", str(target), "audit", "verify", "--against", audit_head]
    )
    assert checked.exit_code == 0 and "The saved head" in checked.output, checked.output
    again = runner.invoke(cli, ["restore", str(path), "--data-dir", str(target)])
    assert again.exit_code == 1 and "is not empty" in again.output


# --- upgrades ------------------------------------------------------------------------


def _broken(db: Any) -> None:
    db.execute("CREATE TABLE half_done (id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO no_such_table VALUES (1)")


def _adds_a_column(db: Any) -> None:
    db.execute("ALTER TABLE groups ADD COLUMN colour TEXT NOT NULL DEFAULT ''")


def test_a_failing_migration_after_a_real_backup_leaves_both_intact(
    settings: Settings, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = dump(settings.database_path)
    add_migration(monkeypatch, "9999_broken", _broken)
    with pytest.raises(BackupError, match=r"9999_broken.*no such table.*left as it was") as failed:
        upgrade.migrate(settings, database)
    database.close()
    assert dump(settings.database_path) == before
    (made,) = backup.list_backups(settings.data_dir / "backups", backup.UPGRADE_PREFIX)
    assert str(made) in str(failed.value)
    # The backup is whole and restores to the database as it was before the attempt.
    restore.restore_backup(made, tmp_path / "restored")
    assert dump(tmp_path / "restored" / "stepstone.db") == before


def test_an_upgrade_backs_up_first_then_migrates_and_a_new_database_is_not_backed_up(
    settings: Settings, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_migration(monkeypatch, "9998_colour", _adds_a_column)
    # The server applies it at start-up, as after installing a new version.
    with TestClient(create_app(settings)):
        pass
    database.close()
    (made,) = backup.list_backups(settings.data_dir / "backups", backup.UPGRADE_PREFIX)
    manifest = restore.read_manifest(made)
    assert "9998_colour" not in manifest.schema
    assert "colour" not in columns_of(made / "stepstone.db", "groups")
    assert "colour" in columns_of(settings.database_path, "groups")
    fresh = load_settings(environ={}, data_dir=tmp_path / "fresh")
    initialize(fresh).close()
    assert not (fresh.data_dir / "backups").exists()


def columns_of(path: Path, table: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


def test_backups_do_not_follow_symlinks_out_of_the_data_folder(
    settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    publisher_dir = next((settings.data_dir / "tuf").iterdir())
    (publisher_dir / "planted.json").symlink_to(outside)
    made = backup.create_backup(settings, tmp_path / "backups")
    assert not any(e.path.endswith("planted.json") for e in made.files)


# --- upgrades and backups under faults, in real processes ----------------------------------

ROOT = Path(__file__).resolve().parents[3]


def stepstone_with(fault: str, data: Path, *args: str) -> subprocess.Popen[str]:
    """``stepstone --data-dir DATA ARGS`` in a new process, with ``fault`` planted."""
    command = [sys.executable, "-m", "tests.fault_driver", fault, "--data-dir", str(data), *args]
    return subprocess.Popen(command, cwd=ROOT, stdout=PIPE, stderr=PIPE, text=True)


def test_two_processes_upgrading_at_once_take_turns(settings: Settings) -> None:
    """After an update the server, the sync timer and an admin's command may all start at
    once: the first backs up and migrates, the others wait, then find nothing to do."""
    started = [stepstone_with("slow-upgrade", settings.data_dir, "audit", "verify") for _ in "ab"]
    done = [(process, *process.communicate(timeout=120)) for process in started]
    for process, out, err in done:
        assert process.returncode == 0, err
        assert "Audit log OK" in out
    (made,) = backup.list_backups(settings.data_dir / "backups", backup.UPGRADE_PREFIX)
    assert "9998_slow_upgrade" not in restore.read_manifest(made).schema
    assert "colour" in columns_of(settings.database_path, "groups")


def test_a_full_disk_stops_a_backup_with_a_plain_message(
    settings: Settings, tmp_path: Path
) -> None:
    dest = tmp_path / "backups"
    process = stepstone_with("filesize=65536", settings.data_dir, "backup", str(dest))
    _out, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "Traceback" not in err
    # SQLite words the refused write of its copy as "disk I/O error".
    assert f"Error: The backup into {dest} could not be written: " in err
    assert "Free some space on that disk" in err
    assert list(dest.iterdir()) == [dest / backup.LOCK_FILE]  # no half backup left


def test_a_full_disk_stops_an_upgrade_at_start_with_a_plain_message(settings: Settings) -> None:
    before = dump(settings.database_path)
    process = stepstone_with("slow-upgrade,filesize=65536", settings.data_dir, "serve")
    _out, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "Traceback" not in err
    assert "could not be written: " in err and "Free some space on that disk" in err
    assert dump(settings.database_path) == before
