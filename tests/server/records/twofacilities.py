"""Two facilities in one test: each copied from the migrated template, each with a key and
an id of its own (a copied template shares the template's), trusting each other's card."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from server.cli.main import initialize
from server.core.db import Database
from server.core.settings import Settings, load_settings
from server.people.audit import Actor
from server.records import identity
from tests.conftest import Templates, _build_demo_indexed, _build_migrated, copy_facility

ADMIN = Actor.system("test")


@dataclass
class Facility:
    settings: Settings
    database: Database

    @property
    def facility_id(self) -> str:
        return identity.facility_id(self.settings)


def new_facility(data: Path, name: str, *, demo: bool = False, **settings: object) -> Facility:
    """A migrated facility at ``data`` named ``name`` with its own key and id; with
    ``demo``, the demo courses published."""
    if demo:
        # With its search index, so a server started on it has nothing to rebuild.
        copy_facility(Templates.get("demo-indexed", _build_demo_indexed), data)
        settings["demo"] = True
    else:
        copy_facility(Templates.get("migrated", _build_migrated), data)
    for file in (identity.KEY_FILE, identity.STATE_FILE):
        (data / file).unlink(missing_ok=True)
    # In the folder's stepstone.toml, so the `stepstone` command sees the same settings.
    lines = [
        f"{key} = {json.dumps(value)}" for key, value in {"facility_name": name, **settings}.items()
    ]
    (data / "stepstone.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = load_settings(environ={}, data_dir=data)
    database = initialize(config)
    with database.write() as db:  # the template's own card, under its id, is not ours
        db.execute(
            "DELETE FROM trusted_facilities WHERE own = 0 OR facility_id != ?",
            [identity.facility_id(config)],
        )
    return Facility(config, database)


def trust_each_other(a: Facility, b: Facility) -> None:
    for here, there in ((a, b), (b, a)):
        card = identity.own_card(there.settings)
        with here.database.write() as db:
            identity.trust_card_in(db, card, identity.card_fingerprint(card), ADMIN)
