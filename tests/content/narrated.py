"""Narration files written from code for tests: a WAV tone per sentence and its timings."""

from __future__ import annotations

import io
import math
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path

from content.format.analyse import analyse_course
from content.format.narration import Cue, format_timings
from content.format.sentences import mark_sentences
from content.package.speech import SpeechError

RATE = 8000


def lesson_sentences(course: Path, key: str) -> tuple[str, ...]:
    """The sentences of lesson ``key`` as the linter and the lesson page number them."""
    return mark_sentences(analyse_course(course).rendered[key].html).sentences


def tone_wav(seconds: float) -> bytes:
    """A quiet 440 Hz tone, mono 16-bit PCM (Chromium plays WAV without help)."""
    frames = int(seconds * RATE)
    samples = (int(3000 * math.sin(2 * math.pi * 440 * n / RATE)) for n in range(frames))
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(RATE)
        file.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return out.getvalue()


def narrate_with_tones(course: Path, key: str, per_sentence: float = 1.0) -> list[Cue]:
    """Write ``narration/<key>.wav`` and ``.vtt``: ``per_sentence`` seconds a sentence."""
    sentences = lesson_sentences(course, key)
    cues = [
        Cue(n, (n - 1) * per_sentence, n * per_sentence, text)
        for n, text in enumerate(sentences, start=1)
    ]
    folder = course / "narration"
    folder.mkdir(exist_ok=True)
    (folder / f"{key}.wav").write_bytes(tone_wav(len(sentences) * per_sentence))
    (folder / f"{key}.vtt").write_text(format_timings(cues), encoding="utf-8")
    return cues


@dataclass
class ToneEngine:
    """A stand-in engine: a tone of 0.05 s a character, and a record of what it read."""

    said: list[str] = field(default_factory=list)
    name: str = "tones"

    def check(self, language: str) -> None:
        if language not in ("en", "es"):
            raise SpeechError(f"no voice for '{language}'")

    def speak(self, text: str, language: str, wav: Path) -> None:
        self.said.append(text)
        wav.write_bytes(tone_wav(len(text) * 0.05))
