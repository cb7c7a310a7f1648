"""The local store: reconcile, journal events, output exactly once, audit, batching, migrations,
refusals, file modes, and a kill -9 in the middle of heavy writing."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet.core import events
from fleet.core.models import DiffStat, Session, Status
from fleet.core.store import (
    SCHEMA_VERSION,
    CachedHost,
    CachedSession,
    Output,
    Store,
    StoreError,
    schema,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FIXTURES = HERE / "store_fixtures"


def session(sid: str, host: str = "alpha", **changes: Any) -> Session:
    fields: dict[str, Any] = {
        "id": sid,
        "name": f"name-{sid}",
        "host": host,
        "agent": "claude",
        "status": Status.WORKING,
        "branch": f"fleet/{sid}",
        "worktree": f"/w/{sid}",
        "repo": "/repo",
        "created": 1000.0 + int(sid[1:] or 0),
    }
    fields.update(changes)
    return Session(**fields)


def status(seq: int, sid: str, now: str, host: str = "alpha", **fields: Any) -> events.Event:
    return events.StatusChanged(
        host=host, seq=seq, at=fields.pop("at", 0.0), session=sid, status=Status(now), **fields
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "fleet.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(db_path)
    try:
        yield s
    finally:
        await s.close()


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), isolation_level=None)


async def stored_session(s: Store, host: str, sid: str) -> CachedSession | None:
    """One stored session, read the way fleet reads them (all of a host's at once)."""
    return next((c for c in await s.sessions(host) if c.session.id == sid), None)


async def stored_cursor(s: Store, sid: str, host: str = "alpha") -> int:
    """A session's output cursor, as the supervisor resumes from it (0: nothing counted yet)."""
    return (await s.output_cursors(host)).get(sid, 0)


async def everything(s: Store, host: str = "alpha") -> tuple[Any, ...]:
    """A comparable picture of what the store holds for a host (minus wall-clock stamps)."""
    sessions = [(c.session.to_json(), c.gone, c.unread) for c in await s.sessions(host)]
    audit = [(e.id, e.session, e.kind, e.detail) for e in await s.audit_log(host)]
    return sessions, audit, await s.watch_cursor(host)


# -- opening ----------------------------------------------------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_022")
async def test_open_creates_private_files_in_wal_mode(db_path: Path) -> None:
    assert not db_path.parent.exists()
    async with await Store.open(db_path) as s:
        s.audit("alpha", None, "new", {})
        await s.flush()
        assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
        for name in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
            assert name.exists(), name
            assert stat.S_IMODE(name.stat().st_mode) == 0o600, name
        with raw(db_path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    # An existing file with loose permissions is tightened.
    db_path.chmod(0o644)
    async with await Store.open(db_path):
        assert stat.S_IMODE(db_path.stat().st_mode) == 0o600


async def test_reopen_keeps_everything(db_path: Path) -> None:
    async with await Store.open(db_path) as s:
        s.reconcile_host("alpha", [session("s1", diffstat=DiffStat(3, 1, 1, approved=2))])
        s.apply(status(3, "s1", "idle"))
        await s.flush()
        before = await everything(s)
    async with await Store.open(db_path) as s:
        assert await everything(s) == before
        assert await s.watch_cursor("alpha") == 3
        (cached,) = await s.sessions("alpha")
        assert cached.session.diffstat == DiffStat(3, 1, 1, approved=2)


# -- sessions ---------------------------------------------------------------------------------


async def test_reconcile_adopts_updates_marks_gone_and_brings_back(store: Store) -> None:
    store.reconcile_host("alpha", [session("s1"), session("s2")])
    store.reconcile_host("beta", [session("s9", host="beta")])
    await store.flush()
    assert [c.session.id for c in await store.sessions()] == ["s1", "s2", "s9"]
    assert [c.session.id for c in await store.sessions("alpha")] == ["s1", "s2"]

    # s1 changed, s2 vanished from the host, s3 was started elsewhere (adopted).
    changed = session("s1", status=Status.IDLE, diffstat=DiffStat(5, 1, 2), task="t")
    store.reconcile_host("alpha", [changed, session("s3")])
    await store.flush()
    by_id = {c.session.id: c for c in await store.sessions("alpha")}
    assert set(by_id) == {"s1", "s2", "s3"}  # never deleted
    assert by_id["s1"].session == changed and not by_id["s1"].gone
    assert by_id["s2"].gone and not by_id["s3"].gone
    beta = await stored_session(store, "beta", "s9")
    assert beta is not None and not beta.gone  # another host's sessions are untouched

    # Reconciling again with the same list changes nothing; s2 is audited as removed once.
    store.reconcile_host("alpha", [changed, session("s3")])
    await store.flush()
    removed = [e for e in await store.audit_log("alpha") if e.kind == "removed"]
    assert [(e.session, e.detail) for e in removed] == [("s2", {"via": "list"})]

    # s2 back again.
    store.reconcile_host("alpha", [changed, session("s2"), session("s3")])
    await store.flush()
    cached = await stored_session(store, "alpha", "s2")
    assert cached is not None and not cached.gone
    assert await stored_session(store, "alpha", "nope") is None


async def test_upsert_keeps_the_persons_columns(store: Store) -> None:
    store.upsert_session(session("s1"))
    store.apply(status(1, "s1", "idle"))
    store.upsert_session(session("s1", status=Status.NEEDS_INPUT, agent_session_id="agent-uuid"))
    store.upsert_session(session("s1", status=Status.NEEDS_INPUT))
    await store.flush()
    cached = await stored_session(store, "alpha", "s1")
    assert cached is not None
    assert cached.session.status is Status.NEEDS_INPUT
    assert cached.unread == 1 and cached.session.agent_session_id == "agent-uuid"
    assert cached.updated > 0
    store.mark_read("alpha", "s1")
    await store.flush()
    cached = await stored_session(store, "alpha", "s1")
    assert cached is not None and cached.unread == 0


# -- journal events ---------------------------------------------------------------------------

_S1 = {"host": "alpha", "session": "s1"}
EVENTS: list[events.Event] = [
    events.SessionCreated(seq=1, at=10.0, **_S1),
    status(2, "s1", "working", at=11.0),
    events.DiffStatChanged(seq=3, at=12.0, diffstat=DiffStat(4, 2, 1), **_S1),
    events.InputTyped(seq=4, at=13.0, what="task", **_S1),
    status(5, "s1", "needs-input", at=14.0, prev=Status.WORKING),
    events.OtherJournalEvent(seq=6, at=15.0, name="something-new", **_S1),
    status(7, "s1", "exited", at=16.0, prev=Status.NEEDS_INPUT, exit_code=3),
    events.SessionRemoved(seq=8, at=17.0, **_S1),
]


async def test_events_apply_in_order_and_replays_change_nothing(store: Store) -> None:
    store.upsert_session(session("s1", status=Status.STARTING))
    await store.flush()
    assert await store.watch_cursor("alpha") is None
    for event in EVENTS[:4]:
        store.apply(event)
    await store.flush()
    assert await store.watch_cursor("alpha") == 4
    cached = await stored_session(store, "alpha", "s1")
    assert cached is not None
    assert cached.session.status is Status.WORKING and cached.session.status_since == 11.0
    assert cached.session.diffstat == DiffStat(4, 2, 1)
    assert cached.unread == 1

    for event in EVENTS:  # the first four again (a replay after reconnect), then the rest
        store.apply(event)
    await store.flush()
    picture = await everything(store)
    for event in EVENTS:  # the whole stream replayed: nothing changes
        store.apply(event)
    await store.flush()
    assert await everything(store) == picture

    cached = await stored_session(store, "alpha", "s1")
    assert cached is not None
    assert cached.session.status is Status.EXITED and cached.session.exit_code == 3
    assert cached.session.status_since == 16.0
    assert cached.gone and cached.unread == 3
    assert await store.watch_cursor("alpha") == 8
    audit = [(e.at, e.kind, e.detail) for e in await store.audit_log("alpha", "s1")]
    assert audit == [
        (11.0, "status", {"status": "working", "prev": "starting", "exit_code": None}),
        (14.0, "status", {"status": "needs-input", "prev": "working", "exit_code": None}),
        (16.0, "status", {"status": "exited", "prev": "needs-input", "exit_code": 3}),
        (17.0, "removed", {"via": "event"}),
    ]


async def test_an_older_event_is_ignored_and_a_snapshot_cursor_may_go_back(store: Store) -> None:
    store.upsert_session(session("s1"))
    store.apply(status(9, "s1", "idle"))
    store.apply(status(5, "s1", "failed"))
    await store.flush()
    cached = await stored_session(store, "alpha", "s1")
    assert cached is not None and cached.session.status is Status.IDLE
    # The host's journal was wiped (rebuilt host): the supervisor resyncs from a snapshot.
    store.set_cursor("alpha", 0)
    store.apply(status(1, "s1", "working"))
    await store.flush()
    assert await store.watch_cursor("alpha") == 1
    cached = await stored_session(store, "alpha", "s1")
    assert cached is not None and cached.session.status is Status.WORKING
    # An event for a session the store does not know yet is still audited.
    store.apply(status(2, "zz", "idle"))
    await store.flush()
    assert (await store.audit_log("alpha", "zz"))[0].detail["status"] == "idle"
    # A "removed" after a list already marked the session gone is not audited twice.
    store.reconcile_host("alpha", [])
    store.apply(events.SessionRemoved(seq=3, at=0.0, **_S1))
    await store.flush()
    assert [e.kind for e in await store.audit_log("alpha", "s1")].count("removed") == 1


# -- output -----------------------------------------------------------------------------------


async def test_output_exactly_once_overlaps_duplicates_and_gaps(store: Store) -> None:
    store.upsert_session(session("s1"))
    assert await stored_cursor(store, "s1") == 0
    assert await store.output("alpha", "s1") == Output(0, b"")
    store.append_output("alpha", "s1", 0, b"one\ntwo\n")  # 0..8
    store.append_output("alpha", "s1", 0, b"one\ntwo\n")  # duplicate: ignored
    store.append_output("alpha", "s1", 4, b"two\n")  # covered: ignored
    store.append_output("alpha", "s1", 4, b"two\nthree\n")  # overlaps: only "three\n" is new
    store.append_output("alpha", "s1", 14, b"")  # empty: nothing
    await store.flush()
    assert await stored_cursor(store, "s1") == 14
    assert await store.output("alpha", "s1") == Output(0, b"one\ntwo\nthree\n")
    assert await store.output("alpha", "s1", since=5) == Output(5, b"wo\nthree\n")
    assert await store.output("alpha", "s1", since=14) == Output(14, b"")
    cached = await stored_session(store, "alpha", "s1")
    assert cached is not None and cached.unread == 3

    # A gap: bytes 14..20 were lost on the host (its log rotated). Stored, and audited.
    store.append_output("alpha", "s1", 20, b"four\n")
    await store.flush()
    assert await stored_cursor(store, "s1") == 25
    gaps = [e.detail for e in await store.audit_log("alpha", "s1") if e.kind == "output-gap"]
    assert gaps == [{"from": 14, "to": 20}]
    assert await store.output("alpha", "s1") == Output(0, b"one\ntwo\nthree\n")  # up to the gap
    assert await store.output("alpha", "s1", since=14) == Output(20, b"four\n")
    cached = await stored_session(store, "alpha", "s1")
    assert cached is not None and cached.unread == 4

    # Output for a session not stored yet keeps its cursor (no unread to count).
    store.append_output("alpha", "new", 0, b"early\n")
    await store.flush()
    assert await stored_cursor(store, "new") == 6


async def test_output_gap_events_from_the_host(store: Store) -> None:
    # First contact with a long log: the host sends only its tail, from byte 1000.
    store.output_gap("alpha", "s1", 0, 1000)
    store.append_output("alpha", "s1", 1000, b"tail\n")
    await store.flush()
    assert await stored_cursor(store, "s1") == 1005
    gaps = [e.detail for e in await store.audit_log("alpha", "s1") if e.kind == "output-gap"]
    assert gaps == [{"from": 0, "to": 1000}]  # once: the append continues the cursor

    # The host's log was replaced (starts over at 0): the cursor goes back, old bytes go.
    store.output_gap("alpha", "s1", 1005, 0)
    store.append_output("alpha", "s1", 0, b"fresh\n")
    await store.flush()
    assert await stored_cursor(store, "s1") == 6
    assert await store.output("alpha", "s1") == Output(0, b"fresh\n")
    last = (await store.audit_log("alpha", "s1"))[-1]
    assert last.detail == {"from": 1005, "to": 0, "reset": True}

    # A gap the store already has the bytes for is no gap.
    store.output_gap("alpha", "s1", 0, 3)
    await store.flush()
    assert len(await store.audit_log("alpha", "s1")) == 2


async def test_output_retention_keeps_the_newest_bytes(db_path: Path) -> None:
    async with await Store.open(db_path, output_keep=100) as s:
        s.upsert_session(session("s1"))
        data = b"".join(b"%04d\n" % i for i in range(100))  # 500 bytes
        for at in range(0, len(data), 30):
            s.append_output("alpha", "s1", at, data[at : at + 30])
        s.append_output("alpha", "s2", 0, b"x" * 250)  # one chunk larger than what is kept
        await s.flush()
        assert await stored_cursor(s, "s1") == 500
        assert await s.output("alpha", "s1") == Output(400, data[400:])
        assert await s.output("alpha", "s1", since=450) == Output(450, data[450:])
        assert await s.output("alpha", "s2") == Output(150, b"x" * 100)
        cached = await stored_session(s, "alpha", "s1")
        assert cached is not None and cached.unread == 100  # retention does not undo unread
        with raw(db_path) as db:
            kept = db.execute(
                "SELECT sum(length(data)) FROM output_chunks WHERE session = 's1'"
            ).fetchone()[0]
        assert kept == 100


# -- audit, screens, hosts, decisions ---------------------------------------------------------


async def test_audit_log_is_append_only(store: Store, db_path: Path) -> None:
    store.audit("alpha", "s1", "send", {"text": "please add tests"})
    store.audit("alpha", "s2", "stop", {})
    store.audit("beta", None, "new", {"repo": "/r"})
    await store.flush()
    entries = await store.audit_log()
    assert [(e.host, e.session, e.kind) for e in entries] == [
        ("alpha", "s1", "send"),
        ("alpha", "s2", "stop"),
        ("beta", None, "new"),
    ]
    assert entries[0].detail == {"text": "please add tests"}
    assert entries[0].at <= entries[1].at <= entries[2].at <= time.time()
    assert [e.kind for e in await store.audit_log("alpha")] == ["send", "stop"]
    assert [e.kind for e in await store.audit_log("alpha", "s2")] == ["stop"]
    with raw(db_path) as db:
        for sql in ("UPDATE audit SET kind = 'x'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(sql)
    assert len(await store.audit_log()) == 3


async def test_screens_hosts_agent_ids_and_decisions(store: Store) -> None:
    store.set_screen("alpha", "s1", "aaaa", "screen one")
    store.set_screen("alpha", "s1", "bbbb", "screen two")
    store.set_screen("alpha", "s2", "cccc", "other")
    store.record_host("alpha", "dev@alpha", "connected")
    store.record_host("beta", "beta", "unreachable", "connection refused")
    await store.flush()
    assert await store.screen_hashes("alpha") == {"s1": "bbbb", "s2": "cccc"}
    assert await store.screens() == {("alpha", "s1"): "screen two", ("alpha", "s2"): "other"}
    hosts = await store.hosts()
    beta = CachedHost("beta", "beta", "unreachable", "connection refused", 0.0, None)
    assert hosts["beta"] == beta
    seen = hosts["alpha"].last_seen
    assert (hosts["alpha"].state, hosts["alpha"].reason) == ("connected", "") and seen > 0
    store.set_cursor("alpha", 7)
    store.record_host("alpha", "dev@alpha", "unreachable", "timed out")
    await store.flush()
    alpha = CachedHost("alpha", "dev@alpha", "unreachable", "timed out", seen, 7)
    assert (await store.hosts())["alpha"] == alpha  # last seen when it was last connected

    store.record_decision("alpha", "s1", "fp1", 2, "reject", "no", "--- a\n+++ b\n")
    await store.flush()
    (decision,) = await store.decisions("alpha", "s1")
    assert (decision.fingerprint, decision.hunk, decision.action) == ("fp1", 2, "reject")
    assert decision.patch == "--- a\n+++ b\n" and decision.note == "no"


# -- the writer -------------------------------------------------------------------------------


async def test_batching_commits_many_units_in_few_transactions(store: Store) -> None:
    store.upsert_session(session("s1"))
    await store.flush()
    before = store.commits
    started = time.perf_counter()
    for n in range(10_000):
        store.apply(status(n + 1, "s1", "working" if n % 2 else "idle"))
    await store.flush()
    elapsed = time.perf_counter() - started
    burst = store.commits - before
    print(f"\nbatching: 10000 events enqueued at once -> {burst} transaction(s), {elapsed:.2f}s")
    assert burst <= 3
    assert await store.watch_cursor("alpha") == 10_000

    # Trickled in (the event loop runs between units), the writer still groups them.
    before = store.commits
    started = time.perf_counter()
    for n in range(10_000):
        store.append_output("alpha", "s1", n * 6, b"%05d\n" % n)
        if n % 10 == 0:
            await _yield()
    await store.flush()
    elapsed = time.perf_counter() - started
    print(f"batching: 10000 appends, yielding every 10 -> {store.commits - before} "
          f"transactions, {elapsed:.2f}s")  # fmt: skip
    assert await stored_cursor(store, "s1") == 60_000
    assert store.commits - before < 1000


async def _yield() -> None:
    await asyncio.sleep(0)


async def test_a_failing_unit_is_reported_and_the_others_commit(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO audit (at, host, kind) VALUES (1, 'alpha', 'half')")
        raise ValueError("broken unit")

    store.audit("alpha", None, "stop", {"secret": "steering text"})
    store._writer.enqueue("test", "alpha", None, boom)
    store.audit("alpha", None, "resume", {})
    logger = logging.getLogger("fleet.store")  # "fleet" may not propagate to the root
    logger.addHandler(caplog.handler)
    try:
        with pytest.raises(StoreError, match="1 writes to the local store failed"):
            await store.flush()
    finally:
        logger.removeHandler(caplog.handler)
    assert [e.kind for e in await store.audit_log()] == ["stop", "resume"]  # boom rolled back
    assert "steering text" not in caplog.text and "test alpha" in caplog.text
    await store.flush()  # reported once


async def test_close_flushes_and_refuses_later_writes(db_path: Path) -> None:
    s = await Store.open(db_path)
    s.audit("alpha", None, "new", {})
    await s.close()
    await s.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        s.audit("alpha", None, "new", {})
    async with await Store.open(db_path) as again:
        assert len(await again.audit_log()) == 1


async def test_reads_do_not_wait_for_the_writer(store: Store, db_path: Path) -> None:
    with raw(db_path) as other:  # another process holds the write lock
        other.execute("BEGIN IMMEDIATE")
        store.audit("alpha", None, "new", {})
        started = time.perf_counter()
        assert await store.sessions() == []
        assert await store.audit_log() == []
        assert time.perf_counter() - started < 1.0
        other.execute("COMMIT")
    await store.flush()
    assert len(await store.audit_log()) == 1


# -- migrations and refusals ------------------------------------------------------------------


async def test_a_v1_database_as_shipped_opens(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with raw(db_path) as db:
        db.executescript((FIXTURES / "v1.sql").read_text(encoding="utf-8"))
    async with await Store.open(db_path) as s:
        cached = await stored_session(s, "alpha", "a1b2c3")
        assert cached is not None
        assert cached.session.status is Status.NEEDS_INPUT
        assert cached.session.diffstat == DiffStat(12, 3, 2)
        assert cached.unread == 3 and cached.session.agent_session_id is not None
        assert [c.session.id for c in await s.sessions()] == ["a1b2c3", "d4e5f6"]
        assert await s.watch_cursor("alpha") == 41
        assert await s.output("alpha", "a1b2c3") == Output(0, b"hello\nworld\n")
        assert [e.kind for e in await s.audit_log()] == ["status", "send"]
        assert len(await s.decisions("alpha", "a1b2c3")) == 1
        # And it keeps working: replaying an old event is ignored, a new one applies.
        s.apply(status(41, "a1b2c3", "idle"))
        s.append_output("alpha", "a1b2c3", 6, b"world\nagain\n")
        await s.flush()
        assert await s.output("alpha", "a1b2c3") == Output(0, b"hello\nworld\nagain\n")
        assert await s.check() == ["ok"]
    with raw(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_pending_migrations_run_in_order(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await Store.open(db_path) as s:  # a database at the current schema
        s.upsert_session(session("s1"))
    ran: list[int] = []

    def add_column(db: sqlite3.Connection) -> None:
        ran.append(len(ran) + 1)
        db.execute("ALTER TABLE sessions ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")

    def use_column(db: sqlite3.Connection) -> None:
        ran.append(len(ran) + 1)
        db.execute("UPDATE sessions SET pinned = 1")  # needs the previous step

    steps = [*schema.MIGRATIONS, add_column, use_column]
    monkeypatch.setattr(schema, "MIGRATIONS", steps)
    async with await Store.open(db_path) as s:
        assert ran == [1, 2]
        assert [c.session.id for c in await s.sessions()] == ["s1"]
    with raw(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 2
        assert db.execute("SELECT pinned FROM sessions").fetchall() == [(1,)]
    async with await Store.open(db_path):
        assert ran == [1, 2]  # nothing pending: nothing runs again


async def test_a_failing_migration_leaves_the_previous_version(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await Store.open(db_path):
        pass

    def half_done(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE sessions ADD COLUMN half INTEGER")
        db.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, half_done])
    with pytest.raises(StoreError, match="not a usable fleet database"):
        await Store.open(db_path)
    with raw(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = [row[1] for row in db.execute("PRAGMA table_info(sessions)")]
        assert "half" not in columns


async def test_a_newer_database_is_refused(db_path: Path) -> None:
    async with await Store.open(db_path):
        pass
    with raw(db_path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 4}")
    with pytest.raises(StoreError) as info:
        await Store.open(db_path)
    message = str(info.value)
    assert f"{db_path} was written by a newer fleet" in message
    assert f"(schema {SCHEMA_VERSION + 4}, this fleet knows {SCHEMA_VERSION})" in message
    assert "upgrade fleet, or move the file away" in message
    assert info.value.exit_code == 1


@pytest.mark.parametrize("damage", ["random", "truncated", "foreign", "zeroed-header"])
async def test_a_damaged_file_is_refused_clearly(db_path: Path, damage: str) -> None:
    if damage == "foreign":
        db_path.parent.mkdir(parents=True)
        with raw(db_path) as db:
            db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    elif damage == "random":
        db_path.parent.mkdir(parents=True)
        db_path.write_bytes(os.urandom(8192))
    else:
        async with await Store.open(db_path) as s:
            for n in range(300):
                s.audit("alpha", None, "send", {"n": n, "pad": "x" * 200})
        data = db_path.read_bytes()
        if damage == "truncated":
            db_path.write_bytes(data[: len(data) // 2])
        else:
            db_path.write_bytes(b"\0" * 100 + data[100:])
    with pytest.raises(StoreError) as info:
        await Store.open(db_path)
    message = str(info.value)
    assert "is not a usable fleet database" in message and "move it away" in message


async def test_a_path_that_cannot_be_a_database_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match=r"cannot create .*dir\.db"):
        await Store.open(tmp_path / "dir.db")


# -- kill -9 ----------------------------------------------------------------------------------


def _line(n: int) -> bytes:
    return b"line %010d\n" % n


async def test_integrity_after_kill_9_during_heavy_writing(tmp_path: Path) -> None:
    path = tmp_path / "fleet.db"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen(
        [sys.executable, str(HERE / "store_writer_child.py"), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready", child.stderr
        deadline = time.monotonic() + 60
        wal = Path(f"{path}-wal")
        while time.monotonic() < deadline:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            size = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
            if size > 4 * 1024 * 1024:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the child did not write 4 MiB within 60 s")
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    async with await Store.open(path) as s:
        assert await s.check() == ["ok"]
        cursor = await stored_cursor(s, "s1", "h")
        kept = await s.output("h", "s1")
        assert kept.end == cursor
        assert kept.start % 16 == 0 and cursor % 16 == 0
        assert kept.data == b"".join(_line(n) for n in range(kept.start // 16, cursor // 16))
        lines = cursor // 16
        events = await s.watch_cursor("h") or 0
        cached = await stored_session(s, "h", "s1")
        assert cached is not None
    with raw(path) as db:
        sends = db.execute("SELECT count(*) FROM audit WHERE kind = 'send'").fetchone()[0]
        statuses = db.execute("SELECT count(*) FROM audit WHERE kind = 'status'").fetchone()[0]
    # What survived is a prefix of what was enqueued (line, event, audit; line, event, ...).
    assert lines >= events >= sends >= lines - 1, (lines, events, sends)
    assert statuses == events
    assert cached.unread == lines + events
    print(f"\nkill -9: {lines} lines, {events} events survived; integrity ok")


async def test_sessions_gone_for_long_leave_the_grid_and_stay_in_the_log(db_path: Path) -> None:
    async with await Store.open(db_path) as s:
        s.reconcile_host("alpha", [session("s1"), session("s2")])
        s.set_screen("alpha", "s1", "ab", "its last screen")
        s.audit("alpha", "s1", "send", {"text": "hi"})
        s.append_output("alpha", "s1", 0, b"some output\n")
        s.reconcile_host("alpha", [session("s2")])  # s1 is gone
    with raw(db_path) as db:  # gone two days ago
        db.execute("UPDATE sessions SET updated = updated - 2 * 86400 WHERE id = 's1'")
    async with await Store.open(db_path) as s:
        await s.flush()
        assert [c.session.id for c in await s.sessions()] == ["s2"]
        assert [c.session.id for c in await s.archived()] == ["s1"]
        assert ("alpha", "s1") not in await s.screens()
        assert [e.kind for e in await s.audit_log("alpha", "s1")] == ["send", "removed"]
        assert (await s.output("alpha", "s1")).data == b"some output\n"
        # Listed again (a host restored from a backup): it is back where it was.
        s.reconcile_host("alpha", [session("s1"), session("s2")])
        await s.flush()
        assert [c.session.id for c in await s.sessions()] == ["s1", "s2"]
