"""Who a catalog item is offered to: every learner, chosen groups only, or all but some.

A facility offers each catalog item (a course today; books and collections will use the
same kind × id key) to all learners, which is the default and stores nothing; to the
members of chosen groups only; or to everyone except the members of chosen groups (a
course a unit's staff asked to hold back). The offer narrows what a learner may see;
it never widens it: the catalog setting and assignments still apply inside it, and an
assignment does not reach a learner the item is not offered to.

`server.learning.access` applies the rule, in SQL (`OFFERED_SQL`), to pages, media,
search and exports; staff always see every servable item, since they assign and review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, ValidationError
from server.people import audit
from server.people.audit import Actor
from server.people.groups import list_groups

KINDS = ("course",)  # "book" and "collection" join when they exist
EVERYONE, ONLY, EXCEPT = "all", "only", "except"
MODES = (EVERYONE, ONLY, EXCEPT)

# Whether the learner `:user` is in one of the groups an offer `o` names.
_MEMBER = (
    "EXISTS (SELECT 1 FROM offer_groups og JOIN group_members gm ON gm.group_id = og.group_id"
    " WHERE og.item_kind = o.item_kind AND og.item_id = o.item_id AND gm.user_id = :user)"
)


def offered_sql(item_kind: str, id_column: str) -> str:
    """The offer rule in SQL: whether the item of this kind whose id is in `id_column`
    is offered to the learner `:user`. Fails closed: an "only" offer whose groups were
    all deleted reaches nobody."""
    if item_kind not in KINDS or not re.fullmatch(r"[a-z_]+(\.[a-z_]+)?", id_column):
        raise ValueError(f"no offer rule for {item_kind!r} over {id_column!r}")
    return (
        f"NOT EXISTS (SELECT 1 FROM offers o WHERE o.item_kind = '{item_kind}'"  # noqa: S608 - checked above
        f" AND o.item_id = {id_column}"
        f" AND ((o.mode = 'only' AND NOT {_MEMBER}) OR (o.mode = 'except' AND {_MEMBER})))"
    )


OFFERED_SQL = offered_sql("course", "c.course_id")  # over a course `c`


@dataclass(frozen=True)
class Offer:
    """An item's offer: its mode and the groups it names (none for "all")."""

    item_kind: str
    item_id: str
    mode: str = EVERYONE
    group_ids: frozenset[int] = frozenset()

    @property
    def everyone(self) -> bool:
        return self.mode == EVERYONE


def offer_of(database: Database, item_kind: str, item_id: str) -> Offer:
    """The offer of one item (all learners when the facility set none)."""
    row = database.query_one(
        "SELECT mode FROM offers WHERE item_kind = ? AND item_id = ?", [item_kind, item_id]
    )
    if row is None:
        return Offer(item_kind, item_id)
    found = database.query(
        "SELECT group_id FROM offer_groups WHERE item_kind = ? AND item_id = ?",
        [item_kind, item_id],
    )
    return Offer(item_kind, item_id, row["mode"], frozenset(r["group_id"] for r in found))


def offers_by_course(database: Database) -> dict[str, Offer]:
    """Every course whose offer is not "all learners", by course id (for lists)."""
    found: dict[str, Offer] = {}
    for row in database.query("SELECT item_id, mode FROM offers WHERE item_kind = 'course'"):
        found[row["item_id"]] = Offer("course", row["item_id"], row["mode"])
    for row in database.query(
        "SELECT item_id, group_id FROM offer_groups WHERE item_kind = 'course'"
    ):
        offer = found[row["item_id"]]
        found[offer.item_id] = Offer(
            "course", offer.item_id, offer.mode, offer.group_ids | {row["group_id"]}
        )
    return found


def set_offer(database: Database, actor: Actor, offer: Offer) -> None:
    """Offer an item to all learners, chosen groups only, or all but chosen groups."""
    if offer.item_kind not in KINDS:
        raise ValidationError(N_("This kind of item cannot be offered to groups."))
    if offer.mode not in MODES:
        raise ValidationError(N_("Choose who this course is offered to."))
    if offer.everyone and offer.group_ids:
        raise ValidationError(N_("A course offered to all learners names no groups."))
    if not offer.everyone and not offer.group_ids:
        raise ValidationError(N_("Choose at least one group."))
    with database.write() as db:
        known = {row[0] for row in db.execute("SELECT id FROM groups").fetchall()}
        if not offer.group_ids <= known:
            raise ValidationError(N_("One of the chosen groups does not exist any more."))
        set_offer_in(db, actor, offer)


def set_offer_in(db: sqlite_utils.Database, actor: Actor, offer: Offer) -> None:
    key = [offer.item_kind, offer.item_id]
    db.execute("DELETE FROM offers WHERE item_kind = ? AND item_id = ?", key)
    if not offer.everyone:
        db.execute(
            "INSERT INTO offers (item_kind, item_id, mode, changed_at) VALUES (?, ?, ?, ?)",
            [*key, offer.mode, clock.iso()],
        )
        db.conn.executemany(
            "INSERT INTO offer_groups (item_kind, item_id, group_id) VALUES (?, ?, ?)",
            [[*key, group_id] for group_id in sorted(offer.group_ids)],
        )
    audit.record(
        db,
        actor,
        "offer.set",
        f"{offer.item_kind}:{offer.item_id}",
        mode=offer.mode,
        groups=sorted(offer.group_ids),
    )


def group_names(database: Database) -> dict[int, str]:
    """Group id → name, for the offer page and lists."""
    return {group.id: group.name for group in list_groups(database)}
