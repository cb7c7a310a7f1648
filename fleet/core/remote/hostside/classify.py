"""Read an agent's status from its screen: "needs-input", "working" or "idle".

Stdlib only, Python 3.8+: this module runs on the hosts (the watcher calls it several times a
second for every pane that changed) and is imported locally by fleet.core.agents.

The rules are AgentProfile.rules(): regexes for "waiting" / "working" / "idle", applied with
re.MULTILINE to the last `scope` non-blank lines of the screen (each line right-stripped, joined
with "\\n", no trailing newline), so `$` is the end of any line and `\\Z` the end of the last
non-blank line. First match wins, in that order; with no match the screen is "working" if it
changed less than `idle_after` seconds ago, else "idle".
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

NEEDS_INPUT = "needs-input"
WORKING = "working"
IDLE = "idle"

DEFAULT_IDLE_AFTER = 5.0
DEFAULT_SCOPE = 30

# CSI (colours, cursor moves) and OSC (titles, hyperlinks) sequences, in case a screen was saved
# with escapes (`capture-pane -e`, a terminal log). A plain `capture-pane -p` has none.
_ANSI_RE = re.compile(r"\x1b(?:\[[0-9;?<=>!]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def normalize(screen: str) -> str:
    """The screen without escapes, trailing whitespace on each line, or trailing blank lines."""
    if "\x1b" in screen:
        screen = _ANSI_RE.sub("", screen)
    lines = [line.rstrip() for line in screen.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def tail(screen: str, scope: int) -> str:
    """The last `scope` non-blank lines, right-stripped (every non-blank line if scope <= 0)."""
    if "\x1b" in screen:
        screen = _ANSI_RE.sub("", screen)
    lines = [line.rstrip() for line in screen.splitlines()]
    kept = [line for line in lines if line]
    if scope > 0:
        kept = kept[-scope:]
    return "\n".join(kept)


@lru_cache(maxsize=512)
def _compile(patterns: tuple[object, ...]) -> tuple[re.Pattern[str], ...]:
    """The patterns compiled, invalid ones left out (config reports them; never crash here)."""
    compiled = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            continue
        try:
            compiled.append(re.compile(pattern, re.MULTILINE))
        except (re.error, RecursionError, OverflowError, ValueError):
            continue
    return tuple(compiled)


def _matches(patterns: object, text: str) -> bool:
    if isinstance(patterns, str):
        patterns = [patterns]
    if not patterns or not isinstance(patterns, (list, tuple)):
        return False
    return any(regex.search(text) for regex in _compile(tuple(patterns)))


def _number(value: object, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return float(value)


def matched(screen: str, rules: dict[str, Any]) -> str | None:
    """The status a pattern of `rules` reads on the screen; None when none matches (then the
    timing rule decides)."""
    scope = int(_number(rules.get("scope"), DEFAULT_SCOPE))
    text = tail(screen, scope)
    for status, key in ((NEEDS_INPUT, "waiting"), (WORKING, "working"), (IDLE, "idle")):
        if _matches(rules.get(key), text):
            return status
    return None


def classify(screen: str, rules: dict[str, Any], quiet_for: float) -> str:
    """The status of a screen under `rules`; `quiet_for` = seconds since the screen last changed."""
    status = matched(screen, rules)
    if status is not None:
        return status
    idle_after = _number(rules.get("idle_after"), DEFAULT_IDLE_AFTER)
    return WORKING if quiet_for < idle_after else IDLE
