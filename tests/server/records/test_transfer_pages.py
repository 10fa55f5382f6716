"""Transfers in the browser: the learner's "Pages to take with me", the admin's upload,
preview and confirm, and what the learner and their educator see afterwards."""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.people.accounts import Role
from server.records import identity, transfer_out
from server.web.app import create_app
from tests.conftest import CSRF_RE, form_action, make_user, sign_in
from tests.server.records.conftest import MATH, Pair, export
from tests.server.records.twofacilities import ADMIN, Facility


def _client(facility: Facility) -> Iterator[TestClient]:
    with TestClient(create_app(facility.settings), base_url="http://testserver") as client:
        yield client


@pytest.fixture
def at_a(pair: Pair) -> Iterator[TestClient]:
    yield from _client(pair.a)


@pytest.fixture
def at_b(pair: Pair) -> Iterator[TestClient]:
    yield from _client(pair.b)


def _csrf(client: TestClient, page: str) -> str:
    found = CSRF_RE.search(client.get(page).text)
    assert found
    return found.group(1)


def test_the_learner_chooses_the_pages_to_take(pair: Pair, at_a: TestClient) -> None:
    sign_in(at_a, pair.alex)
    page = at_a.get("/learn/take-with-me")
    assert page.status_code == 200
    assert page.text.count('type="checkbox"') == 3 and page.text.count(" checked") == 2
    assert "solo tú puedes leerla" in page.text  # Alex reads Spanish
    choices = transfer_out.page_choices(pair.a.database, pair.alex.id)
    keep = next(c.entry_id for c in choices if not c.private and c.chosen)
    token = _csrf(at_a, "/learn/take-with-me")
    saved = at_a.post(
        "/learn/take-with-me",
        data={"csrf_token": token, "page": [str(keep)]},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    chosen = [
        c.entry_id for c in transfer_out.page_choices(pair.a.database, pair.alex.id) if c.chosen
    ]
    assert chosen == [keep]
    other = make_user(pair.a.database, Role.LEARNER, "A300", "Other")
    mine = [c.entry_id for c in choices]
    with TestClient(create_app(pair.a.settings)) as stranger:
        sign_in(stranger, other)
        refused = stranger.post(
            "/learn/take-with-me",
            data={"csrf_token": _csrf(stranger, "/learn/take-with-me"), "page": [str(mine[0])]},
            follow_redirects=False,
        )
    assert refused.status_code == 400
    assert [
        c.entry_id for c in transfer_out.page_choices(pair.a.database, pair.alex.id) if c.chosen
    ] == [keep]


def test_an_admin_imports_with_a_preview_and_the_learner_sees_what_came(
    pair: Pair, at_b: TestClient
) -> None:
    admin = make_user(pair.b.database, Role.ADMIN, "boss")
    sign_in(at_b, admin)
    data = export(pair.a, pair.alex)
    action = form_action(at_b, "/admin/transfers", "/admin/transfers/check")
    shown = at_b.post(action, files={"file": ("x.stepstone-transfer", data)})
    assert shown.status_code == 200, shown.text
    assert "North Unit" in shown.text and "Kept as completed elsewhere" in shown.text
    assert identity.own_fingerprint(pair.a.settings) in shown.text
    token = re.search(r'name="token" value="([^"]+)"', shown.text)
    assert token
    form = {"csrf_token": _csrf(at_b, "/admin/transfers"), "token": token.group(1)}
    unknown = at_b.post("/admin/transfers/import", data=form | {"account": "match", "login": "X"})
    assert unknown.status_code == 400 and "No learner with the id" in unknown.text
    done = at_b.post("/admin/transfers/import", data=form | {"account": "match", "login": "S-77"})
    assert done.status_code == 200 and "now part of" in done.text
    again = at_b.post("/admin/transfers/import", data=form | {"account": "match", "login": "S-77"})
    assert again.status_code == 400 and "upload the file again" in again.text

    with TestClient(create_app(pair.b.settings)) as tablet:
        sign_in(tablet, pair.bea)
        home = tablet.get("/learn")
        assert "What came with you" in home.text and "North Unit" in home.text
        record = tablet.get("/learn/transcript")
        assert "From other facilities" in record.text and "ABCD-EFGH-JKLM" in record.text
        assert "What happened" in record.text  # the learner's own private answer
    educator = make_user(pair.b.database, Role.EDUCATOR, "teacher")
    with pair.b.database.write() as db:  # the educator's group holds the learner
        group = db.execute(
            "INSERT INTO groups (name, kind, created_at) VALUES ('GED', 'class', 'x')"
        ).lastrowid
        for member in (educator.id, pair.bea.id):
            db.execute(
                "INSERT INTO group_members (group_id, user_id, added_at) VALUES (?, ?, 'x')",
                [group, member],
            )
    with TestClient(create_app(pair.b.settings)) as staff:
        sign_in(staff, educator)
        page = staff.get(f"/teach/learners/{pair.bea.id}")
        assert page.status_code == 200
        assert MATH in page.text and "Wet floor by the laundry" in page.text
        assert "What happened" not in page.text and "1 private answer" in page.text


def test_an_admin_exports_a_bundle_and_trusts_a_card_by_fingerprint(
    pair: Pair, at_a: TestClient
) -> None:
    admin = make_user(pair.a.database, Role.ADMIN, "boss")
    sign_in(at_a, admin)
    token = _csrf(at_a, "/admin/transfers")
    got = at_a.post("/admin/transfers/export", data={"csrf_token": token, "learner": "A100"})
    assert got.status_code == 200
    assert got.headers["content-disposition"].endswith('.stepstone-transfer"')
    document = json.loads(gzip.decompress(got.content))
    assert document["learner"] == {"sender_id": "A100", "sequence": 1}
    card = identity.own_card(pair.b.settings)
    with pair.a.database.write() as db:
        identity.remove_trusted_in(db, pair.b.facility_id, ADMIN)
    action = form_action(at_a, "/admin/transfers", "/admin/transfers/trust")
    body = json.dumps(card).encode()
    wrong = at_a.post(action, files={"card": ("b.json", body)}, data={"fingerprint": "0000"})
    assert wrong.status_code == 400 and "does not have the fingerprint" in wrong.text
    right = at_a.post(
        action,
        files={"card": ("b.json", body)},
        data={"fingerprint": identity.card_fingerprint(card)},
        follow_redirects=False,
    )
    assert right.status_code == 303
    listed = at_a.get("/admin/transfers").text
    assert "South Unit" in listed and identity.card_fingerprint(card) in listed
    assert at_a.get("/admin/transfers/card.json").json()["facility_id"] == pair.a.facility_id


def _group_with(facility: Facility, *members: int) -> None:
    with facility.database.write() as db:
        group = db.execute(
            "INSERT INTO groups (name, kind, created_at) VALUES ('Unit A', 'housing', 'x')"
        ).lastrowid
        for member in members:
            db.execute(
                "INSERT INTO group_members (group_id, user_id, added_at) VALUES (?, ?, 'x')",
                [group, member],
            )


@pytest.mark.parametrize("allowed", [False, True])
def test_an_educator_exports_only_where_allowed_and_only_their_learners(
    pair: Pair, tmp_path: Path, allowed: bool
) -> None:
    settings = dataclasses.replace(pair.a.settings, transfer_by_educators=allowed)
    teacher = make_user(pair.a.database, Role.EDUCATOR, "teacher")
    outsider = make_user(pair.a.database, Role.LEARNER, "A999", "Not In The Group")
    _group_with(pair.a, teacher.id, pair.alex.id)
    with TestClient(create_app(settings)) as client:
        sign_in(client, teacher)
        page = client.get(f"/teach/learners/{pair.alex.id}")
        assert ("Download the transfer file" in page.text) is allowed
        token = _csrf(client, "/account")
        got = client.post(f"/teach/learners/{pair.alex.id}/transfer", data={"csrf_token": token})
        assert got.status_code == (200 if allowed else 403)
        if allowed:
            assert json.loads(gzip.decompress(got.content))["learner"]["sender_id"] == "A100"
        other = client.post(f"/teach/learners/{outsider.id}/transfer", data={"csrf_token": token})
        assert other.status_code == (404 if allowed else 403)
    exports = pair.a.database.query("SELECT exported_by FROM transfer_exports")
    assert [row[0] for row in exports] == (["educator:teacher"] if allowed else [])
