"""The checks every config value goes through, shared by the loader and the agent profiles:
a ValueError for a profile given in code, a ConfigError at the key's line in a file."""

from __future__ import annotations

import difflib
import json
import math
import re
import shlex
from collections.abc import Sequence
from typing import assert_never

from fleet.core.config.locate import KeyPath, format_key
from fleet.core.config.model import MAX_SECONDS, describe
from fleet.core.models import PROFILE_VALUES, ProfileValue, SendMode
from fleet.core.remote.hostside.sandbox import check_words as check_sandbox_words


def _unknown(kind: str, name: str, where: str, allowed: Sequence[str], quote: bool) -> str:
    """``unknown key "comand" in [agents.x] (expected one of: ...; did you mean "command"?)``"""
    shown = json.dumps(name, ensure_ascii=False) if quote else f"[{name}]"
    message = f"unknown {kind} {shown}{where} (expected one of: {', '.join(allowed)}"
    close = difflib.get_close_matches(name, allowed, n=1)
    if close:
        hint = json.dumps(close[0]) if quote else f"[{close[0]}]"
        message += f"; did you mean {hint}?"
    return message + ")"


class ValueChecks:
    """The checks of a config value, each returning the value as fleet keeps it or raising
    :meth:`fail`: a ValueError here, a ConfigError at the key's line in the loader. Lists may
    come as tuples: fleet.core.agents checks profile fields given in code (or a Config's, again)
    with these same rules."""

    def fail(self, key: KeyPath, message: str) -> Exception:
        """The error to raise for the value at ``key``."""
        prefix = f"{format_key(key)}: " if key else ""
        return ValueError(prefix + message)

    def expected(self, key: KeyPath, what: str, value: object) -> Exception:
        return self.fail(key, f"expected {what}, got {describe(value)}")

    def profile_value(self, where: KeyPath, name: str, value: object) -> object:
        """``value`` checked as the AgentProfile field ``name`` holds it (a key of
        PROFILE_KEYS), in the type the field has; ``where`` is the table it stands in."""
        key = (*where, name)
        kind = PROFILE_VALUES[name]
        match kind:
            case ProfileValue.COMMAND:
                return self.string(key, value, "a non-empty command string", empty=False)
            case ProfileValue.TEMPLATE:
                return self.string(key, value, "a command string")
            case ProfileValue.TEXT:
                return self.string(key, value, "a string")
            case ProfileValue.VERSION:
                return self.string(key, value, 'a version string like "1.2.3"')
            case ProfileValue.PATTERNS:
                return self.regexes(key, value)
            case ProfileValue.SESSION_ID:
                return self.session_id_regex(key, value)
            case ProfileValue.SECONDS:
                return self.seconds(key, value)
            case ProfileValue.LINES:
                return self.whole(key, value, "a whole number of lines")
            case ProfileValue.SEND_MODE:
                return self.send_mode(key, value)
            case ProfileValue.KEYS:
                return self.tmux_keys(key, value)
            case ProfileValue.WRAPPER:
                return self.sandbox(key, value)
            case ProfileValue.FLAG:
                return self.flag(key, value)
            case _:
                assert_never(kind)

    def flag(self, key: KeyPath, value: object) -> bool:
        if not isinstance(value, bool):
            raise self.expected(key, "true or false", value)
        return value

    def seconds(self, key: KeyPath, value: object, positive: bool = False) -> float:
        bound = "> 0" if positive else ">= 0"
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
            or (positive and value == 0)
        ):
            raise self.expected(key, f"a number of seconds {bound}", value)
        if value > MAX_SECONDS:  # 1e308 s would overflow a sleep on the host
            raise self.expected(key, f"at most {MAX_SECONDS} seconds (a day)", value)
        return float(value)

    def whole(self, key: KeyPath, value: object, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.expected(key, f"{what} >= 1", value)
        return value

    def string(self, key: KeyPath, value: object, what: str, empty: bool = True) -> str:
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise self.expected(key, what, value)
        if "\x00" in value:  # no command line, tmux or file name can carry it
            raise self.fail(key, "the string contains a NUL character")
        return value

    def sandbox(self, key: KeyPath, value: object) -> str:
        """A wrapper command as shell words (a string, or a list of words): kept as one string
        that shlex splits back into exactly these words."""
        what = 'a wrapper command like "bwrap --bind {worktree} {worktree} ..." (or a list)'
        if value == "":
            return ""  # no sandbox
        if isinstance(value, list | tuple):
            words = list(value)
            if not all(isinstance(word, str) for word in words):
                raise self.expected(key, "a list of strings", value)
        elif isinstance(value, str):
            try:
                words = shlex.split(value)
            except ValueError as err:
                raise self.fail(key, f"cannot split into words: {err}") from None
        else:
            raise self.expected(key, what, value)
        problem = check_sandbox_words(words)
        if problem:
            raise self.fail(key, problem)
        return shlex.join(words)

    def session_id_regex(self, key: KeyPath, value: object) -> str:
        if not isinstance(value, str):
            raise self.expected(key, "a regex string with one group", value)
        try:
            groups = re.compile(value).groups
        except re.error as err:
            raise self.fail(key, f"invalid regex {value!r}: {err.msg}") from None
        if groups != 1:
            raise self.fail(key, f"expected a regex with exactly one group, got {groups}")
        return value

    def regexes(self, key: KeyPath, value: object) -> tuple[str, ...]:
        if not isinstance(value, list | tuple):
            raise self.expected(key, "a list of regex strings", value)
        out: list[str] = []
        for i, pattern in enumerate(value):
            if not isinstance(pattern, str):
                raise self.expected((*key, i), "a regex string", pattern)
            try:
                re.compile(pattern, re.MULTILINE)
            except re.error as err:
                where = f" at position {err.pos}" if err.pos else ""
                raise self.fail((*key, i), f"invalid regex {pattern!r}: {err.msg}{where}") from None
            out.append(pattern)
        return tuple(out)

    def send_mode(self, key: KeyPath, value: object) -> SendMode:
        modes = [str(mode) for mode in SendMode]
        if not isinstance(value, str) or value not in modes:
            raise self.expected(key, " or ".join(json.dumps(m) for m in modes), value)
        return SendMode(value)

    def tmux_keys(self, key: KeyPath, value: object) -> tuple[str, ...]:
        if not isinstance(value, list | tuple):
            raise self.expected(key, 'a list of tmux key names like ["Escape"] or ["C-c"]', value)
        for i, name in enumerate(value):
            if not isinstance(name, str) or not re.fullmatch(r"[^\s\x00-\x1f\x7f]+", name):
                raise self.expected((*key, i), 'a tmux key name like "Escape" or "C-c"', name)
        return tuple(value)
