"""Word diffs: what a reviewer reads when a lesson's words change."""

from __future__ import annotations

import pytest

from content.format import textdiff
from content.format.textdiff import ADDED, FOLDED, REMOVED, SAME, Run, changed, word_diff


def _show(runs: tuple[Run, ...]) -> str:
    marks = {SAME: "{}", ADDED: "+[{}]", REMOVED: "-[{}]"}
    return " ".join(
        f"…{run.words}…" if run.kind == FOLDED else marks[run.kind].format(run.text) for run in runs
    )


def test_a_changed_word_is_shown_between_its_neighbours() -> None:
    runs = word_diff("Pay the rent first", "Pay the bills first")
    assert _show(runs) == "Pay the -[rent] +[bills] first"
    assert changed(runs)


def test_layout_is_not_a_change() -> None:
    runs = word_diff("Pay  the\nrent", "Pay the rent")
    assert not changed(runs)
    assert _show(runs) == "…3…"


def test_long_unchanged_stretches_fold_to_a_count() -> None:
    words = [f"w{n}" for n in range(100)]
    after = [*words[:50], "NEW", *words[50:]]
    runs = word_diff(" ".join(words), " ".join(after), context=3)
    assert _show(runs) == "…47… w47 w48 w49 +[NEW] w50 w51 w52 …47…"
    assert sum(run.words for run in runs if run.kind != ADDED) == 100


def test_two_changes_close_together_keep_the_words_between() -> None:
    runs = word_diff("a b c d e f", "a X c d Y f", context=2)
    assert _show(runs) == "a -[b] +[X] c d -[e] +[Y] f"


def test_equal_texts_fold_whole_and_empty_texts_give_nothing() -> None:
    assert _show(word_diff("one two three four", "one two three four", context=1)) == "…4…"
    assert word_diff("", "") == ()
    assert _show(word_diff("", "all new words")) == "+[all new words]"
    assert _show(word_diff("gone now", "")) == "-[gone now]"


def test_markup_in_the_text_stays_text() -> None:
    runs = word_diff("see <b>this</b>", "see <script>x</script>")
    assert _show(runs) == "see -[<b>this</b>] +[<script>x</script>]"  # escaped by the page


def test_lines_are_matched_first_then_words_inside_changed_lines() -> None:
    before = "one two three\nfour five six\nseven eight nine"
    after = "one two three\nfour FIVE six\nseven eight nine"
    assert _show(word_diff(before, after, context=1)) == "…3… four -[five] +[FIVE] six …3…"


def test_a_changed_block_too_big_to_compare_word_by_word_is_shown_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(textdiff, "MAX_WORD_PAIRS", 8)
    before, after = "keep\na b c", "keep\na X c"
    assert _show(word_diff(before, after)) == "keep -[a b c] +[a X c]"
