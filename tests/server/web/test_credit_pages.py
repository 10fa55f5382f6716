"""Earned credit through the pages: the admin's rules, the learner's record, the staff
ledger per learner and per group, a correction, and the CSV and signed JSON downloads."""

from __future__ import annotations

import base64
import csv
import io
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from starlette.testclient import TestClient

from server.core.db import Database
from server.core.settings import Settings
from server.learning import ledger
from server.people import groups
from server.people.accounts import Role
from server.people.audit import Actor
from tests.conftest import FakeClock, People, make_user, post, sign_in
from tests.server.learning.test_ledger import at, finish

pytestmark = pytest.mark.demo  # each test has its own copy of the demo facility

SYSTEM = Actor.system("test")


def test_credit_from_rule_to_record_to_correction_to_signed_export(
    client: TestClient,
    database: Database,
    settings: Settings,
    people: People,
    fake_clock: FakeClock,
) -> None:
    fake_clock.moment = at("2027-03-01")
    unit = groups.create_group(database, SYSTEM, "Unit T", "housing")
    outsider = make_user(database, Role.EDUCATOR, "outsider")
    for member in (people.learner, people.educator):
        groups.add_member(database, SYSTEM, unit.id, member.id)

    sign_in(client, people.admin)
    refused = post(
        client,
        "/admin/credit",
        {"target": "category:vocational", "credit_type": "earned-time"},
        token_from="/admin/credit",
    )
    assert refused.status_code == 400 and "Choose which hours count." in refused.text
    form = {"target": "category:vocational", "credit_type": "earned-time"}
    form |= {"hours_basis": "nominal", "effective_from": "2027-02-01", "note": "State rule 12"}
    added = post(client, "/admin/credit", form, token_from="/admin/credit")
    assert added.status_code == 200 and "In force" in added.text and "State rule 12" in added.text

    finish(database, settings, fake_clock, people.learner)
    [entry] = ledger.entries_of(database, people.learner.id)

    with TestClient(client.app) as learner:
        sign_in(learner, people.learner)
        record = learner.get("/learn/transcript").text
        assert "Credit I earned" in record and "Workplace Safety Basics" in record
        assert "Earned time</strong>: 3.00 hours" in record
        assert f"{entry.measured_hours:.2f}" in record

    with TestClient(client.app) as spanish:
        sign_in(spanish, people.other_learner)  # Bea reads Spanish and has earned nothing
        record = spanish.get("/learn/transcript").text
        assert "Crédito que gané" in record and "Todavía no hay crédito ganado." in record

    with TestClient(client.app) as teacher:
        sign_in(teacher, people.educator)
        page = teacher.get(f"/teach/learners/{people.learner.id}/credit").text
        assert "Workplace Safety Basics" in page and "Correct this entry" not in page
        board = teacher.get(f"/teach/groups/{unit.id}/credit").text
        assert "Alex Learner" in board and "3.00 (nominal)" in board
        rows = list(csv.DictReader(io.StringIO(_text(teacher, f"?group={unit.id}"))))
        assert [(r["facility_id"], r["hours_counted"], r["status"]) for r in rows] == [
            ("A100", "3.0", "in force")
        ]
        assert rows[0]["measured_hours"] == str(entry.measured_hours)
        assert rows[0]["digest"] == entry.digest
        # Nobody outside the group: the other learner's ledger is not the teacher's to see.
        assert teacher.get(f"/teach/learners/{people.other_learner.id}/credit").status_code == 404

    with TestClient(client.app) as stranger:
        sign_in(stranger, outsider)
        assert stranger.get(f"/teach/learners/{people.learner.id}/credit").status_code == 404
        assert stranger.get(f"/teach/exports/credit.csv?group={unit.id}").status_code == 404
        assert "A100" not in _text(stranger, "")

    page = f"/teach/learners/{people.learner.id}/credit"
    correct = f"{page}/{entry.id}/correct"
    refused = post(client, correct, {"hours": "2", "credit_type": "earned-time"}, token_from=page)
    assert refused.status_code == 400 and "Say why the entry is corrected." in refused.text
    fixed = post(
        client,
        correct,
        {"hours": "2", "credit_type": "earned-time", "reason": "Two lessons were repeats"},
        token_from=page,
    )
    assert fixed.status_code == 200
    assert f"Corrects entry {entry.id}: Two lessons were repeats" in fixed.text
    assert "Corrected" in fixed.text
    again = post(client, correct, {"hours": "1", "credit_type": "none", "reason": "x"}, page)
    assert again.status_code == 400 and "already corrected" in again.text

    signed = client.get(f"/teach/exports/credit.json?learner={people.learner.id}")
    assert signed.status_code == 200
    envelope = json.loads(signed.content)
    data = envelope["ledger"]
    body = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"
    key = load_pem_public_key(envelope["signature"]["public_key"].encode("ascii"))
    assert isinstance(key, Ed25519PublicKey)
    key.verify(base64.b64decode(envelope["signature"]["value"]), body)  # raises if not
    assert [(e["hours"], e["in_force"], e["corrects_id"]) for e in data["entries"]] == [
        (3.0, False, None),
        (2.0, True, entry.id),
    ]
    exports = database.query(
        "SELECT actor, target, detail FROM audit_log WHERE action = 'export.credit' ORDER BY id"
    )
    assert [(r["actor"], r["target"]) for r in exports][-1] == (
        "admin:boss",
        f"user:{people.learner.id}",
    )
    assert ledger.verify_ledger(database).checked == 2
    checked = client.get("/admin/audit", params={"verify": "1"}).text
    assert "The credit ledger matches the log: 2 entries checked." in checked


def _text(client: TestClient, query: str) -> str:
    response = client.get("/teach/exports/credit.csv" + query)
    assert response.status_code == 200, response.text[:300]
    return response.content.decode("utf-8-sig")
