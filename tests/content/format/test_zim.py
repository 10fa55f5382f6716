"""content.format.zim: an open collection's search answers each question with its own
hits, from one thread or several, with the searchers kept between questions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from content.format.zim import Collection
from tests.zims import write_zim


def test_each_question_gets_its_own_hits_from_the_kept_searchers(tmp_path: Path) -> None:
    collection = Collection(write_zim(tmp_path / "science.zim"))
    for _ in range(2):
        assert [h.path for h in collection.search("evaporates", 10) or []] == ["Water"]
        assert [h.path for h in collection.search("molten", 10) or []] == ["Volcano"]
        assert collection.search("nothingatall", 10) == []
        assert [h.title for h in collection.suggest("volc", 10)] == ["Volcano"]
        assert [h.title for h in collection.suggest("water", 10)] == ["Water cycle"]


def test_questions_from_many_threads_do_not_mix(tmp_path: Path) -> None:
    collection = Collection(write_zim(tmp_path / "science.zim"))
    questions = ["evaporates", "molten"] * 20
    expected = {"evaporates": ["Water"], "molten": ["Volcano"]}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda q: collection.search(q, 10) or [], questions))
    for question, hits in zip(questions, answers, strict=True):
        assert [h.path for h in hits] == expected[question]


def test_a_collection_without_a_full_text_index_has_no_word_search(tmp_path: Path) -> None:
    collection = Collection(write_zim(tmp_path / "plain.zim", fulltext=False))
    assert collection.search("evaporates", 10) is None
    assert [h.title for h in collection.suggest("volc", 10)] == ["Volcano"]
