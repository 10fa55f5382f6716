"""Searches that found nothing: what learners looked for that the library does not have.

Each month, the words of a learner's search that found nothing are kept once per learner
(folded: no case, no extra spaces). The NGO impact report lists only the words that at
least the report's minimum number of different learners searched for
(``server.teaching.impact``), so a word that could point at one person never leaves.
Staff searches are not kept.
"""

from __future__ import annotations

from server.core import clock
from server.core.db import Database

MAX_WORDS = 100


def fold(query: str) -> str:
    return " ".join(query.casefold().split())[:MAX_WORDS]


def record_miss(database: Database, learner_id: int, query: str) -> None:
    words = fold(query)
    if not words:
        return
    with database.write() as db:
        db.execute(
            "INSERT OR IGNORE INTO search_misses (month, words, user_id) VALUES (?, ?, ?)",
            [clock.iso()[:7], words, learner_id],
        )


def common_misses(database: Database, min_learners: int, limit: int = 50) -> list[tuple[str, int]]:
    """Words searched without result by at least ``min_learners`` learners (all months)."""
    rows = database.query(
        "SELECT words, COUNT(DISTINCT user_id) AS learners FROM search_misses GROUP BY words"
        " HAVING learners >= ? ORDER BY learners DESC, words LIMIT ?",
        [min_learners, limit],
    )
    return [(row["words"], int(row["learners"])) for row in rows]
