"""Hostile and broken request bodies against a real server (uvicorn): a big upload from
a stranger is turned away before its body is read, a tablet that drops the connection
half-way is not a server error, and no JSON a learner's tablet can send is a 500."""

from __future__ import annotations

import json
import re
import socket
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

PIN = "731946"
PASSWORD = "quiet violet harbour lamp"
MATH = "org.stepstone.demo.everyday-math"
HUGE = 256 * 1024 * 1024  # what the attacker said they would send
SENT = 64 * 1024  # what they had sent when the answer must already be there


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server's base URL and the file its log goes to (one server for the module)."""
    data = tmp_path_factory.mktemp("bodies") / "data"
    _settings, database = demo_facility(data, indexed=True)
    make_user(database, Role.LEARNER, "A100", "Alex Learner", secret=PIN)
    make_user(database, Role.ADMIN, "boss", secret=PASSWORD)
    database.close()
    with running_server(data, workers=1, STEPSTONE_DEMO="1") as base:
        yield base, data.parent / f"server-{urlsplit(base).port}.log"


def _signed_in(base: str, staff: bool) -> tuple[httpx.Client, str]:
    """A client signed in as the admin or the learner, and a CSRF token of its session."""
    client = httpx.Client(base_url=base)
    path = "/staff/signin" if staff else "/signin"
    token = CSRF_RE.search(client.get(path).text)
    assert token
    form = (
        {"username": "boss", "password": PASSWORD} if staff else {"facility_id": "A100", "pin": PIN}
    )
    assert client.post(path, data=form | {"csrf_token": token.group(1)}).status_code == 303
    page = CSRF_RE.search(client.get("/account").text)
    assert page
    return client, page.group(1)


def _head(base: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {urlsplit(base).netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _answer_after_partial_body(base: str, head: bytes) -> tuple[int, float]:
    """Send the head and the first SENT bytes of a body, then wait for the answer: its
    status and how long it took. A server that reads the body first never answers."""
    started = time.monotonic()
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(head + b"-" * SENT)
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    match = re.match(rb"HTTP/1\.1 (\d{3})", status_line)
    assert match, status_line
    return int(match.group(1)), time.monotonic() - started


def _multipart(length: int, cookie: str = "") -> dict[str, str]:
    headers = {"Content-Type": "multipart/form-data; boundary=xyz", "Content-Length": str(length)}
    return headers | ({"Cookie": cookie} if cookie else {})


def _log_lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]


def test_a_big_upload_is_refused_before_its_body_is_read(server: tuple[str, Path]) -> None:
    base, _log = server
    for path in ("/admin/roster/check", "/admin/publishers", "/signin"):
        # A stranger: no session, no token. Nothing of the 256 MB is read or spooled.
        status, seconds = _answer_after_partial_body(base, _head(base, path, _multipart(HUGE)))
        assert status == 403, path
        assert seconds < 2, f"{path} answered after {seconds:.2f} s"
    admin, token = _signed_in(base, staff=True)
    cookie = "; ".join(f"{name}={value}" for name, value in admin.cookies.items())
    # The admin's own upload form, with the token in its action URL, but past the cap.
    upload = f"/admin/roster/check?csrf_token={token}"
    status, seconds = _answer_after_partial_body(
        base, _head(base, upload, _multipart(HUGE, cookie))
    )
    assert status == 413 and seconds < 2
    # The admin's session alone is not enough: an upload's token must come before its body.
    no_token = _head(base, "/admin/roster/check", _multipart(HUGE, cookie))
    assert _answer_after_partial_body(base, no_token)[0] == 403
    # A form that fits still works, token in the action URL.
    csv = "facility_id,name,language\nC300,Cam Learner,en\n"
    checked = admin.post(upload, files={"file": ("roster.csv", csv, "text/csv")})
    assert checked.status_code == 200 and "New learners: 1" in checked.text
    admin.close()


def test_a_tablet_that_drops_the_connection_mid_body_is_not_a_server_error(
    server: tuple[str, Path],
) -> None:
    base, log = server
    learner, token = _signed_in(base, staff=False)
    cookie = "; ".join(f"{name}={value}" for name, value in learner.cookies.items())
    address = urlsplit(base)
    heads = [
        _head(
            base,
            "/api/events",
            {
                "Content-Type": "application/json",
                "Content-Length": "100000",
                "X-CSRF-Token": token,
                "Cookie": cookie,
            },
        ),
        _head(
            base,
            "/signin",
            {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "100000"},
        ),
    ]
    for head in heads:
        with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
            sock.sendall(head + b'{"events": [')
            time.sleep(0.3)  # the app is now waiting for the rest of the body
    deadline = time.monotonic() + 10
    while True:
        lines = _log_lines(log)
        gone = [
            e
            for e in lines
            if e.get("path") in {"/api/events", "/signin"}
            and e.get("method") == "POST"
            and e.get("status") == 499
        ]
        if len(gone) >= 2:
            break
        assert time.monotonic() < deadline, "no request line for the dropped requests"
        time.sleep(0.2)
    assert not [e for e in lines if e["level"] in {"error", "critical"}], "logged as an error"
    assert not [e for e in lines if e.get("status") == 500]
    deadline = time.monotonic() + 10
    while 'route="/api/events",status="499"' not in (metrics := learner.get("/metrics").text):
        assert time.monotonic() < deadline, metrics
        time.sleep(0.5)
    assert 'status="500"' not in metrics
    learner.close()


def test_no_event_body_is_a_server_error(server: tuple[str, Path]) -> None:
    base, log = server
    learner, token = _signed_in(base, staff=False)
    good = (
        f'{{"id": "good-000001", "type": "started", "course": "{MATH}",'
        ' "lesson": "fractions-in-daily-life"'
    )
    bad_id = good.replace("good-000001", "x\\udc00-000001")
    bodies = [
        b"[" * 100_000 + b"]" * 100_000,
        f'{{"events": [{good}, "at": "\\ud800"}}]}}'.encode(),
        f'{{"events": [{bad_id}}}]}}'.encode(),
    ]
    statuses = []
    for body in bodies:
        response = learner.post(
            "/api/events",
            content=body,
            headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
        )
        statuses.append(response.status_code)
        assert response.headers["content-type"].startswith("application/json")
        response.json()  # the answer itself is valid JSON (UTF-8)
    learner.close()
    assert statuses == [400, 200, 200]
    assert not [e for e in _log_lines(log) if e["level"] in {"error", "critical"}]
