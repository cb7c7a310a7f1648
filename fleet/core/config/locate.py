"""Where each key of a TOML config is defined: tomllib gives no line numbers for values, so
the raw text is scanned for table headers and ``key =`` lines; and how errors name a key."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Final

KeyPath = tuple[str | int, ...]
"""A key's place in the document: ("hosts", "alpha", "ssh"), ("agents", "x", "waiting", 1)."""


_BARE_KEY: Final = r"[A-Za-z0-9_-]+"
_BASIC_KEY: Final = r'"(?:[^"\\\n]|\\.)*"'
_LITERAL_KEY: Final = r"'[^'\n]*'"
_KEY: Final = rf"(?:{_BARE_KEY}|{_BASIC_KEY}|{_LITERAL_KEY})"
_DOTTED: Final = rf"{_KEY}(?:[ \t]*\.[ \t]*{_KEY})*"
_KEY_RE: Final = re.compile(_KEY)
_HEADER_RE: Final = re.compile(rf"[ \t]*\[\[?[ \t]*({_DOTTED})[ \t]*\]\]?[ \t]*(?:#.*)?")
_KEYLINE_RE: Final = re.compile(rf"[ \t]*({_DOTTED})[ \t]*=")


def _split_key(dotted: str) -> tuple[str, ...]:
    parts: list[str] = []
    for m in _KEY_RE.finditer(dotted):
        token = m.group(0)
        if token.startswith('"'):
            try:
                parts.append(str(json.loads(token)))
            except ValueError:
                parts.append(token[1:-1])
        elif token.startswith("'"):
            parts.append(token[1:-1])
        else:
            parts.append(token)
    return tuple(parts)


def _nearest_line(index: Mapping[KeyPath, int], key: KeyPath) -> int | None:
    for end in range(len(key), 0, -1):
        line = index.get(key[:end])
        if line is not None:
            return line
    return None


class _Value:
    """Follows one value across lines (arrays, multi-line strings) so that the lines inside it
    are not read as headers or keys, and notes the line of each element of a top-level array."""

    def __init__(self, key: KeyPath, index: dict[KeyPath, int]) -> None:
        self.key = key
        self.index = index
        self.depth = 0
        self.multiline: str | None = None  # '"""' or "'''" while inside one
        self.is_array = False
        self.element = 0
        self.expect_element = False

    @property
    def done(self) -> bool:
        return self.depth <= 0 and self.multiline is None

    def feed(self, text: str, line: int) -> None:
        i, n = 0, len(text)
        while i < n:
            if self.multiline is not None:
                end = _multiline_end(text, i, self.multiline)
                if end < 0:
                    return
                self.multiline = None
                i = end
                continue
            ch = text[i]
            if ch in " \t\r":
                i += 1
                continue
            if ch == "#":
                return
            if self.is_array and self.depth == 1 and self.expect_element and ch not in ",]":
                self.index.setdefault((*self.key, self.element), line)
                self.expect_element = False
            if text.startswith('"""', i) or text.startswith("'''", i):
                self.multiline = text[i : i + 3]
                i += 3
                continue
            if ch == '"':
                i = _basic_end(text, i + 1)
                continue
            if ch == "'":
                close = text.find("'", i + 1)
                i = n if close < 0 else close + 1
                continue
            if ch in "[{":
                if self.depth == 0 and ch == "[":
                    self.is_array = True
                    self.expect_element = True
                self.depth += 1
            elif ch in "]}":
                self.depth -= 1
            elif ch == "," and self.is_array and self.depth == 1:
                self.element += 1
                self.expect_element = True
            i += 1


def _basic_end(text: str, i: int) -> int:
    """Index after the closing quote of a basic string whose body starts at ``i``."""
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    return len(text)


def _multiline_end(text: str, i: int, delim: str) -> int:
    """Index after the closing ``delim`` at or after ``i``, or -1 if it is not on this line."""
    while i < len(text):
        if delim == '"""' and text[i] == "\\":
            i += 2
        elif text.startswith(delim, i):
            end = i + 3
            # Up to two quotes right before the delimiter belong to the string.
            while end < len(text) and end - i < 5 and text[end] == delim[0]:
                end += 1
            return end
        else:
            i += 1
    return -1


class _Locator:
    """Maps key paths to the line that defines them, from table headers (``[hosts.alpha]``,
    ``[hosts."alpha"]``, ``[[x]]``), ``key =`` / ``dotted.key =`` lines, and the elements of
    arrays. Not a TOML parser: inline tables point at their key's line, which is the same line
    in TOML 1.0. Every prefix of a path maps to the first line that mentions it."""

    def __init__(self, text: str) -> None:
        self.index: dict[KeyPath, int] = {}
        table: tuple[str, ...] = ()
        value: _Value | None = None
        for line_no, raw in enumerate(text.split("\n"), start=1):
            line = raw.rstrip("\r")
            if value is not None:
                value.feed(line, line_no)
                if value.done:
                    value = None
                continue
            header = _HEADER_RE.fullmatch(line)
            if header:
                table = _split_key(header.group(1))
                self._add(table, line_no)
                continue
            key_line = _KEYLINE_RE.match(line)
            if key_line:
                key = table + _split_key(key_line.group(1))
                self._add(key, line_no)
                value = _Value(key, self.index)
                value.feed(line[key_line.end() :], line_no)
                if value.done:
                    value = None

    def _add(self, key: tuple[str, ...], line: int) -> None:
        for end in range(1, len(key) + 1):
            self.index.setdefault(key[:end], line)

    def line_of(self, key: KeyPath) -> int | None:
        """The line of ``key``, else of its nearest enclosing table or key, else None."""
        return _nearest_line(self.index, key)


def format_key(key: KeyPath) -> str:
    """``("hosts", "alpha", "ssh")`` -> ``hosts.alpha.ssh``; ``("agents", "x", "idle", 1)`` ->
    ``agents.x.idle[1]``; names that are not bare keys are quoted."""
    out = ""
    for part in key:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if re.fullmatch(_BARE_KEY, part) else json.dumps(part, ensure_ascii=False)
            out += f".{name}" if out else name
    return out
