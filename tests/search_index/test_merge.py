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
