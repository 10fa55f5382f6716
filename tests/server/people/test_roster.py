"""Roster import as an admin meets it: what each row changes, separators, group kinds."""

from __future__ import annotations

import pytest

from server.core.db import Database
from server.core.errors import ValidationError
from server.people import groups, roster
from server.people.audit import Actor
from server.people.roster import Change

ADMIN = Actor.system("test")


def _problems(plan: roster.RosterPlan) -> dict[int, list[str]]:
    return {
        row.line: [p.message.format(**p.params) for p in row.problems]
        for row in plan.rows
        if row.problems
    }


def test_a_second_import_of_the_same_file_changes_nothing(database: Database) -> None:
    data = b"facility_id,name,language,group\nK1,Kai Chen,en,Unit K\nK2,Lia Diaz,es,\n"
    roster.apply_roster(database, ADMIN, data)
    again = roster.plan_roster(database, data.replace(b"K1", b"k1").replace(b"Unit K", b"UNIT K"))
    assert [r.action for r in again.rows] == ["unchanged", "unchanged"]
    assert (again.count("update"), again.count("unchanged"), again.new_groups) == (0, 2, [])
    assert all(r.changes == [] for r in again.rows)


def test_an_update_row_says_each_field_from_what_to_what(database: Database) -> None:
    roster.apply_roster(database, ADMIN, b"facility_id,name,language,group\nK1,Kai,en,Unit A\n")
    plan = roster.plan_roster(
        database, b"facility_id,name,language,group\nK1,Kai Chen,spanish,Unit B\n"
    )
    assert plan.rows[0].action == "update" and plan.count("update") == 1
    assert plan.rows[0].changes == [
        Change("name", "Kai", "Kai Chen"),
        Change("language", "en", "es"),
        Change("groups", "Unit A", "Unit A, Unit B"),  # a roster adds, never removes
    ]
    same = b"facility_id,name,language\nK1,Kai Chen,es\n"
    roster.apply_roster(database, ADMIN, same)
    assert roster.plan_roster(database, same).rows[0].action == "unchanged"


@pytest.mark.parametrize(("separator", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_semicolon_and_tab_files_are_read_and_named(
    database: Database, separator: str, name: str
) -> None:
    text = "facility_id,name,language,group\nM1,Ruiz, Ana,es,Unit 1\n".replace(",", separator)
    plan = roster.plan_roster(database, text.replace(f"Ruiz{separator} Ana", "Ruiz, Ana").encode())
    assert plan.ok and (plan.delimiter, plan.delimiter_name) == (separator, name)
    assert (plan.rows[0].name, plan.rows[0].group) == ("Ruiz, Ana", "Unit 1")
    comma = roster.plan_roster(database, b"facility_id,name,language\nM1,Ana;Ruiz,es\n")
    assert comma.delimiter == "," and comma.rows[0].name == "Ana;Ruiz"


def test_an_empty_name_or_id_names_its_line(database: Database) -> None:
    plan = roster.plan_roster(
        database, b"facility_id,name,language\nN1,Nia,en\nN2,  ,en\n,Ola,es\n"
    )
    assert _problems(plan) == {
        3: ["Line 3 has no name. Write the learner's name in the name column."],
        4: ["Line 4 has no facility id."],
    }


def test_each_new_group_gets_its_own_kind(database: Database) -> None:
    data = (
        b"facility_id,name,language,group,group_kind\n"
        b"P1,Pat,en,GED Class,class\n"
        b"P2,Quinn,en,ged class,\n"  # the same group in another case: one group
        b"P3,Ray,es,Unit 9,\n"
        b"P4,Sam,es,Reentry,Programa\n"
    )
    plan = roster.plan_roster(database, data)
    assert plan.ok and plan.new_groups == ["GED Class", "Reentry", "Unit 9"]
    assert plan.group_kinds == {"GED Class": "class", "Reentry": "program"}
    # The admin's choice on the dry-run page wins over the file; the default fills in.
    done = roster.apply_roster(database, ADMIN, data, {"REENTRY": "housing"}, "program")
    assert done.group_kinds == {"GED Class": "class", "Reentry": "housing", "Unit 9": "program"}
    kinds = {g.name: g.kind for g in groups.list_groups(database)}
    assert kinds == {"GED Class": "class", "Reentry": "housing", "Unit 9": "program"}
    assert {g.name: g.learners for g in groups.list_groups(database)}["GED Class"] == 2


def test_a_group_kind_that_disagrees_is_a_problem(database: Database) -> None:
    groups.create_group(database, ADMIN, "Unit 1", "housing")
    plan = roster.plan_roster(
        database,
        b"facility_id,name,language,group,group_kind\n"
        b"T1,Tam,en,Unit 1,class\n"
        b"T2,Uma,en,Math,class\n"
        b"T3,Val,en,Math,program\n"
        b"T4,Wes,en,Math,dorm\n"
        b"T5,Xia,en,,class\n",
    )
    assert _problems(plan) == {
        2: [
            "The group Unit 1 already exists with another kind. Leave group_kind empty, or"
            " change the group's kind on the Groups page."
        ],
        4: ["The group Math has another kind on line 3."],
        5: ["The group kind must be housing, class or program."],
        6: ["This line has a group kind but no group."],
    }
    with pytest.raises(ValidationError):
        roster.apply_roster(
            database, ADMIN, b"facility_id,name,language,group\nY1,Yu,en,New\n", {"New": "dorm"}
        )
    assert groups.find_group(database, "New") is None
