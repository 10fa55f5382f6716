"""The passport and badge pages: staff issue a passport at release, it prints in the
learner's language with its QR code, the learner keeps it; /verify checks the file, the
check code and an Open Badge, and says "revoked" where this facility revoked."""

from __future__ import annotations

import base64
import re

import pytest
from starlette.testclient import TestClient

from server.core.db import Database
from server.core.settings import Settings
from server.learning import certificates
from server.records import checkcodes, passports
from tests.conftest import CSRF_RE, People, form_action, post, sign_in
from tests.server.records.records_helpers import MATH, STAFF, finish, goal_met

pytestmark = pytest.mark.demo


def _client(client: TestClient) -> TestClient:
    return TestClient(client.app, base_url="http://testserver")


def _upload(staff: TestClient, data: bytes, name: str) -> str:
    action = form_action(staff, "/verify", "/verify/file")
    response = staff.post(action, files={"file": (name, data, "application/octet-stream")})
    assert response.status_code == 200
    return response.text


def test_staff_issue_a_passport_that_prints_in_the_learners_language(
    client: TestClient, settings: Settings, database: Database, people: People
) -> None:
    learner = people.other_learner  # reads Spanish
    finish(database, settings, learner, MATH, score=75.0)
    goal_met(database, learner, "Sacar el carné de conducir")
    sign_in(client, people.admin)
    page = client.get(f"/teach/learners/{learner.id}/passports")
    assert page.status_code == 200 and "Issue a Learning Passport now" in page.text
    assert "Everyday Math" in page.text  # what it would say
    # The form on the page itself, with the token it carries.
    form = rf'action="/teach/learners/{learner.id}/passports">\s*<input type="hidden" '
    token = re.search(form + CSRF_RE.pattern, page.text)
    assert token is not None
    issued = client.post(
        f"/teach/learners/{learner.id}/passports",
        data={"csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert issued.status_code == 303
    [passport] = passports.of_learner(database, learner.id)
    assert issued.headers["location"].startswith(f"/teach/passports/{passport.id}")
    printed = client.get(f"/teach/passports/{passport.id}")
    assert printed.status_code == 200
    html = printed.text
    assert '<html lang="es">' in html and "Pasaporte de aprendizaje" in html
    assert "Bea Learner" in html and "Sacar el carné de conducir" in html
    assert "1 curso terminado" in html and "75%" in html
    assert '<svg viewBox="0 0' in html and 'class="qr-code"' in html
    [code] = re.findall(r"<code>(STEPSTONE:[A-Za-z0-9_-]+)</code>", html)
    assert checkcodes.read(code)["id"] == passport.id
    download = client.get(f"/teach/passports/{passport.id}/file")
    assert download.content == passport.data
    assert passports.FILE_SUFFIX in download.headers["content-disposition"]
    # The learner finds it on their own page, and only they (and staff) get the file.
    mine = _client(client)
    sign_in(mine, learner)
    own = mine.get("/learn/passport")
    assert own.status_code == 200 and passport.id in own.text and "qr-code" in own.text
    assert mine.get(f"/learn/passport/{passport.id}/file").content == passport.data
    other = _client(client)
    sign_in(other, people.learner)
    assert other.get(f"/learn/passport/{passport.id}/file").status_code == 404
    preview = other.get("/learn/passport")
    assert preview.status_code == 200 and "This is what it will say today." in preview.text


def test_verify_checks_a_passport_file_and_its_check_code(
    client: TestClient, settings: Settings, database: Database, people: People
) -> None:
    finish(database, settings, people.learner, MATH)
    passport = passports.issue(database, settings, STAFF, people.learner)
    sign_in(client, people.educator)
    page = _upload(client, passport.data, passport.filename)
    assert "This Learning Passport is genuine." in page and "Alex Learner" in page
    assert "This facility issued it and has not revoked it." in page
    forged = passport.data.replace(b'"Alex Learner"', b'"Alan Learner"', 1)
    refused = _upload(client, forged, passport.filename)
    assert "Not genuine: do not accept it." in refused and "changed after signing" in refused
    code = checkcodes.for_passport(settings, passport)
    checked = client.get("/verify", params={"code": code})
    assert checked.status_code == 200 and "This Learning Passport is genuine." in checked.text
    assert "Choose a file." in post(client, "/verify/file", token_from="/verify").text


def test_an_open_badge_downloads_verifies_and_reports_revocation(
    client: TestClient, settings: Settings, database: Database, people: People
) -> None:
    cert = finish(database, settings, people.learner, MATH)
    sign_in(client, people.learner)
    page = client.get(f"/learn/certificates/{cert.code}")
    assert f"/learn/certificates/{cert.code}/open-badge" in page.text and "qr-code" in page.text
    badge = client.get(f"/learn/certificates/{cert.code}/open-badge")
    assert badge.status_code == 200 and badge.headers["content-type"].startswith(
        "application/vc+jwt"
    )
    token = badge.content
    header = base64.urlsafe_b64decode(token.split(b".")[0] + b"==")
    assert b'"alg":"EdDSA"' in header
    staff = _client(client)
    sign_in(staff, people.admin)
    assert "This Open Badges credential is genuine." in _upload(staff, token, "badge.jwt")
    head, body, sig = token.split(b".")
    flipped = body[:20] + (b"A" if body[20:21] != b"A" else b"B") + body[21:]
    assert "Not genuine" in _upload(staff, b".".join([head, flipped, sig]), "badge.jwt")
    # Revoked here: the badge, the code and the certificate page all say so.
    certificates.revoke(database, settings, STAFF, cert.code, "Issued by mistake")
    revoked = _upload(staff, token, "badge.jwt")
    assert "Revoked: the facility that issued it withdrew it." in revoked
    assert "Issued by mistake" in revoked
    by_code = staff.get(f"/verify/{cert.code}").text
    assert "Revoked: the facility that issued it withdrew it." in by_code
    assert (
        "This certificate was revoked: Issued by mistake"
        in client.get(f"/learn/certificates/{cert.code}").text
    )
    assert client.get(f"/learn/certificates/{cert.code}/open-badge").status_code == 404


def test_an_admin_revokes_a_certificate_from_its_verify_page(
    client: TestClient, settings: Settings, database: Database, people: People
) -> None:
    cert = finish(database, settings, people.learner, MATH)
    educator = _client(client)
    sign_in(educator, people.educator)
    assert "Revoke this certificate" not in educator.get(f"/verify/{cert.code}").text
    sign_in(client, people.admin)
    page = client.get(f"/verify/{cert.code}").text
    form = rf'action="/verify/{cert.code}/revoke" class="stack">\s*<input type="hidden" '
    token = re.search(form + CSRF_RE.pattern, page)
    assert token is not None
    action = f"/verify/{cert.code}/revoke"
    short = client.post(action, data={"csrf_token": token.group(1), "reason": "x"})
    assert short.status_code == 400 and "3 to 500 characters" in short.text
    done = client.post(action, data={"csrf_token": token.group(1), "reason": "Wrong learner"})
    assert done.status_code == 200 and "This certificate was revoked: Wrong learner" in done.text
    found = certificates.find(database, settings, cert.code)
    assert found is not None and found.revoked
    entry = database.query_one("SELECT * FROM audit_log WHERE action = 'certificate.revoke'")
    assert entry is not None and entry["actor"] == people.admin.label
