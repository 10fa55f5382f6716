"""What a facility admin does in the browser: people, groups, rosters, the audit log."""

from __future__ import annotations

import re
from collections.abc import Iterator

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


def test_roster_dry_run_then_import(client: TestClient, people: People, database: Database) -> None:
    sign_in(client, people.admin)
    checked = client.post(
        form_action(client, "/admin/roster", "/admin/roster/check"),
        files={"file": ("roster.csv", ROSTER, "text/csv")},
    )
    assert checked.status_code == 200
    assert "New learners: 2" in checked.text and "Unit C" in checked.text
    assert accounts.find_user(database, accounts.Role.LEARNER, "D400") is None
    import_token = re.search(r'name="token" value="([^"]+)"', checked.text)
    assert import_token
    csrf = CSRF_RE.search(checked.text)
    assert csrf
    done = client.post(
        "/admin/roster/import",
        data={"csrf_token": csrf.group(1), "token": import_token.group(1), "group_kind": "housing"},
    )
    assert done.status_code == 200
    assert len(re.findall(r'<code class="secret">\d{6}</code>', done.text)) == 2
    assert accounts.find_user(database, accounts.Role.LEARNER, "D400") is not None
    again = client.post(
        "/admin/roster/import", data={"csrf_token": csrf.group(1), "token": import_token.group(1)}
    )
    assert again.status_code == 400 and "already imported" in again.text


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
    assert "A name is 1 to 80 characters" in page.text
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
