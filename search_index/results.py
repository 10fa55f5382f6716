"""What a search returns: plain, typed values that a page can render without Whoosh."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from markupsafe import Markup

FACETS = ("category", "course", "language")


class Status(StrEnum):
    """How the search went; anything but OK comes with no hits and a reason to show."""

    OK = "ok"
    EMPTY = "empty"  # nothing was typed
    JUNK = "junk"  # nothing searchable: punctuation, or only very common words
    REBUILDING = "rebuilding"  # the index is being (re)built; try again in a minute


@dataclass(frozen=True)
class Hit:
    """One matching lesson section (or course description, quiz question, prompt).

    `snippet` is safe Markup: escaped text with <mark> around matched words. `anchor`
    is the heading anchor to open the lesson at ("" = the top); `item_key` names the
    quiz question or workbook prompt. `pending` is only ever True in an unfiltered (admin)
    search: the version is still waiting for review.
    """

    version_id: int
    course_id: str
    course_title: str
    lesson_key: str
    lesson_title: str
    anchor: str
    heading: str
    part: str
    item_key: str
    snippet: Markup
    category: str
    language: str
    pending: bool
    score: float


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False


@dataclass(frozen=True)
class SearchResults:
    """A page of results. `query` is the cleaned query to show back in the search box.

    `suggestion` is a "did you mean" query; when the query itself found nothing and the
    suggestion did, `corrected` is True and the hits are the suggestion's. `cut_short`:
    the search ran out of its time budget, so the hits are the best of the matches it
    found in time, not necessarily of all of them (the page says so).
    """

    status: Status
    query: str
    hits: tuple[Hit, ...] = ()
    total: int = 0
    page: int = 1
    page_size: int = 10
    facets: dict[str, tuple[FacetValue, ...]] = field(default_factory=dict)
    suggestion: str | None = None
    corrected: bool = False
    truncated: bool = False
    cut_short: bool = False

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def ok(self) -> bool:
        return self.status is Status.OK
