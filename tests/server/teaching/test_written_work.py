"""Written tasks end to end: a publisher's course with a rubric-graded task, a learner who
drafts (autosave) and sends it, an educator of their group who grades it and asks for a
revision, the new try, the pass that completes the course, the comment thread, the
grading queue, the learner board and the progress export."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from content.package.build import build_package
from content.tuf import repository
from server.catalog.library import CatalogHooks
from server.catalog.sync import sync_all
from server.core.db import Database
from server.core.settings import Settings
from server.learning import assignments
from server.people import absences, groups
from server.people.accounts import Role
from server.people.audit import Actor
from server.web.app import create_app
from tests.conftest import CSRF_RE, People, make_user, sign_in
from tests.content.conftest import write_course
from tests.content.tuf.helpers import make_repo
from tests.facility import ADMIN, trust_ngo

COURSE_ID = "org.example.letters"
SYSTEM = Actor.system("test")
LETTER = """---
key: letter
title: A letter to a future boss
kind: written
written:
  prompt: Write a short letter to a boss you would like to work for.
  length: long
  words: {min: 5, max: 60}
  pass_mark: 3
  required: true
  rubric:
    - key: content
      criterion: Says what job and why
      levels:
        - {label: Not yet, points: 0}
        - {label: Some, points: 1}
        - {label: Clear, points: 2, description: Names the job and a reason}
    - key: tone
      criterion: Polite and clear
      levels:
        - {label: Not yet, points: 0}
        - {label: "Yes", points: 2}
---
Think of a job you want. Then write.
"""
INTRO = "lessons/01-intro.md"
INTRO_TEXT = (
    "---\nkey: intro\ntitle: Before you write\nkind: reading\n---\nA good letter is short.\n"
)
LESSON = f"/learn/courses/{COURSE_ID}/lessons/letter"


def publish_letters(base: Path, database: Database, settings: Settings) -> None:
    src = write_course(
        base / "src",
        course={"id": COURSE_ID, "lessons": [INTRO, "lessons/03-letter.md"]},
        lessons={INTRO: INTRO_TEXT, "lessons/03-letter.md": LETTER},
    )
    repo = make_repo(base)
    trust_ngo(database, repo)
    repository.add_packages(repo, [build_package(src, base / "dist", progress=False)])
    [report] = sync_all(database, settings, CatalogHooks(), ADMIN)
    assert report.imported, report.message


@pytest.fixture
def setup(tmp_path: Path, database: Database, settings: Settings, people: People) -> People:
    publish_letters(tmp_path, database, settings)
    a = groups.create_group(database, SYSTEM, "Class A", "class")
    b = groups.create_group(database, SYSTEM, "Class B", "class")
    groups.add_member(database, SYSTEM, a.id, people.educator.id)
    groups.add_member(database, SYSTEM, a.id, people.learner.id)
    groups.add_member(database, SYSTEM, b.id, people.other_learner.id)
    other_teacher = make_user(database, Role.EDUCATOR, "teacher2")
    groups.add_member(database, SYSTEM, b.id, other_teacher.id)
    return people


def client_for(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), base_url="http://testserver")


def token(client: TestClient, path: str) -> str:
    match = CSRF_RE.search(client.get(path).text)
    assert match, path
    return match.group(1)


def send(client: TestClient, path: str, data: dict[str, str], page: str = "") -> Any:
    return client.post(
        path, data=data | {"csrf_token": token(client, page or path)}, follow_redirects=False
    )


def autosave(client: TestClient, text: str, event_id: str) -> dict[str, object]:
    csrf = token(client, LESSON)
    event = {
        "id": event_id,
        "type": "draft",
        "course": COURSE_ID,
        "lesson": "letter",
        "data": {"answers": {"text": text}, "entry": 0, "shown_private": []},
    }
    response = client.post("/api/events", json={"events": [event]}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def attempt_ids(database: Database, user_id: int) -> list[int]:
    rows = database.query(
        "SELECT id FROM written_attempts WHERE user_id = ? ORDER BY attempt", [user_id]
    )
    return [int(r[0]) for r in rows]


def test_a_written_task_is_drafted_sent_revised_resubmitted_and_passed(
    database: Database, settings: Settings, setup: People, tmp_path: Path
) -> None:
    people = setup
    assignments.assign(
        database,
        SYSTEM,
        COURSE_ID,
        learners=[people.learner.id],
        due_date="2020-01-01",
        past_due_ok=True,
    )
    with client_for(settings) as learner:
        sign_in(learner, people.learner)
        page = learner.get(LESSON)
        assert page.status_code == 200
        assert "Write a short letter" in page.text and "Aim for 5 to 60 words." in page.text
        assert 'id="word-count"' in page.text and "To pass you need 3 of 4 points." in page.text
        # Autosave, as the page's script sends it; the draft is on the page again.
        assert autosave(learner, "Dear boss, I want", "draft-event-0001")["accepted"]
        assert "Dear boss, I want</textarea>" in learner.get(LESSON).text
        # The intro is done; the task is not passed yet, so the course is not complete.
        done = send(learner, f"/learn/courses/{COURSE_ID}/lessons/intro/done", {}, LESSON)
        assert done.status_code == 303
        sent = send(
            learner,
            LESSON + "/written",
            {"action": "submit", "p-text": "Dear boss, I want to cook in your kitchen."},
            LESSON,
        )
        assert sent.status_code == 303
        text = learner.get(LESSON).text
        assert "Your teacher has not graded it yet." in text
        assert 'id="written-form"' not in text  # nothing more to write until it is graded
        assert not database.query("SELECT 1 FROM certificates")
    [first] = attempt_ids(database, people.learner.id)

    # An educator of another group sees nothing of it: not in the queue, 404 to open.
    with client_for(settings) as stranger:
        stranger_user = make_user(database, Role.EDUCATOR, "teacher3")
        sign_in(stranger, stranger_user)
        assert "cook in your kitchen" not in stranger.get("/teach/grading").text
        assert stranger.get(f"/teach/grading/{first}").status_code == 404
        refused = send(
            stranger,
            f"/teach/grading/{first}",
            {"c-content": "2", "c-tone": "1", "decision": "graded"},
            "/teach/grading",
        )
        assert refused.status_code == 404

    with client_for(settings) as teacher:
        sign_in(teacher, people.educator)
        queue = teacher.get("/teach/grading").text
        assert "A letter to a future boss" in queue and "Alex Learner" in queue
        assert "Late" in queue  # sent after the assignment's due date
        grading = teacher.get(f"/teach/grading/{first}")
        assert "cook in your kitchen" in grading.text
        assert 'name="c-content" value="2"' in grading.text
        # Every criterion needs a level.
        missing = send(teacher, f"/teach/grading/{first}", {"c-content": "1", "decision": "graded"})
        assert missing.status_code == 400
        revise = send(
            teacher,
            f"/teach/grading/{first}",
            {
                "c-content": "1",
                "c-tone": "0",
                "decision": "revise",
                "feedback": "Say why you want this job.",
            },
        )
        assert revise.status_code == 303
        assert "cook in your kitchen" not in teacher.get("/teach/grading").text

    with client_for(settings) as learner:
        sign_in(learner, people.learner)
        text = learner.get(LESSON).text
        assert "Say why you want this job." in text
        assert "Total: 1 of 4 points." in text
        assert "Dear boss, I want to cook in your kitchen.</textarea>" in text  # starts from it
        resent = send(
            learner,
            LESSON + "/written",
            {
                "action": "submit",
                "p-text": "Dear boss, I want to cook in your kitchen because I love food.",
            },
            LESSON,
        )
        assert resent.status_code == 303
    first_try, second = attempt_ids(database, people.learner.id)
    assert first_try == first
    kept = database.query_one("SELECT status, text FROM written_attempts WHERE id = ?", [first])
    assert kept is not None and tuple(kept) == (
        "revise",
        "Dear boss, I want to cook in your kitchen.",
    )

    with client_for(settings) as teacher:
        sign_in(teacher, people.educator)
        graded = send(
            teacher,
            f"/teach/grading/{second}",
            {"c-content": "2", "c-tone": "1", "decision": "graded", "feedback": "Well done."},
        )
        assert graded.status_code == 303
        board = teacher.get(f"/teach/learners/{people.learner.id}").text
        assert "A letter to a future boss" in board and "4 of 4" in board
        export = teacher.get("/teach/exports/progress.csv")
        rows = list(csv.DictReader(io.StringIO(export.text)))
        mine = [r for r in rows if r["course_id"] == COURSE_ID]
        assert mine and mine[0]["written_grade"] == "letter: 4/4 passed"

    # The pass completed the course: the certificate is issued.
    cert = database.query(
        "SELECT course_id FROM certificates WHERE user_id = ?", [people.learner.id]
    )
    assert [r[0] for r in cert] == [COURSE_ID]
    actions = [
        (r["action"], json.loads(r["detail"]).get("attempt"))
        for r in database.query(
            "SELECT action, detail FROM audit_log WHERE action LIKE 'written.%' ORDER BY id"
        )
    ]
    assert ("written.read", first) in actions
    assert actions.count(("written.grade", first)) == 1
    assert ("written.grade", second) in actions


def test_comment_threads_are_audited_scoped_and_can_be_turned_off(
    database: Database, settings: Settings, setup: People
) -> None:
    people = setup
    with client_for(settings) as learner:
        sign_in(learner, people.learner)
        send(learner, LESSON + "/written", {"action": "submit", "p-text": "My words."}, LESSON)
        [attempt] = attempt_ids(database, people.learner.id)
        said = send(
            learner,
            f"{LESSON}/written/{attempt}/comment",
            {"comment": "Is my spelling ok?"},
            LESSON,
        )
        assert said.status_code == 303
        too_long = send(
            learner, f"{LESSON}/written/{attempt}/comment", {"comment": "x" * 1001}, LESSON
        )
        assert too_long.status_code == 400
    with client_for(settings) as teacher:
        sign_in(teacher, people.educator)
        page = teacher.get(f"/teach/grading/{attempt}").text
        assert "Is my spelling ok?" in page
        answer = send(
            teacher,
            f"/teach/grading/{attempt}/comment",
            {"comment": "Yes, it is fine."},
            f"/teach/grading/{attempt}",
        )
        assert answer.status_code == 303
    with client_for(settings) as other:
        other_learner = people.other_learner
        sign_in(other, other_learner)
        stolen = send(other, f"{LESSON}/written/{attempt}/comment", {"comment": "hi"}, LESSON)
        assert stolen.status_code == 404
    comments = database.query("SELECT author_role, body FROM written_comments ORDER BY id")
    assert [tuple(r) for r in comments] == [
        ("learner", "Is my spelling ok?"),
        ("staff", "Yes, it is fine."),
    ]
    audited = database.query(
        "SELECT actor FROM audit_log WHERE action = 'written.comment' ORDER BY id"
    )
    assert [r[0] for r in audited] == ["learner:A100", "educator:teacher"]

    # Turned off: no form, a post is refused, and what was written stays readable.
    closed = Settings(**{**settings.__dict__, "written_threads": False})
    with client_for(closed) as learner:
        sign_in(learner, people.learner)
        page = learner.get(LESSON).text
        assert "Yes, it is fine." in page and f"/written/{attempt}/comment" not in page
        refused = send(learner, f"{LESSON}/written/{attempt}/comment", {"comment": "more"}, LESSON)
        assert refused.status_code == 400
        assert "Comments are turned off" in refused.text
    assert len(database.query("SELECT 1 FROM written_comments")) == 2


def test_a_task_the_course_does_not_require_completes_when_sent(
    tmp_path: Path, database: Database, settings: Settings, people: People
) -> None:
    optional = LETTER.replace("required: true", "required: false")
    src = write_course(
        tmp_path / "src",
        course={"id": COURSE_ID, "lessons": ["lessons/03-letter.md"]},
        lessons={"lessons/03-letter.md": optional},
    )
    repo = make_repo(tmp_path)
    trust_ngo(database, repo)
    repository.add_packages(repo, [build_package(src, tmp_path / "dist", progress=False)])
    sync_all(database, settings, CatalogHooks(), ADMIN)
    with client_for(settings) as learner:
        sign_in(learner, people.learner)
        sent = send(learner, LESSON + "/written", {"action": "submit", "p-text": "Hi."}, LESSON)
        assert sent.status_code == 303
        assert sent.headers["location"].endswith("/finished")
        empty = send(learner, LESSON + "/written", {"action": "save", "p-text": "x"}, LESSON)
        assert empty.status_code == 400
    assert re.fullmatch(r"[A-Z2-7-]+", database.query("SELECT code FROM certificates")[0][0])


def test_time_away_moves_the_due_date_so_the_work_is_not_late(
    database: Database, settings: Settings, setup: People
) -> None:
    people = setup
    today = date.today()
    due = (today - timedelta(days=2)).isoformat()
    assignments.assign(
        database, SYSTEM, COURSE_ID, learners=[people.learner.id], due_date=due, past_due_ok=True
    )
    with client_for(settings) as learner:
        sign_in(learner, people.learner)
        send(learner, LESSON + "/written", {"action": "submit", "p-text": "My words."}, LESSON)
    with client_for(settings) as teacher:
        sign_in(teacher, people.educator)
        assert "Late" in teacher.get("/teach/grading").text
        first = (today - timedelta(days=6)).isoformat()
        absences.record(database, SYSTEM, people.learner.id, "court", first, due)
        queue = teacher.get("/teach/grading").text
        assert "Late" not in queue and "A letter to a future boss" in queue
