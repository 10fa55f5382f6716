"""IMS Common Cartridge (1.1-1.3) exports, as Moodle and Canvas make them, to a course folder.

The author's starting point, not a finished course: the folder is written for the author
to edit, lint and build like any other (docs/publisher-guide.md). The manifest's
organization gives the lessons and their order:

- web content: an HTML page becomes a reading lesson (Markdown; its pictures copied into
  ``media/``, links to other pages pointed at their lessons), a PDF a PDF lesson;
- QTI 1.2 assessments become quiz lessons (:mod:`content.convert.qti`), and question banks
  quiz lessons at the end;
- web links become a short reading lesson that names the address as plain text (tablets
  have no internet, and reviewers see it flagged);
- discussions, LTI tools and anything else are listed as not converted.

Nothing is written unless the whole conversion succeeds: the folder is made beside its
place and renamed into it at the end. :class:`Report` says what was converted, what was
changed on the way and what was dropped, each with where it came from.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element

import yaml
from bs4 import BeautifulSoup, Tag
from markdownify import MarkdownConverter

from content.convert.archive import Cartridge, CartridgeError, safe_name
from content.convert.qti import Converted, convert_items
from content.format.mediatypes import EXTENSIONS

FILEBASE = "$IMS-CC-FILEBASE$"
IMAGE_EXTENSIONS = frozenset(e for e, kind in EXTENSIONS.items() if kind.role == "image")
KEY_RE = re.compile(r"[^a-z0-9]+")
TITLE_MAX = 120
REMOVED_TAGS = ("script", "style", "iframe", "object", "embed", "form", "noscript")
LEARNER_TEXT = {
    "en": (
        "This part of the course linked to a website: {title} ({url}). Tablets have no"
        " internet, so ask your teacher for a printed copy if you need it."
    ),
    "es": (
        "Esta parte del curso tenía un enlace a un sitio web: {title} ({url}). Las tabletas"
        " no tienen internet; pide a tu maestro una copia impresa si la necesitas."
    ),
}


@dataclass
class Report:
    """What the conversion did, in the order of the cartridge."""

    course: Path
    lessons: int = 0
    converted: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Resource:
    identifier: str
    kind: str
    href: str
    files: tuple[str, ...]


@dataclass
class _Lesson:
    key: str
    title: str
    kind: str
    body: str
    extra: dict[str, Any] = field(default_factory=dict)


def _local(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _all(element: Element, name: str) -> list[Element]:
    return [e for e in element.iter() if _local(e) == name]


def _direct(element: Element, name: str) -> list[Element]:
    return [e for e in element if _local(e) == name]


def _text_of(element: Element | None) -> str:
    if element is None:
        return ""
    strings = _all(element, "string") or [element]
    return " ".join((strings[0].text or "").split())


def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return KEY_RE.sub("-", plain).strip("-")[:48] or "lesson"


def _join(base: str, href: str) -> str | None:
    """A relative link in the file ``base`` resolved to a member name, or None when it
    climbs out of the cartridge."""
    href = unquote(href.split("#", 1)[0].split("?", 1)[0])
    if not href:
        return None
    parts: list[str] = list(PurePosixPath(base).parent.parts)
    for part in PurePosixPath(href.lstrip("/")).parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part != ".":
            parts.append(part)
    return safe_name("/".join(parts)) if parts else None


def resolve(cartridge: Cartridge, page: str, href: str) -> str | None:
    """The member a page's link or picture names. ``$IMS-CC-FILEBASE$`` is the folder of
    the page's files: Canvas puts them in ``web_resources/``, Moodle beside the page, so
    both are tried, then the cartridge's root."""
    if FILEBASE not in unquote(href):
        return _join(page, href)
    rest = unquote(href).replace(FILEBASE, "").lstrip("/")
    for base in (page, "web_resources/x", "x"):
        found = _join(base, rest)
        if found is not None and cartridge.has(found):
            return found
    return None


class _Converter:
    def __init__(self, cartridge: Cartridge, target: Path, language: str) -> None:
        self.cartridge = cartridge
        self.target = target
        self.language = language
        self.report = Report(course=target)
        self.lessons: list[_Lesson] = []
        self.keys: set[str] = set()
        self.media: dict[str, str] = {}  # member name -> file name in media/
        self.page_lessons: dict[str, str] = {}  # HTML member -> lesson key
        self.pages_done: set[str] = set()

    # -- the manifest ------------------------------------------------------------------

    def resources(self, manifest: Element) -> dict[str, Resource]:
        found = {}
        for element in _all(manifest, "resource"):
            identifier = element.get("identifier", "")
            files = tuple(
                name
                for f in _direct(element, "file")
                if (name := safe_name(f.get("href", ""))) is not None
            )
            href = safe_name(element.get("href", "")) or (files[0] if files else "")
            found[identifier] = Resource(identifier, element.get("type", ""), href, files)
        return found

    def key(self, title: str) -> str:
        base = _slug(title)
        key, n = base, 2
        while key in self.keys:
            key, n = f"{base}-{n}", n + 1
        self.keys.add(key)
        return key

    def title(self, text: str, where: str) -> str:
        text = " ".join(text.split()) or where
        if len(text) > TITLE_MAX:
            self.report.changed.append(f"{where}: title shortened to {TITLE_MAX} characters")
            text = text[: TITLE_MAX - 1].rstrip() + "…"
        return text

    # -- one item ----------------------------------------------------------------------

    def item(self, title: str, resource: Resource, path: str) -> None:
        kind = resource.kind.lower()
        where = f"{path} ({resource.identifier})"
        if kind == "webcontent":
            self.webcontent(title, resource, where)
        elif "assessment" in kind and "qti" in kind:
            self.assessment(title, resource, where)
        elif kind.startswith("imswl_"):
            self.weblink(title, resource, where)
        elif kind.startswith("imsdt_"):
            self.report.dropped.append(
                f"{where}: a discussion (not supported; learners do not post to each other)"
            )
        elif "lti" in kind:
            self.report.dropped.append(
                f"{where}: an LTI tool (not supported: it runs on another server)"
            )
        else:
            self.report.dropped.append(f"{where}: a resource of type {resource.kind or 'unknown'}")

    def webcontent(self, title: str, resource: Resource, where: str) -> None:
        href = resource.href
        suffix = PurePosixPath(href).suffix.lower()
        if not href or not self.cartridge.has(href):
            self.report.dropped.append(
                f"{where}: its file {href or '(none)'} is not in the cartridge"
            )
        elif suffix in {".html", ".htm"}:
            if href in self.pages_done:
                self.report.dropped.append(f"{where}: the page {href} again (converted once)")
                return
            self.pages_done.add(href)
            body = self.html(href, where)
            self.add(_Lesson(self.page_lessons[href], title, "reading", body), where, "a page")
        elif suffix == ".pdf":
            media = self.copy_media(href)
            lesson = _Lesson(
                self.key(title), title, "pdf", f"{title}.", {"media": f"../media/{media}"}
            )
            self.add(lesson, where, "a PDF")
        else:
            self.report.dropped.append(f"{where}: a {suffix or 'plain'} file (not a lesson kind)")

    def assessment(self, title: str, resource: Resource, where: str) -> None:
        xml = (
            resource.href
            if resource.href.endswith(".xml")
            else next((f for f in resource.files if f.endswith(".xml")), "")
        )
        if not xml or not self.cartridge.has(xml):
            self.report.dropped.append(f"{where}: its QTI file is not in the cartridge")
            return
        root = self.cartridge.xml(xml)
        containers = _all(root, "assessment") or _all(root, "objectbank")
        if not containers:
            self.report.dropped.append(f"{where}: no assessment in {xml}")
            return
        for container in containers:
            name = container.get("title") or title
            self.quiz(convert_items(container, name, self.text), where)

    def quiz(self, converted: Converted, where: str) -> None:
        self.report.changed.extend(converted.changed)
        self.report.dropped.extend(converted.dropped)
        if not converted.questions:
            self.report.dropped.append(
                f"{where}: {converted.title}: no question could be converted"
            )
            return
        title = self.title(converted.title, where)
        self.report.changed.append(
            f"{where}: {title}: pass mark set to 70 % and feedback to immediate (the cartridge"
            " says neither the Stepstone way); check them"
        )
        quiz = {"pass_mark": 70, "feedback": "immediate", "questions": converted.questions}
        lesson = _Lesson(
            self.key(title), title, "quiz", f"{len(converted.questions)} questions.", {"quiz": quiz}
        )
        count = len(converted.questions)
        self.add(lesson, where, f"a quiz of {count} question{'s' if count != 1 else ''}")

    def weblink(self, title: str, resource: Resource, where: str) -> None:
        xml = resource.href or next(iter(resource.files), "")
        if not xml or not self.cartridge.has(xml):
            self.report.dropped.append(f"{where}: its web link file is not in the cartridge")
            return
        root = self.cartridge.xml(xml)
        url_element = next(iter(_all(root, "url")), None)
        url = url_element.get("href", "") if url_element is not None else ""
        name = next((e.text for e in _all(root, "title") if e.text), None) or title
        if not url:
            self.report.dropped.append(f"{where}: a web link without an address")
            return
        text = LEARNER_TEXT.get(self.language[:2], LEARNER_TEXT["en"])
        body = text.format(title=name.strip(), url=url.strip())
        self.add(_Lesson(self.key(title), title, "reading", body), where, "a web link, as a note")
        self.report.changed.append(
            f"{where}: the web link {url} is shown as plain text (no internet); reviewers"
            " see it flagged"
        )

    def add(self, lesson: _Lesson, where: str, what: str) -> None:
        lesson.title = self.title(lesson.title, where)
        self.lessons.append(lesson)
        self.report.converted.append(f"{where}: {what} → lesson {lesson.key} “{lesson.title}”")

    # -- HTML -----------------------------------------------------------------------------

    def text(self, text: str, texttype: str) -> str:
        if "html" not in texttype.lower():
            return " ".join(text.split())
        return self.markdown(BeautifulSoup(text, "html.parser"), "")

    def html(self, name: str, where: str) -> str:
        raw = self.cartridge.read(name).decode("utf-8", errors="replace")
        soup = BeautifulSoup(raw, "html.parser")
        root = soup.body or soup
        for tag_name in REMOVED_TAGS:
            for found in root.find_all(tag_name):
                self.report.changed.append(
                    f"{where}: removed a <{tag_name}> (not allowed in a lesson)"
                )
                found.decompose()
        for image in root.find_all("img"):
            if isinstance(image, Tag):
                self.image(image, name, where)
        for link in root.find_all("a"):
            if isinstance(link, Tag):
                self.link(link, name, where)
        return self.markdown(root, name) or "(This page had no text.)"

    def markdown(self, soup: BeautifulSoup | Tag, name: str) -> str:
        converter = MarkdownConverter(heading_style="ATX", bullets="-", escape_misc=False)
        text = converter.convert_soup(soup)
        return re.sub(r"\n{3,}", "\n\n", text).strip()

    def image(self, image: Tag, page: str, where: str) -> None:
        src = str(image.get("src", ""))
        member = resolve(self.cartridge, page, src) if not urlsplit(src).scheme else None
        if member is None or not self.cartridge.has(member):
            self.report.changed.append(
                f"{where}: a picture from outside the cartridge ({src[:80]}) was removed"
            )
            image.decompose()
            return
        if PurePosixPath(member).suffix.lower() not in IMAGE_EXTENSIONS:
            self.report.changed.append(
                f"{where}: the picture {member} is not an allowed image type; removed"
            )
            image.decompose()
            return
        image["src"] = f"../media/{self.copy_media(member)}"
        if not str(image.get("alt", "")).strip():
            self.report.changed.append(
                f"{where}: the picture {member} has no description (alt text): add one"
            )

    def link(self, link: Tag, page: str, where: str) -> None:
        href = str(link.get("href", ""))
        if not href or href.startswith("#") or urlsplit(href).scheme:
            return  # in-page, or outside: lint shows outside links as plain text and flags them
        member = resolve(self.cartridge, page, href)
        if member is not None and member in self.page_lessons:
            fragment = href.split("#", 1)[1] if "#" in href else ""
            link["href"] = f"{self.page_lessons[member]}.md" + (f"#{fragment}" if fragment else "")
        elif (
            member is not None
            and self.cartridge.has(member)
            and PurePosixPath(member).suffix.lower() in {".pdf", *IMAGE_EXTENSIONS}
        ):
            link["href"] = f"../media/{self.copy_media(member)}"
        else:
            self.report.changed.append(
                f"{where}: a link to {href[:80]} (not in the course) became plain text"
            )
            link.unwrap()

    def copy_media(self, member: str) -> str:
        if member not in self.media:
            stem = _slug(PurePosixPath(member).stem)
            suffix = PurePosixPath(member).suffix.lower()
            name, n = f"{stem}{suffix}", 2
            while name in self.media.values():
                name, n = f"{stem}-{n}{suffix}", n + 1
            self.media[member] = name
        return self.media[member]

    # -- writing --------------------------------------------------------------------------

    def write(self, folder: Path, course: dict[str, Any]) -> None:
        (folder / "lessons").mkdir(parents=True)
        files = []
        for lesson in self.lessons:
            file = f"{lesson.key}.md"
            front = {"key": lesson.key, "title": lesson.title, "kind": lesson.kind, **lesson.extra}
            text = "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False, width=100)
            text += "---\n" + lesson.body.rstrip() + "\n"
            (folder / "lessons" / file).write_text(text, encoding="utf-8")
            files.append(f"lessons/{file}")
        course["lessons"] = files
        (folder / "course.yaml").write_text(
            yaml.safe_dump(course, allow_unicode=True, sort_keys=False, width=100), encoding="utf-8"
        )
        if self.media:
            (folder / "media").mkdir()
            for member, name in self.media.items():
                (folder / "media" / name).write_bytes(self.cartridge.read(member))


def convert_cartridge(
    source: Path,
    target: Path,
    *,
    course_id: str,
    language: str | None = None,
    category: str = "education",
) -> Report:
    """Convert the cartridge ``source`` (an ``.imscc`` file or its unpacked folder) into the
    new course folder ``target``. Raises :class:`CartridgeError` naming the problem, and
    then nothing is written."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise CartridgeError(f"{target}: already exists and is not empty; choose a new folder")
    with Cartridge(source) as cartridge:
        if not cartridge.has("imsmanifest.xml"):
            raise CartridgeError(
                f"{source}: no imsmanifest.xml; is this a Common Cartridge export?"
            )
        manifest = cartridge.xml("imsmanifest.xml")
        lom = next(iter(_all(manifest, "lom")), None)
        general = next(iter(_all(lom, "general")), None) if lom is not None else None
        found_language = (
            _text_of(next(iter(_all(general, "language")), None)) if general is not None else ""
        )
        chosen = (language or found_language or "en").split("-")[0].lower() or "en"
        converter = _Converter(cartridge, target, chosen)
        title = _text_of(next(iter(_all(general, "title")), None)) if general is not None else ""
        summary = (
            _text_of(next(iter(_all(general, "description")), None)) if general is not None else ""
        )
        rights = _text_of(next(iter(_all(lom, "rights")), None)) if lom is not None else ""
        resources = converter.resources(manifest)
        organization = next(iter(_all(manifest, "organization")), None)
        items: list[tuple[str, Resource, str]] = []
        if organization is not None:
            _walk(organization, resources, [], items, converter.report)
        # Pages first get their lesson names, so links between them can point at lessons.
        for item_title, resource, _path in items:
            if resource.kind.lower() == "webcontent" and resource.href.lower().endswith(
                (".html", ".htm")
            ):
                key = converter.key(item_title)
                converter.page_lessons.setdefault(resource.href, key)
        for item_title, resource, path in items:
            converter.item(item_title, resource, path)
        used = {resource.identifier for _, resource, _ in items}
        for resource in resources.values():
            if resource.identifier in used:
                continue
            kind = resource.kind.lower()
            if "question-bank" in kind or "objectbank" in kind:
                converter.assessment(
                    resource.identifier, resource, f"question bank ({resource.identifier})"
                )
        if not converter.lessons:
            raise CartridgeError(
                f"{source}: nothing in it could become a lesson: "
                + ("; ".join(converter.report.dropped) or "its organization is empty")
            )
        course: dict[str, Any] = {
            "id": course_id,
            "version": 1,
            "title": converter.title(title or source.stem, "course"),
            "summary": (summary or f"Converted from {source.name}.")[:500],
            "category": category,
            "language": chosen,
            "level": "beginner",
            "estimated_hours": max(1, round(len(converter.lessons) * 15 / 60)),
            "license": (rights or "unknown: set the license before publishing")[:200],
        }
        if not rights:
            converter.report.changed.append(
                "course: the cartridge names no license; set `license` in course.yaml"
            )
        converter.report.changed.append(
            "course: level, category and estimated_hours are guesses; check them in course.yaml"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            converter.write(staging, course)
            if target.exists():
                target.rmdir()
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    converter.report.lessons = len(converter.lessons)
    return converter.report


def _walk(
    element: Element,
    resources: dict[str, Resource],
    path: list[str],
    out: list[tuple[str, Resource, str]],
    report: Report,
) -> None:
    for item in _direct(element, "item"):
        title_element = next(iter(_direct(item, "title")), None)
        title = " ".join((title_element.text or "").split()) if title_element is not None else ""
        reference = item.get("identifierref")
        # The organization's root item has no title: it is no part of a place's name.
        here = [*path, title or item.get("identifier", "item")] if title or reference else path
        if reference:
            resource = resources.get(reference)
            if resource is None:
                report.dropped.append(
                    f"{' / '.join(here)}: names a resource ({reference}) the manifest does not have"
                )
            else:
                out.append((title or resource.identifier, resource, " / ".join(here)))
        _walk(item, resources, here, out, report)
