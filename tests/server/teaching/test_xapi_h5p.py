"""H5P's own xAPI statements in the xAPI export: passed through as the player made them,
with the actor rewritten to the facility's pseudonym (or ID number), never the learner's
name or the player's own actor, and the sandbox's addresses replaced by the lesson's id."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.core.db import Database
from server.core.settings import Settings, load_settings
from server.learning.access import Scope
from server.people.accounts import Role, find_user
from server.teaching import exports
from server.web import h5pplayer
from server.web.app import create_app
from tests.appcourse import COURSE_ID, COURSE_URL, app_facility
from tests.conftest import CSRF_RE, sign_in

APP = "http://127.0.0.1:8000"
IFRAME = re.compile(r'<iframe id="app-frame"[^>]* src="([^"]+)"')
LESSON = f"urn:stepstone:course:{COURSE_ID}:lesson:ready"
LIBRARY = "http://h5p.org/libraries/H5P.StepstoneTap-1.0"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return app_facility(tmp_path)


@pytest.fixture
def settings(data: Path) -> Settings:
    return load_settings(environ={}, data_dir=data, demo=True)


@pytest.fixture
def client(data: Path, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=APP) as client:
        sign_in(client, _learner(data)[0])
        yield client


def _learner(data: Path) -> Any:
    database = Database(data / "stepstone.db")
    found = find_user(database, Role.LEARNER, "A100")
    database.close()
    assert found is not None
    return found


def _statement(player: str, verb: str, sub: str = "", **result: Any) -> dict[str, Any]:
    """A statement as h5p-standalone makes it: its own actor, the lesson's address in the
    sandbox as the activity, H5P's extensions and categories."""
    address = f"{player}?subContentId={sub}" if sub else player
    made: dict[str, Any] = {
        "actor": {"name": "Alex Learner", "mbox": "mailto:a100@example.org"},
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}", "display": {"en-US": verb}},
        "object": {"id": address, "objectType": "Activity", "definition": {"name": {}}},
        "context": {
            "contextActivities": {"category": [{"id": LIBRARY, "objectType": "Activity"}]},
            "extensions": {"http://h5p.org/x-api/h5p-local-content-id": 1},
            "instructor": {"name": "Ms Teacher", "mbox": "mailto:t@example.org"},
        },
        "authority": {"name": "Alex Learner"},
        "timestamp": "1999-01-01T00:00:00Z",
    }
    if sub:
        made["context"]["contextActivities"]["parent"] = [{"id": player}]
    if result:
        made["result"] = result
    return made


def test_h5p_statements_pass_through_with_the_actor_rewritten(
    client: TestClient, data: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page frames the player whether or not its front-end files are built here.
    monkeypatch.setattr(h5pplayer, "installed", lambda static_dir: True)
    page = client.get(f"{COURSE_URL}/lessons/ready")
    src, token = IFRAME.search(page.text), CSRF_RE.search(page.text)
    assert src and token
    player = src.group(1).replace("&amp;", "&").split("#", 1)[0]
    assert "/sandbox/" in player
    sent = [
        _statement(player, "answered", "q-1", score={"raw": 1, "max": 1}, response="yes"),
        _statement(player, "completed", completion=True, score={"scaled": 1.0}, success=True),
    ]
    events = [
        {
            "id": f"h5p-event-{n:04d}",
            "type": "h5p",
            "course": COURSE_ID,
            "lesson": "ready",
            "data": {"statement": s},
        }
        for n, s in enumerate(sent, 1)
    ]
    answer = client.post(
        "/api/events", json={"events": events}, headers={"X-CSRF-Token": token.group(1)}
    )
    assert answer.status_code == 200 and len(answer.json()["accepted"]) == 2

    database = Database(data / "stepstone.db")
    scope = Scope.whole_facility()
    everything = exports.Filter.parse("", "")
    out = exports.xapi_statements(database, settings, scope, everything, "pseudonym")
    h5p = [s for s in out if s["verb"]["id"].endswith(("/answered", "/completed"))]
    assert h5p and all(s["object"]["id"].startswith(LESSON) for s in h5p), out
    pseudonym = exports.pseudonym(settings, "A100")
    home = "urn:stepstone:" + settings.facility_name
    agent = {"objectType": "Agent", "account": {"homePage": home, "name": pseudonym}}
    assert all(s["actor"] == agent for s in out)
    text = json.dumps(out)
    for secret in ("Alex Learner", "a100@example.org", "A100", "/sandbox/", "Ms Teacher"):
        assert secret not in text
    answered = next(s for s in h5p if s["verb"]["id"].endswith("/answered"))
    assert answered["object"]["id"] == LESSON + "?subContentId=q-1"
    assert answered["context"]["contextActivities"]["parent"] == [{"id": LESSON}]
    assert answered["context"]["contextActivities"]["category"][0]["id"] == LIBRARY
    assert answered["result"] == {"score": {"raw": 1, "max": 1}, "response": "yes"}
    assert answered["timestamp"] != "1999-01-01T00:00:00Z"  # the server's time, not the tablet's
    again = exports.xapi_statements(database, settings, scope, everything, "pseudonym")
    assert [s["id"] for s in again] == [s["id"] for s in out]  # a re-export duplicates nothing
    by_number = exports.xapi_statements(database, settings, scope, everything, "facility_id")
    assert {s["actor"]["account"]["name"] for s in by_number} == {"A100"}
    database.close()
