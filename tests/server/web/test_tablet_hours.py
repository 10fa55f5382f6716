"""Tablet hours through the web: sign-in refused outside them, a session refused after
their end (the learner's last save still taken in a lockdown's grace), the admin pages."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.cli.main import cli
from server.core.db import Database
from server.core.settings import Settings
from server.people import access_gate, access_windows, groups, lockdowns
from server.people.audit import Actor
from server.web.app import create_app
from tests.conftest import PIN, FakeClock, People, csrf_from, post, sign_in

ADMIN = Actor.system("test")
ZONE = "America/Chicago"


def at(hour: int, minute: int = 0) -> float:
    return datetime(2026, 12, 7, hour, minute, tzinfo=ZoneInfo(ZONE)).timestamp()  # a Monday


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, time_zone=ZONE)


@pytest.fixture
def unit(database: Database, people: People, fake_clock: FakeClock) -> int:
    """Unit A, open Monday 08:00-11:00, with the learner in it; the clock Monday 09:00."""
    fake_clock.moment = at(9)
    group = groups.create_group(database, ADMIN, "Unit A", "housing").id
    groups.add_member(database, ADMIN, group, people.learner.id)
    access_windows.add_windows(database, ADMIN, [0], "08:00", "11:00", group_id=group)
    return group


def test_outside_their_hours_a_learner_is_told_why_and_no_wrong_try_is_counted(
    client: TestClient, people: People, unit: int, fake_clock: FakeClock, database: Database
) -> None:
    fake_clock.moment = at(7)
    token = csrf_from(client, "/signin")
    for _ in range(4):
        answer = client.post(
            "/signin", data={"facility_id": "A100", "pin": PIN, "csrf_token": token}
        )
        assert "Tablets are closed for you at this time" in answer.text
    # A wrong PIN still gets the usual answer: nothing tells a stranger about the hours.
    wrong = client.post(
        "/signin", data={"facility_id": "A100", "pin": "000000", "csrf_token": token}
    )
    assert "Check your id and PIN" in wrong.text
    fake_clock.moment = at(8)
    sign_in(client, people.learner)  # no delay: the refused tries were not failures
    assert client.get("/learn").status_code == 200
    audited = database.query("SELECT count(*) FROM audit_log WHERE action = 'signin.closed'")
    assert audited[0][0] == 4


def test_after_the_end_every_request_is_refused_and_the_page_gets_the_end_time(
    client: TestClient, people: People, unit: int, fake_clock: FakeClock, database: Database
) -> None:
    fake_clock.moment = at(10, 50)
    sign_in(client, people.learner)
    page = client.get("/learn")
    assert 'data-closes-in="600" data-closes-at="11:00"' in page.text
    status = client.get("/api/access").json()
    assert status == {"open": True, "reason": "", "closes_in": 600, "closes_at": "11:00"}
    fake_clock.moment = at(11)
    gone = client.get("/learn", follow_redirects=False)
    assert gone.headers["location"] == "/signin?notice=closed-hours"
    ended = database.query("SELECT end_reason FROM sessions WHERE ended_at IS NOT NULL")
    assert [r[0] for r in ended] == ["closed-hours"]
    assert "Tablet time is over for now" in client.get(gone.headers["location"]).text
    # Back in the hours, the session is still gone: the learner signs in again.
    fake_clock.moment = at(10)
    assert client.get("/learn", follow_redirects=False).status_code == 303


def test_staff_are_never_limited(
    client: TestClient, people: People, unit: int, fake_clock: FakeClock, database: Database
) -> None:
    groups.add_member(database, ADMIN, unit, people.educator.id)
    lockdowns.start(database, ADMIN, None, "emergency")
    fake_clock.moment = at(23)
    sign_in(client, people.educator)
    assert client.get("/teach").status_code == 200


def test_in_a_lockdown_the_page_may_still_save_work_for_a_short_grace(
    client: TestClient, people: People, unit: int, fake_clock: FakeClock, database: Database
) -> None:
    sign_in(client, people.learner)
    token = csrf_from(client, "/account")
    lockdowns.start(database, ADMIN, unit, "count")
    fake_clock.advance(30)
    assert client.get("/api/access").json()["reason"] == "lockdown"
    saved = client.post("/api/events", json={"events": []}, headers={"X-CSRF-Token": token})
    assert saved.status_code == 200
    assert client.get("/learn", follow_redirects=False).headers["location"] == (
        "/signin?notice=closed-lockdown"
    )
    fake_clock.advance(access_gate.GRACE_SECONDS)
    late = client.post("/api/events", json={"events": []}, headers={"X-CSRF-Token": token})
    # Signed out: its token is no longer good either (learn.js drops the queue on 403).
    assert late.status_code == 403


def test_admin_sets_hours_in_a_week_view_and_sees_who_can_use_tablets_now(
    client: TestClient, people: People, unit: int, database: Database
) -> None:
    sign_in(client, people.admin)
    page = client.get("/admin/access")
    assert "Unit A" in page.text and "08:00–11:00" in page.text
    added = post(
        client,
        "/admin/access/windows",
        {"learner": "B200", "weekday": "0", "starts": "13:00", "ends": "14:30"},
        token_from="/admin/access",
    )
    assert "13:00–14:30" in added.text and "Bea Learner" in added.text
    refused = client.post(
        "/admin/access/windows",
        data={
            "group": str(unit),
            "starts": "9:00",
            "ends": "8:00",
            "weekday": "1",
            "csrf_token": csrf_from(client, "/admin/access"),
        },
    )
    assert refused.status_code == 400 and "later than the start" in refused.text
    odd = client.post(
        "/admin/access/windows",
        data={
            "group": str(unit),
            "starts": "9:00",
            "ends": "10:00",
            "weekday": ["", "9", "x"],
            "csrf_token": csrf_from(client, "/admin/access"),
        },
    )
    assert odd.status_code == 400 and "at least one day" in odd.text
    now = client.get("/admin/access/now").text
    assert "2 of 2 learners can use a tablet" not in now
    assert "Yes, until 11:00" in now and "Outside their hours" in now
    window = access_windows.windows(database)[0]
    post(client, f"/admin/access/windows/{window.id}/remove", token_from="/admin/access")
    post(
        client,
        "/admin/access/holidays",
        {"day": "2026-12-25", "name": "Christmas"},
        token_from="/admin/access",
    )
    assert "2026-12-25: Christmas" in client.get("/admin/access").text
    actions = [
        r[0]
        for r in database.query(
            "SELECT action FROM audit_log WHERE action LIKE 'access-%'"
            " AND actor = 'admin:boss' ORDER BY id"
        )
    ]
    assert actions == ["access-window.add", "access-window.remove", "access-holiday.add"]


def test_the_admin_pages_are_for_admins_only(
    client: TestClient, people: People, app: Starlette
) -> None:
    sign_in(client, people.educator)
    assert client.get("/admin/access").status_code == 403
    assert client.get("/admin/access/now").status_code == 403


def test_admin_locks_a_unit_down_and_ends_it_and_its_learner_is_signed_out(
    app: Starlette, people: People, unit: int, fake_clock: FakeClock, database: Database
) -> None:
    with TestClient(app) as learner, TestClient(app) as admin:
        sign_in(learner, people.learner)
        sign_in(admin, people.admin)
        started = post(
            admin,
            "/admin/lockdowns",
            {"group": str(unit), "reason": "count", "hours": "2", "note": "Count"},
            token_from="/admin/lockdowns",
        )
        assert "The lockdown has started" in started.text
        assert "End the lockdown of Unit A" in started.text
        gone = learner.get("/learn", follow_redirects=False)
        assert gone.headers["location"] == "/signin?notice=closed-lockdown"
        # The other learner, in no unit, and staff go on.
        assert admin.get("/admin/access/now").status_code == 200
        assert "No: Lockdown" in admin.get("/admin/access/now").text
        (lockdown,) = lockdowns.history(database)
        ended = post(admin, f"/admin/lockdowns/{lockdown.id}/end", token_from="/admin/lockdowns")
        assert "The lockdown has ended" in ended.text and "End now" not in ended.text
        sign_in(learner, people.learner)
        assert learner.get("/learn").status_code == 200
        refused = admin.post(
            "/admin/lockdowns",
            data={"reason": "because", "csrf_token": csrf_from(admin, "/admin/lockdowns")},
        )
        assert refused.status_code == 400 and "Choose the reason" in refused.text


def test_lockdown_commands_start_list_and_end(
    runner: CliRunner, settings: Settings, database: Database, unit: int
) -> None:
    data = ["--data-dir", str(settings.data_dir)]
    started = runner.invoke(
        cli,
        [*data, "lockdown", "start", "--group", "Unit A", "--reason", "count", "--hours", "1"],
        env={"STEPSTONE_TIME_ZONE": ZONE},
    )
    assert started.exit_code == 0, started.output
    assert "Unit A\tcount\t2026-12-07 09:00\t2026-12-07 10:00" in started.output
    listed = runner.invoke(cli, [*data, "lockdown", "list"])
    assert listed.output.startswith("1\tin-force\tUnit A\tcount")
    assert runner.invoke(cli, [*data, "lockdown", "end", "1"]).exit_code == 0
    again = runner.invoke(cli, [*data, "lockdown", "end", "1"])
    assert again.exit_code == 1 and "already ended" in again.output
    nowhere = runner.invoke(
        cli, [*data, "lockdown", "start", "--group", "Unit Z", "--reason", "count"]
    )
    assert nowhere.exit_code == 1 and "No group is named 'Unit Z'" in nowhere.output
    audited = database.query("SELECT actor, action FROM audit_log WHERE action LIKE 'lockdown.%'")
    assert [tuple(r) for r in audited] == [("cli", "lockdown.start"), ("cli", "lockdown.end")]


def test_educators_lock_down_only_when_the_facility_names_them(
    settings: Settings, database: Database, people: People, unit: int
) -> None:
    for roles, status in ((("admin",), 403), (("admin", "educator"), 200)):
        app = create_app(dataclasses.replace(settings, lockdown_roles=roles))
        with TestClient(app) as educator:
            sign_in(educator, people.educator)
            assert educator.get("/admin/lockdowns").status_code == status
            assert ("/admin/lockdowns" in educator.get("/teach").text) is (status == 200)
    with TestClient(app) as educator:
        sign_in(educator, people.educator)
        post(educator, "/admin/lockdowns", {"reason": "staffing"}, token_from="/admin/lockdowns")
        assert educator.get("/admin/users").status_code == 403
    (lockdown,) = lockdowns.active(database)
    assert (lockdown.started_by, lockdown.whole_facility) == ("educator:teacher", True)
