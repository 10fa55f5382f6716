"""When the database refuses writes (read-only, full): pages that only read keep working,
a write answers a plain "try again later" page in the learner's language instead of a
500, and `/healthz` and `stepstone check` say that the database cannot save."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from server.cli.main import initialize
from server.core.settings import load_settings
from server.people.accounts import Role
from server.web.app import create_app
from tests.conftest import PIN, make_user
from tests.live import ROOT, running_server

pytestmark = pytest.mark.e2e
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def facility(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    database = initialize(load_settings(environ={}, data_dir=data))
    make_user(database, Role.LEARNER, "A100", "Alex Learner")
    make_user(database, Role.LEARNER, "B200", "Bea Learner", language="es")
    database.close()
    return data


def token_of(page: str) -> str:
    found = TOKEN.search(page)
    assert found, page[:300]
    return found.group(1)


def signed_in(data: Path, login: str) -> httpx.Client:
    """A tablet signed in before the fault, by the app in this process: it saves the
    session in the data folder as a server would, without the cost of starting one."""
    settings = load_settings(environ={}, data_dir=data)
    # The session cookie is for the loopback host, whichever port the server gets.
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as app:
        form = {"facility_id": login, "pin": PIN, "csrf_token": token_of(app.get("/signin").text)}
        signin = app.post("/signin", data=form, follow_redirects=False)
        assert signin.status_code == 303
        return httpx.Client(cookies=httpx.Cookies(app.cookies.jar))


def check_with(fault: str, data: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tests.fault_driver", fault, "--data-dir", str(data), "check"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_a_read_only_database_keeps_reads_and_refuses_writes_plainly(facility: Path) -> None:
    english, spanish = signed_in(facility, "A100"), signed_in(facility, "B200")
    with (
        contextlib.closing(english),
        contextlib.closing(spanish),
        running_server(facility, fault="readonly") as base,
    ):
        for client, words in [
            (english, "We cannot save right now. What you saved before is safe."),
            (spanish, "No podemos guardar ahora. Lo que guardaste antes está seguro."),
        ]:
            client.base_url = httpx.URL(base)
            home = client.get("/learn")
            assert home.status_code == 200, home.text[:300]
            saved = client.post(
                "/learn/text-size", data={"size": "large", "csrf_token": token_of(home.text)}
            )
            assert saved.status_code == 503
            assert words in saved.text
        health = httpx.get(base + "/healthz")
    assert health.status_code == 503
    database = health.json()["checks"]["database"]
    assert database["status"] == "fail"
    assert "attempt to write a readonly database" in database["message"]
    checked = check_with("readonly", facility)
    assert checked.returncode == 1
    assert re.search(
        r"FAIL\s+Database\s+It cannot save \(attempt to write a readonly", checked.stdout
    )


def test_a_full_database_fails_the_health_check(facility: Path) -> None:
    with running_server(facility, fault="full") as base:
        health = httpx.get(base + "/healthz")
    assert health.status_code == 503
    assert "database or disk is full" in health.json()["checks"]["database"]["message"]
    checked = check_with("full", facility)
    assert checked.returncode == 1
    assert re.search(r"FAIL\s+Database\s+It cannot save \(database or disk is full", checked.stdout)


def test_healthz_answers_the_same_in_every_worker(facility: Path) -> None:
    def checked_at(_: int) -> str:
        return str(httpx.get(base + "/healthz").json()["checked_at"])

    with running_server(facility, workers=2) as base:
        first = checked_at(0)
        time.sleep(1.5)  # a worker that runs the checks only now would say a later time
        # Many at once, so that both workers answer some.
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = set(pool.map(checked_at, range(64)))
    assert answers == {first}
