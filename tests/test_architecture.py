"""The web app and the command line hold no SQL: the domain modules own their tables.

A view or a command parses its input, calls a domain function and shows the result. When
it talks to the database itself, the rule that goes with the table (the audit entry, the
one transaction, the access question) is skipped or written a second time. This test
reads every module under `server/web` and `server/cli` and fails on SQL text or on a call
that runs SQL on a database.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRONTS = ("server/web", "server/cli")

# Statements as this code base writes them: the verb in capitals at the start.
_SQL_VERB = re.compile(
    r"\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|UPSERT|CREATE|DROP|ALTER|PRAGMA|WITH|BEGIN"
    r"|COMMIT|ROLLBACK|SAVEPOINT|VACUUM|ATTACH)\b"
)
# ... and in any case, when the words around the verb leave no doubt.
_SQL_SHAPE = re.compile(
    r"\s*(select\s.*\bfrom\s|insert\s+(or\s+\w+\s+)?into\s|update\s+\w+\s+set\s"
    r"|delete\s+from\s|replace\s+into\s)",
    re.IGNORECASE | re.DOTALL,
)
# Calls that run SQL whatever they are called on (Database, sqlite3, sqlite-utils)...
_SQL_CALLS = frozenset({"execute", "executemany", "executescript", "query", "query_one"})
# ... and those that only do when called on a database (a file has `write` too).
_DATABASE_CALLS = frozenset({"write", "table", "atomic"})
_DATABASE_NAMES = frozenset({"database", "db", "conn", "reader", "writer"})

# Module (relative path) -> why it may keep its SQL. Keep it short; prefer moving the
# statement into the domain module that owns the table.
ALLOWED: dict[str, str] = {}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (prose, not SQL)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _receiver_name(node: ast.expr) -> str:
    """The last name of what a method is called on: `req.database.write` -> "database"."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return _receiver_name(node.func)
    return ""


def sql_uses(source: str) -> list[str]:
    """Each place in ``source`` that holds SQL text or runs SQL, as "line: what"."""
    tree = ast.parse(source)
    prose = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            if _SQL_VERB.match(node.value) or _SQL_SHAPE.match(node.value):
                found.append(f"{node.lineno}: SQL text {node.value[:40]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, receiver = node.func.attr, _receiver_name(node.func.value)
            if name in _SQL_CALLS or (name in _DATABASE_CALLS and receiver in _DATABASE_NAMES):
                found.append(f"{node.lineno}: {ast.unparse(node.func)}()")
        elif isinstance(node, ast.Subscript) and _receiver_name(node.value) in _DATABASE_NAMES:
            # sqlite-utils: db["users"].insert(...)
            found.append(f"{node.lineno}: table {ast.unparse(node)}")
    return sorted(found, key=lambda text: int(text.split(":")[0]))


def _front_modules() -> list[str]:
    return sorted(
        str(path.relative_to(ROOT)) for front in FRONTS for path in (ROOT / front).rglob("*.py")
    )


@pytest.mark.parametrize("module", _front_modules())
def test_views_and_commands_hold_no_sql(module: str) -> None:
    if module in ALLOWED:
        pytest.skip(ALLOWED[module])
    uses = sql_uses((ROOT / module).read_text(encoding="utf-8"))
    assert not uses, f"{module} talks to the database itself; move this into the domain:\n" + (
        "\n".join(uses)
    )


def test_every_allowed_module_exists_and_says_why() -> None:
    for module, reason in ALLOWED.items():
        assert (ROOT / module).is_file(), module
        assert len(reason) > 20, module


@pytest.mark.parametrize(
    "source",
    [
        'rows = req.database.query("SELECT 1")',
        "row = database.query_one(sql, [1])",
        "with req.database.write() as db:\n    pass",
        "db.execute(statement)",
        'x = "DELETE FROM assignments WHERE id = ?"',
        'x = f"UPDATE users SET text_size = {size}"',
        'x = "select id from groups where name = ?"',
        'x = ("INSERT INTO group_members (group_id, user_id)" " VALUES (?, ?)")',
        'db["group_members"].insert({"group_id": 1})',
        "def f():\n    services.database.conn.executemany(sql, rows)",
    ],
)
def test_the_check_sees_sql(source: str) -> None:
    assert sql_uses(source)


@pytest.mark.parametrize(
    "source",
    [
        '"""Delete the demo data folder and start over."""',
        'def f():\n    """Select the learners from the group."""',
        'click.option("--reset", help="Delete the demo data folder.")',
        'action = "update" if found else "create"',
        "handle.write(data)",
        "sys.stdout.buffer.write(data)",
        "csvfiles.write(path, rows)",
        "assignments.remove(req.database, actor, assignment)",
        "params = req.request.query_params",
    ],
)
def test_the_check_leaves_plain_code_alone(source: str) -> None:
    assert not sql_uses(source)
