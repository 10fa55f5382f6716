"""The learners' Library: the books among the courses a learner may open, arranged.

A book is a course whose lessons are its chapters (see ``content.format.epub``), so who
may read it is the course rule of ``server.learning.access`` and nothing else; this module
only adds what a library shows on top: covers, authors, subjects, "continue reading" and
new arrivals, grouped by language (the learner's own first) and subject.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from server.core.db import Database
from server.core.settings import Settings
from server.learning.access import visible_courses
from server.learning.visibility import Course, assets_of, lessons_of
from server.people.accounts import User

NEW_ARRIVALS = 6


@dataclass(frozen=True)
class Book:
    """A book a learner may open: its course and what the Library shows of it."""

    course: Course
    authors: tuple[str, ...]
    subjects: tuple[str, ...]
    reading_level: str
    cover: dict[str, Any] | None  # the cover's stored file (sha256, path), if it has one
    arrived_at: str


@dataclass(frozen=True)
class Shelf:
    """The Library page: where to continue, what is new, and every book by language."""

    continue_reading: list[tuple[Book, str]]  # the book and the chapter key to open
    new_arrivals: list[Book]
    by_language: list[tuple[str, list[tuple[str, list[Book]]]]]  # language → subject → books


def book_info(database: Database, version_id: int) -> dict[str, Any] | None:
    """The book fields of one course version, or None when the course is not a book."""
    row = database.query_one("SELECT * FROM books WHERE version_id = ?", [version_id])
    if row is None:
        return None
    return {
        "authors": tuple(json.loads(row["authors"])),
        "subjects": tuple(json.loads(row["subjects"])),
        "reading_level": row["reading_level"],
        "cover": _cover(database, version_id, row["cover"]),
    }


def _cover(database: Database, version_id: int, path: str | None) -> dict[str, Any] | None:
    """The cover's stored file, only when the package holds it and it is a picture: the
    manifest names it, and a package is never trusted to name the right thing."""
    asset = assets_of(database, version_id).get(path) if path else None
    return asset if asset and str(asset["media_type"]).startswith("image/") else None


def books_for(database: Database, settings: Settings, user: User) -> list[Book]:
    """Every book this person may open now, by title."""
    courses = {c.version_id: c for c in visible_courses(database, settings, user)}
    if not courses:
        return []
    rows = database.query(
        "SELECT b.*, coalesce(v.reviewed_at, v.imported_at) AS arrived_at FROM books b"
        " JOIN course_versions v ON v.id = b.version_id"
        " WHERE b.version_id IN (SELECT value FROM json_each(?))",
        [json.dumps(list(courses))],
    )
    books = [_book(database, courses[row["version_id"]], row) for row in rows]
    return sorted(books, key=lambda b: b.course.title.casefold())


def _book(database: Database, course: Course, row: Any) -> Book:
    cover = _cover(database, course.version_id, row["cover"])
    return Book(
        course=course,
        authors=tuple(json.loads(row["authors"])),
        subjects=tuple(json.loads(row["subjects"])),
        reading_level=row["reading_level"],
        cover=cover,
        arrived_at=row["arrived_at"] or "",
    )


def shelf(database: Database, settings: Settings, user: User, language: str) -> Shelf:
    """The Library of ``user``, whose own language (``en``, ``es``) comes first."""
    books = books_for(database, settings, user)
    newest = sorted(books, key=lambda b: b.arrived_at, reverse=True)[:NEW_ARRIVALS]
    return Shelf(_continue(database, user, books), newest, _grouped(books, language))


def _continue(database: Database, user: User, books: list[Book]) -> list[tuple[Book, str]]:
    """Books begun and not finished, the last one read first, with the chapter to open:
    the one last read, or the next one when that chapter is done."""
    by_id = {b.course.course_id: b for b in books}
    if not by_id:
        return []
    rows = database.query(
        "SELECT course_id, lesson_key, status FROM lesson_progress WHERE user_id = ?"
        " AND course_id IN (SELECT value FROM json_each(?)) ORDER BY updated_at DESC",
        [user.id, json.dumps(list(by_id))],
    )
    seen: dict[str, str | None] = {}
    done: dict[str, set[str]] = {}
    for row in rows:
        course_id = row["course_id"]
        if row["status"] == "done":
            done.setdefault(course_id, set()).add(row["lesson_key"])
        if course_id not in seen:
            seen[course_id] = row["lesson_key"]
    result = []
    for course_id, last in seen.items():
        book = by_id[course_id]
        keys = [lesson.key for lesson in lessons_of(database, book.course.version_id)]
        finished = done.get(course_id, set())
        chapter = _next_chapter(keys, last, finished)
        if chapter is not None:
            result.append((book, chapter))
    return result


def _next_chapter(keys: list[str], last: str | None, finished: set[str]) -> str | None:
    if last in keys and last not in finished:
        return last
    start = keys.index(last) + 1 if last in keys else 0
    for key in keys[start:] + keys[:start]:
        if key not in finished:
            return key
    return None


def _grouped(books: list[Book], language: str) -> list[tuple[str, list[tuple[str, list[Book]]]]]:
    own = language.split("-")[0].lower()
    languages = sorted(
        {b.course.language for b in books},
        key=lambda code: (code.split("-")[0].lower() != own, code),
    )
    result = []
    for code in languages:
        in_language = [b for b in books if b.course.language == code]
        subjects = sorted({_subject(b) for b in in_language}, key=lambda s: (s == "", s.casefold()))
        result.append((code, [(s, [b for b in in_language if _subject(b) == s]) for s in subjects]))
    return result


def _subject(book: Book) -> str:
    return book.subjects[0] if book.subjects else ""


@dataclass(frozen=True)
class Shelved:
    """A reference collection (a ZIM) a person may open: its course and what it holds."""

    course: Course
    description: str
    article_count: int


def collections_for(database: Database, settings: Settings, user: User) -> list[Shelved]:
    """Every reference collection this person may open now (the course rule of
    ``learning.access``: approved, live, offered to the learner's group), by title."""
    courses = {c.version_id: c for c in visible_courses(database, settings, user)}
    if not courses:
        return []
    rows = database.query(
        "SELECT version_id, description, article_count FROM collections"
        " WHERE version_id IN (SELECT value FROM json_each(?))",
        [json.dumps(list(courses))],
    )
    shelved = [
        Shelved(courses[r["version_id"]], r["description"], int(r["article_count"])) for r in rows
    ]
    return sorted(shelved, key=lambda s: s.course.title.casefold())


def collection_version(
    database: Database, settings: Settings, user: User, course_id: str
) -> int | None:
    """The live version of the collection ``course_id`` when this person may open it."""
    for course in visible_courses(database, settings, user, only=course_id):
        row = database.query_one(
            "SELECT version_id FROM collections WHERE version_id = ?", [course.version_id]
        )
        if row is not None:
            return int(row[0])
    return None


def is_collection(database: Database, version_id: int) -> bool:
    """Whether this course version carries a reference collection."""
    row = database.query_one("SELECT 1 FROM collections WHERE version_id = ?", [version_id])
    return row is not None
