"""A real two-worker server's log after a realistic day: JSON lines with request ids, and
never a PIN, a password, a session id, a CSRF token, a query or a word a learner wrote.

Also checks what only a real server shows: `/healthz` and `/metrics` answer a client on
loopback, and the metrics add up the requests both worker processes served.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from server.people.accounts import Role
from tests.conftest import CSRF_RE, demo_facility, make_user
from tests.live import running_server

pytestmark = pytest.mark.e2e

TRAPS = "org.stepstone.demo.thinking-traps"
LESSON = f"/learn/courses/{TRAPS}/lessons/catch-your-thoughts"
PIN = "731946"
WRONG_PIN = "258014"
PASSWORD = "quiet violet harbour lamp"
DIARY = "zebraquokka-diary-words"  # what a learner writes in a workbook
DRAFT = "pelicanmarmot-draft-words"  # what the tablet autosaves as a draft
QUERY = "narwhalotter-search-words"  # what a learner types in a search box


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    _settings, database = demo_facility(data, indexed=True)
    make_user(database, Role.LEARNER, "A100", "Alex Learner", secret=PIN)
    make_user(database, Role.ADMIN, "boss", secret=PASSWORD)
    database.close()
    return data


@pytest.fixture
def server(data_dir: Path) -> Iterator[tuple[str, Path]]:
    """The server's base URL, and the file its stdout and stderr go to."""
    with running_server(data_dir, workers=2, STEPSTONE_DEMO="1") as base:
        yield base, data_dir.parent / f"server-{urlsplit(base).port}.log"


def _token(page: httpx.Response) -> str:
    match = CSRF_RE.search(page.text)
    assert match, f"no CSRF token on {page.url}"
    return match.group(1)


class Day:
    """Requests of a learner and an admin, keeping what must never reach the log."""

    def __init__(self, base: str) -> None:
        # A new connection for each request, so both worker processes serve some.
        self.client = httpx.Client(base_url=base, headers={"Connection": "close"})
        self.request_ids: list[str] = []
        self.secrets: set[str] = {PIN, WRONG_PIN, PASSWORD, DIARY, DRAFT, QUERY}

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, path, **kwargs)
        self.request_ids.append(response.headers["x-request-id"])
        self.secrets.update(value for value in self.client.cookies.values() if len(value) > 8)
        match = CSRF_RE.search(response.text)
        if match:
            self.secrets.add(match.group(1))
        return response

    def learner(self) -> int:
        form = self.send("GET", "/signin")
        wrong = {"facility_id": "A100", "pin": WRONG_PIN, "csrf_token": _token(form)}
        assert self.send("POST", "/signin", data=wrong).status_code == 401
        right = wrong | {"pin": PIN}
        assert self.send("POST", "/signin", data=right).status_code == 303
        page = self.send("GET", LESSON)
        assert page.status_code == 200
        fields = re.findall(r'<textarea id="([^"]+)" name="\1"', page.text)
        assert fields, "the workbook has no text prompt"
        draft = {
            "id": "draft-000001",
            "type": "draft",
            "course": TRAPS,
            "lesson": "catch-your-thoughts",
            "data": {"answers": {name.removeprefix("p-"): DRAFT for name in fields}},
        }
        sent = self.send(
            "POST", "/api/events", json={"events": [draft]}, headers={"X-CSRF-Token": _token(page)}
        )
        assert sent.status_code == 200, sent.text
        answers = {name: DIARY for name in fields}
        form_data = answers | {
            "csrf_token": _token(page),
            "event_id": "send-00001",
            "action": "submit",
        }
        assert self.send("POST", f"{LESSON}/workbook", data=form_data).status_code == 303
        assert self.send("GET", f"/learn/catalog?q={QUERY}").status_code == 200
        home = self.send("GET", "/learn")
        assert self.send("POST", "/signout", data={"csrf_token": _token(home)}).status_code == 303
        return len(self.request_ids)

    def admin(self) -> None:
        form = self.send("GET", "/staff/signin")
        signin = {"username": "boss", "password": PASSWORD, "csrf_token": _token(form)}
        assert self.send("POST", "/staff/signin", data=signin).status_code == 303
        assert "Server status" in self.send("GET", "/admin/status").text


def _lines(log: Path) -> list[dict[str, Any]]:
    lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert lines, "the server wrote nothing"
    return [json.loads(line) for line in lines]  # every line is JSON, uvicorn's too


def _requests_counted(metrics: str) -> int:
    return sum(
        int(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("stepstone_http_requests_total{")
    )


def test_a_day_of_requests_leaves_json_lines_and_no_secret(server: tuple[str, Path]) -> None:
    base, log = server
    day = Day(base)
    day.learner()
    day.admin()
    health = day.send("GET", "/healthz")
    assert health.status_code == 200, health.text
    assert health.json()["checks"]["database"]["status"] == "ok"
    # Each worker flushes its counts every couple of seconds; whichever answers the
    # scrape adds up both. The scrapes themselves are counted too.
    deadline = time.monotonic() + 15
    while True:
        metrics = day.send("GET", "/metrics")
        assert metrics.status_code == 200
        counted = _requests_counted(metrics.text)
        if counted >= len(day.request_ids) and "stepstone_workers_reporting 2" in metrics.text:
            break
        assert time.monotonic() < deadline, metrics.text
        time.sleep(0.1)
    day.client.close()
    # A worker writes a request's line as the response goes out: wait for the last one.
    deadline = time.monotonic() + 15
    while any(request_id not in log.read_text(encoding="utf-8") for request_id in day.request_ids):
        assert time.monotonic() < deadline, "a request left no line"
        time.sleep(0.05)

    entries = _lines(log)
    text = log.read_text(encoding="utf-8")
    for secret in day.secrets:
        assert secret not in text, f"{secret[:12]}… is in the server log"
    requests = [e for e in entries if e["logger"] == "stepstone.request"]
    by_id = {e["request_id"]: e for e in requests}
    assert set(day.request_ids) <= set(by_id), "a request left no line"
    for entry in requests:
        assert re.fullmatch(r"[0-9a-f]{16}", entry["request_id"])
        assert "?" not in entry["path"]
        assert isinstance(entry["status"], int) and entry["duration_ms"] >= 0
        assert entry["client"] == "127.0.0.1"
    lesson = [e for e in requests if e["path"] == LESSON and e["method"] == "GET"]
    assert lesson and all(isinstance(e["user_id"], int) for e in lesson)
    assert {e["status"] for e in requests if e["path"] == "/signin" and e["method"] == "POST"} == {
        303,
        401,
    }
    assert any(e["logger"].startswith("uvicorn") for e in entries), "uvicorn's lines are JSON too"
    served_by = {e["pid"] for e in requests if e["request_id"] in day.request_ids}
    assert len(served_by) == 2, "both workers served requests, and /metrics counted them all"
