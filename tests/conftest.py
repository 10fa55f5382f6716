"""Shared fixtures: an app on a temp data folder, a client, and people to sign in as."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.cli.demo import SOURCE_COURSES, publish_demo_courses
from server.cli.main import initialize
from server.core import clock, filemodes
from server.core.db import Database
from server.core.settings import Settings, load_settings
from server.people import accounts, passwords
from server.people.accounts import Role, User
from server.people.audit import Actor

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"
PIN = "493817"


def pytest_configure(config: pytest.Config) -> None:
    # As every `stepstone` command and the web app do: what the fixtures make is then
    # as private as what the server makes, and the file-permissions check stays quiet.
    filemodes.use_private_umask()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(environ={}, data_dir=tmp_path / "data")


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = initialize(settings)
    yield database
    database.close()


@pytest.fixture
def app(settings: Settings, database: Database) -> Starlette:
    from server.web.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


class FakeClock:
    """Moves `server.core.clock` by hand."""

    def __init__(self, start: float) -> None:
        self.moment = start

    def now(self) -> float:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += seconds


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(clock.now())
    monkeypatch.setattr(clock, "now", fake.now)
    return fake


def demo_facility(data: Path) -> tuple[Settings, Database]:
    """A new data folder ``data`` with the demo courses published, as ``stepstone demo``
    leaves it (without its accounts); the caller closes the database."""
    settings = load_settings(environ={}, data_dir=data, demo=True)
    database = initialize(settings)
    report = publish_demo_courses(settings, database, SOURCE_COURSES)
    assert report.status == "ok", report.message
    return settings, database


def make_user(
    database: Database,
    role: Role,
    login: str,
    name: str = "",
    secret: str | None = None,
    language: str = "en",
) -> User:
    """A user who has already chosen their own PIN or password."""
    user, _ = accounts.create_user(
        database, Actor.system("test"), role, login, name or login.title(), language
    )
    secret = secret or (PIN if role is Role.LEARNER else PASSWORD)
    with database.write() as db:
        db.execute(
            "UPDATE users SET secret_hash = ?, must_change_secret = 0 WHERE id = ?",
            [passwords.hash_secret(secret), user.id],
        )
    return accounts.get_user(database, user.id)


@dataclass
class People:
    admin: User
    educator: User
    learner: User
    other_learner: User


@pytest.fixture
def people(database: Database) -> People:
    return People(
        admin=make_user(database, Role.ADMIN, "boss"),
        educator=make_user(database, Role.EDUCATOR, "teacher"),
        learner=make_user(database, Role.LEARNER, "A100", "Alex Learner"),
        other_learner=make_user(database, Role.LEARNER, "B200", "Bea Learner", language="es"),
    )


def csrf_from(client: TestClient, path: str = "/signin") -> str:
    match = CSRF_RE.search(client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def form_action(client: TestClient, page: str, action: str) -> str:
    """The action URL of the form on `page` that posts to `action`, query included, as a
    browser would post it (an upload form carries its CSRF token there)."""
    found = re.search(rf'action="({re.escape(action)}(?:\?[^"]*)?)"', client.get(page).text)
    assert found, f"no form posting to {action} on {page}"
    return html.unescape(found.group(1))


def sign_in(client: TestClient, user: User, secret: str | None = None) -> None:
    """Sign `user` in through the real form; asserts it worked."""
    staff = user.role is not Role.LEARNER
    path = "/staff/signin" if staff else "/signin"
    token = csrf_from(client, path)
    data = (
        {"username": user.login, "password": secret or PASSWORD}
        if staff
        else {"facility_id": user.login, "pin": secret or PIN}
    )
    response = client.post(path, data=data | {"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text[:500]


def post(
    client: TestClient,
    path: str,
    data: dict[str, str] | None = None,
    token_from: str = "/account",  # noqa: S107 - a page, not a password
    follow_redirects: bool = True,
) -> httpx2.Response:
    """POST a form with a CSRF token taken from a page the client can open."""
    token = csrf_from(client, token_from)
    return client.post(
        path, data=(data or {}) | {"csrf_token": token}, follow_redirects=follow_redirects
    )


# --- an attacker who can write the database ---------------------------------------------


def audit_link(
    prev_hash: str, row: sqlite3.Row | Mapping[str, object], key: bytes | None = None
) -> str:
    """An audit row's link as anyone can compute it: plain SHA-256, or HMAC with ``key``."""
    body = json.dumps(
        [
            prev_hash,
            row["at"],
            row["actor_id"],
            row["actor"],
            row["action"],
            row["target"],
            row["detail"],
            row["client_address"],
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def rewrite_audit_log(
    database: Database, entry: int, link: Callable[[str, sqlite3.Row], str]
) -> None:
    """Drop the append-only triggers, edit ``entry`` and link every row again with ``link``."""
    with database.write() as db:
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET target = 'nothing happened' WHERE id = ?", [entry])
        prev_hash = "0" * 64
        for row in db.execute("SELECT * FROM audit_log ORDER BY id").fetchall():
            digest = link(prev_hash, row)
            db.execute(
                "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?",
                [prev_hash, digest, row["id"]],
            )
            prev_hash = digest
