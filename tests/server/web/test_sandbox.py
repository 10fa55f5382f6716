"""The sandbox in-process: interactive lessons' files are served only on the sandbox's
origin, only under their own signed prefix, only their own lesson's files, with the
sandboxing policy and no cookie; the lesson page frames them with a sandboxed iframe."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from server.core.db import Database
from server.core.settings import load_settings
from server.people.accounts import Role, User, find_user
from server.web import h5pplayer
from server.web.app import create_app
from tests.appcourse import COURSE_URL, app_facility
from tests.conftest import CSRF_RE, make_user, sign_in

APP = "http://127.0.0.1:8000"
SANDBOX = "http://localhost:8000"
IFRAME = re.compile(r'<iframe id="app-frame"[^>]* src="([^"]+)" sandbox="([^"]*)"')


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return app_facility(tmp_path_factory.mktemp("sandbox"))


def learner(data: Path) -> User:
    database = Database(data / "stepstone.db")
    found = find_user(database, Role.LEARNER, "A100")
    database.close()
    assert found is not None
    return found[0]


def learner_client(data: Path, sandbox_origin: str = "") -> Iterator[TestClient]:
    settings = load_settings(environ={}, data_dir=data, demo=True, sandbox_origin=sandbox_origin)
    app = create_app(settings)
    with TestClient(app, base_url=APP) as client:
        sign_in(client, learner(data))
        yield client


@pytest.fixture
def client(data: Path) -> Iterator[TestClient]:
    yield from learner_client(data)


def frame_src(client: TestClient, key: str) -> str:
    page = client.get(f"{COURSE_URL}/lessons/{key}")
    assert page.status_code == 200
    found = IFRAME.search(page.text)
    assert found, page.text[:2000]
    assert found.group(2) == "allow-scripts"
    return found.group(1).replace("&amp;", "&")


def test_the_lesson_page_frames_the_app_from_the_sandbox_origin(client: TestClient) -> None:
    page = client.get(f"{COURSE_URL}/lessons/counter")
    src = frame_src(client, "counter")
    assert src.startswith(SANDBOX + "/sandbox/") and src.endswith("/index.html")
    policy = page.headers["content-security-policy"]
    assert f"frame-src {SANDBOX}" in policy
    assert "frame-ancestors 'none'" in policy
    assert "allow-same-origin" not in page.text
    assert "Mark as done" in page.text


def test_an_app_file_carries_the_sandbox_policy_and_no_cookie(client: TestClient) -> None:
    src = frame_src(client, "counter")
    prefix = src.removesuffix("index.html")
    answer = client.get(src)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "set-cookie" not in answer.headers
    policy = answer.headers["content-security-policy"]
    assert policy.startswith("sandbox allow-scripts; default-src 'none'")
    assert f"connect-src {prefix};" in policy
    assert f"script-src {prefix} " in policy
    assert "form-action 'none'" in policy
    assert f"frame-ancestors {APP}" in policy
    script = client.get(prefix + "counter.js")
    assert script.status_code == 200 and "postMessage" in script.text
    assert script.headers["content-type"].startswith("text/javascript")


def test_the_sandbox_route_answers_only_on_the_sandbox_origin(client: TestClient) -> None:
    src = frame_src(client, "counter")
    on_app_host = src.replace(SANDBOX, APP)
    assert client.get(on_app_host).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "..%2fhostile%2findex.html",  # the other lesson's app, same version
        "star.png",  # a file of the other lesson only
        "..%2f..%2fmedia%2fpic.png",  # the course's media
        "..%2f..%2flessons%2fcounter.html",
        "%2e%2e/%2e%2e/manifest.json",
        "",
        "nothing.js",
    ],
)
def test_only_the_lessons_own_files_are_addressable(client: TestClient, path: str) -> None:
    prefix = frame_src(client, "counter").removesuffix("index.html")
    assert client.get(prefix + path).status_code == 404


def test_a_forged_or_edited_address_is_refused(client: TestClient) -> None:
    src = frame_src(client, "counter")
    token = src.split("/sandbox/", 1)[1].split("/", 1)[0]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(src.replace(token, forged)).status_code == 404
    assert client.get(f"{SANDBOX}/sandbox/{quote('x')}/index.html").status_code == 404


def test_a_pulled_course_stops_its_apps_at_once(data: Path, client: TestClient) -> None:
    src = frame_src(client, "counter")
    with sqlite3.connect(data / "stepstone.db") as db:
        db.execute("UPDATE courses SET pulled_at = '2026-01-01' WHERE course_id LIKE '%apps'")
    try:
        assert client.get(src).status_code == 404
    finally:
        with sqlite3.connect(data / "stepstone.db") as db:
            db.execute("UPDATE courses SET pulled_at = NULL WHERE course_id LIKE '%apps'")


def test_a_configured_sandbox_host_serves_nothing_else(data: Path) -> None:
    for client in learner_client(data, sandbox_origin="http://apps.facility.test"):
        src = frame_src(client, "counter")
        assert src.startswith("http://apps.facility.test/sandbox/")
        assert client.get(src).status_code == 200
        for path in ("/signin", "/learn", "/api/events", "/static/css/app.css", "/"):
            answer = client.get("http://apps.facility.test" + path)
            assert answer.status_code == 404, path
            assert "set-cookie" not in answer.headers
        assert client.get(APP + "/signin").status_code in (200, 303)


def test_no_sandbox_origin_off_loopback_says_so(data: Path) -> None:
    app = create_app(load_settings(environ={}, data_dir=data, demo=True))
    with TestClient(app, base_url="http://stepstone.facility.test") as client:
        sign_in(client, learner(data))
        page = client.get(f"{COURSE_URL}/lessons/counter")
    assert page.status_code == 200
    assert "<iframe" not in page.text
    assert "This activity cannot open on this server yet" in page.text


def test_the_apps_done_message_and_the_button_complete_the_lesson(client: TestClient) -> None:
    page = client.get(f"{COURSE_URL}/lessons/counter")
    token = CSRF_RE.search(page.text)
    assert token
    answer = client.post(
        "/api/events",
        json={
            "events": [
                {
                    "id": "app-done-0001",
                    "type": "completed",
                    "course": "org.stepstone.demo.apps",
                    "lesson": "counter",
                    "data": {"method": "app"},
                }
            ]
        },
        headers={"X-CSRF-Token": token.group(1)},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == ["app-done-0001"]
    assert answer.json()["lessons"]["org.stepstone.demo.apps/counter"]["status"] == "done"
    page = client.get(f"{COURSE_URL}/lessons/hostile")
    token = CSRF_RE.search(page.text)
    assert token
    event_id = re.search(r'name="event_id" value="([^"]+)"', page.text)
    assert event_id
    done = client.post(
        f"{COURSE_URL}/lessons/hostile/done",
        data={"csrf_token": token.group(1), "event_id": event_id.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "You finished this lesson." in client.get(f"{COURSE_URL}/lessons/hostile").text


def test_the_review_page_runs_a_pending_app_and_lists_its_files(data: Path) -> None:
    database = Database(data / "stepstone.db")
    admin = make_user(database, Role.ADMIN, "reviewer")
    row = database.query_one(
        "SELECT c.live_version_id AS id FROM courses c WHERE c.course_id = ?",
        ["org.stepstone.demo.apps"],
    )
    assert row is not None
    version_id = row["id"]
    database.close()
    app = create_app(load_settings(environ={}, data_dir=data, demo=True))
    with sqlite3.connect(data / "stepstone.db") as db:
        db.execute("UPDATE course_versions SET status = 'pending' WHERE id = ?", [version_id])
    try:
        with TestClient(app, base_url=APP) as client:
            sign_in(client, admin)
            page = client.get(f"/admin/content/versions/{version_id}")
            assert page.status_code == 200
            assert f"frame-src {SANDBOX}" in page.headers["content-security-policy"]
            sources = re.findall(
                r'<iframe class="app-frame" src="([^"]+)" sandbox="allow-scripts"', page.text
            )
            assert len(sources) == 5  # two html5 activities, two SCORM packages, one H5P
            assert client.get(sources[0]).status_code == 200
            assert "4 files in the activity" in page.text
            assert "Interactive app reaches outside itself" in page.text
            assert "outside.invalid" in page.text
    finally:
        with sqlite3.connect(data / "stepstone.db") as db:
            db.execute("UPDATE course_versions SET status = 'approved' WHERE id = ?", [version_id])


def test_without_the_h5p_player_an_h5p_lesson_names_the_install_step(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(h5pplayer, "installed", lambda static_dir: False)
    page = client.get(f"{COURSE_URL}/lessons/ready")
    assert page.status_code == 200
    assert "<iframe" not in page.text
    assert "npm ci --prefix frontend" in page.text
    assert client.get(f"{COURSE_URL}/lessons/counter").status_code == 200


def test_the_h5p_player_is_served_only_under_a_lessons_address(client: TestClient) -> None:
    page = client.get(f"{COURSE_URL}/lessons/ready")
    found = re.search(r'<iframe id="app-frame"[^>]* src="([^"]+)"', page.text)
    assert found and found.group(1).endswith("/__stepstone__/h5p.html")
    prefix = found.group(1).removesuffix("h5p.html")
    assert client.get(prefix + "h5p.html").status_code == 200
    assert client.get(prefix + "h5p-player.js").status_code == 200
    assert client.get(prefix + "h5p/%2e%2e/pdfjs/LICENSE").status_code == 404
    assert client.get(prefix + "h5p/..%2f..%2fjs%2flearn.js").status_code == 404
    assert client.get(prefix + "nothing.js").status_code == 404
