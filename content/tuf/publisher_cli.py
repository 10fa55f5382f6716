"""``stepstone publisher …``: the NGO's tool to sign course packages for facilities.

The lead wires :data:`publisher_cli` into the ``stepstone`` command. Every failure prints
one plain sentence and exits with status 1 — never a traceback. See
docs/publisher-guide.md for the whole journey from a course folder to a USB stick.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from content.errors import ContentError
from content.tuf.repository import (
    Expiry,
    RepoStatus,
    add_packages,
    export_repository,
    init_repository,
    refresh,
    retract,
    rotate_key,
    status,
)

F = TypeVar("F", bound=Callable[..., Any])
_REPO = click.argument("repo", type=click.Path(path_type=Path))
_PASSPHRASE = click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File whose first line is the passphrase protecting the keys.",
)


def _friendly(command: F) -> F:
    """Print a content error as one line on stderr and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ContentError as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:
            raise click.ClickException(f"{exc.filename or ''}: {exc.strerror}") from exc

    return wrapper  # type: ignore[return-value]


def _passphrase(path: Path | None) -> str | None:
    if path is None:
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0]:
        raise click.ClickException(f"{path}: the first line (the passphrase) is empty")
    return lines[0]


def _show(info: RepoStatus) -> None:
    click.echo(f"Publisher: {info.name}   namespace: {info.namespace}")
    click.echo("Root fingerprint (read it to each facility; they compare it):")
    for line in info.root_fingerprint.lines():
        click.echo(f"  {line}")
    for role, item in info.roles.items():
        keys = f"{item.threshold}-of-{item.keys} key(s)"
        click.echo(f"  {role:<10} v{item.version:<4} expires {item.expires:%Y-%m-%d}  {keys}")
    click.echo(f"Published course versions: {len(info.targets)}")
    for target in info.targets:
        mark = "  RETRACTED" if target.retracted else ""
        click.echo(f"  {target.course_id} v{target.version}  {target.length} bytes{mark}")
    for warning in info.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)


@click.group(name="publisher")
def publisher_cli() -> None:
    """Sign course packages into a TUF repository and export it to a USB stick."""


@publisher_cli.command()
@_REPO
@click.option("--name", required=True, help="The organisation's name, shown to facilities.")
@click.option("--namespace", required=True, help="Course-id prefix, e.g. org.example.")
@click.option("--root-keys", default=1, show_default=True, help="Number of root keys.")
@click.option("--threshold", default=1, show_default=True, help="Root keys needed to sign.")
@click.option("--timestamp-days", default=60, show_default=True)
@click.option("--snapshot-days", default=180, show_default=True)
@click.option("--targets-days", default=180, show_default=True)
@click.option("--root-days", default=365, show_default=True)
@_PASSPHRASE
@_friendly
def init(
    repo: Path,
    name: str,
    namespace: str,
    root_keys: int,
    threshold: int,
    timestamp_days: int,
    snapshot_days: int,
    targets_days: int,
    root_days: int,
    passphrase_file: Path | None,
) -> None:
    """Create a new repository with fresh keys in the empty folder REPO.

    Keep REPO on an offline machine: REPO/keys holds the private keys. Give facilities
    REPO/published/metadata/root.json through a channel you trust, with its fingerprint.

    \b
    Examples:
      stepstone publisher init ngo-repo --name "Example NGO" --namespace org.example
      stepstone publisher init ngo-repo --name "Example NGO" --namespace org.example \\
          --root-keys 3 --threshold 2 --passphrase-file ~/secret.txt
    """
    expiry = Expiry(timestamp_days, snapshot_days, targets_days, root_days)
    info = init_repository(
        repo,
        name,
        namespace,
        threshold=threshold,
        root_keys=root_keys,
        passphrase=_passphrase(passphrase_file),
        expiry=expiry,
    )
    click.echo(f"Created {repo}")
    _show(info)
    if passphrase_file is None:
        click.secho(
            f"warning: the private keys in {repo / 'keys'} are NOT encrypted (no "
            "--passphrase-file): anyone who copies that folder can sign courses as you. "
            "Keep it on an offline machine, or start again with a passphrase.",
            fg="yellow",
            err=True,
        )


@publisher_cli.command()
@_REPO
@click.argument("packages", nargs=-1, required=True, type=click.Path(path_type=Path))
@_PASSPHRASE
@_friendly
def add(repo: Path, packages: tuple[Path, ...], passphrase_file: Path | None) -> None:
    """Sign and publish built course PACKAGES (``stepstone package build`` output).

    \b
    Example:
      stepstone publisher add ngo-repo dist/org.example.finlit-v3.tar
    """
    for name in add_packages(repo, list(packages), _passphrase(passphrase_file)):
        click.echo(f"published {name}")


@publisher_cli.command(name="retract")
@_REPO
@click.argument("course")
@click.argument("version", type=int)
@_PASSPHRASE
@_friendly
def retract_command(repo: Path, course: str, version: int, passphrase_file: Path | None) -> None:
    """Retract VERSION of COURSE: facilities hide it at their next sync.

    \b
    Example:
      stepstone publisher retract ngo-repo org.example.finlit 2
    """
    retract(repo, course, version, _passphrase(passphrase_file))
    click.echo(f"retracted {course} v{version}; export and deliver a new stick")


@publisher_cli.command(name="refresh")
@_REPO
@click.option("--days", type=int, help="Validity of the new timestamp (default: repo setting).")
@_PASSPHRASE
@_friendly
def refresh_command(repo: Path, days: int | None, passphrase_file: Path | None) -> None:
    """Re-sign timestamp and snapshot with a fresh expiry; do this for every new stick.

    \b
    Example:
      stepstone publisher refresh ngo-repo --days 90
    """
    refresh(repo, _passphrase(passphrase_file), days)
    _show(status(repo))


@publisher_cli.command(name="rotate-key")
@_REPO
@click.argument("role", type=click.Choice(["root", "targets", "snapshot", "timestamp"]))
@_PASSPHRASE
@_friendly
def rotate_key_command(repo: Path, role: str, passphrase_file: Path | None) -> None:
    """Replace ROLE's keys; the new root is signed by the old and the new keys.

    Facilities follow the change at their next sync. Old keys move to REPO/keys/retired.

    \b
    Example:
      stepstone publisher rotate-key ngo-repo timestamp
    """
    rotate_key(repo, role, _passphrase(passphrase_file))
    click.echo(f"rotated the {role} key(s); export and deliver a new stick")


@publisher_cli.command(name="status")
@_REPO
@_friendly
def status_command(repo: Path) -> None:
    """Show what is published and when each role expires.

    \b
    Example:
      stepstone publisher status ngo-repo
    """
    _show(status(repo))


@publisher_cli.command(name="export")
@_REPO
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@_friendly
def export_command(repo: Path, dest: Path) -> None:
    """Copy the signed repository (never the keys) to DEST, e.g. a mounted USB stick.

    A file already on DEST is kept only if its bytes hash to what the repository signed;
    a missing or damaged one is rewritten. Files are written under temporary names and
    renamed, timestamp.json last, so an interrupted export leaves the previous consistent
    copy on the stick. Every file written is read back and checked.

    \b
    Example:
      stepstone publisher export ngo-repo /media/usb/example-ngo
    """
    report = export_repository(repo, dest)
    click.echo(
        f"exported {repo} to {dest}: {report.written} file(s) written, "
        f"{report.verified} file(s) on the stick match the signed repository"
    )
