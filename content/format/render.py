"""Markdown → safe HTML, heading anchors, and plain-text sections for search.

Rendering has two steps because links between lessons can point at another lesson's
headings: :func:`parse_lesson` turns every lesson into tokens and gives headings their ids;
:func:`render_lesson` then rewrites links (through a resolver supplied by the caller),
renders HTML and runs it through the sanitizer.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.container import container_plugin

from content.format.model import Lesson
from content.format.sanitize import sanitize_html

CALLOUT_KINDS = ("note", "tip", "warning", "important")
CALLOUT_TITLES = {
    "en": {"note": "Note", "tip": "Tip", "warning": "Warning", "important": "Important"},
    "es": {"note": "Nota", "tip": "Consejo", "warning": "Atención", "important": "Importante"},
}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

# resolve(address, line, is_image) -> package URL, or None when the link is broken
# (the resolver records the problem; the link is then rendered as plain text).
Resolver = Callable[[str, int, bool], str | None]


@dataclass(frozen=True)
class Section:
    """A part of a lesson between headings, as plain text for the search index."""

    anchor: str  # "" for the text before the first heading
    heading: str
    text: str

    def as_json(self) -> dict[str, str]:
        """The section as it appears in the manifest."""
        return {"anchor": self.anchor, "heading": self.heading, "text": self.text}


@dataclass
class ParsedLesson:
    """A lesson's Markdown tokens with heading ids assigned."""

    lesson: Lesson
    tokens: list[Token]
    anchors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RenderedLesson:
    """Sanitized HTML, search sections, and what reviewers should know about."""

    html: str
    sections: tuple[Section, ...]
    external_links: tuple[tuple[str, int], ...]  # (address, line in the lesson file)
    removed: tuple[str, ...]
    raw_html_lines: tuple[tuple[int, str], ...] = ()  # (line, what was removed there)


def is_external(address: str) -> bool:
    """True for addresses outside the package: any scheme, ``//host`` or ``www.``."""
    return bool(_SCHEME.match(address)) or address.startswith(("//", "www."))


def make_markdown(language: str = "en") -> MarkdownIt:
    """CommonMark + tables + strikethrough + callouts. Raw HTML is parsed, then sanitized."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    titles = CALLOUT_TITLES.get(language.split("-")[0].lower(), CALLOUT_TITLES["en"])
    for kind in CALLOUT_KINDS:
        container_plugin(md, kind, render=_callout_renderer(kind, titles[kind]))
    md.add_render_rule("link_open", _render_link_open)
    md.add_render_rule("link_close", _render_link_close)
    return md


def _callout_renderer(kind: str, title: str) -> Callable[..., str]:
    def render(
        _self: RendererHTML, tokens: Sequence[Token], idx: int, _options: OptionsDict, _env: EnvType
    ) -> str:
        if tokens[idx].nesting == 1:
            return (
                f'<div class="callout callout-{kind}" role="note">'
                f'<p class="callout-title">{html.escape(title)}</p>\n'
            )
        return "</div>\n"

    return render


def _render_link_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    if "external" in token.meta:
        return '<span class="external-link">'
    if token.meta.get("broken"):
        return ""
    return self.renderToken(tokens, idx, options, env)


def _render_link_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    if "external" in token.meta:
        shown = token.meta["external"]
        suffix = "" if token.meta.get("autolink") else f" ({html.escape(shown)})"
        return f"{suffix}</span>"
    if token.meta.get("broken"):
        return ""
    return self.renderToken(tokens, idx, options, env)


def slugify(text: str) -> str:
    """A stable ASCII anchor for a heading: "¿Qué es 1/2?" → "que-es-1-2"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80].rstrip("-") or "section"


def parse_lesson(md: MarkdownIt, lesson: Lesson) -> ParsedLesson:
    """Parse a lesson body and give every heading a unique id (its slug)."""
    tokens = md.parse(lesson.body, {})
    parsed = ParsedLesson(lesson, tokens)
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            anchor = _unique(slugify(plain_text(tokens[index + 1])), parsed.anchors)
            token.attrSet("id", anchor)
            parsed.anchors.append(anchor)
        elif token.type in ("th_open", "td_open"):
            _align_class(token)
        elif token.type == "fence":
            token.info = ""  # language classes are not on the allow-list
    return parsed


def _unique(slug: str, taken: list[str]) -> str:
    candidate, number = slug, 1
    while candidate in taken:
        number += 1
        candidate = f"{slug}-{number}"
    return candidate


def _align_class(token: Token) -> None:
    # markdown-it aligns cells with a style attribute; styles are not allowed, classes are.
    style = str(token.attrGet("style") or "")
    if style.startswith("text-align:"):
        token.attrs.pop("style", None)
        token.attrSet("class", "align-" + style.split(":", 1)[1])


def plain_text(token: Token) -> str:
    """Visible text of an inline token (link text, image alt text, code), no markup."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(plain_text(child))
    return "".join(parts).strip()


def render_lesson(md: MarkdownIt, parsed: ParsedLesson, resolve: Resolver) -> RenderedLesson:
    """Rewrite links through ``resolve``, render, sanitize and split into sections."""
    external: list[tuple[str, int]] = []
    for token in parsed.tokens:
        if token.type == "inline" and token.children:
            line = parsed.lesson.body_line + (token.map[0] if token.map else 0)
            _rewrite_links(md, token.children, line, resolve, external)
    rendered = md.renderer.render(parsed.tokens, md.options, {})
    clean = sanitize_html(rendered)
    sections = tuple(split_sections(parsed.tokens, parsed.lesson.title))
    return RenderedLesson(
        clean.html,
        sections,
        tuple(dict.fromkeys(external)),
        clean.removed,
        tuple(_raw_html_removals(parsed)),
    )


def _raw_html_removals(parsed: ParsedLesson) -> list[tuple[int, str]]:
    """Where raw HTML in the Markdown had something removed (for line-precise warnings)."""
    found = []
    for token in parsed.tokens:
        line = parsed.lesson.body_line + (token.map[0] if token.map else 0)
        pieces = (
            [token]
            if token.type == "html_block"
            else [c for c in token.children or [] if c.type == "html_inline"]
        )
        removed = [r for piece in pieces for r in sanitize_html(piece.content).removed]
        if removed:
            found.append((line, "; ".join(dict.fromkeys(removed))))
    return found


def _rewrite_links(
    md: MarkdownIt,
    children: list[Token],
    line: int,
    resolve: Resolver,
    external: list[tuple[str, int]],
) -> None:
    open_link: Token | None = None
    for child in children:
        if child.type in ("softbreak", "hardbreak"):
            line += 1
        elif child.type == "link_open":
            open_link = child
            _rewrite_link(md, child, line, resolve, external)
        elif child.type == "link_close" and open_link is not None:
            child.meta = dict(open_link.meta)
            open_link = None
        elif child.type == "image":
            _rewrite_image(child, line, resolve)


def _rewrite_link(
    md: MarkdownIt, token: Token, line: int, resolve: Resolver, external: list[tuple[str, int]]
) -> None:
    href = str(token.attrGet("href") or "")
    if is_external(href):
        shown = md.normalizeLinkText(href)
        token.meta["external"] = shown.removeprefix("mailto:")
        token.meta["autolink"] = token.markup == "autolink"
        external.append((shown, line))
        return
    target = resolve(href, line, False)
    if target is None:
        token.meta["broken"] = True
    else:
        token.attrSet("href", target)


def _rewrite_image(token: Token, line: int, resolve: Resolver) -> None:
    src = str(token.attrGet("src") or "")
    target = resolve(src, line, True)
    # An image that cannot be resolved keeps no address; the sanitizer would drop it anyway.
    token.attrSet("src", target or "")


def split_sections(tokens: list[Token], title: str) -> list[Section]:
    """Plain text of a lesson split at headings: one :class:`Section` per heading."""
    sections: list[Section] = []
    anchor, heading = "", title
    parts: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "heading_open":
            _close_section(sections, anchor, heading, parts)
            anchor = str(token.attrGet("id") or "")
            heading, parts = plain_text(tokens[index + 1]), []
            index += 3
            continue
        text = _block_text(token)
        if text:
            parts.append(text)
        index += 1
    _close_section(sections, anchor, heading, parts)
    return sections or [Section("", title, "")]


def _close_section(sections: list[Section], anchor: str, heading: str, parts: list[str]) -> None:
    if parts or anchor:
        sections.append(Section(anchor, heading, "\n".join(parts)))


def _block_text(token: Token) -> str:
    if token.type == "inline":
        return plain_text(token)
    if token.type in ("fence", "code_block"):
        return token.content.strip()
    return ""


def lesson_json_sections(rendered: RenderedLesson) -> list[dict[str, Any]]:
    """The sections of a rendered lesson as manifest JSON."""
    return [section.as_json() for section in rendered.sections]


def images_without_alt(parsed: ParsedLesson) -> list[int]:
    """Lines (in the lesson file) of images that have no alt text."""
    lines = []
    for token in parsed.tokens:
        if token.type != "inline" or not token.children:
            continue
        line = parsed.lesson.body_line + (token.map[0] if token.map else 0)
        for child in token.children:
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type == "image" and not plain_text(child):
                lines.append(line)
    return lines
