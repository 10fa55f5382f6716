"""Transfers in a real browser: the learner's pages and the admin's upload, preview and
confirm are accessible (axe-core), keyboard- and touch-sized, and load nothing from outside."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from server.people.accounts import Role
from server.records import transfer_out
from tests.browser.conftest import AXE, axe_report, watch
from tests.conftest import PASSWORD, PIN, make_user
from tests.live import running_server
from tests.server.records.conftest import SAFETY, Pair, live, make_pair, page
from tests.server.records.twofacilities import ADMIN

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Pair, Path]]:
    root = tmp_path_factory.mktemp("transfers")
    pair = make_pair(root)
    make_user(pair.b.database, Role.ADMIN, "boss")
    _, _, keys = live(pair.b.database, SAFETY)
    page(pair.b.database, pair.bea, SAFETY, keys[2], {"private-note": "Mine alone"})
    bundle = root / "alex.stepstone-transfer"
    bundle.write_bytes(
        transfer_out.export_learner(pair.a.database, pair.a.settings, ADMIN, pair.alex).data
    )
    pair.a.database.close()
    pair.b.database.close()
    with running_server(pair.b.settings.data_dir) as base:
        yield base, pair, bundle


def test_an_admin_imports_and_the_learner_sees_it(
    browser: Browser, site: tuple[str, Pair, Path]
) -> None:
    base, _, bundle = site
    context = browser.new_context()
    watched = watch(context, base)
    page = watched.page
    page.goto(base + "/staff/signin")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin")
    staff = context.storage_state()
    problems = axe_report(browser, [base + "/admin/transfers"], staff)
    problems["preview"] = _axe_on_preview(browser, base, staff, bundle)
    page.goto(base + "/admin/transfers")
    page.get_by_label("Transfer file").set_input_files(str(bundle))
    page.get_by_role("button", name="Check the file").click()
    page.wait_for_url("**/admin/transfers/check*")
    assert "Kept as completed elsewhere" in page.content()
    page.get_by_label("A learner who already has an account here").check()
    page.get_by_label("Their ID number here").fill("S-77")
    page.get_by_role("button", name="Import it").click()
    page.wait_for_url("**/admin/transfers/import")
    assert "now part of" in page.content()
    assert watched.foreign_requests() == [] and watched.csp_violations() == []
    context.close()

    tablet = browser.new_context()
    watched = watch(tablet, base)
    page = watched.page
    page.goto(base + "/signin")
    page.get_by_label("Your ID number").fill("S-77")
    page.get_by_label("Your PIN").fill(PIN)
    page.keyboard.press("Enter")
    page.wait_for_url("**/learn")
    assert "What came with you" in page.content()
    page.goto(base + "/learn/take-with-me")
    box = page.locator("label.choice").first
    size = box.bounding_box()
    assert size and size["height"] >= 44
    box.locator("input").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Save my choice").click()
    page.wait_for_url("**/learn/take-with-me*")
    assert page.locator("label.choice input").first.is_checked()
    learner = tablet.storage_state()
    pages = ["/learn", "/learn/transcript", "/learn/take-with-me"]
    problems |= axe_report(browser, [base + path for path in pages], learner)
    assert {url: found for url, found in problems.items() if found} == {}
    assert watched.foreign_requests() == [] and watched.csp_violations() == []
    tablet.close()


def _axe_on_preview(browser: Browser, base: str, state: Any, bundle: Path) -> list[str]:
    """axe-core on the preview page, which only a posted upload reaches."""
    context = browser.new_context(bypass_csp=True, storage_state=state)
    try:
        page = context.new_page()
        page.goto(base + "/admin/transfers")
        page.get_by_label("Transfer file").set_input_files(str(bundle))
        page.get_by_role("button", name="Check the file").click()
        page.wait_for_url("**/admin/transfers/check*")
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        )
    finally:
        context.close()
    return [f"{v['id']}: {v['help']}" for v in result if v["impact"] in ("serious", "critical")]
