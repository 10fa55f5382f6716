"""Interactive lessons in Chromium: a well-behaved app finishes its lesson through the
page's bridge, and a hostile app, run as a learner's lesson, gets nothing through.

The hostile app (tests/apps/hostile) tries each thing an app must not do and reports,
per attempt, whether it got through. Each test below asserts one property of the sandbox;
each fails when that property is taken away (see the docstrings).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from server.core.db import Database
from server.people import groups
from server.people.accounts import Role, find_user
from server.people.audit import Actor
from tests.appcourse import COURSE_URL, app_facility
from tests.browser.conftest import Watched, axe_violations, sign_in_learner, watch
from tests.conftest import PASSWORD, make_user
from tests.live import running_server

pytestmark = pytest.mark.browser

# Collects what the hostile app posts to its parent (an init script is not subject to
# the page's policy; it only listens).
ANSWERED: list[str] = []
LISTEN = """window.__hostile = null;
window.addEventListener("message", function (e) {
  if (e.data && e.data.hostile) { window.__hostile = e.data.hostile; }
});"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data = app_facility(tmp_path_factory.mktemp("interactive"))
    database = Database(data / "stepstone.db")
    teacher = make_user(database, Role.EDUCATOR, "teacher", "Terry Teacher")
    found = find_user(database, Role.LEARNER, "A100")
    assert found is not None
    group = groups.create_group(database, Actor.system("t"), "Reentry class", "class")
    groups.add_member(database, Actor.system("t"), group.id, teacher.id)
    groups.add_member(database, Actor.system("t"), group.id, found[0].id)
    database.close()
    with running_server(data, STEPSTONE_DEMO="true") as base:
        yield base, data


@pytest.fixture(scope="module")
def hostile(browser: Browser, site: tuple[str, Path]) -> Iterator[tuple[Watched, dict[str, Any]]]:
    """The hostile lesson opened once by a signed-in learner, and what the app reported."""
    base, _ = site
    context = browser.new_context()
    context.add_init_script(LISTEN)
    watched = watch(context, base)
    page = watched.page
    sign_in_learner(page, base)
    # Chromium announces a request before its policy checks stop it: what counts is
    # whether an answer came back, and why a request failed.
    page.on("response", lambda response: ANSWERED.append(response.url))
    page.goto(base + COURSE_URL + "/lessons/hostile")
    page.wait_for_function("() => window.__hostile !== null", timeout=20_000)
    report: dict[str, Any] = page.evaluate("() => window.__hostile")
    # Its last two tries (a form to the app's host and moving the top page) come after
    # the report; Chromium says when it blocks each.
    for needle in ("allow-forms", "allow-top-navigation"):
        _wait_for_console(watched, needle)
    yield watched, report
    context.close()


def _wait_for_console(watched: Watched, needle: str) -> None:
    page = watched.page
    for _ in range(100):
        if any(needle in text for text in watched.console):
            return
        page.wait_for_timeout(50)  # console messages arrive between event-loop turns
    raise AssertionError(f"Chromium never reported blocking ({needle}): {watched.console}")


def reached(report: dict[str, Any], name: str) -> bool:
    assert name in report, report
    return bool(report[name]["reached"])


def test_the_app_cannot_read_the_learners_cookie_storage_or_csrf_token(
    hostile: tuple[Watched, dict[str, Any]],
) -> None:
    """Fails when the frame shares the page's origin (no `sandbox`, or
    `allow-same-origin` with the app's own host as sandbox_origin)."""
    _, report = hostile
    assert not reached(report, "read-cookie"), report["read-cookie"]
    assert not reached(report, "read-storage"), report["read-storage"]
    assert not reached(report, "read-csrf-token"), report["read-csrf-token"]


def test_the_app_cannot_script_the_top_page(hostile: tuple[Watched, dict[str, Any]]) -> None:
    """Fails when the frame shares the page's origin."""
    watched, report = hostile
    assert not reached(report, "script-top-page")
    assert watched.page.evaluate("() => document.body.getAttribute('data-hacked')") is None


def test_the_app_cannot_call_stepstone_endpoints(hostile: tuple[Watched, dict[str, Any]]) -> None:
    """Fails when the sandbox policy's connect-src allows more than the app's prefix."""
    watched, report = hostile
    assert not reached(report, "post-events-relative"), report["post-events-relative"]
    assert not reached(report, "post-events-as-learner"), report["post-events-as-learner"]
    assert not [url for url in ANSWERED if url.endswith("/api/events")]
    refused = [t for t in watched.console if "Content Security Policy" in t]
    assert any("/api/events" in t and "connect-src" in t for t in refused), refused


def test_the_app_cannot_reach_another_origin(hostile: tuple[Watched, dict[str, Any]]) -> None:
    """Fails when the sandbox policy's img-src or connect-src allow other origins."""
    watched, report = hostile
    assert not reached(report, "other-origin-image"), report["other-origin-image"]
    assert not reached(report, "outside-host"), report["outside-host"]
    assert not [url for url in ANSWERED if "outside.invalid" in url or "from-app" in url]
    # Stopped by the sandbox's policy, which Chromium says in the console.
    refused = [t for t in watched.console if "Content Security Policy" in t]
    assert any("outside.invalid" in t and "connect-src" in t for t in refused), refused
    assert any("from-app" in t and "img-src" in t for t in refused), refused


def test_the_app_loads_its_own_files_and_nothing_else_of_the_server(
    hostile: tuple[Watched, dict[str, Any]],
) -> None:
    """Fails when the server's path check is dropped (the encoded ../ stays inside the
    app's prefix, so only the server can refuse it) or img-src allows the app's host."""
    _, report = hostile
    assert reached(report, "own-file"), report["own-file"]
    assert reached(report, "own-image"), report["own-image"]
    assert not reached(report, "escape-own-folder"), report["escape-own-folder"]
    assert not reached(report, "other-course-file"), report["other-course-file"]


def test_the_app_cannot_open_windows_submit_forms_or_move_the_page(
    site: tuple[str, Path], hostile: tuple[Watched, dict[str, Any]]
) -> None:
    """Fails when the iframe's sandbox allows popups, forms or top navigation."""
    base, _ = site
    watched, report = hostile
    assert not reached(report, "open-window")
    assert len(watched.page.context.pages) == 1
    assert watched.page.url == base + COURSE_URL + "/lessons/hostile"
    assert not [u for u in ANSWERED if u.endswith(("/signout", "/account"))]


def test_a_well_behaved_app_finishes_its_lesson(browser: Browser, site: tuple[str, Path]) -> None:
    base, data = site
    context = browser.new_context()
    watched = watch(context, base)
    page = watched.page
    sign_in_learner(page, base)
    page.goto(base + COURSE_URL + "/lessons/counter")
    app = page.frame_locator("#app-frame")
    button = app.get_by_role("button", name="Count")
    # The status that will say "Well done" is a live region: in the page while empty, so
    # that a screen reader hears it.
    assert page.locator("#app-status").evaluate("e => getComputedStyle(e).display") != "none"
    with page.expect_response("**/api/events", timeout=10_000) as sent:
        for _ in range(3):
            button.click()
        expect(page.get_by_role("status").filter(has_text="Well done")).to_be_visible()
    assert sent.value.ok
    with sqlite3.connect(data / "stepstone.db") as db:
        row = db.execute(
            "SELECT status FROM lesson_progress WHERE lesson_key = 'counter'"
        ).fetchone()
        method = db.execute(
            "SELECT data FROM progress_events WHERE lesson_key = 'counter' AND type = 'completed'"
        ).fetchone()
    assert row == ("done",)
    assert method is not None and '"method": "app"' in method[0]
    educator_sees(browser, base, "Count to three", "done", "—")
    assert watched.csp_violations() == []
    state = context.storage_state()
    context.close()
    assert axe_violations(browser, base + COURSE_URL + "/lessons/counter", state) == []


def educator_sees(browser: Browser, base: str, lesson: str, result: str, score: str) -> None:
    """The learner's educator opens the class board, then the learner's page: the lesson
    is in "Interactive activities" with its result and score, as the content reported."""
    context = browser.new_context()
    page = watch(context, base).page
    page.goto(base + "/staff/signin")
    page.get_by_label("Username").fill("teacher")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/teach")
    page.get_by_role("link", name="Reentry class").click()
    page.get_by_role("link", name="Alex Learner").first.click()
    section = page.get_by_role("region", name="Interactive activities")
    row = section.get_by_role("row").filter(has_text=re.compile(f"^{re.escape(lesson)} "))
    expect(row.get_by_role("cell")).to_have_text(
        [re.compile(f"^{re.escape(lesson)} "), result, score, re.compile(".")]
    )
    context.close()


def events_with(text: str) -> Any:
    """A predicate for `expect_response`: a batch of events whose body holds `text`."""
    return lambda r: r.url.endswith("/api/events") and text in (r.request.post_data or "")


def lesson_row(data: Path, key: str) -> tuple[str, float | None] | None:
    with sqlite3.connect(data / "stepstone.db") as db:
        row = db.execute(
            "SELECT status, score FROM lesson_progress WHERE lesson_key = ?", [key]
        ).fetchone()
    return None if row is None else (str(row[0]), row[1])


def test_a_scorm_12_sco_resumes_on_another_tablet_and_passes(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, data = site
    first = browser.new_context()
    page = watch(first, base).page
    sign_in_learner(page, base)
    page.goto(base + COURSE_URL + "/lessons/signs")
    sco = page.frame_locator("#app-frame")
    expect(sco.get_by_text("Page 1 (ab-initio)")).to_be_visible(timeout=10_000)
    with page.expect_response(events_with("page=2"), timeout=10_000) as sent:
        sco.get_by_role("button", name="Next page").click()
    assert sent.value.ok
    first.close()

    second = browser.new_context()  # another tablet: only the server knows the place
    watched = watch(second, base)
    page = watched.page
    sign_in_learner(page, base)
    page.goto(base + COURSE_URL + "/lessons/signs")
    sco = page.frame_locator("#app-frame")
    expect(sco.get_by_text("Page 2 (resume)")).to_be_visible(timeout=10_000)
    with page.expect_response(events_with("passed"), timeout=10_000) as sent:
        sco.get_by_role("button", name="Finish").click()
    assert sent.value.ok
    done = page.get_by_role("status").filter(has_text="Well done")
    expect(done).to_contain_text("Score: 80%")
    assert lesson_row(data, "signs") == ("done", 80.0)
    assert watched.csp_violations() == []
    second.close()
    educator_sees(browser, base, "Safety signs", "done", "80%")


def test_a_scorm_2004_package_of_two_scos_completes_when_both_are(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, data = site
    context = browser.new_context()
    page = watch(context, base).page
    sign_in_learner(page, base)
    page.goto(base + COURSE_URL + "/lessons/interview")
    sco = page.frame_locator("#app-frame")
    expect(sco.get_by_text("Started (ab-initio)")).to_be_visible(timeout=10_000)
    with page.expect_response(events_with("passed"), timeout=10_000):
        sco.get_by_role("button", name="Finish part one").click()
    assert lesson_row(data, "interview") == ("in_progress", None)
    page.get_by_role("link", name="During the interview").click()
    sco = page.frame_locator("#app-frame")
    with page.expect_response(events_with("passed"), timeout=10_000):
        sco.get_by_role("button", name="Finish part two").click()
    assert lesson_row(data, "interview") == ("done", 90.0)
    context.close()


def test_an_h5p_activity_runs_in_the_sandbox_and_its_score_counts(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, data = site
    context = browser.new_context()
    watched = watch(context, base)
    page = watched.page
    sign_in_learner(page, base)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + COURSE_URL + "/lessons/ready")
    button = page.frame_locator("#app-frame").get_by_role("button", name="Yes, I am ready")
    expect(button).to_be_visible(timeout=20_000)
    with page.expect_response(events_with("completed"), timeout=10_000) as sent:
        button.click()
    assert sent.value.ok
    assert lesson_row(data, "ready") == ("done", 100.0)
    educator_sees(browser, base, "Ready for the interview", "done", "100%")
    # The player and the content came from this server: the page's origin or the sandbox's.
    sandbox = base.replace("127.0.0.1", "localhost")
    assert [u for u in watched.foreign_requests() if not u.startswith(sandbox)] == []
    assert errors == []
    context.close()
