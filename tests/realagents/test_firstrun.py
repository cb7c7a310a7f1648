"""First-run and account states of the real CLIs read as needs-input, live: a folder the agent
was not told to trust (Codex, Gemini CLI), no API key (Gemini CLI), onboarding done but not
logged in (Claude Code). Each is a new session a person must act on before it does anything;
fleet must say so, with the reason where it knows one, and never read it as idle."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.fleetrun import FleetCLI
from tests.integration.hosts import LoopbackFleet, LoopbackHost
from tests.realagents.harness import AgentRun, agent_table, env_command, seed_file, start

NO_MODEL = "http://127.0.0.1:9"  # nothing listens: none of these states reaches a model


def _waiting(run: AgentRun) -> dict[str, Any] | None:
    return run.fleet.sessions()[run.ref].get("waiting")


def _needs_input_showing(run: AgentRun, shows: str) -> None:
    run.wait("needs-input")
    assert shows in run.screen()


def test_gemini_without_an_api_key_and_in_an_untrusted_folder(
    hosts: LoopbackFleet, agent_cli: Callable[[str], Path], seed: Callable[..., Path]
) -> None:
    gemini = agent_cli("gemini")
    home = hosts["alpha"].home
    quiet = {"general": {"disableAutoUpdate": True}, "privacy": {"usageStatisticsEnabled": False}}
    seed(".gemini/settings.json", json.dumps(quiet))
    seed(
        ".gemini/trustedFolders.json",
        json.dumps({str(home / ".fleet" / "worktrees" / "nokey"): "TRUST_FOLDER"}),
    )
    env = {"GOOGLE_GEMINI_BASE_URL": NO_MODEL}
    fleet = FleetCLI(hosts, agent_table("gemini", command=env_command(env, gemini)))

    # No key and no auth method chosen: its auth dialog, a login to do.
    run = start(fleet, "gemini", "nokey")
    _needs_input_showing(run, "How would you like to authenticate")
    waiting = _waiting(run)
    assert waiting is not None and waiting["kind"] == "login", waiting
    assert waiting["input"].startswith("How would you like to authenticate"), waiting

    # With a key, in a folder nobody trusted: its trust dialog (no hook runs there yet).
    seed(
        ".gemini/settings.json",
        json.dumps(quiet | {"security": {"auth": {"selectedType": "gemini-api-key"}}}),
    )
    env["GEMINI_API_KEY"] = "fake"
    fleet = FleetCLI(hosts, agent_table("gemini", command=env_command(env, gemini)))
    untrusted = start(fleet, "gemini", "untrusted")
    _needs_input_showing(untrusted, "Do you trust the files in this folder?")


def test_codex_in_an_untrusted_folder(
    hosts: LoopbackFleet, agent_cli: Callable[[str], Path], seed: Callable[..., Path]
) -> None:
    home = hosts["alpha"].home
    seed(
        ".codex/config.toml",
        f"""model = "fake-model"
model_provider = "fake"
check_for_update_on_startup = false

[model_providers.fake]
name = "Fake local"
base_url = "{NO_MODEL}/v1"
env_key = "OPENAI_API_KEY"
wire_api = "responses"

[analytics]
enabled = false
""",
    )
    env = {"CODEX_HOME": str(home / ".codex"), "OPENAI_API_KEY": "sk-fake"}
    fleet = FleetCLI(hosts, agent_table("codex", command=env_command(env, agent_cli("codex"))))
    run = start(fleet, "codex", "untrusted")
    _needs_input_showing(run, "Trust this folder?")


def test_claude_onboarded_but_not_logged_in(
    hosts: LoopbackFleet, agent_cli: Callable[[str], Path], seed: Callable[..., Path]
) -> None:
    home = hosts["alpha"].home
    seed(
        ".claude.json",
        json.dumps(
            {
                "hasCompletedOnboarding": True,
                "theme": "dark",
                "projects": {
                    str(home / ".fleet" / "worktrees" / "nologin"): {"hasTrustDialogAccepted": True}
                },
            }
        ),
    )
    env = {
        "ANTHROPIC_BASE_URL": NO_MODEL,
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
    }
    # fleet's own hooks, as the built-in profile has them: the failed turn is reported.
    command = env_command(env, agent_cli("claude"), '--settings "$FLEET_SIGNALS"', "{task}")
    fleet = FleetCLI(hosts, agent_table("claude", command=command))
    run = start(fleet, "claude", "nologin", "say hi")
    _needs_input_showing(run, "Not logged in")
    said = _waiting(run)
    # What it waits for; the dialog's options and request id come beside it.
    assert {k: said[k] for k in ("kind", "tool", "input")} == {
        "kind": "login",
        "tool": "",
        "input": "Not logged in · Please run /login",
    }

    # A rejection's note is fleet's own typing: never into an agent that cannot act on it.
    # It waits in the outbox, with the reason, until the person fixed the login.
    seed_file(hosts["alpha"], f".fleet/worktrees/nologin/{NOTE_FILE}", "draft\n")
    fleet.ok("reject", run.ref, "--file", NOTE_FILE, "--note", NOTE)
    records = _journal(hosts["alpha"], run.session["id"])
    queued = [r for r in records if r.get("type") == "queued" and r.get("what") == "note"]
    assert queued and queued[-1]["why"].startswith("stuck (Not logged in"), records[-5:]
    assert not [r for r in records if r.get("type") == "input" and r.get("what") == "note"]
    assert NOTE not in run.screen()
    assert run.status() == "needs-input"


NOTE_FILE = "draft.txt"
NOTE = "no drafts please"


def _journal(host: LoopbackHost, session: str) -> list[dict[str, Any]]:
    lines = (host.home / ".fleet" / "journal.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, filter(str.strip, lines)) if r.get("session") == session]
