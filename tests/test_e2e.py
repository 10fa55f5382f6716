"""A real uvicorn server on a free loopback port, signed into over real HTTP."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server import accounts, passwords
from server.accounts import Role
from server.audit import Actor
from server.cli import initialize
from server.settings import load_settings

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    port = free_port()
    env = os.environ | {"STEPSTONE_DATA_DIR": str(data)}
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/signin", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            process.kill()
            process.wait()
            raise AssertionError(log.read_text())
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


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
