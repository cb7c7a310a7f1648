"""The reads: on their own connection (aiosqlite), beside the writer thanks to write-ahead
logging, so a read never waits for a batch being committed. They see what is committed: call
`flush()` first to read your own writes."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from ..fleetstate import Key
from ..usage import SessionUsage, UsageRecord, UsageRow
from .errors import StoreError, translate
from .records import (
    SELECT_SESSIONS,
    AuditEntry,
    CachedHost,
    CachedSession,
    Decision,
    Output,
    audit_entry,
    cached_host,
    cached_session,
    decision,
    with_outcomes,
)

log = logging.getLogger("fleet.store")


class Queries:
    """The Store's reads (a mixin: the Store gives it its path and reader connection)."""

    path: Path
    _reader: aiosqlite.Connection
    _closed: bool

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed")
        try:
            return list(await self._reader.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            log.warning("store %s read failed: %s", self.path, exc)
            raise translate(self.path, exc) from None

    async def archived(self) -> list[CachedSession]:
        """Sessions gone from their hosts long ago (see Writes.archive_gone), oldest first."""
        rows = await self._fetch(
            "SELECT archived_sessions.*, outputs.cursor AS cursor FROM archived_sessions "
            "LEFT JOIN outputs ON outputs.host = archived_sessions.host "
            "AND outputs.session = archived_sessions.id ORDER BY archived_sessions.created"
        )
        return [cached_session(row) for row in rows]

    async def sessions(self, host: str | None = None) -> list[CachedSession]:
        """Every stored session (gone ones too, until archived), by host, then creation."""
        where, params = ("WHERE sessions.host = ?", (host,)) if host is not None else ("", ())
        rows = await self._fetch(
            f"{SELECT_SESSIONS} {where} ORDER BY sessions.host, sessions.created, sessions.id",
            params,
        )
        return [cached_session(row) for row in rows]

    async def watch_cursor(self, host: str) -> int | None:
        rows = await self._fetch("SELECT watch_cursor FROM hosts WHERE name = ?", (host,))
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    async def screen_hashes(self, host: str) -> dict[str, str]:
        rows = await self._fetch("SELECT session, digest FROM screens WHERE host = ?", (host,))
        return {str(row[0]): str(row[1]) for row in rows}

    async def screens(self) -> dict[Key, str]:
        """Every stored screen by (host, session id): one query for the first paint."""
        rows = await self._fetch("SELECT host, session, text FROM screens")
        return {(str(row[0]), str(row[1])): str(row[2]) for row in rows}

    async def output_cursors(self, host: str) -> dict[str, int]:
        """session id -> output cursor, for every session of the host with output kept."""
        rows = await self._fetch("SELECT session, cursor FROM outputs WHERE host = ?", (host,))
        return {str(row[0]): int(row[1]) for row in rows}

    async def output(self, host: str, session_id: str, since: int = 0) -> Output:
        """What is kept of the session's output from `since` on (see Output): it stops before
        a gap (see output_gap); ask again from its end to read past it."""
        rows = await self._fetch(
            "SELECT offset, data FROM output_chunks WHERE host = ? AND session = ? "
            "AND offset + length(data) > ? ORDER BY offset",
            (host, session_id, since),
        )
        if not rows:
            return Output(since, b"")
        first = max(since, int(rows[0][0]))
        parts: list[bytes] = []
        position = first
        for offset, data in rows:
            if offset > position:
                break
            piece = bytes(data)[position - offset :]
            parts.append(piece)
            position += len(piece)
        return Output(first, b"".join(parts))

    async def audit_log(
        self, host: str | None = None, session_id: str | None = None
    ) -> list[AuditEntry]:
        """Audit entries, oldest first: all of them, a host's, or one session's."""
        clauses: list[str] = []
        params: list[Any] = []
        if host is not None:
            clauses.append("host = ?")
            params.append(host)
        if session_id is not None:
            clauses.append("session = ?")
            params.append(session_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT id, at, host, session, kind, detail FROM audit {where} ORDER BY id"
        return with_outcomes([audit_entry(row) for row in await self._fetch(sql, params)])

    async def hosts(self) -> dict[str, CachedHost]:
        """Every host the store has heard of, by name."""
        rows = await self._fetch(
            "SELECT name, target, state, reason, last_seen, watch_cursor FROM hosts ORDER BY name"
        )
        return {str(row["name"]): cached_host(row) for row in rows}

    async def decisions(self, host: str, session_id: str) -> list[Decision]:
        rows = await self._fetch(
            "SELECT * FROM decisions WHERE host = ? AND session = ? ORDER BY id",
            (host, session_id),
        )
        return [decision(row) for row in rows]

    async def budget_marks(self) -> dict[tuple[str, str], str]:
        """(budget id, level) -> the action recorded with it."""
        rows = await self._fetch("SELECT budget, level, action FROM budget_marks")
        return {(str(r[0]), str(r[1])): str(r[2]) for r in rows}

    async def session_usage(self) -> dict[Key, SessionUsage]:
        """Every session's requests, counted by the reducer's own rule (what the TUI and
        `fleet watch` start from, so a record the host says again still counts once)."""
        rows = await self._fetch(
            "SELECT host, session, record, model, at, input, output, cache_read, cache_write "
            "FROM usage ORDER BY host, session"
        )
        grouped: dict[Key, list[UsageRecord]] = {}
        for r in rows:
            record = UsageRecord(str(r[2]), str(r[3] or ""), float(r[4] or 0), *map(int, r[5:9]))
            grouped.setdefault((str(r[0]), str(r[1])), []).append(record)
        return {key: SessionUsage().counted(records) for key, records in grouped.items()}

    async def usage(self, since: float = 0.0) -> list[UsageRow]:
        """Tokens per session, model and local day, of the requests made at `since` or later."""
        rows = await self._fetch(
            "SELECT u.host, u.session, COALESCE(s.name, a.name, '') AS name, u.agent, u.model, "
            "date(u.at, 'unixepoch', 'localtime') AS day, sum(u.input), sum(u.output), "
            "sum(u.cache_read), sum(u.cache_write), count(*) FROM usage AS u "
            "LEFT JOIN sessions AS s ON s.host = u.host AND s.id = u.session "
            "LEFT JOIN archived_sessions AS a ON a.host = u.host AND a.id = u.session "
            "WHERE u.at >= ? GROUP BY u.host, u.session, u.model, day "
            "ORDER BY u.host, u.session, day, u.model",
            (since,),
        )
        return [
            UsageRow(
                host=str(r[0]),
                session=str(r[1]),
                name=str(r[2] or ""),
                agent=str(r[3] or ""),
                model=str(r[4] or ""),
                day=str(r[5] or ""),
                input=int(r[6] or 0),
                output=int(r[7] or 0),
                cache_read=int(r[8] or 0),
                cache_write=int(r[9] or 0),
                requests=int(r[10] or 0),
            )
            for r in rows
        ]

    async def check(self) -> list[str]:
        """`PRAGMA integrity_check` of the file: ["ok"] when healthy."""
        rows = await self._fetch("PRAGMA integrity_check")
        return [str(row[0]) for row in rows]
