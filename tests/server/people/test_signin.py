"""Signing in, throttling, lock-out, sessions and CSRF, as a browser sees them."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2
import pytest
import sqlite_utils
from starlette.applications import Starlette
from starlette.testclient import TestClient

import server.core.db
from server.core.db import Database
from server.core.settings import Settings
from server.people import accounts, passwords, roster, sessions
from server.people.accounts import Role
from server.people.audit import Actor
from tests.conftest import PASSWORD, PIN, FakeClock, People, csrf_from, make_user, post, sign_in

# Delays and locks are measured against the cost of a real hash.
pytestmark = pytest.mark.real_kdf


def try_pin(client: TestClient, facility_id: str, pin: str) -> httpx2.Response:
    token = csrf_from(client, "/signin")
    return client.post(
        "/signin",
        data={"facility_id": facility_id, "pin": pin, "csrf_token": token},
        follow_redirects=False,
    )


def test_learner_signs_in_and_reaches_their_home(client: TestClient, people: People) -> None:
    sign_in(client, people.learner)
    page = client.get("/")
    assert page.url.path == "/learn"
    assert "Hello, Alex Learner" in page.text


def test_wrong_pin_and_unknown_id_get_the_same_answer(client: TestClient, people: People) -> None:
    wrong = try_pin(client, people.learner.login, "000999")
    unknown = try_pin(client, "NOBODY1", "000999")
    assert wrong.status_code == unknown.status_code == 401
    message = "That did not work. Check your id and PIN and try again."
    assert message in wrong.text and message in unknown.text


def test_failures_are_audited(client: TestClient, people: People, database: Database) -> None:
    try_pin(client, people.learner.login, "000999")
    row = database.query_one("SELECT * FROM audit_log WHERE action = 'signin.failed'")
    assert row is not None and row["target"] == "learner:A100"
    assert "000999" not in str(dict(row))


def test_growing_delays_after_a_few_failures(
    client: TestClient, people: People, fake_clock: FakeClock
) -> None:
    for _ in range(3):
        assert try_pin(client, people.learner.login, "000999").status_code == 401
    blocked = try_pin(client, people.learner.login, PIN)
    assert blocked.status_code == 429
    assert "Too many tries" in blocked.text
    fake_clock.advance(2)
    assert try_pin(client, people.learner.login, "000999").status_code == 401
    fake_clock.advance(1.5)  # the fifth failure asks for two seconds
    assert try_pin(client, people.learner.login, PIN).status_code == 429
    fake_clock.advance(1)
    assert try_pin(client, people.learner.login, PIN).status_code == 303


def test_learner_locks_after_ten_failures_until_staff_unlock(
    client: TestClient, people: People, database: Database, fake_clock: FakeClock
) -> None:
    for _ in range(10):
        fake_clock.advance(3600)
        try_pin(client, people.learner.login, "000999")
    assert accounts.get_user(database, people.learner.id).locked
    fake_clock.advance(3600)
    refused = try_pin(client, people.learner.login, PIN)
    assert refused.status_code == 401 and "locked" in refused.text
    # An unknown id locks the same way, so locking reveals nothing.
    for _ in range(10):
        fake_clock.advance(3600)
        try_pin(client, "NOBODY1", "000999")
    assert "locked" in try_pin(client, "NOBODY1", PIN).text
    accounts.unlock(database, Actor.system("test"), people.learner.id)
    assert try_pin(client, people.learner.login, PIN).status_code == 303


def test_a_learner_is_warned_before_the_lock(
    client: TestClient, people: People, fake_clock: FakeClock
) -> None:
    warned = []
    for _ in range(9):
        fake_clock.advance(3600)
        page = try_pin(client, people.learner.login, "000999").text
        warned.append(re.findall(r"After (\d+) more wrong (?:try|tries), this account locks", page))
    # The eighth and ninth wrong tries (of ten) say how many are left, in plain words.
    assert warned == [[]] * 7 + [["2"], ["1"]]
    assert "After 1 more wrong try, this account locks and staff must unlock it." in page
    # The same for an id nobody has: the warning says nothing about which ids exist.
    for _ in range(8):
        fake_clock.advance(3600)
        unknown = try_pin(client, "NOBODY1", "000999").text
    assert "After 2 more wrong tries, this account locks" in unknown
    # A good PIN before the lock starts the count again.
    fake_clock.advance(3600)
    assert try_pin(client, people.learner.login, PIN).status_code == 303


def test_staff_are_delayed_but_never_locked(
    client: TestClient, people: People, database: Database, fake_clock: FakeClock
) -> None:
    for _ in range(12):
        fake_clock.advance(7200)
        token = csrf_from(client, "/staff/signin")
        client.post(
            "/staff/signin",
            data={"username": "teacher", "password": "nope nope nope", "csrf_token": token},
        )
    assert not accounts.get_user(database, people.educator.id).locked


def test_sign_in_makes_a_new_session_and_sign_out_ends_it(
    client: TestClient, people: People, settings: Settings
) -> None:
    sign_in(client, people.learner)
    first = client.cookies.get("stepstone_session")
    sign_in(client, people.learner)
    second = client.cookies.get("stepstone_session")
    assert first and second and first != second
    post(client, "/signout", follow_redirects=False)
    # Replaying the old cookie does not bring the session back.
    client.cookies.set("stepstone_session", second)
    response = client.get("/learn", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")


def test_session_cookie_flags(app: Starlette, people: People, settings: Settings) -> None:
    with TestClient(app) as client:
        token = csrf_from(client, "/signin")
        response = client.post(
            "/signin",
            data={"facility_id": "A100", "pin": PIN, "csrf_token": token},
            follow_redirects=False,
        )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie


def test_https_uses_host_prefixed_secure_cookie(
    settings: Settings, database: Database, people: People
) -> None:
    from dataclasses import replace

    from server.web.app import create_app

    app = create_app(replace(settings, https=True))
    with TestClient(app, base_url="https://testserver") as client:
        sign_in(client, people.learner)
        response = client.get("/learn")
        assert response.status_code == 200
        assert "strict-transport-security" in response.headers
    assert any(c.name == "__Host-stepstone" and c.secure for c in client.cookies.jar)


def test_idle_learner_is_signed_out_on_the_server(
    client: TestClient, people: People, fake_clock: FakeClock
) -> None:
    sign_in(client, people.learner)
    fake_clock.advance(14 * 60)
    assert client.get("/learn").status_code == 200
    fake_clock.advance(15 * 60 + 5)
    response = client.get("/learn", follow_redirects=False)
    assert response.status_code == 303
    assert "notice=signed-out" in response.headers["location"]


def test_staff_idle_timeout_is_longer(
    client: TestClient, people: People, fake_clock: FakeClock
) -> None:
    sign_in(client, people.educator)
    fake_clock.advance(25 * 60)
    assert client.get("/teach").status_code == 200
    fake_clock.advance(31 * 60)
    assert client.get("/teach", follow_redirects=False).status_code == 303


def test_absolute_lifetime_ends_even_an_active_session(
    client: TestClient, people: People, fake_clock: FakeClock
) -> None:
    sign_in(client, people.educator)
    for _ in range(12 * 3):
        fake_clock.advance(20 * 60)
        client.get("/teach")
    assert client.get("/teach", follow_redirects=False).status_code == 303


def test_one_time_pin_must_be_changed_first(client: TestClient, database: Database) -> None:
    _, secret = accounts.create_user(
        database, Actor.system("test"), Role.LEARNER, "C300", "Cam New", "en"
    )
    token = csrf_from(client, "/signin")
    response = client.post(
        "/signin",
        data={"facility_id": "C300", "pin": secret, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/account/secret"
    assert client.get("/learn", follow_redirects=False).headers["location"] == "/account/secret"
    weak = post(
        client,
        "/account/secret",
        {"current": secret, "new": "1234", "again": "1234"},
        token_from="/account/secret",
    )
    assert weak.status_code == 400 and "too easy" in weak.text
    done = post(
        client,
        "/account/secret",
        {"current": secret, "new": "4826", "again": "4826"},
        token_from="/account/secret",
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert client.get("/learn").status_code == 200
    assert try_pin(TestClient(client.app), "C300", secret).status_code == 401


def test_post_without_csrf_token_is_refused(client: TestClient, people: People) -> None:
    sign_in(client, people.admin)
    response = client.post("/admin/groups", data={"name": "X", "kind": "class"})
    assert response.status_code == 403
    assert "too old" in response.text


def test_csrf_token_of_another_session_is_refused(
    app: Starlette, client: TestClient, people: People
) -> None:
    sign_in(client, people.admin)
    with TestClient(app) as other:
        sign_in(other, people.educator)
        foreign = csrf_from(other, "/account")
    response = client.post(
        "/admin/groups", data={"name": "X", "kind": "class", "csrf_token": foreign}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [{"origin": "http://evil.example"}, {"sec-fetch-site": "cross-site"}],
)
def test_cross_origin_posts_are_refused(
    client: TestClient, people: People, headers: dict[str, str]
) -> None:
    sign_in(client, people.admin)
    token = csrf_from(client, "/account")
    response = client.post(
        "/admin/groups", data={"name": "X", "kind": "class", "csrf_token": token}, headers=headers
    )
    assert response.status_code == 403


def test_disabled_account_cannot_sign_in_and_loses_sessions(
    app: Starlette, client: TestClient, people: People, database: Database
) -> None:
    sign_in(client, people.learner)
    accounts.set_disabled(database, Actor.system("test"), people.learner.id, True)
    assert client.get("/learn", follow_redirects=False).status_code == 303
    assert try_pin(client, "A100", PIN).status_code == 401


def test_sessions_store_only_a_hash_of_the_id(
    client: TestClient, people: People, database: Database
) -> None:
    sign_in(client, people.learner)
    cookie = client.cookies.get("stepstone_session") or ""
    rows = database.query("SELECT id_hash FROM sessions")
    assert rows and all(r["id_hash"] not in cookie for r in rows)
    assert sessions.active_count(database, people.learner.id) == 1


def test_language_switch_on_sign_in_page(client: TestClient, database: Database) -> None:
    make_user(database, Role.LEARNER, "S500", "Sol", language="es")
    token = csrf_from(client, "/signin")
    client.post("/language", data={"language": "es", "next": "/signin", "csrf_token": token})
    page = client.get("/signin")
    assert '<html lang="es">' in page.text
    assert "Entrar" in page.text or "Iniciar sesión" in page.text


def test_an_account_locked_while_its_pin_is_checked_gets_no_session(
    client: TestClient, people: People, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_verify = passwords.verify_secret

    def verify_while_others_lock_the_account(stored: str | None, secret: str) -> bool:
        good = real_verify(stored, secret)
        with database.write() as db:  # wrong tries sent at the same time reach the limit
            db.execute(
                "UPDATE users SET locked_at = '2026-01-01' WHERE id = ?", [people.learner.id]
            )
        return good

    monkeypatch.setattr(passwords, "verify_secret", verify_while_others_lock_the_account)
    refused = try_pin(client, people.learner.login, PIN)
    assert refused.status_code == 401 and "locked" in refused.text
    assert sessions.active_count(database, people.learner.id) == 0


def test_locking_ends_the_sessions_the_account_already_has(
    app: Starlette, client: TestClient, people: People, fake_clock: FakeClock
) -> None:
    sign_in(client, people.learner)
    with TestClient(app) as attacker:
        for _ in range(10):
            fake_clock.advance(65)  # past each delay, within the learner's idle time
            try_pin(attacker, people.learner.login, "000999")
    assert "locked" in try_pin(attacker, people.learner.login, PIN).text
    response = client.get("/learn", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")


def change_pin(client: TestClient, current: str, new: str) -> httpx2.Response:
    return post(
        client,
        "/account/secret",
        {"current": current, "new": new, "again": new},
        token_from="/account/secret",
        follow_redirects=False,
    )


def test_changing_own_pin_ends_other_sessions_and_rotates_this_one(
    app: Starlette, client: TestClient, people: People
) -> None:
    with TestClient(app) as other_tablet:
        sign_in(other_tablet, people.learner)
        sign_in(client, people.learner)
        old_cookie = client.cookies.get("stepstone_session")
        assert change_pin(client, PIN, "5820").status_code == 303
        assert client.get("/learn").status_code == 200
        assert client.cookies.get("stepstone_session") != old_cookie
        gone = other_tablet.get("/learn", follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/signin")
    with TestClient(app) as replay:
        replay.cookies.set("stepstone_session", old_cookie or "")
        assert replay.get("/learn", follow_redirects=False).status_code == 303


def test_wrong_current_pin_is_counted_audited_and_signs_out(
    client: TestClient, people: People, database: Database, fake_clock: FakeClock
) -> None:
    sign_in(client, people.learner)
    for _ in range(2):
        wrong = change_pin(client, "000999", "5820")
        assert wrong.status_code == 400 and "That is not your PIN now." in wrong.text
    out = change_pin(client, "000998", "5820")
    assert out.headers["location"] == "/signin?notice=wrong-tries"
    # The right PIN now comes too late: this browser was signed out and nothing changed.
    assert change_pin(client, PIN, "5820").status_code == 303
    assert client.get("/learn", follow_redirects=False).status_code == 303
    audited = database.query(
        "SELECT * FROM audit_log WHERE action = ?", ["account.secret-check.failed"]
    )
    assert len(audited) == 3 and all(r["target"] == "learner:A100" for r in audited)
    fake_clock.advance(60)  # the wrong tries count towards the sign-in delay too
    assert try_pin(client, people.learner.login, "5820").status_code == 401
    fake_clock.advance(60)
    assert try_pin(client, people.learner.login, PIN).status_code == 303


def test_wrong_current_password_counts_towards_the_staff_delay(
    client: TestClient, people: People
) -> None:
    sign_in(client, people.educator)
    for _ in range(2):
        change = {
            "current": "wrong wrong wrong",
            "new": "a new long phrase",
            "again": "a new long phrase",
        }
        assert (
            post(client, "/account/secret", change, token_from="/account/secret").status_code == 400
        )
    signed_out = post(
        client, "/account/secret", change, token_from="/account/secret", follow_redirects=False
    )
    assert signed_out.headers["location"] == "/staff/signin?notice=wrong-tries"
    token = csrf_from(client, "/staff/signin")
    again = client.post(
        "/staff/signin",
        data={"username": "teacher", "password": PASSWORD, "csrf_token": token},
    )
    assert again.status_code == 429 and "Too many tries" in again.text


def test_tries_for_an_unknown_id_do_not_lock_an_account_made_later(
    client: TestClient, people: People, database: Database, fake_clock: FakeClock
) -> None:
    for login in ("N900", "N901", "N902"):
        for _ in range(10):
            fake_clock.advance(600)
            try_pin(client, login, "000999")
    assert "locked" in try_pin(client, "N900", "000999").text
    fake_clock.advance(3601)  # this client address's tries are forgotten, the ids' are not
    _, secret = accounts.create_user(database, Actor.system("t"), Role.LEARNER, "N900", "Nia", "en")
    assert try_pin(client, "N900", secret).status_code == 303
    plan = roster.apply_roster(
        database, Actor.system("t"), b"facility_id,name,language\nN901,Ned,en\n"
    )
    fresh = TestClient(client.app)
    assert try_pin(fresh, "N901", plan.rows[0].one_time_pin).status_code == 303
    # Tries for an id that names nobody are forgotten after a day.
    fake_clock.advance(25 * 3600)
    assert "That did not work" in try_pin(fresh, "N902", "000999").text


def test_admin_sees_a_lock_from_wrong_tries_and_can_unlock(
    settings: Settings, client: TestClient, people: People, fake_clock: FakeClock
) -> None:
    from dataclasses import replace

    from server.web.app import create_app

    for _ in range(4):
        fake_clock.advance(3600)
        try_pin(client, people.learner.login, "000999")
    # The facility lowers the limit below the tries already made.
    with TestClient(create_app(replace(settings, learner_lock_after=3))) as admin:
        sign_in(admin, people.admin)
        page = admin.get(f"/admin/users/{people.learner.id}").text
        assert "Locked" in page and f"/admin/users/{people.learner.id}/unlock" in page
        post(
            admin,
            f"/admin/users/{people.learner.id}/unlock",
            token_from=f"/admin/users/{people.learner.id}",
        )
        assert try_pin(admin, people.learner.login, PIN).status_code == 303


def test_a_read_only_database_still_serves_a_signed_in_learner(
    app: Starlette,
    client: TestClient,
    people: People,
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sign_in(client, people.learner)
    real_connect = server.core.db.connect

    def read_only(path: Path) -> sqlite_utils.Database:
        db = real_connect(path)
        db.execute("PRAGMA query_only = ON")  # SQLite refuses every write on it
        return db

    monkeypatch.setattr(server.core.db, "connect", read_only)
    app.state.services.database.close()
    fake_clock.advance(5 * 60)  # past the minute after which a page view touches the session
    page = client.get("/learn", follow_redirects=False)
    assert page.status_code == 200 and "Hello, Alex Learner" in page.text


def test_a_refused_new_password_says_why(client: TestClient, people: People) -> None:
    """The facility's name (here the default, Stepstone) is among the first guesses."""
    sign_in(client, people.educator)
    new = "Stepstone-rocks-42"
    change = {"current": PASSWORD, "new": new, "again": new}
    refused = post(client, "/account/secret", change, token_from="/account/secret")
    assert refused.status_code == 400
    assert "too easy to guess: it contains the name of the facility" in refused.text
