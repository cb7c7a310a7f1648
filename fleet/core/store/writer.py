"""The single writer: a queue of units, drained by one task into one transaction per batch.

A unit is the statements that must commit together. The writer takes everything queued, runs
it on its private thread in one transaction (each unit in its own savepoint, so one bad unit
cannot take the others down), and then lets waiting flushes go. A full or failing disk holds
the batch in memory, in order, and retries; a lock held by another program is retried a few
times; anything else fails the units it hit, reported once by the next flush or close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreError, busy, errname, no_room

log = logging.getLogger("fleet.store")

BUSY_RETRIES = 3  # whole-batch attempts when the file stays locked
HOLD_RETRY_FIRST = 0.2  # seconds before retrying a batch the disk had no room for
HOLD_RETRY_MAX = 2.0

Run = Callable[[sqlite3.Connection], object]


@dataclass(frozen=True)
class Unit:
    kind: str  # for logs only: the method that enqueued it
    host: str
    session: str | None
    run: Run


class Writer:
    """Owns the writer connection and its thread; started on the running loop."""

    def __init__(self, path: Path, db: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self.path = path
        self._db = db
        self._executor = executor
        self._pending: list[Unit] = []
        self._submitted = 0  # units enqueued so far
        self._done = 0  # units the writer has finished with (committed or failed)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._failure: StoreError | None = None
        self.trouble: StoreError | None = None  # set while the disk refuses our writes
        self.commits = 0
        self._task = asyncio.get_running_loop().create_task(self._drain(), name="fleet-store")

    def enqueue(self, kind: str, host: str, session: str | None, run: Run) -> None:
        if self._closing:
            raise StoreError(f"{self.path}: the store is closed ({kind} after close)")
        self._pending.append(Unit(kind, host, session, run))
        self._submitted += 1
        self._wake.set()

    async def flush(self) -> None:
        """Wait until everything enqueued so far is committed; raise a failed write."""
        target = self._submitted
        if self._done < target:
            if self.trouble is not None:
                raise StoreError(str(self.trouble))
            if self._task.done():
                self._raise_failure()
                raise StoreError(f"{self.path}: the store's writer has stopped; restart fleet")
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((target, future))
            self._wake.set()
            await future
        self._raise_failure()

    async def stop(self) -> None:
        """Refuse new units and wait until everything enqueued is committed (or failed)."""
        self._closing = True
        self._wake.set()
        try:
            await asyncio.shield(self._task)  # a cancelled close() must not cut a commit short
        except asyncio.CancelledError:
            if not self._task.cancelled():
                raise

    async def close(self) -> None:
        """After stop(): close the connection and its thread; raise a write that failed."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(sqlite3.Error):
            await loop.run_in_executor(self._executor, self._db.close)
        self._executor.shutdown(wait=True)
        self._raise_failure()

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        attempts = 0
        hold_delay = HOLD_RETRY_FIRST
        try:
            while True:
                if not self._pending:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                batch, self._pending = self._pending, []
                end = self._submitted
                try:
                    failed = await loop.run_in_executor(self._executor, self._commit, batch)
                except sqlite3.OperationalError as exc:
                    if no_room(exc) and not self._closing:
                        # Keep the batch, in order, and try again: the host keeps its journal
                        # and logs, so nothing is lost while the disk is full, and nothing
                        # after these writes may commit before them (cursors move in order).
                        self._pending = batch + self._pending
                        self._hold(exc)
                        await self._sleep_unless_closing(hold_delay)
                        hold_delay = min(HOLD_RETRY_MAX, hold_delay * 2)
                        continue
                    attempts += 1
                    if busy(exc) and attempts < BUSY_RETRIES:
                        log.warning("store %s busy, retrying %d writes", self.path, len(batch))
                        self._pending = batch + self._pending
                        await asyncio.sleep(0.5)
                        continue
                    self._fail(batch, exc)
                except Exception as exc:
                    self._fail(batch, exc)
                else:
                    self.commits += 1
                    for unit, error in failed:
                        self._fail([unit], error)
                    if self.trouble is not None:
                        log.warning("store %s: writes resumed, held writes committed", self.path)
                        self.trouble = None
                        hold_delay = HOLD_RETRY_FIRST
                attempts = 0
                self._done = end
                self._resolve()
        finally:
            if self._pending or self._done < self._submitted:
                self._fail(self._pending, RuntimeError("the store's writer stopped"))
                self._pending = []
            self._done = self._submitted
            self._resolve()

    def _hold(self, exc: sqlite3.Error) -> None:
        """The disk refused a batch: say so once, and fail the flushes waiting on it."""
        held = len(self._pending)
        if self.trouble is None:
            log.error("store %s: cannot write (%s); holding %d writes", self.path, exc, held)
        what = "the disk is full" if errname(exc).startswith("SQLITE_FULL") else "disk error"
        self.trouble = StoreError(
            f"cannot write {self.path}: {what} ({exc}). fleet holds {held} change(s) in memory "
            "and retries: free some space"
        )
        waiters, self._waiters = self._waiters, []
        for _, future in waiters:
            if not future.done():
                future.set_exception(self.trouble)

    async def _sleep_unless_closing(self, delay: float) -> None:
        # Not woken by new writes (they arrive all the time and the disk is still full).
        loop = asyncio.get_running_loop()
        end = loop.time() + delay
        while not self._closing and loop.time() < end:
            await asyncio.sleep(min(0.05, end - loop.time()))

    def _commit(self, batch: list[Unit]) -> list[tuple[Unit, Exception]]:
        """Run in the writer thread: the whole batch in one transaction, a savepoint per unit."""
        db = self._db
        failed: list[tuple[Unit, Exception]] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for unit in batch:
                db.execute("SAVEPOINT unit")
                try:
                    unit.run(db)
                except Exception as exc:
                    if no_room(exc) or busy(exc):
                        raise  # the file, not this unit: the whole batch waits or fails
                    db.execute("ROLLBACK TO unit")
                    failed.append((unit, exc))
                db.execute("RELEASE unit")
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        return failed

    def _fail(self, units: list[Unit], exc: BaseException) -> None:
        if not units:
            return
        where = ", ".join(sorted({f"{u.kind} {u.host}/{u.session or '-'}" for u in units[:20]}))
        log.error("store %s: %d writes lost (%s): %s", self.path, len(units), where, exc)
        if self._failure is None:
            self._failure = StoreError(
                f"{self.path}: {len(units)} writes to the local store failed ({exc}); "
                "see fleet's log, and run `fleet doctor`"
            )

    def _resolve(self) -> None:
        keep: list[tuple[int, asyncio.Future[None]]] = []
        for target, future in self._waiters:
            if target <= self._done:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((target, future))
        self._waiters = keep
