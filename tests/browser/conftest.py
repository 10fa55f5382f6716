"""Browser tests: Playwright driving Debian's Chromium against a real uvicorn.

Every page visit records the requests the page made and the console messages, so a test
can assert that nothing left the server's origin and that the Content-Security-Policy
was never violated. axe-core (installed from npm for tests only, never served) runs in a
second browser context with `bypass_csp`, so that the policy check itself runs in a
normal context.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

from server.cli.demo import publish_demo_courses
from server.cli.main import initialize
from server.core.settings import load_settings
from server.people.accounts import Role
from tests.conftest import PIN, Templates, _build_migrated, copy_facility, make_user
from tests.live import running_server

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
# Requests that never leave the tablet: inline data, and Chromium's own PDF viewer (a
# built-in extension that draws an inline PDF; it loads its own files from the browser).
LOCAL = (
    "data:",
    "blob:",
    "chrome://resources/",
    "chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/",
)
# A cheap tablet held upright: what learner pages are drawn for.
TABLET_PORTRAIT: ViewportSize = {"width": 800, "height": 1280}
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (bash .ci/run does it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@dataclass
class Watched:
    """A page plus what it did: every request URL and every console message."""

    page: Page
    origin: str
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith((self.origin, *LOCAL))]

    def csp_violations(self) -> list[str]:
        return [text for text in self.console if "Content Security Policy" in text]


def watch(context: BrowserContext, origin: str) -> Watched:
    page = context.new_page()
    watched = Watched(page, origin)
    page.on("request", lambda request: watched.requests.append(request.url))
    page.on("console", lambda message: watched.console.append(message.text))
    return watched


def axe_violations(browser: Browser, url: str, storage_state: Any) -> list[str]:
    """Serious and critical axe-core violations on `url`, signed in as in `storage_state`."""
    return axe_report(browser, [url], storage_state)[url]


def axe_report(
    browser: Browser, urls: list[str], storage_state: Any, viewport: ViewportSize | None = None
) -> dict[str, list[str]]:
    """:func:`axe_violations` of each of `urls`, visited in turn in one browser context
    (a context per page cost more than the check itself), at `viewport` size if given."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: npm --prefix tests/browser install")
    context = (
        browser.new_context(bypass_csp=True, storage_state=storage_state, viewport=viewport)
        if viewport
        else browser.new_context(bypass_csp=True, storage_state=storage_state)
    )
    found = {}
    try:
        page = context.new_page()
        for url in urls:
            page.goto(url)
            page.add_script_tag(path=str(AXE))
            result = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            )
            found[url] = [
                f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
                for v in result
                if v["impact"] in ("serious", "critical")
            ]
    finally:
        context.close()
    return found


def quiz_questions(data_dir: Path, lesson_key: str) -> list[dict[str, Any]]:
    """The questions of a quiz lesson as imported (the tests know the right answers)."""
    with sqlite3.connect(data_dir / "stepstone.db") as db:
        row = db.execute("SELECT data FROM lessons WHERE key = ? LIMIT 1", [lesson_key]).fetchone()
    assert row is not None, lesson_key
    return list(json.loads(row[0])["quiz"]["questions"])


def answer_right(page: Page, spec: dict[str, Any]) -> None:
    """Answer one question right, the way a learner would: by its labels."""
    question = page.locator(f"#question-{spec['key']}")
    if spec["type"] == "short-answer":
        question.get_by_label("Your answer").fill(spec["accepted"][0])
    elif spec["type"] == "true-false":
        question.get_by_label("True" if spec["answer"] else "False", exact=True).check()
    else:
        for choice in spec["choices"]:
            if choice.get("correct"):
                question.get_by_label(choice["text"], exact=True).check()


@contextmanager
def courses_served(root: Path) -> Iterator[tuple[str, Path]]:
    """A demo-mode facility with the course folders in ``root/courses`` published and the
    learner A100, served by a real server; yields its base URL and data folder."""
    data = root / "data"
    copy_facility(Templates.get("migrated", _build_migrated), data)
    settings = load_settings(environ={}, data_dir=data, demo=True)
    database = initialize(settings)
    report = publish_demo_courses(settings, database, root / "courses")
    assert report.status == "ok", report.message
    make_user(database, Role.LEARNER, "A100", "Alex Learner")
    database.close()
    # Progress a page reports on its own goes within a second, not the facility's 30 s:
    # these tests wait for it (test_event_batching.py tests the default).
    with running_server(data, STEPSTONE_DEMO="true", STEPSTONE_EVENT_BATCH_SECONDS="1") as base:
        yield base, data


def sign_in_learner(page: Page, base: str, login: str = "A100") -> None:
    """Sign a learner in through the form, as on a tablet, and wait for their home."""
    page.goto(base + "/signin")
    page.get_by_label("Your ID number").fill(login)
    page.get_by_label("Your PIN").fill(PIN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/learn")
