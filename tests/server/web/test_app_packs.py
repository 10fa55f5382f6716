"""The small files of an app live in one pack blob per package: a learner's tablet gets
each file's very bytes from it, a damaged pack stops only the damaged file and
`verify` names it, and garbage collection keeps every pack a version needs."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from content.importing.store import ContentStore
from server.catalog import integrity
from server.catalog.review_lessons import file_url
from server.core.db import Database
from server.core.settings import load_settings
from server.people.accounts import Role
from server.people.audit import Actor
from server.web.app import create_app
from tests.appcourse import app_facility
from tests.conftest import make_user, sign_in
from tests.server.web.test_sandbox import frame_src, learner_client

COUNTER = "apps/counter/"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return app_facility(tmp_path)


@pytest.fixture
def client(data: Path) -> Iterator[TestClient]:
    yield from learner_client(data)


def counter_files(data: Path) -> dict[str, dict[str, Any]]:
    database = Database(data / "stepstone.db")
    try:
        rows = database.query(
            "SELECT path, sha256, size, pack_sha256, pack_offset FROM assets"
            " WHERE path LIKE 'apps/counter/%' ORDER BY path"
        )
        return {row["path"]: dict(row) for row in rows}
    finally:
        database.close()


def damage(pack: Path, offset: int, data: bytes | None = None, *, cut: bool = False) -> None:
    """Change bytes of a (read-only) pack blob, as a failing disk or a hand would."""
    pack.chmod(0o644)
    with pack.open("r+b") as file:
        if cut:
            file.truncate(offset)
        else:
            file.seek(offset)
            file.write(data or b"")
    pack.chmod(0o444)


def check(data: Path) -> list[integrity.Drift]:
    database = Database(data / "stepstone.db")
    try:
        return integrity.check_store(database, ContentStore(data / "store")).drift
    finally:
        database.close()


def test_an_apps_small_files_are_one_pack_and_each_is_served_whole(
    data: Path, client: TestClient
) -> None:
    files = counter_files(data)
    assert {path.removeprefix(COUNTER) for path in files} == {
        "counter.css",
        "counter.js",
        "index.html",
    }
    packs = {file["pack_sha256"] for file in files.values()}
    assert len(packs) == 1 and None not in packs
    store = ContentStore(data / "store")
    pack = store.path_for(packs.pop()).read_bytes()
    assert hashlib.sha256(pack).hexdigest() == next(iter(files.values()))["pack_sha256"]
    prefix = frame_src(client, "counter").removesuffix("index.html")
    source = Path(__file__).parents[2] / "apps" / "counter"
    for path, file in files.items():
        assert not store.has(file["sha256"])  # no blob of its own: one file in the store
        offset = file["pack_offset"]
        assert (
            pack[offset : offset + file["size"]]
            == (source / path.removeprefix(COUNTER)).read_bytes()
        )
        answer = client.get(prefix + path.removeprefix(COUNTER))
        assert answer.status_code == 200, path
        assert answer.content == (source / path.removeprefix(COUNTER)).read_bytes()
        assert answer.headers["etag"] == f'"{file["sha256"]}"'
        assert "sandbox" in answer.headers["content-security-policy"]


def test_a_damaged_pack_stops_only_the_damaged_file_and_verify_names_it(
    data: Path, client: TestClient
) -> None:
    files = counter_files(data)
    script, page = files[COUNTER + "counter.js"], files[COUNTER + "index.html"]
    pack = ContentStore(data / "store").path_for(script["pack_sha256"])
    prefix = frame_src(client, "counter").removesuffix("index.html")
    assert check(data) == []

    damage(pack, script["pack_offset"] + 3, b"#")
    assert client.get(prefix + "counter.js").status_code == 404
    assert client.get(prefix + "index.html").status_code == 200
    drift = check(data)
    assert [(d.ref.path, d.problem) for d in drift] == [(COUNTER + "counter.js", "changed")]
    assert f"in pack blob {script['pack_sha256']}" in drift[0].message

    last = max(files.values(), key=lambda f: f["pack_offset"])
    damage(pack, last["pack_offset"] + 1, cut=True)
    assert (last["path"], "cut-short") in [(d.ref.path, d.problem) for d in check(data)]
    assert client.get(prefix + last["path"].removeprefix(COUNTER)).status_code == 404

    pack.unlink()
    problems = {(d.ref.path, d.problem) for d in check(data)}
    assert {(path, "missing") for path in files} <= problems
    assert client.get(prefix + page["path"].removeprefix(COUNTER)).status_code == 404


def test_garbage_collection_keeps_the_packs_versions_need(data: Path) -> None:
    files = counter_files(data)
    store = ContentStore(data / "store")
    pack = next(iter(files.values()))["pack_sha256"]
    stray = store.add_bytes(b"a pack no version refers to any more")
    database = Database(data / "stepstone.db")
    try:
        done = integrity.collect_garbage(database, store, Actor.system(), min_age_seconds=0)
    finally:
        database.close()
    assert done.removed == 1
    assert store.has(pack) and not store.has(stray)
    assert check(data) == []


def test_files_imported_before_packs_are_still_served_and_checked(
    data: Path, client: TestClient
) -> None:
    """A facility that upgrades keeps its apps as they were imported: a blob per file
    (no pack recorded), served and verified as before."""
    files = counter_files(data)
    script = files[COUNTER + "counter.js"]
    store = ContentStore(data / "store")
    source = Path(__file__).parents[2] / "apps" / "counter" / "counter.js"
    assert store.add_bytes(source.read_bytes()) == script["sha256"]
    with sqlite3.connect(data / "stepstone.db") as db:
        db.execute(
            "UPDATE assets SET pack_sha256 = NULL, pack_offset = NULL WHERE path = ?",
            [script["path"]],
        )
    prefix = frame_src(client, "counter").removesuffix("index.html")
    answer = client.get(prefix + "counter.js")
    assert answer.status_code == 200 and answer.content == source.read_bytes()
    assert client.get(prefix + "index.html").status_code == 200  # still from the pack
    assert check(data) == []
    store.path_for(script["sha256"]).unlink()
    assert [(d.ref.path, d.problem) for d in check(data)] == [(script["path"], "missing")]


def test_the_reviewer_reads_a_packed_file_of_a_version(data: Path) -> None:
    files = counter_files(data)
    database = Database(data / "stepstone.db")
    admin = make_user(database, Role.ADMIN, "reviewer")
    version = database.query_one(
        "SELECT version_id FROM assets WHERE path = ?", [COUNTER + "counter.css"]
    )
    database.close()
    assert version is not None
    app = create_app(load_settings(environ={}, data_dir=data, demo=True))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        sign_in(client, admin)
        answer = client.get(file_url(version["version_id"], COUNTER + "counter.css"))
    assert answer.status_code == 200
    source = Path(__file__).parents[2] / "apps" / "counter" / "counter.css"
    assert answer.content == source.read_bytes()
    assert files[COUNTER + "counter.css"]["pack_sha256"] is not None
