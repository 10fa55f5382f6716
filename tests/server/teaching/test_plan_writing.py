"""Writing tasks inside lesson plans, end to end: an educator adds a task with a rubric to
a plan and assigns it; a learner of the group drafts (autosave) and sends it; it waits in
the grading queue with the plan's due date; the educator asks for a revision, the learner
sends again, the pass marks the plan item done. Another group's educator gets 404; the
admins' local-text list shows the prompt and rubric; reads and grades are audited; the
migration keeps the attempts written before it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.core.db import Database
from server.core.settings import Settings
from server.learning import lesson_plans
from server.learning.access import Scope
from server.ops.migrations import migrations
from server.people import accounts, groups
from server.people.accounts import Role, User
from server.people.audit import Actor
from server.teaching import grading
from tests.conftest import CSRF_RE, People, make_user, sign_in

SYSTEM = Actor.system("test")
PROMPT = "Write a letter to someone you miss. Say what you would do together."
TASK_FORM = {
    "title": "A letter home",
    "prompt": PROMPT,
    "length": "long",
    "min_words": "5",
    "max_words": "80",
    "c1": "Says who and why",
    "c1-l1": "Not yet",
    "c1-p1": "0",
    "c1-l2": "Clear",
    "c1-p2": "2",
    "c2": "Easy to follow",
    "c2-l1": "Not yet",
    "c2-p1": "0",
    "c2-l2": "Partly",
    "c2-p2": "1",
    "c2-l3": "Yes",
    "c2-p3": "2",
    "pass_mark": "3",
}


def token(client: TestClient, path: str) -> str:
    match = CSRF_RE.search(client.get(path).text)
    assert match, path
    return match.group(1)


def post(client: TestClient, page: str, action: str, data: dict[str, str]) -> Any:
    return client.post(
        action, data={"csrf_token": token(client, page), **data}, follow_redirects=False
    )


def client_as(app: Starlette, user: User) -> TestClient:
    client = TestClient(app, base_url="http://testserver")
    sign_in(client, user)
    return client


@pytest.fixture
def plan_id(database: Database, people: People) -> int:
    a = groups.create_group(database, SYSTEM, "Class A", "class")
    b = groups.create_group(database, SYSTEM, "Class B", "class")
    groups.add_member(database, SYSTEM, a.id, people.educator.id)
    groups.add_member(database, SYSTEM, a.id, people.learner.id)
    groups.add_member(database, SYSTEM, b.id, people.other_learner.id)
    return lesson_plans.create_plan(database, SYSTEM, a.id, "Letters week", "")


@pytest.fixture
def other_teacher_id(database: Database, plan_id: int) -> int:
    """An educator of Class B, a group the plan is not for."""
    row = database.query_one("SELECT id FROM groups WHERE name = 'Class B'")
    assert row is not None
    teacher = make_user(database, Role.EDUCATOR, "teacher2")
    groups.add_member(database, SYSTEM, row[0], teacher.id)
    return teacher.id


def test_a_writing_task_in_a_plan_is_drafted_sent_revised_and_passed(
    app: Starlette,
    database: Database,
    settings: Settings,
    people: People,
    plan_id: int,
    other_teacher_id: int,
) -> None:
    plan_url = f"/teach/lesson-plans/{plan_id}"
    teacher = client_as(app, people.educator)
    # The form starts from a ready rubric the educator can keep or change.
    form = teacher.get(plan_url + "/writing").text
    assert 'value="Answers the prompt"' in form and 'value="Fully"' in form

    # The course format's rules, in the educator's words; nothing is stored.
    too_high = post(teacher, plan_url, plan_url + "/writing", TASK_FORM | {"pass_mark": "5"})
    assert too_high.status_code == 400 and "no one could pass" in too_high.text
    swapped = post(teacher, plan_url, plan_url + "/writing", TASK_FORM | {"min_words": "90"})
    assert swapped.status_code == 400 and "smallest number is more than its largest" in swapped.text
    one_level = post(
        teacher, plan_url, plan_url + "/writing", TASK_FORM | {"c1-l2": "", "c1-p2": ""}
    )
    assert one_level.status_code == 400 and "at least 2 levels" in one_level.text
    assert 'aria-invalid="true"' in one_level.text and "Says who and why" in one_level.text
    assert lesson_plans.items_of(database, plan_id) == []

    assert post(teacher, plan_url, plan_url + "/writing", TASK_FORM).status_code == 303
    [item] = lesson_plans.items_of(database, plan_id)
    assert item.kind == "written" and item.task_id is not None
    task_url = f"/learn/lesson-plans/{plan_id}/writing/{item.task_id}"
    assert "A letter home" in teacher.get(plan_url).text
    assigned = post(teacher, plan_url, plan_url + "/assign", {"due_date": "2099-12-24"})
    assert assigned.status_code == 303

    # The learner drafts (autosave keeps the words), then sends.
    learner = client_as(app, people.learner)
    plan_page = learner.get(f"/learn/lesson-plans/{plan_id}").text
    assert task_url in plan_page and "0 of 1 done" in plan_page
    page = learner.get(task_url).text
    assert PROMPT in page and "Aim for 5 to 80 words." in page and 'id="word-count"' in page
    saved = post(learner, task_url, task_url + "/draft", {"p-text": "Dear Mom, I miss"})
    assert saved.status_code == 204
    assert "Dear Mom, I miss</textarea>" in learner.get(task_url).text
    first_words = "Dear Mom, I miss you. We would cook rice together."
    sent = post(learner, task_url, task_url, {"action": "submit", "p-text": first_words})
    assert sent.status_code == 303
    page = learner.get(task_url).text
    assert "Your teacher has not graded it yet." in page
    again = post(learner, task_url, task_url, {"action": "submit", "p-text": "More"})
    assert again.status_code == 400 and "You already sent this" in again.text

    # It waits in the group's grading queue with the plan's due date.
    queue = teacher.get("/teach/grading").text
    assert "A letter home" in queue and "Alex Learner" in queue
    [waiting] = grading.queue(database, settings, Scope.of(people.educator))
    assert waiting.lesson_title == "A letter home"
    assert waiting.due_date == "2099-12-24" and not waiting.late
    first = waiting.attempt_id

    # Another group's educator cannot open the work or the task; nor another learner.
    outsider = client_as(app, accounts.get_user(database, other_teacher_id))
    assert outsider.get(f"/teach/grading/{first}").status_code == 404
    assert outsider.get(f"{plan_url}/writing/{item.task_id}").status_code == 404
    assert "A letter home" not in outsider.get("/teach/grading").text
    assert client_as(app, people.other_learner).get(task_url).status_code == 404

    # The educator asks for a revision; the learner's new try starts from their words.
    grade_page = teacher.get(f"/teach/grading/{first}").text
    assert PROMPT in grade_page and "Says who and why" in grade_page
    revise = post(
        teacher,
        f"/teach/grading/{first}",
        f"/teach/grading/{first}",
        {"c-c1": "0", "c-c2": "1", "decision": "revise", "feedback": "Say when you would cook."},
    )
    assert revise.status_code == 303
    page = learner.get(task_url).text
    assert "Say when you would cook." in page and f"{first_words}</textarea>" in page
    second_words = first_words + " On Sunday, after church."
    assert (
        post(learner, task_url, task_url, {"action": "submit", "p-text": second_words}).status_code
        == 303
    )
    [waiting] = grading.queue(database, settings, Scope.of(people.educator))
    assert waiting.attempt != 1 and waiting.attempt_id != first
    second = waiting.attempt_id
    assert "0 of 1 done" in learner.get(f"/learn/lesson-plans/{plan_id}").text

    # Graded as passed: the plan's item is done, for the learner and on the educator's page.
    graded = post(
        teacher,
        f"/teach/grading/{second}",
        f"/teach/grading/{second}",
        {"c-c1": "1", "c-c2": "2", "decision": "graded", "feedback": "Lovely."},
    )
    assert graded.status_code == 303
    page = learner.get(task_url).text
    assert "Total: 4 of 4 points." in page and "You passed." in page
    assert "You did everything in this plan" in learner.get(f"/learn/lesson-plans/{plan_id}").text
    results = teacher.get(f"{plan_url}/writing/{item.task_id}").text
    assert "4 of 4 points" in results and "Passed" in results
    board = teacher.get(f"/teach/learners/{people.learner.id}").text
    assert "A letter home" in board and "4 of 4 points · passed" in board

    # The learner's comment reaches the educator, on the same thread code.
    said = post(learner, task_url, f"{task_url}/{second}/comment", {"comment": "Thank you!"})
    assert said.status_code == 303
    assert "Thank you!" in teacher.get(f"/teach/grading/{second}").text

    # Reads, grades and comments are audited, naming the plan's task.
    entries = [
        (r["action"], json.loads(r["detail"]))
        for r in database.query(
            "SELECT action, detail FROM audit_log WHERE action LIKE 'written.%' ORDER BY id"
        )
    ]
    assert ("written.read", {"attempt": first, "task": item.task_id}) in entries
    assert [d["decision"] for a, d in entries if a == "written.grade"] == ["revise", "graded"]
    assert any(a == "written.comment" and d["task"] == item.task_id for a, d in entries)

    # The admins' list of local text shows the title, prompt and rubric as written.
    admin = client_as(app, people.admin)
    local = admin.get("/admin/local-text").text
    assert PROMPT in local and "Writing task" in local
    assert "Easy to follow: Not yet (0); Partly (1); Yes (2)" in local


def test_with_no_pass_mark_sending_is_enough(
    app: Starlette, database: Database, settings: Settings, people: People, plan_id: int
) -> None:
    teacher = client_as(app, people.educator)
    plan_url = f"/teach/lesson-plans/{plan_id}"
    made = post(teacher, plan_url, plan_url + "/writing", TASK_FORM | {"pass_mark": "0"})
    assert made.status_code == 303
    assert post(teacher, plan_url, plan_url + "/assign", {"due_date": ""}).status_code == 303
    [item] = lesson_plans.items_of(database, plan_id)
    learner = client_as(app, people.learner)
    task_url = f"/learn/lesson-plans/{plan_id}/writing/{item.task_id}"
    assert "It is done when you send it." in learner.get(task_url).text
    empty = post(learner, task_url, task_url, {"action": "submit", "p-text": "  "})
    assert empty.status_code == 400 and "Write your answer before you send it." in empty.text
    assert (
        post(learner, task_url, task_url, {"action": "submit", "p-text": "Hi."}).status_code == 303
    )
    assert "You did everything in this plan" in learner.get(f"/learn/lesson-plans/{plan_id}").text

    # Deleting the group deletes its plans, never the learner's writing.
    [waiting] = grading.queue(database, settings, Scope.of(people.admin))
    plan = lesson_plans.get_plan(database, plan_id)
    groups.delete_group(database, SYSTEM, plan.group_id)
    assert learner.get(f"/learn/lesson-plans/{plan_id}").status_code == 404
    admin = client_as(app, people.admin)
    kept = admin.get(f"/teach/grading/{waiting.attempt_id}")
    assert kept.status_code == 200 and "Hi." in kept.text and "A letter home" in kept.text


def test_a_late_plan_task_is_marked_late_in_the_queue(
    app: Starlette, database: Database, settings: Settings, people: People, plan_id: int
) -> None:
    teacher = client_as(app, people.educator)
    plan_url = f"/teach/lesson-plans/{plan_id}"
    assert post(teacher, plan_url, plan_url + "/writing", TASK_FORM).status_code == 303
    due = {"due_date": "2001-01-01", "past_due_ok": "yes"}
    assert post(teacher, plan_url, plan_url + "/assign", due).status_code == 303
    [item] = lesson_plans.items_of(database, plan_id)
    learner = client_as(app, people.learner)
    task_url = f"/learn/lesson-plans/{plan_id}/writing/{item.task_id}"
    post(learner, task_url, task_url, {"action": "submit", "p-text": "Late words."})
    [waiting] = grading.queue(database, settings, Scope.of(people.educator))
    assert waiting.due_date == "2001-01-01" and waiting.late
    assert "Late" in teacher.get("/teach/grading").text


@pytest.mark.demo  # a facility with a course version for the attempt to point to
def test_the_migration_keeps_course_attempts_and_comments(
    tmp_path: Path, database: Database, settings: Settings, people: People
) -> None:
    """Attempts and comments written before 0025 survive it; an attempt then has exactly
    one owner: a course's lesson or a plan's task."""
    version = database.query_one("SELECT min(id) FROM course_versions")
    assert version is not None and version[0]
    copy = tmp_path / "copy.db"
    with sqlite3.connect(settings.database_path) as live, sqlite3.connect(copy) as target:
        live.backup(target)
    with sqlite3.connect(copy) as db:
        # Back to the schema before 0025 (foreign keys are off on this plain connection).
        db.execute("DROP TABLE written_comments")
        db.execute("DROP TABLE written_attempts")
        db.execute("DROP TABLE plan_written_tasks")
        db.execute("ALTER TABLE lesson_plan_items RENAME TO old_items")
        db.execute(
            "CREATE TABLE lesson_plan_items AS SELECT id, plan_id, position, kind, course_id,"
            " lesson_key, quiz_id, file_id FROM old_items"
        )
        db.execute("DROP TABLE old_items")
        db.execute(
            "CREATE TABLE written_attempts (id INTEGER PRIMARY KEY, user_id INTEGER,"
            " course_id TEXT NOT NULL, lesson_key TEXT NOT NULL, version_id INTEGER NOT NULL,"
            " attempt INTEGER, status TEXT, text TEXT, words INTEGER, created_at TEXT,"
            " updated_at TEXT, submitted_at TEXT, graded_at TEXT, graded_by INTEGER,"
            " scores TEXT, total REAL, max_points REAL, passed INTEGER, feedback TEXT)"
        )
        db.execute(
            "CREATE TABLE written_comments (id INTEGER PRIMARY KEY, attempt_id INTEGER"
            " REFERENCES written_attempts(id) ON DELETE CASCADE, author_id INTEGER,"
            " author_role TEXT, body TEXT, created_at TEXT)"
        )
        db.execute(
            "INSERT INTO written_attempts VALUES (7, ?, 'org.x', 'letter', ?, 1, 'graded',"
            " 'My words.', 2, 't', 't', 't', 't', NULL, '{\"a\": 2}', 2, 4, 0, 'Good start')",
            [people.learner.id, version[0]],
        )
        db.execute(
            "INSERT INTO written_comments VALUES (3, 7, ?, 'learner', 'Thanks', 't')",
            [people.learner.id],
        )
        db.execute("DELETE FROM _sqlite_migrations WHERE name = '0025_plan_written'")
    again = sqlite_utils.Database(copy)
    again.execute("PRAGMA foreign_keys=ON")
    migrations.apply(again)
    kept = list(
        again.execute(
            "SELECT id, course_id, lesson_key, version_id, task_id, status, text, total, feedback"
            " FROM written_attempts"
        )
    )
    assert kept == [
        (7, "org.x", "letter", version[0], None, "graded", "My words.", 2.0, "Good start")
    ]
    assert list(again.execute("SELECT id, attempt_id, body FROM written_comments")) == [
        (3, 7, "Thanks")
    ]
    # The comments point at the rebuilt table, and every reference holds.
    targets = {row[2] for row in again.execute("PRAGMA foreign_key_list(written_comments)")}
    assert targets == {"written_attempts", "users"}
    assert list(again.execute("PRAGMA foreign_key_check")) == []
    columns = "user_id, course_id, lesson_key, version_id, task_id, attempt, created_at, updated_at"
    for owner in ([None, None, None, None], ["org.x", "letter", version[0], 1]):
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            again.execute(
                f"INSERT INTO written_attempts ({columns}) VALUES (?, ?, ?, ?, ?, 2, 't', 't')",  # noqa: S608
                [people.learner.id, *owner],
            )
