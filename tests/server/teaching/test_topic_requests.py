"""Topic requests: learners pick from the topics a publisher lists, or write their own;
staff approve those under a local label or drop them; the impact report counts requests
per listed topic with small cells hidden, and never carries learners' own words."""

from __future__ import annotations

import json

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.core.db import Database
from server.core.settings import Settings
from server.learning import topic_requests
from server.learning.access import Scope
from server.people import groups
from server.people.accounts import Role
from server.people.audit import Actor
from server.teaching import impact
from tests.conftest import CSRF_RE, People, make_user, sign_in

pytestmark = pytest.mark.demo

SAFETY = "org.stepstone.demo.workplace-safety"
SYSTEM = Actor.system("test")
SECRET_WORDS = "how to talk to my son Jamie at visits"


def token(client: TestClient, path: str) -> str:
    match = CSRF_RE.search(client.get(path).text)
    assert match, path
    return match.group(1)


def list_topics(database: Database, topics: list[str]) -> None:
    with database.write() as db:
        db.execute(
            "UPDATE course_versions SET manifest = json_set(manifest,"
            " '$.course.requestable_topics', json(?)) WHERE id ="
            " (SELECT live_version_id FROM courses WHERE course_id = ?)",
            [json.dumps(topics), SAFETY],
        )


def test_requests_are_counted_moderated_and_suppressed(
    app: Starlette, people: People, database: Database, settings: Settings
) -> None:
    list_topics(database, ["Welding basics", "Forklift safety"])
    learner = TestClient(app, base_url="http://testserver")
    sign_in(learner, people.learner)
    page = learner.get("/learn/requests").text
    assert "Welding basics" in page and "Forklift safety" in page
    welding = next(
        t
        for t in topic_requests.listed_topics(database, settings, people.learner)
        if t.title == "Welding basics"
    )
    for _ in range(2):  # asking twice counts once
        response = learner.post(
            "/learn/requests",
            data={"csrf_token": token(learner, "/learn/requests"), "topic": welding.value},
        )
        assert response.status_code == 200
    assert "You asked" in learner.get("/learn/requests").text
    forged = learner.post(
        "/learn/requests",
        data={"csrf_token": token(learner, "/learn/requests"), "topic": "1|Anything at all"},
    )
    assert forged.status_code == 400 and "Choose a topic from the list" in forged.text
    # Nine more learners ask for welding, three for forklifts.
    forklift = welding.value.replace("Welding basics", "Forklift safety")
    for n in range(12):
        other = make_user(database, Role.LEARNER, f"R{n:03d}", f"Reader {n}")
        topic_requests.request_topic(
            database, settings, other, welding.value if n < 9 else forklift
        )

    # In their own words: waits for staff, who approve it under a local label.
    sent = learner.post(
        "/learn/requests",
        data={"csrf_token": token(learner, "/learn/requests"), "text": SECRET_WORDS},
    )
    assert sent.status_code == 200 and "We got your request" in sent.text
    group = groups.create_group(database, SYSTEM, "Class A", "class")
    groups.add_member(database, SYSTEM, group.id, people.educator.id)
    teacher = TestClient(app, base_url="http://testserver")
    sign_in(teacher, people.educator)
    assert SECRET_WORDS not in teacher.get("/teach/requests").text  # not their learner
    groups.add_member(database, SYSTEM, group.id, people.learner.id)
    moderation = teacher.get("/teach/requests").text
    assert SECRET_WORDS in moderation
    suggestion = topic_requests.waiting_suggestions(database, Scope.of(people.educator), SYSTEM)[0]
    refused = teacher.post(
        f"/teach/requests/{suggestion.id}",
        data={"csrf_token": token(teacher, "/teach"), "action": "approve", "label": ""},
    )
    assert refused.status_code == 400
    approved = teacher.post(
        f"/teach/requests/{suggestion.id}",
        data={"csrf_token": token(teacher, "/teach"), "action": "approve", "label": "Family"},
    )
    assert approved.status_code == 200
    after = teacher.get("/teach/requests").text
    assert "Nothing is waiting" in after and "Family" in after
    actions = [r[0] for r in database.query("SELECT action FROM audit_log")]
    assert "topic-request.read" in actions and "topic-request.approve" in actions
    assert not any(SECRET_WORDS in r[0] for r in database.query("SELECT detail FROM audit_log"))

    # The NGO's report: 10 learners asked for welding (shown), 3 for forklifts (hidden).
    report = impact.build(database, settings, "stepstone-demo")
    assert report["topic_requests"] == [
        {"topic": "Forklift safety", "learners": None},
        {"topic": "Welding basics", "learners": 10},
    ]
    exported = impact.to_json(report).decode("utf-8") + impact.to_csv(report).decode("utf-8")
    assert SECRET_WORDS not in exported and "Family" not in exported
    assert "Jamie" not in exported

    # Rejecting drops the words.
    learner.post(
        "/learn/requests",
        data={"csrf_token": token(learner, "/learn/requests"), "text": "something else"},
    )
    second = topic_requests.waiting_suggestions(database, Scope.of(people.admin), SYSTEM)[0]
    teacher.post(
        f"/teach/requests/{second.id}",
        data={"csrf_token": token(teacher, "/teach"), "action": "reject", "label": ""},
    )
    texts = [r[0] for r in database.query("SELECT text FROM topic_suggestions")]
    assert texts == [SECRET_WORDS]
