"""Narration made at import: a package without narration gets it from eSpeak NG before its
version is recorded, stored content-addressed, reviewed and served like any media; where
eSpeak NG is missing the import goes on and the reviewer is told."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from content.format.narration import parse_timings
from content.package.build import build_package
from content.package.speech import EspeakEngine
from content.tuf import repository
from server.catalog import sync
from server.catalog.library import CatalogHooks
from server.catalog.sync import content_store, sync_all
from server.core.db import Database
from server.core.errors import ConfigError
from server.core.settings import Settings, load_settings
from tests.conftest import People, sign_in
from tests.content.conftest import write_course
from tests.content.narrated import narrate_with_tones
from tests.content.tuf.helpers import make_repo
from tests.facility import ADMIN, COURSE_ID, course_package, trust_ngo


def _sync(tmp_path: Path, database: Database, settings: Settings, package: Path) -> int:
    repo = make_repo(tmp_path)
    trust_ngo(database, repo)
    repository.add_packages(repo, [package])
    [report] = sync_all(database, settings, CatalogHooks(), ADMIN)
    assert report.status == "ok" and len(report.imported) == 1, report.message
    row = database.query_one("SELECT max(id) FROM course_versions")
    assert row is not None
    return int(row[0])


def _lessons(database: Database, version: int) -> dict[str, dict[str, object]]:
    rows = database.query("SELECT key, data FROM lessons WHERE version_id = ?", [version])
    return {r["key"]: json.loads(r["data"]) for r in rows}


def _flags(database: Database, version: int) -> list[dict[str, str]]:
    row = database.query_one("SELECT review_flags FROM course_versions WHERE id = ?", [version])
    assert row is not None
    return [f for f in json.loads(row[0]) if f["kind"].startswith("narration")]


@pytest.mark.narration
def test_a_package_without_narration_is_read_aloud_at_import(
    tmp_path: Path, database: Database, settings: Settings, client: TestClient, people: People
) -> None:
    version = _sync(tmp_path, database, settings, course_package(tmp_path, 1, photos=1))
    lessons = _lessons(database, version)
    intro = lessons["intro"]["narration"]
    assert intro == {
        "audio": "narration/intro.opus",
        "timings": "narration/intro.vtt",
        "made_by": "espeak-ng",
    }
    assets = {
        r["path"]: r for r in database.query("SELECT * FROM assets WHERE version_id = ?", [version])
    }
    store = content_store(settings)
    audio, timings = assets["narration/intro.opus"], assets["narration/intro.vtt"]
    assert audio["media_type"] == "audio/ogg" and timings["media_type"] == "text/vtt"
    assert store.path_for(audio["sha256"]).read_bytes()[:4] == b"OggS"
    cues = parse_timings(store.path_for(timings["sha256"]).read_text())
    assert cues[0].text == "Welcome" and cues[-1].text == "Take your time."
    [flag] = _flags(database, version)
    assert flag["kind"] == "narration-made" and "intro" in flag["detail"]

    # The reviewer is told; the learner's lesson page plays it.
    sign_in(client, people.admin)
    review = client.get(f"/admin/content/versions/{version}").text
    assert "Read aloud at import: listen before approving" in review
    assert "narration/intro.opus" in review
    client.post("/signout")
    client.cookies.clear()
    sign_in(client, people.learner)
    page = client.get(f"/learn/courses/{COURSE_ID}/lessons/intro").text
    src = re.search(r'data-listen-audio preload="metadata" src="([^"]+)"', page)
    assert src and src.group(1) == f"/media/{audio['sha256']}/intro.opus"
    served = client.get(src.group(1))
    assert served.status_code == 200 and served.headers["content-type"] == "audio/ogg"


def test_without_espeak_the_import_goes_on_and_says_so(
    tmp_path: Path, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync, "import_engine", lambda _s: EspeakEngine(program="no-espeak-here"))
    version = _sync(tmp_path, database, settings, course_package(tmp_path, 1, photos=1))
    assert not any("narration" in data for data in _lessons(database, version).values())
    [flag] = _flags(database, version)
    assert flag["kind"] == "narration-missing"
    assert flag["detail"] == (
        "No narration was made at import: eSpeak NG is not installed "
        "(Debian: apt install espeak-ng)."
    )
    paths = [r["path"] for r in database.query("SELECT path FROM assets")]
    assert not any(p.startswith("narration/") for p in paths)


@pytest.mark.narration
def test_narration_a_package_brings_is_kept_and_only_the_rest_is_made(
    tmp_path: Path, database: Database, settings: Settings
) -> None:
    source = write_course(tmp_path / "src", course={"id": COURSE_ID})
    narrate_with_tones(source, "intro")
    package = build_package(source, tmp_path / "dist", progress=False)
    version = _sync(tmp_path, database, settings, package)
    lessons = _lessons(database, version)
    assert lessons["intro"]["narration"] == {
        "audio": "media/narration/intro.wav",
        "timings": "media/narration/intro.vtt",
    }
    assert lessons["video"]["narration"]["made_by"] == "espeak-ng"  # type: ignore[index]
    [flag] = _flags(database, version)
    assert "(1 lessons" in flag["detail"] and ": video." in flag["detail"]


@pytest.mark.narration
def test_the_setting_chooses_the_engine_or_none(tmp_path: Path) -> None:
    def engine(value: str) -> object:
        settings = load_settings(environ={"STEPSTONE_IMPORT_NARRATION": value}, data_dir=tmp_path)
        return sync.import_engine(settings)

    assert isinstance(engine("espeak-ng"), EspeakEngine)
    assert engine("off") is None
    with pytest.raises(ConfigError, match="import_narration must be 'espeak-ng' or 'off'"):
        engine("piper")
