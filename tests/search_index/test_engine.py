"""The search engine on its own: what a learner typing into the box would notice."""

from __future__ import annotations

from pathlib import Path

import pytest
from markupsafe import Markup
from whoosh import index

from search_index import (
    IndexUpdate,
    InvalidDocument,
    SearchResults,
    SearchService,
    Section,
    Status,
    VersionDocs,
)
from search_index.analysis import term_maker
from search_index.docsets import DocSets
from search_index.query import MAX_QUERY_CHARS, compile_query, parse
from tests.search_index.conftest import (
    ALL_LIVE,
    MATH,
    PENDING,
    SAFETY,
    TRAPS,
    adding,
    all_courses,
    math_course,
)


def keys(results: SearchResults) -> list[tuple[str, str]]:
    return [(h.lesson_key, h.anchor) for h in results.hits]


def test_heading_and_title_rank_above_body(service: SearchService) -> None:
    results = service.search("fractions", visible_versions=ALL_LIVE)
    assert results.status is Status.OK
    # Sections whose lesson title or heading says "fraction" come before those whose
    # text only mentions it in passing.
    in_title = {("fractions", "adding-fractions"), ("fractions", ""), ("quiz", "")}
    first = results.hits[0]
    assert (first.lesson_key, first.anchor) in in_title
    assert first.course_title == "Everyday Math" and first.version_id == MATH
    in_passing = {("lifting", ""), ("decimals", "counting-change")}
    order = keys(results)
    assert max(order.index(k) for k in in_title) < min(order.index(k) for k in in_passing)
    assert [h.score for h in results.hits] == sorted((h.score for h in results.hits), reverse=True)


def test_english_stemming_finds_other_forms(service: SearchService) -> None:
    assert ("lifting", "") in keys(service.search("lifted", visible_versions=ALL_LIVE))
    assert ("gear", "gloves") in keys(service.search("glove", visible_versions=ALL_LIVE))


def test_spanish_stemming_and_accent_folding(service: SearchService) -> None:
    for typed in ("educacion", "educación", "EDUCACIONES"):
        results = service.search(typed, language="es", visible_versions=ALL_LIVE)
        assert keys(results) == [("inicio", "la-educacion")], typed
    results = service.search("emocion", language="es", visible_versions=ALL_LIVE)
    assert "<mark>emociones</mark>" in results.hits[0].snippet
    assert term_maker("es")("educacion") == term_maker("es")("educaciones")


def test_every_word_must_match(service: SearchService) -> None:
    assert keys(service.search("fraction money", visible_versions=ALL_LIVE)) == [
        ("decimals", "counting-change")
    ]


def test_prefix_for_partial_and_starred_words(service: SearchService) -> None:
    partial = service.search("fract", visible_versions=ALL_LIVE)
    assert partial.total >= 4 and partial.suggestion is None
    assert "<mark>fraction</mark>" in str(partial.hits[-1].snippet)
    starred = service.search("protect*", visible_versions=ALL_LIVE)
    assert keys(starred)[0] == ("gear", "gloves")


def test_phrase_needs_the_words_in_order(service: SearchService) -> None:
    assert set(keys(service.search('"bottom numbers"', visible_versions=ALL_LIVE))) == {
        ("fractions", "adding-fractions"),
        ("fractions", ""),
    }
    assert service.search('"bottom top"', visible_versions=ALL_LIVE).total == 0
    # Stop words are left out on both sides: "keep the load" is "keep load".
    assert keys(service.search('"keep the load close"', visible_versions=ALL_LIVE)) == [
        ("lifting", "")
    ]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("fracton", "fraction"), ("fractoin", "fraction"), ("glovse", "gloves"), ("kness", "knees")],
)
def test_did_you_mean_corrects_misspellings(service: SearchService, typed: str, meant: str) -> None:
    results = service.search(typed, visible_versions=ALL_LIVE)
    assert results.suggestion == meant
    assert results.corrected and results.total > 0  # nothing matched as typed


def test_did_you_mean_keeps_the_right_words_and_prefers_the_asker_language(
    service: SearchService,
) -> None:
    results = service.search("adding fractons", visible_versions=ALL_LIVE)
    assert results.suggestion == "adding fractions"
    spanish = service.search("emociones pensamentos", language="es", visible_versions=ALL_LIVE)
    assert spanish.suggestion == "emociones pensamientos"


def test_no_suggestion_from_content_the_user_cannot_see(service: SearchService) -> None:
    # "secrets" only appears in the pending course: suggesting it would leak it.
    assert service.search("secretz", visible_versions=ALL_LIVE).suggestion is None
    assert service.search("secretz", visible_versions=None).suggestion == "secrets"


@pytest.mark.parametrize("typed", ["", "   ", "\x00\t\n"])
def test_empty_query(service: SearchService, typed: str) -> None:
    results = service.search(typed, visible_versions=ALL_LIVE)
    assert results.status is Status.EMPTY and results.hits == () and results.query == ""


@pytest.mark.parametrize(
    "typed",
    ["!!!", "the", "a of the", "AND(", 'title:"', "*", '"', "NOT OR AND", "x" * 300],
)
def test_junk_queries_get_a_status_not_an_error(service: SearchService, typed: str) -> None:
    results = service.search(typed, visible_versions=ALL_LIVE)
    assert results.status in (Status.JUNK, Status.OK)
    if results.status is Status.JUNK:
        assert results.hits == ()


def test_query_syntax_is_just_text(service: SearchService) -> None:
    results = service.search('fraction AND( OR title:"gloves', visible_versions=ALL_LIVE)
    assert results.status is Status.OK  # parsed as words; nothing blew up


def test_overlong_query_is_cut_and_said_so(service: SearchService) -> None:
    results = service.search("fraction " * 100, visible_versions=ALL_LIVE)
    assert results.truncated and len(results.query) <= MAX_QUERY_CHARS
    assert results.total > 0


def test_snippet_escapes_content_and_marks_matches(service: SearchService) -> None:
    [hit] = service.search("gloves chemicals", visible_versions=ALL_LIVE).hits
    assert isinstance(hit.snippet, Markup)
    html = str(hit.snippet)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; stay" in html
    assert "<mark>gloves</mark>" in html and "<mark>chemicals</mark>" in html
    assert html.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_visibility_filter_hides_other_versions(service: SearchService) -> None:
    only_safety = service.search("fraction", visible_versions=frozenset({SAFETY}))
    assert {h.version_id for h in only_safety.hits} == {SAFETY}
    assert only_safety.total == 1
    assert {f.value for f in only_safety.facets["course"]} == {"org.demo.safety"}
    nothing = service.search("fraction", visible_versions=frozenset())
    assert nothing.status is Status.OK and nothing.total == 0 and nothing.hits == ()
    unknown = service.search("fraction", visible_versions=frozenset({999}))
    assert unknown.total == 0


def test_pending_versions_only_for_unfiltered_admin_search(service: SearchService) -> None:
    learner = service.search("secrets", visible_versions=ALL_LIVE | {PENDING})
    assert learner.total == 0  # even when a caller passes a pending id by mistake
    admin = service.search("secrets", visible_versions=None)
    [hit] = admin.hits
    assert hit.pending and hit.version_id == PENDING
    assert not any(h.pending for h in service.search("fraction", visible_versions=None).hits[:3])


def test_facets_count_and_narrow(service: SearchService) -> None:
    results = service.search("fraction", visible_versions=ALL_LIVE)
    courses = {f.value: f.count for f in results.facets["course"]}
    assert courses == {"org.demo.math": results.total - 1, "org.demo.safety": 1}
    labels = {f.value: f.label for f in results.facets["course"]}
    assert labels["org.demo.math"] == "Everyday Math"
    narrowed = service.search(
        "fraction", visible_versions=ALL_LIVE, facets={"category": "vocational"}
    )
    assert narrowed.total == 1 and narrowed.hits[0].course_id == "org.demo.safety"
    # The narrowed facet still lists the other category, to switch to it.
    categories = {f.value: (f.count, f.selected) for f in narrowed.facets["category"]}
    assert categories == {"education": (courses["org.demo.math"], False), "vocational": (1, True)}
    bogus = service.search("fraction", visible_versions=ALL_LIVE, facets={"nope": "x"})
    assert bogus.total == results.total


def test_paging(service: SearchService) -> None:
    first = service.search("fraction", visible_versions=ALL_LIVE, page_size=2)
    second = service.search("fraction", visible_versions=ALL_LIVE, page=2, page_size=2)
    assert first.total == second.total >= 4 and first.pages == second.pages
    assert len(first.hits) == 2 and not set(keys(first)) & set(keys(second))
    far = service.search("fraction", visible_versions=ALL_LIVE, page=10_000, page_size=2)
    assert far.hits == ()


def test_hits_say_which_part_they_come_from(service: SearchService) -> None:
    question = service.search("bigger", visible_versions=ALL_LIVE).hits[0]
    assert (question.part, question.item_key, question.lesson_key) == ("question", "q1", "quiz")
    caption = service.search("interview tip", visible_versions=ALL_LIVE).hits[0]
    assert caption.part == "captions"
    course = service.search("percents", visible_versions=ALL_LIVE).hits[0]
    assert (course.part, course.lesson_key) == ("course", "")
    prompt = service.search("pensaste", language="es", visible_versions=ALL_LIVE).hits[0]
    assert (prompt.part, prompt.item_key) == ("prompt", "pensamiento")


def test_new_version_replaces_old_documents(service: SearchService) -> None:
    def publish_v2(update: IndexUpdate) -> None:
        update.remove(MATH)
        update.add(math_course(version_id=10, extra="Now with improper fractions."))

    assert service.update(publish_v2)
    results = service.search("improper", visible_versions=None)
    assert [h.version_id for h in results.hits] == [10]
    assert MATH not in (service.indexed_versions() or {})
    old = service.search("fraction", visible_versions=frozenset({MATH}))
    assert old.total == 0
    assert service.search("fraction", visible_versions=frozenset({10})).total >= 4


def test_adding_a_version_again_does_not_duplicate(service: SearchService) -> None:
    before = service.search("fraction", visible_versions=ALL_LIVE).total
    service.update(adding(math_course()))
    assert service.search("fraction", visible_versions=ALL_LIVE).total == before


def test_removed_version_is_gone_even_for_admins(service: SearchService) -> None:
    service.update(lambda update: update.remove(TRAPS))
    assert service.search("educacion", visible_versions=None).total == 0
    assert TRAPS not in (service.indexed_versions() or {})


def test_invalid_documents_are_refused_with_the_field_named(tmp_path: Path) -> None:
    service = SearchService(tmp_path / "search")
    bad = VersionDocs(0, "org.x", "T", "education", "en", [])
    with pytest.raises(InvalidDocument, match="version_id"):
        service.rebuild([bad])
    bad_key = VersionDocs(
        1, "org.x", "T", "education", "en", [Section("no spaces!", "t", "h", "x")]
    )
    with pytest.raises(InvalidDocument, match="lesson_key"):
        service.rebuild([bad_key])
    assert service.location.current() is None  # a failed rebuild swaps nothing in


def test_no_index_yet_means_rebuilding(tmp_path: Path) -> None:
    service = SearchService(tmp_path / "search")
    results = service.search("fraction", visible_versions=ALL_LIVE)
    assert results.status is Status.REBUILDING and results.query == "fraction"
    assert service.update(adding(math_course())) is False


def test_fast_matching_agrees_with_whoosh(service: SearchService) -> None:
    """Our block-at-a-time matching must find exactly what Whoosh's matchers find."""
    service.update(lambda update: update.remove(SAFETY))  # a deletion in the segment
    service.update(adding(math_course(version_id=11)))  # a 2nd segment
    folder = service.location.current()
    assert folder is not None
    ix = index.open_dir(str(folder))
    with ix.searcher() as searcher:
        assert len(searcher.reader().leaf_readers()) >= 1
        from search_index.view import IndexView

        view = IndexView(searcher)
        vocabularies = view.vocabularies()
        for typed in ["fraction", "fractions bottom", "lifting", "educacion", "fract", "money"]:
            query = compile_query(parse(typed), vocabularies).query
            assert query is not None
            ours = DocSets(searcher, view.lengths).evaluate(query)
            assert ours == set(searcher.docs_for_query(query)), typed
    ix.close()


def test_every_course_is_found_by_its_own_words(tmp_path: Path) -> None:
    with SearchService(tmp_path / "search") as service:
        service.rebuild(all_courses())
        expected = {MATH: "decimals", SAFETY: "knees", TRAPS: "emociones"}
        for version_id, word in expected.items():
            results = service.search(word, visible_versions=frozenset({version_id}))
            assert results.total >= 1 and results.hits[0].version_id == version_id, word


def test_a_course_found_by_a_keyword_shows_its_summary_not_its_keywords(
    service: SearchService,
) -> None:
    hits = [h for h in service.search("math", visible_versions=ALL_LIVE).hits if h.part == "course"]
    assert hits, "the course document is found by its keyword"
    assert str(hits[0].snippet) == "Fractions, decimals and percents for daily life."
