"""Narration added to a staged package at import (with a stand-in engine: the server's
tests with eSpeak NG are in tests/server/catalog/test_import_narration.py)."""

from __future__ import annotations

from pathlib import Path

from content.format.narration import parse_timings
from content.importing.importer import import_package
from content.importing.narration import add_narration
from content.importing.store import ContentStore
from content.package.build import build_package
from tests.content.conftest import lesson, write_course
from tests.content.narrated import ToneEngine


def test_each_lesson_with_text_gets_stored_narration_and_one_flag(tmp_path: Path) -> None:
    extra = {
        f"lessons/{n:02}-more.md": lesson(
            f"key: more-{n}\ntitle: More {n}\nkind: reading", f"Part {n}. It goes on.\n"
        )
        for n in range(3, 15)
    }
    course = write_course(
        tmp_path / "src",
        lessons=extra,
        course={"lessons": ["lessons/01-intro.md", "lessons/02-video.md", *extra]},
    )
    package = build_package(course, tmp_path / "dist", progress=False)
    store = ContentStore(tmp_path / "data" / "store")
    staged = import_package(package, store)
    engine = ToneEngine()
    result = add_narration(staged, store, engine)
    assert len(result.made) == 14 and result.note == ""
    more = next(x for x in result.staged.lessons if x.key == "more-3")
    assert more.data["narration"] == {
        "audio": "narration/more-3.opus",
        "timings": "narration/more-3.vtt",
        "made_by": "tones",
    }
    timings = result.staged.files["narration/more-3.vtt"]
    cues = parse_timings(store.path_for(timings.sha256).read_text())
    assert [c.text for c in cues] == ["Part 3.", "It goes on."]
    assert store.has(result.staged.files["narration/more-3.opus"].sha256)
    [flag] = [f for f in result.staged.review_flags if f["kind"] == "narration-made"]
    assert flag["detail"].startswith("Read aloud at import by tones (14 lessons, ")
    assert flag["detail"].endswith("more-9, more-10 and 4 more. Listen to some before approving.")
    # The package's own files and flags are all still there; nothing was made twice.
    assert set(staged.files) < set(result.staged.files)
    again = add_narration(result.staged, store, ToneEngine())
    assert again.made == () and again.staged == result.staged


def test_a_language_without_a_voice_is_a_flag_not_a_refusal(tmp_path: Path) -> None:
    course = write_course(tmp_path / "src", course={"language": "fr"})
    store = ContentStore(tmp_path / "data" / "store")
    staged = import_package(build_package(course, tmp_path / "dist", progress=False), store)
    result = add_narration(staged, store, ToneEngine())
    assert (
        result.made == () and result.note == "No narration was made at import: no voice for 'fr'."
    )
    assert result.staged.files == staged.files
    assert result.staged.review_flags[-1]["kind"] == "narration-missing"
