"""Read-aloud in Chromium: the Listen control plays, pauses, goes back a sentence and
changes speed, and the sentence being read is highlighted as it goes.

Headless Chromium has no voices of its own, so the speech-synthesis path runs against a
stand-in for ``window.speechSynthesis`` that "speaks" each utterance in a few
milliseconds and records what it was asked to say, in which language, at which rate, and
which sentence was highlighted at that moment.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from server.people.accounts import Role
from tests.browser.conftest import watch
from tests.conftest import PIN, demo_facility, make_user
from tests.content.narrated import narrate_with_tones
from tests.live import free_port, running_process, running_server
from tests.server.web.preview.folder import lesson_url as preview_lesson_url
from tests.server.web.preview.folder import write_preview_course

pytestmark = pytest.mark.browser

MATH = "/learn/courses/org.stepstone.demo.everyday-math"
TRAPS = "/learn/courses/org.stepstone.demo.thinking-traps"

FAKE_SPEECH = r"""
(() => {
  const spoken = [];
  let timer = null, pending = null;
  window.__spoken = spoken;
  window.__voices = [
    { lang: "en-US", name: "Test English" },
    { lang: "es-ES", name: "Test Spanish" },
  ];
  class Utterance { constructor(text) { this.text = text; } }
  const fake = {
    getVoices: () => window.__voices,
    addEventListener: () => {},
    speak(u) {
      const now = document.querySelector(".listen-now");
      spoken.push({ text: u.text, lang: u.lang, rate: u.rate, s: now && now.getAttribute("data-s"),
                    highlighted: Array.from(document.querySelectorAll(".listen-now"))
                      .map(e => e.textContent).join(" ").replace(/\s+/g, " ").trim() });
      pending = u;
      timer = setTimeout(() => { pending = null; u.onend && u.onend(); }, window.__speakMs || 20);
    },
    cancel() {
      clearTimeout(timer);
      if (pending && pending.onerror) { const u = pending; pending = null; u.onerror(); }
    },
  };
  Object.defineProperty(window, "speechSynthesis", { value: fake, configurable: true });
  window.SpeechSynthesisUtterance = Utterance;
})();
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data = tmp_path_factory.mktemp("listen") / "data"
    _settings, database = demo_facility(data)
    make_user(database, Role.LEARNER, "A100", "Alex Learner")
    make_user(database, Role.LEARNER, "A101", "Bea Aprendiz", language="es")
    database.close()
    # Everyday math as if its package had brought no narration (and none was made at
    # import): its lessons are read by the browser's voice. The other courses keep theirs.
    with sqlite3.connect(data / "stepstone.db") as db:
        db.execute(
            "UPDATE lessons SET data = json_remove(data, '$.narration') WHERE version_id IN"
            " (SELECT v.id FROM course_versions v JOIN courses c ON c.id = v.course_pk"
            "  WHERE c.course_id = 'org.stepstone.demo.everyday-math')"
        )
    with running_server(data, STEPSTONE_DEMO="true") as base:
        yield base, data


def sign_in(page: Page, base: str, facility_id: str = "A100") -> None:
    page.goto(base + "/signin")
    page.locator("#facility_id").fill(facility_id)
    page.locator("#pin").fill(PIN)
    page.locator("#pin").press("Enter")
    page.wait_for_url("**/learn")


def spoken(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate("window.__spoken")
    return result


def test_a_reading_is_read_sentence_by_sentence_with_the_highlight_following(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, _data = site
    context = browser.new_context()
    context.add_init_script(FAKE_SPEECH)
    watched = watch(context, base)
    page = watched.page
    sign_in(page, base)
    page.evaluate("window.__speakMs = 20")
    page.goto(base + MATH + "/lessons/fractions-in-daily-life")
    sentences = page.locator(".lesson-text [data-s]")
    count = int(sentences.last.get_attribute("data-s") or 0)
    assert count > 5
    listen = page.get_by_role("button", name="Listen")
    expect(listen).to_be_visible()

    listen.click()
    page.wait_for_function(f"() => window.__spoken.filter(u => u.s === '{count}').length > 0")
    expect(page.get_by_role("button", name="Listen")).to_be_visible()  # back to the start
    said = spoken(page)
    in_lesson = [u for u in said if u["s"] is not None]
    assert [int(u["s"]) for u in in_lesson] == list(range(1, count + 1))
    assert all(u["text"] == u["highlighted"] for u in in_lesson)
    assert said[0]["text"] == page.locator("h1").inner_text()  # the title comes first
    assert {u["lang"] for u in said} == {"en"}
    assert page.locator(".listen-now").count() == 0  # nothing is left highlighted
    assert page.evaluate("document.activeElement.textContent.trim()") == "Listen"  # focus stays

    # Pause, then go on: the sentence that was cut off is read again from its start.
    page.evaluate("window.__spoken.length = 0; window.__speakMs = 400")
    page.get_by_role("button", name="Listen").click()
    page.wait_for_function("() => window.__spoken.length === 2")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Go on")).to_be_visible()
    highlighted = page.locator(".listen-now").first.inner_text()
    page.wait_for_timeout(500)  # a paused control must not go on by itself
    assert len(spoken(page)) == 2
    page.get_by_role("button", name="Back a sentence").click()
    page.get_by_role("button", name="Speed 1×").click()
    page.get_by_role("button", name="Go on").click()
    page.wait_for_function("() => window.__spoken.length === 3")
    last = spoken(page)[-1]
    assert last["text"] != highlighted and last["text"] == spoken(page)[0]["text"]
    assert last["rate"] == 1.25
    page.get_by_role("button", name="Pause").click()
    assert watched.csp_violations() == []
    assert watched.foreign_requests() == []
    context.close()


def test_quiz_choices_and_spanish_pages_are_read_in_their_language(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, _data = site
    context = browser.new_context()
    context.add_init_script(FAKE_SPEECH)
    page = context.new_page()
    sign_in(page, base)
    page.goto(base + MATH + "/lessons/fractions-quiz")
    page.get_by_role("button", name="Listen").click()
    page.wait_for_function(
        "() => document.querySelector('[data-listen-label]').textContent === 'Listen'"
    )
    texts = [u["text"] for u in spoken(page)]
    first_question = page.locator("fieldset.question").first
    assert first_question.locator("legend").inner_text().replace("\n", " ") in texts
    for label in first_question.locator("label.choice").all():
        assert label.inner_text().strip() in texts
    context.close()

    context = browser.new_context()
    context.add_init_script(FAKE_SPEECH)
    page = context.new_page()
    sign_in(page, base, "A101")
    page.get_by_role("button", name="Escuchar").click()
    page.wait_for_function(
        "() => document.querySelector('[data-listen-label]').textContent === 'Escuchar'"
    )
    said = spoken(page)
    assert said and {u["lang"] for u in said} == {"es"}
    assert said[0]["text"] == page.locator("h1").inner_text()

    # Without a voice for the language (and no narration), there is no control to press.
    context.add_init_script("window.__voices = [{ lang: 'en-US', name: 'Test English' }]")
    page.reload()
    expect(page.locator("[data-listen]")).to_be_hidden()
    context.close()


def test_a_demo_lesson_plays_the_narration_its_course_ships(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, _data = site
    context = browser.new_context()  # headless Chromium: no voice, only the narration
    watched = watch(context, base)
    page = watched.page
    sign_in(page, base)
    page.goto(base + TRAPS + "/lessons/thoughts-feelings-actions")
    page.evaluate(SEEN)
    page.get_by_role("button", name="Speed 1×").click()
    page.get_by_role("button", name="Speed 1.25×").click()  # now 1.5×
    page.get_by_role("button", name="Listen").click()
    page.wait_for_function("() => window.__seen.includes('2')", timeout=15_000)
    state = page.evaluate(
        "(() => { const a = document.querySelector('[data-listen-audio]');"
        " return [a.paused, a.currentTime, a.playbackRate, a.currentSrc]; })()"
    )
    assert state[0] is False and state[1] > 1 and state[2] == 1.5, state
    assert state[3].endswith("/thoughts-feelings-actions.opus")
    assert page.evaluate("window.__seen")[:2] == ["1", "2"]
    page.get_by_role("button", name="Pause").click()
    assert page.evaluate("document.querySelector('[data-listen-audio]').paused") is True
    assert watched.csp_violations() == []
    assert watched.foreign_requests() == []
    context.close()


@pytest.fixture
def narrated_preview(tmp_path: Path) -> Iterator[str]:
    """The author's preview of a course whose first lesson has narration (a WAV tone of
    half a second a sentence, and its cues)."""
    folder = write_preview_course(tmp_path / "course")
    narrate_with_tones(folder, "intro", per_sentence=0.5)
    port = free_port()
    command = ["server", "package", "preview", str(folder), "--port", str(port)]
    with running_process(command, port, "/preview/changes", tmp_path / "preview.log") as base:
        yield base


SEEN = """() => {
  window.__seen = [];
  new MutationObserver(() => {
    const now = document.querySelector(".lesson-text .listen-now");
    const s = now && now.getAttribute("data-s");
    if (s && window.__seen[window.__seen.length - 1] !== s) { window.__seen.push(s); }
  }).observe(document.querySelector(".lesson-text"), { subtree: true, attributes: true });
}"""


def test_narration_plays_and_the_highlight_follows_its_cues(
    browser: Browser, narrated_preview: str
) -> None:
    base = narrated_preview
    context = browser.new_context()
    watched = watch(context, base)
    page = watched.page
    page.goto(base + preview_lesson_url("intro"))
    audio = page.locator("[data-listen-audio]")
    assert audio.get_attribute("src", timeout=5000)
    expect(page.get_by_role("button", name="Listen")).to_be_visible()
    assert page.locator(".lesson-text[data-narrated]").count() == 1
    page.evaluate(SEEN)

    page.get_by_role("button", name="Listen").click()
    page.wait_for_function("() => window.__seen.includes('3')")
    assert page.evaluate("document.querySelector('[data-listen-audio]').paused") is False
    page.get_by_role("button", name="Back a sentence").click()
    page.wait_for_function("() => window.__seen.includes('5')", timeout=10_000)
    # The highlight went 1, 2, 3 ..., back one sentence, then on to the end, in step with
    # the audio (where exactly "back" was pressed depends on the machine's speed).
    seen = [int(s) for s in page.evaluate("window.__seen")]
    steps = [b - a for a, b in itertools.pairwise(seen)]
    assert seen[:3] == [1, 2, 3] and seen[-1] == 5, seen
    assert sorted(steps) == [-1] + [1] * (len(steps) - 1), seen
    page.wait_for_function("() => document.querySelector('[data-listen-audio]').ended")
    expect(page.get_by_role("button", name="Listen")).to_be_visible()
    assert page.locator(".listen-now").count() == 0

    # Faster: the audio's own playback rate, no new file.
    page.get_by_role("button", name="Speed 1×").click()
    page.get_by_role("button", name="Speed 1.25×").click()
    assert page.evaluate("document.querySelector('[data-listen-audio]').playbackRate") == 1.5
    assert watched.csp_violations() == []
    assert watched.foreign_requests() == []
    context.close()
