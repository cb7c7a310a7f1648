"""Agents' own lifecycle signals: the hook program, the reading of each CLI's payload, and the
rule that says when a signal decides a session's status and when its screen does.

The helper itself is the hook program (`helper hook AGENT [ARG]`): the agent runs it with its
payload on stdin (Claude Code, Gemini CLI, opencode's plugin) or as the last argument (Codex's
`notify`), the environment fleet put on the agent's command names the session (FLEET_SESSION)
and the run (FLEET_RUN). It prints nothing (Claude Code adds a hook's stdout to the model's
context), always exits 0 within a few seconds, and journals one bounded `signal` record; the
session's signal.json holds the latest for the watcher. A signal of an earlier run is dropped.

Stdlib only, Python 3.8: this module runs on the hosts.
"""

from __future__ import annotations

import json
import os
import select
import signal as os_signal
import sys
import time
from typing import Any, Dict, Optional  # noqa: F401 (type comments: Python 3.8)

from . import protocol, wake
from .layout import ID_RE, SESSIONS

NEEDS_INPUT = "needs-input"
WORKING = "working"
IDLE = "idle"

MAX_PAYLOAD = 512 * 1024
"""Bytes of a hook's payload read; a longer one (a tool's whole output) is not parsed."""
MAX_FIELD = protocol.MAX_SIGNAL_FIELD
"""Characters kept of any text a signal carries (a command, a question, an error)."""
READ_WAIT = 2.0
"""Seconds the hook waits for its payload on stdin."""
HARD_BOUND = 5
"""Seconds after which the hook gives up, whatever it was doing (SIGALRM)."""
SCREEN_GRACE = 2.0
"""Seconds after a signal during which the agent's own redraw does not overturn it."""
TOOL_BOUND = 600.0
"""Seconds a tool call may run (its start signalled, its end not) before a person is told."""

SIGNAL_FILE = "signal.json"
LOGIN_ERRORS = ("authentication_failed",)
"""Claude Code's StopFailure errors that mean "log in" ("Not logged in · Please run /login")."""
AGENTS = ("claude", "codex", "opencode", "aider", "gemini")


# -- what a payload says -------------------------------------------------------------------------


def _short(value: object) -> str:
    if not isinstance(value, str):
        return ""
    value = value.replace("\r", " ").replace("\n", " ").strip()
    return value if len(value) <= MAX_FIELD else value[: MAX_FIELD - 3] + "..."


def _summary(tool_input: object) -> str:
    """What a tool call will do, in one line: its command, file, or question."""
    if not isinstance(tool_input, dict):
        return ""
    for key in ("command", "file_path", "path", "url", "pattern", "prompt"):
        if isinstance(tool_input.get(key), str):
            return _short(tool_input[key])
    questions = tool_input.get("questions")
    if isinstance(questions, list) and questions and isinstance(questions[0], dict):
        return _short(questions[0].get("question"))
    return ""


def _waiting(kind: str, tool: object = "", what: object = "") -> dict:
    return {"kind": kind, "tool": _short(tool), "input": _short(what)}


def read_claude(payload: dict) -> dict:
    """Claude Code's hook payload (the same for every event but the fields of each)."""
    event = payload.get("hook_event_name")
    out = {"event": _short(event), "state": None, "waiting": None}  # type: Dict[str, Any]
    if event in ("UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure"):
        out["state"] = WORKING
        if event == "PreToolUse":
            out["doing"] = _waiting(
                "tool", payload.get("tool_name"), _summary(payload.get("tool_input"))
            )
    elif event == "PermissionRequest":
        tool = payload.get("tool_name")
        kind = "question" if tool == "AskUserQuestion" else "tool"
        out["state"] = NEEDS_INPUT
        out["waiting"] = _waiting(kind, tool, _summary(payload.get("tool_input")))
    elif event == "Stop":
        out["state"] = IDLE
    elif event == "StopFailure":
        # The agent is alive at its prompt, its turn failed: a person has to act.
        error = payload.get("error") or "error"
        message = payload.get("last_assistant_message") or error
        out["state"] = NEEDS_INPUT
        kind = "login" if error in LOGIN_ERRORS else "error"
        out["waiting"] = _waiting(kind, "", message)
        out["error"] = _short(error)
    elif event == "Notification" and payload.get("notification_type") == "idle_prompt":
        out["state"] = IDLE
    out["agent_session_id"] = _short(payload.get("session_id")) or None
    return out


def read_codex(payload: dict) -> dict:
    """Codex's `notify` (argv JSON). It also fires for a helper thread of each turn (titles),
    so "turn complete" cannot be told from it: it only makes the screen be read at once."""
    return {"event": _short(payload.get("type")), "state": None, "waiting": None}


def read_opencode(payload: dict) -> dict:
    """An event from fleet's opencode plugin: {"type", "properties"}."""
    event = payload.get("type")
    props = payload.get("properties")
    props = props if isinstance(props, dict) else {}
    out = {"event": _short(event), "state": None, "waiting": None}  # type: Dict[str, Any]
    if event == "session.status":
        status = props.get("status")
        kind = status.get("type") if isinstance(status, dict) else None
        out["state"] = {"busy": WORKING, "idle": IDLE}.get(kind if isinstance(kind, str) else "")
    elif event == "session.idle":
        out["state"] = IDLE
    elif event == "permission.asked":
        meta = props.get("metadata")
        what = meta.get("command") if isinstance(meta, dict) else None
        patterns = props.get("patterns")
        if not what and isinstance(patterns, list) and patterns:
            what = patterns[0]
        out["state"] = NEEDS_INPUT
        out["waiting"] = _waiting("tool", props.get("permission"), what)
    elif event == "question.asked":
        questions = props.get("questions")
        first = questions[0] if isinstance(questions, list) and questions else {}
        out["state"] = NEEDS_INPUT
        out["waiting"] = _waiting(
            "question", "", first.get("question") if isinstance(first, dict) else ""
        )
    elif event in ("permission.replied", "question.replied"):
        out["state"] = WORKING
    elif event == "session.error":
        error = props.get("error")
        error = error if isinstance(error, dict) else {}
        if error.get("name") != "MessageAbortedError":  # Esc: the screen says what follows
            data = error.get("data")
            message = data.get("message") if isinstance(data, dict) else None
            out["state"] = NEEDS_INPUT
            out["waiting"] = _waiting("error", "", message or error.get("name") or "error")
            out["error"] = _short(error.get("name"))
    out["agent_session_id"] = _short(props.get("sessionID")) or None
    return out


_GEMINI_TOOLS = {"exec": "Shell", "edit": "Edit", "info": "WebFetch"}


def _gemini_permission(details: dict) -> dict:
    """A Gemini CLI confirmation's details (0.61: {type, title, command | filePath | …})."""
    kind = details.get("type")
    tool = _GEMINI_TOOLS.get(kind if isinstance(kind, str) else "", "")
    if kind == "mcp":
        tool = details.get("toolDisplayName") or details.get("toolName") or "mcp"
    what = details.get("command") or details.get("filePath") or details.get("fileName")
    urls = details.get("urls")
    if not what and isinstance(urls, list) and urls:
        what = urls[0]
    return _waiting("tool", tool or details.get("title"), what or details.get("prompt"))


def read_gemini(payload: dict) -> dict:
    """Gemini CLI's hook payload: hook_event_name, session_id, and the fields of each event.
    A tool confirmation is a Notification of type ToolPermission; nothing reports an error."""
    event = payload.get("hook_event_name")
    out = {"event": _short(event), "state": None, "waiting": None}  # type: Dict[str, Any]
    if event in ("BeforeAgent", "BeforeTool", "AfterTool"):
        out["state"] = WORKING
        if event == "BeforeTool":
            out["doing"] = _waiting(
                "tool", payload.get("tool_name"), _summary(payload.get("tool_input"))
            )
    elif event == "Notification" and payload.get("notification_type") == "ToolPermission":
        details = payload.get("details")
        out["state"] = NEEDS_INPUT
        out["waiting"] = _gemini_permission(details if isinstance(details, dict) else {})
    elif event == "AfterAgent":
        out["state"] = IDLE
    out["agent_session_id"] = _short(payload.get("session_id")) or None
    return out


def read_aider(payload: dict) -> dict:
    """aider's notification carries nothing: it stopped for a person, the screen says why."""
    return {"event": "notification", "state": None, "waiting": None}


READERS = {
    "claude": read_claude,
    "codex": read_codex,
    "opencode": read_opencode,
    "aider": read_aider,
    "gemini": read_gemini,
}


def record(agent: str, payload: object, session: str, run: int, now: float) -> Optional[dict]:
    """The bounded signal a payload makes (None: not one fleet reads)."""
    reader = READERS.get(agent)
    if reader is None:
        return None
    read = reader(payload if isinstance(payload, dict) else {})
    out = {
        "session": session,
        "run": run,
        "agent": agent,
        "event": read.get("event") or "",
        "state": read.get("state"),
        "waiting": read.get("waiting"),
        "t": round(now, 3),
    }  # type: Dict[str, Any]
    for key in ("error", "agent_session_id", "doing"):
        if read.get(key):
            out[key] = read[key]
    return out


# -- the hook program ----------------------------------------------------------------------------


def _read_stdin() -> bytes:
    """The payload on stdin, at most MAX_PAYLOAD + 1 bytes, waiting at most READ_WAIT."""
    try:
        fd = sys.stdin.fileno()
        if os.isatty(fd):
            return b""
    except (OSError, ValueError, AttributeError):
        return b""
    data = b""
    deadline = time.time() + READ_WAIT
    while len(data) <= MAX_PAYLOAD:
        left = deadline - time.time()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return data


def _parse(data: bytes) -> object:
    if not data or len(data) > MAX_PAYLOAD:
        return {}
    try:
        return json.loads(data.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return {}


def _current_run(session: str) -> Optional[int]:
    try:
        with open(os.path.join(SESSIONS, session, "meta.json"), encoding="utf-8") as f:
            runs = json.load(f).get("runs", 1)
    except (OSError, ValueError, AttributeError):
        return None
    return runs if isinstance(runs, int) else None


def handle(argv: list, stdin: bytes, env: dict, now: float) -> Optional[dict]:
    """What one hook call journals (None: nothing), and its signal.json written."""
    from . import journal  # only when it is a hook of a live session

    if not argv:
        return None
    agent, extra = argv[0], argv[1:]
    session = env.get("FLEET_SESSION") or ""
    try:
        run = int(env.get("FLEET_RUN") or "0")
    except ValueError:
        return None
    if not ID_RE.match(session) or _current_run(session) != run:
        return None  # not a fleet session, or an earlier run's agent still talking
    payload = _parse(extra[-1].encode("utf-8", "replace")) if extra else _parse(stdin)
    got = record(agent, payload, session, run, now)
    if got is None:
        return None
    path = os.path.join(SESSIONS, session, SIGNAL_FILE)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(_keeping_state(got, load(session)), f, sort_keys=True)
    os.replace(tmp, path)
    fields = {k: v for k, v in got.items() if k not in ("session", "t")}
    journal.append(protocol.signal(session, fields))
    wake.poke()
    return got


def _keeping_state(got: dict, before: Optional[dict]) -> dict:
    """What signal.json holds after `got`: a signal that claims no state (Claude Code's
    Notification "permission_prompt" right after its PermissionRequest, a Codex notify) keeps
    the state, the request and the time of the one before it in this run, so the tool and
    command a dialog asks about are not lost; it still wakes the watcher (the file changed)."""
    if got.get("state") is not None or not isinstance(before, dict):
        return got
    if before.get("run") != got.get("run") or before.get("state") is None:
        return got
    return dict(got, state=before.get("state"), waiting=before.get("waiting"), t=before.get("t"))


def main(argv: list) -> int:
    """`helper hook AGENT [ARG]`: never fails the agent, never prints, never hangs."""
    try:
        os_signal.signal(os_signal.SIGALRM, lambda *_: os._exit(0))
        os_signal.alarm(HARD_BOUND)
        agent = argv[0] if argv else ""
        wants_stdin = agent in ("claude", "opencode", "gemini") and len(argv) == 1
        handle(argv, _read_stdin() if wants_stdin else b"", dict(os.environ), time.time())
    except BaseException:  # a hook's failure must never reach the agent
        pass
    return 0


# -- signal or screen ----------------------------------------------------------------------------


def load(session: str) -> Optional[dict]:
    """The session's latest signal, as the hook wrote it (None: none, or unreadable)."""
    try:
        with open(os.path.join(SESSIONS, session, SIGNAL_FILE), encoding="utf-8") as f:
            got = json.load(f)
    except (OSError, ValueError):
        return None
    return got if isinstance(got, dict) else None


def _overdue(sig: dict, now: Optional[float]) -> Optional[dict]:
    """What a tool call that started more than TOOL_BOUND ago and never ended waits for."""
    doing, at = sig.get("doing"), sig.get("t")
    if now is None or not isinstance(doing, dict) or not isinstance(at, (int, float)):
        return None
    if now - at <= TOOL_BOUND:
        return None
    what = "running for over %d min" % (TOOL_BOUND // 60)
    if doing.get("input"):
        what += ": %s" % doing["input"]
    return _waiting("error", doing.get("tool"), what)


def decide(
    sig: Optional[dict], run: int, screen: str, screen_changed: float, now: Optional[float] = None
) -> tuple:
    """(status, waiting) of a live session from its latest signal and its screen.

    The precedence, in order:
    1. No signal of this run, or one that claims no state (Codex's notify, aider's): the
       screen decides, waiting unknown.
    2. The screen reads needs-input: needs-input. A dialog on screen always counts (a trust or
       login dialog no hook reports); what it waits for comes from the signal if it said so.
    3. The screen changed more than SCREEN_GRACE seconds after the signal: the screen decides.
       Agents signal nothing on an Esc, on "No" in a dialog, on most API errors: what the
       screen shows after the signal overturns it.
    3a. A tool call that started more than TOOL_BOUND seconds before `now`, has not ended (no
       later signal) and still shows working: needs-input, an `error` naming the tool and its
       command. Its spinner keeps the screen moving, so this comes before rule 3; a call the
       person interrupted (Esc: no signal, the screen back at the prompt) is not overdue.
    4. Otherwise the signal decides: a silent long tool call stays working though the
       screen is quiet, a dialog the patterns do not know is needs-input with its tool.
    """
    state = sig.get("state") if isinstance(sig, dict) else None
    if state not in (WORKING, NEEDS_INPUT, IDLE) or sig.get("run") != run:  # type: ignore[union-attr]
        return screen, None
    waiting = sig.get("waiting") if state == NEEDS_INPUT else None  # type: ignore[union-attr]
    at = sig.get("t")  # type: ignore[union-attr]
    if screen == NEEDS_INPUT:
        return NEEDS_INPUT, waiting
    busy = state == WORKING and screen == WORKING
    overdue = _overdue(sig, now) if busy else None  # type: ignore[arg-type]
    if overdue is not None:
        return NEEDS_INPUT, overdue
    if not isinstance(at, (int, float)) or screen_changed > at + SCREEN_GRACE:
        return screen, None
    return state, waiting
