"""The docs keep up with the code: every setting, command and health check is written
down in its one canonical place, and every relative link in the docs leads somewhere.

Canonical places (one per kind of thing, so a reader knows where to look and a change
knows where to go):

- settings: the table under "Settings" in README.md (what `stepstone settings` prints);
- `stepstone` commands, every one down to the sub-commands: the table under
  "The `stepstone` command" in README.md;
- the publisher tool (`stepstone publisher …`, what an NGO runs): the table under
  "Commands" in docs/publisher-guide.md, the guide NGO staff read;
- health checks, by the key `stepstone check --json` and `/healthz` report: the checks
  table in docs/admin-guide.md, "Watching the server".

The Markdown is read with markdown-it (GitHub's table rules), so a row that renders
broken, such as a `|` left unescaped inside a table cell, counts as missing.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

# The public names of what the docs describe; the only lines to change when modules move.
from content.tuf.publisher_cli import publisher_cli
from server.cli.main import cli
from server.core.db import Database
from server.core.settings import Settings
from server.ops.health import run_checks

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
ADMIN_GUIDE = ROOT / "docs" / "admin-guide.md"
PUBLISHER_GUIDE = ROOT / "docs" / "publisher-guide.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]

SETTINGS_SECTION = "Settings"
COMMANDS_SECTION = "The stepstone command"
PUBLISHER_SECTION = "Commands"
CHECKS_SECTION = "stepstone check, the status page, /healthz"

# A word of a command as the tables write it: a name, or names joined by `\|` (`a|b`).
_COMMAND_WORD = re.compile(r"[a-z][a-z0-9-]*(\|[a-z][a-z0-9-]*)*")
_MARKDOWN = MarkdownIt("commonmark").enable("table")


# --- reading the Markdown ----------------------------------------------------------------


@functools.cache  # ~25 ms a parse of README.md, read by some 60 tests; nothing edits tokens
def _tokens(path: Path) -> list[Token]:
    return _MARKDOWN.parse(path.read_text(encoding="utf-8"))


def _plain(inline: Token) -> str:
    """The text of an inline token as a reader sees it (code spans without backticks)."""
    return "".join(child.content for child in inline.children or [])


def _section(tokens: list[Token], title: str) -> list[Token]:
    """The tokens under the heading whose text is ``title``, up to the next heading of the
    same or a higher level; empty when there is no such heading."""
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and _plain(tokens[index + 1]) == title:
            level = int(token.tag[1])
            end = next(
                (
                    later
                    for later in range(index + 1, len(tokens))
                    if tokens[later].type == "heading_open" and int(tokens[later].tag[1]) <= level
                ),
                len(tokens),
            )
            return tokens[index + 3 : end]
    return []


def _rows(tokens: list[Token]) -> Iterator[list[Token]]:
    """The cells (inline tokens) of every body row of every table in ``tokens``."""
    row: list[Token] = []
    in_body = False
    for token in tokens:
        if token.type in {"tbody_open", "tbody_close"}:
            in_body = token.type == "tbody_open"
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline":
            row.append(token)
        elif token.type == "tr_close" and in_body:
            yield row


def _spans(cell: Token) -> list[str]:
    """The code spans of one table cell."""
    return [child.content for child in cell.children or [] if child.type == "code_inline"]


def _code_spans(tokens: list[Token]) -> list[str]:
    """Every code span in the first column of the tables in ``tokens``."""
    return [span for row in _rows(tokens) for span in _spans(row[0])]


def _documented_commands(spans: list[str]) -> set[tuple[str, ...]]:
    """The command paths a table's code spans name, without the leading `stepstone`.

    `stepstone user reset LOGIN` names ("user", "reset"); a span in the same cell may leave
    out `stepstone` (`user unlock LOGIN`); `package lint|build` names both; the words stop
    at the first argument name or option (`NAME`, `[--json]`).
    """
    paths: set[tuple[str, ...]] = set()
    for span in spans:
        words = span.split()
        if words[:1] == ["stepstone"]:
            words = words[1:]
        alternatives: list[tuple[str, ...]] = [()]
        for word in words:
            if not _COMMAND_WORD.fullmatch(word):
                break
            alternatives = [(*path, name) for path in alternatives for name in word.split("|")]
            paths.update(alternatives)
    return paths


def _commands(group: click.Group, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Every command under ``group`` that does something, as its path of names."""
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


@pytest.mark.parametrize(
    ("path", "title"),
    [
        (README, SETTINGS_SECTION),
        (README, COMMANDS_SECTION),
        (PUBLISHER_GUIDE, PUBLISHER_SECTION),
        (ADMIN_GUIDE, CHECKS_SECTION),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else value,
)
def test_each_canonical_table_is_where_these_tests_look(path: Path, title: str) -> None:
    # A renamed heading would otherwise fail every row's test with a puzzling message.
    assert _code_spans(_section(_tokens(path), title)), (
        f"{path.relative_to(ROOT).as_posix()} has no table under a heading '{title}'. If the"
        " heading was renamed, change its name at the top of tests/test_docs.py."
    )


# --- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize("variable", [row[0] for row in Settings().help_rows()])
def test_every_setting_is_in_the_readme_settings_table(variable: str) -> None:
    documented = _code_spans(_section(_tokens(README), SETTINGS_SECTION))
    assert variable in documented, (
        f"The setting {variable} is not documented: add a row for `{variable}` (default and"
        f" meaning) to the table under '## {SETTINGS_SECTION}' in README.md."
    )


def test_the_readme_settings_table_names_only_real_settings() -> None:
    real = {row[0] for row in Settings().help_rows()}
    documented = _code_spans(_section(_tokens(README), SETTINGS_SECTION))
    stale = sorted(set(documented) - real)
    assert not stale, (
        f"README.md's settings table lists {', '.join(stale)}, which server/core/settings.py does"
        " not have: remove or rename the row."
    )


def _written_defaults() -> list[tuple[str, str]]:
    """(variable, default as one would write it in the environment) for every setting
    whose default is not empty; an empty one is described in words (none, empty)."""
    rows = []
    for (variable, _, _), f in zip(
        Settings().help_rows(), dataclasses.fields(Settings), strict=True
    ):
        if not f.default:
            continue
        default = str(f.default).lower() if isinstance(f.default, bool) else str(f.default)
        rows.append((variable, default))
    return rows


@pytest.mark.parametrize(("variable", "default"), _written_defaults())
def test_the_readme_settings_table_gives_the_real_default(variable: str, default: str) -> None:
    for row in _rows(_section(_tokens(README), SETTINGS_SECTION)):
        names, shown = _spans(row[0]), _spans(row[1])
        if variable in names:
            written = shown[names.index(variable)] if len(shown) == len(names) else None
            assert written == default, (
                f"README.md's settings table gives {variable} the default {written!r}, but"
                f" server/core/settings.py has {default!r}: put `{default}` in its default column."
            )
            return
    pytest.fail(f"The setting {variable} is not in the table under '## Settings' in README.md.")


# --- commands ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", list(_commands(cli, ())), ids=" ".join)
def test_every_stepstone_command_is_in_the_readme_command_table(path: tuple[str, ...]) -> None:
    documented = _documented_commands(_code_spans(_section(_tokens(README), COMMANDS_SECTION)))
    command = " ".join(("stepstone", *path))
    assert path in documented, (
        f"`{command}` is not documented: add a row for it to the table under"
        f" '## The `stepstone` command' in README.md (in the first column, in backticks)."
    )


@pytest.mark.parametrize(
    "path", list(_commands(publisher_cli, (publisher_cli.name or "publisher",))), ids=" ".join
)
def test_every_publisher_command_is_in_the_publisher_guide(path: tuple[str, ...]) -> None:
    spans = _code_spans(_section(_tokens(PUBLISHER_GUIDE), PUBLISHER_SECTION))
    command = " ".join(("stepstone", *path))
    assert path in _documented_commands(spans), (
        f"`{command}` is not documented for publishers: add a row for it to the table under"
        f" '## {PUBLISHER_SECTION}' in docs/publisher-guide.md."
    )


# --- health checks -----------------------------------------------------------------------


def _check_name(key: str) -> str:
    """`sync:Example NGO` and `sync:NAME` are the same check."""
    return key.split(":", 1)[0]


def test_every_health_check_is_in_the_admin_guide(settings: Settings, database: Database) -> None:
    keys = {_check_name(check.key) for check in run_checks(settings, database).checks}
    spans = _code_spans(_section(_tokens(ADMIN_GUIDE), CHECKS_SECTION))
    missing = sorted(keys - {_check_name(span) for span in spans})
    assert not missing, (
        f"The health check(s) {', '.join(missing)} are not documented: add a row with the key"
        f" in backticks to the checks table under '### {CHECKS_SECTION}' in"
        " docs/admin-guide.md."
    )


# --- links -------------------------------------------------------------------------------


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as `-`."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    tokens = _tokens(path)
    seen: dict[str, int] = {}
    anchors = set()
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            slug = _slug(_plain(tokens[index + 1]))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(f"{slug}-{count}" if count else slug)
    return anchors


def _links(path: Path) -> Iterator[str]:
    """Every link and image address in ``path``, outside code."""
    for token in _tokens(path):
        for child in token.children or []:
            if child.type == "link_open":
                yield str(child.attrs["href"])
            elif child.type == "image":
                yield str(child.attrs["src"])


def _broken(path: Path, address: str) -> str | None:
    """Why a relative ``address`` in ``path`` leads nowhere, or None when it is fine."""
    if re.match(r"[a-z][a-z0-9+.-]*:", address, re.IGNORECASE):
        return None  # https:, mailto: — not a file of this repository
    target, _, anchor = address.partition("#")
    file = (path.parent / target).resolve() if target else path
    if not file.exists():
        return f"{address}: there is no file {target}"
    if anchor and file.suffix == ".md" and anchor not in _anchors(file):
        return f"{address}: {file.name} has no heading whose anchor is #{anchor}"
    return None


@pytest.mark.parametrize("path", DOCS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_relative_link_leads_somewhere(path: Path) -> None:
    broken = [why for address in _links(path) if (why := _broken(path, address))]
    assert not broken, f"Broken links in {path.relative_to(ROOT).as_posix()}:\n" + "\n".join(broken)
