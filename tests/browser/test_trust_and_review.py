"""An admin trusts a publisher after checking its root fingerprint, then rejects a course
version with a reason, in a real browser; the pages pass axe-core and the CSP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from content.tuf.repository import add_packages, status
from server.catalog.library import CatalogHooks
from server.catalog.sync import sync_all
from server.core.settings import load_settings
from server.people.accounts import Role
from tests.browser.conftest import AXE, axe_report, watch
from tests.conftest import PASSWORD, make_user, new_database
from tests.content.tuf.helpers import make_repo
from tests.facility import ADMIN, course_package, trust_ngo
from tests.live import running_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int]]:
    """A facility with one course version waiting for review, and a second NGO's
    repository whose root the admin has not trusted yet."""
    base = tmp_path_factory.mktemp("trust")
    settings = load_settings(environ={}, data_dir=base / "data")
    database = new_database(settings)
    make_user(database, Role.ADMIN, "boss")
    repo = make_repo(base, "first")
    add_packages(repo, [course_package(base, 1)])
    trust_ngo(database, repo, auto_publish=False)
    sync_all(database, settings, CatalogHooks(), ADMIN)
    (version_id,) = [r[0] for r in database.query("SELECT id FROM course_versions")]
    database.close()
    make_repo(base, "second")
    with running_server(settings.data_dir) as url:
        yield url, base / "second", version_id


def sign_in(page: Page, url: str) -> None:
    page.goto(url + "/staff/signin")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin")


def upload_root(page: Page, url: str, repo: Path, name: str = "second") -> None:
    """Step one of trusting: the form, up to the page that shows the fingerprint."""
    page.goto(url + "/admin/publishers")
    page.get_by_label("Short name").fill(f"{name}-ngo")
    page.get_by_label("Namespace (course ids it may publish), like org.example").fill(f"org.{name}")
    page.get_by_label("Its root.json").set_input_files(
        str(repo / "published" / "metadata" / "1.root.json")
    )
    page.get_by_role("button", name="Next: check the fingerprint").click()
    expect(page.get_by_role("heading", name="Check the fingerprint")).to_be_visible()


def test_trust_by_fingerprint_then_reject_with_a_reason(
    browser: Browser, site: tuple[str, Path, int]
) -> None:
    url, second, version_id = site
    shown = status(second).root_fingerprint.lines()[0]
    context = browser.new_context()
    watched = watch(context, url)
    page = watched.page
    sign_in(page, url)
    upload_root(page, url, second)
    expect(page.get_by_text(shown)).to_be_visible()
    trust = page.get_by_role("button", name="Trust this publisher")
    box = trust.bounding_box()
    assert box and box["height"] >= 44
    trust.click()  # not ticked: the browser keeps the admin on this page
    expect(page.get_by_text(shown)).to_be_visible()
    page.get_by_label("Every group matches what the publisher gave me").check()
    trust.click()
    page.wait_for_url("**/admin/publishers?notice=created")
    expect(page.get_by_text(shown)).to_have_count(1)

    review = f"{url}/admin/content/versions/{version_id}"
    page.goto(review)
    page.get_by_label("Reason for rejecting").select_option(label="Contact information")
    page.get_by_label("Which lesson").select_option("video")
    page.get_by_label("What you found").fill("A phone number in the video lesson.")
    page.get_by_label("Share what I wrote with the publisher").check()
    page.get_by_role("button", name="Reject").click()
    page.wait_for_url(f"**/admin/content/versions/{version_id}?notice=saved")
    expect(
        page.get_by_text("Contact information: A phone number in the video lesson.")
    ).to_be_visible()

    page.goto(url + "/admin/content")
    page.get_by_role("link", name="All learners").first.click()
    expect(page.get_by_role("heading", name=re.compile("^Who sees"))).to_be_visible()
    offer = page.url

    state = context.storage_state()
    pages = [url + "/admin/publishers", url + "/admin/content/reasons", review]
    pages += [url + "/admin/content", offer]
    found = axe_report(browser, pages, state)
    assert {page_url: problems for page_url, problems in found.items() if problems} == {}
    assert watched.foreign_requests() == []
    assert watched.csp_violations() == []
    context.close()

    # The confirm step answers a POST, so axe runs on it in a context of its own (under a
    # name and namespace not trusted yet: an overlap is refused before the comparison).
    checking = browser.new_context(bypass_csp=True, storage_state=state)
    page = checking.new_page()
    upload_root(page, url, second, "third")
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    assert [v["id"] for v in violations if v["impact"] in ("serious", "critical")] == []
    checking.close()
