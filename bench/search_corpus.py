"""A search benchmark corpus: real prose from Debian documentation packages, as sections.

Any folder of HTML files will do; the benchmark was measured on the Python 3.11 manuals
(`python3.11-doc`, English), the Debian Reference (`debian-reference-en`, `-es`) and
the Debian Administrator's Handbook (`debian-handbook`, its `en-US` and `es-ES` folders):
English and Spanish. Each HTML file becomes a lesson, split into sections at headings
and at API entries (`<dt id=…>`), long sections cut at paragraphs, as authors of long
lessons would; consecutive lessons are grouped into courses of about 200 sections.

Fetch them without installing anything system-wide (`apt-get download` and
`dpkg-deb -x` into a folder of your choice; about 50 MB of packages):

    .venv/bin/python bench/search_corpus.py /srv/scratch/corpus
    # then: bench/search.py --corpus-dir /srv/scratch/corpus/root/usr/share

or by hand:

    apt-get download python3.11-doc debian-reference-en debian-reference-es debian-handbook
    for deb in *.deb; do dpkg-deb -x "$deb" corpus-root; done

(the handbook holds 30 translations: only `en-US` and `es-ES` are read), or install
the same packages with `apt-get install` and use the default corpus folders.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path

BLOCKS = {"p", "li", "pre", "dd", "dt", "tr", "td", "th", "div", "blockquote", "table", "br"}
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
SKIP = {"script", "style", "head", "nav", "title"}
CHUNK_CHARS = 330
CATEGORIES = ("education", "vocational", "job-skills", "reentry", "cbt", "substance-use")


@dataclass
class RawSection:
    anchor: str
    heading: str
    text: str


@dataclass
class Lesson:
    key: str
    title: str
    language: str
    sections: list[RawSection] = field(default_factory=list)


class _Splitter(HTMLParser):
    """HTML -> sections at headings and `<dt id>`: the main content's text only.

    Sphinx pages (Python docs) mark their content with `<div role="main">`; anything
    outside it (sidebars, navigation) is left out. Other pages are read whole.
    """

    def __init__(self, title: str, sphinx: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[RawSection] = []
        self._sphinx = sphinx
        self._main_depth = 0  # open <div>s since role="main" (Sphinx only)
        self._skipping: list[str] = []  # open elements whose text is left out
        self._heading_tag: str | None = None
        self._heading: list[str] = []
        self._anchor, self._last_id, self._current_heading = "", "", title
        self._text: list[str] = []

    def _reading(self) -> bool:
        return not self._skipping and (not self._sphinx or self._main_depth > 0)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "div" and self._main_depth:
            self._main_depth += 1
        elif tag == "div" and values.get("role") == "main":
            self._main_depth = 1
        ident = values.get("id") or (values.get("name") if tag == "a" else None)
        if ident and self._reading():
            self._last_id = ident
        if tag in SKIP or "headerlink" in (values.get("class") or ""):
            self._skipping.append(tag)
            return
        if not self._reading():
            return
        if tag in HEADINGS or (tag == "dt" and ident):
            self._flush()
            self._heading_tag, self._heading = tag, []
            self._anchor = ident or self._last_id
        elif tag in BLOCKS:
            self._text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and tag == self._skipping[-1]:
            self._skipping.pop()
            return
        if tag == "div" and self._main_depth:
            self._main_depth -= 1
        if tag == self._heading_tag:
            heading = " ".join("".join(self._heading).split())
            self._current_heading = heading or self._current_heading
            self._anchor = self._anchor or self._last_id
            self._heading_tag = None
        elif tag in BLOCKS:
            self._text.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._reading():
            return
        if self._heading_tag is not None:
            self._heading.append(data)
        else:
            self._text.append(data)

    def _flush(self) -> None:
        text = "\n".join(" ".join(line.split()) for line in "".join(self._text).split("\n"))
        text = re.sub(r"\n{2,}", "\n", text).strip()
        if text:
            anchor = re.sub(r"[^A-Za-z0-9_.:-]", "-", self._anchor)[:100]
            for chunk in _chunks(text):
                self.sections.append(RawSection(anchor, self._current_heading, chunk))
        self._text = []

    def close(self) -> None:
        super().close()
        self._flush()


def _chunks(text: str) -> Iterator[str]:
    """Cut long text at line ends into pieces of about CHUNK_CHARS."""
    piece: list[str] = []
    size = 0
    for line in text.split("\n"):
        piece.append(line)
        size += len(line)
        if size >= CHUNK_CHARS:
            yield "\n".join(piece)
            piece, size = [], 0
    if piece:
        yield "\n".join(piece)


def _read(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8", "replace")


def _title(page: str, fallback: str) -> str:
    match = re.search(r"<title>(.*?)</title>", page, re.S | re.I)
    title = " ".join(html.unescape(match.group(1)).split()) if match else fallback
    return re.sub(r"\s+[—–-]+\s+Python 3[^<]*$", "", title)[:120] or fallback


def _language(path: Path) -> str:
    spanish = ".es." in path.name or any(part.startswith("es-") for part in path.parts)
    return "es" if spanish else "en"


def html_files(roots: list[Path]) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
            continue
        for path in sorted(root.rglob("*")):
            translation = [p for p in path.parts if re.fullmatch(r"[a-z]{2}-[A-Z]{2}", p)]
            if translation and translation[0] not in ("en-US", "es-ES"):
                continue
            if path.name.endswith((".html", ".html.gz")) and path.is_file():
                found.append(path)
    return found


def lessons_from(roots: list[Path]) -> Iterator[Lesson]:
    for number, path in enumerate(html_files(roots)):
        page = _read(path)
        title = _title(page, path.stem)
        splitter = _Splitter(title, sphinx='role="main"' in page)
        splitter.feed(page)
        splitter.close()
        if splitter.sections:
            yield Lesson(f"l{number}", title, _language(path), splitter.sections)


@dataclass
class Course:
    course_id: str
    title: str
    category: str
    language: str
    lessons: list[Lesson]

    @property
    def section_count(self) -> int:
        return sum(len(lesson.sections) for lesson in self.lessons)


def courses_from(lessons: Iterator[Lesson], per_course: int = 200) -> list[Course]:
    """Group consecutive lessons of one language into courses of about `per_course`."""
    courses: list[Course] = []
    current: list[Lesson] = []

    def close() -> None:
        if current:
            number = len(courses) + 1
            courses.append(
                Course(
                    f"org.bench.docs.c{number}",
                    f"{current[0].title} and more",
                    CATEGORIES[number % len(CATEGORIES)],
                    current[0].language,
                    list(current),
                )
            )
            current.clear()

    for lesson in lessons:
        if current and (
            current[0].language != lesson.language
            or sum(len(x.sections) for x in current) + len(lesson.sections) > per_course * 1.5
        ):
            close()
        current.append(lesson)
        if sum(len(x.sections) for x in current) >= per_course:
            close()
    close()
    return courses


def save(courses: list[Course], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for course in courses:
            out.write(json.dumps(asdict(course), ensure_ascii=False) + "\n")


def load(path: Path) -> list[Course]:
    courses = []
    with path.open(encoding="utf-8") as source:
        for line in source:
            data = json.loads(line)
            lessons = [
                Lesson(
                    lesson["key"],
                    lesson["title"],
                    lesson["language"],
                    [RawSection(**s) for s in lesson["sections"]],
                )
                for lesson in data.pop("lessons")
            ]
            courses.append(Course(lessons=lessons, **data))
    return courses


PACKAGES = ("python3.11-doc", "debian-reference-en", "debian-reference-es", "debian-handbook")


def fetch(folder: Path) -> Path:
    """Download the packages with apt and unpack them under `folder`/root; returns the
    folder to pass as `--corpus-dir` (its usr/share)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=folder, check=True)
    root = folder / "root"
    for deb in sorted(folder.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root / "usr" / "share"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Fetch the search benchmark's corpus.")
    parser.add_argument("folder", type=Path, help="where to download and unpack (not in repo)")
    print(fetch(parser.parse_args().folder.resolve()))
