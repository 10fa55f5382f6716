"""CSV files that people open in a spreadsheet: the one writer every CSV Stepstone makes
goes through (educator exports, the NGO impact report, the one-time PINs of a roster).

Text in these files comes from people (learner names typed into a roster, course titles
an NGO wrote), and a spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@``
as a formula — one that can fetch a web page or run a command. So every text cell that
could start a formula gets a leading apostrophe, which a spreadsheet shows as plain text.
Rows end with CRLF, as RFC 4180 says, and the csv module quotes commas, quotes and line
breaks, so a name can never split a row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value, with a leading apostrophe if a spreadsheet would run it as a formula."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def write(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write a header and rows to ``out`` (opened with ``newline=""``)."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])


def to_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The CSV text of a header and rows."""
    out = io.StringIO()
    write(out, header, rows)
    return out.getvalue()


def records_to_text(records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """The CSV text of records (dicts), one column per name in ``columns``; other keys
    are left out and a missing key is an empty cell."""
    return to_text(columns, ([record.get(c, "") for c in columns] for record in records))
