"""The Listen control on learner pages: sentences marked for it, in English and Spanish."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from content.format.narration import parse_timings
from server.web.preview.app import create_preview_app
from tests.conftest import People, sign_in
from tests.content.narrated import narrate_with_tones
from tests.server.web.preview.folder import lesson_url as preview_lesson_url
from tests.server.web.preview.folder import write_preview_course

pytestmark = pytest.mark.demo  # each test has its own copy of the demo facility

MATH = "org.stepstone.demo.everyday-math"
SENTENCE = re.compile(r'<span data-s="(\d+)">([^<]*)</span>')


def test_a_reading_has_numbered_sentences_and_the_listen_control(
    client: TestClient, people: People
) -> None:
    sign_in(client, people.learner)
    page = client.get(f"/learn/courses/{MATH}/lessons/fractions-in-daily-life").text
    numbers = [int(n) for n, _ in SENTENCE.findall(page)]
    assert numbers[0] == 1
    assert sorted(set(numbers)) == list(range(1, max(numbers) + 1))
    assert max(numbers) > 5
    assert "data-listen " in page and ">Listen</span>" in page
    assert ">Back a sentence</button>" in page
    assert "js/listen.js" in page
    # The demo courses ship their narration: Opus audio and its sentence cues.
    assert 'class="lesson-text" data-readable data-narrated>' in page
    audio = re.search(
        r'data-listen-audio preload="metadata" src="(/media/[0-9a-f]{64}/[^"]+)"', page
    )
    track = re.search(r'<track kind="metadata" src="([^"]+)" default>', page)
    assert audio and track and audio.group(1).endswith("/fractions-in-daily-life.opus")
    cues = parse_timings(client.get(track.group(1)).text)
    assert [c.sentence for c in cues] == list(range(1, max(numbers) + 1))
    assert client.get(audio.group(1)).headers["content-type"] == "audio/ogg"


def test_quiz_home_and_catalog_pages_can_be_read_aloud(client: TestClient, people: People) -> None:
    sign_in(client, people.learner)
    quiz = client.get(f"/learn/courses/{MATH}/lessons/fractions-quiz").text
    for page in (quiz, client.get("/learn").text, client.get("/learn/catalog").text):
        assert "data-listen " in page and "js/listen.js" in page


def test_a_spanish_learner_gets_the_control_in_spanish(client: TestClient, people: People) -> None:
    sign_in(client, people.other_learner)
    page = client.get("/learn").text
    assert ">Escuchar</span>" in page and ">Frase anterior</button>" in page


def test_a_narrated_lesson_has_its_audio_and_timings_on_the_page(tmp_path: Path) -> None:
    folder = write_preview_course(tmp_path / "course")
    cues = narrate_with_tones(folder, "intro")
    with TestClient(create_preview_app(folder), base_url="http://127.0.0.1:8100") as client:
        page = client.get(preview_lesson_url("intro")).text
        audio = re.search(r'<audio data-listen-audio preload="metadata" src="([^"]+)">', page)
        track = re.search(r'<track kind="metadata" src="([^"]+)" default>', page)
        assert audio and track
        assert 'class="lesson-text" data-readable data-narrated>' in page
        assert client.get(audio.group(1)).headers["content-type"] == "audio/wav"
        timings = client.get(track.group(1)).text
        assert [c.text for c in parse_timings(timings)] == [c.text for c in cues]
        # The page's sentences are the ones the cues name.
        assert sorted({int(n) for n, _ in SENTENCE.findall(page)}) == [c.sentence for c in cues]
        other = client.get(preview_lesson_url("check")).text
        assert "data-listen-audio" not in other and "data-narrated" not in other
