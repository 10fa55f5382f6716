"""Reference collections (ZIM files): what the catalog keeps of them, and reading them.

A collection is a course version whose package carries a ZIM file (``course.collection``
in its manifest). At import ``catalog.library`` writes its ``collections`` row from what
libzim read in the staged file (``content.format.zim``: title, language, description,
article count, whether it has a full-text index, the main page) and how many articles of
a bounded sample held scripts, frames, forms, refreshes, outside pictures or links. The
ZIM itself is one blob of the content store, never unpacked.

Who may read a collection is the course rule (``learning.access``: approved, live, from a
trusted publisher, offered to the learner's group); this module only reads it. Every
article leaves through ``content.format.zimhtml``; only pictures leave as files: raster
ones, and SVG drawings that pass ``content.format.svg``'s check.

Blocked articles (``collection_blocks``) are kept by course id, not version, so a
facility's list survives the publisher's next version; a blocked article, named by its
path or its title, is a 404 for learners and absent from search and suggestions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from content.errors import MediaTypeError
from content.format.limits import Limits
from content.format.svg import check_svg_bytes
from content.format.zim import (
    MAX_ARTICLE_BYTES,
    MAX_PICTURE_BYTES,
    Collection,
    CollectionCache,
    ZimEntry,
    ZimHit,
)
from content.format.zimhtml import FLAG_KINDS, clean_article
from content.importing.importer import StagedPackage
from content.importing.store import ContentStore
from server.core import clock
from server.core.db import Database
from server.core.errors import N_, BadRequest, NotFound
from server.core.settings import Settings
from server.people import audit
from server.people.audit import Actor

# Pictures a collection may send: raster images as they are; an SVG (a document that can
# run) only when it passes the course check (``content.format.svg``, an allow-list), and
# always under the media policy (a sandbox, nothing loads) with nosniff.
PICTURE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
SVG_TYPE = "image/svg+xml"
BLOCK_KINDS = ("path", "title")
MAX_BLOCK_CHARS = 500
_CACHE = CollectionCache()
# What the reviewer is told the sample's articles held (kinds of content.format.zimhtml).
FLAG_LABELS = {
    "script": N_("Articles with scripts (removed)"),
    "iframe": N_("Articles with frames or embedded objects (removed)"),
    "form": N_("Articles with forms (removed)"),
    "meta-refresh": N_("Articles that try to move to another page (removed)"),
    "outside-image": N_("Articles with pictures from outside (removed)"),
    "outside-link": N_("Articles with links to outside (shown as plain text)"),
}


@dataclass(frozen=True)
class CollectionInfo:
    """One version's collection: its ZIM blob and what libzim read from it at import."""

    version_id: int
    course_id: str
    zim_sha256: str
    zim_size: int
    title: str
    language: str
    description: str
    article_count: int
    has_fulltext: bool
    main_path: str
    sample_flags: dict[str, int]

    def flag_counts(self) -> list[tuple[str, int]]:
        """The sample's counts per kind, in a fixed order, only those found."""
        return [(k, self.sample_flags.get(k, 0)) for k in FLAG_KINDS if self.sample_flags.get(k)]


@dataclass(frozen=True)
class Block:
    """One blocked article of a collection, by path or by title."""

    id: int
    kind: str
    value: str
    added_at: str


@dataclass(frozen=True)
class Article:
    """An article ready to show: sanitized HTML and its title."""

    path: str
    title: str
    html: str


def record_in(db: Any, version_id: int, staged: StagedPackage) -> None:
    """Write the collection row of a version being imported (``library._insert_version``)."""
    info = staged.collection
    if info is None:
        return
    zim_path = staged.course["collection"]["zim"]
    db.execute(
        "INSERT INTO collections (version_id, zim_path, title, language, description,"
        " article_count, has_fulltext, main_path, sample_flags)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            version_id,
            zim_path,
            info.title,
            info.language,
            info.description,
            info.article_count,
            int(info.has_fulltext),
            info.main_path,
            json.dumps(staged.collection_flags, sort_keys=True),
        ],
    )


def collection_info(database: Database, version_id: int) -> CollectionInfo | None:
    """The collection of one course version, or None when it has none."""
    row = database.query_one(
        "SELECT c.*, a.sha256, a.size, co.course_id FROM collections c"
        " JOIN course_versions v ON v.id = c.version_id"
        " JOIN courses co ON co.id = v.course_pk"
        " JOIN assets a ON a.version_id = c.version_id AND a.path = c.zim_path"
        " WHERE c.version_id = ?",
        [version_id],
    )
    if row is None:
        return None
    return CollectionInfo(
        version_id=version_id,
        course_id=row["course_id"],
        zim_sha256=row["sha256"],
        zim_size=int(row["size"]),
        title=row["title"],
        language=row["language"],
        description=row["description"],
        article_count=int(row["article_count"]),
        has_fulltext=bool(row["has_fulltext"]),
        main_path=row["main_path"],
        sample_flags={str(k): int(v) for k, v in json.loads(row["sample_flags"]).items()},
    )


def article_url(course_id: str, path: str) -> str:
    """This server's address of a collection's article or picture."""
    return f"/collections/{course_id}/a/{quote(path, safe='/')}"


def review_url(version_id: int, path: str) -> str:
    """The reviewer's address of an article or picture of a version's collection."""
    return f"/admin/content/versions/{version_id}/zim/{quote(path, safe='/')}"


def _open(settings: Settings, info: CollectionInfo) -> Collection:
    # The store of ``catalog.sync.content_store`` (which imports this module's importer).
    store = ContentStore(settings.data_dir / "store")
    if not store.has(info.zim_sha256):
        raise NotFound()
    return _CACHE.get(store.path_for(info.zim_sha256))


# ---- Blocked articles -------------------------------------------------------------


def blocks(database: Database, course_id: str) -> list[Block]:
    """The articles a facility blocked in this collection (every version of it)."""
    rows = database.query(
        "SELECT id, kind, value, added_at FROM collection_blocks WHERE course_id = ?"
        " ORDER BY kind, value",
        [course_id],
    )
    return [Block(int(r["id"]), r["kind"], r["value"], r["added_at"]) for r in rows]


def _is_blocked(found: list[Block], path: str, title: str) -> bool:
    folded = " ".join(title.split()).casefold()
    for block in found:
        if block.kind == "path" and block.value == path:
            return True
        if block.kind == "title" and block.value.casefold() == folded:
            return True
    return False


def add_block(database: Database, actor: Actor, course_id: str, kind: str, value: str) -> None:
    """Block an article by path or title; a clear BadRequest for a bad entry."""
    value = value.strip() if kind == "path" else " ".join(value.split())
    if kind not in BLOCK_KINDS:
        raise BadRequest(N_("Choose to block by path or by title."))
    if not value or len(value) > MAX_BLOCK_CHARS:
        raise BadRequest(N_("Write a path or a title of 1 to 500 characters."))
    with database.write() as db:
        found = db.execute(
            "SELECT 1 FROM collection_blocks WHERE course_id = ? AND kind = ? AND value = ?",
            [course_id, kind, value],
        ).fetchone()
        if found is not None:
            return
        db.execute(
            "INSERT INTO collection_blocks (course_id, kind, value, added_by, added_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [course_id, kind, value, actor.id, clock.iso()],
        )
        audit.record(db, actor, "collection.block", course_id, kind=kind, value=value)


def remove_block(database: Database, actor: Actor, course_id: str, block_id: int) -> None:
    """Unblock one article; a block of another collection is NotFound."""
    with database.write() as db:
        row = db.execute(
            "SELECT kind, value FROM collection_blocks WHERE id = ? AND course_id = ?",
            [block_id, course_id],
        ).fetchone()
        if row is None:
            raise NotFound()
        db.execute("DELETE FROM collection_blocks WHERE id = ?", [block_id])
        audit.record(db, actor, "collection.unblock", course_id, kind=row[0], value=row[1])


# ---- Reading ----------------------------------------------------------------------


def entry(
    database: Database,
    settings: Settings,
    info: CollectionInfo,
    path: str,
    *,
    reviewer: bool = False,
) -> ZimEntry | None:
    """The entry at ``path``: None when missing, or blocked (a reviewer sees those too)."""
    found = _open(settings, info).entry(path)
    if found is None or reviewer:
        return found
    if _is_blocked(blocks(database, info.course_id), found.path, found.title):
        return None
    if path != found.path and _is_blocked(blocks(database, info.course_id), path, ""):
        return None
    return found


def _link(info: CollectionInfo, reviewer: bool) -> Callable[[str], str]:
    if reviewer:
        return lambda path: review_url(info.version_id, path)
    return lambda path: article_url(info.course_id, path)


def article(
    database: Database,
    settings: Settings,
    info: CollectionInfo,
    path: str,
    *,
    reviewer: bool = False,
) -> Article | None:
    """The article at ``path``, sanitized; None when missing, blocked, not HTML or too big.
    A reviewer's links and pictures stay on the review pages."""
    found = entry(database, settings, info, path, reviewer=reviewer)
    if found is None or not found.is_article:
        return None
    data = _open(settings, info).content(found.path, MAX_ARTICLE_BYTES)
    if data is None:
        return None
    clean = clean_article(data, found.path, _link(info, reviewer))
    return Article(found.path, found.title or clean.title or found.path, clean.html)


def picture(
    database: Database,
    settings: Settings,
    info: CollectionInfo,
    path: str,
    *,
    reviewer: bool = False,
) -> tuple[bytes, str] | None:
    """A picture's bytes and media type: a raster picture, or an SVG drawing that passes
    the same check as a course's SVG (at most as big); None for anything else."""
    found = entry(database, settings, info, path, reviewer=reviewer)
    if found is None:
        return None
    media_type = found.media_type.split(";")[0].strip().lower()
    if media_type == SVG_TYPE:
        drawing = _open(settings, info).content(found.path, Limits().max_svg_bytes)
        if drawing is None:
            return None
        try:
            check_svg_bytes(drawing, found.path)
        except MediaTypeError:
            return None
        return drawing, media_type
    if media_type not in PICTURE_TYPES:
        return None
    data = _open(settings, info).content(found.path, MAX_PICTURE_BYTES)
    return None if data is None else (data, media_type)


def search(
    database: Database, settings: Settings, info: CollectionInfo, text: str, limit: int = 20
) -> list[ZimHit]:
    """Full-text hits (titles when the ZIM has no full-text index), blocked ones removed."""
    text = " ".join(text.split())[:200]
    if not text:
        return []
    collection = _open(settings, info)
    hits = collection.search(text, limit)
    if hits is None:
        hits = collection.suggest(text, limit)
    return _unblocked(database, info, hits)


def suggest(
    database: Database, settings: Settings, info: CollectionInfo, text: str, limit: int = 8
) -> list[ZimHit]:
    """Titles for the "as you type" box, blocked ones removed."""
    text = " ".join(text.split())[:100]
    if not text:
        return []
    return _unblocked(database, info, _open(settings, info).suggest(text, limit))


def _unblocked(database: Database, info: CollectionInfo, hits: list[ZimHit]) -> list[ZimHit]:
    found = blocks(database, info.course_id)
    return [hit for hit in hits if not _is_blocked(found, hit.path, hit.title)]


def sample(settings: Settings, info: CollectionInfo, count: int = 5) -> list[Article]:
    """The first articles, sanitized as learners would see them, for the reviewer (who
    sees blocked articles too)."""
    collection = _open(settings, info)
    result = []
    for found in collection.articles(count):
        data = collection.content(found.path, MAX_ARTICLE_BYTES)
        if data is None:
            continue
        clean = clean_article(data, found.path, _link(info, reviewer=True))
        result.append(Article(found.path, found.title or found.path, clean.html))
    return result


def newest_collection(database: Database, course_id: str) -> CollectionInfo | None:
    """The collection of the newest version of ``course_id`` (any status), for admins."""
    row = database.query_one(
        "SELECT c.version_id FROM collections c JOIN course_versions v ON v.id = c.version_id"
        " JOIN courses co ON co.id = v.course_pk WHERE co.course_id = ?"
        " ORDER BY v.version DESC LIMIT 1",
        [course_id],
    )
    return collection_info(database, int(row[0])) if row else None
