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
from whoosh.codec.whoosh3 import W3Codec, W3TermInfo
from whoosh.filedb.filestore import FileStorage
from whoosh.reading import SegmentReader
from whoosh.writing import NO_MERGE, SegmentWriter

from search_index.analysis import primary_language, spelling_words
from search_index.checksums import record
from search_index.documents import MAX_SECTION_CHARS, InvalidDocument, Part, VersionDocs
from search_index.postings import install
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


# Terms in fewer documents than this keep their postings in the term table (see below).
INLINE_BELOW = 2


def segment_codec() -> W3Codec:
    """Whoosh's codec, with a term found in one document kept in the term table
    itself (not a block of its own in the postings file: most terms of a new
    course's segment), and blocks of postings not compressed (zlib made every read
    of a block dearer, for a smaller index).

    Without length statistics per block of postings: the writer looked up the length
    of each posting's document in the per-document column (a read of the column file
    per posting, ≈ 35,000 for a course), for the bounds Whoosh's own top-k scorer
    skips blocks by. Ranking here reads each document's length itself (`docsets`)."""
    codec = W3Codec(compression=0, inlinelimit=INLINE_BELOW)
    codec.length_stats = False
    return codec


def _set_inline(info: Any, ids: Any, weights: Any, values: list[bytes]) -> None:
    """What Whoosh 2.7's postings writer calls to keep a term's postings in the term
    table, under a name its term info lacks (`set_inlined`): with any `inlinelimit` that
    takes effect, writing failed, so every term got a block of its own in the postings
    file. Writing that block (a pickled header and a pickled body) was a third of the
    time to write a course's ≈ 12,000 terms. Whoosh reads an inlined term back with
    one value per posting (a merge asserts they are bytes): our fields carry none, so
    each gets an empty one."""
    info.set_inlined(ids, weights, values if values else [b""] * len(ids))


def _fix_inlining() -> None:
    if not hasattr(W3TermInfo, "set_inline"):
        W3TermInfo.set_inline = _set_inline


_fix_inlining()


def open_writer(ix: index.FileIndex) -> SegmentWriter:
    """A writer of a new segment in our codec, writing its postings in one pass."""
    writer: SegmentWriter = ix.writer(
        timeout=LOCK_TIMEOUT, limitmb=WRITER_MEMORY_MB, codec=segment_codec()
    )
    install(writer)
    return writer


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
        self._writer = open_writer(ix)
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
        """Commit, then record the new generation's checksums (under the same lock).

        The new documents become a segment of their own and nothing is merged: an update
        costs what it writes, never a merge of earlier segments (≈ 1-3 s each time
        Whoosh's default policy decided to). `merge_small_segments` does that later,
        off the request path.
        """
        self._writer.commit(mergetype=NO_MERGE)
        record(self._ix, Path(self._ix.storage.folder))

    def cancel(self) -> None:
        self._writer.cancel()


def segment_count(ix: index.FileIndex) -> int:
    """How many segments the newest generation of the index has."""
    return len(ix._read_toc().segments)


def merge_small_segments(ix: index.FileIndex) -> None:
    """Merge the index's small segments into one (Whoosh's MERGE_SMALL policy: the big
    segment of the last rebuild stays as it is), in one commit of its own, and record
    the new generation's checksums. Call it holding the write lock."""
    writer = open_writer(ix)
    try:
        writer.commit(mergetype=_merge_all_small)
    except BaseException:
        writer.cancel()
        raise
    record(ix, Path(ix.storage.folder))


def _merge_all_small(writer: SegmentWriter, segments: list[Any]) -> list[Any]:
    """Whoosh merge policy: every segment but the biggest merged into one."""
    if len(segments) < 3:
        return list(segments)
    ordered = sorted(segments, key=lambda s: s.doc_count_all())
    biggest, small = ordered[-1], ordered[:-1]
    for segment in small:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        try:
            writer.add_reader(reader)
        finally:
            reader.close()
    return [biggest]


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
