"""The one HTML sanitizer: a strict allow-list applied with nh3 (ammonia).

It runs at build time on rendered Markdown and again at import on every lesson of a
package, because the facility server never trusts a package's HTML. Besides cleaning, it
reports what it removed so reviewers can see that a package tried to carry script, frames,
styles or outside addresses.

Package URL rules (the only addresses that survive):

* ``lessons/<key>.html`` optionally followed by ``#<anchor>`` — a link to another lesson;
* ``#<anchor>`` — a section of the same lesson;
* ``media/<percent-encoded path>`` — a file in the package (images: ``<img src>`` only).

Anything with a scheme (``https:``, ``javascript:``, ``data:`` …) or a ``..`` is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3

ALLOWED_TAGS = frozenset(
    {
        "p",
        "br",
        "hr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "strong",
        "em",
        "b",
        "i",
        "del",
        "s",
        "sub",
        "sup",
        "code",
        "pre",
        "kbd",
        "blockquote",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "a",
        "img",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "th",
        "td",
        "caption",
        "div",
        "span",
    }
)
# Removed together with everything inside them (their content is code or UI, not text).
DROPPED_WITH_CONTENT = frozenset(
    {
        "script",
        "style",
        "template",
        "iframe",
        "object",
        "embed",
        "svg",
        "math",
        "noscript",
        "textarea",
        "select",
        "title",
        "frameset",
        "frame",
        "applet",
    }
)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title", "id"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    **{f"h{level}": {"id"} for level in range(1, 7)},
    # Books link to notes and back (EPUB noterefs), so these may carry an anchor id too.
    **{tag: {"id"} for tag in ("p", "div", "span", "li", "dt", "dd")},
}
ALLOWED_CLASSES: dict[str, set[str]] = {
    "div": {
        "callout",
        "callout-note",
        "callout-tip",
        "callout-warning",
        "callout-important",
        "footnote",
    },
    "p": {"callout-title"},
    "a": {"noteref"},
    "span": {"external-link"},
    "th": {"align-left", "align-center", "align-right"},
    "td": {"align-left", "align-center", "align-right"},
}
ALLOWED_VALUES: dict[str, dict[str, set[str]]] = {"div": {"role": {"note"}}}

ANCHOR = r"[a-z0-9][a-z0-9-]{0,99}"
_SEGMENT = r"[A-Za-z0-9_.~%-]+"
MEDIA_URL = re.compile(rf"media/(?:{_SEGMENT}/)*{_SEGMENT}")
LESSON_URL = re.compile(rf"lessons/[a-z0-9][a-z0-9-]{{0,63}}\.html(?:#{ANCHOR})?")
ANCHOR_URL = re.compile(rf"#{ANCHOR}")
ANCHOR_ID = re.compile(ANCHOR)
_DOT_SEGMENT = re.compile(r"(^|/)\.\.?(/|$)")


@dataclass(frozen=True)
class SanitizeResult:
    """Clean HTML and a description of each kind of thing that was removed."""

    html: str
    removed: tuple[str, ...]


def is_media_url(value: str) -> bool:
    """True for a package media address such as ``media/pictures/fraction.png``."""
    return MEDIA_URL.fullmatch(value) is not None and not _DOT_SEGMENT.search(value)


def attribute_value_allowed(tag: str, attr: str, value: str) -> bool:
    """Apply the package URL rules and the heading id rule to one attribute value."""
    if attr == "href":
        return bool(
            LESSON_URL.fullmatch(value) or ANCHOR_URL.fullmatch(value) or is_media_url(value)
        )
    if attr == "src":
        return is_media_url(value)
    if attr == "id":
        return ANCHOR_ID.fullmatch(value) is not None
    if attr == "start":
        return value.isdigit() and len(value) < 7
    return True


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    # Called by nh3 for every attribute that survived the allow-list; must never raise.
    return value if attribute_value_allowed(tag, attr, value) else None


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    allowed_classes={tag: set(names) for tag, names in ALLOWED_CLASSES.items()},
    tag_attribute_values=ALLOWED_VALUES,
    attribute_filter=_attribute_filter,
    url_schemes=set(),
    link_rel=None,
    strip_comments=True,
)


def sanitize_html(html: str) -> SanitizeResult:
    """Clean ``html`` against the allow-list and say what was removed.

    Safe to call on HTML from any source (build output, a package being imported); calling
    it on its own output changes nothing and reports nothing.
    """
    clean = _CLEANER.clean(html)
    if clean == html:
        # Nothing was removed (anything removed would change the output), so skip the
        # slower report: this is the usual case at import, where packages hold HTML that
        # was already sanitized at build time.
        return SanitizeResult(clean, ())
    scanner = _RemovalScanner()
    scanner.feed(html)
    scanner.close()
    return SanitizeResult(clean, tuple(scanner.removed))


class _RemovalScanner(HTMLParser):
    """Walks the input once to describe what the cleaner is going to remove.

    The report is for reviewers; the security guarantee comes from nh3, which parses the
    HTML the way a browser does.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.removed: list[str] = []

    def note(self, what: str) -> None:
        if what not in self.removed:
            self.removed.append(what)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.note(f"<{tag}> element")
            return
        for name, value in attrs:
            self._check_attribute(tag, name, value or "")

    def _check_attribute(self, tag: str, name: str, value: str) -> None:
        if name == "class" and tag in ALLOWED_CLASSES:
            extra = sorted(set(value.split()) - ALLOWED_CLASSES[tag])
            if extra:
                self.note(f"class {' '.join(extra)!r} on <{tag}>")
        elif name in ALLOWED_VALUES.get(tag, {}):
            if value not in ALLOWED_VALUES[tag][name]:
                self.note(f"{name}={value!r} on <{tag}>")
        elif name not in ALLOWED_ATTRIBUTES.get(tag, set()):
            self.note(f"{name} attribute on <{tag}>")
        elif not attribute_value_allowed(tag, name, value):
            self.note(f"{name}={value[:80]!r} on <{tag}>")

    def handle_comment(self, data: str) -> None:
        self.note("HTML comment")
