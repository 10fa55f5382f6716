"""The learners' Library page: books by language and subject, continue reading, new."""

from __future__ import annotations

from starlette.responses import Response

from server.learning import bookshelf
from server.people.accounts import Role
from server.web.lessonpage import course_url, lesson_url, media_url
from server.web.plumbing import Req, access


@access(Role.LEARNER)
def library(req: Req) -> Response:
    shelf = bookshelf.shelf(req.database, req.settings, req.user, req.language)
    return req.render(
        "learn/library.html",
        {
            "shelf": shelf,
            "book_url": lambda book: course_url(book.course.course_id),
            "chapter_url": lambda book, key: lesson_url(book.course.course_id, key),
            "cover_url": lambda book: media_url(book.cover),
            "total": sum(len(b) for _, subjects in shelf.by_language for _, b in subjects),
            "collections": bookshelf.collections_for(req.database, req.settings, req.user),
        },
    )
