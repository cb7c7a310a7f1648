"""Fleet's hooks for one run of an agent: files in fleet's own directories and variables on the
agent's environment, never anything in the person's repository or their own agent config.

- Claude Code: a settings file in the session's directory, named by FLEET_SIGNALS (the
  profile's command passes `--settings "$FLEET_SIGNALS"`); its hooks run next to the person's.
- Codex: `notify` (FLEET_SIGNALS holds `notify=[...]` for `-c`). Not Codex's hooks: run
  without review they need `--dangerously-bypass-hook-trust`, which would also run whatever
  hooks the repository brings, unreviewed; with review Codex opens a dialog and edits the
  person's config.
- opencode: one plugin directory per host (OPENCODE_CONFIG_DIR; opencode installs its plugin
  package into every config dir it loads, once), the hook's argv in FLEET_HOOK_ARGV.
- aider: AIDER_NOTIFICATIONS_COMMAND, unless the person set their own.
- Gemini CLI: GEMINI_CLI_HOME names a home of the session's own whose .gemini links every
  entry of the person's ~/.gemini (credentials, trusted folders, history, extensions) but
  settings.json, which is their settings with fleet's hooks added after their own. Not the
  system settings layers (GEMINI_CLI_SYSTEM_*_PATH): 0.61 skips such a file unless it and every
  directory above it belong to root. Gemini CLI runs no hook in a folder it was not told to
  trust: there its trust dialog is on screen, read as needs-input.

The hook command is this helper (`hook AGENT`), every word quoted; the session and run travel
as FLEET_SESSION and FLEET_RUN. Stdlib only, Python 3.8: this module runs on the hosts.
"""

from __future__ import annotations

import json
import os
import shlex
import sys

from .layout import BASE, write_text

HOOK_TIMEOUT = 10
"""Seconds Claude Code gives fleet's hook (the hook itself gives up after signals.HARD_BOUND)."""

CLAUDE_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PermissionRequest",
    "Notification",
    "Stop",
    "StopFailure",
    "SessionEnd",
)
_MATCHED = ("PreToolUse", "PostToolUse", "PermissionRequest")

OPENCODE_DIR = os.path.join(BASE, "opencode")
OPENCODE_PLUGIN = """\
// fleet's signal plugin, written by fleet's host helper: it tells fleet what this opencode does.
// It runs only in sessions fleet started (FLEET_SESSION), and never throws or waits.
import { spawn } from "node:child_process";

const WANTED = new Set([
  "session.status", "session.idle", "session.error", "permission.asked", "permission.replied",
  "question.asked", "question.replied",
]);

export const FleetSignals = async () => ({
  event: async ({ event }) => {
    try {
      const argv = JSON.parse(process.env.FLEET_HOOK_ARGV || "null");
      if (!Array.isArray(argv) || !process.env.FLEET_SESSION || !WANTED.has(event.type)) return;
      const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "ignore", "ignore"] });
      child.on("error", () => {});
      child.stdin.on("error", () => {});
      const t = Date.now() / 1000;
      child.stdin.end(JSON.stringify({ type: event.type, properties: event.properties, t }));
      child.unref();
    } catch (e) {}
  },
});
"""

GEMINI_EVENTS = ("BeforeAgent", "BeforeTool", "AfterTool", "Notification", "AfterAgent")
"""Not BeforeModel/AfterModel (every streamed chunk) nor the session ones: Gemini CLI waits for
each hook, so fleet asks for the few that say something."""

DEFAULTS = {"claude": "{}", "codex": "notify=[]"}
"""FLEET_SIGNALS when fleet could not write its hooks: the agent starts without them."""


def hook_argv(agent: str) -> list:
    return [sys.executable, os.path.abspath(sys.argv[0]), "hook", agent]


def _claude_settings(sdir: str) -> str:
    command = " ".join(shlex.quote(w) for w in hook_argv("claude"))
    handler = {"type": "command", "command": command, "timeout": HOOK_TIMEOUT}
    hooks = {}
    for event in CLAUDE_EVENTS:
        entry = {"hooks": [handler]}  # type: dict
        if event in _MATCHED:
            entry["matcher"] = "*"
        hooks[event] = [entry]
    path = os.path.join(sdir, "claude-settings.json")
    write_text(path, json.dumps({"hooks": hooks}, sort_keys=True))
    return path


def _gemini_dir(env: dict) -> str:
    """The person's own ~/.gemini (under GEMINI_CLI_HOME when they set it)."""
    home = env.get("GEMINI_CLI_HOME") or env.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, ".gemini")


# What Gemini CLI writes into its home as it runs: chat recordings (what `gemini --resume`
# and fleet's usage reader read) and prompt history. Linked, they outlive the session's home.
GEMINI_SHARED_DIRS = ("tmp", "history")


def _gemini_hooks(settings: dict, session: str, run: int) -> dict:
    """`settings` with fleet's hooks after the person's own for each event fleet reads."""
    handler = {
        "type": "command",
        "name": "fleet-signals",
        "command": " ".join(shlex.quote(w) for w in hook_argv("gemini")),
        "timeout": HOOK_TIMEOUT * 1000,
        # Gemini CLI gives hooks a sanitized environment: the run is named here too.
        "env": {"FLEET_SESSION": session, "FLEET_RUN": str(run)},
    }
    hooks = settings.get("hooks")
    hooks = dict(hooks) if isinstance(hooks, dict) else {}
    for event in GEMINI_EVENTS:
        theirs = hooks.get(event)
        entry = {"hooks": [handler]}  # type: dict
        if event in ("BeforeTool", "AfterTool"):
            entry["matcher"] = "*"
        hooks[event] = (theirs if isinstance(theirs, list) else []) + [entry]
    return dict(settings, hooks=hooks)


def _gemini_home(session: str, run: int, sdir: str, env: dict) -> str:
    """A home for this run's Gemini CLI (GEMINI_CLI_HOME) whose .gemini links every entry of
    the person's own, but for settings.json: their settings with fleet's hooks added. A
    settings file fleet cannot read (JSON with comments) gets no hooks: OSError, no home."""
    real = _gemini_dir(env)
    settings = {}  # type: dict
    try:
        with open(os.path.join(real, "settings.json"), encoding="utf-8") as f:
            settings = json.load(f)
    except FileNotFoundError:
        pass
    except ValueError:
        raise OSError("unreadable Gemini CLI settings") from None
    if not isinstance(settings, dict):
        raise OSError("unreadable Gemini CLI settings")
    home = os.path.join(sdir, "gemini-home")
    mine = os.path.join(home, ".gemini")
    os.makedirs(mine, mode=0o700, exist_ok=True)
    for folder in GEMINI_SHARED_DIRS:  # made first, so a first run records in the person's own
        os.makedirs(os.path.join(real, folder), mode=0o700, exist_ok=True)
    names = os.listdir(real) if os.path.isdir(real) else []
    for name in names:
        link = os.path.join(mine, name)
        if name != "settings.json" and not os.path.lexists(link):
            os.symlink(os.path.join(real, name), link)
    hooked = _gemini_hooks(settings, session, run)
    write_text(os.path.join(mine, "settings.json"), json.dumps(hooked, sort_keys=True))
    return home


def _opencode_dir() -> str:
    plugins = os.path.join(OPENCODE_DIR, "plugins")
    os.makedirs(plugins, mode=0o700, exist_ok=True)
    path = os.path.join(plugins, "fleet-signals.js")
    try:
        with open(path, encoding="utf-8") as f:
            same = f.read() == OPENCODE_PLUGIN
    except OSError:
        same = False
    if not same:  # rewritten only when it changed: opencode watches its config dirs
        write_text(path, OPENCODE_PLUGIN)
    return OPENCODE_DIR


def environment(kind: object, session: str, run: int, sdir: str, env: dict) -> dict:
    """The variables to put on the agent's environment for its hooks of kind `kind`."""
    out = {"FLEET_SESSION": session, "FLEET_RUN": str(run)}
    if kind in DEFAULTS:
        out["FLEET_SIGNALS"] = DEFAULTS[kind]
    try:
        if kind == "claude":
            out["FLEET_SIGNALS"] = _claude_settings(sdir)
        elif kind == "gemini":
            out["GEMINI_CLI_HOME"] = _gemini_home(session, run, sdir, env)
        elif kind == "codex":
            out["FLEET_SIGNALS"] = "notify=" + json.dumps(hook_argv("codex"))
        elif kind == "opencode" and not env.get("OPENCODE_CONFIG_DIR"):
            out["OPENCODE_CONFIG_DIR"] = _opencode_dir()
            out["FLEET_HOOK_ARGV"] = json.dumps(hook_argv("opencode"))
        elif kind == "aider" and not env.get("AIDER_NOTIFICATIONS_COMMAND"):
            out["AIDER_NOTIFICATIONS"] = "true"
            out["AIDER_NOTIFICATIONS_COMMAND"] = " ".join(
                shlex.quote(w) for w in hook_argv("aider")
            )
    except OSError:
        pass  # no hooks this run: its status comes from its screen alone
    return out
