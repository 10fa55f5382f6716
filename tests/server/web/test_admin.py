"""What a facility admin does in the browser: people, groups, rosters, the audit log."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx2
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.core.db import Database
from server.people import accounts, groups
from server.people.audit import Actor, verify_chain
from tests.conftest import CSRF_RE, People, form_action, post, sign_in

ROSTER = (
    "facility_id,name,language,group\n"
    "D400,Dana Ruiz,es,Unit C\n"
    "E500,Eli Moss,English,GED Class\n"
    "A100,Alex Learner,en,\n"
)


def test_admin_creates_a_learner_and_sees_the_one_time_pin_once(
    client: TestClient, people: People, database: Database
) -> None:
    sign_in(client, people.admin)
    page = post(
        client,
        "/admin/users/new",
        {"role": "learner", "login": "f600", "display_name": "Fay Long", "language": "es"},
        token_from="/admin/users/new",
    )
    assert page.status_code == 200
    pin = re.search(r'<code class="secret">(\d{6})</code>', page.text)
    assert pin
    found = accounts.find_user(database, accounts.Role.LEARNER, "F600")
    assert found is not None
    user, stored = found
    assert user.must_change_secret and pin.group(1) not in stored
    assert pin.group(1) not in client.get(f"/admin/users/{user.id}").text


def test_duplicate_id_is_refused_with_a_clear_message(client: TestClient, people: People) -> None:
    sign_in(client, people.admin)
    page = post(
        client,
        "/admin/users/new",
        {"role": "learner", "login": "A100", "display_name": "Someone", "language": "en"},
        token_from="/admin/users/new",
    )
    assert page.status_code == 400
    assert "already used" in page.text


def test_reset_disable_and_end_sessions(
    app: Starlette, client: TestClient, people: People, database: Database
) -> None:
    with TestClient(app) as tablet:
        sign_in(tablet, people.learner)
        sign_in(client, people.admin)
        user_page = f"/admin/users/{people.learner.id}"
        post(client, f"{user_page}/end-sessions", token_from=user_page)
        assert tablet.get("/learn", follow_redirects=False).status_code == 303
        reset = post(client, f"{user_page}/reset", token_from=user_page)
        assert "One-time PIN" in reset.text
        assert accounts.get_user(database, people.learner.id).must_change_secret
        post(client, f"{user_page}/disable", token_from=user_page)
        assert accounts.get_user(database, people.learner.id).disabled
        own = post(
            client,
            f"/admin/users/{people.admin.id}/disable",
            token_from=f"/admin/users/{people.admin.id}",
        )
        assert own.status_code == 400


def test_user_list_filters(client: TestClient, people: People) -> None:
    sign_in(client, people.admin)
    page = client.get("/admin/users", params={"role": "learner", "q": "bea"})
    assert "Bea Learner" in page.text and "Alex Learner" not in page.text


def test_groups_and_members(client: TestClient, people: People, database: Database) -> None:
    sign_in(client, people.admin)
    created = post(
        client,
        "/admin/groups",
        {"name": "Unit 7", "kind": "housing"},
        token_from="/admin/groups",
        follow_redirects=False,
    )
    group_path = created.headers["location"].split("?")[0]
    post(client, f"{group_path}/members", {"login": "a100"}, token_from=group_path)
    post(client, f"{group_path}/members", {"login": "teacher"}, token_from=group_path)
    page = client.get(group_path)
    assert "Alex Learner" in page.text and "Teacher" in page.text
    unknown = post(client, f"{group_path}/members", {"login": "ZZZ"}, token_from=group_path)
    assert unknown.status_code == 400
    dupe = post(
        client, "/admin/groups", {"name": "unit 7", "kind": "class"}, token_from="/admin/groups"
    )
    assert dupe.status_code == 400 and "already a group" in dupe.text


def test_educator_sees_only_their_groups(
    app: Starlette, people: People, database: Database
) -> None:
    actor = Actor.system("test")
    mine = groups.create_group(database, actor, "Mine", "class")
    other = groups.create_group(database, actor, "Other", "class")
    groups.add_member(database, actor, mine.id, people.educator.id)
    groups.add_member(database, actor, mine.id, people.learner.id)
    groups.add_member(database, actor, other.id, people.other_learner.id)
    with TestClient(app) as client:
        sign_in(client, people.educator)
        page = client.get("/teach").text
        board = client.get(f"/teach/groups/{mine.id}").text
        assert client.get(f"/teach/groups/{other.id}").status_code == 404
    assert "Mine" in page and "Other" not in page
    assert "Alex Learner" in board and "Bea Learner" not in board


def _check(client: TestClient, csv_text: str) -> str:
    page = client.post(
        form_action(client, "/admin/roster", "/admin/roster/check"),
        files={"file": ("roster.csv", csv_text.encode(), "text/csv")},
    )
    assert page.status_code in (200, 400)
    return page.text


def _import(client: TestClient, checked: str, kinds: dict[str, str]) -> httpx2.Response:
    """Press "Import now" on the dry run `checked`, choosing `kinds` for the new groups."""
    import_token = re.search(r'name="token" value="([^"]+)"', checked)
    csrf = CSRF_RE.search(checked)
    assert import_token and csrf
    return client.post(
        "/admin/roster/import",
        data={
            "csrf_token": csrf.group(1),
            "token": import_token.group(1),
            "new_group": list(kinds),
            "group_kind": list(kinds.values()),
        },
    )


def test_roster_dry_run_then_import(client: TestClient, people: People, database: Database) -> None:
    sign_in(client, people.admin)
    checked = _check(client, ROSTER)
    assert "New learners: 2" in checked and "Unit C" in checked
    assert accounts.find_user(database, accounts.Role.LEARNER, "D400") is None
    # Each new group has its own kind to choose, in the page's order.
    assert re.findall(r'name="new_group" value="([^"]+)"', checked) == ["GED Class", "Unit C"]
    assert checked.count('name="group_kind"') == 2
    done = _import(client, checked, {"GED Class": "class", "Unit C": "housing"})
    assert done.status_code == 200
    assert len(re.findall(r'<code class="secret">\d{6}</code>', done.text)) == 2
    assert accounts.find_user(database, accounts.Role.LEARNER, "D400") is not None
    kinds = {name: groups.find_group(database, name) for name in ("GED Class", "Unit C")}
    assert {name: g.kind for name, g in kinds.items() if g} == {
        "GED Class": "class",
        "Unit C": "housing",
    }
    again = _import(client, checked, {})
    assert again.status_code == 400 and "already imported" in again.text


def test_roster_pin_slips_one_per_learner_in_their_language(
    client: TestClient, people: People
) -> None:
    sign_in(client, people.admin)
    done = _import(client, _check(client, ROSTER), {"GED Class": "class", "Unit C": "housing"})
    slips = re.findall(
        r'<li class="pin-slip" lang="(\w+)">(.*?)</li>\s*(?=<li class="pin|</ul>)', done.text, re.S
    )
    assert [lang for lang, _ in slips] == ["es", "en"]
    dana, eli = (body for _, body in slips)
    assert "Dana Ruiz" in dana and "D400" in dana and re.search(r"\d{6}", dana)
    assert "Tu PIN de un solo uso" in dana and "Elige tu propio PIN" in dana
    assert "Eli Moss" in eli and "Your one-time PIN" in eli and "Choose your own PIN" in eli
    # The admin's own page stays in the admin's language.
    assert "Print the slips" in done.text


def test_roster_pin_slips_print_whole(client: TestClient) -> None:
    """Printed, each slip is one unbreakable box with a cut line, two to a row, and the
    rest of the page is left out."""
    css = client.get("/static/css/app.css").text
    rules = {
        m.group(1).strip(): m.group(2)
        for block in re.findall(r"@media print \{(.*?)\n\}", css, re.S)
        for m in re.finditer(r"([^{}]+)\{([^}]*)\}", block)
    }
    slip = rules[".pin-slip"]
    assert "display: inline-block" in slip and "dashed" in slip and "width: calc(50%" in slip
    on_screen = re.search(r"^\.pin-slip \{([^}]*)\}", css, re.M)
    assert on_screen and "break-inside: avoid" in on_screen.group(1)
    assert any(".no-print" in selector and "none" in body for selector, body in rules.items())


def test_roster_update_shows_each_change_and_a_same_row_is_unchanged(
    client: TestClient, people: People, database: Database
) -> None:
    sign_in(client, people.admin)
    groups.create_group(database, Actor.system("t"), "Unit A", "housing")
    unit_a = groups.find_group(database, "Unit A")
    assert unit_a
    groups.add_member(database, Actor.system("t"), unit_a.id, people.learner.id)
    checked = _check(
        client,
        "facility_id,name,language,group\n"
        "a100,Alex Learner,en,unit a\n"  # what is stored, in other cases: no change
        "B200,Beatriz Learner,en,Unit A\n",
    )
    assert "Learners to update: 1" in checked and "Learners with no change: 1" in checked
    changes = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", checked.split("B200")[1]))
    assert "Name: Bea Learner → becomes Beatriz Learner" in changes
    assert "Language: Español → becomes English" in changes
    assert "Groups: none → becomes Unit A" in changes
    done = _import(client, checked, {})
    assert done.status_code == 200 and "No change: 1" in done.text
    bea = accounts.get_user(database, people.other_learner.id)
    assert (bea.display_name, bea.language) == ("Beatriz Learner", "en")
    audited = database.query(
        "SELECT target FROM audit_log WHERE action = 'account.update' ORDER BY id"
    )
    assert [r[0] for r in audited] == ["learner:B200"]


def test_roster_with_semicolons_is_read_and_says_so(
    client: TestClient, people: People, database: Database
) -> None:
    sign_in(client, people.admin)
    checked = _check(
        client, "facility_id;name;language;group;group_kind\nS1;Sol Díaz;es;Unit S;programa\n"
    )
    assert "separated by semicolons, so it was read that way" in checked
    assert "New learners: 1" in checked
    # The kind the file gives is the one chosen on the page.
    assert re.search(r'<option value="program" selected>', checked)
    assert checked.count(" selected>") == 1
    assert _import(client, checked, {"Unit S": "program"}).status_code == 200
    found = accounts.find_user(database, accounts.Role.LEARNER, "S1")
    assert found and found[0].display_name == "Sol Díaz"


def test_roster_with_problems_shows_each_and_imports_nothing(
    client: TestClient, people: People, database: Database
) -> None:
    sign_in(client, people.admin)
    bad = "facility_id,name,language\nG1,Gus,fr\nG2,,en\nG3,Hal,en\nG3,Hal Two,es\nteacher,T,en\n"
    page = client.post(
        form_action(client, "/admin/roster", "/admin/roster/check"),
        files={"file": ("r.csv", bad, "text/csv")},
    )
    assert "must be en (English) or es (Spanish)" in page.text
    assert "Line 3 has no name." in page.text
    assert "used twice: also on line 5" in page.text
    assert "Import now" not in page.text
    assert accounts.find_user(database, accounts.Role.LEARNER, "G1") is None


def test_roster_missing_column(client: TestClient, people: People) -> None:
    sign_in(client, people.admin)
    page = client.post(
        form_action(client, "/admin/roster", "/admin/roster/check"),
        files={"file": ("r.csv", "id,name\n1,x\n", "text/csv")},
    )
    assert "no column named facility_id" in page.text


def test_audit_log_page_filters_and_verifies(
    client: TestClient, people: People, database: Database
) -> None:
    sign_in(client, people.admin)
    page = client.get("/admin/audit", params={"action": "signin"})
    assert "admin:boss" in page.text and "account.create" not in page.text
    checked = client.get("/admin/audit", params={"verify": "1"})
    assert "The log is whole" in checked.text
    assert verify_chain(database).ok
    # The newest entry is shown for the admin to write down, as `audit verify --against`
    # takes it.
    head = database.query_one("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
    assert head is not None
    assert f'<code class="audit-head">{head["id"]}:{head["hash"]}</code>' in checked.text


def test_bodies_over_the_caps_are_refused_with_413(client: TestClient, people: People) -> None:
    sign_in(client, people.admin)
    upload = form_action(client, "/admin/roster", "/admin/roster/check")
    boundary = "cap-test"
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="r.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()

    def chunked() -> Iterator[bytes]:  # no Content-Length: the cap must hold while reading
        yield part
        for _ in range(4):  # 4 MiB: over the 3 MiB default
            yield b"x" * (1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    refused = client.post(
        upload,
        content=chunked(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert refused.status_code == 413 and "max_upload_mb" in refused.text
    form = post(
        client, "/admin/groups", {"name": "x" * (1024 * 1024 + 1)}, token_from="/admin/groups"
    )
    assert form.status_code == 413
