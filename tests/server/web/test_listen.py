"""The Listen control on learner pages: sentences marked for it, in English and Spanish."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from tests.conftest import People, sign_in

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
    assert 'class="lesson-text" data-readable>' in page  # no narration in this course


def test_quiz_home_and_catalog_pages_can_be_read_aloud(client: TestClient, people: People) -> None:
    sign_in(client, people.learner)
    quiz = client.get(f"/learn/courses/{MATH}/lessons/fractions-quiz").text
    for page in (quiz, client.get("/learn").text, client.get("/learn/catalog").text):
        assert "data-listen " in page and "js/listen.js" in page


def test_a_spanish_learner_gets_the_control_in_spanish(client: TestClient, people: People) -> None:
    sign_in(client, people.other_learner)
    page = client.get("/learn").text
    assert ">Escuchar</span>" in page and ">Frase anterior</button>" in page
