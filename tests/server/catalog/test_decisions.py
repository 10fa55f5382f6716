"""Review decisions that teach: reasons for rejecting, their export, the NGO's summary."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from content.tuf.repository import add_packages
from server.catalog import decisions
from server.catalog.library import CatalogHooks
from server.catalog.sync import sync_all
from server.cli.main import cli
from server.core.db import Database
from server.core.errors import NotFound, ValidationError
from server.core.settings import Settings
from server.teaching import impact
from tests.conftest import CSRF_RE, People, sign_in
from tests.content.tuf.helpers import make_repo
from tests.facility import ADMIN, COURSE_ID, PUBLISHER, course_package, trust_ngo

# A note an admin might paste: a spreadsheet would run it as a formula.
NOTE = '=HYPERLINK("http://x") lesson 2 shows a phone number'


def pending_versions(database: Database, settings: Settings, tmp_path: Path, n: int) -> list[int]:
    """``n`` versions of the test course from a trusted NGO, each waiting for review."""
    repo = make_repo(tmp_path)
    add_packages(repo, [course_package(tmp_path, v) for v in range(1, n + 1)])
    trust_ngo(database, repo, auto_publish=False)
    sync_all(database, settings, CatalogHooks(), ADMIN)
    rows = database.query("SELECT id FROM course_versions WHERE status = 'pending' ORDER BY id")
    return [row[0] for row in rows]


def audit_actions(database: Database) -> list[str]:
    return [row[0] for row in database.query("SELECT action FROM audit_log ORDER BY id")]


def test_the_facility_edits_its_list_of_reasons(database: Database) -> None:
    codes = [r.code for r in decisions.reasons(database)]
    assert codes == [
        "contact-information",
        "security-concern",
        "not-suitable",
        "broken",
        "outside-links",
        "other",
    ]
    added = decisions.add_reason(database, ADMIN, "  Violent   images ")
    assert added == decisions.Reason("violent-images", "Violent images")
    assert [r.code for r in decisions.reasons(database)][-2:] == ["violent-images", "other"]
    with pytest.raises(ValidationError, match="already on the list"):
        decisions.add_reason(database, ADMIN, "violent images")
    with pytest.raises(ValidationError, match="2 to 80"):
        decisions.add_reason(database, ADMIN, "x")
    decisions.remove_reason(database, ADMIN, "outside-links")
    assert "outside-links" not in [r.code for r in decisions.reasons(database)]
    with pytest.raises(ValidationError, match="Keep"):
        decisions.remove_reason(database, ADMIN, "other")
    with pytest.raises(NotFound):
        decisions.remove_reason(database, ADMIN, "outside-links")
    decisions.add_reason(database, ADMIN, "Outside links")  # comes back under its old code
    assert "outside-links" in [r.code for r in decisions.reasons(database)]
    assert audit_actions(database).count("review.reason-add") == 2
    assert audit_actions(database).count("review.reason-remove") == 1


def test_a_rejection_needs_a_listed_reason_and_a_lesson_of_that_version(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    (version_id,) = pending_versions(database, settings, tmp_path, 1)
    for rejection, problem in [
        (decisions.Rejection(""), "Choose a reason"),
        (decisions.Rejection("no-such-reason"), "Choose a reason"),
        (decisions.Rejection("other", "   "), "Write why"),
        (decisions.Rejection("broken", lesson_key="not-a-lesson"), "not part of this version"),
    ]:
        with pytest.raises(ValidationError, match=problem):
            decisions.reject(database, ADMIN, version_id, rejection)
    assert database.query("SELECT status FROM course_versions")[0][0] == "pending"
    decisions.reject(database, ADMIN, version_id, decisions.Rejection("broken", "", "video"))
    with pytest.raises(ValidationError, match="Only a version waiting"):
        decisions.reject(database, ADMIN, version_id, decisions.Rejection("broken"))
    row = database.query("SELECT status, review_reason FROM course_versions")[0]
    assert tuple(row) == ("rejected", "Broken or incomplete")


def test_reject_in_the_review_page_then_export_for_the_department_and_the_ngo(
    client: TestClient, people: People, database: Database, settings: Settings, tmp_path: Path
) -> None:
    shared, private, approved = pending_versions(database, settings, tmp_path, 3)
    sign_in(client, people.admin)
    page = client.get(f"/admin/content/versions/{shared}").text
    assert '<option value="contact-information">Contact information</option>' in page
    assert '<option value="video">2. ' in page  # the lessons of this version
    token = CSRF_RE.search(page)
    assert token
    csrf = {"csrf_token": token.group(1)}
    refused = client.post(
        f"/admin/content/versions/{shared}/reject",
        data=csrf | {"reason_code": "", "reason": "no reason chosen"},
    )
    assert refused.status_code == 400 and "Choose a reason" in refused.text
    for version_id, share, reason in [
        (shared, "yes", "contact-information"),
        (private, "", "other"),
    ]:
        done = client.post(
            f"/admin/content/versions/{version_id}/reject",
            data=csrf | {"reason_code": reason, "lesson": "video", "reason": NOTE, "share": share},
            follow_redirects=False,
        )
        assert done.status_code == 303
    client.post(f"/admin/content/versions/{approved}/approve", data=csrf)
    reviewers = {r[0] for r in database.query("SELECT reviewed_by FROM course_versions")}
    assert all("boss" in reviewer for reviewer in reviewers)  # the database knows; exports not

    exported = client.get("/admin/content/decisions.csv")
    assert exported.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [(r["version"], r["decision"], r["reason_code"]) for r in rows] == [
        ("1", "rejected", "contact-information"),
        ("2", "rejected", "other"),
        ("3", "approved", ""),
    ]
    assert rows[0]["note"] == "'" + NOTE  # shown as text, never run as a formula
    assert rows[0]["lesson_key"] == "video" and len(rows[0]["package_sha256"]) == 64
    document = client.get("/admin/content/decisions.json").json()
    assert document["format"] == "stepstone-review-decisions/1"
    assert document["decisions"][1]["note"] == NOTE
    for text in (exported.text, json.dumps(document)):
        assert people.admin.login not in text and "boss" not in text

    report = impact.build(database, settings, PUBLISHER)
    summary = report["refused"]
    assert [(r["course_id"], r["version"], r["reason_code"]) for r in summary] == [
        (COURSE_ID, 1, "contact-information"),
        (COURSE_ID, 2, "other"),
    ]
    assert summary[0]["lesson_key"] == "video" and summary[0]["note"] == NOTE
    assert summary[1]["note"] == ""  # not ticked: the note stays in the facility
    assert "boss" not in impact.to_json(report).decode()
    actions = audit_actions(database)
    assert actions.count("content.reject") == 2 and actions.count("export.decisions") == 2


def test_cli_reasons_and_export(
    runner: CliRunner, settings: Settings, database: Database, tmp_path: Path
) -> None:
    data = ["--data-dir", str(settings.data_dir)]
    added = runner.invoke(cli, [*data, "review", "add-reason", "Violent images"])
    assert added.exit_code == 0 and "violent-images" in added.output
    listed = runner.invoke(cli, [*data, "review", "reasons"])
    assert "violent-images" in listed.output and "Security concern" in listed.output
    removed = runner.invoke(cli, [*data, "review", "remove-reason", "nope"])
    assert removed.exit_code == 1 and "No reason has the code" in removed.output
    (version_id,) = pending_versions(database, settings, tmp_path, 1)
    decisions.reject(database, ADMIN, version_id, decisions.Rejection("violent-images"))
    out = tmp_path / "decisions.json"
    exported = runner.invoke(cli, [*data, "review", "export", "--format", "json", "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    (row,) = json.loads(out.read_text(encoding="utf-8"))["decisions"]
    assert row["reason"] == "Violent images" and row["decision"] == "rejected"
