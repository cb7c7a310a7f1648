"""A stuck agent read from its screen: not logged in, no API key, rate-limited or out of
quota, an API error. It sits at its input (or a login dialog) and reads idle, but it cannot go
on until a person acts: fleet shows it as needs-input with a `login` or `error` reason.

Used where the agent's own signals say nothing of it (Claude Code's StopFailure and opencode's
session.error do; Codex, Gemini CLI and aider do not), and for custom agents (the generic
rules). The patterns key off each CLI's own error chrome near the bottom of the screen, never
off the model's prose: a reply that explains rate limiting is not a stuck agent.

Stdlib only, Python 3.8: this module runs on the hosts.
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple  # noqa: F401 (type comments: Python 3.8)

from .classify import tail

LOGIN = "login"
ERROR = "error"

NEAR = 10
"""Non-blank lines from the bottom an error is looked for in: a failed turn's error sits right
above the input box; one scrolled further up was followed by more work."""
DIALOG = 30
"""The same for a sign-in dialog, which fills the screen (Gemini CLI's box is ~20 lines)."""
MAX_REASON = 200

_GENERIC = (
    (LOGIN, NEAR, r"^.{0,8}\b(?:Not logged in|Invalid API key|Authentication failed)\b.*"),
    (LOGIN, NEAR, r"^.{0,8}\b(?:Please )?(?:run /login|log ?in again|sign in again)\b.*"),
    (ERROR, NEAR, r"^.{0,8}\b(?:API Error|Rate limit(?:ed| exceeded)|Quota exceeded)\b.*"),
    (
        ERROR,
        NEAR,
        r"^.{0,8}\b(?:429 Too Many Requests|You(?:'ve| have) (?:hit|reached) your usage limit)\b.*",
    ),
)  # type: Tuple[Tuple[str, int, str], ...]

_AGENTS = {
    # 2.1.328: "  ⎿  Not logged in · Please run /login", footer "Not logged in · run /login";
    # a failed request "  ⎿  API Error: 529 …".
    "claude": (
        (LOGIN, NEAR, r"\bNot logged in · (?:Please )?run /login\b"),
        (ERROR, NEAR, r"^\s*⎿\s+API Error\b.*"),
    ),
    # 0.169: its first-run sign-in screen, the API key entry; a turn that failed ends with a
    # "■ …" line (an interrupted one, "■ Conversation interrupted", is not stuck).
    "codex": (
        (LOGIN, DIALOG, r"^\s*(?:[›>] )?1\. Sign in with ChatGPT\b.*"),
        (LOGIN, DIALOG, r"\bPaste or type your API key\b.*"),
        (ERROR, NEAR, r"^■ (?!Conversation interrupted)\S.*"),
    ),
    # 0.61: the auth method dialog; "✕ [API Error: …]" for a failed request, quota notices.
    "gemini": (
        (LOGIN, DIALOG, r"How would you like to authenticate\b.*"),
        (ERROR, NEAR, r"^\s*✕ \[?API Error\b.*"),
        (ERROR, NEAR, r"\b(?:exhausted your (?:daily )?quota|Quota exceeded)\b.*"),
    ),
}  # type: Dict[str, Tuple[Tuple[str, int, str], ...]]


def _compiled(rules: tuple) -> tuple:
    return tuple((kind, near, re.compile(p, re.MULTILINE)) for kind, near, p in rules)


_GENERIC_RE = _compiled(_GENERIC)
_AGENTS_RE = {name: _compiled(rules) for name, rules in _AGENTS.items()}


def _reason(line: str) -> str:
    line = " ".join(line.replace("⎿", " ").split()).strip(" ■✕│┃")
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 3] + "..."


def read(screen: str, agent: object) -> Optional[dict]:
    """The waiting a stuck screen shows ({"kind", "tool", "input"}), None when it is not stuck.
    The agent's own rules first, then the generic ones."""
    texts = {NEAR: tail(screen, NEAR), DIALOG: tail(screen, DIALOG)}
    rules = _AGENTS_RE.get(agent, ()) if isinstance(agent, str) else ()
    for kind, near, regex in rules + _GENERIC_RE:
        found = regex.search(texts[near])
        if found:
            return {"kind": kind, "tool": "", "input": _reason(found.group(0))}
    return None
