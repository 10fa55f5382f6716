"""Settings, read once from the environment and an optional TOML file.

Everything the app needs to know about its deployment is declared here with a default,
a type and a line of help; `load_settings()` is the only place that reads `STEPSTONE_*`
variables or the config file.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.core.errors import ConfigError

SUPPORTED_LANGUAGES = ("en", "es")
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
_FACILITY_ID = re.compile(r"[a-z0-9][a-z0-9.-]{2,63}")
_ORIGIN = re.compile(r"https?://[a-z0-9]([a-z0-9.-]{0,252}[a-z0-9])?(:[0-9]{1,5})?")


class Secret:
    """A string that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """Validated settings for one Stepstone server."""

    data_dir: Path = field(
        default=Path("var"), metadata={"help": "Folder for database, keys, content"}
    )
    secret_key: Secret | None = field(
        default=None,
        metadata={"help": "Signing key; read from DATA_DIR/secret.key when not set"},
    )
    facility_name: str = field(
        default="Stepstone", metadata={"help": "Shown on pages and on the facility card"}
    )
    facility_id: str = field(
        default="",
        metadata={
            "help": "This facility's id on its card and signed records (lower case letters,"
            " digits, . and -); empty: the random id `stepstone init` made"
        },
    )
    transfer_by_educators: bool = field(
        default=False,
        metadata={"help": "Educators may export the transfer bundle of a learner in their groups"},
    )
    written_threads: bool = field(
        default=True,
        metadata={
            "help": "Learners and their educators may write comments on a written task;"
            " false: no new comments (those written stay readable)"
        },
    )
    transfer_valid_days: int = field(
        default=90,
        metadata={"help": "A learner's transfer bundle can be imported for this many days"},
    )
    host: str = field(default="127.0.0.1", metadata={"help": "Address to listen on"})
    port: int = field(default=8000, metadata={"help": "Port to listen on"})
    workers: int = field(default=2, metadata={"help": "uvicorn worker processes (use >= 2)"})
    worker_ping_seconds: int = field(
        default=30,
        metadata={"help": "A worker that does not answer the server for this long is replaced"},
    )
    https: bool = field(
        default=False,
        metadata={"help": "Served over HTTPS: Secure __Host- cookies and HSTS"},
    )
    trusted_proxies: tuple[str, ...] = field(
        default=(),
        metadata={"help": "Proxy addresses whose X-Forwarded-For is believed (e.g. 127.0.0.1)"},
    )
    default_language: str = field(default="en", metadata={"help": "en or es"})
    time_zone: str = field(
        default="UTC",
        metadata={"help": "The facility's time zone for dates on pages, e.g. America/Chicago"},
    )
    access_combine: str = field(
        default="union",
        metadata={
            "help": "A learner in several groups with tablet hours may use a tablet when"
            " any of them is open (union) or only when all are (strictest)"
        },
    )
    event_batch_seconds: int = field(
        default=30,
        metadata={
            "help": "A tablet sends the progress it reports on its own (time on task, reading"
            " place, video position) at most this often, in one post; finishing, answers and"
            " pauses go at once. 0: every event at once"
        },
    )
    learner_idle_minutes: int = field(default=15, metadata={"help": "Learner idle sign-out"})
    staff_idle_minutes: int = field(default=30, metadata={"help": "Staff idle sign-out"})
    session_max_hours: int = field(default=12, metadata={"help": "Absolute session lifetime"})
    learner_lock_after: int = field(
        default=10, metadata={"help": "Failed PIN tries in a row before a learner is locked"}
    )
    learner_catalog: str = field(
        default="open",
        metadata={
            "help": "open: learners may open any published course; assigned: only the"
            " courses assigned to them"
        },
    )
    impact_min_cell: int = field(
        default=10,
        metadata={"help": "NGO impact reports: hide any figure about fewer learners (>= 5)"},
    )
    due_after_joining_days: int = field(
        default=0,
        metadata={
            "help": "A learner who joins a group after a course with a due date was assigned"
            " to it has until this many days after joining (never before the due date);"
            " 0: the group's due date"
        },
    )
    lockdown_roles: tuple[str, ...] = field(
        default=("admin",),
        metadata={
            "help": "Who may start and end lockdowns: admin, or admin,educator when the"
            " facility names its program staff (admins always may)"
        },
    )
    lockdown_due_days_after: int = field(
        default=7,
        metadata={
            "help": "A due date during a lockdown, or up to this many days after it, moves"
            " later by the days the lockdown touched; 0: only due dates during it"
        },
    )
    xapi_actor: str = field(
        default="pseudonym",
        metadata={"help": "xAPI exports name learners by 'facility_id' or 'pseudonym'"},
    )
    demo: bool = field(default=False, metadata={"help": "Demo mode (demo keys are trusted)"})
    media_accel_prefix: str = field(
        default="",
        metadata={
            "help": "Behind nginx: internal location that serves the content store, e.g."
            " /_media/; empty = the app serves files itself"
        },
    )
    sandbox_origin: str = field(
        default="",
        metadata={
            "help": "Origin (scheme://host[:port]) that serves interactive lessons' files,"
            " e.g. https://apps.stepstone.lan; empty = on loopback, localhost and 127.0.0.1"
            " serve each other's (interactive lessons need it elsewhere)"
        },
    )
    sync_every_hours: int = field(
        default=6,
        metadata={
            "help": "Period of the stepstone-sync timer (keep the two equal); shown to admins"
            " as each publisher's next sync"
        },
    )
    backup_keep: int = field(
        default=7,
        metadata={"help": "Backups `stepstone backup` keeps in a folder (the newest ones)"},
    )
    min_free_disk_mb: int = field(
        default=2048,
        metadata={"help": "Health check warns when the data folder's disk has less free"},
    )
    tls_certificate: str = field(
        default="",
        metadata={"help": "PEM certificate the TLS proxy serves; health check warns before expiry"},
    )
    max_upload_mb: int = field(
        default=3,
        metadata={
            "help": "Largest file upload (roster CSV, publisher root.json) in MiB; keep"
            " nginx's client_max_body_size for /admin/ the same"
        },
    )
    teacher_file_max_mb: int = field(
        default=100,
        metadata={
            "help": "Largest file (PDF or video) an educator may upload in MiB; keep nginx's"
            " client_max_body_size for /teach/files 1 more"
        },
    )
    metrics: bool = field(
        default=True,
        metadata={"help": "Count requests for GET /metrics (Prometheus; loopback only)"},
    )
    import_narration: str = field(
        default="espeak-ng",
        metadata={
            "help": "Read lessons aloud at import when a package brings no narration:"
            " 'espeak-ng' (when installed) or 'off'"
        },
    )

    @property
    def database_path(self) -> Path:
        return self.data_dir / "stepstone.db"

    @property
    def secret_key_path(self) -> Path:
        return self.data_dir / "secret.key"

    def signing_key(self) -> str:
        """The key for itsdangerous token services; read from the key file if not set."""
        if self.secret_key is not None:
            return self.secret_key.reveal()
        try:
            key = self.secret_key_path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            raise ConfigError(
                f"No secret key at {self.secret_key_path}. Run `stepstone init` first."
            ) from None
        if len(key) < 32:
            raise ConfigError(f"The secret key in {self.secret_key_path} is too short.")
        return key

    def help_rows(self) -> list[tuple[str, str, str]]:
        """(variable, default, help) for each setting, for the docs and `--help`."""
        rows = []
        for f in dataclasses.fields(self):
            default = str(f.default) if isinstance(f.default, Path) else repr(f.default)
            rows.append((_env_name(f.name), default, f.metadata.get("help", "")))
        return rows


def _env_name(name: str) -> str:
    return "STEPSTONE_" + name.upper()


def _coerce(name: str, kind: str, raw: Any) -> Any:
    """Turn a raw value from the environment or TOML into the declared type."""
    try:
        if kind == "Path":
            return Path(str(raw))
        if kind == "Secret | None":
            return Secret(str(raw)) if raw else None
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "tuple[str, ...]":
            if isinstance(raw, list | tuple):
                return tuple(str(item) for item in raw)
            return tuple(part.strip() for part in str(raw).split(",") if part.strip())
        return str(raw)
    except ValueError:
        raise ConfigError(f"Setting {name}: {raw!r} is not a valid {kind}.") from None


def _validate(settings: Settings) -> None:
    if settings.default_language not in SUPPORTED_LANGUAGES:
        raise ConfigError(
            f"Setting default_language must be one of {', '.join(SUPPORTED_LANGUAGES)}."
        )
    for name in (
        "learner_idle_minutes",
        "staff_idle_minutes",
        "session_max_hours",
        "workers",
        "worker_ping_seconds",
    ):
        if getattr(settings, name) < 1:
            raise ConfigError(f"Setting {name} must be at least 1.")
    if not 0 <= settings.event_batch_seconds <= 300:
        raise ConfigError("Setting event_batch_seconds must be between 0 and 300.")
    if settings.impact_min_cell < 5:
        raise ConfigError("Setting impact_min_cell must be at least 5.")
    if not 0 <= settings.due_after_joining_days <= 365:
        raise ConfigError("Setting due_after_joining_days must be between 0 and 365.")
    if not set(settings.lockdown_roles) <= {"admin", "educator"}:
        raise ConfigError("Setting lockdown_roles may name only admin and educator.")
    if not 0 <= settings.lockdown_due_days_after <= 60:
        raise ConfigError("Setting lockdown_due_days_after must be between 0 and 60.")
    if settings.xapi_actor not in {"facility_id", "pseudonym"}:
        raise ConfigError("Setting xapi_actor must be 'facility_id' or 'pseudonym'.")
    if settings.access_combine not in {"union", "strictest"}:
        raise ConfigError("Setting access_combine must be 'union' or 'strictest'.")
    if settings.import_narration not in {"espeak-ng", "off"}:
        raise ConfigError("Setting import_narration must be 'espeak-ng' or 'off'.")
    if settings.learner_catalog not in {"open", "assigned"}:
        raise ConfigError("Setting learner_catalog must be 'open' or 'assigned'.")
    if not 3 <= settings.learner_lock_after <= 100:
        raise ConfigError("Setting learner_lock_after must be between 3 and 100.")
    if not 0 < settings.port < 65536:
        raise ConfigError("Setting port must be between 1 and 65535.")
    if not 1 <= settings.sync_every_hours <= 24 * 7:
        raise ConfigError("Setting sync_every_hours must be between 1 and 168 (a week).")
    if not 1 <= settings.backup_keep <= 1000:
        raise ConfigError("Setting backup_keep must be between 1 and 1000.")
    if not 1 <= settings.max_upload_mb <= 1024:
        raise ConfigError("Setting max_upload_mb must be between 1 and 1024.")
    if not 1 <= settings.teacher_file_max_mb <= 4096:
        raise ConfigError("Setting teacher_file_max_mb must be between 1 and 4096.")
    if settings.min_free_disk_mb < 0:
        raise ConfigError("Setting min_free_disk_mb must be 0 or more.")
    if settings.facility_id and not _FACILITY_ID.fullmatch(settings.facility_id):
        raise ConfigError(
            "Setting facility_id must be 3 to 64 lower case letters, digits, . or -,"
            f" starting with a letter or digit, got {settings.facility_id!r}."
        )
    if not 1 <= settings.transfer_valid_days <= 3650:
        raise ConfigError("Setting transfer_valid_days must be between 1 and 3650.")
    _validate_accel_prefix(settings.media_accel_prefix)
    _validate_sandbox_origin(settings.sandbox_origin)
    _validate_time_zone(settings.time_zone)


def _validate_time_zone(name: str) -> None:
    """A wrong zone would shift every due date on every page by hours: refuse it at start."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"Setting time_zone must be a time zone name like America/Chicago or UTC, got {name!r}."
        ) from None


def _validate_sandbox_origin(origin: str) -> None:
    """Interactive lessons run from this origin, which must differ from the app's: it is
    an origin only (no path), so the browser keeps the two apart."""
    if origin and not _ORIGIN.fullmatch(origin):
        raise ConfigError(
            "Setting sandbox_origin must be a scheme and host name, with a port if needed"
            f" (like https://apps.stepstone.lan), got {origin!r}."
        )


def _validate_accel_prefix(prefix: str) -> None:
    """The prefix is put in front of a blob's path in X-Accel-Redirect, so it must be a
    plain location of its own: a typo here would send every video nowhere, with no error
    until a learner presses play."""
    if not prefix:
        return
    if not (prefix.startswith("/") and prefix.endswith("/")):
        raise ConfigError(
            f"Setting media_accel_prefix must start and end with / (like /_media/), got {prefix!r}."
        )
    segments = prefix.strip("/").split("/")
    if not all(_PATH_SEGMENT.fullmatch(part) and part not in {".", ".."} for part in segments):
        raise ConfigError(
            "Setting media_accel_prefix must be a plain path of letters, digits, . _ - ~"
            f" (like /_media/), got {prefix!r}."
        )


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: Path | None = None, **overrides: Any
) -> Settings:
    """Read settings: defaults, then the TOML file, then `STEPSTONE_*`, then overrides.

    The TOML file is `STEPSTONE_CONFIG` if set, else `DATA_DIR/stepstone.toml` if present.
    """
    env = os.environ if environ is None else environ
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}

    data_dir = Path(overrides.get("data_dir") or env.get("STEPSTONE_DATA_DIR") or "var")
    path = config_file or (Path(env["STEPSTONE_CONFIG"]) if env.get("STEPSTONE_CONFIG") else None)
    if path is None and (data_dir / "stepstone.toml").is_file():
        path = data_dir / "stepstone.toml"
    if path is not None:
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"Cannot read config file {path}: {exc}") from None
        for key, raw in table.items():
            if key not in fields:
                raise ConfigError(f"Unknown setting {key!r} in {path}.")
            values[key] = _coerce(key, str(fields[key].type), raw)
    for name, f in fields.items():
        if _env_name(name) in env:
            values[name] = _coerce(name, str(f.type), env[_env_name(name)])
    for name, raw in overrides.items():
        if name not in fields:
            raise ConfigError(f"Unknown setting {name!r}.")
        if raw is not None:
            values[name] = _coerce(name, str(fields[name].type), raw)
    settings = Settings(**values)
    _validate(settings)
    return settings
