"""Quoted phrases with common words: found by their indexed pairs, few texts read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from search_index import SearchService, Section, VersionDocs
from search_index.docsets import DocSets

# No time budget to speak of: on a busy machine the real one could cut an answer short,
# which is not what these tests are about (tests/search_index/test_budget.py is).
PATIENT = 60.0

EXAMPLES = {
    "Open": "Open the file now.",
    "Apart": "The big file is here.",
    "Reversed": "File the report today.",
    "Contents": "See the table of contents first.",
    "Other order": "A table, the contents.",
    "Backwards": "Contents of a table.",
}
# Sections with "the" and "file" (and "table", "of", "contents"), never side by side:
# a check of each one's text would be needed without the pairs.
CROWD = 60


def sections() -> list[Section]:
    found = [Section("l1", "Examples", heading, text) for heading, text in EXAMPLES.items()]
    found += [
        Section("l2", "Crowd", f"Crowd {n}", "The report names a file. Of a table, contents.")
        for n in range(CROWD)
    ]
    return found


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("phrases") / "search"
    with SearchService(folder) as service:
        service.rebuild(
            [
                VersionDocs(
                    version_id=1,
                    course_id="org.test.phrases",
                    course_title="Phrases",
                    category="education",
                    language="en",
                    sections=sections(),
                )
            ]
        )
    yield folder


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The documents whose stored text a search read to check a phrase."""
    read: list[int] = []
    check = DocSets._has_phrase

    def counted(self: DocSets, docnum: int, field: str, words: list[str]) -> bool:
        read.append(docnum)
        return check(self, docnum, field, words)

    monkeypatch.setattr(DocSets, "_has_phrase", counted)
    return read


def test_a_two_word_phrase_with_a_common_word_reads_no_text(root: Path, checked: list[int]) -> None:
    with SearchService(root, budget=PATIENT) as service:
        results = service.search('"the file"', visible_versions=None)
    assert [hit.heading for hit in results.hits] == ["Open"]
    assert not results.cut_short
    assert checked == []


def test_a_longer_phrase_is_checked_only_where_all_its_pairs_are(
    root: Path, checked: list[int]
) -> None:
    with SearchService(root, budget=PATIENT) as service:
        results = service.search('"table of contents"', visible_versions=None)
    assert [hit.heading for hit in results.hits] == ["Contents"]
    # Only "Contents" has both "table of" and "of contents"; the crowd is never read.
    assert len(checked) == 1


def test_phrase_of_common_words_only(root: Path, checked: list[int]) -> None:
    with SearchService(root, budget=PATIENT) as service:
        results = service.search('"of a"', visible_versions=None)
    # "Contents of a table" and each of the crowd ("Of a table"); not "See the table of".
    assert results.total == 1 + CROWD
    assert "Backwards" in {hit.heading for hit in results.hits}
    assert checked == []
