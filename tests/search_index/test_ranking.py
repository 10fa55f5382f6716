"""Ranking scores only what can reach the page, and keeps to the search's budget."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from whoosh import index
from whoosh.searching import Searcher

from search_index import SearchService, Section, VersionDocs
from search_index.docsets import DocSets
from search_index.execution import Budget, BudgetedDocSets
from search_index.query import ALL_WORDS_UP_TO, Ranked, compile_query, parse
from search_index.view import IndexView

# More words than ALL_WORDS_UP_TO: a question, where any word will do and sections with
# more of them rank first. Each is in about half the sections; a few hold all of them.
ASKED = ("printer", "paper", "jam", "tray", "cable", "toner")
FILLER = ("the", "office", "desk", "morning", "report", "staff", "copy", "room")
SECTIONS = 600
EVERY_WORD_EACH = 50  # one section in this many holds every word asked


def office(version_id: int) -> VersionDocs:
    rng = random.Random(version_id)  # noqa: S311 - repeatable filler text
    sections = []
    for n in range(SECTIONS):
        asked = ASKED if n % EVERY_WORD_EACH == 0 else rng.sample(ASKED, rng.randint(1, 3))
        words = [*asked, *rng.choices(FILLER, k=rng.randint(3, 12))]
        rng.shuffle(words)
        sections.append(Section(f"l{n // 20}", "Office", f"Part {n}", " ".join(words)))
    return VersionDocs(
        version_id=version_id,
        course_id=f"org.test.office{version_id}",
        course_title="Office",
        category="education",
        language="en",
        sections=sections,
    )


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Searcher, IndexView]]:
    root = tmp_path_factory.mktemp("ranking") / "search"
    with SearchService(root) as service:
        service.rebuild([office(1)])
        folder = service.location.current()
    assert folder is not None
    ix = index.open_dir(str(folder))
    with ix.searcher() as opened:
        yield opened, IndexView(opened)
    ix.close()


def test_a_question_scores_only_the_sections_that_can_reach_the_page(
    searcher: tuple[Searcher, IndexView],
) -> None:
    opened, view = searcher
    query = compile_query(parse(" ".join(ASKED)), view.vocabularies()).query
    assert query is not None and len(ASKED) > ALL_WORDS_UP_TO
    ranking = DocSets(opened, view.lengths)
    candidates = ranking.evaluate(query)
    assert len(candidates) == SECTIONS  # every section holds some word asked

    best = ranking.top(query, candidates, 10)

    # The same page as scoring every candidate and sorting by words matched, then score.
    everything = DocSets(opened, view.lengths)
    scores = everything._scores(query, candidates)
    matched = {d: 0 for d in candidates}
    for clauses in query.counted.values():
        for clause in clauses:
            for docnum in everything.evaluate(clause) & candidates:
                matched[docnum] += 1
    expected = sorted(candidates, key=lambda d: (-matched[d], -scores[d], d))[:10]
    assert [docnum for _score, docnum in best] == expected
    assert [score for score, _docnum in best] == [scores[d] for d in expected]
    # The page is the sections with every word: only they were scored, not all 600.
    holding_all = {d for d in candidates if matched[d] == max(matched.values())}
    assert len(holding_all) == SECTIONS // EVERY_WORD_EACH
    assert set(expected) <= holding_all
    assert ranking.scored <= 2 * len(holding_all) * len(list(_terms(query)))
    assert ranking.scored * 5 < everything.scored
    # A second page reaches into the sections with one word fewer: in the same order.
    order = sorted(candidates, key=lambda d: (-matched[d], -scores[d], d))
    second = DocSets(opened, view.lengths).top(query, candidates, 20)
    assert [docnum for _score, docnum in second] == order[:20]


def test_ranking_stops_at_the_budget_with_the_rarest_term_scored(
    searcher: tuple[Searcher, IndexView],
) -> None:
    opened, view = searcher
    query = compile_query(parse("printer office"), view.vocabularies()).query
    assert query is not None
    budget = Budget(60.0)
    ranking = BudgetedDocSets(opened, view.lengths, budget)
    ranking.always_scored = 0  # this small index is always ranked in full otherwise
    candidates = ranking.evaluate(query)
    assert candidates and not budget.over()
    budget.deadline = 0.0  # spent while ranking

    best = ranking.top(query, candidates, 10)

    assert budget.spent
    assert {docnum for _score, docnum in best} <= candidates  # true matches only
    assert all(score > 0 for score, _docnum in best)  # ranked, not in index order
    # One term's postings read to rank, not every field of both words.
    assert 0 < ranking.scored <= len(ranking.postings("body_en", "printer")[0])
    whole = DocSets(opened, view.lengths)
    whole.top(query, candidates, 10)
    assert whole.scored > ranking.scored


def _terms(query: Ranked) -> Iterator[str]:
    from search_index.docsets import _leaf_terms

    for _field, text, _boost in _leaf_terms(query):
        yield text


def _asked_with_a_budget(
    opened: Searcher, view: IndexView
) -> tuple[Any, Budget, BudgetedDocSets, set[int]]:
    """The long question compiled, matched under a fresh budget: its parts for a test."""
    query = compile_query(parse(" ".join(ASKED)), view.vocabularies()).query
    assert query is not None
    budget = Budget(60.0)
    ranking = BudgetedDocSets(opened, view.lengths, budget)
    return query, budget, ranking, ranking.evaluate(query)


def test_a_question_cut_short_while_matching_ranks_on_its_rarest_clause(
    searcher: tuple[Searcher, IndexView],
) -> None:
    """Once matching has spent the budget, ranking adds little to the search: it counts
    the matches of one clause (the rarest) and scores one term, not all of them."""
    opened, view = searcher
    query, budget, ranking, candidates = _asked_with_a_budget(opened, view)
    budget.deadline = budget.matching_deadline = 0.0
    assert budget.matching_over()  # as when matching finds its share of the budget spent

    best = ranking.top(query, candidates, 10)

    assert len(best) == 10 and {docnum for _score, docnum in best} <= candidates
    clauses = [c for group in query.counted.values() for c in group]
    sizes = [n for c in clauses if (n := len(ranking.evaluate(c) & candidates))]
    assert ranking.counted == min(sizes) < sum(sizes)
    assert 0 < ranking.scored <= min(sizes)
    # The first hit holds the rarest word asked, and is ranked by it.
    assert all(score > 0 for score, _docnum in best)
    whole = DocSets(opened, view.lengths)
    whole.top(query, candidates, 10)
    assert whole.counted == sum(sizes)


def test_a_search_with_its_budget_left_ranks_as_the_plain_engine_does(
    searcher: tuple[Searcher, IndexView],
) -> None:
    """Parts of the query worked out once per search, and read again when ranking, give
    the same page as working them out each time."""
    opened, view = searcher
    for typed in (" ".join(ASKED), f'"printer paper" {" ".join(ASKED[2:])}', "printer office"):
        query = compile_query(parse(typed), view.vocabularies()).query
        assert query is not None
        budgeted = BudgetedDocSets(opened, view.lengths, Budget(60.0))
        plain = DocSets(opened, view.lengths)
        candidates = plain.evaluate(query)
        assert budgeted.evaluate(query) == candidates, typed
        assert budgeted.top(query, candidates, 20) == plain.top(query, candidates, 20), typed


def test_a_question_not_cut_short_is_ranked_in_full_however_long_it_took(
    searcher: tuple[Searcher, IndexView],
) -> None:
    """A busy machine may make an ordinary question outlast the budget without any
    part of it being cut: its order is still the one a quiet machine gives."""
    opened, view = searcher
    query, budget, ranking, candidates = _asked_with_a_budget(opened, view)
    assert not budget.spent
    budget.deadline = budget.matching_deadline = 0.0  # out of time, but nothing was cut

    best = ranking.top(query, candidates, 10)

    plain = DocSets(opened, view.lengths)
    assert best == plain.top(query, candidates, 10)
    assert ranking.counted == plain.counted
