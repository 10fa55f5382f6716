"""Turning course versions into index documents, and writing them.

Every change goes through one Whoosh writer and one commit: "version 3 replaces version
2" deletes the old documents and adds the new ones in the same commit, so a searcher
sees either before or after, never a course with both or neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from whoosh import index
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import SegmentWriter

from search_index.analysis import primary_language, spelling_words
from search_index.checksums import record
from search_index.documents import MAX_SECTION_CHARS, InvalidDocument, Part, VersionDocs
from search_index.schema import (
    BODY,
    FORM,
    HEAD,
    HEAD_PAIR,
    PAIR,
    SPELL,
    build_schema,
    field_name,
)
from search_index.view import VersionMeta, read_versions

# Whoosh's in-memory pool before it spills sorted runs to disk: a whole rebuild of 50,000
# sections fits, which saves the external merge (≈ 20 % of the build).
WRITER_MEMORY_MB = 256
LOCK_TIMEOUT = 60.0

Progress = Callable[[int], None]


def file_storage(folder: Path) -> FileStorage:
    """The Whoosh storage of an index folder, for reading and writing alike.

    Without memory maps: a segment file that shrinks under a mapping (truncated on disk)
    kills the process with SIGBUS on the next read of it, where a plain read only comes
    up short and raises an error that the search service can handle.
    """
    return FileStorage(str(folder), supports_mmap=False)


def version_documents(docs: VersionDocs) -> Iterator[dict[str, Any]]:
    """The Whoosh documents of one version: the course document first, then its sections."""
    docs.check()
    version = str(docs.version_id)
    course_language = docs.analysis_language
    # The summary on one line, the keywords a line each after it: a snippet shows only
    # the first line (see `execution`).
    summary = "\n".join([" ".join(docs.course_summary.split()), *docs.keywords]).strip()
    # The spelling dictionary only needs each word once per version, not once per
    # section: the course document carries them all (4x fewer postings to write).
    words: dict[str, set[str]] = {}
    words.setdefault(course_language, set()).update(
        spelling_words(f"{docs.course_title}\n{summary}")
    )
    for section in docs.sections:
        language = primary_language(section.language or docs.language)
        words.setdefault(language, set()).update(
            spelling_words(f"{section.lesson_title}\n{section.heading}\n{section.text}")
        )
    yield {
        "version": version,
        field_name(HEAD, course_language): docs.course_title,
        field_name(BODY, course_language): summary,
        field_name(PAIR, course_language): summary,
        field_name(HEAD_PAIR, course_language): docs.course_title,
        field_name(FORM, course_language): f"{docs.course_title}\n{summary}",
        **{
            field_name(SPELL, language): " ".join(sorted(found))
            for language, found in words.items()
        },
        "hit": _hit(
            docs.version_id, "", "", "", docs.course_title, Part.COURSE, "", course_language
        ),
        "head": docs.course_title,
        "text": summary[:MAX_SECTION_CHARS],
        "course": VersionMeta(
            docs.version_id,
            docs.course_id,
            docs.course_title,
            docs.category,
            course_language,
            docs.pending,
            docs.publisher,
        ).as_stored(),
    }
    for section in docs.sections:
        if section.part is Part.COURSE:
            raise InvalidDocument("a lesson section cannot be the course part")
        language = primary_language(section.language or docs.language)
        heading = section.heading.strip()
        head = section.lesson_title
        if heading and heading != section.lesson_title:
            head = f"{section.lesson_title}\n{heading}"
        text = section.text[:MAX_SECTION_CHARS]
        yield {
            "version": version,
            field_name(HEAD, language): head,
            field_name(BODY, language): text,
            field_name(PAIR, language): text,
            field_name(HEAD_PAIR, language): head,
            field_name(FORM, language): f"{head}\n{text}",
            "hit": _hit(
                docs.version_id,
                section.lesson_key,
                section.lesson_title,
                section.anchor,
                heading,
                section.part,
                section.item_key,
                language,
            ),
            "head": head,
            "text": text,
        }


def _hit(
    version_id: int,
    lesson_key: str,
    lesson_title: str,
    anchor: str,
    heading: str,
    part: Part,
    item_key: str,
    language: str,
) -> tuple[int, str, str, str, str, str, str, str]:
    """The stored result line of a document (a plain tuple: cheap to unpickle)."""
    return (version_id, lesson_key, lesson_title, anchor, heading, part.value, item_key, language)


class IndexUpdate:
    """One open Whoosh writer: remove and add whole versions, then commit once."""

    def __init__(self, ix: index.FileIndex) -> None:
        self._ix = ix
        self._writer: SegmentWriter = ix.writer(timeout=LOCK_TIMEOUT, limitmb=WRITER_MEMORY_MB)
        self._versions: dict[int, VersionMeta] | None = None
        self.added = 0

    def indexed_versions(self) -> dict[int, VersionMeta]:
        """The versions in the index as committed (before this update's own changes)."""
        if self._versions is None:
            with self._writer.reader() as reader:
                self._versions = {meta.version_id: meta for meta in read_versions(reader)}
        return self._versions

    def remove(self, version_id: int) -> None:
        self._writer.delete_by_term("version", str(version_id))

    def add(self, docs: VersionDocs, progress: Progress | None = None) -> int:
        """Replace the version's documents (if any) by these; returns how many were added."""
        self.remove(docs.version_id)
        count = 0
        for document in version_documents(docs):
            self._writer.add_document(**document)
            count += 1
            if progress is not None:
                progress(1)
        self.added += count
        return count

    def commit(self) -> None:
        """Commit, then record the new generation's checksums (under the same lock)."""
        self._writer.commit()
        record(self._ix, Path(self._ix.storage.folder))

    def cancel(self) -> None:
        self._writer.cancel()


def build_index(
    folder: Path, versions: Iterable[VersionDocs], progress: Progress | None = None
) -> int:
    """Write a whole new index into an empty folder; returns the number of documents.

    One writer, one segment: a single segment keeps searching and the spelling
    dictionary fast (each extra segment is one more lexicon to consult per word).
    """
    ix = file_storage(folder).create_index(build_schema())
    try:
        update = IndexUpdate(ix)
        try:
            for docs in versions:
                update.add(docs, progress)
        except BaseException:
            update.cancel()
            raise
        update.commit()
        return update.added
    finally:
        ix.close()
