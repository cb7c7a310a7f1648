"""The agents' hook program on the host (payload -> one bounded signal record) and the rule
that says when a signal decides a session's status and when its screen does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.core.remote import untrusted
from fleet.core.remote.hostside import hookinstall, journal, signals
from fleet.core.remote.hostside.signals import IDLE, NEEDS_INPUT, WORKING, decide

SID = "abcdefgh"
BASH = {
    "session_id": "0d2c4e8a-1111-2222-3333-444455556666",
    "hook_event_name": "PermissionRequest",
    "tool_name": "Bash",
    "tool_input": {"command": "npm test", "description": "Run the tests"},
    "permission_suggestions": [],
}


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    sessions = tmp_path / "sessions"
    (sessions / SID).mkdir(parents=True)
    (sessions / SID / "meta.json").write_text(json.dumps({"id": SID, "runs": 2}))
    monkeypatch.setattr(signals, "SESSIONS", str(sessions))
    base = str(tmp_path / "journal")
    monkeypatch.setattr(journal, "JOURNAL", base + ".jsonl")
    monkeypatch.setattr(journal, "LOCK", base + ".lock")
    monkeypatch.setattr(journal, "ROTATED", base + ".1.jsonl")
    monkeypatch.setattr(journal, "_writer", None)
    return tmp_path


def _journal(host: Path) -> list[dict[str, object]]:
    path = host / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


ENV = {"FLEET_SESSION": SID, "FLEET_RUN": "2"}


def test_a_permission_request_is_journaled_as_needs_input_with_the_command(host: Path) -> None:
    got = signals.handle(["claude"], json.dumps(BASH).encode(), ENV, 100.0)
    assert got is not None
    assert got["state"] == NEEDS_INPUT
    assert got["waiting"] == {"kind": "tool", "tool": "Bash", "input": "npm test"}
    assert got["agent_session_id"] == BASH["session_id"]
    (record,) = _journal(host)
    assert record["type"] == "signal" and record["session"] == SID and record["run"] == 2
    # The laptop reads it as a typed event, what it waits for inert and bounded.
    parsed = untrusted.parse_event("h", record)
    assert parsed.kind == "signal"
    assert json.loads((host / "sessions" / SID / "signal.json").read_text()) == got


@pytest.mark.parametrize(
    ("payload", "state"),
    [
        ({"hook_event_name": "UserPromptSubmit", "prompt": "go"}, WORKING),
        ({"hook_event_name": "PreToolUse", "tool_name": "Bash"}, WORKING),
        ({"hook_event_name": "PostToolUse", "tool_name": "Bash"}, WORKING),
        ({"hook_event_name": "Stop", "last_assistant_message": "done"}, IDLE),
        ({"hook_event_name": "SessionStart", "source": "startup"}, None),
        ({"hook_event_name": "Notification", "notification_type": "idle_prompt"}, IDLE),
    ],
)
def test_claude_events(host: Path, payload: dict[str, object], state: str | None) -> None:
    got = signals.handle(["claude"], json.dumps(payload).encode(), ENV, 1.0)
    assert got is not None and got["state"] == state


def test_a_failed_turn_waits_for_a_person_with_the_error(host: Path) -> None:
    payload = {
        "hook_event_name": "StopFailure",
        "error": "rate_limit",
        "last_assistant_message": "API Error: 429",
    }
    got = signals.handle(["claude"], json.dumps(payload).encode(), ENV, 1.0)
    assert got is not None and got["state"] == NEEDS_INPUT
    assert got["waiting"] == {"kind": "error", "tool": "", "input": "API Error: 429"}
    assert got["error"] == "rate_limit"


def test_not_logged_in_waits_for_a_login(host: Path) -> None:
    # Claude Code 2.1.328 with onboarding done and no key, as its hook reported it.
    payload = {
        "hook_event_name": "StopFailure",
        "error": "authentication_failed",
        "last_assistant_message": "Not logged in · Please run /login",
    }
    got = signals.handle(["claude"], json.dumps(payload).encode(), ENV, 1.0)
    assert got is not None and got["state"] == NEEDS_INPUT
    assert got["waiting"] == {
        "kind": "login",
        "tool": "",
        "input": "Not logged in · Please run /login",
    }
    parsed = untrusted.parse_event("h", _journal(host)[-1])
    assert parsed.kind == "signal"


GEMINI_SHELL = {
    "session_id": "5b0e0c7e-1111-2222-3333-444455556666",
    "hook_event_name": "Notification",
    "notification_type": "ToolPermission",
    "message": "Tool Shell requires execution",
    "details": {"type": "exec", "title": "Confirm Shell Command", "command": "npm test"},
}


@pytest.mark.parametrize(
    ("payload", "state", "waiting"),
    [
        ({"hook_event_name": "BeforeAgent", "prompt": "go"}, WORKING, None),
        ({"hook_event_name": "BeforeTool", "tool_name": "run_shell_command"}, WORKING, None),
        ({"hook_event_name": "AfterTool", "tool_name": "run_shell_command"}, WORKING, None),
        ({"hook_event_name": "AfterAgent", "prompt_response": "done"}, IDLE, None),
        ({"hook_event_name": "SessionStart", "source": "startup"}, None, None),
        (GEMINI_SHELL, NEEDS_INPUT, {"kind": "tool", "tool": "Shell", "input": "npm test"}),
        (
            dict(GEMINI_SHELL, details={"type": "edit", "title": "x", "filePath": "/w/NOTES.md"}),
            NEEDS_INPUT,
            {"kind": "tool", "tool": "Edit", "input": "/w/NOTES.md"},
        ),
        (
            dict(GEMINI_SHELL, details={"type": "mcp", "toolName": "query", "serverName": "db"}),
            NEEDS_INPUT,
            {"kind": "tool", "tool": "query", "input": ""},
        ),
        (
            dict(GEMINI_SHELL, details="junk"),
            NEEDS_INPUT,
            {"kind": "tool", "tool": "", "input": ""},
        ),
        (dict(GEMINI_SHELL, notification_type="Other"), None, None),
    ],
)
def test_gemini_events(
    host: Path, payload: dict[str, object], state: str | None, waiting: object
) -> None:
    got = signals.handle(["gemini"], json.dumps(payload).encode(), ENV, 1.0)
    assert got is not None and got["state"] == state and got["waiting"] == waiting
    assert got.get("agent_session_id") == payload.get("session_id")


def test_gemini_home_on_a_first_run_records_in_the_persons_own(tmp_path: Path) -> None:
    """No ~/.gemini yet: the chat recordings and history still land in the person's own
    folder (where `gemini --resume` and fleet's usage reader look), not in the session's."""
    sdir = tmp_path / "session"
    sdir.mkdir()
    env = hookinstall.environment("gemini", SID, 1, str(sdir), {"HOME": str(tmp_path / "me")})
    ours = Path(env["GEMINI_CLI_HOME"]) / ".gemini"
    for folder in ("tmp", "history"):
        assert (ours / folder).resolve() == tmp_path / "me" / ".gemini" / folder


def test_gemini_home_links_the_persons_own_and_adds_fleets_hooks(tmp_path: Path) -> None:
    real = tmp_path / "me" / ".gemini"
    (real / "tmp").mkdir(parents=True)
    (real / "oauth_creds.json").write_text("{}")
    theirs = {"type": "command", "command": "audit-tool"}
    mine = {"ui": {"theme": "x"}, "hooks": {"BeforeTool": [{"hooks": [theirs]}]}}
    (real / "settings.json").write_text(json.dumps(mine))
    sdir = tmp_path / "session"
    sdir.mkdir()
    env = hookinstall.environment("gemini", SID, 4, str(sdir), {"HOME": str(tmp_path / "me")})
    home = Path(env["GEMINI_CLI_HOME"])
    assert home.parent == sdir
    ours = home / ".gemini"
    assert (ours / "oauth_creds.json").resolve() == real / "oauth_creds.json"
    assert (ours / "tmp").resolve() == real / "tmp"
    settings_path = ours / "settings.json"
    assert not settings_path.is_symlink() and oct(settings_path.stat().st_mode & 0o777) == "0o600"
    settings = json.loads(settings_path.read_text())
    assert settings["ui"] == {"theme": "x"}
    assert set(settings["hooks"]) == set(hookinstall.GEMINI_EVENTS)
    before = settings["hooks"]["BeforeTool"]
    assert before[0] == {"hooks": [theirs]} and before[1]["matcher"] == "*"
    (handler,) = settings["hooks"]["Notification"][0]["hooks"]
    assert handler["command"].endswith(" hook gemini") and handler["timeout"] == 10_000
    assert handler["env"] == {"FLEET_SESSION": SID, "FLEET_RUN": "4"}
    # The person's own file is untouched; a run later the same home is reused.
    assert json.loads((real / "settings.json").read_text()) == mine
    again = hookinstall.environment("gemini", SID, 5, str(sdir), {"HOME": str(tmp_path / "me")})
    assert again["GEMINI_CLI_HOME"] == str(home)
    (handler,) = json.loads(settings_path.read_text())["hooks"]["AfterAgent"][0]["hooks"]
    assert handler["env"]["FLEET_RUN"] == "5"
    # Settings fleet cannot read (comments): no hooks, Gemini CLI runs with its own home.
    (real / "settings.json").write_text("// mine\n{}")
    env = hookinstall.environment("gemini", SID, 6, str(sdir), {"HOME": str(tmp_path / "me")})
    assert "GEMINI_CLI_HOME" not in env


def test_a_signal_of_an_earlier_run_or_another_session_is_ignored(host: Path) -> None:
    data = json.dumps(BASH).encode()
    assert signals.handle(["claude"], data, {"FLEET_SESSION": SID, "FLEET_RUN": "1"}, 1.0) is None
    other = {"FLEET_SESSION": "zzzzzzzz", "FLEET_RUN": "2"}
    assert signals.handle(["claude"], data, other, 1.0) is None
    assert signals.handle(["claude"], data, {"FLEET_SESSION": "../x", "FLEET_RUN": "2"}, 1) is None
    assert signals.handle(["claude"], data, {}, 1.0) is None
    assert _journal(host) == []
    assert not (host / "sessions" / SID / "signal.json").exists()


def test_malformed_and_huge_payloads_are_bounded(host: Path) -> None:
    assert signals.handle(["claude"], b"{not json", ENV, 1.0)["state"] is None  # type: ignore[index]
    huge = dict(BASH, tool_input={"command": "x" * 100_000 + "\n; rm -rf /"})
    got = signals.handle(["claude"], json.dumps(huge).encode(), ENV, 1.0)
    assert got is not None and len(got["waiting"]["input"]) <= signals.MAX_FIELD
    bigger = json.dumps(dict(BASH, tool_response="y" * (signals.MAX_PAYLOAD + 10)))
    got = signals.handle(["claude"], bigger.encode(), ENV, 1.0)
    assert got is not None and got["state"] is None  # not parsed at all
    assert signals.handle(["nobody"], json.dumps(BASH).encode(), ENV, 1.0) is None
    weird = dict(BASH, tool_name=["Bash"], tool_input="npm test")
    got = signals.handle(["claude"], json.dumps(weird).encode(), ENV, 1.0)
    assert got is not None and got["waiting"] == {"kind": "tool", "tool": "", "input": ""}
    assert all(len(json.dumps(r)) < 2000 for r in _journal(host))


def test_codex_notify_is_a_trigger_only_and_opencode_events_read(host: Path) -> None:
    note = json.dumps({"type": "agent-turn-complete", "thread-id": "t"})
    got = signals.handle(["codex", note], b"", ENV, 1.0)
    assert got is not None and got["state"] is None and got["event"] == "agent-turn-complete"
    asked = {
        "type": "permission.asked",
        "properties": {"sessionID": "ses_1", "permission": "bash", "metadata": {"command": "ls"}},
    }
    got = signals.handle(["opencode"], json.dumps(asked).encode(), ENV, 1.0)
    assert got is not None and got["waiting"] == {"kind": "tool", "tool": "bash", "input": "ls"}
    aborted = {"type": "session.error", "properties": {"error": {"name": "MessageAbortedError"}}}
    got = signals.handle(["opencode"], json.dumps(aborted).encode(), ENV, 1.0)
    assert got is not None and got["state"] is None


def test_the_hook_program_prints_nothing_and_exits_0_whatever_happens(tmp_path: Path) -> None:
    """As the agent runs it: the package's __main__, no session, garbage in, a missing home."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, HOME=str(tmp_path), FLEET_SESSION=SID, FLEET_RUN="1")
    env["PYTHONPATH"] = str(root)
    for stdin in (b"", b"{bad", json.dumps(BASH).encode()):
        done = subprocess.run(
            [sys.executable, "-m", "fleet.core.remote.hostside", "hook", "claude"],
            input=stdin,
            capture_output=True,
            env=env,
            timeout=30,
        )
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


def test_claude_settings_name_every_event_with_the_helper_as_command(tmp_path: Path) -> None:
    env = hookinstall.environment("claude", SID, 3, str(tmp_path), {})
    assert env["FLEET_SESSION"] == SID and env["FLEET_RUN"] == "3"
    settings = json.loads(Path(env["FLEET_SIGNALS"]).read_text())
    assert set(settings["hooks"]) == set(hookinstall.CLAUDE_EVENTS)
    (handler,) = settings["hooks"]["PermissionRequest"][0]["hooks"]
    assert handler["command"].endswith(" hook claude") and handler["timeout"] > 0
    codex = hookinstall.environment("codex", SID, 1, str(tmp_path), {})
    assert codex["FLEET_SIGNALS"].startswith("notify=[") and codex["FLEET_SIGNALS"].endswith(
        '"hook", "codex"]'
    )
    # A person's own aider notifications command stays theirs.
    assert "AIDER_NOTIFICATIONS_COMMAND" not in hookinstall.environment(
        "aider", SID, 1, str(tmp_path), {"AIDER_NOTIFICATIONS_COMMAND": "mine"}
    )
    assert set(hookinstall.environment(None, SID, 1, str(tmp_path), {})) == {
        "FLEET_SESSION",
        "FLEET_RUN",
    }


# -- the precedence rule -------------------------------------------------------------------------

WAIT = {"kind": "tool", "tool": "Bash", "input": "npm test"}


def _sig(state: str | None, t: float = 100.0, run: int = 1) -> dict[str, object]:
    return {"state": state, "t": t, "run": run, "waiting": WAIT if state == NEEDS_INPUT else None}


def test_no_signal_or_one_that_claims_nothing_leaves_the_screen_to_decide() -> None:
    assert decide(None, 1, IDLE, 0.0) == (IDLE, None)
    assert decide(_sig(None), 1, WORKING, 0.0) == (WORKING, None)
    assert decide(_sig(WORKING, run=1), 2, IDLE, 0.0) == (IDLE, None)  # an earlier run's


def test_a_fresh_signal_decides_over_a_quiet_screen() -> None:
    # A long silent tool call: the screen has not changed since, the timing rule says idle.
    assert decide(_sig(WORKING), 1, IDLE, 99.0) == (WORKING, None)
    # A dialog the screen patterns do not know: needs-input, with what it waits for.
    assert decide(_sig(NEEDS_INPUT), 1, WORKING, 100.5) == (NEEDS_INPUT, WAIT)
    assert decide(_sig(IDLE), 1, WORKING, 101.0) == (IDLE, None)


def test_a_dialog_on_screen_always_counts() -> None:
    assert decide(_sig(WORKING), 1, NEEDS_INPUT, 500.0) == (NEEDS_INPUT, None)
    assert decide(_sig(NEEDS_INPUT), 1, NEEDS_INPUT, 500.0) == (NEEDS_INPUT, WAIT)


def test_the_screen_changing_after_a_signal_overturns_it() -> None:
    # Esc on the dialog: no signal follows, the screen moves on to the prompt.
    assert decide(_sig(NEEDS_INPUT), 1, IDLE, 103.0) == (IDLE, None)
    assert decide(_sig(WORKING), 1, IDLE, 150.0) == (IDLE, None)
    # Within the grace the agent is still drawing what the signal announced.
    assert decide(_sig(NEEDS_INPUT), 1, IDLE, 100.0 + signals.SCREEN_GRACE) == (NEEDS_INPUT, WAIT)


def test_a_tool_call_running_past_its_bound_waits_for_a_person(host: Path) -> None:
    started = {
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "npm test"},
    }
    sig = signals.handle(["claude"], json.dumps(started).encode(), ENV, 100.0)
    assert sig is not None and sig["state"] == WORKING
    bound = signals.TOOL_BOUND
    # Its spinner keeps the screen moving: within the bound the signal says working.
    assert decide(sig, 2, WORKING, 100.0 + bound, now=100.0 + bound) == (WORKING, None)
    overdue = decide(sig, 2, WORKING, 100.0 + bound + 1, now=100.0 + bound + 1)
    assert overdue == (
        NEEDS_INPUT,
        {"kind": "error", "tool": "Bash", "input": "running for over 10 min: npm test"},
    )
    # A dialog on screen says what it waits for; a call that ended is not overdue.
    assert decide(sig, 2, NEEDS_INPUT, 100.0, now=1e9) == (NEEDS_INPUT, None)
    ended = signals.handle(
        ["claude"], json.dumps(dict(started, hook_event_name="PostToolUse")).encode(), ENV, 105.0
    )
    assert decide(ended, 2, WORKING, 106.0, now=1e9) == (WORKING, None)
    # Interrupted (Esc, no signal): the screen is back at the prompt, idle.
    assert decide(sig, 2, IDLE, 200.0, now=1e9) == (IDLE, None)
    # Gemini CLI's BeforeTool the same.
    gem = {"hook_event_name": "BeforeTool", "tool_name": "run_shell_command"}
    sig = signals.handle(["gemini"], json.dumps(gem).encode(), ENV, 100.0)
    assert decide(sig, 2, WORKING, 100.0, now=1e9)[1] == {
        "kind": "error",
        "tool": "run_shell_command",
        "input": "running for over 10 min",
    }


def test_a_signal_without_a_state_keeps_the_request_before_it() -> None:
    """Claude Code sends Notification(permission_prompt) right after PermissionRequest: the
    tool and command the dialog asks about stay in signal.json."""
    asked = {
        "run": 2,
        "state": "needs-input",
        "waiting": {"kind": "tool", "tool": "Bash", "input": "npm test"},
        "t": 5.0,
        "event": "PermissionRequest",
    }
    note = {"run": 2, "state": None, "waiting": None, "t": 6.0, "event": "Notification"}
    kept = signals._keeping_state(note, asked)
    assert (kept["state"], kept["waiting"], kept["t"]) == ("needs-input", asked["waiting"], 5.0)
    assert kept["event"] == "Notification"
    assert signals._keeping_state(note, dict(asked, run=1)) == note  # an earlier run's: not kept
    assert signals._keeping_state(note, None) == note
    working = dict(note, state="working")
    assert signals._keeping_state(working, asked) == working
