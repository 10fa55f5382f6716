"""Versioned schema migrations, recorded by sqlite-utils' `Migrations`.

Each migration runs in its own transaction with the record of it being applied. Never
edit a migration that has shipped; add a new one.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

import sqlite_utils
from sqlite_utils.migrations import Migrations

from server.core.db import Database
from server.people import audit

migrations = Migrations("stepstone")


@migrations(name="0001_accounts")
def accounts(db: sqlite_utils.Database) -> None:
    _run_script(
        db,
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('admin', 'educator', 'learner')),
            username TEXT COLLATE NOCASE UNIQUE,
            facility_id TEXT COLLATE NOCASE UNIQUE,
            display_name TEXT NOT NULL,
            language TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'es')),
            secret_hash TEXT NOT NULL,
            must_change_secret INTEGER NOT NULL DEFAULT 1,
            disabled_at TEXT,
            locked_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            CHECK ((role = 'learner') = (facility_id IS NOT NULL)),
            CHECK ((role != 'learner') = (username IS NOT NULL))
        );
        CREATE TABLE groups (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL COLLATE NOCASE UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('class', 'housing', 'program')),
            description TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE TABLE group_members (
            group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            added_at TEXT NOT NULL,
            PRIMARY KEY (group_id, user_id)
        );
        CREATE INDEX group_members_user ON group_members(user_id);
        CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            csrf_secret TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_seen_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            ended_at REAL,
            end_reason TEXT,
            client_address TEXT NOT NULL DEFAULT '',
            user_agent TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX sessions_user ON sessions(user_id, ended_at);
        CREATE TABLE sign_in_failures (
            key TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            last_failure_at REAL NOT NULL
        );
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor_id INTEGER,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '{}',
            client_address TEXT NOT NULL DEFAULT '',
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_log_action ON audit_log(action, id);
        CREATE INDEX audit_log_actor ON audit_log(actor_id, id);
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        """,
    )


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    """Run statements one by one: `executescript` would commit the open transaction."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"Incomplete SQL statement in migration: {statement[:60]!r}")


def apply_migrations(database: Database) -> list[str]:
    """Apply pending migrations, all in one transaction; returns the names applied.

    If any migration fails, none is applied and the database is left as it was.
    """
    with database.write() as db:
        pending = [m.name for m in migrations.pending(db)]
        if pending:
            migrations.apply(db)
    return pending


def pending_migrations(database: Database) -> list[str]:
    return [m.name for m in migrations.pending(database.reader)]


@migrations(name="0002_catalog")
def catalog(db: sqlite_utils.Database) -> None:
    _run_script(
        db,
        """
        CREATE TABLE publishers (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL COLLATE NOCASE UNIQUE,
            display_name TEXT NOT NULL,
            namespace TEXT NOT NULL UNIQUE,
            trusted_root BLOB NOT NULL,
            auto_publish INTEGER NOT NULL DEFAULT 0,
            demo INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE TABLE sync_sources (
            id INTEGER PRIMARY KEY,
            publisher_id INTEGER NOT NULL REFERENCES publishers(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('folder', 'mirror')),
            location TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (publisher_id, kind, location)
        );
        CREATE TABLE sync_runs (
            id INTEGER PRIMARY KEY,
            publisher_id INTEGER NOT NULL REFERENCES publishers(id) ON DELETE CASCADE,
            source_id INTEGER REFERENCES sync_sources(id) ON DELETE SET NULL,
            trigger TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'partial')),
            message TEXT NOT NULL DEFAULT '',
            imported INTEGER NOT NULL DEFAULT 0,
            retracted INTEGER NOT NULL DEFAULT 0,
            refused INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX sync_runs_publisher ON sync_runs(publisher_id, id);
        CREATE TABLE courses (
            id INTEGER PRIMARY KEY,
            course_id TEXT NOT NULL UNIQUE,
            publisher_id INTEGER NOT NULL REFERENCES publishers(id),
            high_water_version INTEGER NOT NULL,
            live_version_id INTEGER REFERENCES course_versions(id),
            pulled_at TEXT,
            pulled_reason TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE course_versions (
            id INTEGER PRIMARY KEY,
            course_pk INTEGER NOT NULL REFERENCES courses(id),
            version INTEGER NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'approved', 'rejected', 'retired', 'retracted')),
            title TEXT NOT NULL,
            summary TEXT NOT NULL,
            category TEXT NOT NULL,
            language TEXT NOT NULL,
            level TEXT NOT NULL,
            estimated_hours REAL NOT NULL,
            credits REAL NOT NULL DEFAULT 0,
            license TEXT NOT NULL DEFAULT '',
            manifest TEXT NOT NULL,
            package_sha256 TEXT NOT NULL,
            review_flags TEXT NOT NULL DEFAULT '[]',
            imported_at TEXT NOT NULL,
            reviewed_at TEXT,
            reviewed_by TEXT,
            review_reason TEXT NOT NULL DEFAULT '',
            UNIQUE (course_pk, version)
        );
        CREATE INDEX course_versions_status ON course_versions(status);
        CREATE TABLE lessons (
            id INTEGER PRIMARY KEY,
            version_id INTEGER NOT NULL REFERENCES course_versions(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            position INTEGER NOT NULL,
            title TEXT NOT NULL,
            kind TEXT NOT NULL,
            html_sha256 TEXT,
            data TEXT NOT NULL DEFAULT '{}',
            UNIQUE (version_id, key)
        );
        CREATE TABLE assets (
            version_id INTEGER NOT NULL REFERENCES course_versions(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            media_type TEXT NOT NULL,
            PRIMARY KEY (version_id, path)
        );
        CREATE INDEX assets_sha256 ON assets(sha256);
        """,
    )


@migrations(name="0003_learning")
def learning(db: sqlite_utils.Database) -> None:
    """Assignments, enrolments, progress events and what is derived from them, quiz
    attempts, workbook entries, certificates.

    Progress is keyed by the stable ``course_id`` and lesson ``key`` (never by a version
    row), so a new course version keeps every learner's progress.
    """
    _run_script(
        db,
        """
        ALTER TABLE users ADD COLUMN text_size TEXT NOT NULL DEFAULT 'normal'
            CHECK (text_size IN ('normal', 'large', 'larger'));
        CREATE TABLE assignments (
            id INTEGER PRIMARY KEY,
            course_id TEXT NOT NULL,
            lesson_key TEXT,
            user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
            group_id INTEGER REFERENCES groups(id) ON DELETE CASCADE,
            due_date TEXT,
            note TEXT NOT NULL DEFAULT '',
            assigned_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            CHECK ((user_id IS NULL) != (group_id IS NULL))
        );
        CREATE INDEX assignments_user ON assignments(user_id);
        CREATE INDEX assignments_group ON assignments(group_id);
        CREATE INDEX assignments_course ON assignments(course_id);
        CREATE TABLE enrolments (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            course_id TEXT NOT NULL,
            enrolled_at TEXT NOT NULL,
            PRIMARY KEY (user_id, course_id)
        );
        CREATE TABLE progress_events (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            event_id TEXT NOT NULL,
            type TEXT NOT NULL,
            course_id TEXT NOT NULL,
            lesson_key TEXT NOT NULL,
            version_id INTEGER REFERENCES course_versions(id),
            position REAL,
            data TEXT NOT NULL DEFAULT '{}',
            credited_seconds REAL NOT NULL DEFAULT 0,
            client_time TEXT,
            received_at TEXT NOT NULL,
            UNIQUE (user_id, event_id)
        );
        CREATE INDEX progress_events_user ON progress_events(user_id, id);
        CREATE INDEX progress_events_course ON progress_events(course_id, lesson_key);
        CREATE TABLE lesson_progress (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            course_id TEXT NOT NULL,
            lesson_key TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'in_progress'
                CHECK (status IN ('in_progress', 'done')),
            position REAL NOT NULL DEFAULT 0,
            duration REAL NOT NULL DEFAULT 0,
            watched TEXT NOT NULL DEFAULT '[]',
            seconds_spent REAL NOT NULL DEFAULT 0,
            score REAL,
            passed INTEGER,
            started_at TEXT NOT NULL,
            completed_at TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (user_id, course_id, lesson_key)
        );
        CREATE INDEX lesson_progress_recent ON lesson_progress(user_id, updated_at);
        CREATE TABLE activity (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            last_event_at REAL NOT NULL,
            credited_until REAL NOT NULL
        );
        CREATE TABLE quiz_attempts (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            course_id TEXT NOT NULL,
            lesson_key TEXT NOT NULL,
            version_id INTEGER NOT NULL REFERENCES course_versions(id),
            answers TEXT NOT NULL DEFAULT '{}',
            checked TEXT NOT NULL DEFAULT '[]',
            score REAL,
            passed INTEGER,
            started_at TEXT NOT NULL,
            submitted_at TEXT
        );
        CREATE INDEX quiz_attempts_user ON quiz_attempts(user_id, course_id, lesson_key, id);
        CREATE TABLE workbook_entries (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            course_id TEXT NOT NULL,
            lesson_key TEXT NOT NULL,
            version_id INTEGER NOT NULL REFERENCES course_versions(id),
            status TEXT NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'submitted', 'reviewed')),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            submitted_at TEXT,
            reviewed_at TEXT,
            reviewed_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            feedback TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX workbook_entries_user ON workbook_entries(user_id, course_id, lesson_key);
        CREATE INDEX workbook_entries_status ON workbook_entries(status, submitted_at);
        CREATE UNIQUE INDEX workbook_one_draft
            ON workbook_entries(user_id, course_id, lesson_key) WHERE status = 'draft';
        -- One row per prompt. `visibility` is copied from the prompt when the answer is
        -- written: an answer written as private stays private whatever a later course
        -- version says, and staff queries select visibility = 'educator' only.
        CREATE TABLE workbook_answers (
            entry_id INTEGER NOT NULL REFERENCES workbook_entries(id) ON DELETE CASCADE,
            prompt_key TEXT NOT NULL,
            visibility TEXT NOT NULL CHECK (visibility IN ('private', 'educator')),
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (entry_id, prompt_key)
        );
        CREATE TABLE certificates (
            code TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            course_id TEXT NOT NULL,
            version_id INTEGER NOT NULL REFERENCES course_versions(id),
            learner_name TEXT NOT NULL,
            facility_id TEXT NOT NULL,
            course_title TEXT NOT NULL,
            publisher TEXT NOT NULL,
            hours REAL NOT NULL,
            credits REAL NOT NULL DEFAULT 0,
            facility TEXT NOT NULL,
            completed_at TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            UNIQUE (user_id, course_id)
        );
        """,
    )


@migrations(name="0004_teaching")
def teaching(db: sqlite_utils.Database) -> None:
    """Learning plans, weekly time totals (so dashboards never scan events) and the
    indexes the educator dashboards and exports read by."""
    _run_script(
        db,
        """
        CREATE TABLE plan_goals (
            id INTEGER PRIMARY KEY,
            learner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            category TEXT NOT NULL,
            title TEXT NOT NULL,
            course_id TEXT,
            target_date TEXT,
            note TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'met', 'dropped')),
            created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX plan_goals_learner ON plan_goals(learner_id, status);
        CREATE TABLE weekly_time (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            week TEXT NOT NULL,
            seconds REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (user_id, week)
        );
        CREATE INDEX lesson_progress_course ON lesson_progress(course_id, lesson_key, status);
        CREATE INDEX certificates_course ON certificates(course_id, completed_at);
        CREATE INDEX quiz_attempts_course ON quiz_attempts(course_id, lesson_key, submitted_at);
        CREATE INDEX progress_events_received ON progress_events(received_at);
        """,
    )


@migrations(name="0005_workbook_privacy")
def workbook_privacy(db: sqlite_utils.Database) -> None:
    """Answers saved before the strictest-label rule kept the label of the version their
    entry was started under, even when a newer version made the prompt private before
    the learner last wrote. Which words were written when is not known, so an answer
    becomes private when any served version of its course at least as new as its entry's
    marks the prompt private and went live before the answer was last written."""
    _run_script(
        db,
        """
        UPDATE workbook_answers SET visibility = 'private'
        WHERE visibility = 'educator' AND EXISTS (
            SELECT 1 FROM workbook_entries e
            JOIN course_versions started ON started.id = e.version_id
            JOIN course_versions later ON later.course_pk = started.course_pk
            JOIN lessons l ON l.version_id = later.id AND l.key = e.lesson_key
            JOIN json_each(l.data, '$.workbook.prompts') p
            WHERE e.id = workbook_answers.entry_id
            AND later.version >= started.version
            AND later.status IN ('approved', 'retired', 'retracted')
            AND coalesce(later.reviewed_at, later.imported_at) <= workbook_answers.updated_at
            AND json_extract(p.value, '$.key') = workbook_answers.prompt_key
            AND coalesce(json_extract(p.value, '$.visibility'), '') != 'educator'
        );
        """,
    )


@migrations(name="0006_sign_in_tries")
def sign_in_tries(db: sqlite_utils.Database) -> None:
    """Number every counted sign-in try, so tries checked at the same time settle in the
    order they were counted; forget failures counted for an id before its account existed
    (they locked new accounts with no Unlock shown)."""
    _run_script(
        db,
        """
        ALTER TABLE sign_in_failures ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
        UPDATE sign_in_failures SET attempts = failures;
        """,
    )
    stale = [
        key
        for key, last, created in db.execute(
            "SELECT f.key, f.last_failure_at, u.created_at FROM sign_in_failures f"
            " JOIN users u ON f.key = (CASE u.role WHEN 'learner' THEN 'learner:'"
            " || lower(u.facility_id) ELSE 'staff:' || lower(u.username) END)"
        ).fetchall()
        if datetime.fromisoformat(created).timestamp() > float(last)
    ]
    db.conn.executemany("DELETE FROM sign_in_failures WHERE key = ?", [[k] for k in stale])


@migrations(name="0007_health_probe")
def health_probe(db: sqlite_utils.Database) -> None:
    """One row that the health check writes, to learn that writes still work (a full disk
    or a read-only database leaves every read working)."""
    _run_script(
        db,
        """
        CREATE TABLE health_probe (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            written_at TEXT NOT NULL
        );
        """,
    )


@migrations(name="0008_audit_seal")
def audit_seal(db: sqlite_utils.Database) -> None:
    """Link the audit log again with the keyed hash (see ``server.people.audit``).

    Only a chain whose plain links are intact is resealed: one that was already changed
    stays as it is, so ``audit verify`` goes on reporting where.
    """
    path = audit.database_file(db)
    if path is None:
        return  # an in-memory database (a schema check) has no log worth keeping
    audit.ensure_key(path)
    rows = db.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
    if not rows or not _plain_chain_intact(rows):
        return
    key = audit.read_key(path)
    db.execute("DROP TRIGGER audit_log_no_update")
    for row_id, prev_hash, digest in audit.reseal_rows(key, rows):
        db.execute(
            "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?", [prev_hash, digest, row_id]
        )
    _run_script(
        db,
        """
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        """,
    )


@migrations(name="0009_review_decisions")
def review_decisions(db: sqlite_utils.Database) -> None:
    """Reasons for refusing content (the facility's list) and the reason, lesson and note
    of each rejection (see ``server.catalog.decisions``). Earlier rejections keep their
    free text in ``course_versions.review_reason``."""
    _run_script(
        db,
        """
        CREATE TABLE reject_reasons (
            code TEXT PRIMARY KEY,
            label TEXT NOT NULL,
            position INTEGER NOT NULL,
            retired_at TEXT
        );
        CREATE TABLE review_decisions (
            version_id INTEGER PRIMARY KEY REFERENCES course_versions(id) ON DELETE CASCADE,
            reason_code TEXT NOT NULL,
            reason TEXT NOT NULL,
            lesson_key TEXT NOT NULL DEFAULT '',
            lesson TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            share_note INTEGER NOT NULL DEFAULT 0 CHECK (share_note IN (0, 1))
        );
        """,
    )
    # The defaults as they shipped (kept here, not imported: a migration never changes).
    defaults = [
        ("contact-information", "Contact information"),
        ("security-concern", "Security concern"),
        ("not-suitable", "Not suitable for this facility"),
        ("broken", "Broken or incomplete"),
        ("outside-links", "Outside links"),
    ]
    for position, (code, label) in enumerate(defaults, start=1):
        db.execute(
            "INSERT INTO reject_reasons (code, label, position) VALUES (?, ?, ?)",
            [code, label, position],
        )
    db.execute(
        "INSERT INTO reject_reasons (code, label, position) VALUES ('other', 'Other', 1000000)"
    )


def _plain_chain_intact(rows: list[sqlite3.Row]) -> bool:
    prev_hash = audit.GENESIS
    for row in rows:
        if row["prev_hash"] != prev_hash or audit.plain_row_hash(prev_hash, row) != row["hash"]:
            return False
        prev_hash = row["hash"]
    return True


@migrations(name="0010_pdf_text")
def pdf_text(db: sqlite_utils.Database) -> None:
    """The words of each PDF file, read once for the review page (``catalog.content_review``)
    and kept by the file's digest: a PDF unchanged between versions is read only once."""
    _run_script(
        db,
        """
        CREATE TABLE pdf_text (
            sha256 TEXT PRIMARY KEY,
            pages TEXT NOT NULL,
            error TEXT NOT NULL DEFAULT '',
            read_at TEXT NOT NULL
        );
        """,
    )


@migrations(name="0011_watch_list")
def watch_list(db: sqlite_utils.Database) -> None:
    """Words and phrases a facility's staff flag in every package they review (see
    ``server.catalog.watchlist``). ``folded`` is the phrase as matched (no case, no
    accents), so "Cártel" and "cartel" are one entry."""
    _run_script(
        db,
        """
        CREATE TABLE watch_words (
            id INTEGER PRIMARY KEY,
            phrase TEXT NOT NULL,
            folded TEXT NOT NULL UNIQUE,
            added_by TEXT NOT NULL,
            added_at TEXT NOT NULL
        );
        """,
    )


@migrations(name="0012_position_time")
def position_time(db: sqlite_utils.Database) -> None:
    """When, on the tablet's clock, the stored video or audio position was reached: a batch
    of events that arrives late (sent before, answered after another) must not move a
    learner's place back (``learning.progress``)."""
    _run_script(db, "ALTER TABLE lesson_progress ADD COLUMN position_at TEXT;")


@migrations(name="0013_access_windows")
def access_windows(db: sqlite_utils.Database) -> None:
    """When learners may use tablets (``people.access_windows``) and lockdowns
    (``people.lockdowns``). A window belongs to a group or to one learner (an exception
    that replaces the groups' windows for them); minutes count from local midnight in the
    facility's time zone, ``ends`` 1440 being midnight at the end of the day. A lockdown
    keeps the name of what it covered, so its history reads the same after a group is
    renamed or deleted. ``access_rules_state.version`` moves with every change to windows,
    holidays or lockdowns, so each server process knows when to read them again. A
    learner's absence that staff record (court, medical, transfer; ``people.absences``)
    counts like a lockdown of that learner for their due dates and reports."""
    _run_script(
        db,
        """
        CREATE TABLE access_windows (
            id INTEGER PRIMARY KEY,
            group_id INTEGER REFERENCES groups(id) ON DELETE CASCADE,
            user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
            weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
            starts INTEGER NOT NULL CHECK (starts BETWEEN 0 AND 1439),
            ends INTEGER NOT NULL CHECK (ends BETWEEN 1 AND 1440 AND ends > starts),
            CHECK ((group_id IS NULL) != (user_id IS NULL))
        );
        CREATE INDEX access_windows_group ON access_windows(group_id);
        CREATE INDEX access_windows_user ON access_windows(user_id);
        CREATE TABLE access_holidays (
            day TEXT PRIMARY KEY,
            name TEXT NOT NULL
        );
        CREATE TABLE lockdowns (
            id INTEGER PRIMARY KEY,
            group_id INTEGER,
            scope_name TEXT NOT NULL,
            reason TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            started_at REAL NOT NULL,
            planned_end REAL,
            ended_at REAL,
            started_by TEXT NOT NULL,
            ended_by TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX lockdowns_open ON lockdowns(ended_at);
        CREATE TABLE access_rules_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL
        );
        INSERT INTO access_rules_state (id, version) VALUES (1, 0);
        CREATE TABLE learner_absences (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            reason TEXT NOT NULL,
            first_day TEXT NOT NULL,
            last_day TEXT NOT NULL CHECK (last_day >= first_day),
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX learner_absences_user ON learner_absences(user_id);
        """,
    )


@migrations(name="0014_credit_ledger")
def credit_ledger(db: sqlite_utils.Database) -> None:
    """Who a catalog item is offered to (``learning.offers``), the facility's credit rules
    and the earned-credit ledger (``learning.credit``), and the time a learner actually
    spent, kept on each certificate beside its nominal hours.

    Rules and ledger entries are never changed or removed: a rule is superseded by a newer
    version, an entry by a correction that points at it (the triggers refuse the rest)."""
    _run_script(
        db,
        """
        CREATE TABLE offers (
            item_kind TEXT NOT NULL,
            item_id TEXT NOT NULL,
            mode TEXT NOT NULL CHECK (mode IN ('only', 'except')),
            changed_at TEXT NOT NULL,
            PRIMARY KEY (item_kind, item_id)
        );
        CREATE TABLE offer_groups (
            item_kind TEXT NOT NULL,
            item_id TEXT NOT NULL,
            group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            PRIMARY KEY (item_kind, item_id, group_id),
            FOREIGN KEY (item_kind, item_id) REFERENCES offers(item_kind, item_id)
                ON DELETE CASCADE
        );
        CREATE INDEX offer_groups_group ON offer_groups(group_id);
        CREATE TABLE credit_rules (
            id INTEGER PRIMARY KEY,
            target_kind TEXT NOT NULL CHECK (target_kind IN ('course', 'category')),
            target TEXT NOT NULL,
            credit_type TEXT NOT NULL CHECK (credit_type IN
                ('earned-time', 'program-completion', 'college-credit', 'none')),
            hours_basis TEXT NOT NULL CHECK (hours_basis IN ('nominal', 'measured')),
            effective_from TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX credit_rules_target ON credit_rules(target_kind, target, effective_from);
        CREATE TRIGGER credit_rules_no_update BEFORE UPDATE ON credit_rules
            BEGIN SELECT RAISE(ABORT, 'credit rules are never edited: add a new version'); END;
        CREATE TRIGGER credit_rules_no_delete BEFORE DELETE ON credit_rules
            BEGIN SELECT RAISE(ABORT, 'credit rules are never edited: add a new version'); END;
        CREATE TABLE credit_ledger (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            course_id TEXT NOT NULL,
            course_title TEXT NOT NULL,
            course_version INTEGER NOT NULL,
            rule_id INTEGER REFERENCES credit_rules(id),
            credit_type TEXT NOT NULL,
            hours_basis TEXT NOT NULL,
            nominal_hours REAL NOT NULL,
            measured_hours REAL NOT NULL,
            hours REAL NOT NULL,
            score REAL,
            started_at TEXT,
            completed_at TEXT NOT NULL,
            certificate_code TEXT,
            corrects_id INTEGER REFERENCES credit_ledger(id),
            reason TEXT NOT NULL DEFAULT '',
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            digest TEXT NOT NULL
        );
        CREATE UNIQUE INDEX credit_ledger_earned_once ON credit_ledger(user_id, course_id)
            WHERE corrects_id IS NULL;
        CREATE UNIQUE INDEX credit_ledger_corrected_once ON credit_ledger(corrects_id)
            WHERE corrects_id IS NOT NULL;
        CREATE TRIGGER credit_ledger_no_update BEFORE UPDATE ON credit_ledger
            BEGIN SELECT RAISE(ABORT, 'credit_ledger is append-only'); END;
        CREATE TRIGGER credit_ledger_no_delete BEFORE DELETE ON credit_ledger
            BEGIN SELECT RAISE(ABORT, 'credit_ledger is append-only'); END;
        ALTER TABLE certificates ADD COLUMN measured_seconds REAL;
        """,
    )


@migrations(name="0015_facility_trust")
def facility_trust(db: sqlite_utils.Database) -> None:
    """Facility identity and learner transfers (``server.records``).

    ``trusted_facilities``: the facility cards this facility pinned, and its own; a
    removed card stays (``removed_at``) so its records are refused as revoked.
    ``transfers``: each transfer bundle imported, by its id, with the sender's per-learner
    sequence, so the same bundle twice changes nothing and an older one is refused, and the
    sender's record as received (``received``: every section but the workbook pages).
    ``from_elsewhere``: a course record that came with a learner for a course version this
    facility does not hold ("completed elsewhere"), with its evidence.
    ``carried_pages``: workbook pages a learner brought, answers with their privacy.
    ``transfer_choices``: the workbook pages a learner chose to take when they leave.
    ``transfer_exports``: each bundle this facility signed for a learner, numbered per
    learner, so the receiver can tell a newer bundle from an older one.
    """
    _run_script(
        db,
        """
        CREATE TABLE trusted_facilities (
            facility_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            card TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            own INTEGER NOT NULL DEFAULT 0,
            added_by TEXT NOT NULL,
            added_at TEXT NOT NULL,
            removed_at TEXT,
            removed_by TEXT
        );
        CREATE TABLE transfers (
            bundle_id TEXT PRIMARY KEY,
            sender_facility_id TEXT NOT NULL,
            sender_learner_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            bundle_sha256 TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            imported_by TEXT NOT NULL,
            summary TEXT NOT NULL DEFAULT '{}',
            received TEXT NOT NULL DEFAULT '{}',
            extra_sections TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX transfers_sender
            ON transfers(sender_facility_id, sender_learner_id, sequence);
        CREATE INDEX transfers_user ON transfers(user_id);
        CREATE TABLE from_elsewhere (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            facility_id TEXT NOT NULL,
            facility_name TEXT NOT NULL,
            course_id TEXT NOT NULL,
            course_title TEXT NOT NULL,
            version INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('completed', 'in_progress')),
            started_at TEXT,
            completed_at TEXT,
            score REAL,
            seconds_spent REAL NOT NULL DEFAULT 0,
            certificate_code TEXT,
            evidence TEXT NOT NULL DEFAULT '{}',
            bundle_id TEXT NOT NULL,
            UNIQUE (user_id, facility_id, course_id, version)
        );
        CREATE INDEX from_elsewhere_course ON from_elsewhere(course_id);
        CREATE TABLE carried_pages (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            facility_id TEXT NOT NULL,
            origin_entry TEXT NOT NULL,
            course_id TEXT NOT NULL,
            course_title TEXT NOT NULL,
            lesson_key TEXT NOT NULL,
            lesson_title TEXT NOT NULL,
            status TEXT NOT NULL,
            answers TEXT NOT NULL DEFAULT '[]',
            feedback TEXT NOT NULL DEFAULT '',
            written_at TEXT NOT NULL,
            bundle_id TEXT NOT NULL,
            UNIQUE (user_id, facility_id, origin_entry)
        );
        CREATE TABLE transfer_exports (
            bundle_id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            sequence INTEGER NOT NULL,
            bundle_sha256 TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            exported_by TEXT NOT NULL,
            UNIQUE (user_id, sequence)
        );
        CREATE TABLE transfer_choices (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            entry_id INTEGER NOT NULL REFERENCES workbook_entries(id) ON DELETE CASCADE,
            chosen_at TEXT NOT NULL,
            PRIMARY KEY (user_id, entry_id)
        );
        """,
    )


@migrations(name="0016_passports")
def passports(db: sqlite_utils.Database) -> None:
    """Learning Passports as issued (``records.passports``): the signed file's exact bytes,
    so a reprint or a second download is the same document, and the check of a passport
    brought back to this facility can say it was issued here. Certificates can now be
    revoked (``learning.certificates``): when, by whom and why; the row stays, so a check of
    its code says "revoked" instead of "unknown"."""
    _run_script(
        db,
        """
        CREATE TABLE passports (
            id TEXT PRIMARY KEY,
            learner_id INTEGER NOT NULL REFERENCES users(id),
            language TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            issued_by TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            document TEXT NOT NULL
        );
        CREATE INDEX passports_learner ON passports(learner_id, issued_at);
        ALTER TABLE certificates ADD COLUMN revoked_at TEXT;
        ALTER TABLE certificates ADD COLUMN revoked_by TEXT NOT NULL DEFAULT '';
        ALTER TABLE certificates ADD COLUMN revoke_reason TEXT NOT NULL DEFAULT '';
        """,
    )


@migrations(name="0017_interactive")
def interactive(db: sqlite_utils.Database) -> None:
    """What a SCORM lesson's packages keep of each learner (``learning.scorm``): the
    runtime data (``cmi``) of each SCO, per attempt, so a learner resumes where they left
    off on any tablet, and a new attempt starts once one is finished."""
    _run_script(
        db,
        """
        CREATE TABLE scorm_attempts (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            course_id TEXT NOT NULL,
            lesson_key TEXT NOT NULL,
            sco_id TEXT NOT NULL,
            attempt INTEGER NOT NULL CHECK (attempt >= 1),
            cmi TEXT NOT NULL DEFAULT '{}',
            finished INTEGER NOT NULL DEFAULT 0,
            score REAL,
            passed INTEGER,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (user_id, course_id, lesson_key, sco_id, attempt)
        );
        """,
    )


@migrations(name="0019_course_editions")
def course_editions(db: sqlite_utils.Database) -> None:
    """A version's cover picture (its package path and alt text) and the course's editions
    in other languages (JSON: language → course id), as columns, so the catalog and the
    assign form read them without parsing each manifest. Versions imported before are
    filled from their manifests."""
    _run_script(
        db,
        """
        ALTER TABLE course_versions ADD COLUMN cover TEXT;
        ALTER TABLE course_versions ADD COLUMN cover_alt TEXT NOT NULL DEFAULT '';
        ALTER TABLE course_versions ADD COLUMN editions TEXT NOT NULL DEFAULT '{}';
        UPDATE course_versions SET
            cover = json_extract(manifest, '$.course.cover.src'),
            cover_alt = coalesce(json_extract(manifest, '$.course.cover.alt'), ''),
            editions = coalesce(json_extract(manifest, '$.course.editions'), '{}')
        WHERE json_valid(manifest);
        """,
    )


@migrations(name="0020_books")
def books(db: sqlite_utils.Database) -> None:
    """What a course version that is a book (an EPUB converted at the publisher's build)
    adds to the catalog: authors, subjects, reading level and cover, for the learners'
    Library (``server.learning.bookshelf``). Written by ``catalog.library`` at import."""
    _run_script(
        db,
        """
        CREATE TABLE books (
            version_id INTEGER PRIMARY KEY REFERENCES course_versions(id) ON DELETE CASCADE,
            authors TEXT NOT NULL DEFAULT '[]',
            subjects TEXT NOT NULL DEFAULT '[]',
            reading_level TEXT NOT NULL DEFAULT '',
            cover TEXT,
            epub_version TEXT NOT NULL DEFAULT ''
        );
        """,
    )


@migrations(name="0021_ratings")
def ratings(db: sqlite_utils.Database) -> None:
    """Learners' faces for a course (``lesson_key`` empty) or a lesson, with the hard parts
    ticked (``learning.ratings``), and the words of searches that found nothing, once per
    learner and month (``catalog.search_misses``): what NGOs learn to make next."""
    _run_script(
        db,
        """
        CREATE TABLE ratings (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            course_id TEXT NOT NULL,
            lesson_key TEXT NOT NULL DEFAULT '',
            face TEXT NOT NULL CHECK (face IN ('hard', 'okay', 'good')),
            reasons TEXT NOT NULL DEFAULT '[]',
            rated_at TEXT NOT NULL,
            PRIMARY KEY (user_id, course_id, lesson_key)
        );
        CREATE INDEX ratings_course ON ratings (course_id);
        CREATE TABLE search_misses (
            month TEXT NOT NULL,
            words TEXT NOT NULL,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            PRIMARY KEY (month, words, user_id)
        );
        """,
    )


@migrations(name="0022_written_work")
def written_work(db: sqlite_utils.Database) -> None:
    """Written tasks graded with a rubric (``learning.written``): each attempt a learner
    drafts and sends, with the educator's grade (``teaching.grading``) — the points per
    criterion, total, feedback and decision — and the comments between the learner and
    the educators of their groups. A "revise and resubmit" opens a new attempt; earlier
    attempts stay as they were."""
    _run_script(
        db,
        """
        CREATE TABLE written_attempts (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            course_id TEXT NOT NULL,
            lesson_key TEXT NOT NULL,
            version_id INTEGER NOT NULL REFERENCES course_versions(id),
            attempt INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'submitted', 'graded', 'revise')),
            text TEXT NOT NULL DEFAULT '',
            words INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            submitted_at TEXT,
            graded_at TEXT,
            graded_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            scores TEXT NOT NULL DEFAULT '{}',
            total REAL,
            max_points REAL,
            passed INTEGER,
            feedback TEXT NOT NULL DEFAULT '',
            UNIQUE (user_id, course_id, lesson_key, attempt)
        );
        CREATE INDEX written_attempts_queue ON written_attempts (status, submitted_at);
        CREATE INDEX written_attempts_learner ON written_attempts (user_id, course_id);
        CREATE TABLE written_comments (
            id INTEGER PRIMARY KEY,
            attempt_id INTEGER NOT NULL REFERENCES written_attempts(id) ON DELETE CASCADE,
            author_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
            author_role TEXT NOT NULL CHECK (author_role IN ('learner', 'staff')),
            body TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX written_comments_attempt ON written_comments (attempt_id, id);
        """,
    )


@migrations(name="0023_lesson_plans")
def lesson_plans(db: sqlite_utils.Database) -> None:
    """Lesson plans educators build for a group (``learning.lesson_plans``): ordered items
    (a lesson or book chapter, a whole course or book, or a quiz of questions picked from
    approved courses' quizzes), assigned with a due date; the learners' tries at those
    quizzes; every piece of local text staff wrote, as written (the admins' list). Topic
    requests (``learning.topic_requests``): a learner's pick from the topics publishers
    list, and short free texts that wait for staff to approve under a local label or drop."""
    _run_script(
        db,
        """
        CREATE TABLE lesson_plans (
            id INTEGER PRIMARY KEY,
            group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            instructions TEXT NOT NULL DEFAULT '',
            due_date TEXT,
            assigned_at TEXT,
            created_by INTEGER REFERENCES users(id),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX lesson_plans_group ON lesson_plans(group_id);
        CREATE TABLE bank_quizzes (
            id INTEGER PRIMARY KEY,
            plan_id INTEGER NOT NULL REFERENCES lesson_plans(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            instructions TEXT NOT NULL DEFAULT '',
            pass_mark REAL NOT NULL DEFAULT 0 CHECK (pass_mark BETWEEN 0 AND 100),
            created_by INTEGER REFERENCES users(id),
            created_at TEXT NOT NULL
        );
        CREATE TABLE bank_quiz_questions (
            quiz_id INTEGER NOT NULL REFERENCES bank_quizzes(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            course_id TEXT NOT NULL,
            lesson_key TEXT NOT NULL,
            question_key TEXT NOT NULL,
            PRIMARY KEY (quiz_id, position),
            UNIQUE (quiz_id, course_id, lesson_key, question_key)
        );
        CREATE TABLE bank_quiz_attempts (
            id INTEGER PRIMARY KEY,
            quiz_id INTEGER NOT NULL REFERENCES bank_quizzes(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            answers TEXT NOT NULL DEFAULT '{}',
            score REAL NOT NULL,
            passed INTEGER NOT NULL,
            submitted_at TEXT NOT NULL
        );
        CREATE INDEX bank_quiz_attempts_user ON bank_quiz_attempts(user_id, quiz_id);
        CREATE TABLE lesson_plan_items (
            id INTEGER PRIMARY KEY,
            plan_id INTEGER NOT NULL REFERENCES lesson_plans(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('lesson', 'course', 'quiz')),
            course_id TEXT,
            lesson_key TEXT,
            quiz_id INTEGER REFERENCES bank_quizzes(id) ON DELETE CASCADE,
            CHECK ((kind = 'quiz') = (quiz_id IS NOT NULL)),
            CHECK ((kind = 'quiz') = (course_id IS NULL)),
            CHECK ((kind = 'lesson') = (lesson_key IS NOT NULL))
        );
        CREATE INDEX lesson_plan_items_plan ON lesson_plan_items(plan_id, position);
        CREATE TABLE local_texts (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            object_id INTEGER NOT NULL,
            field TEXT NOT NULL,
            text TEXT NOT NULL,
            written_by INTEGER REFERENCES users(id),
            author TEXT NOT NULL,
            written_at TEXT NOT NULL
        );
        CREATE TABLE topic_requests (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            publisher_id INTEGER NOT NULL REFERENCES publishers(id) ON DELETE CASCADE,
            topic TEXT NOT NULL,
            requested_at TEXT NOT NULL,
            PRIMARY KEY (user_id, publisher_id, topic)
        );
        CREATE TABLE topic_suggestions (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            text TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'approved')),
            label TEXT,
            created_at TEXT NOT NULL,
            decided_by TEXT,
            decided_at TEXT
        );
        """,
    )


@migrations(name="0024_teacher_files")
def teacher_files(db: sqlite_utils.Database) -> None:
    """Files educators make (a PDF handout, a short video; ``catalog.teacher_files``):
    stored in the content store by their SHA-256, waiting for an admin's review like a
    course version, or approved at once for an educator an admin waived review for (the
    waiver says who granted it). A lesson plan item may now be such a file (kind
    ``file``), which learners of the plan's group open once it is approved; opening it
    is what marks the item done (``teacher_file_opens``)."""
    _run_script(
        db,
        """
        CREATE TABLE teacher_files (
            id INTEGER PRIMARY KEY,
            owner_id INTEGER NOT NULL REFERENCES users(id),
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            file_name TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('pdf', 'video')),
            media_type TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            notes TEXT NOT NULL DEFAULT '[]',
            status TEXT NOT NULL DEFAULT 'waiting'
                CHECK (status IN ('waiting', 'approved', 'rejected', 'withdrawn')),
            uploaded_at TEXT NOT NULL,
            decided_at TEXT,
            decided_by TEXT,
            waived_by TEXT,
            reason_code TEXT,
            reason TEXT,
            note TEXT
        );
        CREATE INDEX teacher_files_owner ON teacher_files(owner_id, id);
        CREATE INDEX teacher_files_status ON teacher_files(status, id);
        CREATE TABLE file_review_waivers (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            granted_by TEXT NOT NULL,
            granted_at TEXT NOT NULL
        );
        CREATE TABLE teacher_file_opens (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            file_id INTEGER NOT NULL REFERENCES teacher_files(id) ON DELETE CASCADE,
            opened_at TEXT NOT NULL,
            PRIMARY KEY (user_id, file_id)
        );
        CREATE TABLE lesson_plan_items_new (
            id INTEGER PRIMARY KEY,
            plan_id INTEGER NOT NULL REFERENCES lesson_plans(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('lesson', 'course', 'quiz', 'file')),
            course_id TEXT,
            lesson_key TEXT,
            quiz_id INTEGER REFERENCES bank_quizzes(id) ON DELETE CASCADE,
            file_id INTEGER REFERENCES teacher_files(id),
            CHECK ((kind = 'quiz') = (quiz_id IS NOT NULL)),
            CHECK ((kind = 'file') = (file_id IS NOT NULL)),
            CHECK ((kind IN ('quiz', 'file')) = (course_id IS NULL)),
            CHECK ((kind = 'lesson') = (lesson_key IS NOT NULL))
        );
        INSERT INTO lesson_plan_items_new (id, plan_id, position, kind, course_id, lesson_key,
            quiz_id)
            SELECT id, plan_id, position, kind, course_id, lesson_key, quiz_id
            FROM lesson_plan_items;
        DROP TABLE lesson_plan_items;
        ALTER TABLE lesson_plan_items_new RENAME TO lesson_plan_items;
        CREATE INDEX lesson_plan_items_plan ON lesson_plan_items(plan_id, position);
        CREATE INDEX lesson_plan_items_file ON lesson_plan_items(file_id) WHERE file_id IS NOT NULL;
        """,
    )


@migrations(name="0025_plan_written")
def plan_written(db: sqlite_utils.Database) -> None:
    """Writing tasks educators make inside a lesson plan (``learning.plan_writing``): a
    title, prompt, short or long, an optional word guide, a rubric (criteria × levels
    with points, stored as the course format writes it) and a pass mark. A plan item may
    now be such a task (kind ``written``). A written attempt now belongs either to a
    course lesson (course, lesson, version) or to a plan's task, never both: the table is
    rebuilt with that rule, keeping every attempt and comment as it was. A task outlives
    its plan (a deleted group takes its plans along), so that learners' graded work is
    never deleted with it."""
    _run_script(
        db,
        """
        CREATE TABLE plan_written_tasks (
            id INTEGER PRIMARY KEY,
            plan_id INTEGER REFERENCES lesson_plans(id) ON DELETE SET NULL,
            title TEXT NOT NULL,
            task TEXT NOT NULL,
            created_by INTEGER REFERENCES users(id),
            created_at TEXT NOT NULL
        );
        CREATE INDEX plan_written_tasks_plan ON plan_written_tasks(plan_id);
        CREATE TABLE lesson_plan_items_new (
            id INTEGER PRIMARY KEY,
            plan_id INTEGER NOT NULL REFERENCES lesson_plans(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('lesson', 'course', 'quiz', 'file', 'written')),
            course_id TEXT,
            lesson_key TEXT,
            quiz_id INTEGER REFERENCES bank_quizzes(id) ON DELETE CASCADE,
            file_id INTEGER REFERENCES teacher_files(id),
            task_id INTEGER REFERENCES plan_written_tasks(id) ON DELETE CASCADE,
            CHECK ((kind = 'quiz') = (quiz_id IS NOT NULL)),
            CHECK ((kind = 'file') = (file_id IS NOT NULL)),
            CHECK ((kind = 'written') = (task_id IS NOT NULL)),
            CHECK ((kind IN ('quiz', 'file', 'written')) = (course_id IS NULL)),
            CHECK ((kind = 'lesson') = (lesson_key IS NOT NULL))
        );
        INSERT INTO lesson_plan_items_new (id, plan_id, position, kind, course_id, lesson_key,
            quiz_id, file_id)
            SELECT id, plan_id, position, kind, course_id, lesson_key, quiz_id, file_id
            FROM lesson_plan_items;
        DROP TABLE lesson_plan_items;
        ALTER TABLE lesson_plan_items_new RENAME TO lesson_plan_items;
        CREATE INDEX lesson_plan_items_plan ON lesson_plan_items(plan_id, position);
        CREATE INDEX lesson_plan_items_file ON lesson_plan_items(file_id) WHERE file_id IS NOT NULL;
        CREATE TABLE written_attempts_new (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            course_id TEXT,
            lesson_key TEXT,
            version_id INTEGER REFERENCES course_versions(id),
            task_id INTEGER REFERENCES plan_written_tasks(id),
            attempt INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'submitted', 'graded', 'revise')),
            text TEXT NOT NULL DEFAULT '',
            words INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            submitted_at TEXT,
            graded_at TEXT,
            graded_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            scores TEXT NOT NULL DEFAULT '{}',
            total REAL,
            max_points REAL,
            passed INTEGER,
            feedback TEXT NOT NULL DEFAULT '',
            CHECK ((task_id IS NULL) = (course_id IS NOT NULL)),
            CHECK ((course_id IS NULL) = (lesson_key IS NULL)),
            CHECK ((course_id IS NULL) = (version_id IS NULL)),
            UNIQUE (user_id, course_id, lesson_key, attempt),
            UNIQUE (user_id, task_id, attempt)
        );
        INSERT INTO written_attempts_new (id, user_id, course_id, lesson_key, version_id,
            attempt, status, text, words, created_at, updated_at, submitted_at, graded_at,
            graded_by, scores, total, max_points, passed, feedback)
            SELECT id, user_id, course_id, lesson_key, version_id, attempt, status, text,
                words, created_at, updated_at, submitted_at, graded_at, graded_by, scores,
                total, max_points, passed, feedback
            FROM written_attempts;
        CREATE TABLE written_comments_new (
            id INTEGER PRIMARY KEY,
            attempt_id INTEGER NOT NULL REFERENCES written_attempts_new(id) ON DELETE CASCADE,
            author_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
            author_role TEXT NOT NULL CHECK (author_role IN ('learner', 'staff')),
            body TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        INSERT INTO written_comments_new (id, attempt_id, author_id, author_role, body,
            created_at)
            SELECT id, attempt_id, author_id, author_role, body, created_at
            FROM written_comments;
        DROP TABLE written_comments;
        DROP TABLE written_attempts;
        ALTER TABLE written_attempts_new RENAME TO written_attempts;
        ALTER TABLE written_comments_new RENAME TO written_comments;
        CREATE INDEX written_attempts_queue ON written_attempts (status, submitted_at);
        CREATE INDEX written_attempts_learner ON written_attempts (user_id, course_id);
        CREATE INDEX written_attempts_task ON written_attempts (task_id, user_id)
            WHERE task_id IS NOT NULL;
        CREATE INDEX written_comments_attempt ON written_comments (attempt_id, id);
        """,
    )


@migrations(name="0026_collections")
def collections(db: sqlite_utils.Database) -> None:
    """Reference collections (ZIM files): a course version's collection, read from its ZIM at
    import (``catalog.library``), and the articles a facility blocks, kept per course id so
    the list survives a new version."""
    _run_script(
        db,
        """
        CREATE TABLE collections (
            version_id INTEGER PRIMARY KEY REFERENCES course_versions(id) ON DELETE CASCADE,
            zim_path TEXT NOT NULL,
            title TEXT NOT NULL,
            language TEXT NOT NULL,
            description TEXT NOT NULL,
            article_count INTEGER NOT NULL,
            has_fulltext INTEGER NOT NULL,
            main_path TEXT NOT NULL,
            sample_flags TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE collection_blocks (
            id INTEGER PRIMARY KEY,
            course_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('path', 'title')),
            value TEXT NOT NULL,
            added_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            added_at TEXT NOT NULL,
            UNIQUE (course_id, kind, value)
        );
        """,
    )


@migrations(name="0027_app_packs")
def app_packs(db: sqlite_utils.Database) -> None:
    """The small files of an interactive lesson's app are stored packed, one blob per
    package (``content.package.packfile``): an asset is then ``size`` bytes at
    ``pack_offset`` of the blob ``pack_sha256``, and ``sha256`` stays its own digest.
    Assets imported before are blobs of their own (both columns NULL)."""
    _run_script(
        db,
        """
        ALTER TABLE assets ADD COLUMN pack_sha256 TEXT;
        ALTER TABLE assets ADD COLUMN pack_offset INTEGER;
        CREATE INDEX assets_pack ON assets(pack_sha256) WHERE pack_sha256 IS NOT NULL;
        """,
    )
