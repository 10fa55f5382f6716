"""Files educators share, end to end: an educator uploads a PDF into a lesson plan; the
group's learner cannot open it while it waits; an admin approves it on the review page
and the learner opens it (another group's learner never can). A rejected file stays
hidden and its educator reads why; a waived educator's file is there at once; a fake PDF,
a PDF with a script and a file too big are refused with words that say so, leaving
nothing behind; a restored backup still serves an approved file."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import sqlite3
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.core.db import Database
from server.core.settings import Settings, load_settings
from server.learning import lesson_plans
from server.ops import backup, restore
from server.people import groups
from server.people.audit import Actor
from server.web.app import create_app
from tests.conftest import CSRF_RE, People, form_action, sign_in
from tests.content.pdfs import tiny_pdf

SYSTEM = Actor.system("test")
HANDOUT = tiny_pdf("Budget worksheet")
# The first bytes of an MP4 ("ftyp" box): what the type check reads.
VIDEO = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(range(256)) * 4


@pytest.fixture
def plan_id(database: Database, people: People) -> int:
    a = groups.create_group(database, SYSTEM, "Class A", "class")
    b = groups.create_group(database, SYSTEM, "Class B", "class")
    groups.add_member(database, SYSTEM, a.id, people.educator.id)
    groups.add_member(database, SYSTEM, a.id, people.learner.id)
    groups.add_member(database, SYSTEM, b.id, people.other_learner.id)
    return lesson_plans.create_plan(
        database, people.educator.actor(), a.id, "Money week", "Read the handout."
    )


def client_for(app: Starlette, user: object) -> TestClient:
    client = TestClient(app, base_url="http://testserver")
    sign_in(client, user)  # type: ignore[arg-type]
    return client


def upload(
    client: TestClient,
    name: str,
    data: bytes,
    title: str = "Budget sheet",
    plan: int | None = None,
    media_type: str = "application/pdf",
) -> tuple[int, str]:
    page = f"/teach/files?plan={plan}" if plan else "/teach/files"
    fields = {"title": title, "description": "Fill in your own numbers."}
    if plan:
        fields["plan_id"] = str(plan)
    response = client.post(
        form_action(client, page, "/teach/files"),
        data=fields,
        files={"file": (name, data, media_type)},
        follow_redirects=False,
    )
    return response.status_code, response.text if response.status_code != 303 else (
        response.headers["location"]
    )


def post_form(client: TestClient, page: str, action: str, data: dict[str, str]) -> int:
    token = CSRF_RE.search(client.get(page).text)
    assert token, page
    response = client.post(
        action, data={"csrf_token": token.group(1), **data}, follow_redirects=False
    )
    return response.status_code


def file_ids(database: Database) -> list[int]:
    return [row[0] for row in database.query("SELECT id FROM teacher_files ORDER BY id")]


def audit_actions(database: Database) -> list[str]:
    rows = database.query(
        "SELECT action FROM audit_log WHERE action LIKE 'teacher-file.%' ORDER BY id"
    )
    return [row[0] for row in rows]


def test_a_file_waits_for_review_then_the_groups_learner_opens_it(
    app: Starlette, database: Database, people: People, plan_id: int
) -> None:
    teacher = client_for(app, people.educator)
    # From the builder: "Upload a new file" comes back to the plan with the file in it.
    assert "Add a file" in teacher.get(f"/teach/lesson-plans/{plan_id}").text
    status, where = upload(teacher, "Budget sheet.pdf", HANDOUT, plan=plan_id)
    assert status == 303 and where.startswith(f"/teach/lesson-plans/{plan_id}")
    (file_id,) = file_ids(database)
    builder = teacher.get(f"/teach/lesson-plans/{plan_id}").text
    assert "Budget sheet" in builder and "Waiting for review" in builder
    plan = lesson_plans.get_plan(database, plan_id)
    lesson_plans.assign(database, people.educator.actor(), plan, "")

    learner = client_for(app, people.learner)
    file_page = f"/learn/lesson-plans/{plan_id}/files/{file_id}"
    content = f"/files/{file_id}/Budget_sheet.pdf"
    page = learner.get(f"/learn/lesson-plans/{plan_id}").text
    assert "Budget sheet" in page and "Not available now" in page and file_page not in page
    assert learner.get(file_page).status_code == 404
    assert learner.get(content).status_code == 404

    admin = client_for(app, people.admin)
    listing = admin.get("/admin/content").text
    assert "Files from educators" in listing and f"/admin/content/files/{file_id}" in listing
    review = admin.get(f"/admin/content/files/{file_id}").text
    digest = hashlib.sha256(HANDOUT).hexdigest()
    assert digest in review and "Teacher" in review and "Fill in your own numbers." in review
    assert content in review  # the viewer (or the browser's own) shows the PDF in the page
    action = f"/admin/content/files/{file_id}/approve"
    assert post_form(admin, f"/admin/content/files/{file_id}", action, {}) == 303
    assert "Approved" in teacher.get("/teach/files").text

    page = learner.get(f"/learn/lesson-plans/{plan_id}").text
    assert file_page in page and "0 of 1 done" in page
    opened = learner.get(file_page)
    assert opened.status_code == 200 and "Fill in your own numbers." in opened.text
    assert f'{content}?download=1"' in opened.text
    sent = learner.get(content)
    assert sent.status_code == 200 and sent.content == HANDOUT
    assert sent.headers["content-type"] == "application/pdf"
    assert sent.headers["x-content-type-options"] == "nosniff"
    assert sent.headers["content-disposition"].startswith("inline")
    assert sent.headers["content-security-policy"].startswith("default-src 'none'")
    assert sent.headers["cache-control"] == "private, no-cache"
    download = learner.get(content + "?download=1")
    assert download.headers["content-disposition"].startswith("attachment")
    assert "You did everything in this plan" in learner.get(f"/learn/lesson-plans/{plan_id}").text

    # Another group's learner: 404 for the page and the file, as for anything hidden.
    stranger = client_for(app, people.other_learner)
    assert stranger.get(file_page).status_code == 404
    assert stranger.get(content).status_code == 404
    assert audit_actions(database) == ["teacher-file.upload", "teacher-file.approve"]

    # Taken back by its educator: the learner sees it as not available again.
    withdraw = f"/teach/files/{file_id}/withdraw"
    assert post_form(teacher, f"/teach/files/{file_id}", withdraw, {}) == 303
    assert learner.get(content).status_code == 404
    assert "Not available now" in learner.get(f"/learn/lesson-plans/{plan_id}").text


def test_a_rejected_file_stays_hidden_and_its_educator_reads_why(
    app: Starlette, database: Database, people: People, plan_id: int
) -> None:
    teacher = client_for(app, people.educator)
    assert upload(teacher, "clip.mp4", VIDEO, "Safety clip", plan_id, "video/mp4")[0] == 303
    (file_id,) = file_ids(database)
    lesson_plans.assign(
        database, people.educator.actor(), lesson_plans.get_plan(database, plan_id), ""
    )
    admin = client_for(app, people.admin)
    page = f"/admin/content/files/{file_id}"
    review = admin.get(page).text
    assert "<video" in review and "video/mp4" in review
    # "Other" needs words; a listed reason with a note goes through.
    action = f"{page}/reject"
    assert post_form(admin, page, action, {"reason_code": "other", "reason": ""}) == 400
    data = {"reason_code": "not-suitable", "reason": "Shows a real address."}
    assert post_form(admin, page, action, data) == 303

    mine = teacher.get("/teach/files").text
    assert "Rejected: Not suitable for this facility" in mine
    assert "Shows a real address." in mine
    assert "learners see it as not available" in teacher.get(f"/teach/lesson-plans/{plan_id}").text
    learner = client_for(app, people.learner)
    assert learner.get(f"/learn/lesson-plans/{plan_id}/files/{file_id}").status_code == 404
    assert learner.get(f"/files/{file_id}/clip.mp4").status_code == 404
    assert "Not available now" in learner.get(f"/learn/lesson-plans/{plan_id}").text
    assert audit_actions(database) == ["teacher-file.upload", "teacher-file.reject"]


def test_a_waived_educators_file_is_there_at_once_and_videos_seek(
    app: Starlette, database: Database, people: People, plan_id: int
) -> None:
    admin = client_for(app, people.admin)
    user_page = f"/admin/users/{people.educator.id}"
    assert "May share files without review" in admin.get(user_page).text
    assert post_form(admin, user_page, user_page + "/file-waiver", {"waiver": "on"}) == 303
    assert "granted by admin:boss" in admin.get(user_page).text

    teacher = client_for(app, people.educator)
    assert "without review" in teacher.get("/teach/files").text
    assert upload(teacher, "clip.mp4", VIDEO, "Safety clip", plan_id, "video/mp4")[0] == 303
    (file_id,) = file_ids(database)
    assert "review waived by admin:boss" in admin.get(f"/admin/content/files/{file_id}").text
    lesson_plans.assign(
        database, people.educator.actor(), lesson_plans.get_plan(database, plan_id), ""
    )
    learner = client_for(app, people.learner)
    assert learner.get(f"/learn/lesson-plans/{plan_id}/files/{file_id}").status_code == 200
    part = learner.get(f"/files/{file_id}/clip.mp4", headers={"Range": "bytes=4-11"})
    assert part.status_code == 206 and part.content == b"ftypisom"
    assert part.headers["content-type"] == "video/mp4"
    assert audit_actions(database) == [
        "teacher-file.waiver-grant",
        "teacher-file.upload",
        "teacher-file.approve",
    ]


def test_fake_scripted_and_oversize_files_are_refused_and_leave_nothing(
    settings: Settings, database: Database, people: People
) -> None:
    app = create_app(dataclasses.replace(settings, teacher_file_max_mb=1))
    teacher = client_for(app, people.educator)
    fake = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
    status, text = upload(teacher, "handout.pdf", fake)
    assert status == 400 and "This file is not a PDF" in text
    scripted = tiny_pdf(catalog="/OpenAction 5 0 R", extra=("<< /S /JavaScript /JS (x) >>",))
    status, text = upload(teacher, "handout.pdf", scripted)
    assert status == 400 and "has a script" in text
    status, text = upload(teacher, "notes.docx", HANDOUT)
    assert status == 400 and "Share a PDF (.pdf) or a video" in text
    big = HANDOUT + b"%" * (1024 * 1024)
    status, text = upload(teacher, "handout.pdf", big)
    assert status == 400 and "This file is too big" in text
    assert file_ids(database) == []
    staging = settings.data_dir / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []
    store = settings.data_dir / "store"
    blobs = [p.name for p in store.rglob("*") if p.is_file()] if store.exists() else []
    assert hashlib.sha256(big).hexdigest() not in blobs


def test_a_restored_backup_still_serves_an_approved_file(
    settings: Settings, database: Database, people: People, plan_id: int, tmp_path: Path
) -> None:
    admin = client_for(create_app(settings), people.admin)
    user_page = f"/admin/users/{people.educator.id}"
    post_form(admin, user_page, user_page + "/file-waiver", {"waiver": "on"})
    teacher = client_for(create_app(settings), people.educator)
    assert upload(teacher, "sheet.pdf", HANDOUT, plan=plan_id)[0] == 303
    (file_id,) = file_ids(database)
    lesson_plans.assign(
        database, people.educator.actor(), lesson_plans.get_plan(database, plan_id), ""
    )
    made = backup.create_backup(settings, tmp_path / "backups")
    assert f"store/{hashlib.sha256(HANDOUT).hexdigest()[:2]}/" in str(
        [entry.path for entry in made.files]
    )
    restored = tmp_path / "restored"
    restore.restore_backup(made.path, restored)
    with sqlite3.connect(restored / "stepstone.db") as copy:
        assert copy.execute("SELECT status FROM teacher_files").fetchone() == ("approved",)

    again = load_settings(environ={}, data_dir=restored)
    learner = client_for(create_app(again), people.learner)
    sent = learner.get(f"/files/{file_id}/sheet.pdf")
    assert sent.status_code == 200 and sent.content == HANDOUT
    assert re.search(r"Budget sheet", learner.get(f"/learn/lesson-plans/{plan_id}").text)
