"""Narration in the course format: the linter checks that its cues are the lesson's
sentences, and the package carries it in the lesson's manifest entry."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from content.errors import Severity
from content.format.lint import lint_course
from content.format.narration import Cue, TimingsError, format_timings, parse_timings
from content.package.build import build_package
from tests.content.conftest import WriteCourse
from tests.content.narrated import lesson_sentences, narrate_with_tones


def errors(course: Path) -> list[str]:
    return [f"{p.file}: {p.message}" for p in lint_course(course) if p.severity is Severity.ERROR]


def test_timings_are_written_and_read_back() -> None:
    cues = [Cue(1, 0, 1.25, "Save & spend."), Cue(2, 1.25, 3723.5, "Then <rest>.")]
    text = format_timings(cues)
    assert text.startswith("WEBVTT\n\ns1\n00:00:00.000 --> 00:00:01.250\nSave &amp; spend.\n")
    assert "01:02:03.500" in text
    assert parse_timings(text) == cues


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("s1\n00:00.000 --> 00:01.000\nHi\n", "starts with 'WEBVTT'"),
        ("WEBVTT\n\n00:00.000 --> 00:01.000\nHi\n", "has no timing line"),
        ("WEBVTT\n\nintro\n00:00.000 --> 00:01.000\nHi\n", "must be named s1, s2"),
        ("WEBVTT\n\ns1\n00:02.000 --> 00:01.000\nHi\n", "ends before it starts"),
        ("WEBVTT\n\ns1\n0:2 --> 00:01.000\nHi\n", "is not a time"),
    ],
)
def test_unreadable_timings_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(TimingsError, match=says):
        parse_timings(text)


def test_narration_that_matches_the_text_is_packaged(
    make_course: WriteCourse, tmp_path: Path
) -> None:
    course = make_course()
    cues = narrate_with_tones(course, "intro")
    assert [c.text for c in cues] == [
        "Welcome",
        "Read this, then watch the video.",
        "Next steps",
        "Tip",
        "Take your time.",
    ]
    assert errors(course) == []
    package = build_package(course, tmp_path / "dist", progress=False)
    with tarfile.open(package) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        names = tar.getnames()
    intro = next(x for x in manifest["lessons"] if x["key"] == "intro")
    assert intro["narration"] == {
        "audio": "media/narration/intro.wav",
        "timings": "media/narration/intro.vtt",
    }
    assert {"media/narration/intro.wav", "media/narration/intro.vtt"} <= set(names)
    video = next(x for x in manifest["lessons"] if x["key"] == "video")
    assert "narration" not in video


def test_narration_made_before_the_text_changed_is_an_error(make_course: WriteCourse) -> None:
    course = make_course()
    narrate_with_tones(course, "intro")
    lesson = course / "lessons/01-intro.md"
    lesson.write_text(lesson.read_text().replace("Take your time.", "Take your time. Rest."))
    assert errors(course) == [
        "narration/intro.vtt: narration does not match the text of 'intro': no cue for "
        "sentence 6 of 6 (s6); make it again (stepstone package narrate) after changing a lesson"
    ]
    lesson.write_text(lesson.read_text().replace("Take your time. Rest.", "Take a break."))
    assert errors(course) == [
        "narration/intro.vtt: narration does not match the text of 'intro': cue s5 says "
        "'Take your time.' but sentence 5 is 'Take a break.'; make it again (stepstone "
        "package narrate) after changing a lesson"
    ]


def test_timings_without_audio_or_for_no_lesson_are_reported(make_course: WriteCourse) -> None:
    course = make_course()
    narrate_with_tones(course, "intro")
    (course / "narration/intro.wav").unlink()
    (course / "narration/gone.vtt").write_text("WEBVTT\n")
    problems = {f"{p.file}: {p.message}" for p in lint_course(course)}
    assert (
        "narration/intro.vtt: narration of 'intro' needs one audio file and its timings "
        "(narration/intro.vtt); found no audio file"
    ) in problems
    assert "narration/gone.vtt: not used by any lesson; it will not be packaged" in problems


def test_sentences_of_a_spanish_lesson(make_course: WriteCourse) -> None:
    intro = "---\nkey: intro\ntitle: Hola\nkind: reading\n---\n"
    intro += "¿Qué es un presupuesto? Es un plan, p. ej. para la Sra. Ruiz. ¡Pruébalo!\n"
    course = make_course(lessons={"lessons/01-intro.md": intro}, course={"language": "es"})
    assert lesson_sentences(course, "intro") == (
        "¿Qué es un presupuesto?",
        "Es un plan, p. ej. para la Sra. Ruiz.",
        "¡Pruébalo!",
    )
