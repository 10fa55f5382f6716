"""Topic requests: what learners would like to learn next.

A course may list topics its publisher could make next (``requestable_topics`` in
course.yaml, docs/content-format.md). A learner picks from the facility's combined list —
the topics of every course they may see now — "I want a course on …"; one request per
learner and topic. The NGO that listed a topic gets the number of learners who asked for
it in the impact report, hidden below the minimum cell like ratings
(``server.teaching.impact``).

A learner may also write a short request in their own words. That text never leaves the
facility: it waits in a list for staff (educators see their groups' learners, admins
everyone). Approving it counts it under a local label the staff member chooses (counted
here, for the facility's own planning); rejecting it drops it. Staff reading the list
and every decision are in the audit log, the text itself is not.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.core.settings import Settings
from server.learning.access import SERVABLE_SQL, Scope, visible_courses
from server.people import audit
from server.people.accounts import User
from server.people.audit import Actor

MAX_TEXT = 200
MAX_LABEL = 80
MAX_WAITING = 5  # a learner's requests in their own words waiting at once


@dataclass(frozen=True, order=True)
class Topic:
    title: str
    publisher_id: int
    publisher: str

    @property
    def value(self) -> str:
        """The form value naming this topic."""
        return f"{self.publisher_id}|{self.title}"


def _topics_of(manifest: str | None) -> list[str]:
    try:
        course = json.loads(manifest or "{}").get("course", {})
    except (ValueError, AttributeError):
        return []
    found = course.get("requestable_topics") if isinstance(course, dict) else None
    if not isinstance(found, list):
        return []
    return [" ".join(t.split()) for t in found if isinstance(t, str) and t.strip()]


def listed_topics(database: Database, settings: Settings, viewer: User) -> list[Topic]:
    """The topics listed by the live versions of the courses ``viewer`` may see."""
    visible = {c.version_id for c in visible_courses(database, settings, viewer)}
    rows = database.query(
        "SELECT v.id, v.manifest, p.id AS publisher_id, p.display_name FROM courses c"
        " JOIN course_versions v ON v.id = c.live_version_id"
        " JOIN publishers p ON p.id = c.publisher_id"
        f" WHERE {SERVABLE_SQL}",
        {"demo": settings.demo},
    )
    topics = {
        Topic(title, row["publisher_id"], row["display_name"])
        for row in rows
        if row["id"] in visible
        for title in _topics_of(row["manifest"])
    }
    return sorted(topics, key=lambda t: (t.title.casefold(), t.publisher))


def publisher_topics(database: Database, publisher_id: int) -> list[str]:
    """Every topic the publisher's live courses list now (for its impact report)."""
    rows = database.query(
        "SELECT v.manifest FROM courses c JOIN course_versions v ON v.id = c.live_version_id"
        " WHERE c.publisher_id = ?",
        [publisher_id],
    )
    return sorted({t for row in rows for t in _topics_of(row["manifest"])}, key=str.casefold)


def request_topic(database: Database, settings: Settings, learner: User, value: str) -> Topic:
    """Count the learner's request for a listed topic (asking twice counts once)."""
    chosen = next((t for t in listed_topics(database, settings, learner) if t.value == value), None)
    if chosen is None:
        raise ValidationError(N_("Choose a topic from the list."), "topic")
    with database.write() as db:
        db.execute(
            "INSERT OR IGNORE INTO topic_requests (user_id, publisher_id, topic, requested_at)"
            " VALUES (?, ?, ?, ?)",
            [learner.id, chosen.publisher_id, chosen.title, clock.iso()],
        )
    return chosen


def requested_by(database: Database, learner_id: int) -> set[str]:
    """The form values of the topics this learner asked for."""
    rows = database.query(
        "SELECT publisher_id, topic FROM topic_requests WHERE user_id = ?", [learner_id]
    )
    return {f"{row[0]}|{row[1]}" for row in rows}


def publisher_counts(
    database: Database, publisher_id: int, min_cell: int
) -> list[dict[str, object]]:
    """For each topic the publisher lists: how many learners asked for it, or None when
    fewer than ``min_cell`` did (so a request cannot point at a person)."""
    counts = Counter(
        {
            row["topic"]: int(row["learners"])
            for row in database.query(
                "SELECT topic, count(DISTINCT user_id) AS learners FROM topic_requests"
                " WHERE publisher_id = ? GROUP BY topic",
                [publisher_id],
            )
        }
    )
    return [
        {"topic": topic, "learners": counts[topic] if counts[topic] >= min_cell else None}
        for topic in publisher_topics(database, publisher_id)
    ]


# ---- In their own words: moderated, never leaves ------------------------------------


@dataclass(frozen=True)
class Suggestion:
    id: int
    user_id: int
    learner: str
    text: str
    created_at: str


def suggest(database: Database, learner: User, text: str) -> None:
    text = " ".join(text.split())
    if not 3 <= len(text) <= MAX_TEXT:
        raise ValidationError(N_("Write 3 to 200 characters."), "text")
    with database.write() as db:
        (waiting,) = db.execute(
            "SELECT count(*) FROM topic_suggestions WHERE user_id = ? AND status = 'waiting'",
            [learner.id],
        ).fetchone()
        if waiting >= MAX_WAITING:
            raise ValidationError(
                N_("You have 5 requests waiting. Staff will read them first."), "text"
            )
        db.execute(
            "INSERT INTO topic_suggestions (user_id, text, created_at) VALUES (?, ?, ?)",
            [learner.id, text, clock.iso()],
        )


def waiting_count(database: Database, learner_id: int) -> int:
    row = database.query_one(
        "SELECT count(*) FROM topic_suggestions WHERE user_id = ? AND status = 'waiting'",
        [learner_id],
    )
    return int(row[0]) if row is not None else 0


def waiting_suggestions(database: Database, scope: Scope, actor: Actor) -> list[Suggestion]:
    """The requests in learners' own words waiting for a decision, of learners in scope,
    oldest first. Reading them is audited (staff reading what learners wrote)."""
    where, params = scope.learners_sql("s.user_id")
    rows = database.query(
        "SELECT s.id, s.user_id, u.display_name, s.text, s.created_at FROM topic_suggestions s"
        f" JOIN users u ON u.id = s.user_id WHERE s.status = 'waiting' AND {where}"
        " ORDER BY s.id",
        params,
    )
    found = [Suggestion(*row) for row in rows]
    if found:
        with database.write() as db:
            audit.record(db, actor, "topic-request.read", "", ids=[s.id for s in found][:100])
    return found


def decide(
    database: Database, scope: Scope, actor: Actor, suggestion_id: int, action: str, label: str
) -> None:
    """``approve`` (counted under ``label``, a local topic) or ``reject`` (dropped)."""
    if action not in ("approve", "reject"):
        raise ValidationError(N_("Choose approve or reject."))
    label = " ".join(label.split())
    if action == "approve" and not 1 <= len(label) <= MAX_LABEL:
        raise ValidationError(N_("Write a topic of 1 to 80 characters to count it under."))
    where, params = scope.learners_sql("user_id")
    with database.write() as db:
        row = db.execute(
            f"SELECT id FROM topic_suggestions WHERE id = :id AND status = 'waiting' AND {where}",
            {"id": suggestion_id, **params},
        ).fetchone()
        if row is None:
            raise NotFound()
        if action == "reject":
            db.execute("DELETE FROM topic_suggestions WHERE id = ?", [suggestion_id])
        else:
            db.execute(
                "UPDATE topic_suggestions SET status = 'approved', label = ?, decided_by = ?,"
                " decided_at = ? WHERE id = ?",
                [label, actor.label, clock.iso(), suggestion_id],
            )
        audit.record(
            db,
            actor,
            f"topic-request.{action}",
            f"suggestion:{suggestion_id}",
            label=label if action == "approve" else None,
        )


def local_counts(database: Database, scope: Scope) -> list[tuple[str, int]]:
    """Approved requests per local label (learners in scope), most asked first."""
    where, params = scope.learners_sql("user_id")
    rows = database.query(
        "SELECT label, count(DISTINCT user_id) AS learners FROM topic_suggestions"
        f" WHERE status = 'approved' AND {where} GROUP BY label ORDER BY learners DESC, label",
        params,
    )
    return [(row["label"], int(row["learners"])) for row in rows]


def listed_counts(database: Database, scope: Scope) -> list[tuple[str, str, int]]:
    """Requests for listed topics per (topic, publisher), learners in scope."""
    where, params = scope.learners_sql("r.user_id")
    rows = database.query(
        "SELECT r.topic, p.display_name, count(*) AS learners FROM topic_requests r"
        f" JOIN publishers p ON p.id = r.publisher_id WHERE {where}"
        " GROUP BY r.topic, p.id ORDER BY learners DESC, r.topic",
        params,
    )
    return [(row[0], row[1], int(row[2])) for row in rows]
