"""Lazy highlighting: pygments lexers by file name, lexing a hunk at a time, and the cache.

Nothing is lexed when a diff opens: the view lexes a hunk the first time one of its lines is
drawn, and lexes it whole, because lexing line by line gets multi-line strings wrong. A hunk
longer than ``CHUNK * 3 // 2`` lines is lexed ``CHUNK`` lines at a time (a :class:`Span`), so
a jump into a 10,000-line new file costs a chunk, not the file. The old side (context and
removed lines) and the new side (context and added lines) of a span are lexed as two texts,
so each reads as the code it is. What the view makes of a span is kept in a :class:`LineCache`
bounded by lines, not by spans, so a few huge hunks cannot hold the whole diff.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from pygments.lexer import Lexer
from pygments.lexers import find_lexer_class_for_filename
from pygments.lexers.special import TextLexer
from pygments.token import Token, _TokenType

from fleet.ui.diff.rows import CHUNK, BodyLine, LineKind
from fleet.ui.diff.text import clean

CACHE_LINES = 1024  # styled lines kept (a few screens' worth)
RAW_LIMIT = 512  # characters of a line kept before lexing, at least (4 x the width if more)

Tokens = list[tuple[_TokenType, str]]


@functools.lru_cache(maxsize=64)
def _lexer_of_class(cls: type[Lexer]) -> Lexer:
    return cls(stripnl=False, stripall=False, ensurenl=True)


@functools.lru_cache(maxsize=512)
def lexer_for(path: str) -> Lexer:
    """The shared lexer for a file name (by its base name); plain text when none fits."""
    name = path.rsplit("/", 1)[-1]
    try:
        cls = find_lexer_class_for_filename(name)
    except Exception:  # a lexer plugin that fails to load must not break the panel
        cls = None
    return _lexer_of_class(cls or TextLexer)


def warm_up() -> None:
    """Pay pygments' first-use costs (its file-name patterns, ~120 ms; a lexer's rules, ~30
    ms) ahead of the first diff. Blocking: the panel runs it in a thread when mounted."""
    lex_lines(lexer_for("warm_up.py"), ["def f(x: int) -> str:", '    return f"{x}"  # done'])


def lex_lines(lexer: Lexer, texts: list[str]) -> list[Tokens]:
    """Lex `texts` as one text and split the tokens back into lines."""
    out: list[Tokens] = [[] for _ in texts]
    if not texts:
        return out
    last = len(out) - 1
    row = 0
    try:
        tokens = list(lexer.get_tokens("\n".join(texts) + "\n"))
    except Exception:  # pygments should not raise; if it does, show plain text
        return [[(Token.Text, t)] if t else [] for t in texts]
    for ttype, value in tokens:
        if "\n" not in value:
            if value:
                out[row].append((ttype, value))
            continue
        for i, part in enumerate(value.split("\n")):
            if i:
                row = min(row + 1, last)
            if part:
                out[row].append((ttype, part))
    return out


class Span(NamedTuple):
    """The lexing unit holding a body line: chunk `chunk` of its hunk, body lines [first, end).
    (A named tuple: one is made per body row drawn.)"""

    chunk: int
    first: int
    end: int


def chunk_of(n_body: int, line: int) -> int:
    """The chunk of body line `line` in a hunk of `n_body` body lines (0: lexed whole)."""
    return 0 if n_body <= CHUNK * 3 // 2 else line // CHUNK


def unit_of(n_body: int, line: int) -> Span:
    """The lexing unit of body line `line` in a hunk of `n_body` body lines."""
    if n_body <= CHUNK * 3 // 2:
        return Span(0, 0, n_body)
    chunk = line // CHUNK
    return Span(chunk, chunk * CHUNK, min(n_body, (chunk + 1) * CHUNK))


@dataclass(frozen=True)
class LexedLine:
    """A body line made safe to draw, with its tokens."""

    kind: LineKind
    text: str  # cleaned: inert, cut to the limit, its trailing CR taken off
    tokens: Tokens  # empty for a "\\ No newline" line (drawn as it is)
    old: int | None  # line numbers, as in BodyLine
    new: int | None
    cut: bool  # longer than the limit
    crlf: bool  # ended with a carriage return


def lex_unit(path: str, lines: Sequence[BodyLine], limit: int) -> list[LexedLine]:
    """Clean `lines` (at most `limit` characters each) and lex them as two texts: the old side
    and the new side. Context lines are read from the new side, or from the old side when the
    unit adds nothing; a side with no lines of its own is not lexed at all."""
    shown: list[tuple[str, bool, bool]] = []  # (text, cut, crlf)
    for line in lines:
        text = line.text
        crlf = text.endswith("\r")
        if crlf:
            text = text[:-1]
        cleaned, cut = clean(text, limit)
        shown.append((cleaned, cut, crlf))
    kinds = [line.kind for line in lines]
    has_old, has_new = "-" in kinds, "+" in kinds
    context_new = has_new or not has_old
    old_side = [
        s[0] for s, k in zip(shown, kinds, strict=True) if k == "-" or (k == " " and has_old)
    ]
    new_side = [
        s[0] for s, k in zip(shown, kinds, strict=True) if k == "+" or (k == " " and context_new)
    ]
    lexer = lexer_for(path)
    old_tokens = iter(lex_lines(lexer, old_side))
    new_tokens = iter(lex_lines(lexer, new_side))
    out: list[LexedLine] = []
    for line, (text, cut, crlf) in zip(lines, shown, strict=True):
        tokens: Tokens = []
        if line.kind == "-":
            tokens = next(old_tokens, [])
        elif line.kind == "+":
            tokens = next(new_tokens, [])
        elif line.kind == " " and context_new:
            tokens = next(new_tokens, [])
            if has_old:
                next(old_tokens, None)
        elif line.kind == " ":
            tokens = next(old_tokens, [])
        out.append(LexedLine(line.kind, text, tokens, line.old, line.new, cut, crlf))
    return out


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LineCache(Generic[K, V]):
    """A least-recently-used cache of values that each hold some lines, bounded by the lines
    held; the newest value stays even when it alone is over the bound."""

    def __init__(self, limit: int = CACHE_LINES) -> None:
        self.limit = limit
        self.lines = 0
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: K, value: V, lines: int) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.lines -= old[1]
        self._items[key] = (value, lines)
        self.lines += lines
        while self.lines > self.limit and len(self._items) > 1:
            _, (_, dropped) = self._items.popitem(last=False)
            self.lines -= dropped

    def clear(self) -> None:
        self._items.clear()
        self.lines = 0


__all__ = [
    "CACHE_LINES",
    "RAW_LIMIT",
    "LexedLine",
    "LineCache",
    "Span",
    "chunk_of",
    "lex_lines",
    "lex_unit",
    "lexer_for",
    "unit_of",
    "warm_up",
]
