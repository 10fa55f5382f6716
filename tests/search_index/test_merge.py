"""Updates write a segment each and merge nothing; `merge_segments` merges them later."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from search_index import SearchService, Section, VersionDocs
from search_index.writing import IndexUpdate, file_storage, segment_count


def course(version_id: int, word: str) -> VersionDocs:
    return VersionDocs(
        version_id=version_id,
        course_id=f"org.test.c{version_id}",
        course_title=f"Course {version_id}",
        category="education",
        language="en",
        sections=[
            Section("l1", "Lesson", f"Part {n}", f"The {word} lesson {n}.") for n in range(3)
        ],
    )


def adding(docs: VersionDocs) -> Callable[[IndexUpdate], None]:
    def change(update: IndexUpdate) -> None:
        update.add(docs)

    return change


def segments(root: Path, service: SearchService) -> int:
    folder = service.location.current()
    assert folder is not None
    ix = file_storage(folder).open_index()
    try:
        return segment_count(ix)
    finally:
        ix.close()


def test_updates_add_segments_and_a_merge_keeps_every_result(tmp_path: Path) -> None:
    root = tmp_path / "search"
    with SearchService(root) as service:
        service.rebuild([course(1, "kitchen")])
        for version_id in range(2, 6):
            service.update(adding(course(version_id, "ladder")))
        service.update(lambda update: update.remove(3))
        assert segments(root, service) == 5
        before = service.search("ladder", visible_versions=None)
        assert service.merge_segments(most=6) is False  # few enough: nothing done
        assert service.merge_segments(most=2) is True
        assert segments(root, service) == 2  # the rebuild's segment, and one merged
        after = service.search("ladder", visible_versions=None)
        assert after.total == before.total == 9  # versions 2, 4, 5: three sections each
        assert {h.version_id for h in after.hits} == {2, 4, 5}
        assert service.search("kitchen", visible_versions=None).total == 3


def test_a_word_of_one_section_is_kept_in_the_term_table_and_found_after_merging(
    tmp_path: Path,
) -> None:
    """A term of one document needs no block of its own in the postings file (writing
    one for each was a third of the time to publish a course); it is found all the same,
    after its course is replaced and after the segments are merged."""
    root = tmp_path / "search"
    sections = list(course(2, "ladder").sections)
    sections[1] = Section("l1", "Lesson", "Part 1", "The zucchini lesson.")
    rare = VersionDocs(2, "org.test.c2", "Course 2", "education", "en", sections)
    with SearchService(root) as service:
        service.rebuild([course(1, "kitchen")])
        service.update(adding(rare))
        folder = service.location.current()
        assert folder is not None
        ix = file_storage(folder).open_index()
        try:
            with ix.reader() as reader:
                newest = list(reader.leaf_readers())[-1][0]
                assert newest._terms.term_info("body_en", b"zucchini").is_inlined()
                assert not newest._terms.term_info("body_en", b"ladder").is_inlined()
        finally:
            ix.close()
        assert [h.heading for h in service.search("zucchini", visible_versions=None).hits] == [
            "Part 1"
        ]
        again = VersionDocs(3, rare.course_id, rare.course_title, "education", "en", rare.sections)

        def replace(update: IndexUpdate) -> None:
            update.remove(2)
            update.add(again)

        service.update(replace)
        service.update(adding(course(4, "ladder")))
        assert service.merge_segments(most=1) is True
        found = service.search("zucchini", visible_versions=None)
        assert [(h.version_id, h.heading) for h in found.hits] == [(3, "Part 1")]
        assert service.search("ladder", visible_versions=None).total == 5
