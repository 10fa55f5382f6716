"""Narration made at a facility's import, for the lessons a package brought none for.

After a package's checks passed and its blobs are stored, and before its course version
is recorded, each lesson with text and without narration is read aloud by the facility's
speech engine (eSpeak NG). The audio and its timings go into the content store like any
file (content-addressed, in every backup) under ``narration/<key>.<ext>`` and
``narration/<key>.vtt``, paths no package file can have (a package holds only
``lessons/`` and ``media/``), and the lesson's data names them as a package's narration
would, with ``made_by`` set to the engine. The version is then pending review with the
rest, and a review flag tells the reviewer to listen.

This never refuses a package: where the engine is missing, has no voice for the course's
language, or fails, the version is recorded without generated narration and a review flag
says why (learners' tablets then read with their own voice, where they have one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from content.format.narration import format_timings
from content.format.sentences import mark_sentences
from content.importing.importer import StagedFile, StagedLesson, StagedPackage
from content.importing.store import ContentStore
from content.package.narrate import synthesize
from content.package.speech import SpeechEngine, SpeechError, opus_installed

FACILITY_FOLDER = "narration"
_MEDIA_TYPES = {".opus": "audio/ogg", ".wav": "audio/wav", ".vtt": "text/vtt"}


@dataclass(frozen=True)
class ImportNarration:
    """The staged package with its narration added, and what was done."""

    staged: StagedPackage
    made: tuple[str, ...]  # lesson keys
    seconds_of_audio: float
    note: str  # why no narration was made ("" when it was, or none was needed)


def add_narration(
    staged: StagedPackage, store: ContentStore, engine: SpeechEngine | None
) -> ImportNarration:
    """Read aloud the lessons of ``staged`` that have text but no narration."""
    wanted = [
        lesson for lesson in staged.lessons if lesson.html_sha256 and "narration" not in lesson.data
    ]
    if engine is None or not wanted:
        return ImportNarration(staged, (), 0.0, "")
    language = str(staged.course.get("language", ""))
    try:
        engine.check(language)
        return _narrate(staged, store, engine, language, wanted)
    except SpeechError as exc:
        note = f"No narration was made at import: {exc.message}."
        flag = _flag("narration-missing", note)
        return ImportNarration(_with(staged, flags=[flag]), (), 0.0, note)


def _narrate(
    staged: StagedPackage,
    store: ContentStore,
    engine: SpeechEngine,
    language: str,
    wanted: list[StagedLesson],
) -> ImportNarration:
    files: dict[str, StagedFile] = {}
    narrated: dict[str, dict[str, str]] = {}
    seconds = 0.0
    opus = opus_installed()
    with store.staging() as work:
        moves: list[tuple[Path, str]] = []
        for lesson in wanted:
            html = store.path_for(str(lesson.html_sha256)).read_text(encoding="utf-8")
            sentences = mark_sentences(html).sentences
            if not sentences:
                continue
            made = synthesize(sentences, language, engine, work, opus=opus)
            audio = made.audio.rename(work / f"{lesson.key}{made.audio.suffix}")
            timings = work / f"{lesson.key}.vtt"
            timings.write_text(format_timings(made.cues), encoding="utf-8")
            narrated[lesson.key] = {
                "audio": _staged(audio, files, moves),
                "timings": _staged(timings, files, moves),
                "made_by": engine.name,
            }
            seconds += made.seconds
        store.adopt_all(moves)
    if not narrated:
        return ImportNarration(staged, (), 0.0, "")
    shown = list(narrated)[:10]
    more = len(narrated) - len(shown)
    keys = ", ".join(shown) + (f" and {more} more" if more else "")
    detail = (
        f"Read aloud at import by {engine.name} ({len(narrated)} lessons, "
        f"{seconds / 60:.1f} min): {keys}. Listen to some before approving."
    )
    lessons = [
        replace(lesson, data={**lesson.data, "narration": narrated[lesson.key]})
        if lesson.key in narrated
        else lesson
        for lesson in staged.lessons
    ]
    updated = _with(staged, flags=[_flag("narration-made", detail)], files=files, lessons=lessons)
    return ImportNarration(updated, tuple(narrated), seconds, "")


def _staged(path: Path, files: dict[str, StagedFile], moves: list[tuple[Path, str]]) -> str:
    """Record ``path`` as the facility file ``narration/<its name>``, to be stored."""
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    name = f"{FACILITY_FOLDER}/{path.name}"
    files[name] = StagedFile(name, sha256, len(data), _MEDIA_TYPES[path.suffix])
    moves.append((path, sha256))
    return name


def _flag(kind: str, detail: str) -> dict[str, Any]:
    return {"kind": kind, "lesson": "", "where": "", "detail": detail, "source": "import"}


def _with(
    staged: StagedPackage,
    *,
    flags: list[dict[str, Any]],
    files: dict[str, StagedFile] | None = None,
    lessons: list[StagedLesson] | None = None,
) -> StagedPackage:
    return replace(
        staged,
        review_flags=[*staged.review_flags, *flags],
        files={**staged.files, **(files or {})},
        lessons=lessons if lessons is not None else staged.lessons,
    )
