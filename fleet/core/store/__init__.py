"""fleet's local memory: an SQLite file (aiosqlite) that makes start instant and resumes exact.

It holds what fleet knew of every host and session, the last screen of each session, the
cursors into each host's watch journal and each session's output log, the person's review
decisions, and an append-only audit log.

Writes never make a caller wait: each write method enqueues ONE unit of work (statements that
must commit together) and returns. One writer task drains the queue and commits everything it
took in a single transaction (each unit inside its own savepoint, so one bad unit cannot take
the others down). `flush()` waits until everything enqueued so far is committed and reports a
failed write as a StoreError. The writer's SQLite connection lives on one private thread, so a
whole batch costs the event loop a single hop; reads use a second connection (aiosqlite) and
run beside the writer thanks to WAL.

Nothing here logs steering text, screen contents or output bytes: only what ran where.

The parts, one concern each:
    schema    the file: tables, migrations, creating and opening it, its refusals
    writer    the batching single writer: queue, units, commit, hold and retry, flush
    writes    the write methods (a unit each): sessions, events, output, audit, hosts
    queries   the reads
    records   what the reads hand out, and how a row becomes one
    errors    StoreError, and SQLite's errors sorted into what to do
This module puts them together as the Store and opens and closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import aiosqlite

from ..usage import UsageRow
from .errors import StoreError, busy, translate
from .queries import Queries
from .records import OUTCOME, AuditEntry, CachedHost, CachedSession, Decision, Output
from .schema import (
    BUSY_TIMEOUT,
    MIGRATIONS,
    SCHEMA_VERSION,
    create_file,
    make_private,
    open_writer,
)
from .writer import Writer
from .writes import OUTPUT_KEEP_BYTES, Writes

__all__ = [
    "MIGRATIONS",
    "OUTCOME",
    "OUTPUT_KEEP_BYTES",
    "SCHEMA_VERSION",
    "AuditEntry",
    "CachedHost",
    "CachedSession",
    "Decision",
    "Output",
    "Store",
    "StoreError",
    "UsageRow",
]

log = logging.getLogger("fleet.store")

OPEN_ATTEMPTS = 8  # for the moments SQLite reports "locked" without waiting


class Store(Writes, Queries):
    """The local store. Open with `await Store.open(path)`; close with `await store.close()`."""

    def __init__(
        self,
        path: Path,
        writer: sqlite3.Connection,
        reader: aiosqlite.Connection,
        executor: ThreadPoolExecutor,
        output_keep: int,
    ) -> None:
        self.path = path
        self.output_keep = output_keep
        self._writer = Writer(path, writer, executor)
        self._reader = reader
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------

    @classmethod
    async def open(cls, path: Path, *, output_keep: int = OUTPUT_KEEP_BYTES) -> Store:
        """Open (creating, 0600) and migrate the store at `path`; StoreError says what to do."""
        path = Path(path)
        create_file(path)
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fleet-store")
        reader: aiosqlite.Connection | None = None
        writer: sqlite3.Connection | None = None
        try:
            for attempt in range(OPEN_ATTEMPTS):
                try:
                    writer = await loop.run_in_executor(executor, open_writer, path)
                    break
                except sqlite3.OperationalError as exc:
                    if not busy(exc) or attempt == OPEN_ATTEMPTS - 1:
                        raise
                    await asyncio.sleep(0.1 * (attempt + 1))  # another fleet is opening it
            reader = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT)
            reader.row_factory = sqlite3.Row
            await reader.execute("PRAGMA query_only = ON")
        except BaseException as exc:
            if reader is not None:
                with contextlib.suppress(sqlite3.Error):
                    await reader.close()
            if writer is not None:
                await loop.run_in_executor(executor, writer.close)
            executor.shutdown(wait=False)
            if isinstance(exc, sqlite3.Error):
                log.warning("store %s refused: %s", path, exc)
                raise translate(path, exc) from None
            raise
        assert writer is not None  # the loop either broke with one or raised
        make_private(path)
        log.debug("store %s open (schema %d)", path, SCHEMA_VERSION)
        store = cls(path, writer, reader, executor, output_keep)
        store.archive_gone()  # sessions gone for long leave the grid (fleet log still has them)
        return store

    async def close(self) -> None:
        """Commit everything enqueued, then close; a write that failed is raised here."""
        if self._closed:
            return
        await self._writer.stop()
        self._closed = True
        with contextlib.suppress(sqlite3.Error):
            await self._reader.close()
        await self._writer.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def trouble(self) -> StoreError | None:
        """Why writes are held in memory right now (the disk is full or failing), else None."""
        return self._writer.trouble

    @property
    def commits(self) -> int:
        """How many transactions the writer has committed (for measurements and tests)."""
        return self._writer.commits

    async def flush(self) -> None:
        """Wait until everything enqueued so far is committed; raise a failed write."""
        await self._writer.flush()
