"""The facility's watch list: words and phrases its staff want flagged in every package.

Security staff keep names of gangs, contraband slang and the like here. The list changes
after packages were imported, so its flags are not stored with a version: they are
computed each time a reviewer opens the version (``version_flags``), over all of its
text — lessons, quiz and workbook text, captions and the text of its PDFs. A word added
today is found in versions that have waited for review since last week. Reading a PDF's
text is the slow part; it is kept per file content (``sha256``), which never changes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from content.format.lessondata import stored_lesson_data
from content.importing.fileflags import caption_flags, pdf_flags
from content.importing.flags import Flag, TextPlace, WatchList, fold, lesson_texts
from content.importing.store import ContentStore
from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.people import audit
from server.people.audit import Actor

MAX_PHRASE_CHARS = 100
MAX_WORDS = 2_000


@dataclass(frozen=True)
class WatchWord:
    id: int
    phrase: str
    added_by: str
    added_at: str


def words(database: Database) -> list[WatchWord]:
    """Every entry, in alphabetical order of what is matched."""
    rows = database.query(
        "SELECT id, phrase, added_by, added_at FROM watch_words ORDER BY folded, id"
    )
    return [WatchWord(r["id"], r["phrase"], r["added_by"], r["added_at"]) for r in rows]


def watch_list(database: Database) -> WatchList:
    """The matcher for the current entries."""
    return WatchList(w.phrase for w in words(database))


def check_phrase(text: str) -> str:
    """The entry as stored (NFC, single spaces), or a :class:`ValidationError` saying why
    it cannot be one."""
    phrase = WatchList([text]).phrases[0] if text.strip() else ""
    if not phrase:
        raise ValidationError(N_("Write a word or phrase to watch for."), "phrase")
    if len(phrase) > MAX_PHRASE_CHARS:
        raise ValidationError(N_("A watched phrase may have at most 100 characters."), "phrase")
    if not any(c.isalnum() for c in phrase):
        raise ValidationError(N_("A watched phrase needs at least one letter or digit."), "phrase")
    return phrase


def add(database: Database, actor: Actor, text: str) -> WatchWord:
    """Add a word or phrase; refuse one already listed (ignoring case and accents)."""
    phrase = check_phrase(text)
    with database.write() as db:
        if db.execute("SELECT 1 FROM watch_words WHERE folded = ?", [fold(phrase)]).fetchone():
            raise ValidationError(N_("That word or phrase is already on the list."), "phrase")
        (count,) = db.execute("SELECT count(*) FROM watch_words").fetchone()
        if count >= MAX_WORDS:
            raise ValidationError(N_("The list is full (2,000 entries)."), "phrase")
        now = clock.iso()
        cursor = db.execute(
            "INSERT INTO watch_words (phrase, folded, added_by, added_at) VALUES (?, ?, ?, ?)",
            [phrase, fold(phrase), actor.label, now],
        )
        audit.record(db, actor, "watch-list.add", phrase)
    return WatchWord(int(cursor.lastrowid or 0), phrase, actor.label, now)


def remove(database: Database, actor: Actor, text: str) -> None:
    """Remove an entry, named as written or with other case and accents."""
    folded = fold(" ".join(text.split()))
    with database.write() as db:
        row = db.execute("SELECT id, phrase FROM watch_words WHERE folded = ?", [folded]).fetchone()
        if row is None:
            raise NotFound()
        db.execute("DELETE FROM watch_words WHERE id = ?", [row[0]])
        audit.record(db, actor, "watch-list.remove", row[1])


def remove_by_id(database: Database, actor: Actor, word_id: int) -> None:
    """Remove the entry with this id (the admin page's button)."""
    row = database.query_one("SELECT phrase FROM watch_words WHERE id = ?", [word_id])
    if row is None:
        raise NotFound()
    remove(database, actor, row["phrase"])


def version_flags(database: Database, store: ContentStore, version_id: int) -> list[Flag]:
    """``watch-word`` flags for every listed phrase in a course version's text."""
    matcher = watch_list(database)
    if not matcher.phrases:
        return []
    return matcher.flags(version_texts(database, store, version_id))


def version_texts(database: Database, store: ContentStore, version_id: int) -> list[TextPlace]:
    """All text of a version, each piece with its place (see ``content.importing.flags``)."""
    places: list[TextPlace] = []
    owners: dict[str, str] = {}
    for row in database.query(
        "SELECT key, title, data FROM lessons WHERE version_id = ? ORDER BY position",
        [version_id],
    ):
        data = stored_lesson_data(row["data"])
        places += lesson_texts(row["key"], row["title"], data)
        narration = (data.narration.timings,) if data.narration else ()
        for path in (data.media, *(c.src for c in data.captions), *narration):
            owners.setdefault(path, row["key"])
    for row in database.query(
        "SELECT path, sha256, media_type FROM assets WHERE version_id = ?"
        " AND media_type IN ('application/pdf', 'text/vtt') ORDER BY path",
        [version_id],
    ):
        if store.has(row["sha256"]):
            local = store.path_for(row["sha256"])
            lesson = owners.get(row["path"], "")
            places += _file_texts(local, row["path"], row["media_type"], lesson)
    return places


@functools.lru_cache(maxsize=256)
def _file_texts(local: Path, path: str, media_type: str, lesson: str) -> tuple[TextPlace, ...]:
    # Store paths are named by content, so a cached result is never stale.
    reader = pdf_flags if media_type == "application/pdf" else caption_flags
    return tuple(reader(local, path, lesson)[1])
