"""Translations: gettext catalogs read with Babel, one language per request.

The `.po` files are the source of truth and are compiled in memory at start-up, so no
generated `.mo` file is ever committed or forgotten. The language of the current request
lives in a context variable that the template `gettext` reads.
"""

from __future__ import annotations

import functools
import io
from contextvars import ContextVar
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from server.core.settings import SUPPORTED_LANGUAGES

LANGUAGE_NAMES = {"en": "English", "es": "Español"}
_current: ContextVar[str] = ContextVar("stepstone_language", default="en")


@functools.cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog for a language (English is the source language)."""
    if language == "en":
        return NullTranslations()
    po_file = resources.files("server.web").joinpath(
        f"translations/{language}/LC_MESSAGES/messages.po"
    )
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer)


def set_language(language: str) -> None:
    _current.set(language if language in SUPPORTED_LANGUAGES else "en")


def current_language() -> str:
    return _current.get()


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def negotiate(accept_language: str) -> str | None:
    """The first supported language a browser's Accept-Language asks for."""
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in SUPPORTED_LANGUAGES:
            return tag
    return None
