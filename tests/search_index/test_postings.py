"""The one-pass postings writer writes exactly the files Whoosh's own writer writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from whoosh import index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.writing import NO_MERGE, SegmentWriter

from search_index import Section, VersionDocs
from search_index.postings import install
from search_index.schema import build_schema
from search_index.writing import (
    _merge_all_small,
    file_storage,
    segment_codec,
    version_documents,
)

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
]


def course(version_id: int, sections: int) -> VersionDocs:
    """Sections whose words reach one document (inlined), a few, and over 128 documents
    (several blocks of postings), with counts that vary (weights other than 1)."""
    return VersionDocs(
        version_id=version_id,
        course_id=f"org.test.c{version_id}",
        course_title=f"Course {version_id}",
        category="education",
        language="en" if version_id % 2 else "es",
        sections=[
            Section(
                f"l{number % 7}",
                f"Lesson {number % 7}",
                f"Part {number}",
                " ".join(
                    [f"only{version_id}x{number}", "common " * (1 + number % 3)]
                    + [WORDS[(number + k) % len(WORDS)] for k in range(number % 5)]
                    + (["rare"] if number % 40 == 0 else [])
                    + ["el de la", "of the"]
                ),
                f"part-{number}",
            )
            for number in range(sections)
        ],
    )


def write(folder: Path, codec: W3Codec, fast: bool, versions: list[VersionDocs]) -> None:
    """Each version in a segment of its own, through Whoosh's writer or the fast one."""
    ix = file_storage(folder).create_index(build_schema())
    for docs in versions:
        writer: SegmentWriter = ix.writer(codec=codec, compound=False)
        if fast:
            install(writer)
        for document in version_documents(docs):
            writer.add_document(**document)
        writer.commit(mergetype=NO_MERGE)
    ix.close()


def merge(folder: Path, codec: W3Codec, fast: bool) -> None:
    ix = index.open_dir(str(folder))
    writer: SegmentWriter = ix.writer(codec=codec, compound=False)
    if fast:
        install(writer)
    writer.commit(mergetype=_merge_all_small)
    ix.close()


def segment_files(folder: Path) -> list[bytes]:
    """The term tables and postings of the index's segments, in segment order."""
    ix = index.open_dir(str(folder))
    found = []
    for segment in ix._segments():
        for extension in (".trm", ".pst"):
            found.append((folder / segment.make_filename(extension)).read_bytes())
    ix.close()
    return found


def compressed_codec() -> W3Codec:
    """Whoosh's defaults (blocks compressed with zlib, no term inlined), without length
    statistics: the other branches of the one-pass loop."""
    codec = W3Codec()
    codec.length_stats = False
    return codec


@pytest.mark.parametrize(
    "codec",
    [segment_codec, compressed_codec, W3Codec],
    ids=[
        "stepstone codec",
        "compressed, nothing inlined",
        "with length statistics (left to Whoosh's own code)",
    ],
)
def test_same_bytes_as_whoosh_for_new_segments_and_merges(tmp_path: Path, codec: object) -> None:
    versions = [course(1, 300), course(2, 40), course(3, 5)]
    ours, theirs = tmp_path / "ours", tmp_path / "whoosh"
    for folder, fast in ((ours, True), (theirs, False)):
        folder.mkdir()
        write(folder, codec(), fast, versions)  # type: ignore[operator]
    written = segment_files(ours)
    assert len(written) == 6 and all(written)
    assert written == segment_files(theirs)

    for folder, fast in ((ours, True), (theirs, False)):
        merge(folder, codec(), fast)  # type: ignore[operator]
    merged = segment_files(ours)
    assert len(merged) == 4  # the biggest segment kept, the two others merged
    assert merged == segment_files(theirs)


def test_a_fast_written_index_is_searched_as_before(tmp_path: Path) -> None:
    write(tmp_path, segment_codec(), True, [course(1, 300)])
    ix = index.open_dir(str(tmp_path))
    with ix.searcher() as searcher:
        common = searcher.document_numbers(body_en="common")
        assert len(list(common)) == 300
        rare = searcher.document_numbers(body_en="rare")
        assert len(list(rare)) == 8
        assert len(list(searcher.document_numbers(body_en="only1x17"))) == 1
        assert searcher.doc_frequency("body_en", "common") == 300
    ix.close()
