"""SCORM lessons: the launch address carries the learner's attempt, the SCO page gets the
runtime first, commits are kept per learner, SCO and attempt, and the lesson completes
with a score once every SCO is complete."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.core.db import Database
from server.core.settings import load_settings
from server.people.accounts import Role, find_user
from server.web.app import create_app
from tests.appcourse import COURSE_ID, COURSE_URL, app_facility
from tests.conftest import CSRF_RE, sign_in

APP = "http://127.0.0.1:8000"
IFRAME = re.compile(r'<iframe id="app-frame"[^>]* src="([^"]+)"')


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return app_facility(tmp_path)


@pytest.fixture
def client(data: Path) -> Iterator[TestClient]:
    database = Database(data / "stepstone.db")
    found = find_user(database, Role.LEARNER, "A100")
    database.close()
    assert found is not None
    app = create_app(load_settings(environ={}, data_dir=data, demo=True))
    with TestClient(app, base_url=APP) as client:
        sign_in(client, found[0])
        yield client


def launch(client: TestClient, key: str, query: str = "") -> tuple[str, dict[str, Any], str]:
    page = client.get(f"{COURSE_URL}/lessons/{key}{query}")
    assert page.status_code == 200
    src = IFRAME.search(page.text)
    assert src, page.text[:3000]
    url = src.group(1).replace("&amp;", "&")
    packed = url.split("#stepstone=", 1)[1]
    state = json.loads(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
    token = CSRF_RE.search(page.text)
    assert token
    return url, state, token.group(1)


def commit(
    client: TestClient, token: str, key: str, sco: str, attempt: int, cmi: dict[str, str], n: int
) -> dict[str, Any]:
    event = {
        "id": f"scorm-event-{n:04d}",
        "type": "scorm",
        "course": COURSE_ID,
        "lesson": key,
        "data": {"sco": sco, "attempt": attempt, "cmi": cmi},
    }
    answer = client.post("/api/events", json={"events": [event]}, headers={"X-CSRF-Token": token})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_a_sco_page_gets_the_runtime_first_and_resumes_its_attempt(client: TestClient) -> None:
    url, state, token = launch(client, "signs")
    assert state == {"v": "1.2", "cmi": {}}
    page = client.get(url.split("#", 1)[0])
    assert page.status_code == 200
    assert re.search(
        r'<head><script src="[^"]+/__stepstone__/scorm-runtime.js"></script>', page.text
    )
    runtime = client.get(url.split("sco.html", 1)[0] + "__stepstone__/scorm-runtime.js")
    assert runtime.status_code == 200 and "LMSInitialize" in runtime.text
    assert "sandbox allow-scripts" in runtime.headers["content-security-policy"]
    saved = {"cmi.suspend_data": "page=3", "cmi.core.lesson_location": "3"}
    outcome = commit(client, token, "signs", "item-signs", 1, saved, 1)
    assert outcome["accepted"] == ["scorm-event-0001"]
    assert outcome["lessons"][f"{COURSE_ID}/signs"]["status"] == "in_progress"
    _, state, _ = launch(client, "signs")  # another tablet, later: the same place
    assert state["cmi"] == saved


def test_passing_the_only_sco_completes_the_lesson_with_its_score(client: TestClient) -> None:
    _, _, token = launch(client, "signs")
    done = {
        "cmi.core.lesson_status": "passed",
        "cmi.core.score.raw": "80",
        "cmi.core.score.max": "100",
    }
    outcome = commit(client, token, "signs", "item-signs", 1, done, 1)
    state = outcome["lessons"][f"{COURSE_ID}/signs"]
    assert state["status"] == "done" and state["score"] == 80.0
    # A finished attempt is kept as it was: the next launch starts attempt 2, empty.
    _, state2, _ = launch(client, "signs")
    assert state2["cmi"] == {}
    assert 'data-attempt="2"' in client.get(f"{COURSE_URL}/lessons/signs").text
    again = commit(client, token, "signs", "item-signs", 1, {"cmi.suspend_data": "x"}, 2)
    assert "scorm-event-0002" in again["rejected"]


def test_a_multi_sco_lesson_completes_when_every_sco_has(client: TestClient) -> None:
    url, state, token = launch(client, "interview")
    assert state["v"] == "2004" and "/one.html#" in url
    finished = {
        "cmi.completion_status": "completed",
        "cmi.success_status": "passed",
        "cmi.score.scaled": "0.9",
    }
    first = commit(client, token, "interview", "part-1", 1, finished, 1)
    assert first["lessons"][f"{COURSE_ID}/interview"]["status"] == "in_progress"
    url, _, _ = launch(client, "interview")
    assert "/two.html#" in url  # the first SCO not finished
    half = {**finished, "cmi.score.scaled": "0.7"}
    second = commit(client, token, "interview", "part-2", 1, half, 2)
    state = second["lessons"][f"{COURSE_ID}/interview"]
    assert state["status"] == "done" and state["score"] == 80.0
    url, _, _ = launch(client, "interview", "?sco=part-1")
    assert "/one.html#" in url


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ({"sco": "part-9", "attempt": 1, "cmi": {}}, "must name a SCO"),
        ({"sco": "item-signs", "attempt": 3, "cmi": {}}, "never started"),
        ({"sco": "item-signs", "attempt": 1, "cmi": {"cmi.core.student_id": "x"}}, "not a SCORM"),
        ({"sco": "item-signs", "attempt": 1, "cmi": {"cmi.suspend_data": "x" * 5000}}, "longer"),
        ({"sco": "item-signs", "attempt": 1, "cmi": {"cmi.suspend_data": 3}}, "not a SCORM"),
    ],
)
def test_bad_scorm_events_are_refused_one_by_one(
    client: TestClient, data: Path, bad: dict[str, Any], why: str
) -> None:
    _, _, token = launch(client, "signs")
    event = {"id": "bad-scorm-0001", "type": "scorm", "course": COURSE_ID, "lesson": "signs"}
    answer = client.post(
        "/api/events", json={"events": [{**event, "data": bad}]}, headers={"X-CSRF-Token": token}
    )
    assert why in answer.json()["rejected"]["bad-scorm-0001"]
    with sqlite3.connect(data / "stepstone.db") as db:
        assert db.execute("SELECT count(*) FROM scorm_attempts").fetchone() == (0,)
        stored = db.execute("SELECT count(*) FROM progress_events WHERE event_id LIKE 'bad-%'")
        assert stored.fetchone() == (0,)
