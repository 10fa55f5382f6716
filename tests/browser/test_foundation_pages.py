"""The sign-in, account and admin pages in a real browser: accessible, self-contained."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from server.cli.main import initialize
from server.core.settings import load_settings
from server.people import accounts, groups
from server.people.accounts import Role
from server.people.audit import Actor
from tests.browser.conftest import axe_report, axe_violations, watch
from tests.conftest import PASSWORD, PIN, make_user
from tests.live import running_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("site") / "data"
    database = initialize(load_settings(environ={}, data_dir=data))
    make_user(database, Role.ADMIN, "boss")
    learner = make_user(database, Role.LEARNER, "A100", "Alex Learner")
    group = groups.create_group(database, Actor.system("t"), "Unit A", "housing")
    groups.add_member(database, Actor.system("t"), group.id, learner.id)
    accounts.create_user(database, Actor.system("t"), Role.LEARNER, "N1", "New Person", "es")
    database.close()
    with running_server(data) as base:
        yield base


def test_learner_signs_in_with_the_keyboard_and_switches_language(
    browser: Browser, site: str
) -> None:
    context = browser.new_context()
    watched = watch(context, site)
    page = watched.page
    page.goto(site + "/signin")
    page.get_by_role("button", name="Español").click()
    assert page.locator("html").get_attribute("lang") == "es"
    page.keyboard.press("Tab")  # skip link first
    page.get_by_label("Tu número de ID").fill("a100")
    page.get_by_label("Tu PIN").fill(PIN)
    page.keyboard.press("Enter")
    page.wait_for_url("**/learn")
    # The learner's own language (English) wins after sign-in; the footer switch saves
    # a new choice to their account, not to the shared tablet.
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("button", name="Español").click()
    assert page.locator("html").get_attribute("lang") == "es"
    assert "Alex Learner" in page.content()
    box = page.get_by_role("button", name="Salir").bounding_box()
    assert box and box["height"] >= 44 and box["width"] >= 44
    assert watched.foreign_requests() == []
    assert watched.csp_violations() == []
    state = context.storage_state()
    assert axe_violations(browser, site + "/learn", state) == []
    assert axe_violations(browser, site + "/account", state) == []
    context.close()


PUBLIC_PAGES = ["/signin", "/staff/signin"]
ADMIN_PAGES = [
    "/admin",
    "/admin/users",
    "/admin/users/new",
    "/admin/users/2",
    "/admin/groups",
    "/admin/groups/1",
    "/admin/roster",
    "/admin/audit",
    "/admin/content/watch-list",
    "/admin/credit",
    "/teach",
    "/teach/learners/2/credit",
    "/teach/groups/1/credit",
    "/account/secret",
]


def test_every_foundation_page_passes_axe_and_the_csp(browser: Browser, site: str) -> None:
    context = browser.new_context()
    watched = watch(context, site)
    page = watched.page
    for path in PUBLIC_PAGES:
        page.goto(site + path)
    public = axe_report(browser, [site + path for path in PUBLIC_PAGES], None)
    assert {url: found for url, found in public.items() if found} == {}
    page.goto(site + "/staff/signin")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin")
    state = context.storage_state()
    for path in ADMIN_PAGES:
        response = page.goto(site + path)
        assert response is not None and response.status == 200, path
    admin = axe_report(browser, [site + path for path in ADMIN_PAGES], state)
    assert {url: found for url, found in admin.items() if found} == {}
    assert watched.foreign_requests() == []
    assert watched.csp_violations() == []
    context.close()


def test_one_time_pin_flow_in_the_browser(browser: Browser, site: str, tmp_path: Path) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(site + "/staff/signin")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(site + "/admin/users?q=N1")
    page.get_by_role("link", name="New Person").click()
    page.get_by_role("button", name="Give a new one-time PIN").click()
    pin = page.locator("code.secret").inner_text()
    context.close()
    tablet = browser.new_context()
    page = tablet.new_page()
    page.goto(site + "/signin")
    page.get_by_label("Your ID number").fill("N1")
    page.get_by_label("Your PIN").fill(pin)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/account/secret")
    assert page.locator("html").get_attribute("lang") == "es"
    # A screen reader names the field in a word and reads the rule once, as its description.
    new_pin = page.locator("#new")
    expect(new_pin).to_have_accessible_name("PIN nuevo")
    expect(new_pin).to_have_accessible_description(
        "De 4 a 8 números. No uses números fáciles como 1111 o 1234."
    )
    tablet.close()


def test_roster_upload_form_works_in_the_browser(browser: Browser, site: str) -> None:
    """The upload form carries its CSRF token in its action URL (the server reads no
    upload body before checking it): a real browser's post of a file goes through."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(site + "/staff/signin")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin")
    page.goto(site + "/admin/roster")
    csv = b"facility_id,name,language\nR700,Rosa Reyes,es\n"
    page.get_by_label("CSV file").set_input_files(
        {"name": "roster.csv", "mimeType": "text/csv", "buffer": csv}
    )
    page.get_by_role("button", name="Check the file").click()
    page.wait_for_url("**/admin/roster/check*")
    assert "New learners: 1" in page.content()
    page.get_by_role("button", name="Import now").click()
    assert "R700" in page.content() or "Rosa Reyes" in page.content()
    context.close()


def test_pin_slips_print_as_whole_slips(browser: Browser, site: str) -> None:
    """Printed (Chromium's print media), the PIN sheet is only slips, two to a row, each
    a box that a page break cannot cut, with the learner's steps in their language."""
    context = browser.new_context()
    watched = watch(context, site)
    page = watched.page
    page.goto(site + "/staff/signin")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin")
    page.goto(site + "/admin/roster")
    rows = "".join(f"S{n},Slip Person {n},{'es' if n % 2 else 'en'}\n" for n in range(9))
    page.get_by_label("CSV file").set_input_files(
        {
            "name": "r.csv",
            "mimeType": "text/csv",
            "buffer": f"facility_id,name,language\n{rows}".encode(),
        }
    )
    page.get_by_role("button", name="Check the file").click()
    page.get_by_role("button", name="Import now").click()
    slips = page.locator(".pin-slip")
    assert slips.count() == 9
    assert "Tu PIN de un solo uso" in slips.nth(1).inner_text()
    assert page.get_by_role("button", name="Print the slips").is_visible()
    page.emulate_media(media="print")
    styles = slips.evaluate_all(
        "els => els.map(e => [getComputedStyle(e).display, getComputedStyle(e).breakInside])"
    )
    assert set(map(tuple, styles)) == {("inline-block", "avoid")}
    boxes = [slips.nth(i).bounding_box() for i in range(2)]
    assert boxes[0] and boxes[1] and boxes[0]["y"] == boxes[1]["y"]  # two to a row
    assert page.get_by_role("button", name="Print the slips").is_hidden()
    assert page.locator(".site-header").is_hidden()
    assert page.locator("h1").is_hidden()
    assert watched.csp_violations() == [] and watched.foreign_requests() == []
    context.close()
