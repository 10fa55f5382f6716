"""One EPUB chapter's XHTML → HTML that the lesson sanitizer keeps, and its text for search.

The chapter is parsed by lxml with no entity expansion, no DTD and no network (a chapter
that declares entities is refused), its elements renamed to plain HTML, and rewritten in
place: grouping elements become ``div``, ids become anchors, links and pictures become
package addresses (through the book, which knows every chapter and picture), footnotes
get a link there and back. The sanitizer runs after this, in ``content.format.epub``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any, Protocol
from urllib.parse import unquote

from lxml import etree

from content.errors import ContentError
from content.format.render import Section, is_external

OPS_TYPE = "{http://www.idpf.org/2007/ops}type"
# Elements that only group text: kept as a <div> so their text survives the sanitizer.
_GROUPING = frozenset(
    {"section", "article", "aside", "figure", "figcaption", "header", "footer", "nav", "main"}
)
_GROUPING |= frozenset({"hgroup", "address", "center", "body"})
# Presentation attributes dropped quietly: the reader has its own style, and reporting
# each one would bury what reviewers must see (script, frames, event handlers, addresses).
_QUIET_ATTRIBUTES = frozenset(
    {"class", "style", "lang", "dir", "width", "height", "align", "valign", "border", "role"}
)
_QUIET_ATTRIBUTES |= frozenset({"colspan", "rowspan", "cellpadding", "cellspacing", "span"})
_NOTE_TYPES = frozenset({"footnote", "endnote", "rearnote", "note"})


def anchor_for(fragment: str) -> str:
    """The id an EPUB id becomes: what the sanitizer accepts, the same in every chapter."""
    slug = re.sub(r"[^a-z0-9]+", "-", unquote(fragment).lower()).strip("-")[:90]
    return slug if slug and slug[0].isalnum() else "n-" + (slug or "x")


class BookLinks(Protocol):
    """What rewriting a chapter asks of the whole book."""

    back_words: str

    def flag(self, kind: str, chapter: str, detail: str) -> None: ...

    def image_path(self, chapter_file: str, src: str, key: str) -> str | None: ...

    def chapter_link(self, chapter_file: str, href: str) -> str | None: ...


class ChapterRewriter:
    """Rewrites one chapter's body in place into what the sanitizer keeps."""

    def __init__(self, converter: BookLinks, chapter_file: str, key: str):
        self.converter, self.chapter_file, self.key = converter, chapter_file, key

    def rewrite(self, body: Any) -> set[str]:
        refs: set[str] = set()
        notes: dict[str, Any] = {}
        for element in list(body.iter()):
            if not isinstance(element.tag, str):
                continue
            epub_type = set((element.get(OPS_TYPE) or "").split())
            epub_type |= {r.removeprefix("doc-") for r in (element.get("role") or "").split()}
            for attr in list(element.attrib):
                local = etree.QName(attr).localname
                if attr != local or local in _QUIET_ATTRIBUTES or local.startswith("aria-"):
                    del element.attrib[attr]
            if element.get("id"):
                element.set("id", anchor_for(element.get("id", "")))
            if element.tag in _GROUPING:
                element.tag = "div"
            if element.tag == "img":
                self._image(element)
            elif element.tag == "a":
                self._link(element, epub_type, refs)
            if epub_type & _NOTE_TYPES and element.get("id"):
                notes[element.get("id", "")] = element
        for anchor, note in notes.items():
            note.tag = "div"
            note.set("class", "footnote")
            note.set("role", "note")
            if f"ref-{anchor}" in refs:
                back = etree.SubElement(etree.SubElement(note, "p"), "a")
                back.set("href", f"#ref-{anchor}")
                back.text = f"\u21a9 {self.converter.back_words}"
        # epub:type attributes are gone now, so their namespace declaration can go too.
        etree.cleanup_namespaces(body.getroottree().getroot())
        return refs

    def _image(self, element: Any) -> None:
        src = element.get("src", "")
        path = self.converter.image_path(self.chapter_file, src, self.key)
        if path is None:
            alt = element.get("alt", "")
            _replace_with_text(element, f"[{alt}]" if alt else "")
            return
        element.set("src", path)
        if not element.get("alt"):
            self.converter.flag("missing-alt", self.key, path)
            element.set("alt", "")

    def _link(self, element: Any, epub_type: set[str], refs: set[str]) -> None:
        href = element.get("href", "")
        if href and is_external(href):
            self.converter.flag("external-link", self.key, href[:200])
            element.tag = "span"
            element.attrib.clear()
            element.set("class", "external-link")
            element.tail = f" ({href[:200]}){element.tail or ''}"
            return
        target = self.converter.chapter_link(self.chapter_file, href) if href else None
        if target is None:
            element.attrib.pop("href", None)
            return
        element.set("href", target)
        if "noteref" in epub_type and target.startswith("#"):
            element.set("id", "ref-" + target[1:])
            element.set("class", "noteref")
            refs.add("ref-" + target[1:])


def _replace_with_text(element: Any, text: str) -> None:
    parent = element.getparent()
    if parent is None:
        return
    previous = element.getprevious()
    joined = text + (element.tail or "")
    if previous is not None:
        previous.tail = (previous.tail or "") + joined
    else:
        parent.text = (parent.text or "") + joined
    parent.remove(element)


def parse_chapter(data: bytes, where: str) -> Any:
    """The chapter's <body>, parsed with no entities, DTD or network; HTML as a fallback."""
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
        dtd = root.getroottree().docinfo.internalDTD
        if dtd is not None and any(True for _ in dtd.iterentities()):
            raise ContentError("the chapter declares XML entities; books may not", where)
    except etree.XMLSyntaxError:
        if b"<!ENTITY" in data:
            raise ContentError("the chapter declares XML entities; books may not", where) from None
        # EPUB 2 chapters often use HTML entities (&nbsp;) without their DTD: read as HTML.
        html_parser = etree.HTMLParser(no_network=True, remove_comments=True, remove_pis=True)
        root = etree.fromstring(data, html_parser)
    if root is None:
        raise ContentError("the chapter is empty", where)
    body = None
    for element in root.iter():
        if isinstance(element.tag, str):
            # Plain HTML names from here on, so no namespace declaration reaches the output.
            element.tag = etree.QName(element).localname
            body = element if body is None and element.tag == "body" else body
    etree.cleanup_namespaces(root)
    if body is not None:
        return body
    raise ContentError("the chapter has no <body>", where)


def inner_html(body: Any) -> list[str]:
    parts = [_escape_text(body.text or "")]
    for child in body:
        if isinstance(child.tag, str):
            parts.append(etree.tostring(child, method="html", encoding="unicode", with_tail=True))
        else:
            parts.append(_escape_text(child.tail or ""))
    return parts


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def has_content(html: str) -> bool:
    return "<img" in html or any(s.text or s.heading for s in split_html_sections(html, ""))


def first_heading(html: str) -> str:
    for section in split_html_sections(html, ""):
        if section.heading:
            return section.heading
    return ""


def split_html_sections(html: str, title: str) -> list[Section]:
    """Plain text of sanitized HTML split at headings with ids, for the search index."""
    splitter = _SectionSplitter(title)
    splitter.feed(html)
    splitter.close()
    splitter.finish()
    return splitter.sections or [Section("", title, "")]


class _SectionSplitter(HTMLParser):
    def __init__(self, title: str) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self.anchor, self.heading, self.parts = "", title, [""]
        self.in_heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if re.fullmatch(r"h[1-6]", tag):
            self.finish()
            self.anchor = dict(attrs).get("id") or ""
            self.in_heading, self.parts = [], [""]
        elif tag in ("p", "li", "div", "br", "td", "th", "blockquote", "pre"):
            self.parts.append("")

    def handle_endtag(self, tag: str) -> None:
        if re.fullmatch(r"h[1-6]", tag) and self.in_heading is not None:
            self.heading = " ".join("".join(self.in_heading).split())
            self.in_heading = None

    def handle_data(self, data: str) -> None:
        if self.in_heading is not None:
            self.in_heading.append(data)
        else:
            self.parts[-1] += data

    def finish(self) -> None:
        text = "\n".join(" ".join(p.split()) for p in self.parts if p.strip())
        if text or self.anchor:
            self.sections.append(Section(self.anchor, self.heading, text))
        self.parts = [""]
