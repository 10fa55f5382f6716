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
    old, new = before.split(), after.split()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    codes = matcher.get_opcodes()
    runs: list[Run] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(codes):
        if tag == "equal":
            first, last = index == 0, index == len(codes) - 1
            runs += _unchanged(old[i1:i2], keep_head=not first, keep_tail=not last, context=context)
            continue
        if i2 > i1:
            runs.append(Run(REMOVED, " ".join(old[i1:i2]), i2 - i1))
        if j2 > j1:
            runs.append(Run(ADDED, " ".join(new[j1:j2]), j2 - j1))
    return tuple(runs)


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
