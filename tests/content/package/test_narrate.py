"""Making narration: ``stepstone package narrate`` with eSpeak NG, a Piper adaptor, and
the bookkeeping around them (only what changed is made again, the result lints clean)."""

from __future__ import annotations

import shutil
import stat
import sys
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from content.cli import package_cli
from content.errors import ContentError, Severity
from content.format.lint import lint_course
from content.format.narration import parse_timings
from content.package.narrate import PAUSE_SECONDS, narrate_course
from content.package.speech import EspeakEngine, PiperEngine, SpeechError, read_wav
from tests.content.conftest import WriteCourse
from tests.content.narrated import RATE, ToneEngine, lesson_sentences


def errors(course: Path) -> list[str]:
    return [p.message for p in lint_course(course) if p.severity is Severity.ERROR]


def test_each_sentence_has_its_cue_where_its_audio_is(make_course: WriteCourse) -> None:
    course = make_course()
    engine = ToneEngine()
    result = narrate_course(course, engine, opus=False)
    assert result.made == ["intro", "video"]
    sentences = lesson_sentences(course, "intro")
    cues = parse_timings((course / "narration/intro.vtt").read_text())
    assert [c.text for c in cues] == list(sentences)
    start = 0.0
    for cue in cues:  # back to back: a sentence's sound, then a short pause
        assert cue.start == pytest.approx(start, abs=0.002)
        assert cue.end - cue.start == pytest.approx(len(cue.text) * 0.05 + PAUSE_SECONDS, abs=0.002)
        start = cue.end
    audio = read_wav(course / "narration/intro.wav")
    assert audio.seconds == pytest.approx(cues[-1].end, abs=0.002)
    assert errors(course) == []


def test_only_missing_or_changed_narration_is_made_again(make_course: WriteCourse) -> None:
    course = make_course()
    narrate_course(course, ToneEngine(), opus=False)
    again = ToneEngine()
    result = narrate_course(course, again, opus=False)
    assert (result.made, result.current, again.said) == ([], ["intro", "video"], [])
    lesson = course / "lessons/01-intro.md"
    lesson.write_text(lesson.read_text().replace("Take your time.", "Take a break."))
    assert errors(course)  # the narration no longer matches
    changed = ToneEngine()
    result = narrate_course(course, changed, opus=False)
    assert result.made == ["intro"] and "Take a break." in changed.said
    assert errors(course) == []
    forced = narrate_course(course, ToneEngine(), opus=False, force=True, lessons=["video"])
    assert forced.made == ["video"]


def test_bad_requests_say_what_is_wrong(make_course: WriteCourse) -> None:
    course = make_course()
    with pytest.raises(ContentError, match="no lesson 'nope'"):
        narrate_course(course, ToneEngine(), lessons=["nope"])
    french = make_course(course={"language": "fr"})
    with pytest.raises(SpeechError, match="no voice for 'fr'"):
        narrate_course(french, ToneEngine())
    assert not (french / "narration").exists()


def _espeak() -> EspeakEngine:
    engine = EspeakEngine()
    if not engine.installed():
        pytest.fail("eSpeak NG is missing: apt-get install espeak-ng (bash .ci/run does it)")
    return engine


def test_espeak_reads_english_and_spanish_into_opus(make_course: WriteCourse) -> None:
    if shutil.which("opusenc") is None:
        pytest.fail("opusenc is missing: apt-get install opus-tools (bash .ci/run does it)")
    intro = "---\nkey: intro\ntitle: Hola\nkind: reading\n---\n# Hola\n\n¿Cómo estás? Bien.\n"
    for language in ("en", "es"):
        course = make_course(lessons={"lessons/01-intro.md": intro}, course={"language": language})
        result = narrate_course(course, _espeak(), lessons=["intro"], force=True)
        opus = course / "narration/intro.opus"
        assert result.made == ["intro"] and opus.read_bytes()[:4] == b"OggS"
        assert not (course / "narration/intro.wav").exists()
        cues = parse_timings((course / "narration/intro.vtt").read_text())
        assert [c.text for c in cues] == ["Hola", "¿Cómo estás?", "Bien."]
        assert 2 < cues[-1].end < 10 and result.seconds_of_audio == pytest.approx(
            cues[-1].end, abs=0.01
        )
        assert errors(course) == []


def test_espeak_refuses_a_language_it_has_no_voice_for() -> None:
    with pytest.raises(SpeechError, match="no eSpeak NG voice is set up for 'fr'"):
        _espeak().check("fr")
    with pytest.raises(SpeechError, match="not installed"):
        EspeakEngine(program="no-such-espeak").check("en")


def test_piper_gets_its_model_and_the_text_and_nothing_else(tmp_path: Path) -> None:
    model = tmp_path / "en_US-test.onnx"
    model.write_bytes(b"model")
    model.with_name(model.name + ".json").write_text('{"language": {"code": "en_US"}}')
    log = tmp_path / "piper.log"
    program = tmp_path / "piper"
    program.write_text(
        f"#!{sys.executable}\n"
        "import sys, wave\n"
        "args = sys.argv[1:]\n"
        f"open({str(log)!r}, 'w').write(repr(args) + '|' + sys.stdin.read())\n"
        "with wave.open(args[args.index('--output_file') + 1], 'wb') as w:\n"
        f"    w.setnchannels(1); w.setsampwidth(2); w.setframerate({RATE})\n"
        "    w.writeframes(bytes(1600))\n"
    )
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    engine = PiperEngine(model, str(program))
    engine.check("en-GB")
    with pytest.raises(SpeechError, match="speaks 'en-US', the course is 'es'"):
        engine.check("es")
    out = tmp_path / "out.wav"
    engine.speak("-v Hello.", "en", out)
    args, text = log.read_text().split("|", 1)
    assert args == repr(["--model", str(model), "--output_file", str(out)])
    assert text == "-v Hello."
    with wave.open(str(out)) as file:
        assert file.getnframes() == 800
    with pytest.raises(SpeechError, match=r"voice model .* is not there"):
        PiperEngine(tmp_path / "gone.onnx", str(program)).check("en")


def test_the_command_narrates_and_says_what_it_did(make_course: WriteCourse) -> None:
    course = make_course()
    cli = CliRunner()
    result = cli.invoke(package_cli, ["narrate", str(course)])
    assert result.exit_code == 0, result.output
    assert "2 made, 0 already current, 0 with nothing to read" in result.output
    assert "s per minute of audio" in result.output
    assert errors(course) == []
    again = cli.invoke(package_cli, ["narrate", str(course)])
    assert "0 made, 2 already current" in again.output
    piper = cli.invoke(package_cli, ["narrate", str(course), "--engine", "piper"])
    assert piper.exit_code == 1
    assert "--engine piper needs --piper-model" in piper.output
