"""Trust, sync and review on the facility side: real TUF repositories, real packages."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from content.package.build import build_package
from content.tuf.fingerprint import root_fingerprint
from content.tuf.repository import add_packages, init_repository, retract, status
from server.catalog import decisions, library, trust
from server.catalog.library import CatalogHooks
from server.catalog.sync import content_store, sync_all
from server.cli.main import cli
from server.core import clock
from server.core.db import Database
from server.core.errors import ValidationError
from server.core.settings import Settings
from server.people.audit import Actor
from tests.conftest import CSRF_RE, FakeClock, People, form_action, sign_in
from tests.facility import trust_ngo

COURSES = Path(__file__).resolve().parents[3] / "courses"
ADMIN = Actor(None, "admin:test")


def _course_copy(tmp: Path, slug: str, version: int, course_id: str | None = None) -> Path:
    target = tmp / f"src-{slug}-{version}-{course_id or 'same'}"
    shutil.copytree(COURSES / slug, target)
    course_yaml = target / "course.yaml"
    text = course_yaml.read_text().replace("version: 1", f"version: {version}", 1)
    if course_id:
        text = text.replace(f"id: org.stepstone.demo.{slug}", f"id: {course_id}", 1)
    course_yaml.write_text(text)
    return target


@pytest.fixture
def ngo(tmp_path: Path) -> Path:
    repo = tmp_path / "ngo"
    init_repository(repo, "test-ngo", "org.stepstone.demo")
    return repo


def publish(repo: Path, tmp: Path, slug: str, version: int, course_id: str | None = None) -> None:
    dist = tmp / "dist"
    dist.mkdir(exist_ok=True)
    add_packages(repo, [build_package(_course_copy(tmp, slug, version, course_id), dist)])


@pytest.fixture
def trusted(database: Database, ngo: Path) -> library.Publisher:
    return trust_ngo(
        database, ngo, namespace="org.stepstone.demo", name="test-ngo", auto_publish=False
    )


def status_of(database: Database, course: str) -> list[tuple[int, str, bool]]:
    rows = database.query(
        "SELECT v.version, v.status, c.live_version_id = v.id FROM course_versions v"
        " JOIN courses c ON c.id = v.course_pk WHERE c.course_id = ? ORDER BY v.version",
        [f"org.stepstone.demo.{course}"],
    )
    return [(r[0], r[1], bool(r[2])) for r in rows]


def test_new_course_waits_for_review_then_goes_live(
    database: Database, settings: Settings, ngo: Path, trusted: library.Publisher, tmp_path: Path
) -> None:
    publish(ngo, tmp_path, "thinking-traps", 1)
    published: list[int] = []
    hooks = CatalogHooks(published=[published.append])
    [report] = sync_all(database, settings, hooks, ADMIN)
    assert report.status == "ok" and report.imported == ["org.stepstone.demo.thinking-traps v1"]
    assert status_of(database, "thinking-traps") == [(1, "pending", False)]
    assert published == []
    version_id = database.query("SELECT id FROM course_versions")[0][0]
    library.approve(database, hooks, ADMIN, version_id)
    assert status_of(database, "thinking-traps") == [(1, "approved", True)]
    assert published == [version_id]
    store = content_store(settings)
    for sha in database.query("SELECT sha256 FROM assets UNION SELECT html_sha256 FROM lessons"):
        assert store.has(sha[0])


def test_outside_namespace_is_refused_and_nothing_recorded(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = tmp_path / "other"
    init_repository(repo, "other-ngo", "org.other")
    root = (repo / "published" / "metadata" / "1.root.json").read_bytes()
    publisher = trust.add_publisher(
        database, ADMIN, "narrow", "org.other.narrow", root, confirmed=root_fingerprint(root).root
    )
    trust.add_source(database, ADMIN, publisher, "folder", str(repo / "published"))
    publish(repo, tmp_path, "everyday-math", 1, course_id="org.other.math")
    [report] = sync_all(database, settings, CatalogHooks(), ADMIN)
    assert report.status == "partial"
    assert "may only publish courses named org.other.narrow.*" in report.message
    assert database.query("SELECT * FROM course_versions") == []


def test_versions_never_go_back_and_retraction_falls_back(
    database: Database, settings: Settings, ngo: Path, trusted: library.Publisher, tmp_path: Path
) -> None:
    trust.set_auto_publish(database, ADMIN, trusted, True)
    trusted = trust.get_publisher(database, trusted.id)
    publish(ngo, tmp_path, "everyday-math", 1)
    publish(ngo, tmp_path, "everyday-math", 2)
    sync_all(database, settings, CatalogHooks(), ADMIN)
    assert status_of(database, "everyday-math") == [(1, "approved", False), (2, "approved", True)]
    # The facility loses its TUF cache; the old version is still not reinstalled.
    shutil.rmtree(trust.metadata_dir(settings, trusted))
    [report] = sync_all(database, settings, CatalogHooks(), ADMIN)
    assert report.imported == []
    withdrawn: list[str] = []
    retract(ngo, "org.stepstone.demo.everyday-math", 2)
    [report] = sync_all(database, settings, CatalogHooks(withdrawn=[withdrawn.append]), ADMIN)
    assert report.retracted == ["org.stepstone.demo.everyday-math v2"]
    assert status_of(database, "everyday-math") == [(1, "approved", True), (2, "retracted", False)]
    assert withdrawn == ["org.stepstone.demo.everyday-math"]


def test_missing_source_fails_the_run_but_keeps_content(
    database: Database, settings: Settings, ngo: Path, trusted: library.Publisher, tmp_path: Path
) -> None:
    trust.set_auto_publish(database, ADMIN, trusted, True)
    publish(ngo, tmp_path, "job-ready", 1)
    sync_all(database, settings, CatalogHooks(), ADMIN)
    shutil.move(ngo / "published", tmp_path / "stick-removed")
    [report] = sync_all(database, settings, CatalogHooks(), ADMIN)
    assert report.status == "failed"
    assert status_of(database, "job-ready") == [(1, "approved", True)]
    runs = database.query("SELECT status FROM sync_runs ORDER BY id")
    assert [r[0] for r in runs] == ["ok", "failed"]


def test_reject_needs_a_reason_and_pull_hides_a_course(
    database: Database, settings: Settings, ngo: Path, trusted: library.Publisher, tmp_path: Path
) -> None:
    publish(ngo, tmp_path, "workplace-safety", 1)
    sync_all(database, settings, CatalogHooks(), ADMIN)
    version_id = database.query("SELECT id FROM course_versions")[0][0]
    with pytest.raises(ValidationError):
        decisions.reject(database, ADMIN, version_id, decisions.Rejection("other", "  "))
    unsafe = decisions.Rejection("other", "The video shows an unsafe ladder.")
    decisions.reject(database, ADMIN, version_id, unsafe)
    assert status_of(database, "workplace-safety") == [(1, "rejected", False)]
    withdrawn: list[str] = []
    course_pk = database.query("SELECT id FROM courses")[0][0]
    with pytest.raises(ValidationError, match="Write why"):
        library.pull_course(database, CatalogHooks(), ADMIN, 1, " ")
    library.pull_course(
        database,
        CatalogHooks(withdrawn=[withdrawn.append]),
        ADMIN,
        course_pk,
        "Complaint under review",
    )
    assert database.query("SELECT pulled_at FROM courses")[0][0]
    assert withdrawn == ["org.stepstone.demo.workplace-safety"]


def test_review_flags_find_contact_details(
    database: Database, settings: Settings, ngo: Path, trusted: library.Publisher, tmp_path: Path
) -> None:
    src = _course_copy(tmp_path, "job-ready", 1)
    lesson = next((src / "lessons").glob("01-*.md"))
    lesson.write_text(lesson.read_text() + "\n\nCall Dee at 555-201-3344 or dee@example.org.\n")
    # The lesson's text changed, so its narration no longer matches: the author would make
    # it again; here it is left out (lint refuses narration that does not match).
    key = re.search(r"^key: (\S+)$", lesson.read_text(), re.M)
    assert key is not None
    for stale in (src / "narration").glob(f"{key.group(1)}.*"):
        stale.unlink()
    dist = tmp_path / "dist"
    add_packages(ngo, [build_package(src, dist)])
    sync_all(database, settings, CatalogHooks(), ADMIN)
    flags = database.query("SELECT review_flags FROM course_versions")[0][0]
    assert "555-201-3344" in flags and "dee@example.org" in flags


def test_trust_cli_and_sync_cli(
    runner: CliRunner, settings: Settings, database: Database, ngo: Path, tmp_path: Path
) -> None:
    data = ["--data-dir", str(settings.data_dir)]
    root = ngo / "published" / "metadata" / "1.root.json"
    added = runner.invoke(
        cli,
        [
            *data,
            "trust",
            "add",
            "test-ngo",
            str(root),
            "--namespace",
            "org.stepstone.demo",
            "--folder",
            str(ngo / "published"),
        ],
        input="y\n",
    )
    assert added.exit_code == 0, added.output
    assert f"SHA256 root: {status(ngo).root_fingerprint.root}" in added.output
    listed = runner.invoke(cli, [*data, "trust", "list"])
    assert "test-ngo" in listed.output and "folder" in listed.output
    assert status(ngo).root_fingerprint.lines()[0] in listed.output
    publish(ngo, tmp_path, "everyday-math", 1)
    synced = runner.invoke(cli, [*data, "sync"])
    assert synced.exit_code == 0 and "imported 1" in synced.output
    bad = tmp_path / "not-root.json"
    bad.write_text('{"signed": {"_type": "targets"}}')
    refused = runner.invoke(cli, [*data, "trust", "add", "x-ngo", str(bad), "--namespace", "org.x"])
    assert refused.exit_code == 1 and "not a TUF root.json" in refused.output
    removal = runner.invoke(cli, [*data, "trust", "remove", "test-ngo"])
    assert removal.exit_code == 1 and "still has 1 course" in removal.output


def test_trust_add_cli_trusts_nothing_unconfirmed(
    runner: CliRunner, settings: Settings, database: Database, ngo: Path
) -> None:
    root = str(ngo / "published" / "metadata" / "1.root.json")
    add = ["--data-dir", str(settings.data_dir), "trust", "add", "test-ngo", root]
    add += ["--namespace", "org.stepstone.demo"]
    said_no = runner.invoke(cli, add, input="n\n")
    assert said_no.exit_code == 1 and "Not trusted" in said_no.output
    no_answer = runner.invoke(cli, add, input="")
    assert no_answer.exit_code != 0
    shown = status(ngo).root_fingerprint.root
    wrong = shown[:-1] + ("0" if shown[-1] != "0" else "1")
    mismatch = runner.invoke(cli, [*add, "--fingerprint", wrong])
    assert mismatch.exit_code == 1 and "does not have the fingerprint" in mismatch.output
    assert trust.find_publisher(database, "test-ngo") is None
    typed = runner.invoke(cli, [*add, "--fingerprint", shown.lower().replace(" ", ":")])
    assert typed.exit_code == 0, typed.output
    publisher = trust.find_publisher(database, "test-ngo")
    assert publisher is not None
    (fingerprint,) = database.query(
        "SELECT json_extract(detail, '$.fingerprint') FROM audit_log WHERE action = 'trust.add'"
    )
    assert fingerprint[0] == shown
    again = [*add[:4], "other-ngo", root, "--namespace", "org.stepstone.demo.sub"]
    overlap = runner.invoke(cli, again, input="y\n")
    assert overlap.exit_code == 1
    assert "overlaps with the trusted publisher test-ngo" in overlap.output
    assert "Does every group match" not in overlap.output  # refused before the phone call


def test_admin_trusts_syncs_reviews_and_approves_in_the_browser_pages(
    client: TestClient, people: People, database: Database, ngo: Path, tmp_path: Path
) -> None:
    sign_in(client, people.admin)
    publish(ngo, tmp_path, "everyday-math", 1)
    page = client.get("/admin/publishers")
    token = CSRF_RE.search(page.text)
    assert token
    root = (ngo / "published" / "metadata" / "1.root.json").read_bytes()
    uploaded = client.post(
        form_action(client, "/admin/publishers", "/admin/publishers"),
        data={
            "name": "test-ngo",
            "namespace": "org.stepstone.demo",
            "folder": str(ngo / "published"),
        },
        files={"root": ("root.json", root, "application/json")},
        follow_redirects=False,
    )
    # Step one only shows the fingerprint, the very text the publisher tool prints.
    assert uploaded.status_code == 200
    assert status(ngo).root_fingerprint.lines()[0] in uploaded.text
    assert trust.find_publisher(database, "test-ngo") is None
    confirm = dict(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', uploaded.text))
    assert "matches" not in confirm and confirm["root"] == base64.b64encode(root).decode()
    unticked = client.post("/admin/publishers/confirm", data=confirm)
    assert unticked.status_code == 400 and "tick the box" in unticked.text
    assert trust.find_publisher(database, "test-ngo") is None
    # Another file that is still a validly signed root: one space more is another fingerprint.
    other = base64.b64encode(b" " + root).decode()
    swapped = client.post(
        "/admin/publishers/confirm", data=confirm | {"matches": "yes", "root": other}
    )
    assert swapped.status_code == 400 and "does not have the fingerprint" in swapped.text
    assert trust.find_publisher(database, "test-ngo") is None
    added = client.post(
        "/admin/publishers/confirm", data=confirm | {"matches": "yes"}, follow_redirects=False
    )
    assert added.status_code == 303
    publisher = trust.find_publisher(database, "test-ngo")
    assert publisher is not None
    listed = client.get("/admin/publishers").text
    assert status(ngo).root_fingerprint.lines()[0] in listed
    client.post(f"/admin/publishers/{publisher.id}/sync", data={"csrf_token": token.group(1)})
    for _ in range(50):
        if database.query("SELECT 1 FROM sync_runs WHERE status != 'running'"):
            break
        import time

        time.sleep(0.1)
    listing = client.get("/admin/content")
    assert "Everyday Math" in listing.text and "Waiting for review" in listing.text
    version_id = database.query("SELECT id FROM course_versions")[0][0]
    review_page = client.get(f"/admin/content/versions/{version_id}")
    assert "Lessons (new course)" in review_page.text
    assert f"/admin/content/versions/{version_id}/files/media/fraction-bars.png" in review_page.text
    image = client.get(f"/admin/content/versions/{version_id}/files/media/fraction-bars.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert "<script" not in review_page.text.split("<main", 1)[1]
    approve = client.post(
        f"/admin/content/versions/{version_id}/approve",
        data={"csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert approve.status_code == 303
    assert status_of(database, "everyday-math") == [(1, "approved", True)]
    audit_actions = [r[0] for r in database.query("SELECT action FROM audit_log")]
    assert {"trust.add", "sync.run", "content.import", "content.approve"} <= set(audit_actions)


def test_a_run_left_running_by_a_killed_process_is_closed_later(
    database: Database, settings: Settings, trusted: library.Publisher, fake_clock: FakeClock
) -> None:
    with database.write() as db:
        db.execute(
            "INSERT INTO sync_runs (publisher_id, trigger, started_at, status)"
            " VALUES (?, 'timer', ?, 'running')",
            [trusted.id, clock.iso()],
        )
    fake_clock.advance(25 * 3600)
    sync_all(database, settings, CatalogHooks(), ADMIN)
    first = database.query_one("SELECT status, message FROM sync_runs ORDER BY id LIMIT 1")
    assert first is not None and first["status"] == "failed"
    assert "interrupted" in first["message"]


def test_an_svg_is_flagged_and_opens_sandboxed_for_the_reviewer(
    client: TestClient,
    people: People,
    database: Database,
    settings: Settings,
    ngo: Path,
    trusted: library.Publisher,
    tmp_path: Path,
) -> None:
    src = _course_copy(tmp_path, "everyday-math", 1)
    (src / "media" / "bars.svg").write_bytes(
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 2"><rect width="2" height="2"/>'
        b"</svg>"
    )
    lesson = src / "lessons" / "01-fractions-in-daily-life.md"
    lesson.write_text(lesson.read_text() + "\n\n![Two bars](../media/bars.svg)\n")
    add_packages(ngo, [build_package(src, tmp_path / "dist")])
    [report] = sync_all(database, settings, CatalogHooks(), ADMIN)
    assert report.status == "ok", report
    version_id = database.query("SELECT id FROM course_versions")[0][0]
    sign_in(client, people.admin)
    page = client.get(f"/admin/content/versions/{version_id}").text
    flags = page.split('id="flags-heading"', 1)[1].split("</section>", 1)[0]
    assert "Drawing (SVG): open it and look at it" in flags and "media/bars.svg" in flags
    drawing = client.get(f"/admin/content/versions/{version_id}/files/media/bars.svg")
    assert drawing.headers["content-type"] == "image/svg+xml"
    assert "sandbox" in drawing.headers["content-security-policy"].split("; ")
