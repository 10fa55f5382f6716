"""Word-level differences between two texts, with long unchanged stretches folded.

A reviewer compares a new lesson with the live one. A line diff says only that a
paragraph changed; a character diff is noise. Words are the unit a reader notices, so
texts are split at white space (how the words are laid out is not a change a learner
sees) and compared with `difflib`. Unchanged words near a change stay as context; a
longer unchanged stretch becomes one folded run that says how many words it hides.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

SAME = "same"
ADDED = "added"
REMOVED = "removed"
FOLDED = "folded"

CONTEXT_WORDS = 8  # unchanged words kept on each side of a change
MAX_WORD_PAIRS = 4_000_000  # words compared one to one in a changed block (about 0.5 s)


@dataclass(frozen=True)
class Run:
    """A stretch of the diff: words kept, added, removed, or unchanged and folded away
    (then ``text`` is empty and ``words`` says how many)."""

    kind: str
    text: str
    words: int


def word_diff(before: str, after: str, context: int = CONTEXT_WORDS) -> tuple[Run, ...]:
    """The runs that turn ``before`` into ``after``, unchanged stretches folded beyond
    ``context`` words from a change. Equal texts give one folded run (or none if empty)."""
    pieces = _pieces(before, after)
    runs: list[Run] = []
    for index, (kind, words) in enumerate(pieces):
        if kind == SAME:
            first, last = index == 0, index == len(pieces) - 1
            runs += _unchanged(words, keep_head=not first, keep_tail=not last, context=context)
        else:
            runs.append(Run(kind, " ".join(words), len(words)))
    return tuple(runs)


def _pieces(before: str, after: str) -> list[tuple[str, list[str]]]:
    """Same, removed and added words in order, neighbours of one kind merged.

    Comparing every word with every word costs the product of the lengths (seconds for
    a long PDF), so lines are matched first and words only inside lines that changed;
    a changed block too big even for that is shown as removed, then added, whole."""
    pieces: list[tuple[str, list[str]]] = []

    def add(kind: str, words: list[str]) -> None:
        if not words:
            return
        if pieces and pieces[-1][0] == kind:
            pieces[-1][1].extend(words)
        else:
            pieces.append((kind, list(words)))

    old_lines, new_lines = _lines(before), _lines(after)
    lines = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in lines.get_opcodes():
        old = [w for line in old_lines[i1:i2] for w in line.split()]
        new = [w for line in new_lines[j1:j2] for w in line.split()]
        if tag == "equal":
            add(SAME, old)
        elif len(old) * len(new) > MAX_WORD_PAIRS:
            add(REMOVED, old)
            add(ADDED, new)
        else:
            words = difflib.SequenceMatcher(None, old, new, autojunk=False)
            for wtag, a1, a2, b1, b2 in words.get_opcodes():
                if wtag == "equal":
                    add(SAME, old[a1:a2])
                else:
                    add(REMOVED, old[a1:a2])
                    add(ADDED, new[b1:b2])
    return pieces


def _lines(text: str) -> list[str]:
    """Non-empty lines with their spacing made plain, so layout alone matches."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def changed(runs: tuple[Run, ...]) -> bool:
    """Whether a diff has any added or removed words."""
    return any(run.kind in (ADDED, REMOVED) for run in runs)


def _unchanged(words: list[str], *, keep_head: bool, keep_tail: bool, context: int) -> list[Run]:
    """Unchanged words: the ``context`` words after the change before them (head) and
    before the change after them (tail) stay; folding fewer than 3 words helps no one."""
    head = words[:context] if keep_head else []
    tail = words[-context:] if keep_tail and context else []
    hidden = len(words) - len(head) - len(tail)
    if hidden < 3:
        return [Run(SAME, " ".join(words), len(words))] if words else []
    runs = [Run(SAME, " ".join(head), len(head))] if head else []
    runs.append(Run(FOLDED, "", hidden))
    if tail:
        runs.append(Run(SAME, " ".join(tail), len(tail)))
    return runs
