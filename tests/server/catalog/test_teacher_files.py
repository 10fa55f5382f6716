"""The rules of educators' files, one by one: names kept safe, the checks' verdicts, the
store and garbage collection, decisions that cannot race, waivers only for educators, and
the migration that let plan items hold a file."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from server.catalog import integrity, teacher_files
from server.catalog.sync import content_store
from server.core.db import Database
from server.core.errors import ValidationError
from server.core.settings import Settings
from server.learning import lesson_plans
from server.ops.migrations import migrations
from server.people import groups
from server.people.audit import Actor
from tests.conftest import People
from tests.content.pdfs import tiny_pdf

ADMIN = Actor.system("test")


def put(database: Database, settings: Settings, people: People, data: bytes, name: str) -> int:
    found = teacher_files.upload(
        database,
        content_store(settings),
        people.educator,
        "",
        "Sheet",
        "",
        name,
        io.BytesIO(data),
        1024 * 1024,
    )
    return found.id


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("Budget sheet.pdf", "Budget_sheet.pdf"),
        ("C:\\Users\\t\\Week 1.PDF", "Week_1.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ('a"b<c>.mp4', "a_b_c.mp4"),
        (".pdf", "file.pdf"),
    ],
)
def test_a_files_own_name_is_kept_only_in_safe_letters(given: str, kept: str) -> None:
    assert teacher_files.clean_name(given) == kept


def test_checks_read_the_bytes_and_keep_web_addresses_as_notes(tmp_path: Path) -> None:
    linked = tmp_path / "linked.pdf"
    linked.write_bytes(
        tiny_pdf(page="/Annots [5 0 R]", extra=("<< /S /URI /URI (https://example.org) >>",))
    )
    checked = teacher_files.check_file(linked, "linked.pdf")
    assert checked.kind == "pdf" and checked.media_type == "application/pdf"
    assert any("https://example.org" in note for note in checked.notes)
    webm = tmp_path / "a.pdf"
    webm.write_bytes(b"\x1a\x45\xdf\xa3\x42\x82\x84webm" + bytes(64))
    with pytest.raises(ValidationError, match="not a PDF"):
        teacher_files.check_file(webm, "a.pdf")
    assert teacher_files.check_file(webm, "a.webm").kind == "video"
    launch = tmp_path / "launch.pdf"
    launch.write_bytes(tiny_pdf(catalog="/OpenAction 5 0 R", extra=("<< /S /Launch >>",)))
    with pytest.raises(ValidationError, match="has a script or an action"):
        teacher_files.check_file(launch, "launch.pdf")
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(ValidationError, match="empty"):
        teacher_files.check_file(empty, "empty.pdf")


def test_stored_read_only_in_the_store_and_kept_by_garbage_collection(
    settings: Settings, database: Database, people: People
) -> None:
    data = tiny_pdf("kept")
    file_id = put(database, settings, people, data, "kept.pdf")
    found = teacher_files.get_file(database, file_id)
    blob = content_store(settings).path_for(found.sha256)
    assert blob.read_bytes() == data and blob.stat().st_mode & 0o777 == 0o444
    assert found.status == "waiting" and found.size == len(data)
    integrity.collect_garbage(database, content_store(settings), ADMIN, min_age_seconds=0)
    assert blob.is_file()
    report = integrity.check_store(database, content_store(settings), all_blobs=True)
    assert report.orphans is not None
    assert found.sha256 not in {orphan.sha256 for orphan in report.orphans}


def test_a_decision_is_made_once_and_a_withdrawn_file_cannot_be_approved(
    settings: Settings, database: Database, people: People
) -> None:
    file_id = put(database, settings, people, tiny_pdf(), "a.pdf")
    teacher_files.approve(database, ADMIN, file_id)
    with pytest.raises(ValidationError, match="already decided"):
        teacher_files.approve(database, ADMIN, file_id)
    teacher_files.withdraw(database, people.educator.actor(), file_id)
    with pytest.raises(ValidationError, match="already decided"):
        teacher_files.approve(database, ADMIN, file_id)
    with pytest.raises(ValidationError, match="Choose a reason"):
        teacher_files.reject(database, ADMIN, file_id, "no-such-reason", "")


def test_only_an_educator_can_be_waived_and_the_waiver_names_who_granted_it(
    settings: Settings, database: Database, people: People
) -> None:
    with pytest.raises(ValidationError, match="Only an educator"):
        teacher_files.set_waiver(database, people.admin.actor(), people.learner, True)
    teacher_files.set_waiver(database, people.admin.actor(), people.educator, True)
    waiver = teacher_files.waiver_of(database, people.educator.id)
    assert waiver is not None and waiver.granted_by == "admin:boss"
    found = teacher_files.get_file(database, put(database, settings, people, tiny_pdf(), "b.pdf"))
    assert found.status == "approved" and found.waived_by == "admin:boss"
    teacher_files.set_waiver(database, people.admin.actor(), people.educator, False)
    later = teacher_files.get_file(
        database, put(database, settings, people, tiny_pdf("2"), "c.pdf")
    )
    assert later.status == "waiting" and later.waived_by is None


def test_the_migration_keeps_every_plan_item_and_lets_an_item_hold_a_file(
    tmp_path: Path, database: Database, people: People, settings: Settings
) -> None:
    # Items made before the migration (here: rolled back to its schema by hand) survive it.
    group = groups.create_group(database, ADMIN, "Class A", "class")
    plan_id = lesson_plans.create_plan(database, ADMIN, group.id, "Week", "")
    with database.write() as db:
        db.execute(
            "INSERT INTO lesson_plan_items (plan_id, position, kind, course_id, lesson_key)"
            " VALUES (?, 1, 'lesson', 'org.x', 'intro')",
            [plan_id],
        )
    copy = tmp_path / "copy.db"
    with sqlite3.connect(settings.database_path) as live, sqlite3.connect(copy) as target:
        live.backup(target)
    with sqlite3.connect(copy) as db:
        db.execute("DROP TABLE teacher_file_opens")
        db.execute("DROP TABLE file_review_waivers")
        db.execute("ALTER TABLE lesson_plan_items RENAME TO old_items")
        db.execute("DROP TABLE teacher_files")
        db.execute(
            "CREATE TABLE lesson_plan_items AS SELECT id, plan_id, position, kind, course_id,"
            " lesson_key, quiz_id FROM old_items"
        )
        db.execute("DROP TABLE old_items")
        db.execute("DELETE FROM _sqlite_migrations WHERE name = '0024_teacher_files'")
    again = sqlite_utils.Database(copy)
    migrations.apply(again)
    rows = list(again.execute("SELECT kind, course_id, lesson_key, file_id FROM lesson_plan_items"))
    assert rows == [("lesson", "org.x", "intro", None)]
    with pytest.raises(sqlite3.IntegrityError):
        again.execute(
            "INSERT INTO lesson_plan_items (plan_id, position, kind) VALUES (?, 2, 'file')",
            [plan_id],
        )
