"""Shared fixtures: an app on a temp data folder, a client, and people to sign in as."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
import sqlite_utils
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlite_utils.migrations import Migrations
from starlette.applications import Starlette
from starlette.testclient import TestClient

import server.ops.migrations
from server.catalog import sync as catalog_sync
from server.catalog.search import search_indexer
from server.cli.demo import SOURCE_COURSES, publish_demo_courses
from server.cli.main import initialize
from server.core import clock, filemodes
from server.core.db import Database
from server.core.settings import Settings, load_settings
from server.people import accounts, passwords, pepper
from server.people.accounts import Role, User
from server.people.audit import Actor

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"
PIN = "493817"


def pytest_configure(config: pytest.Config) -> None:
    # As every `stepstone` command and the web app do: what the fixtures make is then
    # as private as what the server makes, and the file-permissions check stays quiet.
    filemodes.use_private_umask()


# --- speed: cheap hashes and facilities made once per test process ----------------------

# argon2's smallest parameters: a hash costs microseconds instead of ~50 ms. Sign-in
# tests that measure delays and locks keep the real ones (`@pytest.mark.real_kdf`).
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
CHEAP_HASHERS = passwords.Hashers(staff=CHEAP_HASHER, pin=CHEAP_HASHER)


@pytest.fixture(scope="session", autouse=True)
def cheap_kdf() -> Iterator[passwords.Hashers]:
    """Cheap hashes for the whole session; yields the real hashers it replaced."""
    real = passwords.use_hashers(CHEAP_HASHERS)
    yield real
    passwords.use_hashers(real)


@pytest.fixture(autouse=True)
def real_kdf_when_marked(
    request: pytest.FixtureRequest, cheap_kdf: passwords.Hashers
) -> Iterator[None]:
    if request.node.get_closest_marker("real_kdf") is None:
        yield
        return
    cheap = passwords.use_hashers(cheap_kdf)
    yield
    passwords.use_hashers(cheap)


@pytest.fixture(scope="session", autouse=True)
def no_import_narration_in_processes() -> Iterator[None]:
    """The ``stepstone`` processes tests start read no lesson aloud at import (they read
    the setting from the environment); see :func:`no_import_narration`."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STEPSTONE_IMPORT_NARRATION", "off")
        yield


@pytest.fixture(autouse=True)
def no_import_narration(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Imports in tests read no lesson aloud (eSpeak NG costs a few hundred milliseconds a
    course), except in tests marked ``narration``."""
    if request.node.get_closest_marker("narration") is None:
        monkeypatch.setattr(catalog_sync, "import_engine", lambda _settings: None)


class Templates:
    """Data folders built once per test process (each xdist worker has its own) and copied
    for each test, so a test still owns a private folder but does not pay for migrations
    or for building, signing and importing the demo courses."""

    root: Path | None = None
    _built: dict[str, Path] = {}  # noqa: RUF012 - one cache per process, on purpose

    @classmethod
    def get(cls, name: str, build: Callable[[Path], None]) -> Path:
        if name not in cls._built:
            assert cls.root is not None, "templates are made inside a test session"
            folder = cls.root / name / "data"
            build(folder)
            cls._built[name] = folder
        return cls._built[name]


@pytest.fixture(scope="session", autouse=True)
def facility_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    Templates.root = tmp_path_factory.mktemp("templates")
    yield
    Templates.root = None
    Templates._built.clear()


def _build_migrated(data: Path) -> None:
    initialize(load_settings(environ={}, data_dir=data)).close()


def _build_demo(data: Path) -> None:
    settings = load_settings(environ={}, data_dir=data, demo=True)
    database = initialize(settings)
    report = publish_demo_courses(settings, database, SOURCE_COURSES)
    database.close()
    assert report.status == "ok", report.message


def _build_demo_indexed(data: Path) -> None:
    # A server builds a missing search index in the background at start-up, and stops
    # only once that is done: a copy with the index already built spares each test both.
    copy_facility(Templates.get("demo", _build_demo), data)
    settings = load_settings(environ={}, data_dir=data, demo=True)
    database = initialize(settings)
    indexer = search_indexer(settings, database)
    indexer.rebuild()
    indexer.service.close()
    database.close()


def copy_facility(template: Path, data: Path, *, secret_key: bool = True) -> None:
    """Copy a closed template's data folder to ``data`` (which must not exist yet) and point
    its folder sync sources at the copy, so nothing the test does reaches the template."""
    skip = shutil.ignore_patterns() if secret_key else shutil.ignore_patterns("secret.key")
    shutil.copytree(template, data, symlinks=True, ignore=skip)
    database = data / "stepstone.db"
    old, new = str(template.resolve()), str(data.resolve())
    conn = sqlite3.connect(database)
    try:
        with conn:
            conn.execute(
                "UPDATE sync_sources SET location = ? || substr(location, ?)"
                " WHERE kind = 'folder' AND substr(location, 1, ?) = ?",
                [new, len(old) + 1, len(old), old],
            )
    finally:
        conn.close()


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    demo = request.node.get_closest_marker("demo") is not None
    return load_settings(environ={}, data_dir=tmp_path / "data", demo=demo)


def new_database(settings: Settings) -> Database:
    """``initialize(settings)`` on a new data folder, copied from a migrated template."""
    if not settings.data_dir.exists():
        template = Templates.get("migrated", _build_migrated)
        copy_facility(template, settings.data_dir, secret_key=settings.secret_key is None)
    return initialize(settings)


@pytest.fixture
def database(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Database]:
    """The test's own facility: a new, migrated one; with `@pytest.mark.demo`, a copy of
    the demo facility (the demo courses published and indexed, built once per process)."""
    if request.node.get_closest_marker("demo") is not None:
        _settings, database = demo_facility(settings.data_dir, indexed=True)
    else:
        database = new_database(settings)
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


def demo_facility(data: Path, *, indexed: bool = False) -> tuple[Settings, Database]:
    """A new data folder ``data`` with the demo courses published, as ``stepstone demo``
    leaves it (without its accounts); with ``indexed``, also as a server leaves it once it
    has built the search index. The caller closes the database."""
    if indexed:
        copy_facility(Templates.get("demo-indexed", _build_demo_indexed), data)
    else:
        copy_facility(Templates.get("demo", _build_demo), data)
    settings = load_settings(environ={}, data_dir=data, demo=True)
    return settings, initialize(settings)


def make_user(
    database: Database,
    role: Role,
    login: str,
    name: str = "",
    secret: str | None = None,
    language: str = "en",
) -> User:
    """A user who has already chosen their own PIN or password."""
    # The one-time secret `create_user` hashes is replaced at once: hash it cheaply even
    # in tests that use the real parameters.
    hashers = passwords.use_hashers(CHEAP_HASHERS)
    try:
        user, _ = accounts.create_user(
            database, Actor.system("test"), role, login, name or login.title(), language
        )
    finally:
        passwords.use_hashers(hashers)
    secret = secret or (PIN if role is Role.LEARNER else PASSWORD)
    with database.write() as db:
        # Each hash carries its own salt, parameters and pepper id; reusing one for
        # several accounts changes nothing a test looks at, and spares real-parameter
        # tests ~40 ms a user. A learner's is keyed with this folder's pepper.
        peppers = pepper.keyring_in(db) if role is Role.LEARNER else None
        cost = (hashers.staff.time_cost, hashers.staff.memory_cost, hashers.pin.memory_cost)
        key = (secret, cost, peppers.current.id if peppers else "")
        if key not in _SECRET_HASHES:
            _SECRET_HASHES[key] = accounts.secret_hash_in(db, role, secret)
        db.execute(
            "UPDATE users SET secret_hash = ?, must_change_secret = 0 WHERE id = ?",
            [_SECRET_HASHES[key], user.id],
        )
    return accounts.get_user(database, user.id)


_SECRET_HASHES: dict[tuple[str, tuple[int, int, int], str], str] = {}


@dataclass
class People:
    admin: User
    educator: User
    learner: User
    other_learner: User


def make_people(database: Database) -> People:
    return People(
        admin=make_user(database, Role.ADMIN, "boss"),
        educator=make_user(database, Role.EDUCATOR, "teacher"),
        learner=make_user(database, Role.LEARNER, "A100", "Alex Learner"),
        other_learner=make_user(database, Role.LEARNER, "B200", "Bea Learner", language="es"),
    )


@pytest.fixture
def people(database: Database) -> People:
    return make_people(database)


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


def add_migration(
    monkeypatch: pytest.MonkeyPatch, name: str, upgrade: Callable[[sqlite_utils.Database], None]
) -> None:
    """For this test only, ship one more migration, ``name``, after all the real ones, as a
    new release would. Built with sqlite-utils' public API: a migration set of the same name
    that holds the shipped migrations, then this one."""
    shipped = server.ops.migrations.migrations
    grown = Migrations(shipped.name)
    for migration in shipped.pending(sqlite_utils.Database(memory=True)):
        grown(name=migration.name, transactional=migration.transactional)(migration.fn)
    grown(name=name)(upgrade)
    monkeypatch.setattr(server.ops.migrations, "migrations", grown)


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
