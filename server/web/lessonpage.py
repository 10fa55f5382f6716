"""A lesson's stored HTML made ready for a learner's page.

The HTML was sanitized when the package was built and again at import; here only its
package-relative links change: ``media/x.png`` becomes the content-addressed media URL
(``/media/<sha256>/x.png``, checked against the learner's access on every request), and
``lessons/<key>.html#anchor`` becomes the lesson page in this course. Each sentence is
wrapped in ``<span data-s="N">`` (``content.format.sentences``) for read-aloud: its
highlight, and the cues of the lesson's narration, which name sentences by N.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from content.format.lessondata import NarrationFiles
from content.format.sentences import mark_sentences
from content.importing.store import ContentStore

_MEDIA_ATTR = re.compile(r'(src|href|poster)="media/([^"]+)"')
_LESSON_LINK = re.compile(r'href="lessons/([a-z0-9][a-z0-9-]*)\.html(#[^"]*)?"')


def media_url(asset: dict[str, Any] | None) -> str | None:
    """The URL of a stored file: its digest (so it can be cached for good) and its name."""
    if asset is None:
        return None
    name = quote(PurePosixPath(str(asset["path"])).name)
    return f"/media/{asset['sha256']}/{name}"


def narration_urls(
    files: NarrationFiles | None, assets: dict[str, dict[str, Any]]
) -> dict[str, str] | None:
    """The URLs of a lesson's narration (audio and timings), when the course has both."""
    if files is None:
        return None
    audio, timings = media_url(assets.get(files.audio)), media_url(assets.get(files.timings))
    return {"audio": audio, "timings": timings} if audio and timings else None


def course_url(course_id: str) -> str:
    return f"/learn/courses/{quote(course_id)}"


def lesson_url(course_id: str, key: str) -> str:
    return f"{course_url(course_id)}/lessons/{quote(key)}"


_RENDERED: OrderedDict[tuple[str, int, str], Markup] = OrderedDict()
_RENDERED_SIZE = 512
_LOCK = threading.Lock()


def lesson_html(
    store: ContentStore,
    html_sha256: str | None,
    assets: dict[str, dict[str, Any]],
    course_id: str,
    version_id: int,
) -> Markup:
    """The lesson's HTML with its links made absolute. It depends only on the
    (content-addressed) HTML and the course version, which never change, so recent
    results are kept in memory."""
    if not html_sha256 or not store.has(html_sha256):
        return Markup("")
    key = (str(store.root), version_id, html_sha256)
    with _LOCK:
        if key in _RENDERED:
            _RENDERED.move_to_end(key)
            return _RENDERED[key]
    html = _render(store, html_sha256, assets, course_id)
    with _LOCK:
        _RENDERED[key] = html
        while len(_RENDERED) > _RENDERED_SIZE:
            _RENDERED.popitem(last=False)
    return html


def _render(
    store: ContentStore, html_sha256: str, assets: dict[str, dict[str, Any]], course_id: str
) -> Markup:
    html = Path(store.path_for(html_sha256)).read_text(encoding="utf-8")
    return link_lesson_html(html, assets, course_id)


def link_lesson_html(html: str, assets: dict[str, dict[str, Any]], course_id: str) -> Markup:
    """Sanitized lesson HTML with its package-relative links made into this server's
    URLs (a link to a file the course does not have is dropped) and its sentences marked.
    Only for HTML that the sanitizer produced."""

    def media(match: re.Match[str]) -> str:
        url = media_url(assets.get("media/" + match.group(2)))
        return f'{match.group(1)}="{url}"' if url else ""

    def lesson(match: re.Match[str]) -> str:
        return f'href="{lesson_url(course_id, match.group(1))}{match.group(2) or ""}"'

    html = _MEDIA_ATTR.sub(media, html)
    html = _LESSON_LINK.sub(lesson, html)
    return Markup(mark_sentences(html).html)  # noqa: S704 - the caller's HTML is the sanitizer's output
