"""Narration: a lesson read aloud, as an audio file and the WebVTT timings of its sentences.

A course ships narration for a lesson as two files in its ``narration/`` folder, named by
the lesson's key: ``narration/<key>.vtt`` and one audio file ``narration/<key>.<ext>``
(``.opus``, ``.ogg``, ``.mp3``, ``.m4a`` or ``.wav``). Any voice may have made them; the
publisher's ``stepstone package narrate`` makes them with a speech engine.

Each cue of the WebVTT file times one sentence of the lesson text. Its identifier is
``s<N>``, N being the sentence number of :mod:`content.format.sentences`, and its text
is the sentence. So the lesson page highlights sentence N while the audio plays cue
``sN``, and the linter can tell when the text changed after the narration was made.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NARRATION_FOLDER = "narration"
AUDIO_SUFFIXES = (".opus", ".ogg", ".mp3", ".m4a", ".wav")
_TIME = re.compile(r"^(?:(\d+):)?([0-5]\d):([0-5]\d)\.(\d{3})$")


class TimingsError(ValueError):
    """A WebVTT timings file that cannot be read; the message says what is wrong."""


@dataclass(frozen=True)
class Cue:
    """One sentence's place in the narration audio."""

    sentence: int
    start: float  # seconds
    end: float
    text: str


def narration_paths(key: str, course_files: Iterable[str]) -> tuple[str | None, list[str]]:
    """The timings file of lesson ``key`` (or None) and its audio files (course paths)."""
    names = set(course_files)
    timings = f"{NARRATION_FOLDER}/{key}.vtt"
    audio = [f"{NARRATION_FOLDER}/{key}{s}" for s in AUDIO_SUFFIXES]
    return (timings if timings in names else None), [a for a in audio if a in names]


def _seconds(stamp: str, line: int) -> float:
    match = _TIME.match(stamp.strip())
    if match is None:
        raise TimingsError(f"line {line}: '{stamp.strip()}' is not a time like 00:01.500")
    hours, minutes, seconds, millis = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def parse_timings(text: str) -> list[Cue]:
    """The cues of a narration's WebVTT file, in file order."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or not re.match(r"WEBVTT(\s|$)", lines[0]):
        raise TimingsError("line 1: a WebVTT file starts with 'WEBVTT'")
    cues: list[Cue] = []
    index = 1
    while index < len(lines):
        if not lines[index].strip() or lines[index].startswith("NOTE"):
            index = _skip_block(lines, index)
            continue
        ident, index = lines[index].strip(), index + 1
        if index >= len(lines) or "-->" not in lines[index]:
            raise TimingsError(f"line {index}: cue '{ident}' has no timing line after it")
        match = re.fullmatch(r"s([1-9]\d*)", ident)
        if match is None:
            raise TimingsError(
                f"line {index}: cue '{ident}' must be named s1, s2 ... after its sentence"
            )
        start_text, end_text = lines[index].split("-->", 1)
        start = _seconds(start_text, index + 1)
        end = _seconds(end_text.split()[0] if end_text.split() else "", index + 1)
        if end <= start:
            raise TimingsError(f"line {index + 1}: cue '{ident}' ends before it starts")
        body_end = _skip_block(lines, index + 1)
        body = html.unescape(" ".join(line.strip() for line in lines[index + 1 : body_end]))
        cues.append(Cue(int(match.group(1)), start, end, body))
        index = body_end
    return cues


def _skip_block(lines: list[str], index: int) -> int:
    """The index after the block starting at ``index`` (blank lines end a block)."""
    if not lines[index].strip():
        return index + 1
    while index < len(lines) and lines[index].strip():
        index += 1
    return index


def timings_problems(cues: Sequence[Cue], sentences: Sequence[str]) -> list[str]:
    """How the cues disagree with the lesson's sentences (empty when they match)."""
    numbers = [cue.sentence for cue in cues]
    expected = list(range(1, len(sentences) + 1))
    if numbers != expected:
        missing = sorted(set(expected) - set(numbers))
        extra = sorted(set(numbers) - set(expected))
        if missing:
            return [f"no cue for sentence {missing[0]} of {len(sentences)} (s{missing[0]})"]
        if extra:
            return [f"cue s{extra[0]} but the lesson has {len(sentences)} sentences"]
        return ["the cues are not in sentence order s1, s2 ..."]
    problems = []
    for cue, sentence in zip(cues, sentences, strict=True):
        if " ".join(cue.text.split()) != sentence:
            problems.append(
                f"cue s{cue.sentence} says '{_short(cue.text)}' "
                f"but sentence {cue.sentence} is '{_short(sentence)}'"
            )
    for before, after in itertools.pairwise(cues):
        if after.start < before.start:
            problems.append(f"cue s{after.sentence} starts before cue s{before.sentence}")
    return problems


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _stamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def format_timings(cues: Iterable[Cue]) -> str:
    """A narration's WebVTT file for ``cues``."""
    blocks = ["WEBVTT"]
    for cue in cues:
        text = html.escape(" ".join(cue.text.split()), quote=False)
        blocks.append(f"s{cue.sentence}\n{_stamp(cue.start)} --> {_stamp(cue.end)}\n{text}")
    return "\n\n".join(blocks) + "\n"
