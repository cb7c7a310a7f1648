"""What the fleet spends: the host's readers of Claude Code's and Codex's own records (against
files in their real format, tests/fixtures/usage), reading each record once across appends
and restarts, the wire event, the store counting a record once, prices and `[prices]`."""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fleet.core import events
from fleet.core.config import ConfigError, load_config
from fleet.core.remote import untrusted
from fleet.core.remote.hostside import protocol
from fleet.core.remote.hostside import usage as hostusage
from fleet.core.store import Store
from fleet.core.usage import (
    DEFAULT_PRICES,
    Price,
    Tokens,
    UsageRecord,
    merged_prices,
    per_session,
    price_for,
    priced,
    session_json,
    summarize,
)
from fleet.presentation import usage_label

FIXTURES = Path(__file__).parent.parent / "fixtures" / "usage"
SID = "abcdefgh"


def fixture(name: str, worktree: Path) -> str:
    return (FIXTURES / name).read_text().replace("/WORKTREE", str(worktree))


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A host's home: fleet's session dir for SID, Claude Code's and Codex's stores."""
    sessions = tmp_path / "fleet" / "sessions"
    (sessions / SID).mkdir(parents=True)
    monkeypatch.setattr(hostusage, "SESSIONS", str(sessions))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    (tmp_path / "worktree").mkdir()
    return tmp_path


def meta(host: Path, agent: str = "claude") -> dict[str, object]:
    return {"id": SID, "agent": agent, "worktree": str(host / "worktree"), "created": 0.0}


def claude_transcript(host: Path) -> Path:
    worktree = str(host / "worktree")
    folder = host / "claude" / "projects" / "".join(c if c.isalnum() else "-" for c in worktree)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "3f1c2a9e-8b7d-4e21-9c5a-0d6e7f8a9b10.jsonl"


def look(m: dict[str, object], reader: hostusage.Usage | None = None) -> list[dict[str, object]]:
    """Every record the reader emits in one look at the session."""
    sent: list[dict[str, object]] = []
    (reader or hostusage.Usage()).read_session(m, 0.0, sent.append)
    assert all(e["type"] == protocol.USAGE and e["session"] == SID for e in sent)
    return [r for e in sent for r in e["records"]]  # type: ignore[attr-defined]


def test_claude_code_transcript_one_record_per_response(host: Path) -> None:
    claude_transcript(host).write_text(fixture("claude-transcript.jsonl", host / "worktree"))
    records = look(meta(host))
    by_id = {r["id"]: r for r in records}
    # The response written as two lines counts once, with its final figures; the line Claude
    # Code wrote itself (<synthetic>) is no request; the summary and user lines carry none.
    assert sorted(by_id) == [
        "claude:msg_01AAAAAAAAAAAAAAAAAAAAAA",
        "claude:msg_01BBBBBBBBBBBBBBBBBBBBBB",
    ]
    first = by_id["claude:msg_01AAAAAAAAAAAAAAAAAAAAAA"]
    assert (first["input"], first["output"], first["cache_write"], first["cache_read"]) == (
        120,
        40,
        2000,
        0,
    )
    assert first["model"] == "claude-sonnet-4-5-20250929"
    second = by_id["claude:msg_01BBBBBBBBBBBBBBBBBBBBBB"]
    assert (second["input"], second["output"], second["cache_read"]) == (30, 12, 2000)
    when = datetime.datetime(2026, 11, 24, 10, 0, 6, 900000, tzinfo=datetime.UTC)
    assert second["t"] == round(when.timestamp(), 3)


def test_appended_records_only_are_read_and_a_restart_reads_nothing_twice(host: Path) -> None:
    path = claude_transcript(host)
    path.write_text(fixture("claude-transcript.jsonl", host / "worktree"))
    reader = hostusage.Usage()
    assert len(look(meta(host), reader)) == 2
    assert look(meta(host), reader) == []  # nothing new
    more = fixture("claude-transcript-more.jsonl", host / "worktree")
    with path.open("a") as f:
        f.write(more[:100])  # half a line: still being written
    assert look(meta(host), reader) == []
    with path.open("a") as f:
        f.write(more[100:])
    [added] = look(meta(host), reader)
    assert added["id"] == "claude:msg_01CCCCCCCCCCCCCCCCCCCCCC" and added["input"] == 500
    # A new watcher (a helper upgrade, a reboot) starts from the offsets kept on disk.
    assert look(meta(host), hostusage.Usage()) == []
    state = json.loads((host / "fleet" / "sessions" / SID / "usage.json").read_text())
    assert state["files"][str(path)]["offset"] == path.stat().st_size


def test_a_malformed_or_huge_record_is_skipped_and_the_rest_read(
    host: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(hostusage, "MAX_RECORD", 4096)
    path = claude_transcript(host)
    good = fixture("claude-transcript-more.jsonl", host / "worktree")
    huge = json.dumps({"type": "assistant", "message": {"content": "x" * 10_000}})
    odd = json.dumps({"type": "assistant", "message": {"id": 5, "model": [], "usage": "many"}})
    path.write_text("{not json\n" + huge + "\n" + odd + "\n[1, 2]\n" + good)
    [record] = look(meta(host))
    assert record["input"] == 500
    assert "skipped a record" in capsys.readouterr().err


def test_codex_rollout_counts_each_response_once(host: Path) -> None:
    today = datetime.date.today()
    folder = host / "codex" / "sessions" / f"{today:%Y}" / f"{today:%m}" / f"{today:%d}"
    folder.mkdir(parents=True)
    name = "rollout-2026-11-24T10-00-00-0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.jsonl"
    (folder / name).write_text(fixture("codex-rollout.jsonl", host / "worktree"))
    other = folder / "rollout-2026-11-24T11-00-00-elsewhere.jsonl"
    other.write_text(fixture("codex-rollout.jsonl", host / "elsewhere"))
    records = look(meta(host, "codex"))
    # info=null and the repeated event with an unchanged total are no usage; Codex's input
    # includes its cached part, which is counted as a cache read instead.
    assert [(r["input"], r["cache_read"], r["output"], r["model"]) for r in records] == [
        (120, 0, 40, "gpt-5-codex"),
        (200, 100, 30, "gpt-5-codex"),
    ]
    assert len({r["id"] for r in records}) == 2
    assert look(meta(host, "codex"), hostusage.Usage()) == []  # read once, across restarts


def test_the_watcher_tick_stays_within_its_budget_and_skips_other_agents(host: Path) -> None:
    claude_transcript(host).write_text(fixture("claude-transcript.jsonl", host / "worktree"))
    sent: list[dict[str, object]] = []
    reader = hostusage.Usage()
    reader.tick([meta(host, "my-own-agent")], 100.0, sent.append)  # a [agents.X] of one's own
    assert sent == []
    reader.tick([meta(host)], 100.0, sent.append)
    assert len(sent) == 1
    reader.tick([meta(host)], 100.5, sent.append)  # not due again yet
    assert len(sent) == 1


def test_the_wire_event_is_validated_once() -> None:
    raw = protocol.usage(
        SID, "claude", [protocol.usage_record("claude:m\x1b1", "m", 5.0, output=7)]
    )
    raw = dict(raw, seq=3, t=6.0)
    event = untrusted.parse_event("alpha", raw)
    assert isinstance(event, events.UsageReported)
    [record] = event.records
    assert record == UsageRecord(id="claude:m_1", model="m", at=5.0, output=7)
    bad = dict(raw, records=[{"id": "x", "t": 1.0, "input": -1}])
    assert untrusted.watch_event("alpha", bad) is None
    bad = dict(raw, records=[{"id": "has space", "t": 1.0}])
    assert untrusted.watch_event("alpha", bad) is None


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "fleet.db")
    try:
        yield s
    finally:
        await s.close()


def reported(seq: int, *records: UsageRecord) -> events.UsageReported:
    return events.UsageReported(
        host="alpha", seq=seq, at=10.0, session=SID, agent="claude", records=records
    )


async def test_the_store_counts_a_record_once(store: Store) -> None:
    partial = UsageRecord(
        id="claude:msg_1", model="claude-sonnet-4-5", at=10.0, input=120, output=1
    )
    final = UsageRecord(id="claude:msg_1", model="claude-sonnet-4-5", at=10.0, input=120, output=40)
    other = UsageRecord(id="claude:msg_2", model="claude-sonnet-4-5", at=11.0, input=1, output=2)
    store.apply(reported(1, partial))
    store.apply(reported(2, final, other))
    store.apply(reported(2, final, other))  # a replay of the same journal event
    store.set_cursor("alpha", 0)  # a snapshot after a gap moves the cursor back
    store.apply(reported(3, partial, final))  # the host read its records again
    await store.flush()
    rows = await store.usage()
    assert [(r.input, r.output, r.requests) for r in rows] == [(121, 42, 2)]
    assert await store.usage(since=10.5) != rows


def test_prices_and_costs() -> None:
    assert price_for("claude-sonnet-4-5-20250929", DEFAULT_PRICES) == Price(3.0, 15.0, 0.30, 3.75)
    assert price_for("fake-model", DEFAULT_PRICES) is None
    cost = priced("claude-sonnet-4-5", (1_000_000, 100_000, 0, 0), DEFAULT_PRICES).cost
    assert cost == pytest.approx(4.5)
    unpriced = priced("fake-model", (10, 5, 0, 0), DEFAULT_PRICES)
    assert unpriced.cost is None and unpriced.unpriced == ("fake-model",)
    assert usage_label("claude", unpriced) == "15 tok · no price"
    assert usage_label("my-own-agent", None) == "usage unknown"
    assert usage_label("claude", None) == "0 tok · $0.00"
    assert usage_label("aider", Tokens(2400, 22, 0, 0, 0.41)) == "~2.4k tok · ~$0.41"
    assert usage_label("aider", None) == "~0 tok · $0.00"
    spent = Tokens(12_000, 300, 0, 0, 0.41)
    assert usage_label("codex", spent) == "12.3k tok · $0.41"
    assert session_json("my-own-agent", None) == {"known": False}
    assert (spent + unpriced).cost is None  # one unpriced model: no total, never a guess


async def test_summaries_by_each_dimension(store: Store) -> None:
    store.apply(reported(1, UsageRecord(id="a", model="claude-sonnet-4-5", at=10.0, input=100)))
    store.apply(reported(2, UsageRecord(id="b", model="fake-model", at=10.0, output=5)))
    await store.flush()
    rows = await store.usage()
    prices = merged_prices({"fake-model": Price(0.0, 2.0)})
    by_model = summarize(rows, "model", prices)
    assert [(s.key, s.tokens.total, s.requests) for s in by_model] == [
        ("claude-sonnet-4-5", 100, 1),
        ("fake-model", 5, 1),
    ]
    assert by_model[1].tokens.cost == pytest.approx(1e-5)
    [(key, tokens)] = per_session(rows, prices).items()
    assert key == ("alpha", SID) and tokens.total == 105
    assert [s.key for s in summarize(rows, "session", prices)] == [f"alpha/{SID}"]


def test_prices_table_in_the_config(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text('[prices."fake-model"]\ninput = 1\noutput = 2.5\ncache_read = 0.1\n')
    config = load_config(path, env={"HOME": str(tmp_path)})
    assert config.prices == {"fake-model": Price(1.0, 2.5, 0.1, 0.0)}
    for body, line, said in (
        ('[prices."m"]\ninput = 1\n', 1, "output is missing"),
        ('[prices."m"]\ninput = 1\noutput = -2\n', 3, "0 to 10000"),
        ('[prices."m"]\ninput = 1\noutput = "2"\n', 3, "a number of dollars"),
        ('[prices."m"]\ninput = 1\noutput = 2\ncache = 1\n', 4, 'unknown key "cache"'),
    ):
        path.write_text(body)
        with pytest.raises(ConfigError) as info:
            load_config(path, env={"HOME": str(tmp_path)})
        assert info.value.line == line and said in str(info.value), (body, str(info.value))


def test_claude_project_dir_names_every_unsafe_character(tmp_path: Path) -> None:
    worktree = tmp_path / "wt.fix_1"
    worktree.mkdir()
    [first, *_] = hostusage.claude_dirs(str(worktree))
    assert os.path.basename(first) == "".join(c if c.isalnum() else "-" for c in str(worktree))


def test_gemini_cli_chat_recording_one_record_per_model_message(
    host: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gemini CLI 0.61.0's recording, as it wrote it against the scripted model (cut short):
    the model messages count, input less its cached part, thoughts as output, tool-use
    prompts as input; the user lines and the "$set" lines do not."""
    monkeypatch.setenv("GEMINI_CLI_HOME", str(host))
    project = host / ".gemini" / "tmp" / "gemini-run"
    (project / "chats").mkdir(parents=True)
    (project / ".project_root").write_text(str(host / "worktree"))
    other = host / ".gemini" / "tmp" / "elsewhere"
    (other / "chats").mkdir(parents=True)
    (other / ".project_root").write_text("/somewhere/else")
    text = (FIXTURES / "gemini-session.jsonl").read_text()
    (project / "chats" / "session-2026-12-07T14-45-fee03c58.jsonl").write_text(text)
    (other / "chats" / "session-x.jsonl").write_text(text)
    reader = hostusage.Usage()
    records = look(meta(host, "gemini"), reader)
    assert [(r["id"], r["model"]) for r in records] == [
        ("gemini:90b25c94-764a-41d8-adf4-21129405b756", "gemini-3.1-pro-preview"),
        ("gemini:7c1e0d52-0b7a-4f43-9a55-3f1f7a2b9e10", "gemini-3.1-pro-preview"),
    ]
    first, second = records
    assert (first["input"], first["output"], first["cache_read"]) == (1020, 22, 310)
    assert (second["input"], second["output"], second["cache_read"]) == (1212, 115, 1200)
    assert look(meta(host, "gemini"), reader) == []  # read once


def test_gemini_cli_recording_in_the_sessions_own_home_counts_once(
    host: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose home had no link to the person's tmp recorded in the session's own home:
    read there too; the person's tmp linked into the session's home is read once, not twice."""
    monkeypatch.setenv("GEMINI_CLI_HOME", str(host / "me"))
    own_tmp = host / "fleet" / "sessions" / SID / "gemini-home" / ".gemini" / "tmp"
    project = own_tmp / "gemini-run"
    (project / "chats").mkdir(parents=True)
    (project / ".project_root").write_text(str(host / "worktree"))
    text = (FIXTURES / "gemini-session.jsonl").read_text()
    (project / "chats" / "session-1.jsonl").write_text(text)
    assert len(look(meta(host, "gemini"), hostusage.Usage())) == 2
    (host / "me" / ".gemini").mkdir(parents=True)
    (host / "me" / ".gemini" / "tmp").symlink_to(own_tmp)
    assert len(look(meta(host, "gemini"), hostusage.Usage())) == 2
