"""The file itself: its tables, the migrations between schema versions, and how it is created
and opened (private modes, write-ahead logging, and the refusals of a file that is not ours)."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import StoreError, unusable

log = logging.getLogger("fleet.store")

APPLICATION_ID = 0x666C7431  # "flt1" in the file header: this file is a fleet store
FILE_MODE = 0o600
DIR_MODE = 0o700
BUSY_TIMEOUT = 10.0  # seconds another fleet process may hold the write lock

Migration = Callable[[sqlite3.Connection], None]

_V1 = (
    """CREATE TABLE hosts (
        name TEXT PRIMARY KEY,
        target TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        last_seen REAL NOT NULL DEFAULT 0,
        watch_cursor INTEGER
    )""",
    """CREATE TABLE sessions (
        host TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        agent TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        exit_code INTEGER,
        branch TEXT NOT NULL DEFAULT '',
        worktree TEXT NOT NULL DEFAULT '',
        repo TEXT NOT NULL DEFAULT '',
        base TEXT NOT NULL DEFAULT '',
        task TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL DEFAULT 0,
        status_since REAL NOT NULL DEFAULT 0,
        added INTEGER NOT NULL DEFAULT 0,
        removed INTEGER NOT NULL DEFAULT 0,
        files INTEGER NOT NULL DEFAULT 0,
        gone INTEGER NOT NULL DEFAULT 0,
        unread INTEGER NOT NULL DEFAULT 0,
        updated REAL NOT NULL DEFAULT 0,
        agent_session_id TEXT,
        PRIMARY KEY (host, id)
    )""",
    "CREATE INDEX sessions_by_created ON sessions (host, created)",
    """CREATE TABLE screens (
        host TEXT NOT NULL,
        session TEXT NOT NULL,
        digest TEXT NOT NULL,
        text TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (host, session)
    )""",
    # Output cursors live apart from sessions: output may arrive before the session is known.
    """CREATE TABLE outputs (
        host TEXT NOT NULL,
        session TEXT NOT NULL,
        cursor INTEGER NOT NULL DEFAULT 0,
        kept INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (host, session)
    )""",
    """CREATE TABLE output_chunks (
        id INTEGER PRIMARY KEY,
        host TEXT NOT NULL,
        session TEXT NOT NULL,
        offset INTEGER NOT NULL,
        data BLOB NOT NULL
    )""",
    "CREATE UNIQUE INDEX output_chunks_by_offset ON output_chunks (host, session, offset)",
    """CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        host TEXT NOT NULL,
        session TEXT,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX audit_by_session ON audit (host, session, id)",
    """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        host TEXT NOT NULL,
        session TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        hunk INTEGER NOT NULL,
        action TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        patch TEXT NOT NULL DEFAULT '',
        at REAL NOT NULL
    )""",
    "CREATE INDEX decisions_by_session ON decisions (host, session, id)",
)


def _v1(db: sqlite3.Connection) -> None:
    for statement in _V1:
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _v2(db: sqlite3.Connection) -> None:
    """Sessions remember how many of their changed lines are approved (staged)."""
    db.execute("ALTER TABLE sessions ADD COLUMN approved INTEGER NOT NULL DEFAULT 0")


def _v3(db: sqlite3.Connection) -> None:
    """Sessions gone from their host for long move out of the hot table (the grid, `fleet
    ls`) into an archive that `fleet log` still reads; their audit, decisions and output stay."""
    db.execute("CREATE TABLE archived_sessions AS SELECT * FROM sessions WHERE 0")
    db.execute("CREATE UNIQUE INDEX archived_sessions_by_id ON archived_sessions (host, id)")


def _v4(db: sqlite3.Connection) -> None:
    """Sessions remember what they wait for, as their agent said (JSON; NULL: nothing known)."""
    db.execute("ALTER TABLE sessions ADD COLUMN waiting TEXT")
    db.execute("ALTER TABLE archived_sessions ADD COLUMN waiting TEXT")


def _v5(db: sqlite3.Connection) -> None:
    """What each session's agent spent: one row per request its records name (the host's
    record id), so a record reported again (a replay, a re-read) counts once."""
    db.execute(
        """CREATE TABLE usage (
            host TEXT NOT NULL,
            session TEXT NOT NULL,
            record TEXT NOT NULL,
            agent TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            at REAL NOT NULL DEFAULT 0,
            input INTEGER NOT NULL DEFAULT 0,
            output INTEGER NOT NULL DEFAULT 0,
            cache_read INTEGER NOT NULL DEFAULT 0,
            cache_write INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (host, session, record)
        )"""
    )
    db.execute("CREATE INDEX usage_by_time ON usage (at)")


def _v6_budget_marks(db: sqlite3.Connection) -> None:
    """Budgets crossed, each level once (fleet.core.budgets): warning, exceeded (with the
    action it took then), allowed (the person let a paused session go on past it). The key
    makes a crossing fire once, across restarts and beside a second fleet on the same file."""
    db.execute(
        """CREATE TABLE budget_marks (
            budget TEXT NOT NULL,
            level TEXT NOT NULL,
            at REAL NOT NULL,
            action TEXT NOT NULL DEFAULT 'warn',
            PRIMARY KEY (budget, level)
        )"""
    )


# Step N (1-based) takes a database at schema N-1 to schema N, inside one transaction.
# Append only: never edit a step that has shipped.
MIGRATIONS: list[Migration] = [_v1, _v2, _v3, _v4, _v5, _v6_budget_marks]
SCHEMA_VERSION = len(MIGRATIONS)


def user_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection, path: Path, steps: Sequence[Migration]) -> None:
    """Bring the database to len(steps), one step per transaction; refuse a newer one."""
    known = len(steps)
    while True:
        # Re-read the version under the write lock: another fleet may be migrating it too.
        db.execute("BEGIN IMMEDIATE")
        try:
            version = user_version(db)
            app = int(db.execute("PRAGMA application_id").fetchone()[0])
            if app not in (0, APPLICATION_ID):
                raise unusable(path, "it was not written by fleet")
            if version > known:
                raise StoreError(
                    f"{path} was written by a newer fleet (schema {version}, this fleet knows "
                    f"{known}): upgrade fleet, or move the file away to start afresh (sessions "
                    "are recovered from the hosts)"
                )
            if version == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise unusable(path, "it holds tables fleet did not create")
            if version == known:
                db.execute("COMMIT")
                return
            steps[version](db)
            db.execute(f"PRAGMA user_version = {version + 1}")
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        log.info("store %s: schema %d -> %d", path, version, version + 1)


def make_private(path: Path) -> None:
    """The file and its -wal and -shm companions: for their owner's eyes only (0600)."""
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(OSError):
            if stat.S_IMODE(name.stat().st_mode) != FILE_MODE:
                name.chmod(FILE_MODE)


def create_file(path: Path) -> None:
    """The file (0600) in its directory (0700), made if missing; refused if not a file."""
    parent = path.parent
    try:
        if not parent.exists():
            parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            parent.chmod(DIR_MODE)  # mkdir's mode passes through the umask
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        os.close(fd)
        if stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
            path.chmod(FILE_MODE)
    except OSError as exc:
        raise StoreError(
            f"cannot create {path} ({exc.strerror or exc}): check its directory"
        ) from None
    if not path.is_file():
        raise StoreError(f"{path} is not a regular file: move it away")


def open_writer(path: Path) -> sqlite3.Connection:
    """The writer's connection, for its thread: write-ahead logging on, the schema migrated,
    a damaged or foreign file refused."""
    db = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
    )
    try:
        # WAL is remembered by the file: switching needs an exclusive lock, and SQLite answers
        # "locked" at once (without waiting) while another fleet has the file open.
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: cannot use write-ahead logging (journal mode {mode})")
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db, path, MIGRATIONS)
        # Touch the small tables so a damaged file is refused now, not in the middle of work.
        for table in ("hosts", "sessions", "screens", "outputs"):
            db.execute(f"SELECT count(*) FROM {table}").fetchone()
        db.execute("SELECT max(id) FROM audit").fetchone()
    except BaseException:
        db.close()
        raise
    return db
