"""Sign-in tries sent all at once to a real server with two worker processes.

Each try must be counted before its PIN or password is checked, so tries that arrive
together still meet the delay and the lock: only the free tries reach the hash.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.cli.main import initialize
from server.core.db import Database
from server.core.settings import load_settings
from server.people.accounts import Role, User
from server.people.signin import ACCOUNT_FREE_TRIES
from tests.conftest import CSRF_RE, PIN, make_user
from tests.live import running_server

# The server checks these hashes at their real cost, as tries race each other.
pytestmark = [pytest.mark.e2e, pytest.mark.real_kdf]

WRONG_TRIES = 24  # eight times the free tries


def allowed_checks(seconds: float) -> int:
    """Tries one account may have checked in `seconds`: the free ones, then one more
    after each delay (1 s, then 2 s, 4 s, ...)."""
    return ACCOUNT_FREE_TRIES + int(math.log2(seconds + 1))


@pytest.fixture
def facility(tmp_path: Path) -> Iterator[tuple[Database, User, User]]:
    data = tmp_path / "data"
    database = initialize(load_settings(environ={}, data_dir=data))
    learner = make_user(database, Role.LEARNER, "A100", "Alex Learner")
    educator = make_user(database, Role.EDUCATOR, "teacher")
    yield database, learner, educator
    database.close()


def form_for(client: httpx.Client, path: str) -> str:
    token = CSRF_RE.search(client.get(path).text)
    assert token, f"no CSRF token on {path}"
    return token.group(1)


def send_at_once(base: str, user: User, secrets: list[str]) -> tuple[list[httpx.Response], float]:
    """One browser per secret, each with its sign-in form open; all press the button at
    the same moment. Returns the answers in order and how long they all took."""
    staff = user.role.is_staff
    path = "/staff/signin" if staff else "/signin"
    clients = [httpx.Client(base_url=base, timeout=60) for _ in secrets]
    tokens = [form_for(client, path) for client in clients]
    start = threading.Barrier(len(secrets))
    answers: list[httpx.Response | None] = [None] * len(secrets)

    def press(n: int) -> None:
        names = ("username", "password") if staff else ("facility_id", "pin")
        fields = {names[0]: user.login, names[1]: secrets[n]}
        start.wait()
        answers[n] = clients[n].post(path, data=fields | {"csrf_token": tokens[n]})

    threads = [threading.Thread(target=press, args=(n,)) for n in range(len(secrets))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    for client in clients:
        client.close()
    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None], seconds


def hash_checks(database: Database, user: User) -> int:
    """Tries whose secret was checked: every one of them is in the audit log."""
    row = database.query_one(
        "SELECT count(*) FROM audit_log WHERE action IN ('signin', 'signin.failed') AND target = ?",
        [user.label],
    )
    return int(row[0]) if row else 0


@pytest.mark.parametrize("role", [Role.LEARNER, Role.EDUCATOR])
def test_tries_sent_at_once_reach_the_hash_no_more_than_the_free_tries(
    facility: tuple[Database, User, User], role: Role
) -> None:
    database, learner, educator = facility
    user = learner if role is Role.LEARNER else educator
    wrong = "000999" if role is Role.LEARNER else "not the password"
    # Only wrong tries: a right one checked among the first would rightly wipe the count
    # of the tries before it, and the bound below would no longer hold.
    with running_server(database.path.parent, workers=2) as base:
        answers, seconds = send_at_once(base, user, [wrong] * WRONG_TRIES)
    checked = [a for a in answers if a.status_code == 401]
    assert len(checked) <= allowed_checks(seconds)
    assert all(
        a.status_code == 429 and "Too many tries" in a.text for a in answers if a not in checked
    )
    assert hash_checks(database, user) == len(checked)


def test_a_lock_reached_by_tries_sent_at_once_ends_the_session_it_already_had(
    facility: tuple[Database, User, User],
) -> None:
    database, learner, _ = facility
    lock_after = ACCOUNT_FREE_TRIES  # the smallest limit a facility may set
    data = database.path.parent
    with (
        running_server(data, workers=2, STEPSTONE_LEARNER_LOCK_AFTER=str(lock_after)) as base,
        httpx.Client(base_url=base) as tablet,
    ):
        token = form_for(tablet, "/signin")
        signed_in = tablet.post(
            "/signin", data={"facility_id": "A100", "pin": PIN, "csrf_token": token}
        )
        assert signed_in.status_code == 303
        answers, _ = send_at_once(base, learner, ["000999"] * WRONG_TRIES)
        assert all(a.status_code == 401 for a in answers)
        assert sum("locked" in a.text for a in answers) == WRONG_TRIES - (lock_after - 1)
        assert hash_checks(database, learner) == 1 + lock_after
        page = tablet.get("/learn")
        assert page.status_code == 303 and page.headers["location"].startswith("/signin")
        with httpx.Client(base_url=base) as later:
            token = form_for(later, "/signin")
            again = later.post(
                "/signin", data={"facility_id": "A100", "pin": PIN, "csrf_token": token}
            )
            assert "locked" in again.text
