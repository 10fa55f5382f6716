"""A learner's release in Chromium: staff issue the Learning Passport, it prints (A4 and
Letter) in the learner's language with its QR code, the signed file downloads, and
/verify finds both the file and the scanned check code genuine. No request leaves the
server, the CSP holds, and axe-core finds nothing serious."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from pypdf import PdfReader

from server.core.settings import load_settings
from server.people.accounts import Role
from tests.browser.conftest import axe_report, watch
from tests.conftest import PASSWORD, demo_facility, make_user
from tests.live import running_server
from tests.server.records.records_helpers import MATH, SAFETY, finish, goal_met

pytestmark = pytest.mark.browser

MM = 96 / 25.4  # CSS pixels in a millimetre


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    data = tmp_path_factory.mktemp("passport") / "data"
    _settings, database = demo_facility(data)
    settings = load_settings(environ={}, data_dir=data, demo=True)
    make_user(database, Role.ADMIN, "boss")
    learner = make_user(database, Role.LEARNER, "B200", "Bea Learner", language="es")
    finish(database, settings, learner, MATH, score=85.0)
    finish(database, settings, learner, SAFETY, score=100.0)
    goal_met(database, learner, "Terminar el curso de matemáticas")
    database.close()
    with running_server(data, STEPSTONE_DEMO="true") as base:
        yield base, learner.id


def _pdf_text(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), " ".join(page.extract_text() for page in reader.pages)


def test_a_passport_is_issued_printed_and_verified(
    browser: Browser, site: tuple[str, int], tmp_path: Path
) -> None:
    base, learner_id = site
    context = browser.new_context(viewport={"width": 1000, "height": 1200}, accept_downloads=True)
    watched = watch(context, base)
    page = watched.page
    page.goto(base + "/staff/signin")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin")
    page.goto(f"{base}/teach/learners/{learner_id}")
    page.get_by_role("link", name="Learning Passport").click()
    page.get_by_role("button", name="Issue a Learning Passport now").click()
    page.wait_for_url(re.compile(r".*/teach/passports/[0-9a-f]{16}(\?.*)?$"))
    passport_url = page.url.split("?")[0]

    # In the learner's language, whoever prints it.
    assert page.locator("html").get_attribute("lang") == "es"
    expect(page.get_by_role("heading", level=1)).to_have_text("Pasaporte de aprendizaje")
    expect(page.locator(".passport-name")).to_have_text("Bea Learner")
    expect(page.locator(".passport-courses > li")).to_have_count(2)
    check_code = page.locator(".check-code code").inner_text()
    assert check_code.startswith("STEPSTONE:")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Descargar el archivo firmado").click()
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    assert saved.suffix == ".stepstone-passport" and b'"passport_id"' in saved.read_bytes()

    # Printed: no menu or buttons, one column, a QR code at least 5 cm wide.
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".actions-bar")).to_be_hidden()
    expect(page.locator(".notice")).to_be_hidden()
    qr = page.locator(".qr-code").first.bounding_box()
    assert qr is not None and qr["width"] >= 50 * MM and qr["height"] >= 50 * MM
    courses = page.locator(".passport-courses > li").all()
    lefts = {round((box or {"x": 0})["x"]) for box in (c.bounding_box() for c in courses)}
    assert len(lefts) == 1  # one column
    for paper in ("A4", "Letter"):
        pages, text = _pdf_text(page.pdf(format=paper))
        assert 1 <= pages <= 2, paper
        assert "Pasaporte de aprendizaje" in text and "Bea Learner" in text
        assert "Everyday Math" in text and "Terminar el curso de matemáticas" in text
        assert "Descargar" not in text and "Imprimir" not in text
    page.emulate_media(media="screen")

    # Checked at /verify: the file, and the code a scanner types from the QR code.
    page.goto(base + "/verify")
    page.set_input_files("#file", str(saved))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="This Learning Passport is genuine.")).to_be_visible()
    expect(page.get_by_text("Bea Learner (B200)")).to_be_visible()
    page.get_by_label("Code on the certificate, or scan the QR code").fill(check_code)
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.get_by_role("heading", name="This Learning Passport is genuine.")).to_be_visible()

    assert watched.foreign_requests() == []
    assert watched.csp_violations() == []
    state = context.storage_state()
    context.close()
    report = axe_report(browser, [passport_url, base + "/verify"], state)
    assert report == {passport_url: [], base + "/verify": []}
