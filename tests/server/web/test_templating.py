"""Templates are read once per worker: a page does no file-system work to render."""

from __future__ import annotations

import os

import jinja2
import pytest

from server.web import i18n
from server.web.templating import Templates


def test_a_second_render_does_not_look_at_the_template_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    templates = Templates()
    i18n.set_language("en")
    first = templates.render("_notice.html", _context())

    def no_stat(path: object) -> float:
        raise AssertionError(f"looked at {path} again")

    # Jinja's reload check asks each template file's modification time on every use.
    monkeypatch.setattr(os.path, "getmtime", no_stat)
    assert templates.render("_notice.html", _context()) == first
    assert "Saved." in first


# Each template line once: no variables, variables to escape, `%%`, plurals, a block with
# autoescape off, and a {% trans %} block (which calls `gettext` with its variables).
PAGE = (
    '{{ _("Continue") }}|{{ gettext("Continue") }}|{{ _("100%% done") }}|'
    '{{ _("Captions: %(name)s (%(lang)s)", name=who, lang="<b>") }}|'
    '{{ ngettext("%(num)d hour", "%(num)d hours", 1) }}|'
    '{{ ngettext("%(num)d hour", "%(num)d hours", 3) }}|'
    '{{ ngettext("%(num)s hour", "%(num)s hours", 2, num="2.5") }}|'
    '{{ _("Hello %(message)s", message=who) }}|'
    '{% autoescape false %}{{ _("Captions: %(name)s (%(lang)s)", name=who, lang="<b>") }}'
    "{% endautoescape %}|{% trans %}Hello {{ who }}{% endtrans %}"
)


@pytest.mark.parametrize("language", ["en", "es"])
def test_page_translations_read_as_jinjas_own_gettext_would(language: str) -> None:
    plain = jinja2.Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    plain.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    templates = Templates()
    i18n.set_language(language)
    try:
        expected = plain.from_string(PAGE).render(who="<i>Ana & Bo</i>")
        for _ in range(2):  # the second time from what the first one kept
            assert templates.env.from_string(PAGE).render(who="<i>Ana & Bo</i>") == expected
    finally:
        i18n.set_language("en")
    assert "&lt;i&gt;Ana &amp; Bo&lt;/i&gt;" in expected  # variables are escaped
    assert "<i>Ana & Bo</i>" in expected.split("|")[8]  # except where autoescape is off
    assert ("Continuar" if language == "es" else "Continue") in expected
    assert "100% done" in expected and ("3 horas" if language == "es" else "3 hours") in expected


def test_a_translation_kept_for_one_language_is_not_shown_in_another() -> None:
    templates = Templates()
    page = templates.env.from_string('{{ _("Continue") }}')
    try:
        i18n.set_language("es")
        assert page.render() == "Continuar"
        i18n.set_language("en")
        assert page.render() == "Continue"
        i18n.set_language("es")
        assert page.render() == "Continuar"
    finally:
        i18n.set_language("en")


def _context() -> dict[str, object]:
    return {"notice": "saved"}
