"""The write methods: each builds ONE unit (the statements that must commit together, run
later on the writer's thread) and enqueues it; none waits. Journal events commit with their
host's cursor, so a replay after any reconnect changes nothing; output is kept exactly once by
its byte offset in the host's log, the newest `output_keep` bytes of it per session.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from .. import events, fleetstate
from ..models import Session
from .records import SELECT_SESSIONS, cached_session
from .writer import Writer

OUTPUT_KEEP_BYTES = 2 * 1024 * 1024  # of each session's output, the newest
GONE_KEEP = 24 * 3600.0  # seconds a gone session stays in the grid before it is archived

_SESSION_COLUMNS = (
    "host, id, name, agent, status, exit_code, branch, worktree, repo, base, task, created, "
    "status_since, added, removed, files, approved, updated, agent_session_id, waiting"
)
_UPSERT_SESSION = f"""
    INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES ({", ".join("?" * 20)})
    ON CONFLICT (host, id) DO UPDATE SET
        name = excluded.name, agent = excluded.agent, status = excluded.status,
        exit_code = excluded.exit_code, branch = excluded.branch,
        worktree = excluded.worktree, repo = excluded.repo, base = excluded.base,
        task = excluded.task, created = excluded.created,
        status_since = excluded.status_since, added = excluded.added,
        removed = excluded.removed, files = excluded.files, approved = excluded.approved,
        gone = 0,
        updated = excluded.updated,
        agent_session_id = COALESCE(excluded.agent_session_id, sessions.agent_session_id),
        waiting = excluded.waiting
"""

SessionRow = tuple[
    str,
    str,
    str,
    str,
    str,
    int | None,
    str,
    str,
    str,
    str,
    str,
    float,
    float,
    int,
    int,
    int,
    int,
    float,
    str | None,
    str | None,
]


def _session_row(host: str, s: Session, now: float) -> SessionRow:
    return (
        host,
        s.id,
        s.name,
        s.agent,
        str(s.status),
        s.exit_code,
        s.branch,
        s.worktree,
        s.repo,
        s.base,
        s.task,
        float(s.created),
        float(s.status_since),
        int(s.diffstat.added),
        int(s.diffstat.removed),
        int(s.diffstat.files),
        int(s.diffstat.approved),
        now,
        s.agent_session_id,
        _json(s.waiting.to_json()) if s.waiting else None,
    )


def _json(detail: dict[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, default=str, ensure_ascii=False)


class Writes:
    """The Store's writes (a mixin: the Store gives it its writer and output retention)."""

    _writer: Writer
    output_keep: int

    def archive_gone(self, older_than: float = GONE_KEEP) -> None:
        """Move sessions gone from their host for `older_than` seconds into the archive: out
        of the grid and `fleet ls`, still found by `fleet log` (their audit log, decisions and
        output stay where they are). A session listed again comes back from there."""
        cutoff = time.time() - older_than

        def run(db: sqlite3.Connection) -> None:
            old = "gone = 1 AND updated < ?"
            # The archive's own columns: a later migration that adds one to sessions only.
            cols = ", ".join(r[1] for r in db.execute("PRAGMA table_info(archived_sessions)"))
            db.execute(
                f"INSERT OR REPLACE INTO archived_sessions ({cols}) "
                f"SELECT {cols} FROM sessions WHERE {old}",
                (cutoff,),
            )
            db.execute(
                "DELETE FROM screens WHERE (host, session) IN "
                f"(SELECT host, id FROM sessions WHERE {old})",
                (cutoff,),
            )
            db.execute(f"DELETE FROM sessions WHERE {old}", (cutoff,))

        self._writer.enqueue("archive", "*", None, run)

    def reconcile_host(self, host: str, sessions: list[Session]) -> None:
        """The host's full list: upsert each, mark the host's others gone (never deleted)."""
        now = time.time()
        rows = [_session_row(host, s, now) for s in sessions]
        present = {s.id for s in sessions}
        detail = _json({"via": "list"})

        def run(db: sqlite3.Connection) -> None:
            db.executemany(_UPSERT_SESSION, rows)
            stored = db.execute(
                "SELECT id FROM sessions WHERE host = ? AND gone = 0", (host,)
            ).fetchall()
            for (sid,) in stored:
                if sid not in present:
                    db.execute(
                        "UPDATE sessions SET gone = 1, updated = ? WHERE host = ? AND id = ?",
                        (now, host, sid),
                    )
                    _insert_audit(db, now, host, sid, "removed", detail)

        self._writer.enqueue("reconcile", host, None, run)

    def upsert_session(self, session: Session) -> None:
        """Insert or update one session as its host describes it (clears `gone`)."""
        row = _session_row(session.host, session, time.time())
        self._writer.enqueue(
            "upsert", session.host, session.id, lambda db: db.execute(_UPSERT_SESSION, row)
        )

    def apply(self, event: events.Event) -> None:
        """One event of a host's watch stream, kept as its kind needs: journal events
        atomically with the host's cursor (replays ignored), output with its offset, the
        latest screen, a snapshot as the host's full list. Link events are not kept here."""
        match event:
            case events.Snapshot():
                self.reconcile_host(event.host, list(event.sessions))
                self.set_cursor(event.host, event.seq)
            case events.ScreenChanged():
                self.set_screen(event.host, event.session, event.digest, event.text)
            case events.OutputArrived():
                self.append_output(event.host, event.session, event.offset, event.data)
            case events.OutputGap():
                self.output_gap(event.host, event.session, event.start, event.end)
            case events.JournalEvent():
                self._apply_journal(event)

    def _apply_journal(self, event: events.JournalEvent) -> None:
        host, sid, seq = event.host, event.session, event.seq
        now = time.time()

        def run(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT watch_cursor FROM hosts WHERE name = ?", (host,)).fetchone()
            if row is not None and row[0] is not None and seq <= row[0]:
                return  # a replay: already applied
            if isinstance(event, events.UsageReported):  # kept in its own table, below
                _insert_usage(db, event)
                _store_cursor(db, host, seq)
                return
            old = _load_state(db, host, sid)
            new = fleetstate.apply_session(old, event)
            if new is not None and new != old:
                _save_state(db, new, now)
            at = event.at or now
            match event:
                case events.StatusChanged():
                    before = event.prev or (old.session.status if old is not None else None)
                    detail = {
                        "status": str(event.status),
                        "prev": str(before) if before is not None else None,
                        "exit_code": event.exit_code,
                    }
                    _insert_audit(db, at, host, sid, "status", _json(detail))
                case events.SessionRemoved() if old is not None and not old.gone:
                    _insert_audit(db, at, host, sid, "removed", _json({"via": "event"}))
            _store_cursor(db, host, seq)

        self._writer.enqueue(f"event {type(event).__name__}", host, sid, run)

    def set_cursor(self, host: str, seq: int) -> None:
        """Set the host's watch cursor exactly (after a snapshot; it may go back)."""
        value = int(seq)
        self._writer.enqueue("cursor", host, None, lambda db: _store_cursor(db, host, value))

    def set_screen(self, host: str, session_id: str, digest: str, text: str) -> None:
        row = (host, session_id, digest, text, time.time())

        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO screens (host, session, digest, text, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (host, session) DO UPDATE SET digest = excluded.digest, "
                "text = excluded.text, at = excluded.at",
                row,
            )

        self._writer.enqueue("screen", host, session_id, run)

    def append_output(self, host: str, session_id: str, offset: int, data: bytes) -> None:
        """Output from the host's log at byte `offset`, kept exactly once.

        Already covered: ignored. Overlapping: trimmed. Beyond the cursor: stored, and the
        skipped range is audited as "output-gap". Unread grows by the new lines.
        """
        chunk = bytes(data)
        start_at = int(offset)
        keep = self.output_keep
        now = time.time()

        def run(db: sqlite3.Connection) -> None:
            cursor, kept = _output_state(db, host, session_id)
            end, payload = fleetstate.counted_output(cursor, start_at, chunk)
            if not payload:
                return
            start = end - len(payload)
            if start > cursor:
                detail = _json({"from": cursor, "to": start})
                _insert_audit(db, now, host, session_id, "output-gap", detail)
            db.execute(
                "INSERT INTO output_chunks (host, session, offset, data) VALUES (?, ?, ?, ?)",
                (host, session_id, start, payload),
            )
            kept = _trim_output(db, host, session_id, kept + len(payload), keep)
            _store_output_state(db, host, session_id, end, kept)
            lines = payload.count(b"\n")
            if lines:
                db.execute(
                    "UPDATE sessions SET unread = unread + ? WHERE host = ? AND id = ?",
                    (lines, host, session_id),
                )

        self._writer.enqueue("output", host, session_id, run)

    def output_gap(self, host: str, session_id: str, start: int, end: int) -> None:
        """The host says its log skips from `start` to `end` ("output-gap" watch event).

        end > cursor: bytes were lost on the host (rotation, first contact); the cursor jumps
        to `end` and the gap is audited. end < start: the log was replaced and starts over;
        the kept bytes from `end` on are dropped and the cursor goes back to `end`.
        """
        gap_from, gap_to = int(start), int(end)
        now = time.time()

        def run(db: sqlite3.Connection) -> None:
            cursor, kept = _output_state(db, host, session_id)
            moved = fleetstate.cursor_after_gap(cursor, gap_from, gap_to)
            if moved < cursor:
                db.execute(
                    "DELETE FROM output_chunks WHERE host = ? AND session = ? AND offset >= ?",
                    (host, session_id, gap_to),
                )
                db.execute(
                    "UPDATE output_chunks SET data = substr(data, 1, ? - offset) "
                    "WHERE host = ? AND session = ? AND offset < ? "
                    "AND offset + length(data) > ?",
                    (gap_to, host, session_id, gap_to, gap_to),
                )
                kept = int(
                    db.execute(
                        "SELECT coalesce(sum(length(data)), 0) FROM output_chunks "
                        "WHERE host = ? AND session = ?",
                        (host, session_id),
                    ).fetchone()[0]
                )
                detail = _json({"from": cursor, "to": gap_to, "reset": True})
            elif moved > cursor:
                detail = _json({"from": cursor, "to": gap_to})
            else:
                return
            _insert_audit(db, now, host, session_id, "output-gap", detail)
            _store_output_state(db, host, session_id, moved, kept)

        self._writer.enqueue("output-gap", host, session_id, run)

    def audit(self, host: str, session_id: str | None, kind: str, detail: dict[str, Any]) -> None:
        """Append to the audit log (never updated nor deleted), stamped now."""
        row = (time.time(), host, session_id, kind, _json(detail))
        self._writer.enqueue(
            f"audit {kind}",
            host,
            session_id,
            lambda db: _insert_audit(db, *row),
        )

    async def claim_budget(self, budget: str, level: str, action: str) -> bool:
        """Mark a budget's level as reached; True if this call made the mark (the one to act
        on it), False if it was there already (another run of fleet, or another fleet)."""
        made: list[bool] = []

        def run(db: sqlite3.Connection) -> None:
            cur = db.execute(
                "INSERT OR IGNORE INTO budget_marks (budget, level, at, action) "
                "VALUES (?, ?, ?, ?)",
                (budget, level, time.time(), action),
            )
            made[:] = [cur.rowcount == 1]

        self._writer.enqueue(f"budget {level}", "", None, run)
        await self._writer.flush()
        return bool(made and made[0])

    def mark_read(self, host: str, session_id: str) -> None:
        self._writer.enqueue(
            "read",
            host,
            session_id,
            lambda db: db.execute(
                "UPDATE sessions SET unread = 0 WHERE host = ? AND id = ?", (host, session_id)
            ),
        )

    def record_usage(self, event: events.UsageReported) -> None:
        """Usage read by a catch-up (not a follower): its records, the cursor left alone, so
        the next follower applies the whole journal (the records again count once)."""
        self._writer.enqueue(
            "usage", event.host, event.session, lambda db: _insert_usage(db, event)
        )

    def record_host(self, host: str, target: str, state: str, reason: str = "") -> None:
        """The host's link state; `last_seen` moves only when the state is "connected"."""
        now = time.time()
        seen = now if state == "connected" else 0.0
        row = (host, target, state, reason, seen)

        def run(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO hosts (name, target, state, reason, last_seen) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "target = excluded.target, state = excluded.state, reason = excluded.reason, "
                "last_seen = CASE WHEN excluded.state = 'connected' THEN excluded.last_seen "
                "ELSE hosts.last_seen END",
                row,
            )

        self._writer.enqueue("host", host, None, run)

    def record_decision(
        self,
        host: str,
        session_id: str,
        fingerprint: str,
        hunk: int,
        action: str,
        note: str = "",
        patch: str = "",
    ) -> None:
        """A review decision on one hunk; pair it with an audit() entry."""
        row = (host, session_id, fingerprint, int(hunk), action, note, patch, time.time())
        self._writer.enqueue(
            f"decision {action}",
            host,
            session_id,
            lambda db: db.execute(
                "INSERT INTO decisions (host, session, fingerprint, hunk, action, note, patch, "
                "at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            ),
        )


# -- inside units (on the writer's thread) ---------------------------------------------------


def _load_state(db: sqlite3.Connection, host: str, sid: str) -> fleetstate.SessionState | None:
    row = db.execute(
        f"{SELECT_SESSIONS} WHERE sessions.host = ? AND sessions.id = ?", (host, sid)
    ).fetchone()
    return None if row is None else cached_session(row).state


def _save_state(db: sqlite3.Connection, state: fleetstate.SessionState, now: float) -> None:
    s = state.session
    db.execute(_UPSERT_SESSION, _session_row(s.host, s, now))
    db.execute(
        "UPDATE sessions SET gone = ?, unread = ? WHERE host = ? AND id = ?",
        (int(state.gone), state.unread, s.host, s.id),
    )


def _insert_audit(
    db: sqlite3.Connection, at: float, host: str, session: str | None, kind: str, detail: str
) -> None:
    db.execute(
        "INSERT INTO audit (at, host, session, kind, detail) VALUES (?, ?, ?, ?, ?)",
        (at, host, session, kind, detail),
    )


_UPSERT_USAGE = """
    INSERT INTO usage (host, session, record, agent, model, at, input, output, cache_read,
        cache_write) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (host, session, record) DO UPDATE SET
        input = max(usage.input, excluded.input), output = max(usage.output, excluded.output),
        cache_read = max(usage.cache_read, excluded.cache_read),
        cache_write = max(usage.cache_write, excluded.cache_write),
        model = CASE WHEN usage.model = '' THEN excluded.model ELSE usage.model END
"""


def _insert_usage(db: sqlite3.Connection, event: events.UsageReported) -> None:
    """Each record once by its id; seen again (written as it streamed, replayed), the
    largest counts stand: they only grow while a response streams."""
    db.executemany(
        _UPSERT_USAGE,
        [
            (event.host, event.session, r.id, event.agent, r.model, r.at or event.at, *r.counts)
            for r in event.records
        ],
    )


def _store_cursor(db: sqlite3.Connection, host: str, seq: int) -> None:
    db.execute(
        "INSERT INTO hosts (name, watch_cursor) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET watch_cursor = excluded.watch_cursor",
        (host, seq),
    )


def _output_state(db: sqlite3.Connection, host: str, session_id: str) -> tuple[int, int]:
    row = db.execute(
        "SELECT cursor, kept FROM outputs WHERE host = ? AND session = ?", (host, session_id)
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _store_output_state(
    db: sqlite3.Connection, host: str, session_id: str, cursor: int, kept: int
) -> None:
    db.execute(
        "INSERT INTO outputs (host, session, cursor, kept) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (host, session) DO UPDATE SET cursor = excluded.cursor, "
        "kept = excluded.kept",
        (host, session_id, cursor, kept),
    )


def _trim_output(db: sqlite3.Connection, host: str, session_id: str, kept: int, keep: int) -> int:
    """Drop the oldest bytes until at most `keep` are kept; return how many are kept."""
    while kept > keep:
        row = db.execute(
            "SELECT id, length(data) FROM output_chunks WHERE host = ? AND session = ? "
            "ORDER BY offset LIMIT 1",
            (host, session_id),
        ).fetchone()
        if row is None:
            return 0
        chunk_id, size = int(row[0]), int(row[1])
        excess = kept - keep
        if size <= excess:
            db.execute("DELETE FROM output_chunks WHERE id = ?", (chunk_id,))
            kept -= size
        else:
            db.execute(
                "UPDATE output_chunks SET data = substr(data, ? + 1), offset = offset + ? "
                "WHERE id = ?",
                (excess, excess, chunk_id),
            )
            kept -= excess
    return kept
