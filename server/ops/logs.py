"""Logs as JSON lines on stderr, one line per request, and nothing a person typed.

Under systemd, journald stores each line as the message of one journal entry, so
`journalctl -u stepstone -o cat | jq` reads them back as data. uvicorn's own messages go
through the same formatter; its access log is off, because the line written here
replaces it with what an admin needs: method, path (never the query string, where a
search or a token may be), status, duration, request id, user id and client address.

What is never logged: PINs, passwords, session ids, cookies, CSRF tokens, form or JSON
bodies, workbook text, query strings. Nothing here reads a body, a cookie or a query,
and `tests/server/ops/test_logs.py` greps a real server's output for all of them.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

request_log = logging.getLogger("stepstone.request")

# Attributes every LogRecord has; anything else on a record came from `extra=` (less
# uvicorn's copy of each message with terminal colour codes in it).
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "color_message"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # which worker: journald records the main process only
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the server, also handed to uvicorn so each worker
    process sets it up the same way."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "server.ops.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for this process (the `serve` command calls this)."""
    logging.config.dictConfig(logging_config(level))
