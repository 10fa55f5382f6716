"""Making narration: a lesson's sentences read by a speech engine, with their timings.

:func:`synthesize` reads each sentence on its own, puts the pieces one after the other
with a short pause, and so knows exactly where each sentence starts and ends: those are
the cues (``content.format.narration``). :func:`narrate_course` does this for the lessons
of a course folder whose narration is missing or no longer matches their text (the
publisher's ``stepstone package narrate``); a facility uses :func:`synthesize` at import
for a package that brought none.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from content.durable import new_file_mode
from content.errors import ContentError
from content.format.analyse import analyse_course
from content.format.narration import (
    AUDIO_SUFFIXES,
    NARRATION_FOLDER,
    Cue,
    TimingsError,
    format_timings,
    narration_paths,
    parse_timings,
    timings_problems,
)
from content.format.sentences import mark_sentences
from content.package.speech import (
    Audio,
    SpeechEngine,
    encode_opus,
    opus_installed,
    read_wav,
    write_wav,
)

PAUSE_SECONDS = 0.3  # between sentences, as a reader breathes


@dataclass(frozen=True)
class Narration:
    """A lesson's narration, made: the audio file (in a work folder) and its cues."""

    audio: Path
    cues: tuple[Cue, ...]
    seconds: float


def synthesize(
    sentences: Sequence[str], language: str, engine: SpeechEngine, work: Path, *, opus: bool
) -> Narration:
    """Read ``sentences`` aloud into ``work``: ``narration.opus`` (or ``.wav``)."""

    def one(number: int, sentence: str) -> Audio:
        wav = work / f"sentence-{number}.wav"
        engine.speak(sentence, language, wav)
        audio = read_wav(wav)
        wav.unlink()
        return audio

    # The engines are programs, so sentences are read side by side, one per processor.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        pieces = list(pool.map(one, range(1, len(sentences) + 1), sentences))
    first = pieces[0]
    frames: list[bytes] = []
    cues = []
    start = 0.0
    for number, (sentence, piece) in enumerate(zip(sentences, pieces, strict=True), start=1):
        if (piece.channels, piece.sample_width, piece.rate) != (
            first.channels,
            first.sample_width,
            first.rate,
        ):
            raise ContentError("the speech engine changed its audio format between sentences")
        frames += [piece.frames, first.silence(PAUSE_SECONDS)]
        end = start + piece.seconds + PAUSE_SECONDS
        cues.append(Cue(number, round(start, 3), round(end, 3), sentence))
        start = end
    whole = Audio(first.channels, first.sample_width, first.rate, b"".join(frames))
    wav = work / "narration.wav"
    write_wav(wav, whole)
    if not opus:
        return Narration(wav, tuple(cues), whole.seconds)
    encoded = work / "narration.opus"
    encode_opus(wav, encoded)
    wav.unlink()
    return Narration(encoded, tuple(cues), whole.seconds)


@dataclass
class NarrateResult:
    """What :func:`narrate_course` did, lesson by lesson."""

    made: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)  # narration already matched the text
    silent: list[str] = field(default_factory=list)  # no text to read
    seconds_of_audio: float = 0.0
    seconds_taken: float = 0.0
    bytes_written: int = 0


def narrate_course(
    root: Path,
    engine: SpeechEngine,
    *,
    lessons: Sequence[str] = (),
    force: bool = False,
    opus: bool | None = None,
    on_lesson: Callable[[str], None] | None = None,
) -> NarrateResult:
    """Write ``narration/<key>.<audio>`` and ``.vtt`` for the lessons of ``root`` (all, or
    those named) whose narration is missing or out of date (or all of them, ``force``)."""
    analysis = analyse_course(root)
    course = analysis.course
    if course is None:
        raise ContentError("the course cannot be read; run 'stepstone package lint' first")
    known = {lesson.key for lesson in course.lessons}
    unknown = sorted(set(lessons) - known)
    if unknown:
        raise ContentError(f"the course has no lesson '{unknown[0]}'")
    engine.check(course.language)
    use_opus = opus_installed() if opus is None else opus
    result = NarrateResult()
    began = time.monotonic()
    files = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    for lesson in course.lessons:
        if lessons and lesson.key not in lessons:
            continue
        sentences = mark_sentences(analysis.rendered[lesson.key].html).sentences
        if not sentences:
            result.silent.append(lesson.key)
            continue
        if not force and _up_to_date(root, lesson.key, files, sentences):
            result.current.append(lesson.key)
            continue
        if on_lesson is not None:
            on_lesson(lesson.key)
        with tempfile.TemporaryDirectory(prefix="narrate-") as work:
            made = synthesize(sentences, course.language, engine, Path(work), opus=use_opus)
            result.bytes_written += _install(root, lesson.key, made)
        result.made.append(lesson.key)
        result.seconds_of_audio += made.seconds
    result.seconds_taken = time.monotonic() - began
    return result


def _up_to_date(root: Path, key: str, files: list[str], sentences: Sequence[str]) -> bool:
    timings, audio = narration_paths(key, files)
    if timings is None or len(audio) != 1:
        return False
    try:
        cues = parse_timings((root / timings).read_text(encoding="utf-8"))
    except (TimingsError, UnicodeDecodeError):
        return False
    return not timings_problems(cues, sentences)


def _install(root: Path, key: str, made: Narration) -> int:
    """Move the new files into ``narration/``, the timings last, and remove the lesson's
    other audio files (a course has one audio file per narrated lesson)."""
    folder = root / NARRATION_FOLDER
    folder.mkdir(exist_ok=True)
    audio = folder / f"{key}{made.audio.suffix}"
    timings = folder / f"{key}.vtt"
    text = format_timings(made.cues).encode("utf-8")
    _replace(audio, made.audio.read_bytes())
    for suffix in AUDIO_SUFFIXES:
        old = folder / f"{key}{suffix}"
        if suffix != made.audio.suffix and old.exists():
            old.unlink()
    _replace(timings, text)
    return audio.stat().st_size + len(text)


def _replace(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.new")
    temporary.write_bytes(data)
    temporary.chmod(new_file_mode())
    temporary.replace(path)
