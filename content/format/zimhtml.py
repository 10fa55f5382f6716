"""An article of a reference collection (ZIM), made safe to show.

A ZIM article is a whole web page written by someone else. Before a learner sees one:

* every link to somewhere else on the web (any address with a scheme or a host) becomes
  plain text, the address shown after it for web addresses, so nothing leaves the
  collection;
* a link inside the collection is rewritten to this server's address for the same
  collection (``link(path)``); ``..`` that would leave the ZIM drops the link;
* a picture is kept only when it is inside the collection (its address rewritten the
  same way); a picture from outside is removed;
* headings move one level down, under the page's own ``h1`` (the article's title);
* then the course sanitizer's allow-list applies (``content.format.sanitize``): scripts,
  styles, frames, forms, ``<meta>`` refreshes, event handlers and ids go.

The same pass counts what it found, for the reviewer's flags.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import lxml.html
import nh3

from content.format.sanitize import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_CLASSES,
    ALLOWED_TAGS,
    DROPPED_WITH_CONTENT,
)

# What a reviewer is told a sample of articles holds (the flag kinds).
FLAG_KINDS = ("script", "iframe", "form", "meta-refresh", "outside-image", "outside-link")
_WEB_SCHEMES = ("http", "https")
# This server's addresses of a collection's entries: a learner's, and a reviewer's.
_COLLECTION_URL = re.compile(
    r"(?:/collections/[a-z0-9][a-z0-9.-]*/a|/admin/content/versions/[0-9]+/zim)"
    r"/[A-Za-z0-9_.~%/!$&'()*+,;=:@-]+"
)


@dataclass(frozen=True)
class CleanArticle:
    """An article ready to show, its title, and the kinds of hostile parts it had."""

    html: str
    title: str
    found: frozenset[str]


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if attr in ("href", "src"):
        return value if _COLLECTION_URL.fullmatch(value) else None
    if attr == "id":
        return None
    return value


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    allowed_classes={tag: set(names) for tag, names in ALLOWED_CLASSES.items()},
    attribute_filter=_attribute_filter,
    url_schemes=set(),
    link_rel=None,
    strip_comments=True,
)


def inside_path(article_path: str, address: str) -> str | None:
    """The ZIM path an address in the article at ``article_path`` names, or None when it
    leaves the collection (a scheme, a host, ``..`` past the top) or names nothing."""
    address = address.strip()
    parts = urlsplit(address)
    if parts.scheme or parts.netloc or address.startswith("//"):
        return None
    if not parts.path:
        return None  # only a fragment or a query: the same page
    target = unquote(parts.path)
    if target.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(article_path), target))
    if joined in (".", "") or joined.startswith("../") or joined == "..":
        return None
    return joined


def clean_article(html: bytes | str, article_path: str, link: Callable[[str], str]) -> CleanArticle:
    """Make the article at ``article_path`` safe; ``link(zim_path)`` gives this server's
    address of a collection path (``/collections/<id>/a/<path>``, or a reviewer's
    ``/admin/content/versions/<id>/zim/<path>``; any other address is dropped)."""
    text = html.decode("utf-8", errors="replace") if isinstance(html, bytes) else html
    found: set[str] = set()
    if not text.strip():
        return CleanArticle("", "", frozenset())
    try:
        document = lxml.html.document_fromstring(text)
    except (ValueError, lxml.etree.ParserError):
        return CleanArticle("", "", frozenset())
    title = " ".join((document.findtext(".//title") or "").split())[:200]
    _note(document, found)
    for anchor in list(document.iter("a")):
        _rewrite_link(anchor, article_path, link, found)
    for picture in list(document.iter("img")):
        _rewrite_picture(picture, article_path, link, found)
    _demote_headings(document)
    body = document.find("body")
    source = lxml.html.tostring(body if body is not None else document, encoding="unicode")
    return CleanArticle(_CLEANER.clean(source), title, frozenset(found))


def _demote_headings(document: lxml.html.HtmlElement) -> None:
    """Each heading one level down (``h1`` to ``h2``, …; ``h6`` stays): the page around
    the article has its own ``h1``, the article's title, and a page has one."""
    for heading in list(document.iter("h1", "h2", "h3", "h4", "h5")):
        heading.tag = f"h{int(heading.tag[1]) + 1}"


def _note(document: lxml.html.HtmlElement, found: set[str]) -> None:
    for element in document.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag == "script":
            found.add("script")
        elif tag in ("iframe", "frame", "object", "embed"):
            found.add("iframe")
        elif tag == "form":
            found.add("form")
        elif tag == "meta" and (element.get("http-equiv") or "").lower() == "refresh":
            found.add("meta-refresh")


def _rewrite_link(
    anchor: lxml.html.HtmlElement, article_path: str, link: Callable[[str], str], found: set[str]
) -> None:
    href = anchor.get("href")
    if href is None:
        return
    target = inside_path(article_path, href)
    if target is not None:
        for name in list(anchor.attrib):
            del anchor.attrib[name]
        anchor.set("href", link(target))
        return
    if not href.strip() or href.strip().startswith(("#", "?")):
        del anchor.attrib["href"]
        return
    # Leaves the collection: plain text, and the address when it is a web address.
    found.add("outside-link")
    scheme = urlsplit(href.strip()).scheme.lower()
    shown = href.strip()[:200] if scheme in _WEB_SCHEMES or href.startswith("//") else ""
    anchor.tag = "span"
    for name in list(anchor.attrib):
        del anchor.attrib[name]
    anchor.set("class", "external-link")
    text = anchor.text_content().strip()
    if shown and shown != text:
        anchor.append(_text_span(f" ({shown})"))


def _text_span(text: str) -> lxml.html.HtmlElement:
    span = lxml.html.Element("span")
    span.text = text
    return span


def _rewrite_picture(
    picture: lxml.html.HtmlElement, article_path: str, link: Callable[[str], str], found: set[str]
) -> None:
    src = picture.get("src") or ""
    target = inside_path(article_path, src) if src else None
    if target is None:
        if src:
            found.add("outside-image")
        picture.drop_tree()
        return
    alt = picture.get("alt") or ""
    for name in list(picture.attrib):
        del picture.attrib[name]
    picture.set("src", link(target))
    picture.set("alt", alt[:300])
