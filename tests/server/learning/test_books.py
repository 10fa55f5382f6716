"""Books end to end: an EPUB built and signed by a publisher, synced, reviewed, approved,
then found in the learners' Library and read chapter by chapter."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from content.package.build import build_package
from content.tuf import repository
from server.catalog import library
from server.catalog.library import CatalogHooks
from server.catalog.sync import sync_all
from server.core.db import Database
from server.core.settings import Settings
from server.learning import assignments, bookshelf
from server.ops.migrations import apply_migrations, migrations
from tests.books import EpubChapter, EpubSpec, default_chapters, write_epub
from tests.conftest import People, sign_in
from tests.content.tuf.helpers import make_repo
from tests.facility import ADMIN, trust_ngo

BOOK_ID = "org.example.river"


def book_package(base: Path, *, book_id: str = BOOK_ID, spec: EpubSpec | None = None) -> Path:
    """The publisher's side: a course folder holding an EPUB, built into a package."""
    spec = spec or EpubSpec()
    src = base / f"src-{book_id}"
    src.mkdir(parents=True)
    write_epub(src / "book.epub", spec)
    (src / "course.yaml").write_text(
        textwrap.dedent(
            f"""\
            id: {book_id}
            version: 1
            title: {spec.title}
            summary: A short book.
            category: education
            language: {spec.language}
            level: beginner
            estimated_hours: 2
            license: CC-BY-4.0
            book: book.epub
            reading_level: Grade 4
            """
        )
    )
    return build_package(src, base / "dist", progress=False)


def publish(base: Path, database: Database, settings: Settings, packages: list[Path]) -> None:
    repo = make_repo(base)
    trust_ngo(database, repo, auto_publish=False)
    repository.add_packages(repo, packages)
    [report] = sync_all(database, settings, CatalogHooks(), ADMIN)
    assert len(report.imported) == len(packages), report.message


def version_of(database: Database, course_id: str) -> int:
    row = database.query_one(
        "SELECT v.id FROM course_versions v JOIN courses c ON c.id = v.course_pk"
        " WHERE c.course_id = ?",
        [course_id],
    )
    assert row is not None
    return int(row[0])


def test_a_book_goes_from_epub_to_a_learners_library(
    tmp_path: Path, database: Database, settings: Settings, client: TestClient, people: People
) -> None:
    publish(tmp_path, database, settings, [book_package(tmp_path)])
    version_id = version_of(database, BOOK_ID)

    sign_in(client, people.learner)
    assert "The River Road" not in client.get("/library").text  # pending review
    assert client.get(f"/learn/courses/{BOOK_ID}").status_code == 404

    sign_in(client, people.admin)
    review = client.get(f"/admin/content/versions/{version_id}").text
    assert "An EPUB book: each lesson below is a chapter." in review
    assert "Ana Example" in review and "Grade 4" in review and "Fiction" in review
    assert "The Beginning" in review and "The Ending" in review
    library.approve(database, CatalogHooks(), ADMIN, version_id)

    sign_in(client, people.learner)
    page = client.get("/library").text
    assert "The River Road" in page and "by Ana Example" in page
    assert "New arrivals" in page and "Books in English" in page and "Fiction" in page
    cover = re.search(r'class="book-cover" src="([^"]+)"', page)
    assert cover is not None
    image = client.get(cover.group(1))
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"

    toc = client.get(f"/learn/courses/{BOOK_ID}").text
    assert "The Beginning" in toc and "The Ending" in toc and "Reading level: Grade 4" in toc
    chapter = client.get(f"/learn/courses/{BOOK_ID}/lessons/ch1").text
    # The note's number is a link to the note (its text wrapped for read-aloud, or not).
    noteref = r'<a href="#fn1" id="ref-fn1" class="noteref">(<span data-s="\d+">)?1(</span>)?</a>'
    assert re.search(noteref, chapter)
    assert "\u21a9 Back to the text" in chapter
    assert 'alt="A small boat on the river"' in chapter
    assert f'href="/learn/courses/{BOOK_ID}/lessons/ch2#end"' in chapter


def test_continue_reading_opens_the_chapter_the_learner_was_in(
    tmp_path: Path, database: Database, settings: Settings, client: TestClient, people: People
) -> None:
    publish(tmp_path, database, settings, [book_package(tmp_path)])
    library.approve(database, CatalogHooks(), ADMIN, version_of(database, BOOK_ID))
    sign_in(client, people.learner)
    assert "Continue reading" not in client.get("/library").text
    chapter = client.get(f"/learn/courses/{BOOK_ID}/lessons/ch1").text
    token = re.search(r'data-csrf="([^"]+)"', chapter)
    assert token is not None
    place = {"id": "place-000001", "type": "progressed", "course": BOOK_ID, "lesson": "ch1"}
    response = client.post(
        "/api/events",
        json={"events": [place | {"position": 7, "duration": 45}]},
        headers={"X-CSRF-Token": token.group(1)},
    )
    assert response.status_code == 200, response.text
    page = client.get("/library").text
    assert f'href="/learn/courses/{BOOK_ID}/lessons/ch1">Continue reading' in page
    # The chapter page carries the place, which the reader scrolls back to.
    assert 'data-position="7.0"' in client.get(f"/learn/courses/{BOOK_ID}/lessons/ch1").text

    done = client.post(
        f"/learn/courses/{BOOK_ID}/lessons/ch1/done",
        data={"csrf_token": token.group(1), "event_id": "done-0000001"},
        follow_redirects=False,  # opening the next chapter would make it the last one read
    )
    assert done.status_code == 303
    assert (
        f'href="/learn/courses/{BOOK_ID}/lessons/ch2">Continue reading'
        in client.get("/library").text
    )


def test_the_learners_language_comes_first(
    tmp_path: Path, database: Database, settings: Settings, people: People
) -> None:
    spanish = EpubSpec(title="El Río", language="es", subject="Novela")
    publish(
        tmp_path,
        database,
        settings,
        [book_package(tmp_path), book_package(tmp_path, book_id="org.example.rio", spec=spanish)],
    )
    for course_id in (BOOK_ID, "org.example.rio"):
        library.approve(database, CatalogHooks(), ADMIN, version_of(database, course_id))
    english = bookshelf.shelf(database, settings, people.learner, "en").by_language
    assert [code for code, _ in english] == ["en", "es"]
    in_spanish = bookshelf.shelf(database, settings, people.learner, "es").by_language
    assert [code for code, _ in in_spanish] == ["es", "en"]
    assert [subject for subject, _ in in_spanish[0][1]] == ["Novela"]


def test_what_the_book_dropped_is_flagged_for_the_reviewer(
    tmp_path: Path, database: Database, settings: Settings, client: TestClient, people: People
) -> None:
    hostile = [
        *default_chapters(),
        EpubChapter(
            "bad",
            "bad.xhtml",
            "Bad",
            "<p>Hi<script>steal()</script></p><img src='http://tracker.example/x.png' alt='x'/>",
        ),
    ]
    publish(tmp_path, database, settings, [book_package(tmp_path, spec=EpubSpec(chapters=hostile))])
    sign_in(client, people.admin)
    review = client.get(f"/admin/content/versions/{version_of(database, BOOK_ID)}").text
    assert "Picture from outside the book (removed)" in review
    assert "tracker.example/x.png" in review
    assert "Removed by the safety filter" in review and "&lt;script&gt; element" in review


def test_a_book_that_is_not_a_book_does_not_build(tmp_path: Path) -> None:
    from content.errors import LintFailed

    src = tmp_path / "src"
    src.mkdir()
    (src / "book.epub").write_bytes(b"PK\x03\x04 not really")
    (src / "course.yaml").write_text(
        "id: org.example.x\nversion: 1\ntitle: X\nsummary: X\ncategory: education\n"
        "language: en\nlevel: beginner\nestimated_hours: 1\nlicense: CC0\nbook: book.epub\n"
    )
    with pytest.raises(LintFailed) as failed:
        build_package(src, tmp_path / "dist", progress=False)
    assert any("EPUB" in p.message for p in failed.value.problems)


def test_the_books_migration_upgrades_a_facility_that_has_courses(tmp_path: Path) -> None:
    """0020_books adds an empty books table beside existing courses; a course that is not
    a book stays out of the Library."""
    database = Database(tmp_path / "old" / "stepstone.db")
    database.path.parent.mkdir()
    with database.write() as db:
        migrations.apply(db, stop_before="0020_books")
        assert "books" not in db.table_names()
    assert "0020_books" in apply_migrations(database)
    columns = {row["name"] for row in database.query("PRAGMA table_info(books)")}
    assert columns == {
        "version_id",
        "authors",
        "subjects",
        "reading_level",
        "cover",
        "epub_version",
    }
    assert bookshelf.book_info(database, 1) is None
    database.close()


def test_an_assigned_chapter_puts_the_book_in_an_assigned_only_library(
    tmp_path: Path, database: Database, settings: Settings, people: People
) -> None:
    publish(tmp_path, database, settings, [book_package(tmp_path)])
    library.approve(database, CatalogHooks(), ADMIN, version_of(database, BOOK_ID))
    closed = dataclasses.replace(settings, learner_catalog="assigned")
    assert bookshelf.books_for(database, closed, people.learner) == []
    assignments.assign(database, ADMIN, BOOK_ID, learners=[people.learner.id], lesson_key="ch2")
    [book] = bookshelf.books_for(database, closed, people.learner)
    assert book.course.assignment is not None and book.course.assignment.lesson_key == "ch2"
    assert bookshelf.books_for(database, closed, people.other_learner) == []
