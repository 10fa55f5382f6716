"""Tablet hours on a real tablet browser: five minutes before a learner's hours end the
page warns them; before the end it saves the workbook page they are writing and the
place in the video they are watching; at the end it leaves for the sign-in page, which
says why. The browser's clock is moved; the server's stays real, with the hours ending a
few real minutes from now (the server's own refusal after the end, with its clock moved,
is in tests/server/web/test_tablet_hours.py)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from server.core.db import Database
from server.core.settings import load_settings
from server.people import access_windows, groups, lockdowns
from server.people.accounts import Role
from server.people.audit import Actor
from tests.browser.conftest import axe_report, watch
from tests.conftest import PASSWORD, PIN, demo_facility, make_user
from tests.live import running_server

pytestmark = pytest.mark.browser

SAFETY = "/learn/courses/org.stepstone.demo.workplace-safety"
TRAPS = "/learn/courses/org.stepstone.demo.thinking-traps"
MINUTES_LEFT = 7


def _midday_zone() -> str:
    """A fixed-offset zone where it is now about noon, so the hours never cross midnight."""
    offset = max(-12, min(14, 12 - datetime.now(ZoneInfo("UTC")).hour))
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data = tmp_path_factory.mktemp("hours") / "data"
    _settings, database = demo_facility(data, indexed=True)
    admin = make_user(database, Role.ADMIN, "boss")
    unit = groups.create_group(database, Actor.system("test"), "Unit A", "housing").id
    for login in ("A100", "A101"):
        learner = make_user(database, Role.LEARNER, login, f"Learner {login}")
        groups.add_member(database, Actor.system("test"), unit, learner.id)
    # A unit without hours, for the lockdown test: its learner is not limited otherwise.
    other = groups.create_group(database, Actor.system("test"), "Lockdown unit", "housing").id
    learner = make_user(database, Role.LEARNER, "A102", "Learner A102")
    groups.add_member(database, Actor.system("test"), other, learner.id)
    zone = _midday_zone()
    local = datetime.now(ZoneInfo(zone)) + timedelta(minutes=MINUTES_LEFT)
    access_windows.add_windows(
        database, admin.actor(), [local.weekday()], "00:00", local.strftime("%H:%M"), group_id=unit
    )
    database.close()
    with running_server(data, STEPSTONE_DEMO="true", STEPSTONE_TIME_ZONE=zone) as base:
        yield base, data


def server_database(data: Path) -> Database:
    """The running server's database, opened from the test (a connection of its own; the
    server sees the change at its next request, as it would an admin's)."""
    return Database(load_settings(environ={}, data_dir=data, demo=True).database_path)


def _open(page: Page, base: str, facility_id: str, lesson: str) -> int:
    """Sign in and open `lesson` with the clock installed; returns the seconds left.

    The page also asks the server every 30 s how long is left; the server's clock is not
    moved, so its answer would put the end back where the real clock has it. The asks
    fail here (as on a tablet that lost its connection): the page keeps its timers."""
    page.route("**/api/access", lambda route: route.abort())
    page.clock.install()
    page.goto(base + "/signin")
    page.get_by_label("Your ID number").fill(facility_id)
    page.get_by_label("Your PIN").fill(PIN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/learn")
    page.goto(base + lesson)
    page.evaluate("() => { window.__loadedAt = Date.now(); }")
    # Stopped a little ahead of the real time, which the page's clock has kept so far: far
    # enough that the call does not arrive after it (Playwright refuses to go back).
    page.clock.pause_at(time.time() + 2)
    left = int(page.locator("body").get_attribute("data-closes-in") or "0")
    assert 5 * 60 < left <= MINUTES_LEFT * 60
    return left


def _run_to(page: Page, seconds_after_load: float) -> None:
    """Move the page's clock to this many seconds after the lesson page loaded."""
    now, loaded = page.evaluate("() => [Date.now(), window.__loadedAt]")
    page.clock.run_for(max(0, int(loaded + seconds_after_load * 1000 - now)))


def _tick(page: Page, ms: int) -> None:
    """A moment passes, in real time and on the page's clock, as on a tablet. The page sends
    one batch of events at a time and sends the next from a timer: a save queued while an
    earlier batch was on its way goes out only once the page's clock moves on."""
    time.sleep(0.1)
    page.clock.run_for(ms)


def _leave_at_the_end(page: Page, left: int) -> None:
    """The clock moves to three seconds before the end, then runs on by itself: at the end
    the page leaves for the sign-in page, which says why (the server, whose clock has not
    moved, still knows the session here and sends it on to /learn). No clock call is open
    while the page goes, which could leave that call waiting for ever, and this returns
    once /learn has loaded: Chromium may ignore a context's close that meets a navigation."""
    _run_to(page, left - 3)
    with (
        page.expect_navigation(url="**/learn", timeout=15_000),
        page.expect_request("**/signin?notice=closed-hours", timeout=15_000),
    ):
        page.clock.resume()


def _query(data: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(data / "stepstone.db") as db:
        return db.execute(sql, params).fetchall()


def test_the_end_of_tablet_hours_warns_saves_the_draft_and_signs_out(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, data = site
    context = browser.new_context()
    watched = watch(context, base)
    page = watched.page
    left = _open(page, base, "A101", f"{TRAPS}/lessons/catch-your-thoughts")
    warning = page.get_by_role("alert").filter(has_text="Tablet time ends")
    _run_to(page, left - 305)
    expect(warning).to_be_hidden()
    _run_to(page, left - 298)
    expect(warning).to_be_visible()
    ends = page.locator("body").get_attribute("data-closes-at")
    expect(warning).to_contain_text(f"Tablet time ends at {ends}. Your work will be saved")
    # A sentence written 21 seconds before the end: the autosave would send it two
    # seconds later; the page saves it at 20 seconds before, on its own.
    _run_to(page, left - 21)
    page.locator("textarea").first.fill("I can ask for the call again tomorrow.")
    _run_to(page, left - 19.5)
    deadline = time.monotonic() + 10
    while not _query(data, "SELECT 1 FROM workbook_answers WHERE value LIKE '%call again%'"):
        assert time.monotonic() < deadline, "the draft was not saved before the end"
        _tick(page, 100)
    _leave_at_the_end(page, left)
    assert watched.csp_violations() == [] and watched.foreign_requests() == []
    context.close()


def test_the_end_of_tablet_hours_stops_the_video_and_keeps_its_place(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, data = site
    context = browser.new_context()
    page = context.new_page()
    left = _open(page, base, "A100", f"{SAFETY}/lessons/four-safety-habits")
    page.evaluate(
        """async () => { const v = document.getElementById('player'); v.muted = true;
        v.playbackRate = 0.5; await v.play(); v.currentTime = 12;
        await new Promise(r => v.addEventListener('seeked', r, {once: true})); }"""
    )
    # Playing (slowly: the 22-second video must not reach its end by itself meanwhile).
    page.wait_for_function("() => document.getElementById('player').currentTime > 12.5")
    _run_to(page, left - 19.5)
    page.wait_for_function("() => document.getElementById('player').paused")
    # The player says "paused" in a task of its own, after the clock stopped moving: let
    # the page's clock run a moment for the save it queues.
    page.clock.run_for(1000)
    stopped = page.evaluate("() => document.getElementById('player').currentTime")
    assert 12.5 < stopped < 20, "stopped by the page, not by the end of the video"
    deadline = time.monotonic() + 10
    while True:
        rows = _query(
            data,
            "SELECT p.position FROM lesson_progress p JOIN users u ON u.id = p.user_id"
            " WHERE u.facility_id = 'A100' AND p.lesson_key = 'four-safety-habits'",
        )
        if rows and abs(float(rows[0][0] or 0) - stopped) < 0.5:  # type: ignore[arg-type]
            break
        assert time.monotonic() < deadline, f"the place {stopped} was not saved: {rows}"
        _tick(page, 100)
    _leave_at_the_end(page, left)
    context.close()


def test_the_admin_pages_pass_axe_in_english(browser: Browser, site: tuple[str, Path]) -> None:
    base, _data = site
    context = browser.new_context()
    page = context.new_page()
    page.goto(base + "/staff/signin")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin")
    pages = ["/admin/access", "/admin/access/now", "/admin/lockdowns"]
    problems = axe_report(browser, [base + p for p in pages], context.storage_state())
    assert {url: found for url, found in problems.items() if found} == {}
    context.close()


def test_a_lockdown_reaches_an_open_page_which_saves_the_draft_and_leaves(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, data = site
    context = browser.new_context()
    page = context.new_page()
    page.clock.install()
    page.goto(base + "/signin")
    page.get_by_label("Your ID number").fill("A102")
    page.get_by_label("Your PIN").fill(PIN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/learn")
    page.goto(f"{base}{TRAPS}/lessons/catch-your-thoughts")
    page.clock.pause_at(time.time() + 2)  # ahead of the real time, as in _open
    # Typed, and not yet autosaved (that waits two seconds) when the lockdown starts.
    page.locator("textarea").first.fill("I will write to my sister.")
    with sqlite3.connect(data / "stepstone.db") as db:
        (unit,) = db.execute("SELECT id FROM groups WHERE name = 'Lockdown unit'").fetchone()
    database = server_database(data)
    lockdowns.start(database, Actor.system("test"), unit, "search")
    database.close()
    # The page asks every 30 seconds; the answer says "paused": it saves, then leaves.
    page.clock.run_for(30_500)
    expect(page.get_by_role("alert")).to_contain_text("Tablets are paused now")
    deadline = time.monotonic() + 10
    while not _query(data, "SELECT 1 FROM workbook_answers WHERE value LIKE '%my sister%'"):
        assert time.monotonic() < deadline, "the draft was not saved"
        _tick(page, 20)  # well short of the 4 s after which the page leaves
    # The page leaves four seconds after it saved: the clock runs on by itself for that, so
    # no clock call is open while the page goes (which could leave that call waiting).
    with page.expect_navigation(url="**/signin?notice=closed-lockdown", timeout=15_000):
        page.clock.resume()
    expect(page.get_by_text("Tablets are paused for your unit right now.")).to_be_visible()
    # Signed out for real: the session is over, not only the page gone.
    page.goto(base + "/learn")
    expect(page).to_have_url(base + "/signin?notice=signed-out")
    context.close()
