"""A search's time budget: a query crafted to be slow answers in time, with what it found."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from search_index import SearchService, Section, Status, VersionDocs, execution
from search_index.execution import BudgetedDocSets
from search_index.query import ALL_WORDS_UP_TO

WORDS = [
    *("kitchen", "ladder", "gloves", "helmet", "budget", "letter", "resume", "window"),
    *("garden", "hammer", "bucket", "pencil", "market", "ticket", "doctor", "engine"),
    *("carpet", "basket", "bottle", "jacket"),
]
SECTIONS = 600
BUDGET = 0.01
# A shared 2-core machine stalls a thread now and then: the margin allows for that, and
# is still far below the seconds such a query takes without a budget.
MARGIN = 0.2
# Ten clauses (the most a query keeps), each a phrase of two hyphenated words: every
# section holds all the words, so each phrase is checked on nearly every section.
# A few sections hold a rare word and every phrase of the crafted query.
RARE = " zucchini " + " ".join(WORDS)
CRAFTED = " ".join(f"{WORDS[i]}-{WORDS[i + 1]}" for i in range(0, 20, 2))


def filler(version_id: int) -> VersionDocs:
    rng = random.Random(version_id)  # noqa: S311 - repeatable filler text
    return VersionDocs(
        version_id=version_id,
        course_id=f"org.test.filler{version_id}",
        course_title="Filler",
        category="education",
        language="en",
        sections=[
            Section(
                f"l{n // 20}",
                "Words",
                f"Part {n}",
                " ".join(rng.choices(WORDS, k=200)) + (RARE if n % 150 == 0 else ""),
            )
            for n in range(SECTIONS // 2)
        ],
    )


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("budget") / "search"
    with SearchService(root) as service:
        service.rebuild([filler(1), filler(2)])
    yield root


def test_a_crafted_query_answers_within_its_budget_with_true_matches(crowded: Path) -> None:
    with SearchService(crowded, budget=BUDGET) as service:
        service.warm()
        start = time.perf_counter()
        results = service.search(CRAFTED, visible_versions=None)
        took = time.perf_counter() - start
        assert results.status is Status.OK
        assert results.cut_short
        assert took < BUDGET + MARGIN
        for hit in results.hits:  # what it found in time are real matches
            assert "<mark>" in hit.snippet
    # An ordinary query on the same index, with the usual budget, is not cut short.
    with SearchService(crowded) as service:
        plain = service.search("kitchen gloves", visible_versions=None)
        assert plain.total and not plain.cut_short


def test_phrases_are_checked_only_where_the_other_words_allow(
    crowded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one rare word, phrases are checked on a handful of sections only (each check
    reads and analyses a section's text): the answer is whole. Up to `ALL_WORDS_UP_TO`
    clauses every one is required, so the rare word narrows where phrases are checked."""
    checked: list[int] = []
    check = BudgetedDocSets._has_phrase

    def counted(self: BudgetedDocSets, docnum: int, field: str, words: list[str]) -> bool:
        checked.append(docnum)
        return check(self, docnum, field, words)

    monkeypatch.setattr(BudgetedDocSets, "_has_phrase", counted)
    with SearchService(crowded, budget=60.0) as service:
        phrases = CRAFTED.split()[: ALL_WORDS_UP_TO - 1]
        results = service.search(f"zucchini {' '.join(phrases)}", visible_versions=None)
    rare = 2 * len(range(0, SECTIONS // 2, 150))
    assert not results.cut_short
    assert results.total == rare
    assert {h.heading for h in results.hits} == {"Part 0", "Part 150"}
    # Each phrase checked on the sections the rare word allows (once in each language's
    # branch of the query), not on all 600.
    assert len(checked) <= 2 * len(phrases) * rare


def test_without_a_budget_the_crafted_query_checks_everything(crowded: Path) -> None:
    """The other side of the first test (≈ 0.5 s, the cost the budget saves): with all
    the time it needs, the same query finds at least as much and is not marked."""
    with SearchService(crowded, budget=BUDGET) as quick:
        found_quickly = quick.search(CRAFTED, visible_versions=None)
    with SearchService(crowded, budget=60.0) as patient:
        start = time.perf_counter()
        everything = patient.search(CRAFTED, visible_versions=None)
        took = time.perf_counter() - start
    assert not everything.cut_short
    assert everything.total >= found_quickly.total
    assert took > BUDGET
    # What the quick search found are true matches too (ranked on fewer terms read).
    assert all("<mark>" in hit.snippet for hit in found_quickly.hits)


def test_matching_stops_at_its_share_of_the_budget_leaving_ranking_the_rest(
    crowded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Matching (reading postings, checking phrases) may use only part of the budget,
    so that a search cut short while matching still ends at about its budget."""
    monkeypatch.setattr(execution, "MATCHING_SHARE", 0.0)
    with SearchService(crowded, budget=60.0) as service:
        service.warm()
        start = time.perf_counter()
        results = service.search(CRAFTED, visible_versions=None)
        took = time.perf_counter() - start
    assert results.status is Status.OK
    assert results.cut_short  # with all of a minute left but no share for matching
    assert took < BUDGET + MARGIN
    budget = execution.Budget(60.0)
    assert budget.matching_over() and budget.over()  # a search cut short is spent
