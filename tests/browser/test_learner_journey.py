"""A learner's day on a real tablet browser: sign in, continue a course, watch and seek a
video, answer a quiz, write a workbook page that autosaves (also through a dropped
connection), finish the course and print the certificate.

Along the way: no request leaves the server's origin, the CSP is never violated, and
axe-core finds no serious or critical problem on any learner page.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from server.people.accounts import Role
from tests.browser.conftest import (
    TABLET_PORTRAIT,
    answer_right,
    axe_report,
    quiz_questions,
    watch,
)
from tests.conftest import PIN, demo_facility, make_user
from tests.live import running_server

pytestmark = pytest.mark.browser

SAFETY = "/learn/courses/org.stepstone.demo.workplace-safety"
TRAPS = "/learn/courses/org.stepstone.demo.thinking-traps"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data = tmp_path_factory.mktemp("learner") / "data"
    _settings, database = demo_facility(data, indexed=True)
    make_user(database, Role.LEARNER, "A100", "Alex Learner")
    make_user(database, Role.LEARNER, "A101", "Bo Learner")
    database.close()
    with running_server(data, STEPSTONE_DEMO="true") as base:
        yield base, data


def sign_in(page: Page, base: str, facility_id: str = "A100") -> None:
    page.goto(base + "/signin")
    page.get_by_label("Your ID number").fill(facility_id)
    page.get_by_label("Your PIN").fill(PIN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/learn")


def query(data: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(data / "stepstone.db") as db:
        return db.execute(sql, params).fetchall()


def tap_tab(page: Page, name: str) -> None:
    """Tap one of the bottom tabs with a finger, and check it is then the current one."""
    tab = page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)
    box = tab.bounding_box()
    assert box is not None and box["height"] >= 48 and box["width"] >= 48, box
    # In reach of a thumb: at the bottom of the screen, whatever the page's length.
    assert box["y"] + box["height"] >= TABLET_PORTRAIT["height"] - 2, box
    with page.expect_navigation():
        tab.tap()
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)
    ).to_have_attribute("aria-current", "page")


def test_a_learners_day(browser: Browser, site: tuple[str, Path]) -> None:
    base, data = site
    context = browser.new_context(viewport=TABLET_PORTRAIT, has_touch=True)
    context.add_init_script("window.print = () => { window.__printed = true; };")
    watched = watch(context, base)
    ranges: list[int] = []
    page = watched.page
    page.on("response", lambda r: ranges.append(r.status) if "/media/" in r.url else None)
    sign_in(page, base)
    visited = {"/learn"}

    # Start a course from the catalog, reached by the bottom tabs; the first lesson is
    # the video.
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Home")
    ).to_have_attribute("aria-current", "page")
    tap_tab(page, "Courses")
    page.get_by_role("link", name="Workplace Safety").click()
    visited |= {"/learn/catalog", SAFETY}
    page.get_by_role("link", name="Start: Video: four safety habits").click()
    video = page.locator("video#player")
    expect(video).to_be_visible()
    visited.add(SAFETY + "/lessons/four-safety-habits")
    # Watch a little, then seek and pause: the position is saved on the server.
    page.evaluate(
        """async () => { const v = document.getElementById('player'); v.muted = true;
        await v.play(); await new Promise(r => setTimeout(r, 500));
        v.currentTime = 12; await new Promise(r => v.addEventListener('seeked', r, {once: true}));
        v.pause(); }"""
    )
    page.wait_for_function(
        """() => fetch('/learn', {credentials: 'same-origin'}).then(r => r.text())
           .then(t => t.includes('You stopped at 0:12'))""",
        timeout=10_000,
    )
    assert 206 in ranges, "the video was not fetched with Range requests"

    # Home: continue where they left off (the exact lesson and position).
    page.goto(base + "/learn")
    expect(page.get_by_text("You stopped at 0:12.")).to_be_visible()
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url("**/lessons/four-safety-habits")
    start = page.evaluate(
        "() => new Promise(r => { const v = document.getElementById('player');"
        " const done = () => r(v.currentTime);"
        " if (v.readyState >= 1) { setTimeout(done, 300); }"
        " else { v.addEventListener('loadedmetadata', () => setTimeout(done, 300)); } })"
    )
    assert 11 <= start <= 13
    # Watch the rest quickly: 90 % played completes the lesson.
    page.evaluate(
        """async () => { const v = document.getElementById('player'); v.muted = true;
        v.currentTime = 0; v.playbackRate = 16; await v.play();
        await new Promise(r => v.addEventListener('ended', r, {once: true})); }"""
    )
    expect(page.locator("#lesson-status")).to_have_text("Done", timeout=10_000)

    # Four readings and a printable page: "I finished reading".
    for key in (
        "protective-gear",
        "lifting-slips-and-trips",
        "chemicals-and-labels",
        "reporting-hazards-and-your-rights",
        "daily-safety-checklist",
    ):
        page.goto(f"{base}{SAFETY}/lessons/{key}")
        visited.add(f"{SAFETY}/lessons/{key}")
        # With the keyboard: on the PDF lesson, Chromium's viewer may still be laying out
        # the page when a pointer click lands, and the click would hit the PDF instead.
        with page.expect_navigation(timeout=20_000):
            page.get_by_role("button", name="I finished reading").press("Enter")
        expect(page.get_by_text("Lesson done. Good work!")).to_be_visible()

    # The quiz: immediate feedback on one question, then a passing score.
    page.goto(f"{base}{SAFETY}/lessons/safety-quiz")
    visited.add(f"{SAFETY}/lessons/safety-quiz")
    first = page.locator("#question-ppe-meaning")
    first.get_by_label("Personal protective equipment").check()
    first.get_by_role("button", name="Check my answer").click()
    expect(page.locator("#question-ppe-meaning")).to_contain_text("Right!")
    expect(page.locator("#question-ppe-meaning .right-answer")).to_have_text("Right answer")
    for spec in quiz_questions(data, "safety-quiz")[1:]:
        answer_right(page, spec)
    # The quiz was the last lesson: finishing it finishes the course, and the learner
    # lands on the celebration, which leads to the certificate.
    page.get_by_role("button", name="Finish the quiz").click()
    page.wait_for_url("**" + SAFETY + "/finished")
    expect(page.get_by_role("heading", name="You finished the course!")).to_be_visible()
    visited.add(SAFETY + "/finished")
    assert query(data, "SELECT count(*) FROM certificates") == [(1,)]
    page.goto(f"{base}{SAFETY}/lessons/safety-quiz")
    expect(page.get_by_role("heading", name="9 of 9 right — you passed")).to_be_visible()

    # The certificate: from the celebration, printable.
    page.goto(base + SAFETY + "/finished")
    page.get_by_role("link", name="See and print your certificate").click()
    visited.add(page.url.removeprefix(base))
    expect(page.get_by_text("Alex Learner")).to_be_visible()
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("() => window.__printed === true")
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    page.emulate_media(media="screen")

    # A workbook page: drafts autosave, and survive a dropped connection.
    page.goto(f"{base}{TRAPS}/lessons/catch-your-thoughts")
    visited.add(f"{TRAPS}/lessons/catch-your-thoughts")
    first_box = page.locator("textarea").first
    first_box.fill("The officer said no to my phone call.")
    expect(page.locator("#autosave")).to_contain_text("Saved at", timeout=10_000)
    # The connection's live region is in the page while it says nothing, so that a screen
    # reader hears what it says when the connection drops.
    assert page.locator("#connection").evaluate("e => getComputedStyle(e).display") != "none"
    context.set_offline(True)
    first_box.fill("The officer said no to my phone call. I felt angry.")
    expect(page.locator("#autosave")).to_contain_text("no connection", timeout=15_000)
    expect(page.locator("#connection")).to_contain_text("No connection")
    context.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    expect(page.locator("#autosave")).to_contain_text("Saved at", timeout=15_000)
    page.reload()
    expect(page.locator("textarea").first).to_have_value(
        "The officer said no to my phone call. I felt angry."
    )
    # The other tabs: search, and "Me" with the plan and the record.
    tap_tab(page, "Search")
    tap_tab(page, "Me")
    page.get_by_role("link", name="My record").tap()
    page.wait_for_url("**/learn/transcript")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Me", exact=True)
    ).to_have_attribute("aria-current", "page")
    tap_tab(page, "Home")
    # Every other learner page too: choosing a new PIN, the catalog in every language,
    # a search whose filters are open, a page that is not there.
    visited |= {"/learn/transcript", "/learn/plan", "/account", "/account/secret"}
    visited |= {"/search?q=safety", "/search?q=safety&category=vocational"}
    visited |= {"/learn/catalog?language=", TRAPS, "/learn/courses/no.such.course"}

    assert watched.foreign_requests() == []
    assert watched.csp_violations() == []
    state = context.storage_state()
    problems = axe_report(
        browser, [base + path for path in sorted(visited)], state, TABLET_PORTRAIT
    )
    assert {url: found for url, found in problems.items() if found} == {}
    # The same pages in Spanish.
    page.goto(base + "/learn")
    page.get_by_role("button", name="Español").click()
    expect(page.get_by_role("heading", name="Hola, Alex Learner")).to_be_visible()
    state = context.storage_state()
    problems = axe_report(
        browser, [base + path for path in sorted(visited)], state, TABLET_PORTRAIT
    )
    assert {url: found for url, found in problems.items() if found} == {}
    context.close()


def test_a_video_that_finishes_the_course_says_so_on_the_page(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, data = site
    context = browser.new_context(viewport={"width": 800, "height": 1100})
    page = context.new_page()
    sign_in(page, base, "A101")
    # Everything but the video first, through the plain forms.
    page.goto(f"{base}{SAFETY}/lessons/safety-quiz")
    for spec in quiz_questions(data, "safety-quiz"):
        answer_right(page, spec)
    page.get_by_role("button", name="Finish the quiz").click()
    expect(page.locator("#result")).to_contain_text("9 of 9 right")
    for key in (
        "protective-gear",
        "lifting-slips-and-trips",
        "chemicals-and-labels",
        "reporting-hazards-and-your-rights",
        "daily-safety-checklist",
    ):
        page.goto(f"{base}{SAFETY}/lessons/{key}")
        with page.expect_navigation(timeout=20_000):
            page.get_by_role("button", name="I finished reading").press("Enter")
    # The video's length is the file's, not the author's estimate of minutes.
    page.goto(f"{base}{SAFETY}/lessons/four-safety-habits")
    expect(page.locator("#media-length")).to_have_text("· Length 0:22")
    expect(page.locator("#course-finished")).to_be_hidden()
    page.evaluate(
        """async () => { const v = document.getElementById('player'); v.muted = true;
        v.playbackRate = 16; await v.play();
        await new Promise(r => v.addEventListener('ended', r, {once: true})); }"""
    )
    # Said in a live region that was in the page before, so a screen reader announces it.
    finished = page.get_by_role("status").filter(has=page.locator("#course-finished"))
    expect(finished).to_be_visible(timeout=10_000)
    expect(finished).to_contain_text("You finished the course!")
    finished.get_by_role("link", name="See what you did").click()
    expect(page.get_by_role("heading", name="You finished the course!")).to_be_visible()
    context.close()


def test_a_warning_comes_a_minute_before_the_idle_sign_out(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, _data = site
    context = browser.new_context()
    page = context.new_page()
    page.clock.install()
    sign_in(page, base, "A101")
    # The page's clock, which has kept the real time so far, stops three seconds ahead and
    # moves only when told: a slow moment of the machine can then not push the sign-out
    # into one of the jumps below (a page that leaves during a jump can leave that clock
    # call waiting for ever).
    page.clock.pause_at(time.time() + 3)
    warning = page.get_by_role("alertdialog")
    expect(warning).to_be_hidden()
    # The default idle sign-out is 15 minutes: the warning shows at 14. The clock jumps, as
    # for a tablet left alone, firing each timer that falls due once (running every timer
    # of 14 minutes one by one also runs 28 access polls).
    page.clock.fast_forward(14 * 60_000 - 30_000)
    expect(warning).to_be_hidden()
    page.clock.fast_forward(45_000)
    expect(warning).to_be_visible()
    expect(warning.get_by_role("button", name="I am still here")).to_be_focused()
    warning.get_by_role("button", name="I am still here").click()
    expect(warning).to_be_hidden()
    # The clock is stopped, so the new 15 minutes count from now exactly: nothing more
    # happens until a second before the sign-out; then the clock runs on by itself and the
    # page leaves for the sign-in page (the server, whose own clock has not moved, still
    # knows the session and sends it on to /learn). The context closes once that page has
    # loaded: Chromium may ignore a close that meets a navigation, and wait for ever.
    page.clock.fast_forward(15 * 60_000 - 1_000)
    expect(warning).to_be_visible()
    with (
        page.expect_navigation(url="**/learn", timeout=15_000),
        page.expect_request("**/signin?notice=idle", timeout=15_000),
    ):
        page.clock.resume()
    context.close()


def test_reported_progress_waits_for_one_post_and_leaving_sends_it(
    browser: Browser, site: tuple[str, Path]
) -> None:
    """With the facility's default batching (30 s), what the page reports on its own (the
    reading place, time on task) goes in one post, not one each; leaving the page sends
    what still waits, so nothing is lost."""
    base, data = site
    context = browser.new_context(viewport={"width": 400, "height": 600})
    page = context.new_page()
    posts: list[list[str]] = []

    def note(request: Request) -> None:
        if request.url.endswith("/api/events"):
            events = json.loads(request.post_data or "{}").get("events", [])
            posts.append(sorted(event["type"] for event in events))

    page.on("request", note)
    page.clock.install()
    sign_in(page, base, "A101")
    page.goto(base + TRAPS + "/lessons/six-thinking-traps")
    page.mouse.move(200, 300)
    page.mouse.wheel(0, 1500)
    page.clock.run_for(2_000)  # the pause after scrolling that takes the place
    assert posts == []  # waiting for the next post, not sent on its own
    with page.expect_response("**/api/events") as sent:
        page.clock.run_for(30_000)  # the heartbeat at 30 s joins it
    assert sent.value.ok
    assert len(posts) == 1 and set(posts[0]) == {"heartbeat", "progressed"}, posts
    first = place_of(data, "A101")
    assert first is not None and first > 0

    page.mouse.wheel(0, 1500)
    page.clock.run_for(2_000)
    assert len(posts) == 1
    page.goto(base + "/learn")  # leaving: the waiting place goes now
    deadline = time.monotonic() + 10
    while (place_of(data, "A101") or 0) <= first and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (place_of(data, "A101") or 0) > first
    context.close()


def place_of(data: Path, facility_id: str) -> float | None:
    rows = query(
        data,
        "SELECT p.position FROM lesson_progress p JOIN users u ON u.id = p.user_id"
        " WHERE u.facility_id = ? AND p.lesson_key = 'six-thinking-traps'",
        facility_id,
    )
    return None if not rows or rows[0][0] is None else float(str(rows[0][0]))
