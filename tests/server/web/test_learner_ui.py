"""The tablet-first learner pages: bottom tabs, covers and category icons, progress in
words, and Spanish speakers kept to courses they can read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from starlette.testclient import TestClient

from server.core.db import Database
from server.learning import assignments
from server.people.audit import Actor
from server.web import i18n
from tests.conftest import People, csrf_from, sign_in

pytestmark = pytest.mark.demo  # each test has its own copy of the demo facility

SAFETY = "org.stepstone.demo.workplace-safety"
TRAPS = "org.stepstone.demo.thinking-traps"
TRAPS_ES = "org.stepstone.demo.thinking-traps-es"


def _tabs(page: str) -> list[tuple[str, bool]]:
    """The bottom tabs of a page: (link, is it the current one)."""
    bar = re.search(r'<nav class="tab-bar"[^>]*>(.*?)</nav>', page, re.S)
    assert bar, "no bottom tabs on the page"
    links = re.findall(r'<a href="([^"]+)"( aria-current="page")?>', bar.group(1))
    return [(href, bool(current)) for href, current in links]


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/learn", "/learn"),
        ("/learn/catalog", "/learn/catalog"),
        (f"/learn/courses/{SAFETY}", "/learn/catalog"),
        (f"/learn/courses/{SAFETY}/lessons/protective-gear", "/learn/catalog"),
        ("/search?q=safety", "/search"),
        ("/account", "/account"),
        ("/learn/plan", "/account"),
        ("/learn/transcript", "/account"),
        ("/library", "/library"),
        ("/learn/passport", "/account"),
    ],
)
def test_every_learner_page_has_the_bottom_tabs_with_its_own_marked(
    client: TestClient, people: People, path: str, current: str
) -> None:
    sign_in(client, people.learner)
    page = client.get(path)
    assert page.status_code == 200
    tabs = _tabs(page.text)
    tab_hrefs = ["/learn", "/learn/catalog", "/library", "/search", "/account"]
    assert [href for href, _ in tabs] == tab_hrefs
    assert [href for href, marked in tabs if marked] == [current]
    # Each tab is an icon drawn inline (hidden from screen readers) and a word.
    bar = page.text[page.text.index('class="tab-bar"') :]
    icons = re.findall(r"<svg [^>]*>", bar)
    assert len(icons) == len(tab_hrefs) and all('aria-hidden="true"' in svg for svg in icons)
    assert re.search(r"</svg><span>Home</span>", bar)
    # The old row of small links at the top is gone for learners.
    assert 'class="nav-list"' not in page.text


def test_tabs_are_in_spanish_for_a_spanish_speaker(client: TestClient, people: People) -> None:
    sign_in(client, people.other_learner)
    bar = client.get("/learn").text.split('class="tab-bar"')[1]
    for word in ("Inicio", "Cursos", "Buscar", "Yo"):
        assert f"<span>{word}</span>" in bar


def test_staff_keep_the_menu_at_the_top(client: TestClient, people: People) -> None:
    sign_in(client, people.educator)
    page = client.get("/teach").text
    assert 'class="tab-bar"' not in page
    assert 'class="nav-list"' in page


def test_the_me_tab_leads_to_plan_and_record(client: TestClient, people: People) -> None:
    sign_in(client, people.learner)
    page = client.get("/account").text
    assert 'href="/learn/plan"' in page and 'href="/learn/transcript"' in page


def _card(page: str, course_id: str) -> str:
    start = page.rindex(
        '<li class="course-card">',
        0,
        page.index(f'class="course-title"><a href="/learn/courses/{course_id}"'),
    )
    return page[start : page.index("</li>", start)]


def test_cards_show_the_cover_or_the_topic_icon(client: TestClient, people: People) -> None:
    sign_in(client, people.learner)
    catalog = client.get("/learn/catalog?language=").text
    safety = _card(catalog, SAFETY)
    cover = re.search(
        r'<img src="(/media/[0-9a-f]{64}/safety-habits-poster.png)" alt="([^"]+)"', safety
    )
    assert cover and cover.group(2) == "Safety First: four habits for every shift"
    picture = client.get(cover.group(1))
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    # A course without a cover: its topic's icon, drawn inline and hidden from screen
    # readers (the topic is written on the card).
    traps = _card(catalog, TRAPS)
    assert "<img" not in traps
    assert re.search(
        r'<div class="course-picture topic-cbt">\s*<svg [^>]*aria-hidden="true"', traps
    )
    # The course page shows the same picture.
    course = client.get(f"/learn/courses/{SAFETY}").text
    assert cover.group(1) in course


def test_progress_is_a_bar_with_words_on_home_catalog_and_course(
    client: TestClient, people: People
) -> None:
    sign_in(client, people.learner)
    page = f"/learn/courses/{SAFETY}/lessons/protective-gear"
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text)
    event = re.search(r'name="event_id" value="([^"]+)"', client.get(page).text)
    assert token and event
    done = client.post(
        page + "/done", data={"csrf_token": token.group(1), "event_id": event.group(1)}
    )
    assert done.status_code == 200
    for path in ("/learn", "/learn/catalog?language=", f"/learn/courses/{SAFETY}"):
        text = client.get(path).text
        assert re.search(r'<progress max="7" value="1"[^>]*>', text), path
        assert "1 of 7 lessons done" in text, path


def _course_links(page: str) -> set[str]:
    return set(re.findall(r'class="course-title"><a href="/learn/courses/([^"]+)"', page))


def test_the_catalog_opens_in_the_learners_language_with_the_others_one_tap_away(
    client: TestClient, people: People
) -> None:
    sign_in(client, people.other_learner)  # reads Spanish
    page = client.get("/learn/catalog").text
    assert _course_links(page) == {TRAPS_ES}
    row = re.search(r'<nav class="choice-row"[^>]*>(.*?)</nav>', page, re.S)
    assert row
    links = re.findall(
        r'<a [^>]*href="([^"]+)"[^>]*?( aria-current="true")?>([^<]+)</a>', row.group(1)
    )
    # Their language first and chosen; every other language and "all" one tap away.
    assert [(href, bool(cur), words) for href, cur, words in links] == [
        ("?language=es", True, "Español (1)"),
        ("?language=en", False, "English (5)"),
        ("?language=", False, "Todos los idiomas (6)"),
    ]
    assert _course_links(client.get("/learn/catalog?language=").text) >= {TRAPS, TRAPS_ES, SAFETY}
    assert _course_links(client.get("/learn/catalog?language=en").text) == {
        c for c in _course_links(client.get("/learn/catalog?language=").text) if c != TRAPS_ES
    }
    # A topic keeps the language chosen.
    cbt = client.get("/learn/catalog?language=es&category=cbt").text
    assert _course_links(cbt) == {TRAPS_ES}
    assert 'name="language" value="es"' in cbt


def test_an_english_reader_starts_with_english_courses(client: TestClient, people: People) -> None:
    sign_in(client, people.learner)
    assert TRAPS_ES not in _course_links(client.get("/learn/catalog").text)
    assert SAFETY in _course_links(client.get("/learn/catalog").text)


def test_home_says_when_an_assigned_course_is_not_in_the_learners_language(
    client: TestClient, people: People, database: Database
) -> None:
    teacher = Actor(people.educator.id, "teacher")
    spanish = people.other_learner
    # An English course with a Spanish edition, and one without.
    assignments.assign(database, teacher, TRAPS, learners=[spanish.id])
    assignments.assign(database, teacher, SAFETY, learners=[spanish.id])
    sign_in(client, spanish)
    home = client.get("/learn").text
    traps = _card(home, TRAPS)
    assert "Este curso está en inglés." in traps
    assert re.search(rf'<a href="/learn/courses/{TRAPS_ES}" lang="es">Ábrelo en español: ', traps)
    safety = _card(home, SAFETY)
    assert "Este curso está en inglés." in safety
    assert "pregúntale a tu docente" in safety
    # A course in their own language says nothing of the kind.
    assignments.assign(database, teacher, TRAPS_ES, learners=[spanish.id])
    assert "Este curso está en" not in _card(client.get("/learn").text, TRAPS_ES)
    # Nor does an English course for an English reader.
    client.post("/signout", data={"csrf_token": csrf_from(client, "/learn")})
    assignments.assign(database, teacher, TRAPS, learners=[people.learner.id])
    sign_in(client, people.learner)
    assert "This course is in" not in client.get("/learn").text


def test_search_results_come_first_and_captions_are_the_lesson(
    client: TestClient, people: People
) -> None:
    sign_in(client, people.learner)
    page = client.get("/search?q=twist").text
    results = page.index('<ol class="results">')
    # The filters fold into one line above the results, closed until one is chosen.
    facets = re.search(r'<details class="facets card"( open)?>\s*<summary>([^<]+)</summary>', page)
    assert facets and not facets.group(1) and facets.group(2) == "Narrow the results"
    assert facets.start() < results
    # A hit in the captions is the video lesson, marked as what is said in it, not a
    # result named after the captions file's language.
    titles = re.findall(r'<h2 class="result-title">(.*?)</h2>', page, re.S)
    caption = next(t for t in titles if "four-safety-habits" in t and "Words said in it" in t)
    assert "› English" not in caption
    narrowed = client.get("/search?q=twist&category=vocational").text
    chosen = re.search(
        r'<details class="facets card"( open)?>\s*<summary>([^<]+)</summary>', narrowed
    )
    assert chosen and chosen.group(1) == " open" and chosen.group(2) == "Narrow the results: 1"


def _text(value: object) -> str:
    """A catalog message's text: plural forms joined."""
    if isinstance(value, str):
        return value
    return " ".join(str(part) for part in value) if isinstance(value, tuple | list) else ""


def test_spanish_says_pin_and_keeps_clave_for_keys_only() -> None:
    """A PIN is "PIN" in Spanish, for learners and staff alike; "clave" is kept for what
    the English calls a key (a key file, a public key, keywords)."""
    po = Path(i18n.__file__).parent / "translations" / "es" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as file:
        catalog = read_po(file)
    wrong = []
    for message in catalog:
        english = _text(message.id)
        spanish = _text(message.string)
        if "clave" in spanish.lower() and not re.search(r"\bkey", english, re.I):
            wrong.append((english, spanish))
    assert wrong == []
