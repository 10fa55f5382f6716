"""A real uvicorn server on a free loopback port, signed into over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.cli.main import initialize
from server.core.settings import load_settings
from server.people import accounts, passwords
from server.people.accounts import Role
from server.people.audit import Actor
from tests.live import running_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    data = tmp_path / "data"
    database = initialize(load_settings(environ={}, data_dir=data))
    accounts.create_user(database, Actor.system("t"), Role.LEARNER, "Z9", "Zed", "en")
    with database.write() as db:
        db.execute(
            "UPDATE users SET secret_hash = ?, must_change_secret = 0",
            [passwords.hash_secret("482913")],
        )
    database.close()
    with running_server(data, workers=2) as base:
        yield base


def test_learner_signs_in_over_real_http(live_server: str) -> None:
    with httpx.Client(base_url=live_server) as client:
        page = client.get("/signin")
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        response = client.post(
            "/signin", data={"facility_id": "z9", "pin": "482913", "csrf_token": token.group(1)}
        )
        assert response.status_code == 303
        home = client.get("/learn")
        assert home.status_code == 200 and "Hello, Zed" in home.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
        assert token
        client.post("/signout", data={"csrf_token": token.group(1)})
        assert client.get("/learn").status_code == 303
