"""Publisher repository: init, keys on disk, add rules, retract, refresh, rotate, export, CLI."""

from __future__ import annotations

import re
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from content.errors import PackageError
from content.tuf import repo_status, repository
from content.tuf.fingerprint import root_fingerprint
from content.tuf.publisher_cli import publisher_cli
from content.tuf.repository import PublisherError
from tests.content.hostile import CASES, take_apart
from tests.content.tuf.helpers import export, make_package, make_repo, pinned_root


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_layout_keys_and_warning(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    info = repository.init_repository(repo, "Example NGO", "org.example")
    keys = sorted(p.name for p in (repo / "keys").iterdir())
    assert keys == ["root-1.key", "snapshot-3.key", "targets-2.key", "timestamp-4.key"]
    assert mode(repo / "keys") == 0o700
    assert all(mode(p) == 0o600 for p in (repo / "keys").iterdir())
    metadata = sorted(p.name for p in (repo / "published" / "metadata").iterdir())
    assert metadata == [
        "1.root.json",
        "1.snapshot.json",
        "1.targets.json",
        "root.json",
        "timestamp.json",
    ]
    assert info.roles["timestamp"].version == 1 and info.targets == []
    assert any("root is 1-of-1" in w for w in info.warnings)
    # Each role is stamped with its own reading of the clock, a moment apart.
    apart = info.roles["root"].expires - info.roles["timestamp"].expires
    assert abs(apart - timedelta(days=365 - 60)) < timedelta(seconds=5)


def test_init_refusals(tmp_path: Path) -> None:
    with pytest.raises(PublisherError, match=r"must look like org\.example"):
        repository.init_repository(tmp_path / "a", "NGO", "Example")
    with pytest.raises(PublisherError, match="--threshold must be between 1 and --root-keys"):
        repository.init_repository(tmp_path / "b", "NGO", "org.example", root_keys=2, threshold=3)
    make_repo(tmp_path)
    with pytest.raises(PublisherError, match="exists and is not empty"):
        make_repo(tmp_path)


def test_two_of_three_has_no_single_key_warning(tmp_path: Path) -> None:
    info = repository.init_repository(
        tmp_path / "r", "NGO", "org.example", root_keys=3, threshold=2
    )
    assert (info.roles["root"].keys, info.roles["root"].threshold) == (3, 2)
    assert not any("1-of-" in w for w in info.warnings)


def test_add_bumps_roles_and_records_custom(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    names = repository.add_packages(repo, [make_package(tmp_path, 1)])
    assert names == ["org.example.test/org.example.test-v1.tar"]
    info = repository.status(repo)
    assert {r: s.version for r, s in info.roles.items()} == {
        "root": 1,
        "targets": 2,
        "snapshot": 2,
        "timestamp": 2,
    }
    [target] = info.targets
    assert (target.course_id, target.version, target.retracted) == ("org.example.test", 1, False)
    stored = repo / "published" / "targets" / "org.example.test"
    assert [p.name for p in stored.iterdir()] == [f"{target.sha256}.org.example.test-v1.tar"]


@pytest.mark.parametrize("course_id", ["org.other.course", "org.examples.x", "org.example"])
def test_add_refuses_outside_namespace(tmp_path: Path, course_id: str) -> None:
    # The same rule as the facility's (a course id equal to the namespace is outside it).
    repo = make_repo(tmp_path)
    package = make_package(tmp_path, 1, course_id=course_id)
    with pytest.raises(PublisherError, match=r"outside this repository's namespace: ids must"):
        repository.add_packages(repo, [package])
    assert repository.status(repo).roles["targets"].version == 1
    assert not any((repo / "published" / "targets").rglob("*.tar"))


def test_add_refuses_old_or_same_version(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repository.add_packages(repo, [make_package(tmp_path / "a", 2)])
    for version in (1, 2):
        with pytest.raises(PublisherError, match=f"version {version} is not newer than .* 2"):
            repository.add_packages(repo, [make_package(tmp_path / f"b{version}", version)])


def test_add_refuses_damaged_package(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    package = make_package(tmp_path, 1)
    data = bytearray(package.read_bytes())
    data[data.index(b"WEBVTT") + 10] ^= 0x01  # one bit inside a caption file
    package.write_bytes(bytes(data))
    with pytest.raises(PackageError, match="SHA-256"):
        repository.add_packages(repo, [package])
    assert repository.status(repo).targets == []


def test_retract(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repository.add_packages(repo, [make_package(tmp_path, 1)])
    repository.retract(repo, "org.example.test", 1)
    assert repository.status(repo).targets[0].retracted
    with pytest.raises(PublisherError, match="already retracted"):
        repository.retract(repo, "org.example.test", 1)
    with pytest.raises(PublisherError, match="version 7 is not published"):
        repository.retract(repo, "org.example.test", 7)


def test_refresh_extends_expiry(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    before = repository.status(repo).roles
    repository.refresh(repo, days=120)
    after = repository.status(repo).roles
    assert after["timestamp"].version == before["timestamp"].version + 1
    assert after["snapshot"].version == before["snapshot"].version + 1
    assert (after["timestamp"].expires - before["timestamp"].expires).days >= 59
    assert after["targets"].version == before["targets"].version  # 180 days > 120
    repository.refresh(repo, days=200)  # targets would expire first: re-signed too
    assert repository.status(repo).roles["targets"].version == before["targets"].version + 1
    with pytest.raises(PublisherError, match="--days must be between"):
        repository.refresh(repo, days=0)


def test_rotate_key_new_root_and_retired_keys(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repository.rotate_key(repo, "targets")
    info = repository.status(repo)
    assert info.roles["root"].version == 2 and info.roles["targets"].version == 2
    assert [p.name for p in (repo / "keys" / "retired").iterdir()] == ["targets-2.key"]
    assert (repo / "keys" / "targets-5.key").is_file()
    with pytest.raises(PublisherError, match="unknown role"):
        repository.rotate_key(repo, "mirror")


def test_passphrase_protected_keys(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, passphrase="correct horse")
    assert (repo / "keys" / "root-1.key").read_bytes().startswith(b"-----BEGIN ENCRYPTED")
    package = make_package(tmp_path, 1)
    with pytest.raises(PublisherError, match="protected by a passphrase"):
        repository.add_packages(repo, [package])
    with pytest.raises(PublisherError, match="wrong passphrase"):
        repository.add_packages(repo, [package], passphrase="wrong")
    assert repository.add_packages(repo, [package], passphrase="correct horse")


def test_key_readable_by_others_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "keys" / "timestamp-4.key").chmod(0o644)
    with pytest.raises(PublisherError, match="chmod 600"):
        repository.refresh(repo)


def test_export_never_copies_keys_and_is_incremental(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repository.add_packages(repo, [make_package(tmp_path, 1)])
    stick = export(repo, tmp_path / "stick")
    names = {p.relative_to(stick).as_posix() for p in stick.rglob("*") if p.is_file()}
    assert "metadata/timestamp.json" in names and not any("key" in n for n in names)
    assert all(b"PRIVATE KEY" not in p.read_bytes() for p in stick.rglob("*") if p.is_file())
    repository.refresh(repo)
    report = repository.export_repository(repo, stick)
    assert report.written == 2  # the new snapshot and timestamp
    assert report.verified == len([p for p in stick.rglob("*") if p.is_file()])
    with pytest.raises(PublisherError, match="outside the repository"):
        repository.export_repository(repo, repo / "published" / "x")


def test_export_repairs_a_damaged_file_of_the_same_size(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repository.add_packages(repo, [make_package(tmp_path, 1)])
    stick = export(repo, tmp_path / "stick")
    (package,) = (stick / "targets").rglob("*.tar")
    good = package.read_bytes()
    package.write_bytes(good[:1000] + bytes(255 - b for b in good[1000:1010]) + good[1010:])
    assert package.stat().st_size == len(good)
    report = repository.export_repository(repo, stick)
    assert report.written == 1 and package.read_bytes() == good
    assert repository.export_repository(repo, stick).written == 0


def test_export_reports_a_file_that_reads_back_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path)
    repository.add_packages(repo, [make_package(tmp_path, 1)])

    def failing_stick(path: Path) -> None:  # the stick loses a bit after the write
        if path.suffix == ".tar":
            data = bytearray(path.read_bytes())
            data[-1] ^= 1
            path.write_bytes(bytes(data))

    monkeypatch.setattr(repo_status, "_forget_cached", failing_stick)
    with pytest.raises(PublisherError, match=r"\.tar reads back different"):
        repository.export_repository(repo, tmp_path / "stick")


def test_export_refuses_a_package_damaged_inside_the_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repository.add_packages(repo, [make_package(tmp_path, 1)])
    (package,) = (repo / "published" / "targets").rglob("*.tar")
    data = bytearray(package.read_bytes())
    data[2000] ^= 0xFF
    package.write_bytes(bytes(data))
    with pytest.raises(PublisherError, match=f"{package.name} does not match its signed hash"):
        repository.export_repository(repo, tmp_path / "stick")
    assert not list((tmp_path / "stick").rglob("*.tar"))


def test_status_fingerprint_is_that_of_the_file_handed_over(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, root_keys=2, threshold=2)
    fingerprint = repository.status(repo).root_fingerprint
    assert fingerprint == root_fingerprint(pinned_root(repo))
    lines = fingerprint.lines()
    assert re.fullmatch(r"SHA256 root: [0-9A-F]{4}( [0-9A-F]{4}){15}", lines[0])
    assert len(lines) == 3 and all(line.startswith("key: ") for line in lines[1:])


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(PublisherError, match="is not a publisher repository"):
        repository.status(tmp_path)


def test_cli_journey(tmp_path: Path) -> None:
    runner = CliRunner()
    repo, stick = tmp_path / "repo", tmp_path / "stick"
    secret = tmp_path / "secret.txt"
    secret.write_text("a long passphrase\n", encoding="utf-8")
    args = ["init", str(repo), "--name", "Example NGO", "--namespace", "org.example"]
    result = runner.invoke(publisher_cli, [*args, "--passphrase-file", str(secret)])
    assert result.exit_code == 0, result.output
    assert "warning: root is 1-of-1" in result.output
    assert "NOT encrypted" not in result.output
    fingerprint = repository.status(repo).root_fingerprint.root
    assert f"SHA256 root: {fingerprint}" in result.output
    package = make_package(tmp_path, 1)
    pp = ["--passphrase-file", str(secret)]
    result = runner.invoke(publisher_cli, ["add", str(repo), str(package), *pp])
    assert result.exit_code == 0 and "published org.example.test/" in result.output
    for command in (
        ["retract", str(repo), "org.example.test", "1", *pp],
        ["refresh", str(repo), "--days", "30", *pp],
        ["rotate-key", str(repo), "snapshot", *pp],
        ["export", str(repo), str(stick)],
    ):
        result = runner.invoke(publisher_cli, command)
        assert result.exit_code == 0, result.output
    result = runner.invoke(publisher_cli, ["status", str(repo)])
    assert "org.example.test v1" in result.output and "RETRACTED" in result.output
    assert f"SHA256 root: {repository.status(repo).root_fingerprint.root}" in result.output
    assert (stick / "metadata" / "timestamp.json").is_file()


def test_cli_init_without_passphrase_warns_keys_are_unencrypted(tmp_path: Path) -> None:
    args = ["init", str(tmp_path / "repo"), "--name", "Example NGO", "--namespace", "org.example"]
    result = CliRunner().invoke(publisher_cli, args)
    assert result.exit_code == 0, result.output
    assert "keys" in result.output and "NOT encrypted" in result.output


def test_cli_export_says_what_it_checked(tmp_path: Path) -> None:
    repo, stick = make_repo(tmp_path), tmp_path / "stick"
    result = CliRunner().invoke(publisher_cli, ["export", str(repo), str(stick)])
    assert result.exit_code == 0, result.output
    files = len([p for p in stick.rglob("*") if p.is_file()])
    assert f"{files} file(s) written, {files} file(s) on the stick match" in result.output


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    repo = make_repo(tmp_path)
    package = make_package(tmp_path, 1, course_id="org.other.course")
    result = runner.invoke(publisher_cli, ["add", str(repo), str(package)])
    assert result.exit_code == 1
    assert "outside this repository's namespace" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(publisher_cli, ["status", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "is not a publisher repository" in result.output
    result = runner.invoke(publisher_cli, ["init", "--help"])
    assert "stepstone publisher init" in result.output


@pytest.mark.parametrize("case", ["manifest-nested-deep", "manifest-huge-number"])
def test_cli_add_refuses_a_hostile_manifest_in_one_line(tmp_path: Path, case: str) -> None:
    repo = make_repo(tmp_path)
    package = make_package(tmp_path, 1)
    package.write_bytes(CASES[case].build(take_apart(package)))
    result = CliRunner().invoke(publisher_cli, ["add", str(repo), str(package)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    for words in CASES[case].expect:
        assert words in result.output
    assert repository.status(repo).targets == []
