"""OpenCode's and Aider's usage as the host reads it: OpenCode's SQLite database (its real schema,
tests/fixtures/usage/opencode-db.sql, with fake rows) read-only and incrementally, never its
account tables; Aider's rounded "Tokens:" lines in its chat history, marked approximate."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from fleet.core.remote.hostside import protocol, usage_opencode
from fleet.core.remote.hostside import usage as hostusage
from fleet.core.usage import DEFAULT_PRICES, UsageRow, per_session, summarize
from fleet.presentation import spent_label

FIXTURES = Path(__file__).parent.parent / "fixtures" / "usage"
SID = "abcdefgh"


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    sessions = tmp_path / "fleet" / "sessions"
    (sessions / SID).mkdir(parents=True)
    monkeypatch.setattr(hostusage, "SESSIONS", str(sessions))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    (tmp_path / "worktree").mkdir()
    return tmp_path


def meta(host: Path, agent: str) -> dict[str, object]:
    return {"id": SID, "agent": agent, "worktree": str(host / "worktree"), "created": 0.0}


def look(m: dict[str, object], reader: hostusage.Usage | None = None) -> list[dict[str, object]]:
    sent: list[dict[str, object]] = []
    (reader or hostusage.Usage()).read_session(m, 0.0, sent.append)
    return [r for e in sent for r in e["records"]]  # type: ignore[attr-defined]


def opencode_db(host: Path, wal: bool = True) -> Path:
    path = host / "data" / "opencode" / "opencode.db"
    path.parent.mkdir(parents=True)
    sql = (FIXTURES / "opencode-db.sql").read_text()
    db = sqlite3.connect(path)
    if wal:
        db.execute("PRAGMA journal_mode=WAL")  # as opencode runs it
    db.executescript(sql.replace("/WORKTREE", str(host / "worktree")))
    db.close()
    return path


def part_id(created: int, tail: str) -> str:
    """An id as opencode makes one: its time (ms * 4096 + a counter, 48 bits) then letters."""
    value = (created * 0x1000 + 1) % (1 << 48)
    return f"prt_{value:012x}{tail.ljust(14, 'x')}"


def add_step(path: Path, part: str, created: int, output: int) -> str:
    db = sqlite3.connect(path)
    tokens = {"input": 1050, "output": output, "reasoning": 0, "cache": {"read": 325, "write": 0}}
    data = json.dumps({"type": "step-finish", "tokens": tokens, "cost": 0})
    ident = part_id(created, part)
    db.execute(
        "INSERT INTO part VALUES (?, 'msg_a2', 'ses_main', ?, ?, ?)",
        (ident, created, created, data),
    )
    db.commit()
    db.close()
    return "opencode:" + ident


def test_opencode_steps_of_the_worktrees_sessions_each_once(host: Path) -> None:
    path = opencode_db(host)
    records = look(meta(host, "opencode"))
    got = {
        r["id"]: (r["model"], r["input"], r["output"], r["cache_read"], r["cache_write"])
        for r in records
    }
    assert got == {
        "opencode:" + part_id(1796665521610, "a1f"): ("fake-model", 1020, 22, 310, 0),
        # reasoning billed as output
        "opencode:" + part_id(1796665521990, "a2f"): ("fake-model", 1030, 30, 315, 30),
        # its subagent's session
        "opencode:" + part_id(1796665515900, "c1f"): ("small-model", 1040, 24, 36, 0),
    }  # the other directory's session is not read
    assert records[0]["t"] == pytest.approx(1796665515.9)

    reader = hostusage.Usage()
    look(meta(host, "opencode"), reader)
    assert look(meta(host, "opencode"), reader) == []
    new = add_step(path, "new", 1796665530000, 25)
    late = add_step(path, "late", 1796665529000, 26)  # a second opencode wrote it a bit late
    assert [r["id"] for r in look(meta(host, "opencode"), reader)] == [late, new]
    # A restarted watcher starts from the session's usage.json: nothing is read twice.
    assert look(meta(host, "opencode")) == []
    after = add_step(path, "after", 1796665531000, 27)
    assert [r["id"] for r in look(meta(host, "opencode"))] == [after]


def test_opencode_part_ids_say_when_they_were_made() -> None:
    # Real ids and times from opencode 1.18.33: the floor of a time is below its ids.
    assert usage_opencode.id_floor(1796665521610, 1796665521610) < "prt_2519c35ca001cpBiIRBwhRcbei"
    assert usage_opencode.id_floor(1796665521611, 1796665521611) > "prt_2519c35ca001cpBiIRBwhRcbei"
    wrap = (1 << 48) // 0x1000  # ms: the 48-bit value wraps every 2.2 years
    assert usage_opencode.id_floor(wrap - 10, wrap + 10) == "prt_"  # look at every id once


def test_opencode_database_is_only_read_and_its_accounts_never(host: Path) -> None:
    path = opencode_db(host)
    before = path.read_bytes()
    look(meta(host, "opencode"))
    assert path.read_bytes() == before
    db = usage_opencode.connect(str(path))
    with pytest.raises(sqlite3.DatabaseError, match="prohibited"):
        db.execute("SELECT access_token FROM account").fetchall()
    with pytest.raises(sqlite3.DatabaseError):
        db.execute("DELETE FROM part")
    db.close()


def test_opencode_database_locked_is_read_at_the_next_look(
    host: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = opencode_db(host, wal=False)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")  # opencode in the middle of a write (no WAL)
    reader = hostusage.Usage()
    assert look(meta(host, "opencode"), reader) == []
    assert "cannot read" not in capsys.readouterr().err  # locked is not an error to log
    writer.execute("COMMIT")
    writer.close()
    assert len(look(meta(host, "opencode"), reader)) == 3


def test_opencode_database_absent_or_not_a_database(host: Path) -> None:
    assert look(meta(host, "opencode")) == []
    path = host / "data" / "opencode" / "opencode.db"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database at all" * 100)
    assert look(meta(host, "opencode")) == []


AIDER = """
# aider chat started at 2026-12-07 17:42:48

> /opt/aider/bin/aider
> Aider v0.86.2
> Model: openai/fake with diff edit format
> Git repo: .git with 1 files

#### hello there

OK.

> Tokens: 2.5k sent, 2 received.

#### and again

> Tokens: 12k sent, 1.5k cache write, 4.2k cache hit, 310 received.
Cost: $0.04 message, $0.05 session.
"""


def test_aider_tokens_lines_rounded_each_once(host: Path) -> None:
    history = host / "worktree" / ".aider.chat.history.md"
    history.write_text(AIDER)
    reader = hostusage.Usage()
    records = look(meta(host, "aider"), reader)
    got = [
        (r["model"], r["input"], r["output"], r["cache_read"], r["cache_write"]) for r in records
    ]
    assert got == [("fake", 2500, 2, 0, 0), ("fake", 7800, 310, 4200, 1500)]
    assert look(meta(host, "aider"), reader) == []
    with history.open("a") as f:
        f.write("> Model: anthropic/claude-sonnet-4-5 with diff edit format\n")
        f.write("> Tokens: 999 sent, 1.0k received. Cost: $0.02 message, $0.07 session.\n")
    again = look(meta(host, "aider"), reader)
    assert [(r["model"], r["input"], r["output"]) for r in again] == [
        ("claude-sonnet-4-5", 999, 1000)
    ]
    assert look(meta(host, "aider")) == []  # restarted: from usage.json
    assert all(r["id"].startswith("aider:") for r in records + again)  # type: ignore[union-attr]
    assert protocol.USAGE_APPROXIMATE == ("aider",)


def test_aider_figures_are_shown_approximate() -> None:
    rows = [
        UsageRow("h", "a", "a", "aider", "claude-sonnet-4-5", "2026-12-07", 2400, 22, 0, 0, 1),
        UsageRow("h", "c", "c", "claude", "claude-sonnet-4-5", "2026-12-07", 10, 2, 0, 0, 1),
    ]
    by_agent = {s.key: s.tokens for s in summarize(rows, "agent", DEFAULT_PRICES)}
    assert by_agent["aider"].approximate and not by_agent["claude"].approximate
    assert by_agent["aider"].to_json()["approximate"] is True
    assert spent_label(by_agent["aider"]) == "~2.4k tok · ~$0.01"
    assert per_session(rows, DEFAULT_PRICES)[("h", "a")].approximate
    assert summarize(rows, "host", DEFAULT_PRICES)[0].tokens.approximate  # some of it rounded
