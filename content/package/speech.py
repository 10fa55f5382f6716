"""Speech engines: sentences to audio with a program installed on this machine.

Narration is made where there is time for it (on the publisher's machine, or at a
facility's import), never while a learner waits, and never through a network: each
engine runs a local program on text given on its standard input. Two engines:

* **eSpeak NG** (``espeak-ng`` from Debian): small, robotic, English and Spanish voices
  always there. The default.
* **Piper**: a neural voice that sounds human, used only when its program and a voice
  model file are both given; the model is never downloaded here.

An engine writes 16-bit PCM WAV; :func:`encode_opus` makes it Ogg/Opus (``opusenc``) for
a file about a twentieth of the size (16 kbit/s is plenty for one voice), which every
browser a facility uses plays.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from content.errors import ContentError

# The engine's own voice for each language a facility serves (BCP 47 primary subtag).
ESPEAK_VOICES = {"en": "en-us", "es": "es-419"}
# Slower than eSpeak NG's default of 175 words a minute: many learners read slowly.
ESPEAK_WORDS_PER_MINUTE = 145
_TIMEOUT = 120  # seconds for one sentence; a stuck program must not hang an import


class SpeechError(ContentError):
    """Narration could not be made; the message says what to install or change."""


class SpeechEngine(Protocol):
    """Something that reads one sentence aloud into a WAV file."""

    @property
    def name(self) -> str:
        """The engine's name, as recorded with what it made."""

    def check(self, language: str) -> None:
        """Raise :class:`SpeechError` when this engine cannot speak ``language`` here."""

    def speak(self, text: str, language: str, wav: Path) -> None:
        """Write ``text`` read aloud to ``wav`` (16-bit PCM)."""


def _primary(language: str) -> str:
    return language.split("-")[0].lower()


def _run(command: list[str], text: str, what: str) -> None:
    try:
        subprocess.run(  # noqa: S603 - a fixed program; the text goes to its stdin
            command,
            input=text.encode("utf-8"),
            capture_output=True,
            check=True,
            timeout=_TIMEOUT,
        )
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip()[:300]
        raise SpeechError(f"{what} failed: {detail or f'exit status {exc.returncode}'}") from exc
    except subprocess.TimeoutExpired as exc:
        raise SpeechError(f"{what} took longer than {_TIMEOUT} s for one sentence") from exc
    except OSError as exc:
        raise SpeechError(f"{what} could not be started: {exc}") from exc


@dataclass(frozen=True)
class EspeakEngine:
    """eSpeak NG, from Debian's ``espeak-ng`` package."""

    program: str = "espeak-ng"
    words_per_minute: int = ESPEAK_WORDS_PER_MINUTE
    name: str = "espeak-ng"

    def installed(self) -> bool:
        return shutil.which(self.program) is not None

    def check(self, language: str) -> None:
        if not self.installed():
            raise SpeechError("eSpeak NG is not installed (Debian: apt install espeak-ng)")
        if _primary(language) not in ESPEAK_VOICES:
            known = ", ".join(sorted(ESPEAK_VOICES))
            raise SpeechError(f"no eSpeak NG voice is set up for '{language}' (only {known})")

    def speak(self, text: str, language: str, wav: Path) -> None:
        voice = ESPEAK_VOICES[_primary(language)]
        command = [self.program, "--stdin", "-v", voice, "-s", str(self.words_per_minute)]
        _run([*command, "-w", str(wav)], text, "eSpeak NG")


@dataclass(frozen=True)
class PiperEngine:
    """Piper with one voice model (an ``.onnx`` file and its ``.onnx.json`` beside it).
    A model speaks one language: the one its ``.onnx.json`` names."""

    model: Path
    program: str = "piper"
    name: str = "piper"

    def check(self, language: str) -> None:
        if shutil.which(self.program) is None:
            raise SpeechError(f"the Piper program '{self.program}' is not installed")
        if not self.model.is_file():
            raise SpeechError(f"the Piper voice model {self.model} is not there")
        spoken = self.model_language()
        if spoken and _primary(spoken) != _primary(language):
            raise SpeechError(
                f"the Piper voice {self.model.name} speaks '{spoken}', the course is '{language}'"
            )

    def model_language(self) -> str:
        """The language the model's config names ("" when it names none)."""
        config = self.model.with_name(self.model.name + ".json")
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ""
        language = data.get("language", {}) if isinstance(data, dict) else {}
        code = language.get("code", "") if isinstance(language, dict) else ""
        return str(code).replace("_", "-")

    def speak(self, text: str, language: str, wav: Path) -> None:
        command = [self.program, "--model", str(self.model), "--output_file", str(wav)]
        _run(command, text, "Piper")


@dataclass(frozen=True)
class Audio:
    """PCM audio: its format and its frames."""

    channels: int
    sample_width: int
    rate: int
    frames: bytes

    @property
    def seconds(self) -> float:
        return len(self.frames) / (self.channels * self.sample_width * self.rate)

    def silence(self, seconds: float) -> bytes:
        return b"\x00" * (int(seconds * self.rate) * self.channels * self.sample_width)


def read_wav(path: Path) -> Audio:
    """The audio of a PCM WAV file."""
    try:
        with wave.open(str(path), "rb") as file:
            frames = file.readframes(file.getnframes())
            return Audio(file.getnchannels(), file.getsampwidth(), file.getframerate(), frames)
    except (OSError, EOFError, wave.Error) as exc:
        raise SpeechError(f"the engine wrote no usable WAV file: {exc}") from exc


def write_wav(path: Path, audio: Audio) -> None:
    with wave.open(str(path), "wb") as file:
        file.setnchannels(audio.channels)
        file.setsampwidth(audio.sample_width)
        file.setframerate(audio.rate)
        file.writeframes(audio.frames)


def opus_installed() -> bool:
    return shutil.which("opusenc") is not None


def encode_opus(wav: Path, opus: Path, bitrate_kbps: int = 16) -> None:
    """Encode speech as Ogg/Opus; the same input gives the same bytes (fixed serial)."""
    command = ["opusenc", "--quiet", "--speech", "--bitrate", str(bitrate_kbps)]
    command += ["--serial", "1", "--padding", "0", str(wav), str(opus)]
    _run(command, "", "opusenc")
